"""Scorecards for Flow A: hard rules, customer and guarantor scores, the combined score, and the
two threshold decisions.

Values in, values out: the evidence records below are gathered (under consent) by the caller,
and every function here is pure. A score is a sum of items; each item has an UPPER_SNAKE reason
code, its points and evidence that is not personal data (bands, counts, codes, record ids —
never a name, ID number, phone number or address), so a decision explains itself.

An evidence field left as None means the category was not read (no consent, source down) and
scores the policy's `missing_points`, at least the item's worst known value (the policy loader
checks it): missing information never lowers a score. Where the policy says "refer" instead, the
item scores its worst known value and refers (`Item.refer`): the decision refuses with
REFER_TO_COUNTER and the item's code, so the customer goes to the counter.

Item codes: FACE_SIMILARITY, ID_CHECK_<RESULT>, HOUSEHOLD_CHECK_<RESULT>, AGE, AGE_MISSING,
HOUSEHOLD_CHECK_MISSING, ACCOUNT_AGE, ACCOUNT_AGE_MISSING, ACCOUNT_STATUS_<STATUS>,
ACCOUNT_STATUS_MISSING, ADDRESS_PRESENT, ADDRESS_MISSING,
REJECTION_<REASON>, REJECTION_OTHER, REJECTIONS_NONE, REJECTIONS_MISSING, MOVEMENT_OUT_TOTAL,
MOVEMENT_COUNTERPARTIES, MOVEMENT_MAX_SINGLE_OUT, MOVEMENT_ACCOUNTS_OPENED,
MOVEMENT_ACCOUNTS_CLOSED, MOVEMENT_DORMANT_THEN_ACTIVE, MOVEMENT_MISSING, CREDIT_GRADE_<GRADE>,
CREDIT_GRADE_MISSING, GRAPH_RISK, GRAPH_RISK_NO_MODEL; for a guarantor also ID_PHOTO_CAPTURED,
ID_PHOTO_MISSING, VOUCH_TIMES, VOUCH_OUTCOME_<OUTCOME>, VOUCH_HISTORY_MISSING,
RELATIONSHIP_<KIND>, RELATIONSHIP_NONE; combined: COMBINED_CUSTOMER, COMBINED_GUARANTORS.
Hard refusals: HARD_FACE_MISMATCH, HARD_ID_UNKNOWN, HARD_ID_CHIP_MISMATCH, HARD_BLACKLISTED,
HARD_ACCOUNT_<STATUS>, HARD_NO_MODEL, and HARD_GUARANTOR_* for the same rules applied to a
guarantor; REFER_TO_COUNTER, followed in the reasons by the referring items' codes (a
guarantor's prefixed GUARANTOR_).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graph.vocab import DAY_MS, Direction, FinalOutcome, FirstOutcome, IdCheck
from risk.policy import (
    ACCOUNT_STATUSES,
    CREDIT_GRADES,
    HOUSEHOLD_CHECKS,
    ID_CHECKS,
    RELATION_TYPES,
    UPPER_SNAKE,
    VOUCH_OUTCOMES,
    Bands,
    ChoicePoints,
    GraphRiskPoints,
    HardRules,
    MovementPoints,
    Policy,
)

REFER_TO_COUNTER = "REFER_TO_COUNTER"  # missing data the policy sends to the counter

# Relationship directions, seen from the candidate guarantor (graph/vocab.py's Direction), as
# plain strings: they appear in messages and evidence.
OUT = Direction.OUT.value
IN = Direction.IN.value

# Rounding keeps weighted sums like 0.7 * 45 from landing a hair off a threshold.
_DIGITS = 6


class InvalidEvidence(ValueError):
    """Evidence that breaks its own rules (a similarity above 1, an unknown check result)."""


# --- scores -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One scored piece of information: a reason code, its points, and non-personal evidence."""

    code: str
    points: float
    evidence: dict[str, Any] = field(default_factory=dict)
    refer: bool = False  # missing data the policy sends to the counter (REFER_TO_COUNTER)

    def __post_init__(self) -> None:
        if not UPPER_SNAKE.match(self.code):
            raise ValueError(f"item code {self.code!r} is not UPPER_SNAKE_CASE")
        if not math.isfinite(self.points):
            raise ValueError(f"item {self.code}: points must be finite")


@dataclass(frozen=True)
class Score:
    """A risk score: the sum of its items."""

    items: tuple[Item, ...]

    @property
    def total(self) -> float:
        """The sum of the items' points."""
        return round(math.fsum(item.points for item in self.items), _DIGITS)

    def contributors(self) -> tuple[str, ...]:
        """Codes of the items that add points, largest first, each code once."""
        ranked = sorted((i for i in self.items if i.points > 0), key=lambda i: -i.points)
        return tuple(dict.fromkeys(item.code for item in ranked))


# --- evidence ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rejection:
    """An earlier rejected business of the customer."""

    business: str
    reason_code: str
    ts: int  # epoch ms
    id: str | None = None

    def __post_init__(self) -> None:
        if not (isinstance(self.business, str) and isinstance(self.reason_code, str)):
            raise InvalidEvidence("rejection: business and reason_code must be strings")
        if isinstance(self.ts, bool) or not isinstance(self.ts, int):
            raise InvalidEvidence("rejection: ts must be epoch milliseconds")


@dataclass(frozen=True)
class VouchRecord:
    """One vouch (a VOUCHED_FOR relationship): for which business, when, and how it ended."""

    business: str
    ts: int  # epoch ms
    outcome: str  # VOUCH_OUTCOMES
    outcome_ts: int | None = None

    def __post_init__(self) -> None:
        _check_choice("outcome", self.outcome, VOUCH_OUTCOMES)


@dataclass(frozen=True)
class RelationshipPath:
    """One KIN or SOCIAL tie between a guarantor (candidate) and the applicant.

    `kind` says what the edge's source is to its target; `direction` is OUT when the candidate
    is the source, IN when the applicant is. The same tie from two sources is two paths.
    """

    rel_type: str  # KIN / SOCIAL
    kind: str
    source: str  # bank / household_registry / customer_declared
    direction: str  # OUT / IN

    def __post_init__(self) -> None:
        _check_choice("rel_type", self.rel_type, RELATION_TYPES)
        _check_choice("direction", self.direction, (OUT, IN))


@dataclass(frozen=True, kw_only=True)
class Movement:
    """Account movement of the last 180 days (amounts in yuan)."""

    out_total: float
    out_count: int
    counterparties: int
    max_single_out: float
    accounts_opened: int = 0
    accounts_closed: int = 0
    dormant_then_active: bool = False  # dormant for long, then suddenly moving money

    def __post_init__(self) -> None:
        for name in (
            "out_total",
            "out_count",
            "counterparties",
            "max_single_out",
            "accounts_opened",
            "accounts_closed",
        ):
            _check_non_negative(name, getattr(self, name))


@dataclass(frozen=True, kw_only=True)
class CustomerEvidence:
    """What Flow A step 1 collects about the first customer, each category under consent.

    Gender is deliberately absent: it is not a lawful basis for a risk difference.
    """

    now: int  # epoch ms of the assessment
    face_similarity: float  # kiosk camera vs ID photo, in [0, 1]
    id_check: str  # ID_CHECKS
    blacklisted: bool
    household_check: str | None = None  # HOUSEHOLD_CHECKS; None: not checked (not scored)
    age: int | None = None
    account_opened_at: int | None = None  # epoch ms
    account_status: str | None = None  # ACCOUNT_STATUSES
    address_present: bool | None = None
    rejections: tuple[Rejection, ...] | None = None
    movement: Movement | None = None
    credit_grade: str | None = None  # CREDIT_GRADES
    graph_risk: float | None = None  # calibrated fraud probability; None: no model
    model_version: str | None = None
    # What drove the graph risk (relations, neighbours), or why there is none (reason).
    graph_evidence: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        _check_similarity(self.face_similarity)
        _check_choice("id_check", self.id_check, ID_CHECKS)
        if self.household_check is not None:
            _check_choice("household_check", self.household_check, HOUSEHOLD_CHECKS)
        if self.age is not None and not 0 <= self.age <= 150:
            raise InvalidEvidence("age: must be in [0, 150]")
        if self.account_status is not None:
            _check_choice("account_status", self.account_status, ACCOUNT_STATUSES)
        if self.credit_grade is not None:
            _check_choice("credit_grade", self.credit_grade, CREDIT_GRADES)
        if self.rejections is not None:
            object.__setattr__(self, "rejections", tuple(self.rejections))
        _check_graph_risk(self.graph_risk, self.model_version)


@dataclass(frozen=True, kw_only=True)
class GuarantorEvidence:
    """What Flow A step 6 reads about a guarantor once they have confirmed the request."""

    now: int
    face_similarity: float  # phone camera vs ID photo
    id_check: str
    blacklisted: bool  # read again at decision time: the list may have changed since listing
    id_photo_captured: bool
    account_status: str | None = None  # ACCOUNT_STATUSES, read at decision time
    relationship: tuple[RelationshipPath, ...] = ()
    movement: Movement | None = None
    # Times others vouched for this guarantor, and how that business ended (seed 000 §91).
    vouch_history: tuple[VouchRecord, ...] | None = None
    credit_grade: str | None = None
    graph_risk: float | None = None  # the graph model's risk for the customer-guarantor pair
    model_version: str | None = None
    graph_evidence: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        _check_similarity(self.face_similarity)
        _check_choice("id_check", self.id_check, ID_CHECKS)
        if self.account_status is not None:
            _check_choice("account_status", self.account_status, ACCOUNT_STATUSES)
        if self.credit_grade is not None:
            _check_choice("credit_grade", self.credit_grade, CREDIT_GRADES)
        object.__setattr__(self, "relationship", tuple(self.relationship))
        if self.vouch_history is not None:
            object.__setattr__(self, "vouch_history", tuple(self.vouch_history))
        _check_graph_risk(self.graph_risk, self.model_version)


def _check_choice(name: str, value: object, choices: Sequence[str]) -> None:
    if value not in choices:
        raise InvalidEvidence(f"{name}: {value!r} is not one of {', '.join(choices)}")


def _check_similarity(value: float) -> None:
    # NaN compares false with everything, so it would slip past the hard rule: reject it here.
    if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 1):
        raise InvalidEvidence("face_similarity: must be a number in [0, 1]")


def _check_graph_risk(value: float | None, model_version: str | None) -> None:
    if value is None:
        return
    if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 1):
        raise InvalidEvidence("graph_risk: must be a probability in [0, 1]")
    if not model_version:
        raise InvalidEvidence("graph_risk: needs the model_version that produced it")


def _check_non_negative(name: str, value: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
        raise InvalidEvidence(f"{name}: must be a number >= 0")


# --- hard rules -------------------------------------------------------------------------------


def hard_refusals(
    evidence: CustomerEvidence | GuarantorEvidence, business: str, policy: Policy
) -> list[Item]:
    """The hard rules this person breaks for the business; any item means refuse at once."""
    b = policy.business(business)
    is_guarantor = isinstance(evidence, GuarantorEvidence)
    prefix = "HARD_GUARANTOR_" if is_guarantor else "HARD_"
    card = b.guarantor if is_guarantor else b.customer
    rules: HardRules = b.hard_rules
    items = []
    if evidence.face_similarity < rules.face_similarity_below:
        items.append(
            Item(
                prefix + "FACE_MISMATCH",
                0.0,
                {
                    "band": card.face_similarity.label(
                        card.face_similarity.find(evidence.face_similarity)
                    ),
                    "below": rules.face_similarity_below,
                },
            )
        )
    if evidence.id_check == IdCheck.NOT_FOUND and rules.refuse_id_not_found:
        items.append(Item(prefix + "ID_UNKNOWN", 0.0, {"id_check": "NOT_FOUND"}))
    if evidence.id_check == IdCheck.CHIP_MISMATCH and rules.refuse_chip_mismatch:
        items.append(Item(prefix + "ID_CHIP_MISMATCH", 0.0, {"id_check": "CHIP_MISMATCH"}))
    if evidence.blacklisted and rules.refuse_blacklisted:
        items.append(Item(prefix + "BLACKLISTED", 0.0, {"blacklisted": True}))
    status = evidence.account_status
    if status is not None and status in rules.refuse_account_statuses:
        items.append(Item(f"{prefix}ACCOUNT_{status.upper()}", 0.0, {"account_status": status}))
    if evidence.graph_risk is None and card.graph_risk.missing_model == "refuse":
        items.append(Item(prefix + "NO_MODEL", 0.0, {"missing_model": "refuse", **_why(evidence)}))
    return items


# --- the two scorecards -----------------------------------------------------------------------


def customer_score(evidence: CustomerEvidence, business: str, policy: Policy) -> Score:
    """The first customer's risk score for the business: the sum of its items (step 2)."""
    card = policy.business(business).customer
    e = evidence
    items = [
        _banded("FACE_SIMILARITY", card.face_similarity, e.face_similarity),
        Item(f"ID_CHECK_{e.id_check}", card.id_check[e.id_check], {"id_check": e.id_check}),
    ]
    household = card.household_check
    if e.household_check is not None:
        items.append(_choice_item("HOUSEHOLD_CHECK", household, e.household_check))
    elif household.missing_points or household.refer_missing:
        # A check the policy does not score (all 0) is not listed when it was not done.
        items.append(
            _missing("HOUSEHOLD_CHECK_MISSING", household.missing_points, household.refer_missing)
        )
    if e.age is None:
        items.append(_missing("AGE_MISSING", card.age.missing_points, card.age.refer_missing))
    else:
        items.append(_banded("AGE", card.age.bands, e.age))
    if e.account_opened_at is None:
        age = card.account_age_days
        items.append(_missing("ACCOUNT_AGE_MISSING", age.missing_points, age.refer_missing))
    else:
        days = max(0, e.now - e.account_opened_at) // DAY_MS
        items.append(_banded("ACCOUNT_AGE", card.account_age_days.bands, days, unit="days"))
    items.append(_status_item(card.account_status, e.account_status))
    if e.address_present:
        items.append(Item("ADDRESS_PRESENT", 0.0))
    else:
        known = e.address_present is not None
        items.append(Item("ADDRESS_MISSING", card.address_missing_points, {"known": known}))
    items.extend(_rejection_items(e, business, policy))
    items.extend(_movement_items(card.movement, e.movement))
    items.append(_credit_item(card.credit_grade, e.credit_grade))
    items.append(_graph_risk_item(card.graph_risk, e))
    return Score(tuple(items))


def guarantor_score(evidence: GuarantorEvidence, business: str, policy: Policy) -> Score:
    """A confirmed guarantor's risk score for the business: the sum of its items (step 7)."""
    card = policy.business(business).guarantor
    e = evidence
    items = [
        _banded("FACE_SIMILARITY", card.face_similarity, e.face_similarity),
        Item(f"ID_CHECK_{e.id_check}", card.id_check[e.id_check], {"id_check": e.id_check}),
        Item("ID_PHOTO_CAPTURED", 0.0)
        if e.id_photo_captured
        else Item("ID_PHOTO_MISSING", card.id_photo_missing_points),
        _status_item(card.account_status, e.account_status),
    ]
    items.extend(_movement_items(card.movement, e.movement))
    items.extend(_vouch_items(e, business, policy))
    items.append(_credit_item(card.credit_grade, e.credit_grade))
    items.append(_graph_risk_item(card.graph_risk, e))
    items.append(_relationship_item(e.relationship, business, policy))
    return Score(tuple(items))


def _banded(code: str, bands: Bands, value: float, **evidence: Any) -> Item:
    band = bands.find(value)
    return Item(code, band.points, {"band": bands.label(band), **evidence})


def _missing(code: str, points: float, refer: bool, **evidence: Any) -> Item:
    """The item for information not read; a referring one says so in its evidence too."""
    if refer:
        return Item(code, points, {**evidence, "missing": "refer"}, refer=True)
    return Item(code, points, evidence)


def _choice_item(code: str, rules: ChoicePoints, value: str) -> Item:
    return Item(f"{code}_{value}", rules.points[value], {code.lower(): value})


def _status_item(rules: ChoicePoints, status: str | None) -> Item:
    if status is None:
        return _missing(
            "ACCOUNT_STATUS_MISSING", rules.missing_points, rules.refer_missing, status="missing"
        )
    return Item(f"ACCOUNT_STATUS_{status.upper()}", rules.points[status], {"status": status})


def _capped(items: list[Item], max_points: float | None) -> list[Item]:
    """Items trimmed in order so their total never exceeds `max_points`; trimmed ones say so."""
    if max_points is None:
        return items
    out, room = [], max_points
    for item in items:
        if item.points <= room:
            out.append(item)
        else:
            out.append(
                Item(
                    item.code,
                    room,
                    {**item.evidence, "points": item.points, "max_points": max_points},
                )
            )
        room = max(0.0, room - item.points)
    return out


def _rejection_items(e: CustomerEvidence, business: str, policy: Policy) -> list[Item]:
    rules = policy.business(business).customer.rejections
    if e.rejections is None:
        return [_missing("REJECTIONS_MISSING", rules.missing_points, rules.refer_missing)]
    window_ms = rules.window_days * DAY_MS
    # A rejection dated after `now` is clock skew, not an old rejection: it counts.
    counted = [r for r in e.rejections if e.now - r.ts <= window_ms]
    expired = len(e.rejections) - len(counted)
    items = []
    for rejection in sorted(counted, key=lambda r: (r.ts, r.id or "")):
        known = rejection.reason_code in rules.points
        # Only well-formed codes go into evidence: a free-text reason could hold personal data.
        code = rejection.reason_code if UPPER_SNAKE.match(rejection.reason_code) else "UNREADABLE"
        items.append(
            Item(
                f"REJECTION_{code}" if known else "REJECTION_OTHER",
                rules.points[code] if known else rules.default_points,
                {
                    "rejection_id": rejection.id,
                    "business": rejection.business,
                    "reason_code": code,
                    "days_ago": max(0, e.now - rejection.ts) // DAY_MS,
                },
            )
        )
    items = _capped(items, rules.max_points)
    if not items:
        items.append(Item("REJECTIONS_NONE", 0.0, {"window_days": rules.window_days}))
    if expired:
        # Said out loud so an analyst sees why an old rejection did not weigh.
        items.append(
            Item("REJECTIONS_EXPIRED", 0.0, {"count": expired, "window_days": rules.window_days})
        )
    return items


def _movement_items(rules: MovementPoints, movement: Movement | None) -> list[Item]:
    if movement is None:
        return [_missing("MOVEMENT_MISSING", rules.missing_points, rules.refer_missing)]
    items = [
        _banded("MOVEMENT_OUT_TOTAL", rules.out_total, movement.out_total, unit="yuan"),
        _banded("MOVEMENT_COUNTERPARTIES", rules.counterparties, movement.counterparties),
        _banded("MOVEMENT_MAX_SINGLE_OUT", rules.max_single_out, movement.max_single_out),
        _banded("MOVEMENT_ACCOUNTS_OPENED", rules.accounts_opened, movement.accounts_opened),
        _banded("MOVEMENT_ACCOUNTS_CLOSED", rules.accounts_closed, movement.accounts_closed),
    ]
    if movement.dormant_then_active:
        items.append(Item("MOVEMENT_DORMANT_THEN_ACTIVE", rules.dormant_then_active_points))
    return items


def _vouch_items(e: GuarantorEvidence, business: str, policy: Policy) -> list[Item]:
    rules = policy.business(business).guarantor.vouch_history
    if e.vouch_history is None:
        return [_missing("VOUCH_HISTORY_MISSING", rules.missing_points, rules.refer_missing)]
    window_ms = rules.window_days * DAY_MS
    recent = sorted((v for v in e.vouch_history if e.now - v.ts <= window_ms), key=lambda v: v.ts)
    items = [
        _banded(
            "VOUCH_TIMES",
            rules.times,
            len(recent),
            count=len(recent),
            window_days=rules.window_days,
        )
    ]
    for vouch in recent:
        items.append(
            Item(
                f"VOUCH_OUTCOME_{vouch.outcome}",
                rules.outcomes[vouch.outcome],
                {"business": vouch.business, "days_ago": max(0, e.now - vouch.ts) // DAY_MS},
            )
        )
    return _capped(items, rules.max_points)


def _credit_item(rules: ChoicePoints, grade: str | None) -> Item:
    if grade is None:
        return _missing("CREDIT_GRADE_MISSING", rules.missing_points, rules.refer_missing)
    return Item(f"CREDIT_GRADE_{grade}", rules.points[grade], {"grade": grade})


def _why(e: CustomerEvidence | GuarantorEvidence) -> dict[str, Any]:
    reason = (e.graph_evidence or {}).get("reason")
    return {"reason": reason} if reason else {}


def _graph_risk_item(rules: GraphRiskPoints, e: CustomerEvidence | GuarantorEvidence) -> Item:
    if e.graph_risk is None:
        return Item(
            "GRAPH_RISK_NO_MODEL",
            rules.missing_points,
            {"missing_model": rules.missing_model, **_why(e)},
        )
    if rules.missing_model == "unscored":
        # The policy does not use the model: the probability is evidence, the points a constant.
        return Item(
            "GRAPH_RISK",
            rules.missing_points,
            {
                "missing_model": "unscored",
                "probability": round(e.graph_risk, 4),
                "model_version": e.model_version,
                **dict(e.graph_evidence or {}),
            },
        )
    return _banded(
        "GRAPH_RISK",
        rules.bands,
        e.graph_risk,
        probability=round(e.graph_risk, 4),
        model_version=e.model_version,
        **dict(e.graph_evidence or {}),
    )


def _relationship_item(paths: Sequence[RelationshipPath], business: str, policy: Policy) -> Item:
    rules = policy.business(business).guarantor.relationship
    if not paths:
        return Item("RELATIONSHIP_NONE", rules.no_path_points)

    def points(path: RelationshipPath) -> float:
        return rules.points.get(path.kind, rules.default_points)

    closest = min(paths, key=lambda p: (points(p), p.kind, p.source))
    code = closest.kind.upper() if UPPER_SNAKE.match(closest.kind.upper()) else "OTHER"
    evidence = {
        "closest": closest.kind,
        "paths": [
            {"rel_type": p.rel_type, "kind": p.kind, "source": p.source, "direction": p.direction}
            for p in paths
        ],
    }
    return Item(f"RELATIONSHIP_{code}", points(closest), evidence)


# --- combination and decisions ----------------------------------------------------------------


def combined_score(
    customer: Score, guarantors: Sequence[Score], business: str, policy: Policy
) -> Score:
    """The combined score of step 8; its two items say how the parts were weighed."""
    b = policy.business(business)
    if not guarantors:
        raise InvalidEvidence("combined_score: needs at least one guarantor score")
    if len(guarantors) > b.assist.max_guarantors:
        raise InvalidEvidence(f"combined_score: at most {b.assist.max_guarantors} guarantors")
    c = b.combination
    totals = [g.total for g in guarantors]
    if c.guarantors == "max":
        aggregate = max(totals)
    elif c.guarantors == "min":
        aggregate = min(totals)
    else:
        aggregate = math.fsum(totals) / len(totals)
    return Score(
        (
            Item(
                "COMBINED_CUSTOMER",
                round(c.customer_weight * customer.total, _DIGITS),
                {"method": c.method, "weight": c.customer_weight, "score": customer.total},
            ),
            Item(
                "COMBINED_GUARANTORS",
                round(c.guarantor_weight * aggregate, _DIGITS),
                {
                    "method": c.method,
                    "weight": c.guarantor_weight,
                    "aggregate": c.guarantors,
                    "score": round(aggregate, _DIGITS),
                    "scores": totals,
                },
            ),
        )
    )


@dataclass(frozen=True)
class Decision:
    """An explained decision: outcome, reason codes, the threshold and the scores behind it."""

    business: str
    outcome: FirstOutcome | FinalOutcome
    reasons: tuple[str, ...]
    threshold: float
    score: Score  # the score compared with the threshold
    customer: Score
    guarantors: tuple[Score, ...]
    hard: tuple[Item, ...]  # hard refusals; non-empty only when they decided
    policy_version: str
    model_versions: tuple[str, ...]


def first_decision(evidence: CustomerEvidence, business: str, policy: Policy) -> Decision:
    """Step 3: proceed below t1, seek guarantors at or above it, refuse on a hard rule."""
    b = policy.business(business)
    score = customer_score(evidence, business, policy)
    hard = (*hard_refusals(evidence, business, policy), *_referral(score.items))
    if hard:
        outcome, reasons = FirstOutcome.REFUSED, _hard_reasons(hard)
    elif score.total < b.t1:
        outcome, reasons = FirstOutcome.PROCEED, ("SCORE_BELOW_T1",)
    else:
        outcome = FirstOutcome.NEEDS_GUARANTOR
        reasons = ("SCORE_AT_OR_ABOVE_T1", *score.contributors())
    return Decision(
        business=business,
        outcome=outcome,
        reasons=reasons,
        threshold=b.t1,
        score=score,
        customer=score,
        guarantors=(),
        hard=hard,
        policy_version=policy.version,
        model_versions=_models(evidence),
    )


def final_decision(
    customer: CustomerEvidence,
    guarantors: Sequence[GuarantorEvidence],
    business: str,
    policy: Policy,
) -> Decision:
    """Step 9: allow when the combined score is below t2; any hard rule or gap refuses."""
    b = policy.business(business)
    own = customer_score(customer, business, policy)
    theirs = tuple(guarantor_score(g, business, policy) for g in guarantors)
    hard = hard_refusals(customer, business, policy)
    for index, g in enumerate(guarantors):
        hard.extend(
            Item(item.code, item.points, {**item.evidence, "guarantor": index})
            for item in hard_refusals(g, business, policy)
        )
    referring = [i for i in own.items if i.refer] + [
        Item("GUARANTOR_" + i.code, i.points, {**i.evidence, "guarantor": index}, refer=True)
        for index, g in enumerate(theirs)
        for i in g.items
        if i.refer
    ]
    hard.extend(_referral(referring))
    score, allowed = own, False
    if hard:
        reasons = _hard_reasons(hard)
    elif not guarantors:
        reasons = ("NO_GUARANTOR",)
    elif len(guarantors) > b.assist.max_guarantors:
        reasons = ("TOO_MANY_GUARANTORS",)
    else:
        score = combined_score(own, theirs, business, policy)
        allowed = score.total < b.t2
        if allowed:
            reasons = ("COMBINED_BELOW_T2",)
        else:
            # Guarantor codes are prefixed so a reason says whose information weighed.
            parts = own.items + tuple(
                Item("GUARANTOR_" + i.code, i.points, i.evidence) for g in theirs for i in g.items
            )
            reasons = ("COMBINED_AT_OR_ABOVE_T2", *Score(parts).contributors())
    return Decision(
        business=business,
        outcome=FinalOutcome.ALLOW if allowed else FinalOutcome.REFUSE,
        reasons=reasons,
        threshold=b.t2,
        score=score,
        customer=own,
        guarantors=theirs,
        hard=tuple(hard),
        policy_version=policy.version,
        model_versions=_models(customer, *guarantors),
    )


def _referral(items: Sequence[Item]) -> tuple[Item, ...]:
    """REFER_TO_COUNTER for the items the policy refers, naming them; none when none refers."""
    codes = list(dict.fromkeys(i.code for i in items if i.refer))
    return (Item(REFER_TO_COUNTER, 0.0, {"items": codes}),) if codes else ()


def _hard_reasons(hard: Sequence[Item]) -> tuple[str, ...]:
    """The codes of the hard refusals, then the codes of the items a referral names."""
    referred = [code for i in hard if i.code == REFER_TO_COUNTER for code in i.evidence["items"]]
    return tuple(dict.fromkeys([*(i.code for i in hard), *referred]))


def _models(*evidence: CustomerEvidence | GuarantorEvidence) -> tuple[str, ...]:
    return tuple(sorted({e.model_version for e in evidence if e.model_version}))
