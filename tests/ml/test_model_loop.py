"""Train -> version -> promote -> score, on a small synthetic bank, and scoring online."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from etl.load import Loader
from graph import queries as q
from graph.store import GraphStore
from ml.export import customer_ids, export_graph, export_neighbourhood
from ml.registry import RegistryError
from ml.serving import OnlineScorer, hide, load_promoted, load_version, score_store
from risk.policy import load_policy

BANDS = load_policy().graph_risk_bands


def test_training_writes_a_version_with_both_models_compared(trained_model: Any) -> None:
    registry, result = trained_model
    manifest = registry.show(result.version)
    assert manifest["kind"] == result.served
    assert set(manifest["comparison"]) == {"gnn", "baseline"}
    for key in ("feature_spec", "calibration", "metrics", "data_fingerprint", "code_version"):
        assert manifest[key], key
    assert 0.5 < manifest["metrics"]["roc_auc"] <= 1.0
    folder = registry.path(result.version)
    for name in ("report.json", "report.md", "roc.png", "pr.png", "calibration.png"):
        assert (folder / name).stat().st_size > 0, name
    report = (folder / "report.md").read_text()
    assert "gnn" in report and "baseline" in report
    models = result.summary["models"]  # the better one on validation serves
    assert result.served == max(models, key=lambda m: models[m]["val_metrics"]["pr_auc"])


def test_promote_then_batch_score_writes_every_customer(
    trained_model: Any, model_bank: GraphStore
) -> None:
    registry, result = trained_model
    registry.promote(result.version)
    model = load_promoted(registry)
    assert model is not None and model.version == result.version
    summary = score_store(model_bank, model, progress=False, bands=BANDS)
    export = export_graph(model_bank, progress=False)
    n = export.num_customers
    assert summary["customers"] == n and sum(summary["bands"].values()) == n
    scored = model_bank.run(q.SCORED_CUSTOMERS, {"limit": n + 1})
    assert len(scored) == n
    assert all(0 <= r["risk"] <= 1 and r["model"] == result.version for r in scored)
    assert {r["band"] for r in scored} <= {name for _, name in BANDS}
    # the highest scores hold far more labelled fraud than the base rate
    label = dict(zip(export.customer_ids, export.label.tolist(), strict=True))
    top = [label[r["id"]] for r in scored[: n // 20]]
    assert np.mean(top) > 3 * np.mean(export.label == 1)


def test_a_tampered_version_is_refused(trained_model: Any, tmp_path: Any) -> None:
    registry, result = trained_model
    weights = registry.path(result.version) / "weights.bin"
    original = weights.read_bytes()
    try:
        weights.write_bytes(original + b"x")
        with pytest.raises(RegistryError, match=r"weights\.bin"):
            load_version(registry, result.version)
    finally:
        weights.write_bytes(original)


def test_online_scores_match_the_model_on_the_same_neighbourhood(
    trained_model: Any, model_bank: GraphStore
) -> None:
    registry, result = trained_model
    model = load_version(registry, result.version)
    scorer = OnlineScorer(model_bank, model)
    now = model.manifest["as_of"]
    ids = [r["id"] for r in model_bank.run(q.CUSTOMER_IDS_PAGE, {"after": "", "limit": 20})]
    for customer in ids[:5]:
        risk = scorer.score_customer(customer, now)
        assert 0 <= risk.probability <= 1 and risk.model_version == result.version
        near = export_neighbourhood(
            model_bank,
            [customer],
            now,
            hops=model.hops,
            fanout=model.fanout,
            attribute_names=model.attribute_names,
        )
        seed = int(near.seeds[0])
        expected = model.fitted.predict_proba(near, hide(near.known_labels(), [seed]))[seed]
        assert risk.probability == pytest.approx(float(expected), rel=1e-5)
        assert set(risk.evidence) >= {"relations", "neighbours"}
        json.dumps(risk.evidence)  # evidence is stored with the decision
    with pytest.raises(LookupError):
        scorer.score_customer("NO-SUCH-CUSTOMER", now)


def test_pair_scores_for_a_vouch(trained_model: Any, model_bank: GraphStore) -> None:
    registry, result = trained_model
    model = load_version(registry, result.version)
    assert model.fitted.scores_pairs
    scorer = OnlineScorer(model_bank, model)
    export_rows = model_bank.run(q.CUSTOMER_IDS_PAGE, {"after": "", "limit": 2})
    a, b = (r["id"] for r in export_rows)
    risk = scorer.score_pair(a, b, model.manifest["as_of"])
    assert 0 <= risk.probability <= 1
    assert not np.isnan(risk.probability)


def test_cli_models_list_show_promote_and_score(trained_model: Any, model_bank: GraphStore) -> None:
    registry, result = trained_model
    env = {
        **os.environ,
        "VOUCHGRAPH_MODEL_DIR": str(registry.root),
        "VOUCHGRAPH_GRAPH_NAME": "model_bank",
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "cli", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )

    listed = cli("models", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert result.version in {v["name"] for v in json.loads(listed.stdout)}
    shown = cli("models", "show", result.version, "--json")
    assert json.loads(shown.stdout)["version"] == result.version
    assert cli("models", "promote", result.version).returncode == 0
    unknown = cli("models", "promote", "no-such-version")
    assert unknown.returncode == 2 and "no-such-version" in unknown.stderr
    scored = cli("score", "--json", "--quiet")
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["customers"] == len(customer_ids(model_bank))


# After the model-bank tests: on Neo4j its emptied database would make them reload the bank.
def test_a_new_customer_without_relations_gets_a_score(
    trained_model: Any, store: GraphStore, tmp_path: Path
) -> None:
    registry, result = trained_model
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,id_number,gender,birth_date,opened_at,status\n"
        "LONE,A,X1,F,1990-01-01,2026-01-01,active\n"
    )
    Loader(store, progress=False).load(tmp_path)
    model = load_version(registry, result.version)
    risk = OnlineScorer(store, model).score_customer("LONE", model.manifest["as_of"])
    assert 0 < risk.probability < 1
    assert risk.evidence["neighbours"] == [] and risk.evidence["relations"] == {}


def test_cli_trains_from_a_source_folder_and_leaves_no_scratch_graph(
    small_bank: Path, data_dir: Path, tmp_path: Path
) -> None:
    from graph import embedded

    env = {**os.environ, "VOUCHGRAPH_MODEL_DIR": str(tmp_path / "models")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "train",
            "--from",
            str(small_bank),
            "--epochs",
            "10",
            "--json",
            "--quiet",
            "--promote",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["dataset"]["customers"] == 1000
    assert set(summary["models"]) == {"gnn", "baseline"}
    assert (tmp_path / "models" / "PROMOTED").read_text().strip() == summary["version"]
    assert not [g for g in embedded.status(data_dir)["graphs"] if g.startswith("train_")]
    bad = subprocess.run(
        [sys.executable, "-m", "cli", "train", "--from", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "nowhere" in bad.stderr


def test_without_a_pair_head_the_guarantor_alone_is_scored(
    trained_model: Any, model_bank: GraphStore
) -> None:
    registry, result = trained_model
    model = load_version(registry, result.version)
    model.fitted.pair_calibration = None  # as if trained on a graph without vouch outcomes
    scorer = OnlineScorer(model_bank, model)
    a, b = (r["id"] for r in model_bank.run(q.CUSTOMER_IDS_PAGE, {"after": "", "limit": 2}))
    now = model.manifest["as_of"]
    pair = scorer.score_pair(a, b, now)
    assert pair.evidence["basis"] == "guarantor"
    assert pair.probability == pytest.approx(scorer.score_customer(b, now).probability)
