"""Missing data never helps: over the shipped policy, for every business, leaving out any one
piece of a customer's or a guarantor's information (or a whole category they did not consent
to) never lowers their score and never turns a decision in their favour."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from risk.policy import (
    ACCOUNT_STATUSES,
    CREDIT_GRADES,
    HOUSEHOLD_CHECKS,
    ID_CHECKS,
    VOUCH_OUTCOMES,
    load_policy,
)
from risk.scorecard import (
    IN,
    OUT,
    CustomerEvidence,
    FinalOutcome,
    FirstOutcome,
    GuarantorEvidence,
    Movement,
    Rejection,
    RelationshipPath,
    VouchRecord,
    customer_score,
    final_decision,
    first_decision,
    guarantor_score,
)

POLICY = load_policy()
BUSINESSES = tuple(POLICY.businesses)
NOW = 1_795_000_000_000
DAY = 86_400_000
MODEL = "gnn-test"

# How bad a first outcome is for the customer: leaving data out may only move it right.
FIRST_RANK = {FirstOutcome.PROCEED: 0, FirstOutcome.NEEDS_GUARANTOR: 1, FirstOutcome.REFUSED: 2}

Blank = Callable[[Any], Any]


def _none(*fields: str) -> Blank:
    def blank(e: Any) -> Any:
        changes: dict[str, Any] = dict.fromkeys(fields)
        if "graph_risk" in fields:
            changes.update(model_version=None, graph_evidence={"reason": "NO_MODEL_PROMOTED"})
        return dataclasses.replace(e, **changes)

    return blank


# One item's data missing, or a whole category not consented to.
CUSTOMER_BLANKS: dict[str, Blank] = {
    "household_check": _none("household_check"),
    "age": _none("age"),
    "account_opened_at": _none("account_opened_at"),
    "account_status": _none("account_status"),
    "address_present": _none("address_present"),
    "rejections": _none("rejections"),
    "movement": _none("movement"),
    "credit_grade": _none("credit_grade"),
    "graph_risk": _none("graph_risk"),
    "basic_info": _none("age", "account_opened_at", "account_status", "address_present"),
    "transactions": _none("movement"),
    "rejection_history": _none("rejections"),
    "credit": _none("credit_grade"),
    "household_registry": _none("household_check"),
}


def _without_registry_ties(g: GuarantorEvidence) -> GuarantorEvidence:
    kept = tuple(p for p in g.relationship if p.source != "household_registry")
    return dataclasses.replace(g, relationship=kept)


GUARANTOR_BLANKS: dict[str, Blank] = {
    "account_status": _none("account_status"),
    "movement": _none("movement"),
    "vouch_history": _none("vouch_history"),
    "credit_grade": _none("credit_grade"),
    "graph_risk": _none("graph_risk"),
    "id_photo": lambda g: dataclasses.replace(g, id_photo_captured=False),
    "relationship": lambda g: dataclasses.replace(g, relationship=()),
    "household_registry": _without_registry_ties,
    "transactions": _none("movement"),
    "vouching_history": _none("vouch_history"),
    "credit": _none("credit_grade"),
}

# --- random valid evidence ---------------------------------------------------------------------

unit = st.floats(0.0, 1.0, allow_nan=False)
days_ago = st.integers(-5, 800).map(lambda d: NOW - d * DAY)
LISTED_CODES = {c for b in POLICY.businesses.values() for c in b.customer.rejections.points}
LISTED_KINDS = {k for b in POLICY.businesses.values() for k in b.guarantor.relationship.points}
reason_codes = st.sampled_from([*sorted(LISTED_CODES), "SYSTEM_OFFLINE", "not a code"])
kinds = st.sampled_from([*sorted(LISTED_KINDS), "godparent"])
movements = st.builds(
    Movement,
    out_total=st.floats(0, 3_000_000),
    out_count=st.integers(0, 500),
    counterparties=st.integers(0, 60),
    max_single_out=st.floats(0, 500_000),
    accounts_opened=st.integers(0, 5),
    accounts_closed=st.integers(0, 5),
    dormant_then_active=st.booleans(),
)
vouches = st.builds(
    VouchRecord,
    business=st.sampled_from(BUSINESSES),
    ts=days_ago,
    outcome=st.sampled_from(VOUCH_OUTCOMES),
)
paths = st.builds(
    RelationshipPath,
    rel_type=st.sampled_from(("KIN", "SOCIAL")),
    kind=kinds,
    source=st.sampled_from(("bank", "household_registry", "customer_declared")),
    direction=st.sampled_from((OUT, IN)),
)


def _scored(graph_risk: float | None) -> dict[str, Any]:
    if graph_risk is None:
        return {"graph_risk": None, "model_version": None}
    return {"graph_risk": graph_risk, "model_version": MODEL}


customers = st.builds(
    lambda graph_risk, **fields: CustomerEvidence(now=NOW, **fields, **_scored(graph_risk)),
    face_similarity=unit,
    id_check=st.sampled_from(ID_CHECKS),
    blacklisted=st.booleans(),
    household_check=st.none() | st.sampled_from(HOUSEHOLD_CHECKS),
    age=st.none() | st.integers(0, 150),
    account_opened_at=st.none() | days_ago,
    account_status=st.none() | st.sampled_from(ACCOUNT_STATUSES),
    address_present=st.none() | st.booleans(),
    rejections=st.none()
    | st.lists(
        st.builds(Rejection, st.sampled_from(BUSINESSES), reason_codes, days_ago), max_size=6
    ).map(tuple),
    movement=st.none() | movements,
    credit_grade=st.none() | st.sampled_from(CREDIT_GRADES),
    graph_risk=st.none() | unit,
)

guarantors = st.builds(
    lambda graph_risk, **fields: GuarantorEvidence(now=NOW, **fields, **_scored(graph_risk)),
    face_similarity=unit,
    id_check=st.sampled_from(ID_CHECKS),
    blacklisted=st.booleans(),
    id_photo_captured=st.booleans(),
    account_status=st.none() | st.sampled_from(ACCOUNT_STATUSES),
    relationship=st.lists(paths, max_size=3).map(tuple),
    movement=st.none() | movements,
    vouch_history=st.none() | st.lists(vouches, max_size=8).map(tuple),
    credit_grade=st.none() | st.sampled_from(CREDIT_GRADES),
    graph_risk=st.none() | unit,
)

# Mostly the evidence a decision usually sees (no hard rule broken), so the thresholds matter.
plausible_customers = customers.map(
    lambda c: (
        dataclasses.replace(c, blacklisted=False, id_check="MATCH", face_similarity=0.9)
        if c.face_similarity < 0.5
        else c
    )
)


def _refused(decision: Any) -> bool:
    return decision.outcome == FinalOutcome.REFUSE


# --- the properties -----------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    business=st.sampled_from(BUSINESSES),
    customer=plausible_customers,
    theirs=st.lists(guarantors, min_size=1, max_size=2),
    blank=st.sampled_from(sorted(CUSTOMER_BLANKS)),
)
def test_a_customers_missing_data_never_lowers_the_score_or_helps_a_decision(
    business: str, customer: CustomerEvidence, theirs: list[GuarantorEvidence], blank: str
) -> None:
    missing = CUSTOMER_BLANKS[blank](customer)
    known_score = customer_score(customer, business, POLICY).total
    assert customer_score(missing, business, POLICY).total >= known_score
    known_first = first_decision(customer, business, POLICY).outcome
    missing_first = first_decision(missing, business, POLICY).outcome
    assert FIRST_RANK[missing_first] >= FIRST_RANK[known_first], (known_first, missing_first)
    if _refused(final_decision(customer, theirs, business, POLICY)):
        assert _refused(final_decision(missing, theirs, business, POLICY))


@settings(max_examples=200, deadline=None)
@given(
    business=st.sampled_from(BUSINESSES),
    customer=plausible_customers,
    theirs=st.lists(guarantors, min_size=1, max_size=2),
    which=st.integers(0, 1),
    blank=st.sampled_from(sorted(GUARANTOR_BLANKS)),
)
def test_a_guarantors_missing_data_never_lowers_the_score_or_helps_a_decision(
    business: str,
    customer: CustomerEvidence,
    theirs: list[GuarantorEvidence],
    which: int,
    blank: str,
) -> None:
    index = which % len(theirs)
    missing = list(theirs)
    missing[index] = GUARANTOR_BLANKS[blank](theirs[index])
    known_score = guarantor_score(theirs[index], business, POLICY).total
    assert guarantor_score(missing[index], business, POLICY).total >= known_score
    if _refused(final_decision(customer, theirs, business, POLICY)):
        assert _refused(final_decision(customer, missing, business, POLICY))
