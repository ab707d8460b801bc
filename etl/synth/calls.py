"""Calls and SMS between numbers, and the abnormal numbers that call customers."""

from __future__ import annotations

import numpy as np

from etl.synth.bank import Bank, filled
from etl.synth.codes import N_KIN
from etl.synth.rates import ABNORMAL_CONTACT_RATE
from etl.synth.sampling import zipf_p
from etl.synth.timeframe import DAY, HISTORY_DAYS, HISTORY_START, REFERENCE_TIME, YEAR
from etl.synth.victims import victim_calls
from etl.synth.vocabulary import ABNORMAL_NUMBER_CATEGORIES

_ABNORMAL_NUMBER_P = (0.6, 0.15, 0.15, 0.1)  # per ABNORMAL_NUMBER_CATEGORIES

Part = tuple[np.ndarray, ...]  # (from, to, kind, count, first, last)


def calls(rng: np.random.Generator, bank: Bank, n_own: int, n_external: int) -> None:
    """The calls and abnormal_numbers tables; numbers index bank.phone_numbers."""
    phone = bank.people["phone"]
    abn = filled(bank.abnormal_phone_index, "abnormal_phone_index")
    parts = [_background_calls(rng, bank, n_own, n_external)]
    parts.append(_failed_attempts(rng, bank, abn, phone))
    parts += victim_calls(rng, bank, abn, phone)
    frm, to, kind, count, t_first, t_last = (np.concatenate(c) for c in zip(*parts, strict=True))
    ok = frm != to
    total = len(filled(bank.phone_numbers, "phone_numbers"))
    code = (frm * total + to) * 2 + kind
    code = np.where(ok, code, -1)
    _, keep = np.unique(code, return_index=True)
    keep = keep[ok[keep]]
    bank.tables["calls"] = {
        "from": frm[keep],
        "to": to[keep],
        "kind": kind[keep],
        "count": count[keep],
        "first": t_first[keep],
        "last": t_last[keep],
    }
    bank.tables["abnormal_numbers"] = {
        "number": abn,
        "category": rng.choice(
            len(ABNORMAL_NUMBER_CATEGORIES), size=len(abn), p=_ABNORMAL_NUMBER_P
        ),
        "listed": REFERENCE_TIME - (rng.random(len(abn)) * 3 * YEAR).astype(np.int64),
    }


def _background_calls(rng: np.random.Generator, bank: Bank, n_own: int, n_external: int) -> Part:
    """Calls along ties, and with hotlines, shops and friends outside the bank."""
    people, n, rel = bank.people, bank.n, bank.relations
    phone = people["phone"]
    kin = rel.kind < N_KIN
    take = rng.random(len(rel.src)) < np.where(kin, 0.6, 0.25)
    a, b = rel.src[take], rel.dst[take]
    flip = rng.random(len(a)) < 0.5
    a, b = np.where(flip, b, a), np.where(flip, a, b)
    back = rng.random(len(a)) < 0.4
    frm = np.concatenate([phone[a], phone[b[back]]])
    to = np.concatenate([phone[b], phone[a[back]]])
    # Hotlines, shops, friends outside the bank: a few popular numbers and a long tail.
    k = rng.poisson(0.8, n)
    c = np.repeat(np.arange(n), k)
    ext = n_own + rng.choice(n_external, size=len(c), p=zipf_p(n_external, 0.9))
    inbound = rng.random(len(c)) < 0.5
    frm = np.concatenate([frm, np.where(inbound, ext, phone[c])])
    to = np.concatenate([to, np.where(inbound, phone[c], ext)])
    kind = (rng.random(len(frm)) < 0.25).astype(np.int64)  # 0 CALL, 1 SMS
    count = 1 + np.minimum(rng.lognormal(1.2, 1.2, len(frm)), 5000).astype(np.int64)
    t_first = HISTORY_START + (rng.random(len(frm)) * HISTORY_DAYS * DAY * 0.9).astype(np.int64)
    t_last = t_first + (rng.random(len(frm)) * (REFERENCE_TIME - t_first)).astype(np.int64)
    return frm, to, kind, count, t_first, np.where(count == 1, t_first, t_last)


def _failed_attempts(
    rng: np.random.Generator, bank: Bank, abn: np.ndarray, phone: np.ndarray
) -> Part:
    """Abnormal numbers also call or text customers who do not fall for it."""
    n = bank.n
    targets = np.flatnonzero(
        (rng.random(n) < ABNORMAL_CONTACT_RATE) & (filled(bank.true_kind, "true_kind") == 0)
    )
    t = HISTORY_START + (rng.random(len(targets)) * (HISTORY_DAYS - 2) * DAY).astype(np.int64)
    src_abn = abn[rng.integers(0, len(abn), len(targets))]
    cnt = rng.integers(1, 3, len(targets))
    return (
        src_abn,
        phone[targets],
        (rng.random(len(targets)) < 0.4).astype(np.int64),
        cnt,
        t,
        t + (cnt - 1) * rng.integers(60, DAY, len(targets)),
    )
