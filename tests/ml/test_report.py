"""The evaluation report: JSON, Markdown and plots from a trainer's summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ml.metrics import evaluate
from ml.report import markdown, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(seed: int = 0, models: tuple[str, ...] = ("gnn", "baseline")) -> tuple[dict, dict]:
    rng = np.random.default_rng(seed)
    n = 400
    y = (rng.uniform(size=n) < 0.2).astype(np.int8)
    status = np.where(rng.uniform(size=n) < 0.9, "active", "closed").astype(object)
    status[:5] = "frozen"
    y[:5] = 0  # a segment with one class: its AUC is undefined
    segments = {"status": status}
    results: dict[str, Any] = {}
    predictions = {}
    for i, name in enumerate(models):
        prob = np.clip(0.25 * y + rng.uniform(0, 0.75 - 0.1 * i, n), 0, 1)
        results[name] = {
            "metrics": evaluate(y, prob, segments),
            "val_metrics": evaluate(y[:200], prob[:200]),
            "training": {"epochs": 12 + i, "seconds": 3.25, "lr": 0.0001},
        }
        predictions[name] = (y, prob)
    summary = {
        "title": "Test run",
        "dataset": {"customers": 1000, "labelled": n, "positives": int(y.sum()), "as_of": 42},
        "split": {"train": 600, "val": 200, "test": n, "seed": 7, "method": "stratified"},
        "models": results,
        "served": models[0],
        "served_reason": "higher validation PR-AUC",
    }
    return summary, predictions


def test_report_writes_all_five_files(tmp_path: Path) -> None:
    summary, predictions = _run()
    paths = write_report(tmp_path / "out", summary, predictions)
    assert set(paths) == {"json", "markdown", "roc", "pr", "calibration"}
    assert json.loads(paths["json"].read_text()) == summary
    for key in ("roc", "pr", "calibration"):
        data = paths[key].read_bytes()
        assert data.startswith(PNG_MAGIC), key
        assert len(data) < 200_000, key


def test_report_markdown_compares_the_models(tmp_path: Path) -> None:
    summary, predictions = _run()
    text = write_report(tmp_path, summary, predictions)["markdown"].read_text()
    assert text.startswith("# Test run")
    assert "| metric | gnn | baseline |" in text
    assert "**GNN vs baseline**" in text
    assert "**gnn**: higher validation PR-AUC" in text
    gnn_auc = summary["models"]["gnn"]["metrics"]["roc_auc"]
    assert f"| ROC-AUC | {gnn_auc:.3f} |" in text
    for link in (
        "![ROC](roc.png)",
        "![Precision-recall](pr.png)",
        "![Calibration](calibration.png)",
    ):
        assert link in text
    assert "- lr: 0.0001" in text  # a small training fact keeps its digits


def test_report_has_a_per_segment_table_with_dashes_for_undefined(tmp_path: Path) -> None:
    summary, predictions = _run()
    text = markdown(summary, predictions)
    assert "### status" in text
    header = next(line for line in text.splitlines() if line.startswith("| value |"))
    assert header == (
        "| value | n | positives | gnn ROC-AUC | gnn recall @ 1% FPR "
        "| baseline ROC-AUC | baseline recall @ 1% FPR |"
    )
    frozen = next(line for line in text.splitlines() if line.startswith("| frozen |"))
    assert frozen == "| frozen | 5 | 0 | – | – | – | – |"
    assert any(line.startswith("| active |") for line in text.splitlines())


def test_report_handles_a_single_model_without_a_comparison(tmp_path: Path) -> None:
    summary, predictions = _run(models=("baseline",))
    paths = write_report(tmp_path, summary, predictions)
    text = paths["markdown"].read_text()
    assert "| metric | baseline |" in text
    assert "GNN vs baseline" not in text
    assert paths["roc"].read_bytes().startswith(PNG_MAGIC)
