"""Candidate guarantors (Flow A steps 4-5): who may be offered, in what order, and how the kiosk
shows them.

The graph layer finds the applicant's related customers and hands their facts here; the rules
that decide who is offered live in the policy (`[eligibility]`). Nothing here reads personal
data except `mask_name`, which exists so a name never reaches a kiosk screen unmasked.

No self-vouching: a request is never sent on a channel the applicant also uses (the
candidate's phone or devices in the applicant's hands would let them confirm their own
guarantee), and a candidate in the applicant's household device cluster or in a short transfer
ring with them is ineligible where the policy says so.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from graph.vocab import DAY_MS, AccountStatus, RelationKind, RelationType
from risk.policy import CHANNELS, CREDIT_GRADES, Policy
from risk.scorecard import IN, OUT, InvalidEvidence, RelationshipPath, VouchRecord

# How close a tie is, for ordering only (lower is closer). Unlisted kinds fall back on their
# relationship type, so kin always come before social ties.
_CLOSENESS: dict[str, int] = {
    RelationKind.SPOUSE: 0,
    RelationKind.PARENT: 0,
    RelationKind.CHILD: 0,
    RelationKind.SIBLING: 1,
    RelationKind.GRANDPARENT: 1,
    RelationKind.GRANDCHILD: 1,
    RelationKind.OTHER_KIN: 2,
    RelationKind.EMERGENCY_CONTACT: 3,
    RelationKind.SHARED_ADDRESS: 3,
    RelationKind.COLLEAGUE: 4,
    RelationKind.FRIEND: 4,
    RelationKind.CLASSMATE: 4,
    RelationKind.NEIGHBOUR: 4,
}
_CLOSENESS_BY_TYPE: dict[str, int] = {RelationType.KIN: 2, RelationType.SOCIAL: 4}
_NO_TIE = 5

# Kiosk words for "the candidate is the applicant's ...". Kinds that read differently from the
# other end carry an (OUT, IN) pair; the rest read the same both ways.
_WORDS: dict[str, str | tuple[str, str]] = {
    RelationKind.SPOUSE: "spouse",
    RelationKind.PARENT: ("parent", "child"),
    RelationKind.CHILD: ("child", "parent"),
    RelationKind.GRANDPARENT: ("grandparent", "grandchild"),
    RelationKind.GRANDCHILD: ("grandchild", "grandparent"),
    RelationKind.SIBLING: "sibling",
    RelationKind.OTHER_KIN: "relative",
    RelationKind.COLLEAGUE: "colleague",
    RelationKind.FRIEND: "friend",
    RelationKind.CLASSMATE: "classmate",
    RelationKind.NEIGHBOUR: "neighbour",
    RelationKind.EMERGENCY_CONTACT: ("emergency contact", "listed you as emergency contact"),
    RelationKind.SHARED_ADDRESS: "lives at your address",
}


@dataclass(frozen=True, kw_only=True)
class CandidateFacts:
    """What the graph says about one related customer who might vouch for the applicant."""

    customer_id: str
    paths: tuple[RelationshipPath, ...]
    status: str  # active / dormant / closed
    blacklisted: bool
    is_self: bool
    channels: frozenset[str]  # reachable at all: SMS (has a phone) / MOBILE_BANKING (has used it)
    account_opened_at: int | None  # epoch ms
    credit_grade: str | None
    graph_risk: float | None  # the graph model's risk for the pair; None: not scored
    vouches_given: tuple[VouchRecord, ...] = ()  # the candidate vouched for others
    vouches_received: tuple[VouchRecord, ...] = ()  # others vouched for the candidate
    # Channels whose phone (SMS) or devices (MOBILE_BANKING) the applicant also uses.
    shared_channels: frozenset[str] = frozenset()
    # The candidate uses a device that a third customer also uses who shares a device or phone
    # with the applicant: a household device cluster.
    device_cluster: bool = False
    transfer_ring: bool = False  # applicant and candidate sit in a transfer cycle of length <= 3

    def __post_init__(self) -> None:
        object.__setattr__(self, "paths", tuple(self.paths))
        object.__setattr__(self, "channels", frozenset(self.channels))
        object.__setattr__(self, "shared_channels", frozenset(self.shared_channels))
        object.__setattr__(self, "vouches_given", tuple(self.vouches_given))
        object.__setattr__(self, "vouches_received", tuple(self.vouches_received))
        for name in ("channels", "shared_channels"):
            if not getattr(self, name) <= set(CHANNELS):
                raise InvalidEvidence(f"{name}: only {', '.join(CHANNELS)}")
        if self.credit_grade is not None and self.credit_grade not in CREDIT_GRADES:
            raise InvalidEvidence(f"credit_grade: {self.credit_grade!r} is not a known grade")
        if self.graph_risk is not None and not (
            math.isfinite(self.graph_risk) and 0 <= self.graph_risk <= 1
        ):
            raise InvalidEvidence("graph_risk: must be a probability in [0, 1]")


@dataclass(frozen=True)
class Eligibility:
    """Whether a candidate may be offered; `reasons` names every rule they fail."""

    eligible: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class RankedCandidate:
    """A candidate with their eligibility and what ordered them, ready for the kiosk."""

    facts: CandidateFacts
    eligibility: Eligibility
    relationship: str  # kiosk words for the closest allowed tie, e.g. "spouse"
    closeness: int  # 0 spouse/parent/child ... 4 social
    evidence_count: int  # distinct (kind, source) ties: independent evidence of the relation
    bad_outcomes: int  # vouches given or received that ended badly, at any time
    # The channels a request may go to, in the policy's order: reachable, allowed, not shared.
    channels: tuple[str, ...] = ()


def usable_channels(facts: CandidateFacts, business: str, policy: Policy) -> tuple[str, ...]:
    """The channels a request to this candidate may use, in the policy's order of preference.

    Those the candidate is reachable on and the business allows, less every channel the
    applicant also uses: a request on a shared phone or device could be confirmed by the
    applicant themselves.
    """
    rules = policy.business(business).eligibility
    return tuple(
        c for c in rules.channel_order if c in facts.channels and c not in facts.shared_channels
    )


def assess_candidate(facts: CandidateFacts, business: str, policy: Policy, now: int) -> Eligibility:
    """Check one candidate against the business's guarantor rules, naming every failure."""
    rules = policy.business(business).eligibility
    reasons = []
    if facts.is_self:
        reasons.append("CANDIDATE_IS_SELF")
    if facts.status != AccountStatus.ACTIVE:
        reasons.append("CANDIDATE_NOT_ACTIVE")
    if facts.blacklisted:
        reasons.append("CANDIDATE_BLACKLISTED")
    if not _allowed_paths(facts, business, policy):
        reasons.append("CANDIDATE_RELATIONSHIP_NOT_ALLOWED")
    if not usable_channels(facts, business, policy):
        only_shared = facts.channels & rules.channels & facts.shared_channels
        reasons.append("CANDIDATE_ONLY_SHARED_CHANNEL" if only_shared else "CANDIDATE_UNREACHABLE")
    if facts.device_cluster and rules.device_cluster == "ineligible":
        reasons.append("CANDIDATE_DEVICE_CLUSTER")
    if facts.transfer_ring and rules.transfer_ring == "ineligible":
        reasons.append("CANDIDATE_TRANSFER_RING")
    # An unknown opening date cannot prove the account is old enough: fail closed.
    if (
        facts.account_opened_at is None
        or now - facts.account_opened_at < rules.min_account_age_days * DAY_MS
    ):
        reasons.append("CANDIDATE_ACCOUNT_TOO_NEW")
    recent = [v for v in facts.vouches_given if now - v.ts <= rules.vouch_window_days * DAY_MS]
    if len(recent) > rules.max_vouches_in_window:
        reasons.append("CANDIDATE_TOO_MANY_VOUCHES")
    bad_window = rules.bad_outcome_window_days * DAY_MS
    if any(
        v.outcome in rules.bad_outcomes
        and now - (v.ts if v.outcome_ts is None else v.outcome_ts) <= bad_window
        for v in (*facts.vouches_given, *facts.vouches_received)
    ):
        reasons.append("CANDIDATE_RECENT_BAD_VOUCH")
    if facts.graph_risk is not None and facts.graph_risk > rules.max_graph_risk:
        reasons.append("CANDIDATE_HIGH_GRAPH_RISK")
    return Eligibility(not reasons, tuple(reasons))


def rank_candidates(
    candidates: Iterable[CandidateFacts], business: str, policy: Policy, now: int
) -> list[RankedCandidate]:
    """Order candidates for the kiosk: eligible first, then the likeliest to help.

    Within each group: closer kin before social ties, more independent evidence of the tie,
    better credit, lower graph risk, fewer bad vouch outcomes ever; ties broken by customer id so
    the same facts always give the same order.
    """
    bad_outcomes = policy.business(business).eligibility.bad_outcomes
    ranked = []
    for facts in candidates:
        paths = _allowed_paths(facts, business, policy) or facts.paths
        closest = min(paths, key=_path_order) if paths else None
        ranked.append(
            RankedCandidate(
                facts=facts,
                eligibility=assess_candidate(facts, business, policy, now),
                relationship=relationship_words(closest.kind, closest.direction)
                if closest
                else "related customer",
                closeness=_path_order(closest)[0] if closest else _NO_TIE,
                evidence_count=len({(p.kind, p.source) for p in facts.paths}),
                bad_outcomes=sum(
                    v.outcome in bad_outcomes
                    for v in (*facts.vouches_given, *facts.vouches_received)
                ),
                channels=usable_channels(facts, business, policy),
            )
        )
    return sorted(ranked, key=_rank_key)


def candidates_to_show(
    ranked: Sequence[RankedCandidate], business: str, policy: Policy
) -> list[RankedCandidate]:
    """The eligible candidates the kiosk shows: at most max_candidates, none below min."""
    rules = policy.business(business).eligibility
    eligible = [c for c in ranked if c.eligibility.eligible]
    if len(eligible) < rules.min_candidates:
        return []
    return eligible[: rules.max_candidates]


def _allowed_paths(
    facts: CandidateFacts, business: str, policy: Policy
) -> tuple[RelationshipPath, ...]:
    allowed = policy.business(business).eligibility.relationship_kinds
    return tuple(p for p in facts.paths if p.kind in allowed.get(p.rel_type, ()))


def _path_order(path: RelationshipPath) -> tuple[int, str, str, str]:
    closeness = _CLOSENESS.get(path.kind, _CLOSENESS_BY_TYPE[path.rel_type])
    return (closeness, path.kind, path.direction, path.source)


def _rank_key(c: RankedCandidate) -> tuple[bool, int, int, int, float, int, str]:
    f = c.facts
    credit = CREDIT_GRADES.index(f.credit_grade) if f.credit_grade else len(CREDIT_GRADES)
    return (
        not c.eligibility.eligible,
        c.closeness,
        -c.evidence_count,
        credit,
        f.graph_risk if f.graph_risk is not None else 2.0,  # unscored after every scored one
        c.bad_outcomes,
        f.customer_id,
    )


def relationship_words(kind: str, direction: str) -> str:
    """Words for the kiosk: what the candidate is to the applicant, e.g. "parent".

    `kind` says what the edge's source is to its target; with `direction` OUT the candidate is
    the source and reads as the kind itself, with IN the applicant is, so parent and child (and
    grandparent and grandchild) swap.
    """
    if direction not in (OUT, IN):
        raise ValueError(f"direction must be {OUT!r} or {IN!r}, not {direction!r}")
    words = _WORDS.get(kind)
    if words is None:
        return kind.replace("_", " ") if re.fullmatch(r"[a-z_]+", kind) else "related customer"
    if isinstance(words, tuple):
        return words[0] if direction == OUT else words[1]
    return words


_SEPARATORS = re.compile(r"(\s+|[·・.\-])")


def mask_name(name: str) -> str:
    """A display name safe for a kiosk screen: each part keeps its first character only.

    "Zhang Wei" -> "Z**** W**", "张伟" -> "张*", "欧阳娜娜" -> "欧***"; a one-character name is
    all asterisks, since its first character would be all of it.
    """
    name = name.strip()
    if len(_SEPARATORS.sub("", name)) <= 1:
        return "*" * len(name)
    parts = _SEPARATORS.split(name)
    return "".join(
        part if _SEPARATORS.fullmatch(part) or not part else part[0] + "*" * (len(part) - 1)
        for part in parts
    )
