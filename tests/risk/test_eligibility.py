"""Candidate guarantors: who may be offered, in what order, and how the kiosk names them."""

from __future__ import annotations

import random
from importlib import resources
from typing import Any

import pytest

from risk.eligibility import (
    CandidateFacts,
    assess_candidate,
    candidates_to_show,
    mask_name,
    rank_candidates,
    relationship_words,
    usable_channels,
)
from risk.policy import load_policy, parse_policy
from risk.scorecard import IN, OUT, InvalidEvidence, RelationshipPath, VouchRecord

NOW = 1_795_000_000_000
DAY = 86_400_000
CBT = "CROSS_BORDER_TRANSFER"
INSURANCE = "INSURANCE_PURCHASE"
POLICY = load_policy()

SPOUSE = RelationshipPath("KIN", "spouse", "bank", OUT)
COLLEAGUE = RelationshipPath("SOCIAL", "colleague", "bank", OUT)


def candidate(**changes: Any) -> CandidateFacts:
    """A candidate every rule of the shipped policy accepts."""
    good: dict[str, Any] = dict(
        customer_id="C2",
        paths=(SPOUSE,),
        status="active",
        blacklisted=False,
        is_self=False,
        channels=frozenset({"SMS"}),
        account_opened_at=NOW - 3 * 365 * DAY,
        credit_grade="A",
        graph_risk=0.02,
    )
    return CandidateFacts(**{**good, **changes})


def vouches(n: int, days_ago: int, outcome: str = "NO_ISSUE") -> tuple[VouchRecord, ...]:
    return tuple(VouchRecord(CBT, NOW - days_ago * DAY, outcome) for _ in range(n))


def ids(ranked: list[Any]) -> list[str]:
    return [c.facts.customer_id for c in ranked]


# --- eligibility ------------------------------------------------------------------------------


def test_eligible_candidate_has_no_reasons() -> None:
    eligibility = assess_candidate(candidate(), CBT, POLICY, NOW)
    assert eligibility.eligible
    assert eligibility.reasons == ()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"is_self": True}, "CANDIDATE_IS_SELF"),
        ({"status": "dormant"}, "CANDIDATE_NOT_ACTIVE"),
        ({"status": "closed"}, "CANDIDATE_NOT_ACTIVE"),
        ({"blacklisted": True}, "CANDIDATE_BLACKLISTED"),
        ({"channels": frozenset()}, "CANDIDATE_UNREACHABLE"),
        ({"account_opened_at": NOW - 30 * DAY}, "CANDIDATE_ACCOUNT_TOO_NEW"),
        ({"account_opened_at": None}, "CANDIDATE_ACCOUNT_TOO_NEW"),
        ({"vouches_given": vouches(4, days_ago=5)}, "CANDIDATE_TOO_MANY_VOUCHES"),
        ({"graph_risk": 0.7}, "CANDIDATE_HIGH_GRAPH_RISK"),
        ({"paths": ()}, "CANDIDATE_RELATIONSHIP_NOT_ALLOWED"),
    ],
)
def test_each_rule_makes_a_candidate_ineligible(changes: dict[str, Any], reason: str) -> None:
    eligibility = assess_candidate(candidate(**changes), CBT, POLICY, NOW)
    assert not eligibility.eligible
    assert eligibility.reasons == (reason,)


@pytest.mark.parametrize(
    "changes",
    [
        {"vouches_given": vouches(1, days_ago=100, outcome="FRAUD_REPORTED")},
        {"vouches_given": vouches(1, days_ago=200, outcome="DEFAULTED")},
        {"vouches_received": vouches(1, days_ago=10, outcome="FRAUD_REPORTED")},
    ],
)
def test_candidate_with_recent_bad_vouch_is_ineligible(changes: dict[str, Any]) -> None:
    eligibility = assess_candidate(candidate(**changes), CBT, POLICY, NOW)
    assert eligibility.reasons == ("CANDIDATE_RECENT_BAD_VOUCH",)


def test_bad_outcome_is_dated_by_when_it_was_reported() -> None:
    # Vouched 500 days ago, reported as fraud 20 days ago: recent.
    late = VouchRecord(CBT, NOW - 500 * DAY, "FRAUD_REPORTED", outcome_ts=NOW - 20 * DAY)
    eligibility = assess_candidate(candidate(vouches_given=(late,)), CBT, POLICY, NOW)
    assert eligibility.reasons == ("CANDIDATE_RECENT_BAD_VOUCH",)


@pytest.mark.parametrize(
    "changes",
    [
        {"vouches_given": vouches(1, days_ago=400, outcome="FRAUD_REPORTED")},
        {"vouches_given": vouches(2, days_ago=10, outcome="PENDING")},
        {"vouches_given": vouches(3, days_ago=5)},
        {"vouches_given": vouches(3, days_ago=5) + vouches(5, days_ago=60)},
    ],
)
def test_old_bad_outcomes_and_vouches_within_the_limit_are_accepted(
    changes: dict[str, Any],
) -> None:
    assert assess_candidate(candidate(**changes), CBT, POLICY, NOW).eligible


def test_ineligibility_names_every_failed_rule() -> None:
    facts = candidate(is_self=True, blacklisted=True, channels=frozenset())
    assert assess_candidate(facts, CBT, POLICY, NOW).reasons == (
        "CANDIDATE_IS_SELF",
        "CANDIDATE_BLACKLISTED",
        "CANDIDATE_UNREACHABLE",
    )


def test_insurance_accepts_kin_only() -> None:
    colleague = candidate(paths=(COLLEAGUE,))
    assert assess_candidate(colleague, CBT, POLICY, NOW).eligible
    assert assess_candidate(colleague, INSURANCE, POLICY, NOW).reasons == (
        "CANDIDATE_RELATIONSHIP_NOT_ALLOWED",
    )
    assert assess_candidate(candidate(), INSURANCE, POLICY, NOW).eligible


def test_candidate_facts_are_checked() -> None:
    with pytest.raises(InvalidEvidence, match="channels"):
        candidate(channels=frozenset({"PIGEON"}))
    with pytest.raises(InvalidEvidence, match="shared_channels"):
        candidate(shared_channels=frozenset({"PIGEON"}))
    with pytest.raises(InvalidEvidence, match="graph_risk"):
        candidate(graph_risk=float("nan"))


# --- no self-vouching -------------------------------------------------------------------------

BOTH = frozenset({"SMS", "MOBILE_BANKING"})


def test_a_request_never_goes_to_a_channel_the_applicant_also_uses() -> None:
    facts = candidate(channels=BOTH, shared_channels=frozenset({"SMS"}))
    assert usable_channels(facts, CBT, POLICY) == ("MOBILE_BANKING",)
    assert assess_candidate(facts, CBT, POLICY, NOW).eligible


def test_usable_channels_follow_the_policys_order() -> None:
    assert usable_channels(candidate(channels=BOTH), CBT, POLICY) == ("SMS", "MOBILE_BANKING")
    text = resources.files("risk").joinpath("policy.toml").read_text("utf-8")
    reordered = parse_policy(
        text.replace('channels = ["SMS", "MOBILE_BANKING"]', 'channels = ["MOBILE_BANKING", "SMS"]')
    )
    assert usable_channels(candidate(channels=BOTH), CBT, reordered) == ("MOBILE_BANKING", "SMS")


def test_a_candidate_reachable_only_on_a_shared_channel_is_ineligible() -> None:
    facts = candidate(channels=BOTH, shared_channels=BOTH)
    eligibility = assess_candidate(facts, CBT, POLICY, NOW)
    assert eligibility.reasons == ("CANDIDATE_ONLY_SHARED_CHANNEL",)


def test_a_shared_channel_the_candidate_cannot_be_reached_on_leaves_them_unreachable() -> None:
    facts = candidate(channels=frozenset(), shared_channels=frozenset({"SMS"}))
    assert assess_candidate(facts, CBT, POLICY, NOW).reasons == ("CANDIDATE_UNREACHABLE",)


def test_a_channel_the_business_does_not_allow_is_not_usable() -> None:
    text = resources.files("risk").joinpath("policy.toml").read_text("utf-8")
    sms_only = parse_policy(
        text.replace('channels = ["SMS", "MOBILE_BANKING"]', 'channels = ["SMS"]')
    )
    facts = candidate(channels=BOTH, shared_channels=frozenset({"SMS"}))
    assert usable_channels(facts, CBT, sms_only) == ()
    assert assess_candidate(facts, CBT, sms_only, NOW).reasons == ("CANDIDATE_ONLY_SHARED_CHANNEL",)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"device_cluster": True}, "CANDIDATE_DEVICE_CLUSTER"),
        ({"transfer_ring": True}, "CANDIDATE_TRANSFER_RING"),
    ],
)
def test_household_device_cluster_and_transfer_ring_are_ineligible(
    changes: dict[str, Any], reason: str
) -> None:
    assert assess_candidate(candidate(**changes), CBT, POLICY, NOW).reasons == (reason,)


@pytest.mark.parametrize("key", ["device_cluster", "transfer_ring"])
def test_a_business_may_allow_a_cluster_or_ring(key: str) -> None:
    text = resources.files("risk").joinpath("policy.toml").read_text("utf-8")
    text += f'\n[businesses.INSURANCE_PURCHASE.eligibility]\n{key} = "allow"\n'
    policy = parse_policy(text)
    facts = candidate(**{key: True})
    assert assess_candidate(facts, INSURANCE, policy, NOW).eligible
    assert not assess_candidate(facts, CBT, policy, NOW).eligible


def test_ranked_candidate_carries_only_the_usable_channels() -> None:
    facts = candidate(channels=BOTH, shared_channels=frozenset({"MOBILE_BANKING"}))
    (ranked,) = rank_candidates([facts], CBT, POLICY, NOW)
    assert ranked.channels == ("SMS",)
    (blocked,) = rank_candidates([candidate(channels=BOTH, shared_channels=BOTH)], CBT, POLICY, NOW)
    assert blocked.channels == ()
    assert not blocked.eligibility.eligible


def test_self_vouching_links_are_named_with_every_other_failed_rule() -> None:
    facts = candidate(
        blacklisted=True,
        shared_channels=frozenset({"SMS"}),
        device_cluster=True,
        transfer_ring=True,
    )
    assert assess_candidate(facts, CBT, POLICY, NOW).reasons == (
        "CANDIDATE_BLACKLISTED",
        "CANDIDATE_ONLY_SHARED_CHANNEL",
        "CANDIDATE_DEVICE_CLUSTER",
        "CANDIDATE_TRANSFER_RING",
    )


# --- ranking ----------------------------------------------------------------------------------


def test_spouse_ranks_before_colleague() -> None:
    colleague = candidate(customer_id="A1", paths=(COLLEAGUE,), credit_grade="AAA")
    spouse = candidate(customer_id="Z9", paths=(SPOUSE,), credit_grade="B")
    assert ids(rank_candidates([colleague, spouse], CBT, POLICY, NOW)) == ["Z9", "A1"]


def test_eligible_candidates_rank_before_ineligible_ones() -> None:
    blocked = candidate(customer_id="A1", blacklisted=True)
    friend = candidate(customer_id="B2", paths=(RelationshipPath("SOCIAL", "friend", "bank", IN),))
    ranked = rank_candidates([blocked, friend], CBT, POLICY, NOW)
    assert ids(ranked) == ["B2", "A1"]
    assert [c.eligibility.eligible for c in ranked] == [True, False]


@pytest.mark.parametrize(
    ("better", "worse"),
    [
        ({"paths": (SPOUSE,)}, {"paths": (RelationshipPath("KIN", "sibling", "bank", OUT),)}),
        (
            {"paths": (RelationshipPath("KIN", "other_kin", "bank", OUT),)},
            {"paths": (RelationshipPath("SOCIAL", "emergency_contact", "bank", OUT),)},
        ),
        (
            {"paths": (SPOUSE, RelationshipPath("KIN", "spouse", "household_registry", IN))},
            {"paths": (SPOUSE,)},
        ),
        ({"credit_grade": "AA"}, {"credit_grade": "BB"}),
        ({"credit_grade": "D"}, {"credit_grade": None}),
        ({"graph_risk": 0.01}, {"graph_risk": 0.2}),
        ({"graph_risk": 0.4}, {"graph_risk": None}),
        ({}, {"vouches_given": vouches(1, days_ago=900, outcome="DEFAULTED")}),
    ],
)
def test_likeliest_helpful_candidate_ranks_first(
    better: dict[str, Any], worse: dict[str, Any]
) -> None:
    # The worse one has the smaller id, so only the rule under test can put the better first.
    a = candidate(customer_id="B-better", **better)
    b = candidate(customer_id="A-worse", **worse)
    assert ids(rank_candidates([b, a], CBT, POLICY, NOW)) == ["B-better", "A-worse"]


def test_ties_break_by_customer_id_whatever_the_input_order() -> None:
    facts = [candidate(customer_id=f"C{i}") for i in (5, 2, 9, 1, 7)]
    for seed in range(5):
        random.Random(seed).shuffle(facts)
        assert ids(rank_candidates(facts, CBT, POLICY, NOW)) == ["C1", "C2", "C5", "C7", "C9"]


def test_ranked_candidate_carries_kiosk_words_for_the_closest_tie() -> None:
    # The stored edge says the applicant is the candidate's parent: the candidate is the child.
    facts = candidate(paths=(COLLEAGUE, RelationshipPath("KIN", "parent", "bank", IN)))
    (ranked,) = rank_candidates([facts], CBT, POLICY, NOW)
    assert ranked.relationship == "child"
    assert ranked.closeness == 0
    assert ranked.evidence_count == 2


def test_only_allowed_ties_name_the_relationship() -> None:
    # For insurance the colleague tie does not count, so the sibling tie names the candidate.
    facts = candidate(paths=(COLLEAGUE, RelationshipPath("KIN", "sibling", "bank", OUT)))
    (ranked,) = rank_candidates([facts], INSURANCE, POLICY, NOW)
    assert ranked.relationship == "sibling"


def test_kiosk_shows_at_most_max_candidates_eligible_only() -> None:
    facts = [candidate(customer_id=f"C{i}") for i in range(8)]
    facts.append(candidate(customer_id="C00", blacklisted=True))
    shown = candidates_to_show(rank_candidates(facts, CBT, POLICY, NOW), CBT, POLICY)
    assert ids(shown) == ["C0", "C1", "C2", "C3", "C4"]


def test_kiosk_shows_nobody_when_none_is_eligible() -> None:
    ranked = rank_candidates([candidate(blacklisted=True)], CBT, POLICY, NOW)
    assert candidates_to_show(ranked, CBT, POLICY) == []


# --- kiosk words ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "direction", "words"),
    [
        ("spouse", OUT, "spouse"),
        ("spouse", IN, "spouse"),
        ("parent", OUT, "parent"),
        ("parent", IN, "child"),
        ("child", OUT, "child"),
        ("child", IN, "parent"),
        ("grandparent", IN, "grandchild"),
        ("grandchild", IN, "grandparent"),
        ("sibling", IN, "sibling"),
        ("other_kin", OUT, "relative"),
        ("colleague", IN, "colleague"),
        ("friend", OUT, "friend"),
        ("emergency_contact", OUT, "emergency contact"),
        ("emergency_contact", IN, "listed you as emergency contact"),
        ("shared_address", OUT, "lives at your address"),
        ("godparent", OUT, "godparent"),
    ],
)
def test_relationship_words(kind: str, direction: str, words: str) -> None:
    assert relationship_words(kind, direction) == words


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("Zhang Wei", "Z**** W**"),
        ("张伟", "张*"),
        ("欧阳娜娜", "欧***"),
        ("阿卜杜·热合曼", "阿**·热**"),
        ("Jean-Luc Picard", "J***-L** P*****"),
        ("李", "*"),
        ("  Ann  ", "A**"),
        ("", ""),
    ],
)
def test_mask_name(name: str, masked: str) -> None:
    assert mask_name(name) == masked
