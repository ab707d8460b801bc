"""The workbench's pure rules: dense ties, rings as connected groups, stable ids, paging across
types, joining a path, and the alert rules."""

from __future__ import annotations

import dataclasses

import pytest

from graph.vocab import AlertKind
from risk.errors import InvalidInput
from risk.flows.cases_rules import (
    RingFinding,
    alert_id,
    check_note,
    check_update,
    fraud_vouch_alerts,
    hard_refusal_alerts,
    high_risk_alerts,
    ring_alerts,
)
from risk.flows.explore import band_of, parse_time, time_range
from risk.flows.explore_rules import (
    Tie,
    components,
    edge_id,
    is_dense,
    join_path,
    page_slices,
    ring_id,
)
from risk.policy import load_policy

RULES = load_policy().workbench
ALERTS = load_policy().alerts


@pytest.mark.parametrize(
    ("tie", "dense"),
    [
        (Tie("a", "b", "SHARED_PHONE"), True),
        (Tie("a", "b", "SHARED_DEVICE"), True),
        (Tie("a", "b", "TRANSFER", RULES.dense_min_amount, 1), True),
        (Tie("a", "b", "TRANSFER", 1.0, RULES.dense_min_transfers), True),
        (
            Tie("a", "b", "TRANSFER", RULES.dense_min_amount - 1, RULES.dense_min_transfers - 1),
            False,
        ),
        (Tie("a", "b", "TRANSFER", None, None), False),
        (Tie("a", "b", "KIN"), False),
    ],
)
def test_a_tie_is_dense_by_the_policy(tie: Tie, dense: bool) -> None:
    assert is_dense(tie, RULES) is dense


def test_a_stricter_policy_makes_a_transfer_sparse() -> None:
    strict = dataclasses.replace(RULES, dense_min_transfers=10, dense_min_amount=1e9)
    assert not is_dense(Tie("a", "b", "TRANSFER", 9000.0, 5), strict)


def test_components_are_the_connected_groups_largest_first() -> None:
    ties = [Tie("c", "b", "SHARED_PHONE"), Tie("b", "a", "TRANSFER"), Tie("x", "y", "KIN")]
    assert components(["a", "b", "c", "x", "y", "z"], ties) == [["a", "b", "c"], ["x", "y"], ["z"]]
    assert components(["a"], [Tie("a", "outside", "SHARED_PHONE")]) == [["a"]]


def test_ids_are_stable() -> None:
    assert edge_id("KIN", "b", "a") == edge_id("KIN", "a", "b") == "KIN:a:b"
    assert ring_id(["b", "a", "c"]) == ring_id(["c", "b", "a", "a"]) != ring_id(["a", "b"])


@pytest.mark.parametrize(
    ("offset", "first", "slices"),
    [
        (0, 3, {"A": (0, 2), "B": (0, 1), "C": (0, 0)}),
        (2, 10, {"A": (0, 0), "B": (0, 3), "C": (0, 4)}),
        (4, 2, {"A": (0, 0), "B": (2, 1), "C": (0, 1)}),
        (9, 5, {"A": (0, 0), "B": (0, 0), "C": (0, 0)}),
    ],
)
def test_a_page_falls_across_the_types_in_order(
    offset: int, first: int, slices: dict[str, tuple[int, int]]
) -> None:
    assert page_slices({"A": 2, "B": 3, "C": 4}, ("A", "B", "C"), offset, first) == slices


def test_a_path_joins_both_search_trees_at_the_meeting_customer() -> None:
    back_from = {"s": None, "m1": ("s", "KIN"), "m": ("m1", "SOCIAL")}
    back_to = {"t": None, "m": ("t", "TRANSFER")}
    assert join_path("m", back_from, back_to) == (
        ["s", "m1", "m", "t"],
        ["KIN", "SOCIAL", "TRANSFER"],
    )


def test_times_are_iso_and_a_bad_one_names_its_argument() -> None:
    assert parse_time("1970-01-02", "since") == 86_400_000
    assert parse_time("1970-01-01T00:00:01Z", "since") == 1000
    assert parse_time(None, "since") is None
    with pytest.raises(InvalidInput, match=r"^until"):
        parse_time("soon", "until")
    with pytest.raises(InvalidInput, match=r"^until"):
        time_range("2026-02-01", "2026-01-01")


def test_a_probability_gets_the_policys_band_name() -> None:
    bands = load_policy().graph_risk_bands
    assert band_of(0.01, bands) == "LOW" and band_of(0.95, bands) == "SEVERE"
    assert band_of(1.0, bands) == "SEVERE"


# --- alerts ---


def test_an_alert_id_is_one_per_kind_and_subject() -> None:
    assert alert_id("HIGH_GRAPH_RISK", "C1") == alert_id("HIGH_GRAPH_RISK", "C1")
    assert alert_id("HIGH_GRAPH_RISK", "C1") != alert_id("HARD_REFUSAL", "C1")
    assert alert_id("HIGH_GRAPH_RISK", "C1") != alert_id("HIGH_GRAPH_RISK", "C2")


def test_a_high_score_raises_an_alert_at_the_policy_threshold() -> None:
    rows = [
        {"customer_id": "C1", "risk": ALERTS.high_graph_risk, "model": "m"},
        {"customer_id": "C2", "risk": ALERTS.high_graph_risk - 0.01, "model": "m"},
        {"customer_id": "C3", "risk": None, "model": None},
    ]
    found = high_risk_alerts(rows, ALERTS)
    assert [(a.kind, a.customer_id) for a in found] == [(AlertKind.HIGH_GRAPH_RISK, "C1")]


def test_only_hard_reasons_raise_a_refusal_alert() -> None:
    rows = [
        {"subject": "as1", "customer_id": "C1", "reasons": ["HARD_BLACKLISTED", "LOW_X"],
         "business": "B", "at": 1},
        {"subject": "as2", "customer_id": "C2", "reasons": ["SCORE_ABOVE_T2"], "business": "B",
         "at": 1},
    ]  # fmt: skip
    found = hard_refusal_alerts(rows, ALERTS)
    assert [a.subject for a in found] == ["as1"]
    assert found[0].evidence["reasons"] == ["HARD_BLACKLISTED"]


def test_fraud_on_a_vouch_names_the_guarantor_and_the_decision() -> None:
    rows = [{"vouch_id": "dec_1:G", "guarantor_id": "G", "customer_id": "C", "business": "B",
             "at": 5}]  # fmt: skip
    (alert,) = fraud_vouch_alerts(rows, {"dec_1:G": "dec_1"})
    assert alert.customer_id == "C" and alert.decision_id == "dec_1"
    assert alert.evidence["guarantor_id"] == "G"


def test_a_ring_alert_needs_known_fraud_and_is_raised_once() -> None:
    ring = RingFinding("ring_1", "C1", ("C1", "C2", "C3"), 1, 10.0)
    clean = RingFinding("ring_2", "C4", ("C4", "C5", "C6"), 0, 10.0)
    found = ring_alerts([ring, ring, clean], ALERTS)
    assert [a.subject for a in found] == ["ring_1"]
    stricter = dataclasses.replace(ALERTS, ring_min_known_fraud=2)
    assert ring_alerts([ring], stricter) == []


def test_an_update_may_not_close_and_needs_something_to_change() -> None:
    with pytest.raises(ValueError, match=r"^state"):
        check_update("CLOSED", None, None)
    with pytest.raises(ValueError, match=r"^state"):
        check_update(None, None, None)
    with pytest.raises(ValueError, match=r"^note"):
        check_note("  ")
    with pytest.raises(ValueError, match=r"^assignee"):
        check_update(None, "", None)
    check_update("IN_PROGRESS", "ana", "note")
