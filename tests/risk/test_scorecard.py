"""Flow A scorecards: hard rules, item points, combined scores and the two threshold decisions."""

from __future__ import annotations

import dataclasses
import json
import math
from importlib import resources
from typing import Any

import pytest

from risk.policy import (
    UPPER_SNAKE,
    Policy,
    UnknownBusiness,
    load_policy,
    parse_policy,
    without_model_policy,
)
from risk.scorecard import (
    IN,
    OUT,
    CustomerEvidence,
    FinalOutcome,
    FirstOutcome,
    GuarantorEvidence,
    InvalidEvidence,
    Item,
    Movement,
    Rejection,
    RelationshipPath,
    Score,
    VouchRecord,
    combined_score,
    customer_score,
    final_decision,
    first_decision,
    guarantor_score,
    hard_refusals,
)

NOW = 1_795_000_000_000  # 2026-11-18, epoch ms
DAY = 86_400_000
CBT = "CROSS_BORDER_TRANSFER"
UAT = "UNFAMILIAR_ACCOUNT_TRANSFER"
INSURANCE = "INSURANCE_PURCHASE"
BUSINESSES = (CBT, UAT, INSURANCE)
POLICY = load_policy()

QUIET = Movement(out_total=8_000, out_count=12, counterparties=3, max_single_out=2_000)


def customer(**changes: Any) -> CustomerEvidence:
    """A customer every item of the shipped policy scores 0; a test changes what it is about."""
    clean: dict[str, Any] = dict(
        now=NOW,
        face_similarity=0.95,
        id_check="MATCH",
        blacklisted=False,
        age=40,
        account_opened_at=NOW - 5 * 365 * DAY,
        account_status="active",
        address_present=True,
        rejections=(),
        movement=QUIET,
        credit_grade="AA",
        graph_risk=0.01,
        model_version="gnn-2026-11-01",
    )
    return CustomerEvidence(**{**clean, **changes})


def guarantor(**changes: Any) -> GuarantorEvidence:
    """A guarantor every item of the shipped policy scores 0."""
    clean: dict[str, Any] = dict(
        now=NOW,
        face_similarity=0.97,
        id_check="MATCH",
        blacklisted=False,
        id_photo_captured=True,
        account_status="active",
        relationship=(RelationshipPath("KIN", "spouse", "bank", OUT),),
        movement=QUIET,
        vouch_history=(),
        credit_grade="AAA",
        graph_risk=0.02,
        model_version="gnn-2026-11-01",
    )
    return GuarantorEvidence(**{**clean, **changes})


def policy_with(old: str, new: str) -> Policy:
    """The shipped policy with one piece of its text replaced."""
    text = resources.files("risk").joinpath("policy.toml").read_text("utf-8")
    assert text.count(old) == 1, f"{old!r} must occur once in the shipped policy"
    return parse_policy(text.replace(old, new))


def codes(score: Score) -> list[str]:
    return [item.code for item in score.items]


def item(score: Score, code: str) -> Item:
    (found,) = (i for i in score.items if i.code == code)
    return found


# --- hard rules -------------------------------------------------------------------------------


@pytest.mark.parametrize("similarity", [0.0, 0.3, 0.49, 0.4999])
def test_face_similarity_below_half_refuses_at_once(similarity: float) -> None:
    decision = first_decision(customer(face_similarity=similarity), CBT, POLICY)
    assert decision.outcome == FirstOutcome.REFUSED
    assert decision.reasons == ("HARD_FACE_MISMATCH",)


def test_face_similarity_of_exactly_half_is_scored_not_refused() -> None:
    evidence = customer(face_similarity=0.5)
    assert hard_refusals(evidence, CBT, POLICY) == []
    assert item(customer_score(evidence, CBT, POLICY), "FACE_SIMILARITY").points == 45


def test_id_unknown_to_the_bank_refuses_at_once() -> None:
    decision = first_decision(customer(id_check="NOT_FOUND"), CBT, POLICY)
    assert decision.outcome == FirstOutcome.REFUSED
    assert decision.reasons == ("HARD_ID_UNKNOWN",)


def test_blacklisted_customer_refuses_at_once() -> None:
    decision = first_decision(customer(blacklisted=True), CBT, POLICY)
    assert decision.outcome == FirstOutcome.REFUSED
    assert decision.reasons == ("HARD_BLACKLISTED",)


def test_every_broken_hard_rule_is_named() -> None:
    evidence = customer(face_similarity=0.2, id_check="NOT_FOUND", blacklisted=True)
    assert [i.code for i in hard_refusals(evidence, CBT, POLICY)] == [
        "HARD_FACE_MISMATCH",
        "HARD_ID_UNKNOWN",
        "HARD_BLACKLISTED",
    ]


def test_chip_mismatch_is_scored_not_refused_by_default() -> None:
    evidence = customer(id_check="CHIP_MISMATCH")
    assert hard_refusals(evidence, CBT, POLICY) == []
    assert item(customer_score(evidence, CBT, POLICY), "ID_CHECK_CHIP_MISMATCH").points == 60


def test_hard_rules_are_configurable() -> None:
    strict = policy_with("refuse_chip_mismatch = false", "refuse_chip_mismatch = true")
    lenient = policy_with("face_similarity_below = 0.5", "face_similarity_below = 0.0")
    chip = customer(id_check="CHIP_MISMATCH")
    assert [i.code for i in hard_refusals(chip, CBT, strict)] == ["HARD_ID_CHIP_MISMATCH"]
    assert hard_refusals(customer(face_similarity=0.3), CBT, lenient) == []


def test_missing_model_refuses_by_default() -> None:
    decision = first_decision(customer(graph_risk=None, model_version=None), CBT, POLICY)
    assert decision.outcome == FirstOutcome.REFUSED
    assert decision.reasons == ("HARD_NO_MODEL",)
    assert item(decision.score, "GRAPH_RISK_NO_MODEL").points == 100  # as the top band


def test_missing_model_scores_missing_points_when_policy_says_neutral() -> None:
    neutral = policy_with(
        'missing_model = "refuse"  # no probability',
        'missing_model = "neutral"  # no probability',
    )
    evidence = customer(graph_risk=None, model_version=None)
    decision = first_decision(evidence, CBT, neutral)
    assert decision.outcome == FirstOutcome.NEEDS_GUARANTOR  # 100 points >= t1 30
    assert decision.reasons == ("SCORE_AT_OR_ABOVE_T1", "GRAPH_RISK_NO_MODEL")
    assert decision.model_versions == ()


# --- the customer's items ---------------------------------------------------------------------


def test_clean_customer_scores_zero() -> None:
    assert customer_score(customer(), CBT, POLICY).total == 0


def test_score_is_the_sum_of_its_items() -> None:
    risky = customer(
        face_similarity=0.75,
        age=72,
        account_status="dormant",
        credit_grade="B",
        rejections=(Rejection(CBT, "LIMIT_EXCEEDED", NOW - 10 * DAY, id="R1"),),
        graph_risk=0.3,
    )
    score = customer_score(risky, CBT, POLICY)
    assert score.total == math.fsum(i.points for i in score.items)
    assert score.total == 25 + 25 + 25 + 30 + 5 + 30


@pytest.mark.parametrize(
    ("similarity", "points"),
    [(1.0, 0), (0.95, 0), (0.9, 0), (0.85, 10), (0.8, 10), (0.75, 25), (0.7, 25), (0.6, 45)],
)
def test_face_similarity_scores_by_band(similarity: float, points: float) -> None:
    score = customer_score(customer(face_similarity=similarity), CBT, POLICY)
    assert item(score, "FACE_SIMILARITY").points == points


@pytest.mark.parametrize(
    ("changes", "code", "points"),
    [
        ({"id_check": "CHIP_MISMATCH"}, "ID_CHECK_CHIP_MISMATCH", 60),
        ({"household_check": "MISMATCH"}, "HOUSEHOLD_CHECK_MISMATCH", 0),  # evidence only
        ({"age": 17}, "AGE", 40),
        ({"age": 75}, "AGE", 25),
        ({"account_opened_at": NOW - 10 * DAY}, "ACCOUNT_AGE", 30),
        ({"account_status": "dormant"}, "ACCOUNT_STATUS_DORMANT", 25),
        ({"account_status": "closed"}, "ACCOUNT_STATUS_CLOSED", 100),
        ({"address_present": False}, "ADDRESS_MISSING", 10),
        ({"credit_grade": "D"}, "CREDIT_GRADE_D", 60),
        ({"graph_risk": 0.9}, "GRAPH_RISK", 100),
        (
            {"movement": dataclasses.replace(QUIET, out_total=1_500_000)},
            "MOVEMENT_OUT_TOTAL",
            35,
        ),
        (
            {"movement": dataclasses.replace(QUIET, counterparties=40)},
            "MOVEMENT_COUNTERPARTIES",
            25,
        ),
        (
            {"movement": dataclasses.replace(QUIET, max_single_out=150_000)},
            "MOVEMENT_MAX_SINGLE_OUT",
            20,
        ),
        (
            {"movement": dataclasses.replace(QUIET, dormant_then_active=True)},
            "MOVEMENT_DORMANT_THEN_ACTIVE",
            30,
        ),
        (
            {"movement": dataclasses.replace(QUIET, accounts_opened=4)},
            "MOVEMENT_ACCOUNTS_OPENED",
            25,
        ),
        (
            {"movement": dataclasses.replace(QUIET, accounts_closed=1)},
            "MOVEMENT_ACCOUNTS_CLOSED",
            5,
        ),
    ],
)
def test_each_piece_of_information_scores_its_points(
    changes: dict[str, Any], code: str, points: float
) -> None:
    score = customer_score(customer(**changes), CBT, POLICY)
    assert item(score, code).points == points
    assert score.total == points  # everything else about the customer is clean


@pytest.mark.parametrize(
    ("field", "code", "points"),
    [
        ("age", "AGE_MISSING", 40),  # as under 18
        ("account_opened_at", "ACCOUNT_AGE_MISSING", 30),  # as under 30 days
        ("address_present", "ADDRESS_MISSING", 10),  # as no address on file
        ("rejections", "REJECTIONS_MISSING", 80),  # as the capped worst history
        ("credit_grade", "CREDIT_GRADE_MISSING", 60),  # as grade D
    ],
)
def test_information_not_read_scores_the_worst_known_value(
    field: str, code: str, points: float
) -> None:
    score = customer_score(customer(**{field: None}), CBT, POLICY)
    assert item(score, code).points == points
    assert not item(score, code).refer


@pytest.mark.parametrize(
    ("field", "code", "points"),
    [
        ("account_status", "ACCOUNT_STATUS_MISSING", 100),  # closed is refused at once
        ("movement", "MOVEMENT_MISSING", 155),  # every measure at its worst, dormant then active
    ],
)
def test_information_not_read_refers_to_the_counter_where_the_policy_says(
    field: str, code: str, points: float
) -> None:
    decision = first_decision(customer(**{field: None}), CBT, POLICY)
    assert decision.outcome == FirstOutcome.REFUSED
    assert decision.reasons == ("REFER_TO_COUNTER", code)
    referred = item(decision.score, code)
    assert (referred.points, referred.refer) == (points, True)
    assert referred.evidence["missing"] == "refer"
    assert [i.code for i in decision.hard] == ["REFER_TO_COUNTER"]
    assert decision.hard[0].evidence == {"items": [code]}


def test_a_referral_follows_the_hard_refusals_in_the_reasons() -> None:
    evidence = customer(blacklisted=True, movement=None, account_status=None)
    assert first_decision(evidence, CBT, POLICY).reasons == (
        "HARD_BLACKLISTED",
        "REFER_TO_COUNTER",
        "ACCOUNT_STATUS_MISSING",
        "MOVEMENT_MISSING",
    )


def test_rejections_total_is_capped_at_max_points() -> None:
    rejections = tuple(
        Rejection(CBT, "SUSPECTED_FRAUD", NOW - d * DAY, id=f"R{d}") for d in (1, 2, 3)
    )
    score = customer_score(customer(rejections=rejections), CBT, POLICY)
    assert [i.points for i in score.items if i.code == "REJECTION_SUSPECTED_FRAUD"] == [50, 30, 0]
    assert score.total == 80
    trimmed = score.items[[i.code for i in score.items].index("REJECTION_SUSPECTED_FRAUD") + 1]
    assert trimmed.evidence["points"] == 50 and trimmed.evidence["max_points"] == 80


def test_household_check_not_done_is_not_listed_while_the_policy_does_not_score_it() -> None:
    score = customer_score(customer(household_check=None), CBT, POLICY)
    assert not any(c.startswith("HOUSEHOLD_CHECK") for c in codes(score))


def test_each_recent_rejection_scores_by_its_reason() -> None:
    rejections = (
        Rejection(CBT, "SUSPECTED_FRAUD", NOW - 30 * DAY, id="R1"),
        Rejection(UAT, "INSUFFICIENT_DOCS", NOW - 60 * DAY, id="R2"),
    )
    score = customer_score(customer(rejections=rejections), CBT, POLICY)
    fraud = item(score, "REJECTION_SUSPECTED_FRAUD")
    assert fraud.points == 50
    assert fraud.evidence == {
        "rejection_id": "R1",
        "business": CBT,
        "reason_code": "SUSPECTED_FRAUD",
        "days_ago": 30,
    }
    assert item(score, "REJECTION_INSUFFICIENT_DOCS").points == 5
    assert score.total == 55


def test_expired_rejections_do_not_count() -> None:
    old = Rejection(CBT, "SUSPECTED_FRAUD", NOW - 400 * DAY, id="R-old")
    score = customer_score(customer(rejections=(old,)), CBT, POLICY)
    assert score.total == 0
    assert item(score, "REJECTIONS_NONE").evidence == {"window_days": 365}
    assert item(score, "REJECTIONS_EXPIRED").evidence == {"count": 1, "window_days": 365}


def test_unknown_rejection_code_scores_the_default() -> None:
    odd = Rejection(CBT, "SYSTEM_OFFLINE", NOW - DAY)
    rejection = item(customer_score(customer(rejections=(odd,)), CBT, POLICY), "REJECTION_OTHER")
    assert rejection.points == 20
    assert rejection.evidence["reason_code"] == "SYSTEM_OFFLINE"


def test_free_text_rejection_reason_stays_out_of_evidence() -> None:
    odd = Rejection(CBT, "customer Li Na said 13800001111", NOW - DAY)
    rejection = item(customer_score(customer(rejections=(odd,)), CBT, POLICY), "REJECTION_OTHER")
    assert rejection.evidence["reason_code"] == "UNREADABLE"
    assert "13800001111" not in json.dumps(rejection.evidence)


def test_every_item_has_a_reason_code_and_only_non_personal_evidence() -> None:
    busy = customer(
        household_check="MATCH",
        rejections=(Rejection(CBT, "FACE_MISMATCH", NOW - DAY, id="R1"),),
        movement=dataclasses.replace(QUIET, dormant_then_active=True),
    )
    scores = [
        customer_score(busy, CBT, POLICY),
        guarantor_score(
            guarantor(vouch_history=(VouchRecord(UAT, NOW - DAY, "PENDING"),)), CBT, POLICY
        ),
    ]
    for score in scores:
        for i in score.items:
            assert UPPER_SNAKE.match(i.code)
            json.dumps(i.evidence)  # plain values, ready for the audit trail
            assert not {"name", "id_number", "phone", "address"} & set(i.evidence)


def test_item_codes_must_be_upper_snake() -> None:
    with pytest.raises(ValueError, match="UPPER_SNAKE"):
        Item("face similarity", 1.0)


# --- evidence is checked at the edge ----------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"face_similarity": float("nan")}, "face_similarity"),
        ({"face_similarity": 1.2}, "face_similarity"),
        ({"id_check": "MAYBE"}, "id_check"),
        ({"account_status": "frozen"}, "account_status"),
        ({"credit_grade": "CCC"}, "credit_grade"),
        ({"graph_risk": 1.5}, "graph_risk"),
        ({"graph_risk": 0.2, "model_version": None}, "model_version"),
        ({"age": -1}, "age"),
    ],
)
def test_invalid_evidence_is_rejected(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidEvidence, match=message):
        customer(**changes)


def test_unknown_vouch_outcome_is_rejected() -> None:
    with pytest.raises(InvalidEvidence, match="outcome"):
        VouchRecord(CBT, NOW, "FORGIVEN")


# --- the first decision -----------------------------------------------------------------------


@pytest.mark.parametrize("business", BUSINESSES)
def test_first_decision_proceeds_below_t1(business: str) -> None:
    decision = first_decision(customer(credit_grade="A"), business, POLICY)
    assert decision.score.total == 5 < POLICY.business(business).t1
    assert decision.outcome == FirstOutcome.PROCEED
    assert decision.reasons == ("SCORE_BELOW_T1",)
    assert decision.threshold == POLICY.business(business).t1


@pytest.mark.parametrize("business", BUSINESSES)
def test_first_decision_needs_a_guarantor_above_t1(business: str) -> None:
    evidence = customer(face_similarity=0.6, account_status="dormant")  # 45 + 25
    decision = first_decision(evidence, business, POLICY)
    assert decision.score.total == 70 > POLICY.business(business).t1
    assert decision.outcome == FirstOutcome.NEEDS_GUARANTOR
    assert decision.reasons == ("SCORE_AT_OR_ABOVE_T1", "FACE_SIMILARITY", "ACCOUNT_STATUS_DORMANT")


def test_score_equal_to_t1_needs_a_guarantor() -> None:
    evidence = customer(face_similarity=0.75, credit_grade="A")  # 25 + 5 = 30 = t1
    assert first_decision(evidence, UAT, POLICY).outcome == FirstOutcome.NEEDS_GUARANTOR


def test_decision_records_policy_and_model_versions() -> None:
    decision = first_decision(customer(), CBT, POLICY)
    assert decision.policy_version == "2026-12-02.2"
    assert decision.model_versions == ("gnn-2026-11-01",)
    assert decision.business == CBT


def test_unknown_business_is_not_decided() -> None:
    with pytest.raises(UnknownBusiness):
        first_decision(customer(), "SKYDIVING", POLICY)


# --- the guarantor's items --------------------------------------------------------------------


def test_clean_guarantor_scores_zero() -> None:
    assert guarantor_score(guarantor(), CBT, POLICY).total == 0


def test_guarantor_bad_vouch_outcomes_in_the_last_year_add_points() -> None:
    history = (
        VouchRecord(CBT, NOW - 100 * DAY, "FRAUD_REPORTED"),
        VouchRecord(UAT, NOW - 50 * DAY, "NO_ISSUE"),
        VouchRecord(CBT, NOW - 400 * DAY, "DEFAULTED"),  # outside the window
    )
    score = guarantor_score(guarantor(vouch_history=history), CBT, POLICY)
    assert item(score, "VOUCH_OUTCOME_FRAUD_REPORTED").points == 60
    assert "VOUCH_OUTCOME_DEFAULTED" not in codes(score)
    assert item(score, "VOUCH_TIMES").evidence["count"] == 2
    assert score.total == 60


def test_guarantor_vouched_for_often_scores_by_times() -> None:
    history = tuple(VouchRecord(UAT, NOW - d * DAY, "NO_ISSUE") for d in range(1, 8))
    score = guarantor_score(guarantor(vouch_history=history), CBT, POLICY)
    assert item(score, "VOUCH_TIMES").points == 30


def test_guarantor_without_id_photo_scores_its_points() -> None:
    score = guarantor_score(guarantor(id_photo_captured=False), CBT, POLICY)
    assert item(score, "ID_PHOTO_MISSING").points == 20


def test_guarantor_closest_tie_counts_and_every_path_is_evidence() -> None:
    paths = (
        RelationshipPath("SOCIAL", "colleague", "bank", OUT),
        RelationshipPath("KIN", "spouse", "household_registry", IN),
    )
    rel = item(guarantor_score(guarantor(relationship=paths), CBT, POLICY), "RELATIONSHIP_SPOUSE")
    assert rel.points == 0
    assert [p["kind"] for p in rel.evidence["paths"]] == ["colleague", "spouse"]


def test_guarantor_without_known_tie_scores_its_points() -> None:
    score = guarantor_score(guarantor(relationship=()), CBT, POLICY)
    assert item(score, "RELATIONSHIP_NONE").points == 40


# --- combination ------------------------------------------------------------------------------


def points(total: float) -> Score:
    return Score((Item("TEST", total),))


def test_weighted_combination_uses_business_weights() -> None:
    # CROSS_BORDER_TRANSFER: 0.7 * customer + 0.3 * the riskiest guarantor.
    combined = combined_score(points(50), [points(20), points(40)], CBT, POLICY)
    assert combined.total == pytest.approx(0.7 * 50 + 0.3 * 40)
    customer_item, guarantors_item = combined.items
    assert customer_item.code == "COMBINED_CUSTOMER"
    assert customer_item.evidence == {"method": "weighted", "weight": 0.7, "score": 50}
    assert guarantors_item.evidence == {
        "method": "weighted",
        "weight": 0.3,
        "aggregate": "max",
        "score": 40,
        "scores": [20, 40],
    }


def test_sum_combination_adds_the_scores() -> None:
    # UNFAMILIAR_ACCOUNT_TRANSFER: customer + the mean of the guarantors.
    combined = combined_score(points(35), [points(10), points(20)], UAT, POLICY)
    assert combined.total == 35 + 15


@pytest.mark.parametrize(("aggregate", "total"), [("mean", 30), ("max", 40), ("min", 20)])
def test_several_guarantors_combine_as_policy_says(aggregate: str, total: float) -> None:
    policy = policy_with(
        'combination = { method = "sum", guarantors = "mean" }',
        f'combination = {{ method = "sum", guarantors = "{aggregate}" }}',
    )
    assert combined_score(points(0), [points(20), points(40)], UAT, policy).total == total


def test_combination_needs_a_guarantor() -> None:
    with pytest.raises(InvalidEvidence, match="at least one"):
        combined_score(points(50), [], CBT, POLICY)


def test_weighted_sum_lands_on_the_threshold_exactly() -> None:
    # 0.7 * 48 + 0.3 * 38 is 44.99999999999999 in floating point; scores are rounded, so a
    # combined score of exactly t2 (45) is not allowed by a rounding error.
    assert combined_score(points(48), [points(38)], CBT, POLICY).total == 45


# --- the final decision -----------------------------------------------------------------------

RISKY = dict(face_similarity=0.75, account_status="dormant")  # 50: needs a guarantor everywhere


def test_final_decision_allows_below_t2() -> None:
    decision = final_decision(customer(**RISKY), [guarantor()], CBT, POLICY)
    assert decision.score.total == 0.7 * 50  # 35 < t2 45
    assert decision.outcome == FinalOutcome.ALLOW
    assert decision.reasons == ("COMBINED_BELOW_T2",)
    assert decision.threshold == 45
    assert decision.customer.total == 50
    assert [g.total for g in decision.guarantors] == [0]


def test_final_decision_refuses_at_or_above_t2_naming_what_weighed() -> None:
    weak = guarantor(credit_grade="C", graph_risk=0.6)  # 45 + 60 = 105
    decision = final_decision(customer(**RISKY), [weak], CBT, POLICY)
    assert decision.score.total == pytest.approx(0.7 * 50 + 0.3 * 105)
    assert decision.outcome == FinalOutcome.REFUSE
    assert decision.reasons[0] == "COMBINED_AT_OR_ABOVE_T2"
    assert decision.reasons[1:] == (
        "GUARANTOR_GRAPH_RISK",
        "GUARANTOR_CREDIT_GRADE_C",
        "FACE_SIMILARITY",
        "ACCOUNT_STATUS_DORMANT",
    )


def test_final_decision_refuses_when_a_guarantor_breaks_a_hard_rule() -> None:
    impostor = guarantor(face_similarity=0.3)
    decision = final_decision(customer(**RISKY), [guarantor(), impostor], CBT, POLICY)
    assert decision.outcome == FinalOutcome.REFUSE
    assert decision.reasons == ("HARD_GUARANTOR_FACE_MISMATCH",)
    assert decision.hard[0].evidence["guarantor"] == 1


def test_final_decision_refuses_a_guarantor_without_model_score() -> None:
    unscored = guarantor(graph_risk=None, model_version=None)
    decision = final_decision(customer(**RISKY), [unscored], CBT, POLICY)
    assert decision.reasons == ("HARD_GUARANTOR_NO_MODEL",)


def test_final_decision_refuses_without_a_guarantor() -> None:
    decision = final_decision(customer(**RISKY), [], CBT, POLICY)
    assert (decision.outcome, decision.reasons) == (FinalOutcome.REFUSE, ("NO_GUARANTOR",))


def test_final_decision_refuses_more_guarantors_than_the_policy_allows() -> None:
    decision = final_decision(customer(**RISKY), [guarantor()] * 3, CBT, POLICY)
    assert (decision.outcome, decision.reasons) == (FinalOutcome.REFUSE, ("TOO_MANY_GUARANTORS",))


def test_final_decision_still_applies_the_customers_hard_rules() -> None:
    decision = final_decision(customer(blacklisted=True), [guarantor()], CBT, POLICY)
    assert decision.reasons == ("HARD_BLACKLISTED",)


def test_final_decision_records_every_model_version() -> None:
    other = guarantor(model_version="gnn-2026-10-01")
    decision = final_decision(customer(**RISKY), [other], CBT, POLICY)
    assert decision.model_versions == ("gnn-2026-10-01", "gnn-2026-11-01")
    assert decision.policy_version == POLICY.version


# --- fresh decisions: account status ---------------------------------------------------------


def test_a_closed_account_refuses_at_once() -> None:
    decision = first_decision(customer(account_status="closed"), CBT, POLICY)
    assert decision.outcome == FirstOutcome.REFUSED
    assert decision.reasons == ("HARD_ACCOUNT_CLOSED",)
    assert decision.hard[0].evidence == {"account_status": "closed"}


def test_a_guarantor_whose_account_closed_since_listing_refuses() -> None:
    closed = guarantor(account_status="closed")
    decision = final_decision(customer(**RISKY), [closed], CBT, POLICY)
    assert decision.outcome == FinalOutcome.REFUSE
    assert decision.reasons == ("HARD_GUARANTOR_ACCOUNT_CLOSED",)
    assert decision.hard[0].evidence == {"account_status": "closed", "guarantor": 0}


def test_a_dormant_guarantor_scores_the_status_points() -> None:
    score = guarantor_score(guarantor(account_status="dormant"), CBT, POLICY)
    assert item(score, "ACCOUNT_STATUS_DORMANT").points == 25


def test_a_guarantor_status_not_read_refers_to_the_counter() -> None:
    decision = final_decision(customer(**RISKY), [guarantor(account_status=None)], CBT, POLICY)
    assert decision.outcome == FinalOutcome.REFUSE
    assert decision.reasons == ("REFER_TO_COUNTER", "GUARANTOR_ACCOUNT_STATUS_MISSING")
    assert decision.hard[-1].evidence == {"items": ["GUARANTOR_ACCOUNT_STATUS_MISSING"]}


def test_a_guarantor_movement_not_read_refers_even_beside_a_good_guarantor() -> None:
    # Insurance counts the best guarantor, but a referral is not outweighed by another one.
    unread = guarantor(movement=None)
    decision = final_decision(customer(**RISKY), [guarantor(), unread], INSURANCE, POLICY)
    assert decision.outcome == FinalOutcome.REFUSE
    assert decision.reasons == ("REFER_TO_COUNTER", "GUARANTOR_MOVEMENT_MISSING")


def test_guarantor_status_is_checked() -> None:
    with pytest.raises(InvalidEvidence, match="account_status"):
        guarantor(account_status="frozen")


def test_account_status_refusal_is_configurable() -> None:
    text = resources.files("risk").joinpath("policy.toml").read_text("utf-8")
    text = text.replace('refuse_account_statuses = ["closed"]', "refuse_account_statuses = []")
    text = text.replace(
        'missing = "refer"  # closed is refused', "missing = 100  # closed is refused"
    )
    lenient = parse_policy(text)
    assert hard_refusals(customer(account_status="closed"), CBT, lenient) == []
    score = customer_score(customer(account_status=None), CBT, lenient)
    assert (item(score, "ACCOUNT_STATUS_MISSING").points, score.total) == (100, 100)


# --- capped and unscored items ---------------------------------------------------------------


def test_guarantor_vouch_history_total_is_capped_at_max_points() -> None:
    history = tuple(VouchRecord(UAT, NOW - d * DAY, "FRAUD_REPORTED") for d in range(1, 8))
    score = guarantor_score(guarantor(vouch_history=history), CBT, POLICY)
    vouch = [i for i in score.items if i.code.startswith("VOUCH_")]
    assert math.fsum(i.points for i in vouch) == 100  # 30 for times + 7 x 60, capped
    assert score.total == 100


def test_guarantor_vouch_history_not_read_scores_the_cap() -> None:
    score = guarantor_score(guarantor(vouch_history=None), CBT, POLICY)
    assert item(score, "VOUCH_HISTORY_MISSING").points == 100


def test_without_model_policy_scores_everyone_the_same_graph_risk_points() -> None:
    policy = without_model_policy(graph_risk_points=7)
    scored = customer_score(customer(graph_risk=0.9), CBT, policy)
    unscored = customer_score(customer(graph_risk=None, model_version=None), CBT, policy)
    graph = item(scored, "GRAPH_RISK")
    assert graph.points == 7
    assert graph.evidence["probability"] == 0.9 and graph.evidence["missing_model"] == "unscored"
    assert item(unscored, "GRAPH_RISK_NO_MODEL").points == 7
    assert first_decision(customer(graph_risk=None, model_version=None), CBT, policy).outcome == (
        FirstOutcome.PROCEED
    )
    pair = guarantor_score(guarantor(graph_risk=0.95), CBT, policy)
    assert item(pair, "GRAPH_RISK").points == 7
