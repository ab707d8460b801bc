"""The graph model inside the flow: an online score is a scorecard item with its evidence, for
the applicant at `assess` and for each (applicant, guarantor) pair at `decide`; without a model,
or when scoring fails, the item says why and the shipped policy refuses."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import httpx
from test_kiosk_flow import assess, confirm, guarantor_flow
from tests_api_support import DECIDE

from ml.serving import OnlineScorer, load_version
from risk.policy import load_policy, without_model_policy

ANALYST_ASSESSMENT = "query($id: ID!) { assessment(id: $id) { score { items { code evidence } } } }"
ANALYST_DECISION = """query($id: ID!) { decision(id: $id) {
  id score { items { code points evidence } } } }"""


@contextlib.contextmanager
def flow_with(api: Any, scorer: Any, policy: Any) -> Iterator[None]:
    flow = api.service.flow
    saved = flow.scorer, flow.policy
    flow.scorer, flow.policy = scorer, policy
    try:
        yield
    finally:
        flow.scorer, flow.policy = saved


def items(score: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {i["code"]: i for i in score["items"]}


def test_decide_scores_the_applicant_and_the_pair_online(api: Any, trained_model: Any) -> None:
    registry, result = trained_model
    model = load_version(registry, result.version)
    scorer = OnlineScorer(api.store, model)
    with flow_with(api, scorer, without_model_policy(graph_risk_points=0)):
        first = assess(api, "A", 0.95)
        item = next(i for i in first["score"]["items"] if i["code"].startswith("GRAPH_RISK"))
        assert item["code"] == "GRAPH_RISK", item
        assert item["evidence"]["model_version"] == result.version
        assert 0 <= item["evidence"]["probability"] <= 1
        assert "neighbours" not in item["evidence"]  # other customers: never to a kiosk
        full = api.data(ANALYST_ASSESSMENT, {"id": first["id"]}, role="analyst")["assessment"]
        item = next(i for i in full["score"]["items"] if i["code"] == "GRAPH_RISK")
        assert {"relations", "neighbours"} <= set(item["evidence"])
        assert set(item["evidence"]["relations"]) <= {
            "kin",
            "social",
            "transferred",
            "vouched",
            "rated",
            "uses_phone",
            "uses_device",
        }

        assessment, request_id = guarantor_flow(api)
        confirm(api, request_id)
        decided = api.data(DECIDE, {"id": assessment["id"]})["decide"]
        decision = api.data(ANALYST_DECISION, {"id": decided["id"]}, role="analyst")["decision"]
    guarantor_items = [
        i
        for i in decision["score"]["items"]
        if i["code"] == "GRAPH_RISK" and i["evidence"].get("guarantor_id") == "G1"
    ]
    assert guarantor_items, decision["score"]["items"]
    assert guarantor_items[0]["evidence"]["model_version"] == result.version
    # the graph model's reads are in the audit trail
    from graph import queries as q

    trail = [r["event"] for r in api.store.run(q.AUDIT_TRAIL, {"subject_id": "B", "limit": 1000})]
    decided = [e for e in trail if e["action"] == "DECIDE" and e["reference"] == decision["id"]]
    assert "graph_model" in decided[0]["categories"]
    model_reads = [e for e in trail if e["action"] == "GRAPH_MODEL_READ"]
    assert {e["reference"] for e in model_reads} >= {assessment["id"], decision["id"]}


def test_no_model_promoted_refuses_and_says_why(api: Any) -> None:
    with flow_with(api, None, load_policy()):
        result = assess(api, "A", 0.95)
        ready = httpx.get(f"{api.url}/readyz")
    assert result["outcome"] == "REFUSED" and "HARD_NO_MODEL" in result["reasons"]
    hard = items(result["score"])["HARD_NO_MODEL"]
    assert hard["evidence"] == {"missing_model": "refuse", "reason": "NO_MODEL_PROMOTED"}
    assert ready.status_code == 503 and ready.json()["reason"] == "NO_MODEL_PROMOTED"


class BrokenScorer:
    version = "broken-1"

    def score_customer(self, customer_id: str, now: int) -> Any:
        raise RuntimeError("weights do not fit")

    def score_pair(self, customer_id: str, guarantor_id: str, now: int) -> Any:
        raise RuntimeError("weights do not fit")


def test_a_scoring_failure_refuses_and_says_why(api: Any) -> None:
    with flow_with(api, BrokenScorer(), load_policy()):
        result = assess(api, "A", 0.95)
    assert result["outcome"] == "REFUSED" and "HARD_NO_MODEL" in result["reasons"]
    graph = items(result["score"])["GRAPH_RISK_NO_MODEL"]
    assert graph["evidence"]["reason"] == "SCORING_FAILED"


def test_warm_up_scores_one_customer_and_audits_that_read(api: Any, trained_model: Any) -> None:
    from graph import queries as q

    registry, result = trained_model
    scorer = OnlineScorer(api.store, load_version(registry, result.version))
    with flow_with(api, scorer, without_model_policy(graph_risk_points=0)):
        api.service.flow.warm_up()
    scored = api.store.run(q.RANDOM_CUSTOMER_IDS, {"skip": 0, "limit": 1})[0]["id"]
    trail = api.store.run(q.AUDIT_TRAIL, {"subject_id": scored, "limit": 1000})
    reads = [r["event"] for r in trail if r["event"]["actor"] == "vouchgraph:warm-up"]
    assert reads and reads[-1]["action"] == "GRAPH_MODEL_READ"
    assert reads[-1]["categories"] == ["graph_model"]
