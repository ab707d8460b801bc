"""Flow A through a real HTTP client against a server on loopback, over a real store."""

from __future__ import annotations

import json
import time
from typing import Any

from tests_api_support import ASSESS, CONSENTS, DECIDE, RECORD, REQUEST, RESPOND

from api.limits import MAX_DEPTH


def assess(
    api: Any,
    customer: str,
    face: float,
    id_check: str = "MATCH",
    consents: list[str] | None = None,
    business: str = "CROSS_BORDER_TRANSFER",
) -> dict[str, Any]:
    variables = {
        "input": {
            "customerId": customer,
            "business": business,
            "kioskId": "K-01",
            "faceSimilarity": face,
            "idCheck": id_check,
            "consents": CONSENTS if consents is None else consents,
        }
    }
    return api.data(ASSESS, variables)["assess"]


def outbox_message(api: Any, request_id: str) -> dict[str, Any]:
    """What the local sender logged for a request (the dispatcher may be sending it)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        api.service.dispatcher.dispatch_once()
        if api.outbox_log.exists():
            for line in api.outbox_log.read_text().splitlines():
                message = json.loads(line)
                if message.get("request_id") == request_id:
                    return message
        time.sleep(0.02)
    raise AssertionError(f"no message for {request_id}")


def outbox_link(api: Any, request_id: str) -> str:
    return str(outbox_message(api, request_id)["link"])


def handles(api: Any, assessment_id: str) -> dict[str, str]:
    """Candidate id -> handle, as an analyst sees the assessment (a kiosk sees handles only)."""
    found = api.data(
        "query($id: ID!) { assessment(id: $id) { candidates { handle customerId } } }",
        {"id": assessment_id},
        role="analyst",
    )["assessment"]["candidates"]
    return {c["customerId"]: c["handle"] for c in found}


def guarantor_of(api: Any, request_id: str) -> str:
    """Who the request went to: the customer the mobile-banking backend has signed in."""
    from graph import queries as q

    return str(
        api.store.run(q.GET_ASSIST_REQUEST, {"id": request_id})[0]["request"]["guarantor_id"]
    )


def token_of(link: str) -> str:
    return link.split("token=", 1)[1]


GUARANTOR_CONSENTS = [
    "FACE",
    "IDENTITY",
    "BASIC_INFO",
    "TRANSACTIONS",
    "CREDIT",
    "VOUCHING_HISTORY",
]


def confirm(
    api: Any,
    request_id: str,
    face: float = 0.95,
    accept: bool = True,
    token: str | None = None,
    guarantor: str | None = None,
    role: str = "mobile_banking",
    consents: list[str] | None = None,
) -> Any:
    """The guarantor's answer as the mobile-banking backend sends it."""
    message = outbox_message(api, request_id)
    verification = {
        "faceSimilarity": face,
        "idCheck": "MATCH",
        "idPhotoCaptured": True,
        "consents": GUARANTOR_CONSENTS if consents is None else consents,
    }
    return api.gql(
        RESPOND,
        {
            "id": request_id,
            "guarantor": guarantor or guarantor_of(api, request_id),
            "token": token or token_of(message["link"]),
            "accept": accept,
            "verification": verification if accept else None,
        },
        role=role,
    )


def guarantor_flow(
    api: Any, guarantor: str = "G1", customer: str = "B", channel: str | None = "SMS"
) -> tuple[dict[str, Any], str]:
    assessment = assess(api, customer, 0.72)
    assert assessment["outcome"] == "NEEDS_GUARANTOR", assessment
    handle = handles(api, assessment["id"])[guarantor]
    variables = {"id": assessment["id"], "guarantors": [handle], "channel": channel}
    requests = api.data(REQUEST, variables)["requestAssistedAuth"]
    return assessment, requests[0]["id"]


def test_low_risk_customer_proceeds_at_once(api: Any) -> None:
    result = assess(api, "A", 0.95)
    assert result["outcome"] == "PROCEED"
    assert result["score"]["total"] < result["score"]["threshold"]
    assert result["reasons"] == ["SCORE_BELOW_T1"]
    assert {i["code"] for i in result["score"]["items"]} >= {"FACE_SIMILARITY", "ID_CHECK_MATCH"}
    decision = api.data(DECIDE, {"id": result["id"]})["decide"]
    assert decision["outcome"] == "ALLOW"


def test_face_similarity_below_half_refuses_at_once(api: Any) -> None:
    result = assess(api, "A", 0.45)
    assert result["outcome"] == "REFUSED" and "HARD_FACE_MISMATCH" in result["reasons"]
    assert result["candidates"] == []


def test_id_unknown_to_the_bank_refuses_at_once(api: Any) -> None:
    assert "HARD_ID_UNKNOWN" in assess(api, "A", 0.95, id_check="NOT_FOUND")["reasons"]
    unknown = assess(api, "NOBODY", 0.95)
    assert unknown["outcome"] == "REFUSED" and unknown["reasons"] == ["HARD_ID_UNKNOWN"]


def test_missing_consent_refuses_with_its_reason(api: Any) -> None:
    result = assess(api, "C", 0.95, consents=["FACE"])
    assert result["outcome"] == "REFUSED" and result["reasons"] == ["CONSENT_MISSING"]
    missing = result["score"]["items"][0]["evidence"]["categories"]
    assert set(missing) == {"basic_info", "identity"}


def test_candidates_are_eligible_ranked_and_masked(api: Any) -> None:
    result = assess(api, "B", 0.72)
    assert result["outcome"] == "NEEDS_GUARANTOR"
    candidates = result["candidates"]
    ids = handles(api, result["id"])
    assert [c["handle"] for c in candidates][:1] == [ids["G1"]]  # spouse before friend
    assert set(ids) == {"G1", "G2"}  # G3 too new, G4 closed
    spouse = candidates[0]
    assert spouse["relationship"] == "spouse" and spouse["displayName"] == "W*** W**"
    assert spouse["paths"][0]["type"] == "KIN"
    body = json.dumps(result)
    assert "IDG1" not in body and "+86" not in body and "Wang Wei" not in body
    assert '"G1"' not in body and '"G2"' not in body  # no customer id reaches a kiosk
    direct = api.data(
        """query($id: ID!) { candidateGuarantors(customerId: $id,
        business: CROSS_BORDER_TRANSFER, first: 1) { customerId relationship } }""",
        {"id": "B"},
        role="analyst",
    )["candidateGuarantors"]
    assert direct == [{"customerId": "G1", "relationship": "spouse"}]


def test_guarantor_confirms_and_the_business_is_allowed(api: Any) -> None:
    assessment, request_id = guarantor_flow(api)
    response = confirm(api, request_id)
    assert response.json()["data"]["respondAssistedAuth"]["status"] == "CONFIRMED"
    decision = api.data(DECIDE, {"id": assessment["id"]})["decide"]
    assert decision["outcome"] == "ALLOW" and decision["reasons"] == ["COMBINED_BELOW_T2"]
    assert decision["guarantors"] == [handles(api, assessment["id"])["G1"]]
    assert decision["score"]["total"] < decision["score"]["threshold"]
    again = api.data(DECIDE, {"id": assessment["id"]})["decide"]
    assert again["id"] == decision["id"]  # deciding twice returns the first decision
    summary = api.data(
        'query { customer(id: "G1") { vouchesGiven badVouchOutcomes displayName } }', role="analyst"
    )["customer"]
    assert summary == {"vouchesGiven": 1, "badVouchOutcomes": 0, "displayName": "W*** W**"}


def test_every_decision_and_read_is_audited(api: Any) -> None:
    from graph import queries as q

    assessment, request_id = guarantor_flow(api, "G2")
    confirm(api, request_id)
    decision = api.data(DECIDE, {"id": assessment["id"]})["decide"]

    def trail(who: str) -> list[dict[str, Any]]:
        return [
            r["event"] for r in api.store.run(q.AUDIT_TRAIL, {"subject_id": who, "limit": 1000})
        ]

    applicant = {(e["action"], e["reference"]) for e in trail("B")}
    assert ("ASSESS", assessment["id"]) in applicant
    assert ("DECIDE", decision["id"]) in applicant
    read = [e for e in trail("G2") if e["reference"] == decision["id"]]
    assert read[0]["action"] == "READ_GUARANTOR"
    assert read[0]["consent_ids"] == [f"assist:{request_id}"]
    assert "credit" in read[0]["categories"] and read[0]["actor"] == "test-kiosk"
    assert any(e["action"] == "READ_CANDIDATE" for e in trail("G2"))
    items = {i["code"] for i in decision["score"]["items"]}
    assert {"COMBINED_CUSTOMER", "COMBINED_GUARANTORS"} <= items


def test_combined_score_above_t2_refuses(api: Any) -> None:
    assessment, request_id = guarantor_flow(api, "G2")
    assert confirm(api, request_id, face=0.55).json()["data"]["respondAssistedAuth"]
    decision = api.data(DECIDE, {"id": assessment["id"]})["decide"]
    assert decision["outcome"] == "REFUSE"
    assert decision["reasons"][0] == "COMBINED_AT_OR_ABOVE_T2"


def test_guarantor_declines_and_the_business_is_refused(api: Any) -> None:
    assessment, request_id = guarantor_flow(api)
    response = confirm(api, request_id, accept=False)
    assert response.json()["data"]["respondAssistedAuth"]["status"] == "DECLINED"
    decision = api.data(DECIDE, {"id": assessment["id"]})["decide"]
    assert decision["outcome"] == "REFUSE" and decision["reasons"] == ["NO_GUARANTOR"]


def test_request_expires(api: Any) -> None:
    _assessment, request_id = guarantor_flow(api)
    token = token_of(outbox_link(api, request_id))
    api.clock.offset += 601  # past the policy's 600 s
    try:
        body = confirm(api, request_id, token=token).json()
        assert body["errors"][0]["extensions"]["code"] == "ASSIST_REJECTED"
        assert "expired" in body["errors"][0]["message"]
    finally:
        api.clock.offset -= 601


def test_forged_or_repeated_confirmations_are_rejected(api: Any) -> None:
    _assessment, request_id = guarantor_flow(api)
    forged = confirm(api, request_id, token="not-the-token").json()
    assert forged["errors"][0]["extensions"]["code"] == "ASSIST_REJECTED"
    assert confirm(api, request_id).json()["data"]["respondAssistedAuth"]["status"] == "CONFIRMED"
    repeated = confirm(api, request_id).json()
    assert "already confirmed" in repeated["errors"][0]["message"]


def test_a_guarantor_not_offered_cannot_be_asked(api: Any) -> None:
    assessment = assess(api, "B", 0.72)
    body = api.gql(REQUEST, {"id": assessment["id"], "guarantors": ["G4"]}).json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "not a candidate of this assessment" in body["errors"][0]["message"]


def test_no_key_is_401_and_a_wrong_role_is_403(api: Any) -> None:
    request = {
        "input": {
            "customerId": "A",
            "business": "CROSS_BORDER_TRANSFER",
            "kioskId": "K",
            "faceSimilarity": 0.9,
            "idCheck": "MATCH",
        }
    }
    no_key = api.gql(ASSESS, request, role=None)
    assert no_key.status_code == 401 and no_key.headers["www-authenticate"] == "Bearer"
    wrong_key = api.gql(ASSESS, request, role=None, headers={"Authorization": "Bearer vg_nope"})
    assert wrong_key.status_code == 401
    anonymous = api.gql('query { decision(id: "x") { id } }', role=None)
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    kiosk_reads_customer = api.gql('query { customer(id: "A") { id } }', role="kiosk")
    assert kiosk_reads_customer.status_code == 403
    analyst_assesses = api.gql('mutation { decide(assessmentId: "x") { id } }', role="analyst")
    assert analyst_assesses.status_code == 403


def test_too_deep_a_query_is_rejected(api: Any) -> None:
    nested = "name " + "ofType { " * MAX_DEPTH + "name" + " }" * MAX_DEPTH
    deep = "query { __schema { types { fields { type { " + nested + " } } } } }"
    body = api.gql(deep).json()
    assert body["errors"][0]["extensions"]["code"] == "DEPTH_LIMIT_EXCEEDED"
    assert body.get("data") is None


def test_too_costly_a_query_is_rejected(api: Any) -> None:
    costly = """query { candidateGuarantors(customerId: "B", business: CROSS_BORDER_TRANSFER,
        first: 500) { customerId displayName paths { type kind source direction } } }"""
    body = api.gql(costly).json()
    assert body["errors"][0]["extensions"]["code"] == "COST_LIMIT_EXCEEDED"


def test_graphql_over_http_conventions(api: Any) -> None:
    response = api.gql(
        'query { decision(id: "none") { id } }',
        headers={"Accept": "application/graphql-response+json"},
    )
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    bad = api.gql("query { nope }", headers={"Accept": "application/graphql-response+json"})
    assert bad.status_code == 400
    import httpx

    via_get = httpx.get(
        f"{api.url}/graphql",
        params={"query": '{ decision(id: "none") { id } }'},
        headers={"Authorization": f"Bearer {api.keys['analyst']}"},
    )
    assert (
        via_get.status_code == 200
        and via_get.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    )
    mutation_by_get = httpx.get(
        f"{api.url}/graphql",
        params={"query": 'mutation { decide(assessmentId: "x") { id } }'},
        headers={"Authorization": f"Bearer {api.keys['kiosk']}"},
    )
    assert mutation_by_get.status_code in (400, 405)


def test_health_readiness_and_metrics(api: Any) -> None:
    import httpx

    assert httpx.get(f"{api.url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{api.url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assess(api, "A", 0.95)
    metrics = httpx.get(f"{api.url}/metrics").text
    assert (
        'vouchgraph_decisions_total{business="CROSS_BORDER_TRANSFER",outcome="PROCEED"' in metrics
    )
    assert "vouchgraph_graphql_seconds_bucket" in metrics


def test_a_reported_fraud_joins_the_vouching_history_and_bars_the_guarantor(api: Any) -> None:
    # runs last: it leaves G1 barred for the rest of the module
    assessment, request_id = guarantor_flow(api)
    confirm(api, request_id)
    decision = api.data(DECIDE, {"id": assessment["id"]})["decide"]
    assert decision["outcome"] == "ALLOW"
    recorded = api.data(RECORD, {"id": decision["id"], "outcome": "FRAUD_REPORTED"})
    assert recorded["recordOutcome"]["reportedOutcome"] == "FRAUD_REPORTED"
    summary = api.data('query { customer(id: "G1") { badVouchOutcomes } }', role="analyst")
    assert summary["customer"]["badVouchOutcomes"] == 1
    again = assess(api, "B", 0.72)
    assert "G1" not in handles(api, again["id"])
    twice = api.gql(RECORD, {"id": decision["id"], "outcome": "NO_ISSUE"}, role="analyst").json()
    assert twice["errors"][0]["extensions"]["code"] == "CONFLICT"  # once per decision
