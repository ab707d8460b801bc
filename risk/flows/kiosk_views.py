"""The kiosk flow's values as its callers see them: requests in, views out, built from rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from risk.eligibility import RankedCandidate, mask_name
from risk.flows.common import items_from_json, new_id
from risk.policy import Policy, UnknownBusiness
from risk.scorecard import Item, RelationshipPath


@dataclass(frozen=True)
class AssessRequest:
    """Step 1's input from the kiosk."""

    customer_id: str
    business: str
    kiosk_id: str
    face_similarity: float
    id_check: str
    consents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verification:
    """What the guarantor's phone reports with a confirmation (step 6)."""

    face_similarity: float
    id_check: str
    id_photo_captured: bool
    consents: tuple[str, ...]


@dataclass(frozen=True)
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
            row["handle"],
            row["customer_id"],
            row["display_name"],
            row["relationship"],
            True,
            (),
            tuple(RelationshipPath(*p) for p in row["paths"]),
            tuple(row["channels"]),
        )


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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
        new_id("cand"),
        ranked.facts.customer_id,
        mask_name(name),
        ranked.relationship,
        ranked.eligibility.eligible,
        ranked.eligibility.reasons,
        ranked.facts.paths,
        tuple(ranked.channels),
    )


def request_view(r: dict[str, Any]) -> AssistRequestView:
    return AssistRequestView(
        r["id"],
        r["assessment_id"],
        r["guarantor_id"],
        r.get("handle") or "",
        r["channel"],
        r["status"],
        r["created_at"],
        r["expires_at"],
        r.get("responded_at"),
    )


def decision_view(d: dict[str, Any]) -> DecisionView:
    return DecisionView(
        d["id"],
        d["assessment_id"],
        d["customer_id"],
        d["business"],
        d["outcome"],
        float(d["score"]),
        float(d["threshold"]),
        items_from_json(d["items"]),
        tuple(d["reasons"] or ()),
        tuple(d.get("guarantor_ids") or ()),
        d["policy_version"],
        d.get("model_version"),
        d["created_at"],
        d.get("reported_outcome"),
        guarantor_handles=tuple(d.get("guarantor_handles") or ()),
    )


def refusal(request: AssessRequest, policy: Policy, reason: str, now: int) -> AssessmentView:
    """What `assess` answers when it cannot run: a refusal with a reason code, never stored."""
    try:
        threshold = policy.business(request.business).t1
    except UnknownBusiness:
        threshold = 0.0
    item = Item(reason, 0.0, {})
    return AssessmentView(
        new_id("asm"),
        request.customer_id,
        request.business,
        "REFUSED",
        0.0,
        threshold,
        (item,),
        (reason,),
        (),
        policy.version,
        None,
        now,
        now,
        persisted=False,
    )


def refusal_decision(assessment_id: str, policy: Policy, reason: str, now: int) -> DecisionView:
    """What `decide` answers when it cannot run: REFUSE with a reason code, never stored."""
    return DecisionView(
        new_id("dec"),
        assessment_id,
        "",
        "",
        "REFUSE",
        0.0,
        0.0,
        (Item(reason, 0.0, {}),),
        (reason,),
        (),
        policy.version,
        None,
        now,
        persisted=False,
    )
