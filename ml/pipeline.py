"""`vouchgraph train`: export, split, train both models, evaluate, report, save a version.

The report (JSON, Markdown and plots) compares the GNN and the baseline on the same split with
the same metric code, and the better one on validation is the one the version serves.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from graph.store import GraphStore
from ml.export import GraphExport, export_graph
from ml.models.estimator import MANIFEST_FILE
from ml.registry import ModelRegistry
from ml.report import write_report
from ml.serving import manifest_for
from ml.train import Split, TrainConfig, evaluate_models, fit_models, served_model, stratified_split


@dataclasses.dataclass(frozen=True)
class TrainResult:
    """What one training run produced."""

    version: str
    served: str
    summary: dict[str, Any]
    split: Split
    predictions: dict[str, tuple[np.ndarray, np.ndarray]]  # model: (test labels, test probs)


def train_export(
    export: GraphExport,
    registry: ModelRegistry,
    config: TrainConfig,
    title: str = "VouchGraph graph risk model",
    split: Split | None = None,
    dataset: dict[str, Any] | None = None,
) -> TrainResult:
    """Trains, evaluates and saves one version from an export."""
    started = time.monotonic()
    split = split or stratified_split(export.label, config)
    fitted = fit_models(export, split, config)
    results, predictions = evaluate_models(export, split, fitted)
    served, reason = served_model(results)
    labelled = export.label >= 0
    summary: dict[str, Any] = {
        "title": title,
        "dataset": {
            "customers": export.num_customers,
            "labelled": int(labelled.sum()),
            "positives": int((export.label == 1).sum()),
            "as_of": export.as_of,
            "relations": {name: len(e) for name, e in export.edges.items()},
            "fingerprint": export.fingerprint(),
            **(dataset or {}),
        },
        "split": {**split.sizes(), "seed": config.seed, "method": split.method},
        "models": results,
        "served": served,
        "served_reason": reason,
        "seconds": round(time.monotonic() - started, 2),
    }
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_report(Path(tmp), summary, predictions)
        files: dict[str, bytes | Path] = {p.name: p.read_bytes() for p in paths.values()}
        # the model's files; its own manifest is part of the version's (`manifest_for`)
        fitted[served].save(Path(tmp) / "model")
        for path in (Path(tmp) / "model").iterdir():
            if path.name != MANIFEST_FILE:
                files[path.name] = path.read_bytes()
    manifest = manifest_for(fitted[served], export)
    manifest["metrics"] = results[served]["metrics"]
    manifest["val_metrics"] = results[served]["val_metrics"]
    if "pair_metrics" in results[served]:
        manifest["pair_metrics"] = results[served]["pair_metrics"]
    manifest["comparison"] = {
        name: {
            "roc_auc": r["metrics"]["roc_auc"],
            "pr_auc": r["metrics"]["pr_auc"],
            "val_pr_auc": r["val_metrics"]["pr_auc"],
        }
        for name, r in results.items()
    }
    manifest["served_reason"] = reason
    version = registry.create(manifest, files)
    return TrainResult(version, served, summary, split, predictions)


def train_store(
    store: GraphStore,
    registry: ModelRegistry,
    config: TrainConfig,
    as_of: int | None = None,
) -> TrainResult:
    """Trains from the graph in the store."""
    export = export_graph(store, as_of, progress=config.progress)
    return train_export(export, registry, config)
