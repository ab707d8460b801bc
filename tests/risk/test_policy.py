"""The risk policy file: the shipped one loads, and every bad value is named by its key path."""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from risk.policy import (
    POLICY_ENV,
    PolicyError,
    UnknownBusiness,
    load_policy,
    parse_policy,
    without_model_policy,
)

SHIPPED_BUSINESSES = ("CROSS_BORDER_TRANSFER", "UNFAMILIAR_ACCOUNT_TRANSFER", "INSURANCE_PURCHASE")


def shipped_doc() -> dict[str, Any]:
    """The shipped policy as plain data, for a test to change one value of."""
    return tomllib.loads(resources.files("risk").joinpath("policy.toml").read_text("utf-8"))


def dump(doc: dict[str, Any]) -> str:
    """Just enough of a TOML writer for policy documents."""
    lines: list[str] = []

    def key(k: str) -> str:
        return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else json.dumps(k)

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, float) and v != v:
            return "nan"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        return "{ " + ", ".join(f"{key(k)} = {value(x)}" for k, x in v.items()) + " }"

    def table(path: list[str], t: dict[str, Any]) -> None:
        if path:
            lines.append("[" + ".".join(key(p) for p in path) + "]")
        lines.extend(f"{key(k)} = {value(v)}" for k, v in t.items() if not isinstance(v, dict))
        for k, v in t.items():
            if isinstance(v, dict):
                table([*path, k], v)

    table([], doc)
    return "\n".join(lines) + "\n"


def parse_changed(change: Callable[[dict[str, Any]], None]) -> None:
    doc = copy.deepcopy(shipped_doc())
    change(doc)
    parse_policy(dump(doc))


def business(doc: dict[str, Any], name: str = "CROSS_BORDER_TRANSFER") -> dict[str, Any]:
    table: dict[str, Any] = doc["businesses"][name]
    return table


# --- the shipped policy -----------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED_BUSINESSES)
def test_every_shipped_business_loads(name: str) -> None:
    policy = load_policy()
    b = policy.business(name)
    assert b.name == name
    assert b.t1 > 0 and b.t2 > 0
    assert b.assist.request_ttl_seconds == 600


def test_shipped_policy_has_a_version_and_a_digest() -> None:
    policy = load_policy()
    assert policy.version == "2026-12-02.2"
    assert re.fullmatch(r"[0-9a-f]{64}", policy.sha256)


def test_shipped_policy_refuses_a_missing_model_by_default() -> None:
    for b in load_policy().businesses.values():
        assert b.customer.graph_risk.missing_model == "refuse"
        assert b.guarantor.graph_risk.missing_model == "refuse"


def test_writer_round_trips_the_shipped_policy() -> None:
    assert parse_policy(dump(shipped_doc())).businesses.keys() == load_policy().businesses.keys()


# --- where the policy comes from --------------------------------------------------------------


def test_env_var_names_another_policy_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = shipped_doc()
    doc["version"] = "test-env"
    path = tmp_path / "policy.toml"
    path.write_text(dump(doc))
    monkeypatch.setenv(POLICY_ENV, str(path))
    policy = load_policy()
    assert policy.version == "test-env"
    assert policy.source == str(path)


def test_explicit_path_wins_over_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = shipped_doc()
    doc["version"] = "explicit"
    path = tmp_path / "explicit.toml"
    path.write_text(dump(doc))
    monkeypatch.setenv(POLICY_ENV, str(tmp_path / "absent.toml"))
    assert load_policy(path).version == "explicit"


def test_unreadable_policy_file_is_a_policy_error(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="cannot read the policy file"):
        load_policy(tmp_path / "absent.toml")


def test_invalid_toml_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="not valid TOML"):
        parse_policy("version = \n")


def test_unknown_business_is_a_policy_error() -> None:
    with pytest.raises(UnknownBusiness, match="SKYDIVING"):
        load_policy().business("SKYDIVING")


# --- validation names the key path -------------------------------------------------------------


def _set(path: str, v: Any) -> Callable[[dict[str, Any]], None]:
    """A change that sets the value at a dotted path (`[i]` indexes a list)."""
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)

    def change(doc: dict[str, Any]) -> None:
        node: Any = doc
        for p in parts[:-1]:
            node = node[int(p[1:-1])] if p.startswith("[") else node.setdefault(p, {})
        last = parts[-1]
        if last.startswith("["):
            node[int(last[1:-1])] = v
        else:
            node[last] = v

    return change


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    *parents, last = path.split(".")

    def change(doc: dict[str, Any]) -> None:
        node = doc
        for p in parents:
            node = node[p]
        del node[last]

    return change


CBT = "businesses.CROSS_BORDER_TRANSFER"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set("colour", "blue"), "colour: unknown key"),
        (_set(f"{CBT}.t3", 10), f"{CBT}.t3: unknown key"),
        (_set("customer.age.median", 40), "customer.age.median: unknown key"),
        (_set("customer.shoe_size", {}), "customer.shoe_size: unknown key"),
        (_set("hard_rules.refuse_on_rain", True), "hard_rules.refuse_on_rain: unknown key"),
        (
            _set(f"{CBT}.eligibility.max_age", 3),
            f"{CBT}.eligibility.max_age: unknown key",
        ),
        (
            _set(f"{CBT}.customer.age", {**shipped_doc()["customer"]["age"], "cap": 1}),
            f"{CBT}.customer.age.cap: unknown key",
        ),
        (
            _set("customer.face_similarity.bands[0]", {"lo": 0, "hi": 0.5, "points": 1, "x": 1}),
            "customer.face_similarity.bands[0].x: unknown key",
        ),
    ],
)
def test_policy_rejects_unknown_key_naming_its_path(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(PolicyError) as err:
        parse_changed(change)
    assert str(err.value) == message


FACE = "customer.face_similarity.bands"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_set(f"{CBT}.t1", 0), f"{CBT}.t1: must be a positive number"),
        (_set(f"{CBT}.t1", -5), f"{CBT}.t1: must be a positive number"),
        (_set(f"{CBT}.t1", "30"), f"{CBT}.t1: must be a positive number"),
        (_set(f"{CBT}.t1", True), f"{CBT}.t1: must be a positive number"),
        (_set(f"{CBT}.t2", float("nan")), f"{CBT}.t2: must be a positive number"),
        (_delete(f"{CBT}.t2"), f"{CBT}.t2: missing"),
        (_delete("version"), "version: missing"),
        (_set("version", ""), "version: must be a non-empty string"),
        (
            _set(f"{CBT}.combination.customer_weight", -0.1),
            f"{CBT}.combination.customer_weight: must be a number >= 0",
        ),
        (
            _set(f"{CBT}.combination.method", "product"),
            f"{CBT}.combination.method: must be one of 'sum', 'weighted'",
        ),
        (
            _set(f"{CBT}.combination.guarantors", "median"),
            f"{CBT}.combination.guarantors: must be one of 'mean', 'max', 'min'",
        ),
        (
            _set(
                f"{CBT}.combination", {"method": "sum", "guarantors": "max", "customer_weight": 1}
            ),
            f'{CBT}.combination.customer_weight: only allowed with method = "weighted"',
        ),
        (
            _set(
                f"{CBT}.combination",
                {
                    "method": "weighted",
                    "guarantors": "max",
                    "customer_weight": 0,
                    "guarantor_weight": 0,
                },
            ),
            f"{CBT}.combination: customer_weight and guarantor_weight are both 0",
        ),
        (
            _set(f"{FACE}[2]", {"lo": 0.75, "hi": 0.8, "points": 25}),
            f"{FACE}[2].lo: must be 0.7 (bands follow on without gap or overlap)",
        ),
        (
            _set(f"{FACE}[2]", {"lo": 0.65, "hi": 0.8, "points": 25}),
            f"{FACE}[2].lo: must be 0.7 (bands follow on without gap or overlap)",
        ),
        (
            _set(f"{FACE}[0]", {"lo": 0.1, "hi": 0.5, "points": 100}),
            f"{FACE}[0].lo: must be 0 (bands start at 0)",
        ),
        (
            _set(f"{FACE}[4]", {"lo": 0.9, "hi": 0.99, "points": 0}),
            f"{FACE}[4].hi: the last band must end at 1 (the bands cover [0, 1])",
        ),
        (
            _set(f"{FACE}[4]", {"lo": 0.9, "points": 0}),
            f"{FACE}[4].hi: the last band must end at 1 (the bands cover [0, 1])",
        ),
        (
            _set(f"{FACE}[1]", {"lo": 0.5, "hi": 0.5, "points": 45}),
            f"{FACE}[1].hi: must be greater than lo (0.5)",
        ),
        (_set(FACE, []), f"{FACE}: must be a non-empty list of bands {{lo, hi, points}}"),
        (
            _set("customer.age.bands[1]", {"lo": 18, "points": 15}),
            "customer.age.bands[1].hi: missing (only the last band is open)",
        ),
        (
            _set("customer.age.bands[4]", {"lo": 70, "hi": 150, "points": 25}),
            "customer.age.bands[4].hi: the last band is open-ended (leave out hi)",
        ),
        (
            _set("customer.age.bands[0].points", -1),
            "customer.age.bands[0].points: must be a number >= 0",
        ),
        (_delete("customer.id_check.CHIP_MISMATCH"), "customer.id_check.CHIP_MISMATCH: missing"),
        (_delete("guarantor.relationship"), "guarantor.relationship: missing"),
        (
            _set("customer.graph_risk.missing_model", "ignore"),
            "customer.graph_risk.missing_model: must be one of 'refuse', 'neutral', 'unscored'",
        ),
        (
            _set("customer.rejections.points.suspected_fraud", 50),
            "customer.rejections.points.suspected_fraud: a reason code must be UPPER_SNAKE_CASE",
        ),
        (
            _set("customer.rejections.window_days", 0),
            "customer.rejections.window_days: must be an integer >= 1",
        ),
        (
            _set("hard_rules.face_similarity_below", 1.5),
            "hard_rules.face_similarity_below: must be a number in [0, 1]",
        ),
        (
            _set("hard_rules.refuse_blacklisted", "yes"),
            "hard_rules.refuse_blacklisted: must be true or false",
        ),
        (
            _set("eligibility.channels", ["SMS", "EMAIL"]),
            "eligibility.channels[1]: must be one of 'SMS', 'MOBILE_BANKING'",
        ),
        (_set("eligibility.channels", []), "eligibility.channels: must not be empty"),
        (
            _set("eligibility.max_candidates", 0),
            "eligibility.max_candidates: must be an integer >= 1",
        ),
        (
            _set(f"{CBT}.eligibility.min_candidates", 9),
            "eligibility.max_candidates: must be >= min_candidates (9)",
        ),
        (
            _set(f"{CBT}.eligibility.relationship_kinds", {"KIN": [], "SOCIAL": []}),
            f"{CBT}.eligibility.relationship_kinds: at least one relationship kind must be allowed",
        ),
        (
            _set("eligibility.relationship_kinds.KIN", ["Spouse"]),
            "eligibility.relationship_kinds.KIN[0]: 'Spouse' is not lower_snake_case",
        ),
        (
            _set(f"{CBT}.assist.max_guarantors", 0),
            f"{CBT}.assist.max_guarantors: must be an integer >= 1",
        ),
        (
            _set("eligibility.history_days", 100),
            "eligibility.history_days: must cover vouch_window_days and bad_outcome_window_days",
        ),
        (_set("eligibility.max_related", 0), "eligibility.max_related: must be an integer >= 1"),
        (
            _set("assist.assessment_ttl_seconds", 60),
            "assist.assessment_ttl_seconds: must be at least request_ttl_seconds (600)",
        ),
        (
            _set("assist.max_token_failures", 0),
            "assist.max_token_failures: must be an integer >= 1",
        ),
        (_set("assist.message", " "), "assist.message: must be 1 to 320 characters"),
        (
            _delete("customer.movement.recent_account_days"),
            "customer.movement.recent_account_days: missing",
        ),
        (
            _set("businesses.cross_border", business(shipped_doc())),
            "businesses.cross_border: a business name must be UPPER_SNAKE_CASE",
        ),
        (_set("businesses", {}), "businesses: at least one business must be configured"),
        (_set("customer.age", 40), "customer.age: must be a table"),
    ],
)
def test_policy_rejects_bad_values_naming_their_path(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(PolicyError) as err:
        parse_changed(change)
    assert str(err.value).startswith(message)


def test_policy_error_is_a_value_error() -> None:
    assert issubclass(PolicyError, ValueError)


# --- per-business overrides ---------------------------------------------------------------------


def test_business_override_replaces_an_item_table_for_that_business_only() -> None:
    doc = shipped_doc()
    business(doc)["customer"] = {"address": {"missing_points": 99}}
    policy = parse_policy(dump(doc))
    assert policy.business("CROSS_BORDER_TRANSFER").customer.address_missing_points == 99
    assert policy.business("INSURANCE_PURCHASE").customer.address_missing_points == 10
    # The other items of the card keep their defaults.
    cbt, ins = (policy.business(n) for n in ("CROSS_BORDER_TRANSFER", "INSURANCE_PURCHASE"))
    assert cbt.customer.face_similarity == ins.customer.face_similarity


def test_business_override_replaces_single_eligibility_keys() -> None:
    policy = load_policy()
    insurance = policy.business("INSURANCE_PURCHASE").eligibility
    transfer = policy.business("CROSS_BORDER_TRANSFER").eligibility
    assert insurance.relationship_kinds["SOCIAL"] == frozenset()
    assert "spouse" in insurance.relationship_kinds["KIN"]
    assert "colleague" in transfer.relationship_kinds["SOCIAL"]
    assert insurance.channels == transfer.channels  # not overridden: the default


def test_sum_combination_weighs_both_sides_as_one() -> None:
    c = load_policy().business("UNFAMILIAR_ACCOUNT_TRANSFER").combination
    assert (c.method, c.customer_weight, c.guarantor_weight) == ("sum", 1.0, 1.0)


def test_face_similarity_bands_cover_zero_to_one() -> None:
    bands = load_policy().business("CROSS_BORDER_TRANSFER").customer.face_similarity
    assert bands.bands[0].lo == 0 and bands.bands[-1].hi == 1
    assert bands.find(1.0) is bands.bands[-1]
    assert bands.label(bands.bands[-1]) == "[0.9, 1]"


# --- missing data never helps ----------------------------------------------------------------

GUARANTOR_READS = ("face", "identity", "basic_info", "transactions", "credit", "vouching_history")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _set("customer.credit_grade.missing", 20),
            "customer.credit_grade.missing: 20 is below the worst known value 60 (grade D)",
        ),
        (
            _set("guarantor.credit_grade.missing", 45),
            "guarantor.credit_grade.missing: 45 is below the worst known value 60 (grade D)",
        ),
        (
            _set("customer.age.missing_points", 10),
            "customer.age.missing_points: 10 is below the worst known value 40 (band [0, 18))",
        ),
        (
            _set("customer.account_age_days.missing_points", 20),
            "customer.account_age_days.missing_points: 20 is below the worst known value 30 "
            "(band [0, 30))",
        ),
        (
            _set("customer.movement.missing_points", 15),
            "customer.movement.missing_points: 15 is below the worst known value 155 "
            "(the worst band of each measure plus dormant_then_active_points)",
        ),
        (
            _set("customer.rejections.missing_points", 20),
            "customer.rejections.missing_points: 20 is below the worst known value 80 (max_points)",
        ),
        (
            _set("guarantor.vouch_history.missing_points", 15),
            "guarantor.vouch_history.missing_points: 15 is below the worst known value 100 "
            "(max_points)",
        ),
        (
            _set("customer.graph_risk.missing_points", 40),
            "customer.graph_risk.missing_points: 40 is below the worst known value 100 "
            "(band [0.8, 1])",
        ),
        (
            _set("guarantor.graph_risk.missing_model", "neutral"),
            None,  # the shipped 100 covers the top band: allowed
        ),
        (
            _set("guarantor.relationship.no_path_points", 10),
            "guarantor.relationship.no_path_points: 10 is below the worst known value 20 "
            "(default_points)",
        ),
        (
            _set("customer.household_check.MISMATCH", 40),
            "customer.household_check.missing: 0 is below the worst known value 40 (MISMATCH)",
        ),
        (
            _set("customer.credit_grade.missing", "later"),
            'customer.credit_grade.missing: must be a number >= 0 or "refer"',
        ),
        (
            _set("customer.account_status.missing", 100),
            "customer.account_status.missing: 100 is below the worst known value, a refusal "
            '(closed refused at once by hard_rules.refuse_account_statuses): make it "refer"',
        ),
        (
            _set(
                f"{CBT}.guarantor.account_status",
                {"active": 0, "dormant": 25, "closed": 100, "missing": 100},
            ),
            f"{CBT}.guarantor.account_status.missing: 100 is below the worst known value, a "
            "refusal (closed refused at once by hard_rules.refuse_account_statuses): "
            'make it "refer"',
        ),
    ],
)
def test_policy_refuses_missing_data_that_scores_below_the_worst_known_value(
    change: Callable[[dict[str, Any]], None], message: str | None
) -> None:
    if message is None:
        parse_changed(change)
        return
    with pytest.raises(PolicyError) as err:
        parse_changed(change)
    assert str(err.value) == message


@pytest.mark.parametrize("section", ["customer.rejections", "guarantor.vouch_history"])
def test_an_uncapped_count_item_can_only_refer(section: str) -> None:
    card, item = section.split(".")
    per = "rejection" if item == "rejections" else "vouch"

    def uncapped(doc: dict[str, Any], missing: Any) -> None:
        del doc[card][item]["max_points"]
        doc[card][item]["missing_points"] = missing

    with pytest.raises(PolicyError) as err:
        parse_changed(lambda doc: uncapped(doc, 1000))
    assert str(err.value) == (
        f"{section}.missing_points: 1000 cannot cover the worst known value "
        f'(points per {per} have no bound): set max_points, or "refer"'
    )
    parse_changed(lambda doc: uncapped(doc, "refer"))


def test_refer_is_accepted_for_any_missing_value() -> None:
    def refer_all(doc: dict[str, Any]) -> None:
        doc["customer"]["credit_grade"]["missing"] = "refer"
        doc["customer"]["age"]["missing_points"] = "refer"
        doc["guarantor"]["vouch_history"]["missing_points"] = "refer"

    parse_changed(refer_all)


def test_a_status_no_hard_rule_refuses_may_be_covered_by_points() -> None:
    def lenient(doc: dict[str, Any]) -> None:
        doc["hard_rules"]["refuse_account_statuses"] = []
        doc["customer"]["account_status"]["missing"] = 100

    parse_changed(lenient)


def test_shipped_policy_covers_every_missing_item_with_the_worst_or_a_referral() -> None:
    # The loader enforces it; this names the shipped choices so a change is deliberate.
    b = load_policy().business("CROSS_BORDER_TRANSFER")
    c, g = b.customer, b.guarantor
    assert c.credit_grade["missing"] == c.credit_grade["D"] == 60
    assert (c.age.missing_points, c.account_age_days.missing_points) == (40, 30)
    assert (c.rejections.max_points, c.rejections.missing_points) == (80, 80)
    assert (g.vouch_history.max_points, g.vouch_history.missing_points) == (100, 100)
    assert c.account_status.refer_missing and g.account_status.refer_missing
    assert c.movement.refer_missing and g.movement.refer_missing
    assert c.graph_risk.missing_points == g.graph_risk.missing_points == 100
    assert set(c.household_check.points.values()) == {0} and c.household_check.missing_points == 0


# --- consents the policy requires ---------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED_BUSINESSES)
def test_shipped_policy_names_the_consents_each_side_must_give(name: str) -> None:
    b = load_policy().business(name)
    assert b.applicant_required_consents == ("basic_info", "face", "identity")
    assert b.assist.guarantor_required_consents == GUARANTOR_READS


def test_a_business_may_require_other_applicant_consents() -> None:
    doc = shipped_doc()
    business(doc)["applicant_required_consents"] = ["basic_info", "face", "identity", "credit"]
    policy = parse_policy(dump(doc))
    assert "credit" in policy.business("CROSS_BORDER_TRANSFER").applicant_required_consents
    assert "credit" not in policy.business("INSURANCE_PURCHASE").applicant_required_consents


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            _set("applicant_required_consents", ["face", "dna"]),
            "applicant_required_consents[1]: must be one of 'basic_info', 'face'",
        ),
        (
            _set(f"{CBT}.applicant_required_consents", ["face", "face"]),
            f"{CBT}.applicant_required_consents: lists a value twice",
        ),
        (_delete("applicant_required_consents"), "applicant_required_consents: missing"),
        (
            _set("assist.guarantor_required_consents", []),
            "assist.guarantor_required_consents: must not be empty",
        ),
        (
            _set(f"{CBT}.assist.guarantor_required_consents", ["gps"]),
            f"{CBT}.assist.guarantor_required_consents[0]: must be one of 'basic_info'",
        ),
        (
            _set("hard_rules.refuse_account_statuses", ["gone"]),
            "hard_rules.refuse_account_statuses[0]: must be one of 'active', 'dormant', 'closed'",
        ),
        (
            _set("eligibility.device_cluster", "maybe"),
            "eligibility.device_cluster: must be one of 'ineligible', 'allow'",
        ),
        (
            _set(f"{CBT}.eligibility.transfer_ring", "warn"),
            f"{CBT}.eligibility.transfer_ring: must be one of 'ineligible', 'allow'",
        ),
    ],
)
def test_policy_rejects_bad_consent_and_eligibility_lists(
    change: Callable[[dict[str, Any]], None], message: str
) -> None:
    with pytest.raises(PolicyError) as err:
        parse_changed(change)
    assert str(err.value).startswith(message)


def test_shipped_policy_refuses_closed_accounts_and_self_vouching_links() -> None:
    b = load_policy().business("INSURANCE_PURCHASE")
    assert b.hard_rules.refuse_account_statuses == frozenset({"closed"})
    assert (b.eligibility.device_cluster, b.eligibility.transfer_ring) == (
        "ineligible",
        "ineligible",
    )
    assert b.eligibility.channel_order == ("SMS", "MOBILE_BANKING")


# --- the policy without the graph model ---------------------------------------------------------


@pytest.mark.parametrize("points", [0, 25])
def test_without_model_policy_scores_the_graph_risk_item_as_a_constant(points: float) -> None:
    policy = without_model_policy(graph_risk_points=points)
    assert policy.version == "no-model-" + load_policy().version
    assert not policy.refuses_without_model()
    for b in policy.businesses.values():
        for card in (b.customer, b.guarantor):
            assert (card.graph_risk.missing_model, card.graph_risk.missing_points) == (
                "unscored",
                points,
            )
