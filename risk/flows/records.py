"""Stored workflow state as typed records: an assessment, its assist requests and its decision
as the flow reads them back from the store, each built in one place (`from_props`) from a node's
property map, so no step reads a stored property by a name the writing query does not set.

A property a writing query never sets, or sets later (a request's verification, a decision's
reported outcome), is a field with a default; every other name missing from the map is a
KeyError naming it (tests/risk/test_records.py checks the names against the writing queries).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, fields
from typing import Any, TypeVar

from risk.scorecard import Item

R = TypeVar("R")


def items_json(items: Iterable[Item]) -> str:
    """Score items in their stored form."""
    return json.dumps(
        [{"code": i.code, "points": i.points, "evidence": i.evidence} for i in items],
        sort_keys=True,
        default=str,
    )


def items_from_json(text: str | None) -> tuple[Item, ...]:
    return tuple(
        Item(i["code"], float(i["points"]), i["evidence"]) for i in json.loads(text or "[]")
    )


def from_props(cls: type[R], props: Mapping[str, Any]) -> R:
    """`cls` built from a node's properties: an absent property takes its field's default
    (None when stored as null), a required one absent is a KeyError naming it."""
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name in props and props[f.name] is not None:
            values[f.name] = props[f.name]
        elif f.default is not MISSING or f.default_factory is not MISSING:
            continue
        else:
            values[f.name] = props[f.name]
    return cls(**values)


@dataclass(frozen=True, kw_only=True)
class AssessmentRecord:
    """An assessment as `CREATE_ASSESSMENT` (or `CREATE_ORPHAN_ASSESSMENT`) stored it."""

    id: str
    customer_id: str
    business: str
    kiosk_id: str
    owner_key: str
    outcome: str
    score: float
    threshold: float
    items: str  # JSON of the score items (`items_json`)
    reasons: list[str]
    policy_version: str
    created_at: int
    expires_at: int
    candidate_view: str = "[]"  # JSON of the offered candidates (`Candidate.stored`)
    kiosk_consents: list[str] | None = None
    model_version: str | None = None
    face_similarity: float = 0.0  # an orphan assessment (ID unknown) stores none
    id_check: str = ""

    def score_items(self) -> tuple[Item, ...]:
        return items_from_json(self.items)

    def offered(self) -> list[dict[str, Any]]:
        """The candidates the assessment offered, as `Candidate.stored` wrote them."""
        offered: list[dict[str, Any]] = json.loads(self.candidate_view or "[]")
        return offered


@dataclass(frozen=True, kw_only=True)
class AssistRequestRecord:
    """An assisted-authentication request as `CREATE_ASSIST_REQUESTS` stored it and the
    guarantor's answer (`RESPOND_ASSIST`) completed it."""

    id: str
    assessment_id: str
    guarantor_id: str
    channel: str
    status: str
    token_hash: str
    created_at: int
    expires_at: int
    handle: str = ""
    responded_at: int | None = None
    verification: str = "{}"  # JSON: the results and what they are bound to
    consent_categories: list[str] | None = None

    def verification_results(self) -> dict[str, Any]:
        results: dict[str, Any] = json.loads(self.verification or "{}")
        return results


@dataclass(frozen=True, kw_only=True)
class DecisionRecord:
    """A decision as `CREATE_DECISION` stored it, with the outcome reported afterwards."""

    id: str
    assessment_id: str
    customer_id: str
    business: str
    owner_key: str
    outcome: str
    score: float
    threshold: float
    items: str  # JSON of the score items
    reasons: list[str]
    policy_version: str
    created_at: int
    guarantor_ids: list[str] | None = None
    guarantor_handles: list[str] | None = None
    model_version: str | None = None
    reported_outcome: str | None = None

    def score_items(self) -> tuple[Item, ...]:
        return items_from_json(self.items)


@dataclass(frozen=True, kw_only=True)
class AssessmentState:
    """`GET_ASSESSMENT`'s row: the assessment, its requests and its decision (if any)."""

    assessment: AssessmentRecord
    requests: tuple[AssistRequestRecord, ...]
    decision: DecisionRecord | None

    @staticmethod
    def from_row(row: Mapping[str, Any]) -> AssessmentState:
        decision = row["decision"]
        return AssessmentState(
            assessment=from_props(AssessmentRecord, row["assessment"]),
            requests=tuple(from_props(AssistRequestRecord, r) for r in row["requests"]),
            decision=from_props(DecisionRecord, decision) if decision else None,
        )


@dataclass(frozen=True, kw_only=True)
class AssistRequestState:
    """`GET_ASSIST_REQUEST`'s row: the request with what its guarantor's screen shows."""

    request: AssistRequestRecord
    business: str
    applicant_id: str
    applicant_name: str
    candidate_view: str

    @staticmethod
    def from_row(row: Mapping[str, Any]) -> AssistRequestState:
        return AssistRequestState(
            request=from_props(AssistRequestRecord, row["request"]),
            business=row["business"] or "",
            applicant_id=row["applicant_id"] or "",
            applicant_name=row["applicant_name"] or "",
            candidate_view=row["candidate_view"] or "[]",
        )
