"""The kiosk flow's values as its callers see them: requests in, views out, built from rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graph.vocab import FinalOutcome, FirstOutcome
from risk.eligibility import RankedCandidate, mask_name
from risk.flows.ids import new_id
from risk.flows.records import AssessmentRecord, AssistRequestRecord, DecisionRecord
from risk.policy import Policy, UnknownBusiness
from risk.scorecard import Item, RelationshipPath


@dataclass(frozen=True, kw_only=True)
class AssessRequest:
    """Step 1's input from the kiosk."""

    customer_id: str
    business: str
    kiosk_id: str
    face_similarity: float
    id_check: str
    consents: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Verification:
    """What the guarantor's phone reports with a confirmation (step 6)."""

    face_similarity: float
    id_check: str
    id_photo_captured: bool
    consents: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """A candidate guarantor. A kiosk sees the opaque `handle` (per assessment), the masked
    name, the relationship in words and the channels a request may use; only analysts see the
    customer id."""

    handle: str
    customer_id: str
    display_name: str
    relationship: str
    eligible: bool
    reasons: tuple[str, ...]
    paths: tuple[RelationshipPath, ...]
    channels: tuple[str, ...] = ()

    def stored(self) -> dict[str, Any]:
        """The candidate as the assessment keeps it (JSON), so later steps need no re-read."""
        return {
            "handle": self.handle,
            "customer_id": self.customer_id,
            "display_name": self.display_name,
            "relationship": self.relationship,
            "channels": list(self.channels),
            "paths": [[p.rel_type, p.kind, p.source, p.direction] for p in self.paths],
        }

    @staticmethod
    def from_stored(row: Mapping[str, Any]) -> Candidate:
        return Candidate(
            handle=row["handle"],
            customer_id=row["customer_id"],
            display_name=row["display_name"],
            relationship=row["relationship"],
            eligible=True,
            reasons=(),
            paths=tuple(RelationshipPath(*p) for p in row["paths"]),
            channels=tuple(row["channels"]),
        )


@dataclass(frozen=True, kw_only=True)
class AssessmentView:
    """An assessment as stored (or, when failing closed, as answered without a store)."""

    id: str
    customer_id: str
    business: str
    outcome: str
    score: float
    threshold: float
    items: tuple[Item, ...]
    reasons: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    policy_version: str
    model_version: str | None
    created_at: int
    expires_at: int
    persisted: bool = True


@dataclass(frozen=True, kw_only=True)
class AssistRequestView:
    """An assisted-authentication request and where it stands."""

    id: str
    assessment_id: str
    guarantor_id: str
    handle: str
    channel: str
    status: str
    created_at: int
    expires_at: int
    responded_at: int | None = None


@dataclass(frozen=True, kw_only=True)
class AssistDetails:
    """What the guarantor's mobile banking shows before they answer: which business, for whom
    (masked), how they are related, and until when."""

    request_id: str
    business: str
    applicant_display_name: str
    relationship: str
    channel: str
    status: str
    expires_at: int


@dataclass(frozen=True, kw_only=True)
class DecisionView:
    """A final decision with everything that explains it."""

    id: str
    assessment_id: str
    customer_id: str
    business: str
    outcome: str
    score: float
    threshold: float
    items: tuple[Item, ...]
    reasons: tuple[str, ...]
    guarantor_ids: tuple[str, ...]
    policy_version: str
    model_version: str | None
    created_at: int
    reported_outcome: str | None = None
    persisted: bool = True
    guarantor_handles: tuple[str, ...] = ()


def candidate_of(ranked: RankedCandidate, name: str) -> Candidate:
    return Candidate(
        handle=new_id("cand"),
        customer_id=ranked.facts.customer_id,
        display_name=mask_name(name),
        relationship=ranked.relationship,
        eligible=ranked.eligibility.eligible,
        reasons=ranked.eligibility.reasons,
        paths=ranked.facts.paths,
        channels=tuple(ranked.channels),
    )


def request_view(r: AssistRequestRecord) -> AssistRequestView:
    return AssistRequestView(
        id=r.id,
        assessment_id=r.assessment_id,
        guarantor_id=r.guarantor_id,
        handle=r.handle,
        channel=r.channel,
        status=r.status,
        created_at=r.created_at,
        expires_at=r.expires_at,
        responded_at=r.responded_at,
    )


def assessment_view(a: AssessmentRecord) -> AssessmentView:
    return AssessmentView(
        id=a.id,
        customer_id=a.customer_id,
        business=a.business,
        outcome=a.outcome,
        score=float(a.score),
        threshold=float(a.threshold),
        items=a.score_items(),
        reasons=tuple(a.reasons),
        candidates=tuple(Candidate.from_stored(c) for c in a.offered()),
        policy_version=a.policy_version,
        model_version=a.model_version,
        created_at=a.created_at,
        expires_at=a.expires_at,
    )


def decision_view(d: DecisionRecord) -> DecisionView:
    return DecisionView(
        id=d.id,
        assessment_id=d.assessment_id,
        customer_id=d.customer_id,
        business=d.business,
        outcome=d.outcome,
        score=float(d.score),
        threshold=float(d.threshold),
        items=d.score_items(),
        reasons=tuple(d.reasons),
        guarantor_ids=tuple(d.guarantor_ids or ()),
        policy_version=d.policy_version,
        model_version=d.model_version,
        created_at=d.created_at,
        reported_outcome=d.reported_outcome,
        guarantor_handles=tuple(d.guarantor_handles or ()),
    )


def refusal(request: AssessRequest, policy: Policy, reason: str, now: int) -> AssessmentView:
    """What `assess` answers when it cannot run: a refusal with a reason code, never stored."""
    try:
        threshold = policy.business(request.business).t1
    except UnknownBusiness:
        threshold = 0.0
    item = Item(reason, 0.0, {})
    return AssessmentView(
        id=new_id("asm"),
        customer_id=request.customer_id,
        business=request.business,
        outcome=FirstOutcome.REFUSED,
        score=0.0,
        threshold=threshold,
        items=(item,),
        reasons=(reason,),
        candidates=(),
        policy_version=policy.version,
        model_version=None,
        created_at=now,
        expires_at=now,
        persisted=False,
    )


def refusal_decision(assessment_id: str, policy: Policy, reason: str, now: int) -> DecisionView:
    """What `decide` answers when it cannot run: REFUSE with a reason code, never stored."""
    return DecisionView(
        id=new_id("dec"),
        assessment_id=assessment_id,
        customer_id="",
        business="",
        outcome=FinalOutcome.REFUSE,
        score=0.0,
        threshold=0.0,
        items=(Item(reason, 0.0, {}),),
        reasons=(reason,),
        guarantor_ids=(),
        policy_version=policy.version,
        model_version=None,
        created_at=now,
        persisted=False,
    )
