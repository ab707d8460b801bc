"""Vouching history (background, victims', collusive guarantors') and the fraud labels."""

from __future__ import annotations

import numpy as np

from etl.synth.bank import Bank, filled
from etl.synth.codes import LABEL_CODE, N_KIN, OUTCOME_CODE
from etl.synth.rates import (
    COLLUSION_BAD_OUTCOME_P,
    LABEL_FALSE_POSITIVE_RATE,
    LABEL_MISS_RATE,
    VOUCH_RATE,
)
from etl.synth.timeframe import DAY, HOUR, NO_TIME, REFERENCE_TIME
from etl.synth.victims import victim_vouches
from graph.vocab import LabelKind, VouchOutcome

Part = tuple[np.ndarray, ...]  # (guarantor, customer, business, ts, outcome)


def vouches(rng: np.random.Generator, bank: Bank, tied: list[tuple[np.ndarray, ...]]) -> np.ndarray:
    """Vouching history; returns, per collusion group, when its first settled vouch was made."""
    parts = [_background_vouches(rng, bank), victim_vouches(rng, bank)]
    group_first_bad: list[int] = []
    for a, b in tied:
        part = _collusive_vouches(rng, a, b)
        parts.append(part)
        t, o = part[3], part[4]
        group_first_bad.append(t[o != OUTCOME_CODE[VouchOutcome.PENDING]].min())

    g, c, business, ts, outcome = (np.concatenate(x) for x in zip(*parts, strict=True))
    o_ts = ts + rng.integers(3, 90, len(ts)) * DAY
    o_ts = np.minimum(o_ts, REFERENCE_TIME - HOUR)
    o_ts = np.where(
        outcome == OUTCOME_CODE[VouchOutcome.PENDING], NO_TIME, np.maximum(o_ts, ts + 60)
    )
    o = np.argsort(ts, kind="stable")
    bank.tables["vouches"] = {
        "guarantor": g[o],
        "customer": c[o],
        "business": business[o],
        "ts": ts[o],
        "outcome": outcome[o],
        "outcome_ts": o_ts[o],
    }
    return np.array(group_first_bad, dtype=np.int64)


def labels(rng: np.random.Generator, bank: Bank, collusion_known: np.ndarray) -> None:
    """Labels as the bank knows them: when each was found out, with misses and false alarms."""
    n, kind = bank.n, filled(bank.true_kind, "true_kind")
    windows = filled(bank.ring_windows, "ring_windows")
    victims = filled(bank.victims, "victims")
    ts = REFERENCE_TIME - rng.integers(0, 90, n) * DAY - rng.integers(0, DAY, n)  # last review
    for r, ring in enumerate(bank.rings):
        ts[ring] = windows[r, 1] + rng.integers(2, 30, len(ring)) * DAY
    ts[victims] = filled(bank.victim_time, "victim_time") + rng.integers(
        HOUR, 10 * DAY, len(victims)
    )
    for g, group in enumerate(bank.collusion_groups):
        ts[group] = collusion_known[g] + rng.integers(30, 90, len(group)) * DAY
    fraud = np.flatnonzero(kind == LABEL_CODE[LabelKind.FRAUD])
    ts[fraud] = REFERENCE_TIME - rng.integers(10, 420, len(fraud)) * DAY
    ts = np.minimum(ts, REFERENCE_TIME - 60)
    label = (kind > 0).astype(np.int64)
    shown = kind.copy()
    missed = np.flatnonzero((kind > 0) & (rng.random(n) < LABEL_MISS_RATE))
    label[missed], shown[missed] = 0, 0
    wrong = np.flatnonzero((kind == 0) & (rng.random(n) < LABEL_FALSE_POSITIVE_RATE))
    label[wrong], shown[wrong] = 1, LABEL_CODE[LabelKind.FRAUD]
    ts[missed] = (
        REFERENCE_TIME - rng.integers(0, 90, len(missed)) * DAY - rng.integers(60, DAY, len(missed))
    )
    bank.label = label
    bank.tables["labels"] = {
        "label": label,
        "kind": shown,
        "ts": ts,
        "missed": missed,
        "wrong": wrong,
    }


def _background_vouches(rng: np.random.Generator, bank: Bank) -> Part:
    """Customers vouch for relatives more than for friends; most vouches end without issue."""
    people, n, rel = bank.people, bank.n, bank.relations
    kin = rel.kind < N_KIN
    p = np.where(kin, 0.7, 0.3)
    p = p / p.sum() * n * VOUCH_RATE
    take = rng.random(len(rel.src)) < np.minimum(p, 1.0)
    a, b = rel.src[take], rel.dst[take]
    flip = rng.random(len(a)) < 0.5
    g, c = np.where(flip, b, a), np.where(flip, a, b)
    ts = REFERENCE_TIME - (rng.random(len(g)) * 365 * DAY).astype(np.int64)
    ts = np.maximum(ts, np.maximum(people["opened"][g], people["opened"][c]) + DAY)
    business = rng.choice(3, size=len(g), p=(0.25, 0.45, 0.30))
    recent = ts > REFERENCE_TIME - 30 * DAY
    outcome = np.where(
        recent & (rng.random(len(g)) < 0.85),
        OUTCOME_CODE[VouchOutcome.PENDING],
        rng.choice(4, size=len(g), p=(0.94, 0.025, 0.025, 0.01)),
    )
    return g, c, business, ts, outcome


def _collusive_vouches(rng: np.random.Generator, a: np.ndarray, b: np.ndarray) -> Part:
    """Collusive guarantors vouch for each other along their ties; most of it ends badly."""
    vouch = rng.random(len(a)) < 0.85
    vouch[0] = True
    a, b = a[vouch], b[vouch]
    twice = rng.random(len(a)) < 0.3
    a, b = np.concatenate([a, b[twice]]), np.concatenate([b, a[twice]])
    flip = rng.random(len(a)) < 0.5
    gg, cc = np.where(flip, b, a), np.where(flip, a, b)
    t = REFERENCE_TIME - rng.integers(60, 360, len(gg)) * DAY - rng.integers(0, DAY, len(gg))
    r = rng.random(len(gg))
    bad = np.where(
        rng.random(len(gg)) < 0.45,
        OUTCOME_CODE[VouchOutcome.FRAUD_REPORTED],
        OUTCOME_CODE[VouchOutcome.DEFAULTED],
    )
    o = np.where(
        r < COLLUSION_BAD_OUTCOME_P,
        bad,
        np.where(
            r < COLLUSION_BAD_OUTCOME_P + 0.1,
            OUTCOME_CODE[VouchOutcome.NO_ISSUE],
            OUTCOME_CODE[VouchOutcome.PENDING],
        ),
    )
    o[0] = bad[0]  # every group has at least one bad outcome
    t = np.where(
        o == OUTCOME_CODE[VouchOutcome.PENDING],
        REFERENCE_TIME - rng.integers(1, 25, len(gg)) * DAY,
        t,
    )
    return gg, cc, rng.choice(3, size=len(gg), p=(0.3, 0.4, 0.3)), t, o
