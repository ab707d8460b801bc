"""Calibration: turns a model's raw scores (logits) into probabilities that match observed rates.

Two methods, both stored as plain JSON-safe numbers so a model version can carry its calibration:

- ``platt``: ``prob = sigmoid(a * score + b)``, fitted by Newton's method on the log-loss with
  Platt's smoothed targets (which keep ``a`` finite when the classes separate perfectly).
- ``isotonic``: a monotone step fit, stored as breakpoints and applied by linear interpolation
  (constant beyond the ends).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from sklearn.isotonic import IsotonicRegression

EPS = 1e-6
MIN_POSITIVES_FOR_ISOTONIC = 50
METHODS = ("platt", "isotonic")


def _sigmoid(z: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.exp(-np.logaddexp(0.0, -z))


def _scores(scores: np.ndarray, name: str = "scores") -> np.ndarray:
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return s


def _fit_input(scores: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = _scores(scores)
    labels = np.asarray(y)
    if labels.shape != s.shape:
        raise ValueError(f"y: length {labels.size} differs from scores' length {s.size}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError("y: labels must be 0 or 1")
    positives = int(labels.sum())
    if positives == 0 or positives == labels.size:
        raise ValueError("y: both classes are needed to fit a calibration")
    return s, labels.astype(np.float64)


@dataclass(frozen=True)
class Calibration:
    """A fitted score-to-probability map: ``method`` is "platt" (params a, b) or "isotonic"
    (params x, y: increasing score breakpoints and their probabilities)."""

    method: str
    params: dict[str, Any] = field(hash=False)

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method: expected one of {METHODS}, got {self.method!r}")

    def apply(self, scores: np.ndarray) -> np.ndarray:
        """Probabilities (float64, clipped to [1e-6, 1 - 1e-6]) for raw scores."""
        s = _scores(scores)
        if self.method == "platt":
            prob = _sigmoid(self.params["a"] * s + self.params["b"])
        else:
            prob = np.interp(s, self.params["x"], self.params["y"])
        return np.clip(prob, EPS, 1.0 - EPS)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form; ``from_dict`` restores an identical calibration."""
        return {"method": self.method, "params": _plain(self.params)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibration:
        return cls(str(data["method"]), _plain(data["params"]))


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, list | tuple | np.ndarray):
            out[key] = [float(v) for v in value]
        else:
            out[key] = float(value)
    return out


def _platt_loss(theta: np.ndarray, x: np.ndarray, t: np.ndarray, w: np.ndarray) -> float:
    z = theta[0] * x + theta[1]
    return float(np.sum(w * (t * np.logaddexp(0.0, -z) + (1.0 - t) * np.logaddexp(0.0, z))))


def fit_platt(
    scores: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None
) -> Calibration:
    """Platt scaling: fits ``sigmoid(a * score + b)`` to the labels."""
    s, labels = _fit_input(scores, y)
    w = np.ones_like(s) if sample_weight is None else np.asarray(sample_weight, np.float64)
    if w.shape != s.shape or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("sample_weight: expected one finite, non-negative weight per score")
    positives, negatives = w[labels == 1].sum(), w[labels == 0].sum()
    if positives <= 0 or negatives <= 0:
        raise ValueError("sample_weight: both classes need a positive total weight")
    # Platt's targets: slightly short of 0 and 1, so separable data has a finite optimum.
    t = np.where(labels == 1, (positives + 1) / (positives + 2), 1 / (negatives + 2))
    # Newton on standardised scores is well conditioned; a and b are mapped back at the end.
    centre, scale = float(np.mean(s)), float(np.std(s)) or 1.0
    x = (s - centre) / scale
    theta = np.array([0.0, np.log((positives + 1) / (negatives + 1))])
    loss = _platt_loss(theta, x, t, w)
    for _ in range(100):
        p = _sigmoid(theta[0] * x + theta[1])
        gradient = np.array([np.sum(w * (p - t) * x), np.sum(w * (p - t))])
        h = w * p * (1.0 - p)
        hessian = np.array([[np.sum(h * x * x), np.sum(h * x)], [np.sum(h * x), np.sum(h)]])
        step = np.linalg.solve(hessian + 1e-12 * np.eye(2), gradient)
        size = 1.0
        while size > 1e-10:
            candidate = theta - size * step
            new_loss = _platt_loss(candidate, x, t, w)
            if new_loss <= loss:
                break
            size /= 2
        else:
            break
        theta, converged = candidate, loss - new_loss <= 1e-12 * max(1.0, abs(loss))
        loss = new_loss
        if converged:
            break
    a = theta[0] / scale
    return Calibration("platt", {"a": float(a), "b": float(theta[1] - a * centre)})


def fit_isotonic(scores: np.ndarray, y: np.ndarray) -> Calibration:
    """Isotonic regression of the labels on the scores, kept as interpolation breakpoints."""
    s, labels = _fit_input(scores, y)
    model = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(s, labels)
    return Calibration(
        "isotonic",
        {"x": model.X_thresholds_.tolist(), "y": model.y_thresholds_.tolist()},
    )


def log_loss(y: np.ndarray, prob: np.ndarray) -> float:
    """Mean negative log-likelihood of 0/1 labels under the probabilities."""
    p = np.clip(np.asarray(prob, np.float64), EPS, 1.0 - EPS)
    labels = np.asarray(y, np.float64)
    return float(-np.mean(labels * np.log(p) + (1.0 - labels) * np.log(1.0 - p)))


def choose_calibration(scores_val: np.ndarray, y_val: np.ndarray, seed: int = 0) -> Calibration:
    """The better of Platt and isotonic on validation scores, refitted on all of them.

    "Better" is the lower log-loss in a 2-fold cross-fit (fit on one half, score the other), so
    isotonic's tendency to memorise is not rewarded. With fewer than 50 of either class the
    cross-fit is too noisy to trust and Platt is used.
    """
    s, labels = _fit_input(scores_val, y_val)
    positives = int(labels.sum())
    if min(positives, labels.size - positives) < MIN_POSITIVES_FOR_ISOTONIC:
        return fit_platt(s, labels)
    rng = np.random.default_rng(seed)
    fold = np.empty(labels.size, dtype=np.int8)
    for cls in (0, 1):  # stratified halves: each class split evenly between the folds
        members = rng.permutation(np.flatnonzero(labels == cls))
        fold[members] = np.arange(members.size) % 2
    losses = {"platt": 0.0, "isotonic": 0.0}
    for k in (0, 1):
        fit, held = fold != k, fold == k
        for method, fitter in (("platt", fit_platt), ("isotonic", fit_isotonic)):
            calibration = fitter(s[fit], labels[fit])
            losses[method] += log_loss(labels[held], calibration.apply(s[held]))
    if losses["isotonic"] < losses["platt"]:
        return fit_isotonic(s, labels)
    return fit_platt(s, labels)
