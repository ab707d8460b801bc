"""The generated bank in memory: customer-indexed numpy arrays and one array group per source."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pyarrow as pa

from etl.sources import LABEL_KINDS

T = TypeVar("T")


@dataclass
class Relations:
    """Kinship and social ties, one row per (src, dst, kind, source); since may be NO_TIME."""

    src: np.ndarray
    dst: np.ndarray
    kind: np.ndarray  # index into KIN_KINDS + SOCIAL_KINDS
    source: np.ndarray  # index into RELATION_SOURCES
    since: np.ndarray


@dataclass
class Bank:
    """A generated bank: customer-indexed numpy arrays plus one array group per source.

    Customer index i is written as the id `customer_ids[i]`; ids run in account-opening
    order. The planted ground truth (`true_kind`, `rings`, `collusion_groups`, ...) is what
    the labels would say without label noise.
    """

    n: int
    seed: int
    customer_ids: pa.Array
    people: dict[str, np.ndarray]
    relations: Relations
    tables: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    phone_numbers: pa.Array | None = None
    device_ids: pa.Array | None = None
    true_kind: np.ndarray | None = None  # index into LABEL_KINDS, before label noise
    label: np.ndarray | None = None
    rings: list[np.ndarray] = field(default_factory=list)
    ring_windows: np.ndarray | None = None  # (rings, 2) start and end of each ring's activity
    collusion_groups: list[np.ndarray] = field(default_factory=list)
    victims: np.ndarray | None = None
    victim_ring: np.ndarray | None = None
    victim_time: np.ndarray | None = None  # when each victim paid the mule
    abnormal_phone_index: np.ndarray | None = None  # rows of phone_numbers that are abnormal
    ring_devices: list[np.ndarray] = field(default_factory=list)  # handsets each ring shares

    def ids(self, idx: np.ndarray) -> list[str]:
        """The customer ids (as written) of customer indices."""
        return self.customer_ids.take(pa.array(np.asarray(idx, np.int64))).to_pylist()

    def planted_counts(self) -> dict[str, int]:
        """Planted (true) customers per risk kind, and the number of rings and groups."""
        counts = np.bincount(filled(self.true_kind, "true_kind"), minlength=len(LABEL_KINDS))
        out = {k: int(counts[i]) for i, k in enumerate(LABEL_KINDS) if k != "none"}
        out["mule_rings"] = len(self.rings)
        out["collusion_groups"] = len(self.collusion_groups)
        return out


def filled(value: T | None, name: str) -> T:
    """A Bank field that an earlier step of `plan_bank` fills in; fails loudly if it has not."""
    if value is None:
        raise AssertionError(f"bank.{name} is generated before it is used")
    return value
