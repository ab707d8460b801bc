"""Planted risk, who is who: mule rings, collusive guarantors, plain fraud, and their ties.

Telecom-fraud victims are chosen in `etl.synth.victims`, between the rings and the groups.
"""

from __future__ import annotations

import numpy as np

from etl.synth.bank import Bank
from etl.synth.codes import KIND_CODE, LABEL_CODE
from etl.synth.rates import (
    COLLUSION_GROUP_SIZE,
    COLLUSION_RATE,
    FRAUD_RATE,
    MULE_RATE,
    MULE_RING_SIZE,
)
from etl.synth.relations import RelationBuffer, since_after, sources
from etl.synth.sampling import unplanted
from etl.synth.timeframe import DAY, REFERENCE_TIME, YEAR
from etl.synth.victims import plant_victims
from graph.vocab import LabelKind, RelationKind


def plant(rng: np.random.Generator, bank: Bank) -> None:
    """Choose who is a mule, a victim, a colluding guarantor or a fraudster (bank.true_kind)."""
    kind = np.zeros(bank.n, np.int64)
    sizes, start, end = _plant_rings(rng, bank, kind)
    plant_victims(rng, bank, kind, sizes, start, end)
    _plant_collusion(rng, bank, kind)
    # Plain individual fraud: anyone.
    n_fraud = max(2, round(bank.n * FRAUD_RATE))
    fraud = rng.permutation(unplanted(kind, np.ones(bank.n, bool)))[:n_fraud]
    kind[fraud] = LABEL_CODE[LabelKind.FRAUD]
    bank.true_kind = kind


def plant_relations(
    rng: np.random.Generator, bank: Bank, buf: RelationBuffer
) -> list[tuple[np.ndarray, ...]]:
    """Social ties inside rings and collusion groups; returns each group's tied pairs."""
    people = bank.people
    for ring in bank.rings:
        a, b = np.triu_indices(len(ring), 1)
        ok = rng.random(len(a)) < 0.25
        a, b = ring[a[ok]], ring[b[ok]]
        kind = np.where(
            rng.random(len(a)) < 0.5,
            KIND_CODE[RelationKind.FRIEND],
            KIND_CODE[RelationKind.CLASSMATE],
        )
        buf.add(
            a,
            b,
            kind,
            sources(rng, len(a), (0.3, 0.0, 0.7)),
            since_after(rng, people, a, b, 14, 0.3),
        )
    tied: list[tuple[np.ndarray, ...]] = []
    social = np.array(
        [
            KIND_CODE[RelationKind.FRIEND],
            KIND_CODE[RelationKind.COLLEAGUE],
            KIND_CODE[RelationKind.CLASSMATE],
        ]
    )
    for group in bank.collusion_groups:
        a, b = np.triu_indices(len(group), 1)
        chain = b == a + 1  # a path through the group keeps it connected
        ok = chain | (rng.random(len(a)) < 0.6)
        a, b = group[a[ok]], group[b[ok]]
        kind = social[rng.integers(0, 3, len(a))]
        buf.add(
            a,
            b,
            kind,
            sources(rng, len(a), (0.5, 0.0, 0.5)),
            since_after(rng, people, a, b, 20, 0.2),
        )
        tied.append((a, b))
    return tied


def _plant_rings(
    rng: np.random.Generator, bank: Bank, kind: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mule rings: young people recruited into rings; their accounts are opened for it.

    Returns the ring sizes and the start and end of each ring's activity."""
    people, n = bank.people, bank.n
    age, opened = people["age"], people["opened"]
    n_rings = max(1, round(n * MULE_RATE / np.mean(MULE_RING_SIZE)))
    sizes = rng.integers(MULE_RING_SIZE[0], MULE_RING_SIZE[1] + 1, n_rings)
    pool = unplanted(kind, (age >= 19.5) & (age <= 32))  # adults before the ring starts
    if len(pool) < sizes.sum():
        pool = unplanted(kind, np.ones(n, bool))
    mules = rng.permutation(pool)[: sizes.sum()]
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), len(mules), side="right")]
    mules = mules[: sizes.sum()]
    bank.rings = np.split(mules, np.cumsum(sizes)[:-1]) if len(sizes) else []
    start = (
        REFERENCE_TIME - rng.integers(25, 200, len(sizes)) * DAY - rng.integers(0, DAY, len(sizes))
    )
    end = np.minimum(start + rng.integers(7, 45, len(sizes)) * DAY, REFERENCE_TIME - 10 * DAY)
    bank.ring_windows = np.stack([start, end], axis=1)
    ring_start_of = np.repeat(start, sizes)
    opened[mules] = (
        ring_start_of - rng.integers(5, 120, len(mules)) * DAY - rng.integers(0, DAY, len(mules))
    )
    opened[mules] = np.maximum(opened[mules], people["birth"][mules] + 18 * YEAR)
    people["status"][mules] = 0
    people["activity"][mules] = rng.lognormal(0, 0.5, len(mules))
    kind[mules] = LABEL_CODE[LabelKind.MULE]
    return sizes, start, end


def _plant_collusion(rng: np.random.Generator, bank: Bank, kind: np.ndarray) -> None:
    """Collusive guarantors: ordinary, long-standing customers of working age."""
    n, age, opened = bank.n, bank.people["age"], bank.people["opened"]
    n_groups = max(1, round(n * COLLUSION_RATE / np.mean(COLLUSION_GROUP_SIZE)))
    gsizes = rng.integers(COLLUSION_GROUP_SIZE[0], COLLUSION_GROUP_SIZE[1] + 1, n_groups)
    pool = unplanted(kind, (age >= 28) & (age <= 60) & (opened < REFERENCE_TIME - 2 * YEAR))
    members = rng.permutation(pool)[: gsizes.sum()]
    gsizes = gsizes[: np.searchsorted(np.cumsum(gsizes), len(members), side="right")]
    members = members[: gsizes.sum()]
    bank.collusion_groups = np.split(members, np.cumsum(gsizes)[:-1]) if len(gsizes) else []
    kind[members] = LABEL_CODE[LabelKind.COLLUSION]
