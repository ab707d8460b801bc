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
    assert policy.version == "2026-11-24.1"
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
            "customer.graph_risk.missing_model: must be one of 'refuse', 'neutral'",
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
