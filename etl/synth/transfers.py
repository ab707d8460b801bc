"""Transfers: money between relatives, friends, strangers and shops; mule rings; victims."""

from __future__ import annotations

import numpy as np

from etl.synth.bank import Bank, filled
from etl.synth.codes import N_KIN
from etl.synth.rates import MULE_RING_PAIR_P
from etl.synth.sampling import zipf_p
from etl.synth.timeframe import DAY, HISTORY_DAYS, HISTORY_START, REFERENCE_TIME
from etl.synth.victims import victim_transfers
from etl.synth.vocabulary import CURRENCIES

Part = tuple[np.ndarray, ...]  # (src, dst, amount, ts)


def transfers(rng: np.random.Generator, bank: Bank) -> None:
    """The transfers table, ids in time order (bank.tables["transfers"])."""
    a, b, typ = _paying_pairs(rng, bank)
    parts = [_pair_transfers(rng, bank, a, b, typ)]
    parts += _ring_transfers(rng, bank)
    parts += victim_transfers(rng, bank)
    src, dst, amount, ts = (np.concatenate(c) for c in zip(*parts, strict=True))
    amount = np.round(np.clip(amount, 0.01, 5e7), 2)
    ts = np.minimum(ts, REFERENCE_TIME - 60)
    o = np.argsort(ts, kind="stable")  # transfer ids run in time order
    cur = np.zeros(len(o), np.int64)
    foreign = rng.random(len(o)) < 0.02
    cur[foreign] = rng.integers(1, len(CURRENCIES), foreign.sum())
    bank.tables["transfers"] = {
        "src": src[o],
        "dst": dst[o],
        "amount": amount[o],
        "ts": ts[o],
        "currency": cur,
    }


def _paying_pairs(
    rng: np.random.Generator, bank: Bank
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs that move money: some relatives and friends, and strangers (often a merchant).

    Returns (src, dst, type) with type 0 kin, 1 social, 2 stranger, 3 hub (shop, landlord)."""
    people, n, rel = bank.people, bank.n, bank.relations
    kin = rel.kind < N_KIN
    take = rng.random(len(rel.src)) < np.where(kin, 0.40, 0.18)
    a, b, typ = rel.src[take], rel.dst[take], np.where(kin[take], 0, 1)
    flip = rng.random(len(a)) < 0.5
    a, b = np.where(flip, b, a), np.where(flip, a, b)
    back = rng.random(len(a)) < 0.25
    a, b, typ = (
        np.concatenate([a, b[back]]),
        np.concatenate([b, a[back]]),
        np.concatenate([typ, typ[back]]),
    )
    n_st = int(n * 0.9)
    act = people["activity"]
    s_src = rng.choice(n, size=n_st, p=act / act.sum())
    hubs = rng.permutation(n)[: max(5, n // 50)]  # shops and landlords paid by many
    to_hub = rng.random(n_st) < 0.4
    s_dst = np.where(
        to_hub,
        hubs[rng.choice(len(hubs), size=n_st, p=zipf_p(len(hubs), 1.0))],
        rng.integers(0, n, n_st),
    )
    a = np.concatenate([a, s_src])
    b = np.concatenate([b, s_dst])
    typ = np.concatenate([typ, np.where(to_hub, 3, 2)])
    ok = a != b
    return a[ok], b[ok], typ[ok]


def _pair_transfers(
    rng: np.random.Generator, bank: Bank, a: np.ndarray, b: np.ndarray, typ: np.ndarray
) -> Part:
    """Per pair: how many transfers, when (monthly or in bursts) and how much."""
    opened = bank.people["opened"]
    npair = len(a)
    mean = np.array([3.5, 1.8, 1.3, 1.6])[typ]
    count = rng.geometric(1.0 / mean)
    tail = rng.random(npair) < 0.02
    count[tail] += np.minimum(rng.pareto(1.3, tail.sum()) * 6, 120).astype(np.int64)
    monthly = rng.random(npair) < np.array([0.3, 0.05, 0.03, 0.08])[typ]
    scale = np.where(monthly, 30.4 * DAY, np.exp(rng.normal(np.log(3 * DAY), 1.4, npair)))
    start = HISTORY_START + (rng.random(npair) * HISTORY_DAYS * DAY).astype(np.int64)
    base = rng.lognormal(np.log(np.array([600.0, 250.0, 180.0, 90.0])[typ]), 1.0)
    pair = np.repeat(np.arange(npair), count)
    gaps = np.where(
        monthly[pair],
        scale[pair] + rng.normal(0, 1.5 * DAY, len(pair)),
        rng.exponential(1.0, len(pair)) * scale[pair],
    )
    first = np.concatenate(([0], np.cumsum(count)[:-1]))
    gaps[first] = 0
    cs = np.cumsum(gaps)
    ts = start[pair] + (cs - cs[first][pair]).astype(np.int64)
    amount = base[pair] * rng.lognormal(0.0, 0.35, len(pair))
    big = rng.random(len(pair)) < 0.005
    amount[big] *= 1 + rng.pareto(1.2, big.sum()) * 20
    src, dst = a[pair], b[pair]
    ok = (ts <= REFERENCE_TIME) & (ts >= np.maximum(opened[src], opened[dst]))
    return src[ok], dst[ok], amount[ok], ts[ok]


def _ring_transfers(rng: np.random.Generator, bank: Bank) -> list[Part]:
    """Mule rings: dense money movement among members while the ring is active."""
    parts: list[Part] = []
    windows = filled(bank.ring_windows, "ring_windows")
    for r, ring in enumerate(bank.rings):
        s0, s1 = windows[r]
        i, j = np.nonzero(~np.eye(len(ring), dtype=bool))
        ok = rng.random(len(i)) < MULE_RING_PAIR_P
        i, j = i[ok], j[ok]
        c = rng.integers(1, 4, len(i))
        i, j = np.repeat(i, c), np.repeat(j, c)
        t = s0 + (rng.random(len(i)) * (s1 - s0)).astype(np.int64)
        parts.append((ring[i], ring[j], rng.lognormal(np.log(2500), 0.9, len(i)), t))
    return parts
