"""National-ID-like numbers for customers and for the non-customers on the blacklist."""

from __future__ import annotations

import numpy as np

from etl.synth.bank import Bank
from etl.synth.formatting import civil, put_digits
from etl.synth.timeframe import REFERENCE_TIME, YEAR

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)


def id_numbers(rng: np.random.Generator, bank: Bank, extra: int) -> None:
    """18-character national-ID-like numbers: region, birth date, sequence (odd for men),
    ISO 7064 check character; unique. Rows after the customers are non-customers."""
    people, n = bank.people, bank.n
    total = n + extra
    region = 110_000 + people["city"] * 1_000 + people["district"] * 100 + 1
    region = np.concatenate([region, rng.integers(110_000, 660_000, extra)])
    birth = np.concatenate([people["birth"], REFERENCE_TIME - rng.integers(20, 70, extra) * YEAR])
    male = np.concatenate([people["gender"] == 1, rng.random(extra) < 0.5])
    y, m, d, _ = civil(birth)
    ymd = y * 10_000 + m * 100 + d
    seq = rng.integers(0, 500, total) * 2 + male
    for _ in range(50):  # re-draw the few collisions
        code = (region * 100_000_000 + ymd) * 1_000 + seq
        _, inv, cnt = np.unique(code, return_inverse=True, return_counts=True)
        first = np.zeros(len(code), bool)
        first[np.unique(inv, return_index=True)[1]] = True
        dup = (cnt[inv] > 1) & ~first
        if not dup.any():
            break
        seq[dup] = rng.integers(0, 500, dup.sum()) * 2 + male[dup]
    chars = np.empty((total, 18), dtype=np.uint8)
    put_digits(chars, 0, 6, region)
    put_digits(chars, 6, 8, ymd)
    put_digits(chars, 14, 3, seq)
    check = ((chars[:, :17].astype(np.int64) - 48) * _ID_WEIGHTS).sum(axis=1) % 11
    chars[:, 17] = _ID_CHECK[check]
    bank.tables["_id"] = {"chars": chars}
