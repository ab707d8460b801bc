"""Consents per category: granted at opening or later, some expiring, a few withdrawn."""

from __future__ import annotations

import numpy as np

from etl.sources import CONSENT_CATEGORIES
from etl.synth.bank import Bank
from etl.synth.timeframe import DAY, HOUR, NO_TIME, REFERENCE_TIME

_CONSENT_P = (0.99, 0.9, 0.97, 0.8, 0.85, 0.7, 0.8, 0.6, 0.4)  # per CONSENT_CATEGORIES


def consents(rng: np.random.Generator, bank: Bank) -> None:
    """Consent records in customer id order, then the withdrawals."""
    people, n = bank.people, bank.n
    ncat = len(CONSENT_CATEGORIES)
    has = rng.random((n, ncat)) < np.array(_CONSENT_P)
    r, cat = np.nonzero(has)
    c = people["by_rank"][r]  # rows in customer id order
    opened = people["opened"][c]
    at_opening = opened + rng.integers(60, 3600, len(c))
    later = opened + (rng.random(len(c)) * (REFERENCE_TIME - opened)).astype(np.int64)
    ts = np.where(cat <= 2, at_opening, np.where(rng.random(len(c)) < 0.5, at_opening, later))
    expires = np.where(
        rng.random(len(c)) < 0.5, REFERENCE_TIME + rng.integers(30, 1500, len(c)) * DAY, NO_TIME
    )
    expired = (expires > 0) & (rng.random(len(c)) < 0.04)
    expires = np.where(expired, REFERENCE_TIME - rng.integers(1, 300, len(c)) * DAY, expires)
    ts = np.where(expires > 0, np.minimum(ts, expires - 180 * DAY), ts)
    ts = np.maximum(ts, opened)
    expires = np.where((expires > 0) & (expires <= ts), ts + 90 * DAY, expires)
    ts = np.minimum(ts, REFERENCE_TIME - HOUR)
    # A few consents were later withdrawn: a second record, granted=false.
    w = np.flatnonzero(rng.random(len(c)) < 0.02)
    w_ts = ts[w] + (rng.random(len(w)) * (REFERENCE_TIME - ts[w])).astype(np.int64)
    bank.tables["consents"] = {
        "customer": np.concatenate([c, c[w]]),
        "category": np.concatenate([cat, cat[w]]),
        "granted": np.concatenate([np.ones(len(c), bool), np.zeros(len(w), bool)]),
        "ts": np.concatenate([ts, w_ts]),
        "expires": np.concatenate([expires, np.full(len(w), NO_TIME)]),
    }
