"""Each stored record's fields are properties its queries write: the required ones by the
query that creates the node, the ones with a default by some query of its workflow, so a
renamed property breaks a test, not a kiosk."""

from __future__ import annotations

from dataclasses import MISSING, Field, fields

import pytest
from cypher_text import written

from graph import queries as q
from risk.flows.records import (
    AssessmentRecord,
    AssessmentState,
    AssistRequestRecord,
    DecisionRecord,
    from_props,
)

# record: (the node's variable in its queries, its label, the creating query, the others)
WRITERS: dict[type, tuple[str, str, q.Query, tuple[q.Query, ...]]] = {
    AssessmentRecord: ("a", "Assessment", q.CREATE_ASSESSMENT, (q.CREATE_ORPHAN_ASSESSMENT,)),
    AssistRequestRecord: ("q", "AssistRequest", q.CREATE_ASSIST_REQUESTS, (q.RESPOND_ASSIST,)),
    DecisionRecord: ("d", "Decision", q.CREATE_DECISION, (q.RECORD_OUTCOME,)),
}


def required(f: Field[object]) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


@pytest.mark.parametrize("record", WRITERS, ids=lambda r: r.__name__)
def test_a_records_required_fields_are_written_by_its_creating_query(record: type) -> None:
    var, label, creating, _ = WRITERS[record]
    missing = {f.name for f in fields(record) if required(f)} - written(creating, var, label)
    assert not missing, f"{creating.name} does not write {sorted(missing)}"


@pytest.mark.parametrize("record", WRITERS, ids=lambda r: r.__name__)
def test_every_field_of_a_record_is_written_by_one_of_its_queries(record: type) -> None:
    var, label, creating, others = WRITERS[record]
    names = set().union(*(written(query, var, label) for query in (creating, *others)))
    assert not {f.name for f in fields(record)} - names


def test_the_checker_sees_a_created_map_and_a_set() -> None:
    assert written(q.CREATE_ASSESSMENT, "a", "Assessment") >= {"id", "candidate_view"}
    assert "reported_outcome" in written(q.RECORD_OUTCOME, "d", "Decision")
    assert "token_hash" not in written(q.RESPOND_ASSIST, "q", "AssistRequest")  # only compared


def test_a_missing_required_property_is_an_error_naming_it() -> None:
    props = {
        "id": "D1",
        "assessment_id": "A1",
        "customer_id": "C1",
        "business": "INSURANCE_PURCHASE",
        "owner_key": "key_1",
        "outcome": "ALLOW",
        "score": 10.0,
        "threshold": 40.0,
        "items": "[]",
        "reasons": [],
        "created_at": 1,
    }
    with pytest.raises(KeyError, match="policy_version"):
        from_props(DecisionRecord, props)


def test_an_absent_or_null_optional_property_takes_its_default() -> None:
    record = from_props(
        AssistRequestRecord,
        {
            "id": "R1",
            "assessment_id": "A1",
            "guarantor_id": "C2",
            "channel": "SMS",
            "status": "PENDING",
            "token_hash": "h",
            "created_at": 1,
            "expires_at": 2,
            "verification": None,
        },
    )
    assert record.verification_results() == {} and record.handle == ""
    assert record.responded_at is None and record.consent_categories is None


def test_an_assessment_without_requests_or_decision_reads_as_such() -> None:
    assessment = dict(q.CREATE_ASSESSMENT.params)
    props = {
        **{k: assessment[k] for k in ("id", "customer_id", "business", "kiosk_id", "owner_key")},
        **{k: assessment[k] for k in ("outcome", "score", "threshold", "items", "reasons")},
        "policy_version": "v1",
        "created_at": 1,
        "expires_at": 2,
    }
    state = AssessmentState.from_row({"assessment": props, "requests": [], "decision": None})
    assert state.requests == () and state.decision is None
    assert state.assessment.offered() == [] and state.assessment.score_items() == ()
