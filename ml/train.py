"""Training: one split, every model kind the config names, and the same metrics for each.

`fit_models` trains each kind (`ml.models.kinds`) on a `GraphExport` and a `Split` of its
labelled customers; each comes back as a `RiskEstimator` that scores customers (and, when the
graph has vouches with known outcomes, (customer, guarantor) pairs) with calibrated
probabilities. `evaluate_models` scores them all with the same metric code.

Labels as inputs: a label known before `as_of` is a fact the bank has, and a neighbour's known
fraud is strong evidence. Only training labels are ever inputs (see each model kind for how a
customer's own label is kept from its own prediction).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ml.config import TrainConfig
from ml.export import GraphExport
from ml.metrics import evaluate
from ml.models.estimator import RiskEstimator
from ml.models.kinds import estimator_class
from ml.split import Split, pair_split, stratified_split, vouch_pairs

__all__ = [
    "Split",
    "TrainConfig",
    "evaluate_models",
    "fit_models",
    "served_model",
    "stratified_split",
    "vouch_pairs",
]


def fit_models(export: GraphExport, split: Split, config: TrainConfig) -> dict[str, RiskEstimator]:
    """Every model the config names, on the same export and split."""
    kinds = {name: estimator_class(name) for name in config.models}  # unknown names fail first
    return {name: kind(config).fit(export, split) for name, kind in kinds.items()}


def evaluate_models(
    export: GraphExport,
    split: Split,
    fitted: Mapping[str, RiskEstimator],
) -> tuple[dict[str, Any], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Metrics per model on validation and test (same code for all), and test predictions."""
    known = export.known_labels(split.mask(export.num_customers))
    segments = {k: v[split.test] for k, v in export.segments().items()}
    results: dict[str, Any] = {}
    predictions: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    customers, guarantors, bad = vouch_pairs(export)
    for name, model in fitted.items():
        prob = model.predict_proba(export, known)
        y = export.label
        results[name] = {
            "metrics": evaluate(y[split.test], prob[split.test], segments),
            "val_metrics": evaluate(y[split.val], prob[split.val]),
            "training": model.training,
        }
        predictions[name] = (y[split.test], prob[split.test])
        pairs_split = pair_split(bad, model.config)
        if model.scores_pairs and pairs_split is not None:
            t = pairs_split.test
            pair_prob = model.predict_pair_proba(export, known, customers[t], guarantors[t])
            results[name]["pair_metrics"] = evaluate(bad[t], pair_prob)
    return results, predictions


def served_model(results: Mapping[str, Any]) -> tuple[str, str]:
    """The model to serve: the better validation PR-AUC (ROC-AUC breaks ties)."""

    def key(name: str) -> tuple[float, float]:
        m = results[name]["val_metrics"]
        return (m["pr_auc"] or 0.0, m["roc_auc"] or 0.0)

    best = max(results, key=key)
    facts = ", ".join(f"{n} {key(n)[0]:.3f}" for n in results)
    return best, f"higher validation PR-AUC ({facts})"
