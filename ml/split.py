"""Which labelled customers (and vouches) train, validate and test a model, and how the
classes are weighted; the same for every model kind, so they are compared on one split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ml.config import TrainConfig
from ml.export import GraphExport


@dataclass(frozen=True)
class Split:
    """Indices of labelled customers (or pairs) for training, validation and test."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    method: str = "stratified random"

    def mask(self, n: int, part: str = "train") -> np.ndarray:
        out = np.zeros(n, bool)
        out[getattr(self, part)] = True
        return out

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def stratified_split(labels: np.ndarray, config: TrainConfig) -> Split:
    """A seeded split of the items with a label (>= 0), stratified by label."""
    rng = np.random.default_rng(config.seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for value in (0, 1):
        items = rng.permutation(np.flatnonzero(labels == value))
        n_test = round(len(items) * config.test_fraction)
        n_val = round(len(items) * config.val_fraction)
        parts["test"].append(items[:n_test])
        parts["val"].append(items[n_test : n_test + n_val])
        parts["train"].append(items[n_test + n_val :])
    out = {k: np.sort(np.concatenate(v)).astype(np.int64) for k, v in parts.items()}
    if min(len(labels[out[k]][labels[out[k]] == 1]) for k in out) == 0:
        raise ValueError("too few positive labels to split into train, validation and test")
    return Split(out["train"], out["val"], out["test"])


def vouch_pairs(export: GraphExport) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vouches whose outcome was known by `as_of`: (customer, guarantor, ended badly)."""
    e = export.edges["vouched"]
    known = (e.attr[:, 0] + e.attr[:, 1]) > 0 if len(e) else np.zeros(0, bool)
    return e.dst[known], e.src[known], (e.attr[known, 1] > 0).astype(np.int8)


def pair_split(bad: np.ndarray, config: TrainConfig) -> Split | None:
    """The split of the vouch pairs, or None with too few of either outcome for a pair head."""
    if int(bad.sum()) < 10 or int((bad == 0).sum()) < 10:
        return None
    return stratified_split(bad, config)


def class_weights(y: np.ndarray) -> np.ndarray:
    """Per item: positives weighted by the negatives-to-positives ratio (at most 50), else 1."""
    positives = max(int(y.sum()), 1)
    ratio = min((len(y) - positives) / positives, 50.0)
    return np.where(y == 1, ratio, 1.0)
