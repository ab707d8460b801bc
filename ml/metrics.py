"""Evaluation metrics shared by every model, so the GNN and the baseline are scored alike.

All functions take labels in {0, 1} and probabilities in [0, 1]. A metric that is undefined for
the data (one class only, or no rows) is ``None`` rather than an error, so a small segment never
breaks a training run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

DEFAULT_FPRS: tuple[float, ...] = (0.001, 0.01, 0.05, 0.1)


def _checked(y_true: np.ndarray, prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    p = np.asarray(prob, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"y_true: expected a 1-D array, got shape {y.shape}")
    if p.shape != y.shape:
        raise ValueError(f"prob: length {p.size} differs from y_true's length {y.size}")
    if y.dtype.kind not in "biuf":
        raise ValueError(f"y_true: expected 0/1 labels, got dtype {y.dtype}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y_true: labels must be 0 or 1")
    if not np.isfinite(p).all():
        raise ValueError("prob: contains NaN or infinite values")
    if p.size and (p.min() < 0.0 or p.max() > 1.0):
        raise ValueError("prob: probabilities must lie in [0, 1]")
    return y.astype(np.int8), p


def _two_classes(y: np.ndarray) -> bool:
    positives = int(y.sum())
    return 0 < positives < y.size


def _fpr_key(fpr: float) -> str:
    return f"{fpr:g}"


def roc_auc(y_true: np.ndarray, prob: np.ndarray) -> float | None:
    """Area under the ROC curve; None when only one class is present."""
    y, p = _checked(y_true, prob)
    return float(roc_auc_score(y, p)) if _two_classes(y) else None


def pr_auc(y_true: np.ndarray, prob: np.ndarray) -> float | None:
    """Average precision (area under the precision-recall curve); None for one class."""
    y, p = _checked(y_true, prob)
    return float(average_precision_score(y, p)) if _two_classes(y) else None


def recall_at_fpr(
    y_true: np.ndarray, prob: np.ndarray, fprs: Sequence[float] = DEFAULT_FPRS
) -> dict[str, float | None]:
    """Recall at each false-positive-rate budget: the most recall any threshold reaches without
    its FPR exceeding the budget. Keys are the budgets as short strings ("0.01")."""
    y, p = _checked(y_true, prob)
    for f in fprs:
        if not 0.0 < f <= 1.0:
            raise ValueError(f"fprs: {f} is not in (0, 1]")
    if not _two_classes(y):
        return {_fpr_key(f): None for f in fprs}
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    # tpr never decreases along the curve, so the last point within budget has the most recall
    return {_fpr_key(f): float(tpr[np.searchsorted(fpr, f, side="right") - 1]) for f in fprs}


def reliability(
    y_true: np.ndarray, prob: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal-width reliability bins on [0, 1]: (mean predicted, observed rate, count) per bin.

    Empty bins have count 0 and NaN means."""
    y, p = _checked(y_true, prob)
    if bins < 1:
        raise ValueError(f"bins: expected at least 1, got {bins}")
    index = np.minimum((p * bins).astype(np.int64), bins - 1)
    count = np.bincount(index, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_pred = np.bincount(index, weights=p, minlength=bins) / count
        observed = np.bincount(index, weights=y, minlength=bins) / count
    return mean_pred, observed, count


def expected_calibration_error(
    y_true: np.ndarray, prob: np.ndarray, bins: int = 10
) -> float | None:
    """ECE: the count-weighted mean gap between predicted and observed rate per bin."""
    mean_pred, observed, count = reliability(y_true, prob, bins)
    if count.sum() == 0:
        return None
    full = count > 0
    gaps = np.abs(mean_pred[full] - observed[full])
    return float(np.sum(gaps * count[full]) / count.sum())


def _ranking(y: np.ndarray, p: np.ndarray, fprs: Sequence[float]) -> dict[str, Any]:
    return {
        "n": int(y.size),
        "positives": int(y.sum()),
        "roc_auc": roc_auc(y, p),
        "pr_auc": pr_auc(y, p),
        "recall_at_fpr": recall_at_fpr(y, p, fprs),
    }


def evaluate(
    y_true: np.ndarray,
    prob: np.ndarray,
    segments: Mapping[str, np.ndarray] | None = None,
    fprs: Sequence[float] = DEFAULT_FPRS,
    bins: int = 10,
) -> dict[str, Any]:
    """Every metric the reports use, as a JSON-serialisable dict.

    ``segments`` maps a segment name to one value per row; each value gets its own ranking
    metrics under ``per_segment[name][str(value)]``.
    """
    y, p = _checked(y_true, prob)
    result = _ranking(y, p, fprs)
    result.update(
        {
            "ece": expected_calibration_error(y, p, bins),
            "brier": float(np.mean((p - y) ** 2)) if y.size else None,
            "base_rate": float(y.mean()) if y.size else None,
            "per_segment": {},
        }
    )
    for name, values in (segments or {}).items():
        keys = np.asarray(values)
        if keys.shape != y.shape:
            raise ValueError(
                f"segments[{name!r}]: length {keys.size} differs from y_true's length {y.size}"
            )
        keys = keys.astype(str)
        result["per_segment"][name] = {
            str(value): _ranking(y[keys == value], p[keys == value], fprs)
            for value in np.unique(keys)
        }
    return result


def bootstrap_ci(
    y_true: np.ndarray,
    prob: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float | None] = roc_auc,
    n: int = 200,
    seed: int = 0,
) -> tuple[float, float]:
    """95% percentile bootstrap interval of ``metric``; resamples where it is undefined are
    skipped. Raises ValueError when it is undefined on every resample."""
    y, p = _checked(y_true, prob)
    if y.size == 0:
        raise ValueError("y_true: no rows to resample")
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(n):
        pick = rng.integers(0, y.size, y.size)
        value = metric(y[pick], p[pick])
        if value is not None:
            values.append(value)
    if not values:
        raise ValueError("y_true: the metric is undefined on every resample (one class?)")
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)
