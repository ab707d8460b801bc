"""The policy is the one place that names businesses: the GraphQL enum and the ETL's business
columns follow the policy the service loads, and a graph-risk band's name is the policy's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib import resources
from pathlib import Path

import pytest

from etl.sources import SOURCES, SOURCES_BY_NAME, policy_businesses, sources_for
from etl.synth.vocabulary import BUSINESSES as SYNTH_BUSINESSES
from etl.validate import RowError, validate_row
from graph.vocab import POLICY_ENV
from ml.serving import band
from risk.policy import PolicyError, load_policy, parse_policy

ROOT = Path(__file__).resolve().parents[2]
EXTRA = """
[businesses.MORTGAGE_TOP_UP]
t1 = 35
t2 = 50
combination = { method = "sum", guarantors = "max" }
"""


def _shipped() -> str:
    return resources.files("risk").joinpath("policy.toml").read_text(encoding="utf-8")


def _policy_with_extra_business(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(_shipped() + EXTRA, encoding="utf-8")
    return path


def _rejection(business: str) -> dict[str, str]:
    return {
        "rejection_id": "R1",
        "customer_id": "C1",
        "business": business,
        "reason_code": "LIMIT_EXCEEDED",
        "ts": "2026-01-02",
    }


def test_the_etl_accepts_exactly_the_shipped_policys_businesses() -> None:
    assert policy_businesses() == tuple(load_policy().businesses)
    rejections = SOURCES_BY_NAME["rejections"]
    assert not isinstance(
        validate_row(rejections, _rejection("INSURANCE_PURCHASE"), "r", 2), RowError
    )
    assert isinstance(validate_row(rejections, _rejection("MORTGAGE_TOP_UP"), "r", 2), RowError)


def test_the_etl_takes_a_loaded_policys_list(tmp_path: Path) -> None:
    policy = load_policy(_policy_with_extra_business(tmp_path))
    sources = {s.name: s for s in sources_for(policy.businesses)}
    row = validate_row(
        sources["vouches"],
        {
            "vouch_id": "V1",
            "guarantor_id": "G1",
            "customer_id": "C1",
            "business": "MORTGAGE_TOP_UP",
            "ts": "2026-01-02",
            "outcome": "NO_ISSUE",
        },
        "v",
        2,
    )
    assert not isinstance(row, RowError)
    assert sources_for(load_policy().businesses) == SOURCES


def test_a_policy_with_an_extra_business_reaches_the_schema_and_the_etl(tmp_path: Path) -> None:
    """No code edit: the policy file named by $VOUCHGRAPH_POLICY is all that changes."""
    path = _policy_with_extra_business(tmp_path)
    script = """
import json, strawberry
from api.schema import Business, Query, Mutation
from etl.sources import SOURCES_BY_NAME
from etl.validate import RowError, validate_row
sdl = strawberry.Schema(query=Query, mutation=Mutation).as_str()
row = {"rejection_id": "R1", "customer_id": "C1", "business": "MORTGAGE_TOP_UP",
       "reason_code": "LIMIT_EXCEEDED", "ts": "2026-01-02"}
checked = validate_row(SOURCES_BY_NAME["rejections"], row, "rejections.csv", 2)
print(json.dumps({"business": [b.name for b in Business],
                  "in_sdl": "MORTGAGE_TOP_UP" in sdl,
                  "etl_error": str(checked) if isinstance(checked, RowError) else None}))
"""
    env = {**os.environ, POLICY_ENV: str(path)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["business"] == [*load_policy().businesses, "MORTGAGE_TOP_UP"]
    assert seen["in_sdl"] is True
    assert seen["etl_error"] is None


def test_the_synthetic_banks_businesses_are_the_shipped_policys() -> None:
    assert set(SYNTH_BUSINESSES) <= set(load_policy().businesses)


def test_batch_score_bands_are_named_by_the_policy() -> None:
    text = _shipped().replace(
        'band_names = ["LOW", "GUARDED", "ELEVATED", "HIGH", "SEVERE"]',
        'band_names = ["B1", "B2", "B3", "B4", "B5"]',
    )
    bands = parse_policy(text).graph_risk_bands
    assert [band(p, bands) for p in (0.0, 0.1, 0.3, 0.6, 0.9, 1.0)] == [
        "B1",
        "B2",
        "B3",
        "B4",
        "B5",
        "B5",
    ]


def test_the_shipped_bands_are_the_ones_batch_scores_always_had() -> None:
    assert load_policy().graph_risk_bands == (
        (0.05, "LOW"),
        (0.2, "GUARDED"),
        (0.5, "ELEVATED"),
        (0.8, "HIGH"),
        (1.0, "SEVERE"),
    )


def test_band_names_must_name_every_band() -> None:
    text = _shipped().replace(
        'band_names = ["LOW", "GUARDED", "ELEVATED", "HIGH", "SEVERE"]', 'band_names = ["LOW"]'
    )
    with pytest.raises(PolicyError, match=r"customer\.graph_risk\.band_names: must name each"):
        parse_policy(text)
