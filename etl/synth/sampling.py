"""Random sampling helpers the generators share (deterministic for the rng they are given)."""

from __future__ import annotations

import numpy as np


def zipf_p(k: int, a: float = 1.0) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** a
    return w / w.sum()


def unique_ints(rng: np.random.Generator, n: int, high: int) -> np.ndarray:
    """n distinct random ints in [0, high), in draw order (deterministic for the rng)."""
    k = n + n // 8 + 16
    while True:
        x = rng.integers(0, high, size=k)
        _, first = np.unique(x, return_index=True)
        if len(first) >= n:
            first.sort()
            return x[first[:n]]
        k *= 2


def weighted_sample(
    rng: np.random.Generator, pool: np.ndarray, w: np.ndarray, k: int
) -> np.ndarray:
    """k distinct items of pool, chosen with probability proportional to w (Efraimidis)."""
    k = min(k, len(pool))
    if k == 0:
        return pool[:0]
    keys = np.log(rng.random(len(pool))) / w
    pick = np.argpartition(-keys, k - 1)[:k]
    return pool[np.sort(pick)]


def others_in_group(
    rng: np.random.Generator, start: np.ndarray, size: np.ndarray, k: np.ndarray
) -> np.ndarray:
    """Another member index of a group of `size` starting at `start` than member k (size>1)."""
    return start + (k + rng.integers(1, size)) % size


def unplanted(kind: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The customers in mask not yet planted with a risk kind (kind 0)."""
    return np.flatnonzero(mask & (kind == 0))
