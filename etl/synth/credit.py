"""Credit bureau files and rejected applications: fraudsters and mules look worse here."""

from __future__ import annotations

import numpy as np

from etl.synth.bank import Bank, filled
from etl.synth.codes import LABEL_CODE
from etl.synth.rates import REJECTION_RATE
from etl.synth.timeframe import DAY, HISTORY_START, REFERENCE_TIME
from graph.vocab import LabelKind

_REJECTION_P_NORMAL = (0.34, 0.24, 0.12, 0.04, 0.04, 0.12, 0.10)  # per REJECTION_REASONS
_REJECTION_P_FRAUD = (0.10, 0.08, 0.25, 0.17, 0.30, 0.02, 0.08)
_GRADE_P = (0.10, 0.20, 0.28, 0.20, 0.10, 0.06, 0.04, 0.02)  # skewed good
_GRADE_SCORE = np.array(
    [[900, 1000], [820, 900], [740, 820], [660, 740], [580, 660], [500, 580], [350, 500], [0, 350]]
)
_QUARTER_ENDS = np.array(
    ["2025-03-31", "2025-06-30", "2025-09-30", "2025-12-31", "2026-03-31"], dtype="M8[s]"
).astype(np.int64)


def rejections(rng: np.random.Generator, bank: Bank) -> None:
    """Rejected applications; fraudsters, mules and victims are stopped more often."""
    people, n, kind = bank.people, bank.n, filled(bank.true_kind, "true_kind")
    p = np.select(
        [
            kind == LABEL_CODE[LabelKind.FRAUD],
            kind == LABEL_CODE[LabelKind.MULE],
            kind == LABEL_CODE[LabelKind.TELECOM_VICTIM],
        ],
        [0.5, 0.15, 0.25],
        REJECTION_RATE,
    )
    who = np.flatnonzero(rng.random(n) < p)
    fraudish = (kind[who] == LABEL_CODE[LabelKind.FRAUD]) | (
        kind[who] == LABEL_CODE[LabelKind.MULE]
    )
    per = np.where(fraudish, rng.integers(1, 4, len(who)), 1 + (rng.random(len(who)) < 0.2))
    c = np.repeat(who, per)
    bad = np.repeat(fraudish, per)
    reason = np.where(
        bad,
        rng.choice(7, size=len(c), p=_REJECTION_P_FRAUD),
        rng.choice(7, size=len(c), p=_REJECTION_P_NORMAL),
    )
    lo = np.maximum(people["opened"][c], HISTORY_START)
    ts = lo + (rng.random(len(c)) * (REFERENCE_TIME - lo)).astype(np.int64)
    # A victim's bank often stopped one attempt shortly before the payment that went through.
    vic = kind[c] == LABEL_CODE[LabelKind.TELECOM_VICTIM]
    victim_time = np.zeros(n, np.int64)
    victim_time[filled(bank.victims, "victims")] = filled(bank.victim_time, "victim_time")
    ts = np.where(vic, victim_time[c] - rng.integers(600, 2 * DAY, len(c)), ts)
    reason = np.where(vic, np.where(rng.random(len(c)) < 0.6, 1, 4), reason)
    business = np.where(vic, 1, rng.choice(3, size=len(c), p=(0.3, 0.5, 0.2)))
    o = np.argsort(ts, kind="stable")
    bank.tables["rejections"] = {
        "customer": c[o],
        "business": business[o],
        "reason": reason[o],
        "ts": ts[o],
    }


def credit(rng: np.random.Generator, bank: Bank) -> None:
    """Up to three quarterly credit grades and scores per customer, newest first."""
    people, n, kind = bank.people, bank.n, filled(bank.true_kind, "true_kind")
    grade = rng.choice(8, size=n, p=_GRADE_P)
    grade = np.where(
        kind == LABEL_CODE[LabelKind.FRAUD], np.minimum(grade + rng.integers(1, 4, n), 7), grade
    )
    has = rng.random(n) < np.where(kind == LABEL_CODE[LabelKind.MULE], 0.4, 0.95)
    per = np.where(has, rng.integers(1, 4, n), 0)
    per = per[people["by_rank"]]
    c = np.repeat(people["by_rank"], per)  # rows in customer id order
    k = np.arange(len(c)) - np.repeat(np.cumsum(per) - per, per)  # 0 = the newest
    q = len(_QUARTER_ENDS) - 1 - k
    as_of = _QUARTER_ENDS[q]
    ok = as_of >= people["opened"][c]
    newest = np.flatnonzero(k == 0)
    ok[newest] = True  # everyone with a file has at least the newest as_of
    c, k, as_of = c[ok], k[ok], as_of[ok]
    g = grade[c] + np.where(k > 0, rng.choice([-1, 0, 1], size=len(c), p=(0.1, 0.8, 0.1)), 0)
    g = np.clip(g, 0, 7)
    lo, hi = _GRADE_SCORE[g, 0], _GRADE_SCORE[g, 1]
    score = lo + (rng.random(len(c)) * (hi - lo)).astype(np.int64)
    score = np.where(rng.random(len(c)) < 0.08, -1, score)
    bank.tables["credit"] = {"customer": c, "grade": g, "score": score, "as_of": as_of}
