"""The analyst workbench's operations (docs/workbench-api.md) over real HTTP, on both stores:
roles, arguments, paging with true counts on a hub, time filters, paths, rings, alerts."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from tests_api_support import ASSESS, CONSENTS

from cli.alerts import ring_example_text
from etl.load import Loader
from graph import queries as q
from risk.errors import InvalidInput
from risk.flows.cases import SCAN_ENV, Cases, PeriodicScan, ScanReport, scan_interval_s

DAY = 86_400
HUB_OLD, HUB_NEW = 100, 200  # the hub's payers of 400 days ago, and of 10 days ago
SHARED_PHONE = "+8613999990000"
SHARED_DEVICE = "DEV-WRING"


def _iso(days_ago: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days_ago * DAY))


def write_world(folder: Path) -> None:
    """A hub WH paid by 300 customers (100 of them long ago) and married to WN000; a ring
    WR1-WR4 (a shared device and phone, dense transfers WR3<->WR4, WR2 a labelled mule) that
    WR5 paid once; a chain WP1 - WP2 - WP3 and a loner WP4; WV1 vouched for WR2, fraud reported."""
    payers = [f"WN{i:03d}" for i in range(HUB_OLD + HUB_NEW)]
    people = ["WH", *payers, "WR1", "WR2", "WR3", "WR4", "WR5", "WP1", "WP2", "WP3", "WP4", "WV1"]
    rows = ["customer_id,name,id_number,gender,birth_date,address,city,opened_at,status"]
    rows += [f"{c},Name {c},ID{c},F,1990-01-01,1 Road,Haidu,2015-01-01,active" for c in people]
    (folder / "customers.csv").write_text("\n".join(rows) + "\n")
    transfers = ["transfer_id,src_id,dst_id,amount,ts"]
    for i, p in enumerate(payers):
        transfers.append(f"WT{i},{p},WH,50.0,{_iso(400 if i < HUB_OLD else 10)}")
    for i in range(4):
        transfers.append(f"WRT{i},WR3,WR4,2000.0,{_iso(5 + i)}")
    transfers.append(f"WRT9,WR5,WR1,10.0,{_iso(3)}")
    (folder / "transfers.csv").write_text("\n".join(transfers) + "\n")
    (folder / "relations.csv").write_text(
        "src_id,dst_id,category,kind,source,since\n"
        f"WH,WN000,KIN,spouse,bank,{_iso(1000)}\n"
        f"WP1,WP2,SOCIAL,friend,bank,{_iso(100)}\n"
        f"WP2,WP3,KIN,sibling,bank,{_iso(100)}\n"
    )
    (folder / "devices.csv").write_text(
        "customer_id,device_id,model,first_seen,last_seen\n"
        + "".join(
            f"{c},{SHARED_DEVICE},phone,2025-01-01,2026-11-01\n" for c in ("WR1", "WR2", "WR3")
        )
    )
    (folder / "phones.csv").write_text(
        f"customer_id,phone_number\nWR1,{SHARED_PHONE}\nWR4,{SHARED_PHONE}\n"
    )
    (folder / "labels.csv").write_text(f"customer_id,label,kind,ts\nWR2,1,mule,{_iso(20)}\n")
    (folder / "vouches.csv").write_text(
        "vouch_id,guarantor_id,customer_id,business,ts,outcome,outcome_ts\n"
        f"WVOUCH1,WV1,WR2,CROSS_BORDER_TRANSFER,{_iso(60)},FRAUD_REPORTED,{_iso(30)}\n"
    )


@pytest.fixture(scope="module")
def world(api: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    folder = tmp_path_factory.mktemp("workbench-world")
    write_world(folder)
    report = Loader(api.store, progress=False).load(folder)
    assert report.rows_rejected == 0, [f.rejections for f in report.files]
    api.store.run(
        q.SET_GRAPH_RISK,
        {"rows": [{"id": "WR3", "risk": 0.93, "band": "SEVERE"}], "model": "m-test", "now": 1},
    )
    return api


NODE = "id displayName riskBand graphRisk knownFraud status"
EDGE = "id source target type kind at amount count"
NEIGHBOURS = f"""
query($id: ID!, $type: RelationType, $first: Int, $offset: Int, $since: String, $until: String) {{
  neighbours(customerId: $id, type: $type, first: $first, offset: $offset, since: $since,
             until: $until) {{
    center {{ {NODE} }} nodes {{ {NODE} }} edges {{ {EDGE} }} counts {{ type total }}
    total offset nextOffset
  }}
}}"""
EDGE_PAGE = """
query($id: ID!, $type: RelationType, $first: Int, $offset: Int) {
  neighbours(customerId: $id, type: $type, first: $first, offset: $offset) {
    edges { id } total nextOffset
  }
}"""
PATH = f"""
query($a: ID!, $b: ID!, $hops: Int) {{
  customerPath(fromId: $a, toId: $b, maxHops: $hops) {{
    nodes {{ {NODE} }} edges {{ {EDGE} }} hops
  }}
}}"""
RINGS = f"""
query($id: ID!) {{
  rings(customerId: $id) {{ id size knownFraud totalMoved members {{ {NODE} }} edges {{ {EDGE} }} }}
}}"""
PROFILE = f"""
query($id: ID!) {{
  customerProfile(id: $id) {{
    customer {{ {NODE} }} openedAt
    risk {{ probability band modelVersion topRelations {{ customerId type weight }} }}
    vouches {{ voucherId voucheeId business at outcome decisionId }}
    assessments {{ id business outcome reasons score {{ total items {{ code points }} }} }}
    decisions {{ id outcome reasons }}
  }}
}}"""
ALERT = (
    "id kind customerId state assignee summary evidence createdAt updatedAt outcome "
    "notes { author at text }"
)
ALERTS = f"""
query($state: AlertState, $first: Int, $offset: Int) {{
  alerts(state: $state, first: $first, offset: $offset) {{
    alerts {{ {ALERT} }} total offset nextOffset
  }}
}}"""
UPDATE = f"""
mutation($id: ID!, $state: AlertState, $assignee: String, $note: String) {{
  updateAlert(id: $id, state: $state, assignee: $assignee, note: $note) {{ {ALERT} }}
}}"""
CLOSE = f"""
mutation($id: ID!, $outcome: AlertOutcome!, $note: String!) {{
  closeAlert(id: $id, outcome: $outcome, note: $note) {{ {ALERT} }}
}}"""
SEARCH = (
    f"query($p: String!, $first: Int) {{ searchCustomers(idPrefix: $p, first: $first) "
    f"{{ {NODE} }} }}"
)


def codes(response: Any) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


def message(response: Any) -> str:
    return " ".join(e["message"] for e in response.json().get("errors", []))


# --- roles and arguments --------------------------------------------------------------------


@pytest.mark.parametrize("role", ["kiosk", "mobile_banking"])
def test_channel_keys_may_run_no_workbench_operation(world: Any, role: str) -> None:
    for document, variables in [
        (SEARCH, {"p": "WR"}),
        (NEIGHBOURS, {"id": "WH"}),
        (PATH, {"a": "WP1", "b": "WP3"}),
        (RINGS, {"id": "WR1"}),
        (PROFILE, {"id": "WR1"}),
        (ALERTS, {}),
        (UPDATE, {"id": "alr_x", "note": "x"}),
        (CLOSE, {"id": "alr_x", "outcome": "NO_ISSUE", "note": "x"}),
    ]:
        response = world.gql(document, variables, role=role)
        assert codes(response) == ["FORBIDDEN"], (document, response.text)
    assert world.gql(SEARCH, {"p": "WR"}, role=None).status_code == 401


def test_admins_may_run_the_workbench(world: Any) -> None:
    found = world.data(SEARCH, {"p": "WR"}, role="admin")["searchCustomers"]
    assert [n["id"] for n in found] == ["WR1", "WR2", "WR3", "WR4", "WR5"]


def test_bad_arguments_are_named(world: Any) -> None:
    for document, variables, argument in [
        (SEARCH, {"p": "W", "first": 0}, "first"),
        (NEIGHBOURS, {"id": "WH", "offset": -1}, "offset"),
        (NEIGHBOURS, {"id": "WH", "since": "last tuesday"}, "since"),
        (PATH, {"a": "WP1", "b": "WP3", "hops": 5}, "maxHops"),
        (PATH, {"a": "WP1", "b": "WP3", "hops": 0}, "maxHops"),
    ]:
        response = world.gql(document, variables, role="analyst")
        assert codes(response) == ["BAD_USER_INPUT"], response.text
        assert argument in message(response), message(response)
    assert codes(world.gql(SEARCH, {"p": "W", "first": 101}, role="analyst")) == [
        "COST_LIMIT_EXCEEDED"
    ]


def test_unknown_customers_are_not_found_and_an_unknown_profile_is_null(world: Any) -> None:
    assert codes(world.gql(NEIGHBOURS, {"id": "NOPE"}, role="analyst")) == ["NOT_FOUND"]
    assert codes(world.gql(RINGS, {"id": "NOPE"}, role="analyst")) == ["NOT_FOUND"]
    assert codes(world.gql(PATH, {"a": "WP1", "b": "NOPE"}, role="analyst")) == ["NOT_FOUND"]
    assert world.data(PROFILE, {"id": "NOPE"}, role="analyst")["customerProfile"] is None


# --- neighbours -----------------------------------------------------------------------------


def test_a_hub_answers_one_page_with_true_counts(world: Any) -> None:
    world.data(NEIGHBOURS, {"id": "WN001", "first": 20}, role="analyst")  # plans the reads
    started = time.monotonic()
    page = world.data(NEIGHBOURS, {"id": "WH", "first": 20}, role="analyst")["neighbours"]
    elapsed = time.monotonic() - started
    print(f"a hub's page of 20 of {page['total']}: {elapsed * 1000:.0f} ms")
    counts = {c["type"]: c["total"] for c in page["counts"]}
    assert counts["TRANSFER"] == HUB_OLD + HUB_NEW and counts["KIN"] == 1
    assert page["total"] == HUB_OLD + HUB_NEW + 1
    assert len(page["edges"]) == 20 and page["nextOffset"] == 20
    assert len(page["nodes"]) == 19  # WN000 is kin and a payer: one node, two edges
    assert [e["type"] for e in page["edges"]][:1] == ["KIN"]  # types in the contract's order
    assert elapsed < 2, f"a hub's page took {elapsed:.2f}s"


def test_pages_walk_a_hub_without_repeats_and_end_with_no_next_offset(world: Any) -> None:
    seen: list[str] = []
    offset: int | None = 0
    while offset is not None:
        page = world.data(
            EDGE_PAGE, {"id": "WH", "type": "TRANSFER", "first": 100, "offset": offset},
            role="analyst",
        )["neighbours"]  # fmt: skip
        assert page["total"] == HUB_OLD + HUB_NEW
        seen += [e["id"] for e in page["edges"]]
        offset = page["nextOffset"]
    assert len(seen) == len(set(seen)) == HUB_OLD + HUB_NEW
    edge = world.data(NEIGHBOURS, {"id": "WH", "type": "TRANSFER", "first": 1}, role="analyst")
    first = edge["neighbours"]["edges"][0]
    assert first["id"] == "TRANSFER:WH:WN000" and first["source"] == "WN000"
    assert first["target"] == "WH" and first["amount"] == 50.0 and first["count"] == 1


def test_the_time_filter_keeps_relations_in_the_range(world: Any) -> None:
    page = world.data(NEIGHBOURS, {"id": "WH", "since": _iso(30)[:10], "first": 5}, role="analyst")[
        "neighbours"
    ]
    counts = {c["type"]: c["total"] for c in page["counts"]}
    assert counts["TRANSFER"] == HUB_NEW
    assert counts["KIN"] == 0  # the marriage is older than the range
    old = world.data(NEIGHBOURS, {"id": "WH", "until": _iso(300), "first": 5}, role="analyst")
    assert {c["type"]: c["total"] for c in old["neighbours"]["counts"]}["TRANSFER"] == HUB_OLD


def test_shared_phones_and_devices_say_only_that_they_are_shared(world: Any) -> None:
    for cid in ("WR1", "WR4"):
        response = world.gql(NEIGHBOURS, {"id": cid, "first": 20}, role="analyst")
        assert SHARED_PHONE not in response.text and SHARED_DEVICE not in response.text
        page = response.json()["data"]["neighbours"]
        shared = [e for e in page["edges"] if e["type"].startswith("SHARED_")]
        assert shared and all(e["kind"] is None for e in shared)
    for document, variables in [(RINGS, {"id": "WR1"}), (PROFILE, {"id": "WR1"})]:
        text = world.gql(document, variables, role="analyst").text
        assert SHARED_PHONE not in text and SHARED_DEVICE not in text


# --- paths and rings ------------------------------------------------------------------------


def test_a_path_is_found_within_max_hops_and_none_beyond(world: Any) -> None:
    path = world.data(PATH, {"a": "WP1", "b": "WP3", "hops": 2}, role="analyst")["customerPath"]
    assert [n["id"] for n in path["nodes"]] == ["WP1", "WP2", "WP3"] and path["hops"] == 2
    assert [e["type"] for e in path["edges"]] == ["SOCIAL", "KIN"]
    too_short = world.data(PATH, {"a": "WP1", "b": "WP3", "hops": 1}, role="analyst")
    assert too_short["customerPath"] is None
    assert world.data(PATH, {"a": "WP1", "b": "WP4"}, role="analyst")["customerPath"] is None


def test_a_path_through_a_hub_is_found(world: Any) -> None:
    path = world.data(PATH, {"a": "WN290", "b": "WN000"}, role="analyst")["customerPath"]
    assert path["hops"] == 2 and path["nodes"][1]["id"] == "WH"


def test_a_ring_with_known_fraud_is_found_with_its_size_and_money(world: Any) -> None:
    rings = world.data(RINGS, {"id": "WR1"}, role="analyst")["rings"]
    assert len(rings) == 1
    ring = rings[0]
    assert sorted(m["id"] for m in ring["members"]) == ["WR1", "WR2", "WR3", "WR4"]
    assert ring["size"] == 4 and ring["knownFraud"] == 1 and ring["totalMoved"] == 8000.0
    again = world.data(RINGS, {"id": "WR4"}, role="analyst")["rings"]
    assert again[0]["id"] == ring["id"]  # the same members, the same id
    assert world.data(RINGS, {"id": "WP1"}, role="analyst")["rings"] == []


# --- profile --------------------------------------------------------------------------------


def test_a_profile_shows_risk_vouches_and_cases(world: Any) -> None:
    world.data(
        ASSESS,
        {"input": {"customerId": "A", "business": "CROSS_BORDER_TRANSFER", "kioskId": "K-01",
                   "faceSimilarity": 0.95, "idCheck": "MATCH", "consents": CONSENTS}},
    )  # fmt: skip
    profile = world.data(PROFILE, {"id": "A"}, role="analyst")["customerProfile"]
    assert profile["customer"]["id"] == "A" and profile["customer"]["displayName"] == "L* M***"
    assert profile["assessments"] and profile["assessments"][0]["score"]["items"]
    risky = world.data(PROFILE, {"id": "WR3"}, role="analyst")["customerProfile"]["risk"]
    assert risky == {"probability": 0.93, "band": "SEVERE", "modelVersion": "m-test",
                     "topRelations": []}  # fmt: skip
    vouched = world.data(PROFILE, {"id": "WR2"}, role="analyst")["customerProfile"]
    assert vouched["customer"]["knownFraud"] is True
    assert [(v["voucherId"], v["outcome"]) for v in vouched["vouches"]] == [
        ("WV1", "FRAUD_REPORTED")
    ]


def test_every_customer_read_is_audited_with_the_key_name(world: Any) -> None:
    world.data(RINGS, {"id": "WR1"}, role="analyst")
    world.data(PROFILE, {"id": "WP2"}, role="analyst")
    for subject, action in [("WR3", "WORKBENCH_RINGS"), ("WP2", "WORKBENCH_PROFILE")]:
        events = [
            r["event"]
            for r in world.store.run(q.AUDIT_TRAIL, {"subject_id": subject, "limit": 1000})
        ]
        assert any(e["action"] == action and e["actor"] == "test-analyst" for e in events)


# --- alerts ---------------------------------------------------------------------------------


def alerts_of(world: Any, state: str | None = None) -> list[dict[str, Any]]:
    page = world.data(ALERTS, {"state": state, "first": 50}, role="analyst")["alerts"]
    return list(page["alerts"])


def test_the_alert_lifecycle(world: Any) -> None:
    world.data(
        ASSESS,
        {"input": {"customerId": "B", "business": "CROSS_BORDER_TRANSFER", "kioskId": "K-01",
                   "faceSimilarity": 0.2, "idCheck": "MATCH", "consents": CONSENTS}},
    )  # fmt: skip
    cases = Cases(world.service.flow)
    first = cases.scan()
    again = cases.scan()
    assert sum(again.created.values()) == 0 and again.found == first.found
    by_kind = {a["kind"]: a for a in alerts_of(world, "OPEN")}
    assert by_kind["HIGH_GRAPH_RISK"]["customerId"] == "WR3"
    assert by_kind["FRAUD_ON_VOUCHED_BUSINESS"]["customerId"] == "WR2"
    assert by_kind["HARD_REFUSAL"]["customerId"] == "B"
    ring = by_kind["RING_WITH_FRAUD"]
    assert json.loads(ring["evidence"])["members"] == ["WR1", "WR2", "WR3", "WR4"]

    alert = by_kind["HIGH_GRAPH_RISK"]
    taken = world.data(
        UPDATE,
        {"id": alert["id"], "state": "IN_PROGRESS", "assignee": "test-analyst", "note": "looking"},
        role="analyst",
    )
    taken = taken["updateAlert"]  # fmt: skip
    assert taken["state"] == "IN_PROGRESS" and taken["assignee"] == "test-analyst"
    assert [(n["author"], n["text"]) for n in taken["notes"]] == [("test-analyst", "looking")]
    closed = world.data(
        CLOSE, {"id": alert["id"], "outcome": "FRAUD_CONFIRMED", "note": "mule"}, role="analyst"
    )["closeAlert"]
    assert closed["state"] == "CLOSED" and closed["outcome"] == "FRAUD_CONFIRMED"
    assert len(closed["notes"]) == 2
    twice = world.gql(CLOSE, {"id": alert["id"], "outcome": "NO_ISSUE", "note": "x"}, "analyst")
    assert codes(twice) == ["CONFLICT"]
    assert codes(world.gql(UPDATE, {"id": alert["id"], "note": "x"}, "analyst")) == ["CONFLICT"]
    node = world.data(SEARCH, {"p": "WR3"}, role="analyst")["searchCustomers"][0]
    assert node["knownFraud"] is True  # the label the closing wrote
    label = world.store.run(q.MODEL_CUSTOMER_FEATURES, {"ids": ["WR3"], "as_of": 2**53})
    assert label[0]["label"] == 1

    events = world.store.run(q.AUDIT_TRAIL, {"subject_id": "WR3", "limit": 1000})
    actions = {(e["event"]["action"], e["event"]["actor"]) for e in events}
    assert {("UPDATE_ALERT", "test-analyst"), ("CLOSE_ALERT", "test-analyst")} <= actions
    assert alert["id"] not in {a["id"] for a in alerts_of(world, "OPEN")}
    assert alert["id"] in {a["id"] for a in alerts_of(world, "CLOSED")}


def test_alert_changes_refuse_bad_arguments_and_unknown_ids(world: Any) -> None:
    assert codes(world.gql(UPDATE, {"id": "alr_nope", "note": "x"}, "analyst")) == ["NOT_FOUND"]
    closing = {"id": "alr_nope", "outcome": "NO_ISSUE", "note": "x"}
    assert codes(world.gql(CLOSE, closing, "analyst")) == ["NOT_FOUND"]
    state = world.gql(UPDATE, {"id": "alr_nope", "state": "CLOSED"}, "analyst")
    assert codes(state) == ["BAD_USER_INPUT"] and message(state).startswith("state")
    empty = world.gql(CLOSE, {**closing, "note": " "}, "analyst")
    assert codes(empty) == ["BAD_USER_INPUT"] and message(empty).startswith("note")


def test_alert_pages_count_truly(world: Any) -> None:
    Cases(world.service.flow).scan()
    every = world.data(ALERTS, {"first": 50}, role="analyst")["alerts"]
    one = world.data(ALERTS, {"first": 1, "offset": 1}, role="analyst")["alerts"]
    assert one["total"] == every["total"] >= 3  # high risk, vouched fraud, the ring
    assert one["offset"] == 1
    assert one["alerts"][0]["id"] == every["alerts"][1]["id"]
    assert one["nextOffset"] == (2 if every["total"] > 2 else None)


# --- cost limits ----------------------------------------------------------------------------


def test_the_workbench_documents_fit_the_cost_limits_and_a_hostile_one_does_not(
    world: Any,
) -> None:
    assert "errors" not in world.gql(NEIGHBOURS, {"id": "WH", "first": 20}, "analyst").json()
    assert "errors" not in world.gql(ALERTS, {"first": 50}, "analyst").json()
    hostile = (
        'query { rings(customerId: "WR1") { members { id } '
        + " ".join(f"a{i}: edges {{ id }}" for i in range(30))
        + " } }"
    )
    assert codes(world.gql(hostile, role="analyst")) in (
        ["ALIAS_LIMIT_EXCEEDED"],
        ["COST_LIMIT_EXCEEDED"],
    )
    nested = (
        'query { neighbours(customerId: "WH", first: 100) { nodes { id displayName } '
        "edges { id source target } counts { type total } center { id displayName } } }"
    )
    assert codes(world.gql(nested, role="analyst")) == ["COST_LIMIT_EXCEEDED"]


# --- the feed inside the service, and the demo's pointer ------------------------------------


def test_the_periodic_scan_raises_alerts_and_stops_at_once(world: Any) -> None:
    scans: list[ScanReport] = []
    cases = Cases(world.service.flow)

    def scan() -> ScanReport:
        scans.append(cases.scan())
        return scans[-1]

    periodic = PeriodicScan(scan, 0.05)
    periodic.start()
    deadline = time.monotonic() + 30
    while not scans and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    periodic.stop()
    assert scans and sum(scans[-1].found.values()) >= 3
    assert time.monotonic() - started < 10


def test_the_scan_interval_comes_from_the_environment_or_the_policy() -> None:
    assert scan_interval_s(300, {}) == 300
    assert scan_interval_s(300, {SCAN_ENV: "0"}) == 0
    with pytest.raises(InvalidInput, match=SCAN_ENV):
        scan_interval_s(300, {SCAN_ENV: "soon"})


def test_the_demo_names_a_ring_with_known_fraud(world: Any) -> None:
    text = ring_example_text(world.store, "http://127.0.0.1:8000")
    assert text.startswith("explore the mule ring around WR"), text
    assert "/analyst/customer/WR" in text
