"""Flow A attacked as a review found it attackable: over real HTTP against the running server,
on both backends. Each test names the attack it closes (docs/security.md lists them)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from test_kiosk_flow import (
    GUARANTOR_CONSENTS,
    assess,
    confirm,
    guarantor_flow,
    handles,
    outbox_message,
    token_of,
)
from tests_api_support import DECIDE, RECORD, REQUEST

from etl.load import Loader
from graph import queries as q
from risk.flows.kiosk_evidence import bound_to_request
from risk.flows.records import AssistRequestRecord, from_props

FULL_DECISION = """query($id: ID!) { decision(id: $id) {
  id outcome reasons guarantorIds guarantors score { items { code evidence } } } }"""
KIOSK_DECISION = DECIDE.replace("items { code points }", "items { code points evidence }").replace(
    "guarantors", "guarantors guarantorIds"
)
CUSTOMER_IDS = ("A", "C", "G1", "G2", "G3", "G4", "S1", "S2", "S3", "S4", "X", "KG")


def strings(value: Any) -> Iterator[str]:
    """Every string anywhere in a JSON value (keys and values)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from strings(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from strings(inner)


def error_code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


def trail(api: Any, subject: str) -> list[dict[str, Any]]:
    rows = api.store.run(q.AUDIT_TRAIL, {"subject_id": subject, "limit": 1000})
    return [r["event"] for r in rows]


# --- 2. the guarantor answers from the guarantor's channel -----------------------------------


def test_only_the_mobile_banking_backend_answers_for_a_guarantor(api: Any) -> None:
    _assessment, request_id = guarantor_flow(api, "G2")
    for role in ("kiosk", "analyst", "admin"):
        response = confirm(api, request_id, role=role)
        assert response.status_code == 403 and error_code(response) == "FORBIDDEN", role
    answered = confirm(api, request_id)
    assert answered.json()["data"]["respondAssistedAuth"]["status"] == "CONFIRMED"


def test_the_guarantor_sees_what_they_are_asked_to_confirm(api: Any) -> None:
    from api.operations import ASSIST_DETAILS

    _assessment, request_id = guarantor_flow(api, "G1")
    token = token_of(outbox_message(api, request_id)["link"])
    variables = {"id": request_id, "guarantor": "G1", "token": token}
    details = api.data(ASSIST_DETAILS, variables, role="mobile_banking")["assistRequest"]
    assert details["business"] == "CROSS_BORDER_TRANSFER" and details["status"] == "PENDING"
    assert details["applicantDisplayName"] == "W*** F***" and details["relationship"] == "spouse"
    assert api.gql(ASSIST_DETAILS, variables, role="kiosk").status_code == 403
    wrong = api.gql(ASSIST_DETAILS, {**variables, "token": "guess"}, role="mobile_banking")
    assert error_code(wrong) == "ASSIST_REJECTED"
    reads = [e for e in trail(api, "B") if e["action"] == "READ_ASSIST_REQUEST"]
    assert reads and reads[-1]["actor"] == "test-mobile_banking"


def test_an_answer_for_another_guarantor_is_rejected_and_counted(api: Any) -> None:
    _assessment, request_id = guarantor_flow(api, "G2")
    wrong = confirm(api, request_id, guarantor="G1")
    assert error_code(wrong) == "ASSIST_REJECTED"
    stored = api.store.run(q.GET_ASSIST_REQUEST, {"id": request_id})[0]["request"]
    assert stored["token_failures"] == 1 and stored["status"] == "PENDING"
    assert confirm(api, request_id).json()["data"]["respondAssistedAuth"]["status"] == "CONFIRMED"


def test_failed_tokens_lock_the_request(api: Any) -> None:
    _assessment, request_id = guarantor_flow(api, "G2")
    messages = [confirm(api, request_id, token=f"guess-{n}").json() for n in range(3)]
    assert all(m["errors"][0]["extensions"]["code"] == "ASSIST_REJECTED" for m in messages)
    assert "locked" in messages[-1]["errors"][0]["message"]
    right = confirm(api, request_id).json()  # the real token no longer opens it
    assert "locked" in right["errors"][0]["message"]
    stored = api.store.run(q.GET_ASSIST_REQUEST, {"id": request_id})[0]["request"]
    assert stored["status"] == "LOCKED"
    assert [e["action"] for e in trail(api, "G2")].count("RESPOND_REJECTED") >= 3


def test_the_one_time_token_is_never_kept_in_clear(api: Any) -> None:
    _assessment, request_id = guarantor_flow(api, "G2")
    token = token_of(outbox_message(api, request_id)["link"])  # handed to the sender
    deadline = time.monotonic() + 10  # the dispatcher records the outcome just after the send
    while time.monotonic() < deadline:
        listed = [r["message"] for r in api.store.run(q.LIST_OUTBOX, {"limit": 1000})]
        mine = [m for m in listed if m["request_id"] == request_id]
        if mine and mine[0]["status"] == "DELIVERED":
            break
        time.sleep(0.02)
    assert mine and mine[0]["status"] == "DELIVERED", mine
    stored = json.dumps([r["props"] for r in api.store.run(q.ALL_NODES, {})], default=str)
    assert token not in stored
    listed = json.dumps(api.store.run(q.LIST_OUTBOX, {"limit": 1000}), default=str)
    assert "token=" not in listed


def test_verification_results_are_bound_to_their_request(api: Any) -> None:
    _assessment, request_id = guarantor_flow(api, "G2")
    confirm(api, request_id)
    stored = api.store.run(q.GET_ASSIST_REQUEST, {"id": request_id})[0]["request"]
    verification = json.loads(stored["verification"])
    assert verification["request_id"] == request_id and verification["guarantor_id"] == "G2"
    assert verification["channel"] == "SMS" and verification["responder"] == "test-mobile_banking"
    # results moved onto another request (or another guarantor's) do not count at decide
    moved = {**stored, "id": "req_other"}
    assert bound_to_request(from_props(AssistRequestRecord, stored))
    assert not bound_to_request(from_props(AssistRequestRecord, moved))
    assert not bound_to_request(from_props(AssistRequestRecord, {**stored, "guarantor_id": "G1"}))


# --- 3. no self-vouching ----------------------------------------------------------------------


def test_a_relative_behind_the_applicants_own_phone_device_or_money_is_not_offered(
    api: Any,
) -> None:
    every = api.data(
        """query { candidateGuarantors(customerId: "S", business: CROSS_BORDER_TRANSFER) {
            customerId eligible reasons channels } }""",
        role="analyst",
    )["candidateGuarantors"]
    by_id = {c["customerId"]: c for c in every}
    assert "CANDIDATE_ONLY_SHARED_CHANNEL" in by_id["S1"]["reasons"]  # only S's phone
    assert by_id["S2"]["eligible"] and by_id["S2"]["channels"] == ["SMS"]  # not S's tablet
    assert "CANDIDATE_TRANSFER_RING" in by_id["S3"]["reasons"]
    assert "CANDIDATE_DEVICE_CLUSTER" in by_id["S4"]["reasons"]
    assert "CANDIDATE_IS_SELF" in by_id["S5"]["reasons"]  # the same ID number
    assessment = assess(api, "S", 0.72)
    assert assessment["outcome"] == "NEEDS_GUARANTOR", assessment
    offered = handles(api, assessment["id"])
    assert set(offered) == {"S2"}
    on_shared = api.gql(
        REQUEST,
        {"id": assessment["id"], "guarantors": [offered["S2"]], "channel": "MOBILE_BANKING"},
    )
    assert error_code(on_shared) == "BAD_USER_INPUT"
    sent = api.data(REQUEST, {"id": assessment["id"], "guarantors": [offered["S2"]]})
    assert sent["requestAssistedAuth"][0]["channel"] == "SMS"


def test_a_failed_identity_check_reads_nothing_of_the_customer(api: Any) -> None:
    result = assess(api, "B", 0.3)
    assert result["reasons"] == ["HARD_FACE_MISMATCH"]
    assert [i["code"] for i in result["score"]["items"]] == ["HARD_FACE_MISMATCH"]
    event = next(e for e in trail(api, "B") if e["reference"] == result["id"])
    assert event["action"] == "ASSESS" and event["categories"] == ["face", "identity"]


# --- 4. missing data never helps --------------------------------------------------------------


def test_kiosk_consents_carry_into_decide(api: Any) -> None:
    # K's consents were given at the kiosk only: decide must read the same categories again
    assessment, request_id = guarantor_flow(api, "KG", customer="K")
    confirm(api, request_id)
    decided = api.data(DECIDE, {"id": assessment["id"]})["decide"]
    decision = api.data(FULL_DECISION, {"id": decided["id"]}, role="analyst")["decision"]
    applicant = {i["code"] for i in decision["score"]["items"] if "guarantor_id" not in i}
    assert "CREDIT_GRADE_BB" in applicant and "CREDIT_GRADE_MISSING" not in applicant


def test_a_guarantor_cannot_choose_which_categories_are_read(api: Any) -> None:
    _assessment, request_id = guarantor_flow(api, "G2")
    withheld = [c for c in GUARANTOR_CONSENTS if c != "CREDIT"]
    response = confirm(api, request_id, consents=withheld)
    assert error_code(response) == "BAD_USER_INPUT"
    assert "verification.consents" in response.json()["errors"][0]["message"]


# --- 5. a kiosk sees only its own customer ----------------------------------------------------


def test_a_kiosk_sees_no_other_customers_id_data_or_flags(api: Any) -> None:
    assessment, request_id = guarantor_flow(api, "G1")
    confirm(api, request_id)
    decided = api.data(KIOSK_DECISION, {"id": assessment["id"]})["decide"]
    read = api.data(
        """query($id: ID!) { assessment(id: $id) { customerId candidates { handle customerId }
           requests { guarantorId candidate } score { items { code evidence } } } }""",
        {"id": assessment["id"]},
    )["assessment"]
    seen = set(strings(assessment)) | set(strings(decided)) | set(strings(read))
    assert not seen & set(CUSTOMER_IDS), seen & set(CUSTOMER_IDS)
    assert decided["guarantorIds"] is None and len(decided["guarantors"]) == 1
    codes = {i["code"] for i in decided["score"]["items"]}
    assert not {c for c in codes if c.startswith(("CREDIT_GRADE_AAA", "VOUCH_"))}
    assert read["candidates"][0]["customerId"] is None
    assert read["requests"][0]["guarantorId"] is None
    # the analyst sees the full record
    full = api.data(FULL_DECISION, {"id": decided["id"]}, role="analyst")["decision"]
    assert full["guarantorIds"] == ["G1"]
    assert any(i["evidence"].get("guarantor_id") == "G1" for i in full["score"]["items"])


# --- 6. ownership and roles -------------------------------------------------------------------


def test_another_kiosk_key_cannot_read_request_or_decide(api: Any) -> None:
    assessment = assess(api, "B", 0.72)
    handle = assessment["candidates"][0]["handle"]
    read = api.gql("query($id: ID!) { assessment(id: $id) { id } }", {"id": assessment["id"]},
                   role="kiosk2")  # fmt: skip
    assert error_code(read) == "NOT_FOUND"
    asked = api.gql(REQUEST, {"id": assessment["id"], "guarantors": [handle]}, role="kiosk2")
    assert error_code(asked) == "NOT_FOUND"
    decided = api.gql(DECIDE, {"id": assessment["id"]}, role="kiosk2")
    assert error_code(decided) == "NOT_FOUND"
    assert api.data(REQUEST, {"id": assessment["id"], "guarantors": [handle]})  # the owner can


def test_outcomes_are_recorded_once_by_the_decider_or_an_analyst(api: Any) -> None:
    first = assess(api, "A", 0.95)
    decision = api.data(DECIDE, {"id": first["id"]})["decide"]
    assert decision["outcome"] == "ALLOW"
    by_other_kiosk = api.gql(RECORD, {"id": decision["id"], "outcome": "NO_ISSUE"}, role="kiosk2")
    assert error_code(by_other_kiosk) == "NOT_FOUND"
    by_phone = api.gql(RECORD, {"id": decision["id"], "outcome": "NO_ISSUE"}, role="mobile_banking")
    assert by_phone.status_code == 403
    done = api.data(RECORD, {"id": decision["id"], "outcome": "NO_ISSUE"}, role="analyst")
    assert done["recordOutcome"]["reportedOutcome"] == "NO_ISSUE"
    again = api.gql(RECORD, {"id": decision["id"], "outcome": "FRAUD_REPORTED"})
    assert error_code(again) == "CONFLICT"
    recorded = [e for e in trail(api, "A") if e["action"] == "RECORD_OUTCOME"]
    assert [e["actor"] for e in recorded if e["reference"] == decision["id"]] == ["test-analyst"]


# --- 7. decisions are fresh -------------------------------------------------------------------


def test_an_expired_assessment_is_refused(api: Any) -> None:
    first = assess(api, "A", 0.95)
    assert first["outcome"] == "PROCEED"
    api.clock.offset += 3 * 600 + 1
    try:
        decision = api.data(DECIDE, {"id": first["id"]})["decide"]
    finally:
        api.clock.offset -= 3 * 600 + 1
    assert decision["outcome"] == "REFUSE" and decision["reasons"] == ["ASSESSMENT_EXPIRED"]


def test_hard_rules_are_checked_again_at_decision_time(api: Any, tmp_path: Path) -> None:
    first = assess(api, "A2", 0.95)
    assert first["outcome"] == "PROCEED"
    (tmp_path / "blacklist.csv").write_text(
        "entry_id,customer_id,id_number,reason,listed_at\nBL-A2,A2,,mule,2026-12-01\n"
    )
    Loader(api.store, progress=False).load(tmp_path)
    decision = api.data(DECIDE, {"id": first["id"]})["decide"]
    assert decision["outcome"] == "REFUSE" and "HARD_BLACKLISTED" in decision["reasons"]


# --- 8. complete audit ------------------------------------------------------------------------


def test_a_whole_flow_leaves_a_complete_audit_trail(api: Any) -> None:
    assessment, request_id = guarantor_flow(api, "G2")
    confirm(api, request_id)
    decision = api.data(DECIDE, {"id": assessment["id"]})["decide"]
    api.data("query($id: ID!) { assessment(id: $id) { id } }", {"id": assessment["id"]})
    api.data("query($id: ID!) { decision(id: $id) { id } }", {"id": decision["id"]}, "analyst")
    api.data(RECORD, {"id": decision["id"], "outcome": "NO_ISSUE"})
    mine = {assessment["id"], decision["id"], request_id}
    applicant = {(e["action"], e["actor"]) for e in trail(api, "B") if e["reference"] in mine}
    assert applicant >= {
        ("ASSESS", "test-kiosk"),
        ("REQUEST_ASSIST", "test-kiosk"),
        ("DECIDE", "test-kiosk"),
        ("READ_ASSESSMENT", "test-kiosk"),
        ("READ_DECISION", "test-analyst"),
        ("RECORD_OUTCOME", "test-kiosk"),
    }, applicant
    guarantor = {(e["action"], e["actor"]) for e in trail(api, "G2") if e["reference"] in mine}
    assert guarantor >= {
        ("READ_CANDIDATE", "test-kiosk"),
        ("RESPOND_ASSIST", "test-mobile_banking"),
        ("READ_GUARANTOR", "test-kiosk"),
    }, guarantor


# --- 9. the deadline bounds the work ----------------------------------------------------------


@dataclass
class _Result:
    probability: float
    model_version: str
    evidence: dict[str, Any]


class SlowModel:
    """A graph model that takes `seconds` to score (the model double of these tests)."""

    version = "slow-1"

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def score_customer(self, customer_id: str, now: int) -> _Result:
        time.sleep(self.seconds)
        return _Result(0.01, self.version, {})

    def score_pair(self, customer_id: str, guarantor_id: str, now: int) -> _Result:
        return self.score_customer(customer_id, now)


@contextlib.contextmanager
def slow_model(api: Any, seconds: float, deadline_s: float, budget_ms: int) -> Iterator[None]:
    flow, service = api.service.flow, api.service
    saved = flow.scorer, flow.scoring_budget_ms, service.deadline_s
    flow.scorer, flow.scoring_budget_ms, service.deadline_s = (
        SlowModel(seconds),
        budget_ms,
        deadline_s,
    )
    try:
        yield
    finally:
        flow.scorer, flow.scoring_budget_ms, service.deadline_s = saved


def _assessments_of(api: Any, customer: str) -> int:
    return sum(1 for e in trail(api, customer) if e["action"] == "ASSESS")


def test_scoring_past_its_budget_refuses(api: Any) -> None:
    from risk.policy import load_policy

    saved = api.service.flow.policy
    api.service.flow.policy = load_policy()  # the shipped policy: no score, no approval
    try:
        with slow_model(api, 0.3, deadline_s=1.0, budget_ms=100):
            result = assess(api, "A", 0.95)
    finally:
        api.service.flow.policy = saved
    assert result["outcome"] == "REFUSED"
    item = next(i for i in result["score"]["items"] if i["code"].startswith("HARD_NO_MODEL"))
    assert item["evidence"]["reason"] == "SCORING_TIMEOUT"


def test_a_step_past_its_deadline_refuses_and_writes_nothing_later(api: Any) -> None:
    before = _assessments_of(api, "A")
    with slow_model(api, 1.2, deadline_s=0.3, budget_ms=5000):
        result = assess(api, "A", 0.95)
        assert result["outcome"] == "REFUSED" and result["reasons"] == ["DEADLINE_EXCEEDED"]
        time.sleep(1.5)  # the abandoned step has finished meanwhile
    assert _assessments_of(api, "A") == before


# --- 10. concurrent picks stay within the guarantor limit ------------------------------------


def test_concurrent_requests_cannot_exceed_the_guarantor_limit(api: Any) -> None:
    assessment = assess(api, "B", 0.72)
    offered = [c["handle"] for c in assessment["candidates"]]
    assert len(offered) == 2
    picks = [[offered[0]], [offered[1]], offered, [offered[0]], offered, [offered[1]]] * 2
    answers: list[httpx.Response] = []

    def pick(handles_: list[str]) -> None:
        answers.append(api.gql(REQUEST, {"id": assessment["id"], "guarantors": handles_}))

    threads = [threading.Thread(target=pick, args=(p,)) for p in picks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    made = api.store.run(q.GET_ASSESSMENT, {"id": assessment["id"]})[0]["requests"]
    assert len(made) <= 2 and len({r["guarantor_id"] for r in made}) == len(made)
    assert all(r.status_code < 500 for r in answers)


# --- the policy owns the flow's windows, limits and words --------------------------------------


def test_the_policys_expiry_message_and_token_limit_are_the_flows(api: Any) -> None:
    from dataclasses import replace

    from graph import queries as q

    saved = api.service.flow.policy
    businesses = {
        name: replace(
            b,
            assist=replace(
                b.assist, assessment_ttl_seconds=900, max_token_failures=1, message="Confirm?"
            ),
        )
        for name, b in saved.businesses.items()
    }
    api.service.flow.policy = replace(saved, businesses=businesses)
    try:
        assessment, request_id = guarantor_flow(api, "G2")
        times = api.data(
            "query($id: ID!) { assessment(id: $id) { createdAt expiresAt } }",
            {"id": assessment["id"]},
        )["assessment"]
        assert times["expiresAt"] - times["createdAt"] == 900_000
        message = outbox_message(api, request_id)
        assert message["text"] == "Confirm?"
        once = confirm(api, request_id, token="guess").json()
        assert "locked" in once["errors"][0]["message"]  # one wrong token is the limit
    finally:
        api.service.flow.policy = saved
    stored = api.store.run(q.GET_ASSIST_REQUEST, {"id": request_id})[0]["request"]
    assert stored["status"] == "LOCKED"
