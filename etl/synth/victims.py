"""Telecom-fraud victims: who they are, the calls before, the payment to a ring, the vouch.

Each step is called by the generator of its source (planting, transfers, calls, vouches) at
its place in the one random sequence.
"""

from __future__ import annotations

import numpy as np

from etl.synth.bank import Bank, filled
from etl.synth.codes import LABEL_CODE, OUTCOME_CODE
from etl.synth.people import household_member
from etl.synth.rates import TELECOM_VICTIM_RATE, VICTIM_CONTACT_WINDOW, VICTIM_MIN_AMOUNT
from etl.synth.sampling import unplanted, weighted_sample
from etl.synth.timeframe import DAY, HOUR, REFERENCE_TIME, YEAR
from graph.vocab import LabelKind, VouchOutcome


def plant_victims(
    rng: np.random.Generator,
    bank: Bank,
    kind: np.ndarray,
    ring_sizes: np.ndarray,
    ring_start: np.ndarray,
    ring_end: np.ndarray,
) -> None:
    """Settled customers, older ones more often; each pays one ring while it is active."""
    age, opened = bank.people["age"], bank.people["opened"]
    n_victims = max(3, round(bank.n * TELECOM_VICTIM_RATE))
    pool = unplanted(kind, (age >= 25) & (opened < REFERENCE_TIME - YEAR))
    w = np.where(age[pool] >= 55, 2.5, 1.0)
    victims = rng.permutation(weighted_sample(rng, pool, w, n_victims))
    kind[victims] = LABEL_CODE[LabelKind.TELECOM_VICTIM]
    nv = len(victims)
    ring = rng.choice(len(ring_sizes), size=nv, p=ring_sizes / ring_sizes.sum())
    s, e = ring_start[ring], ring_end[ring]
    bank.victims, bank.victim_ring = victims, ring
    bank.victim_time = s + (rng.random(nv) * (e - s)).astype(np.int64)


def victim_transfers(rng: np.random.Generator, bank: Bank) -> list[tuple[np.ndarray, ...]]:
    """Victims pay one member (once or twice), who passes the money on within hours to another
    member, who passes it to the ring's collector: (src, dst, amount, ts) parts."""
    v, t0 = filled(bank.victims, "victims"), filled(bank.victim_time, "victim_time")
    sizes = np.array([len(r) for r in bank.rings])
    offs = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    flat = np.concatenate(bank.rings)
    rv = filled(bank.victim_ring, "victim_ring")
    k_e = rng.integers(0, sizes[rv])
    entry = flat[offs[rv] + k_e]
    pay1 = rng.lognormal(np.log(50_000), 0.8, len(v)) + VICTIM_MIN_AMOUNT
    twice = rng.random(len(v)) < 0.4
    t_pay2 = t0 + rng.integers(600, 4 * HOUR, len(v))
    pay2 = rng.lognormal(np.log(30_000), 0.7, len(v)) + VICTIM_MIN_AMOUNT
    parts: list[tuple[np.ndarray, ...]] = [
        (v, entry, pay1, t0),
        (v[twice], entry[twice], pay2[twice], t_pay2[twice]),
    ]
    total = pay1 + np.where(twice, pay2, 0)
    k_m = (k_e + rng.integers(1, sizes[rv])) % sizes[rv]
    t1 = t_pay2 + rng.integers(HOUR // 3, 6 * HOUR, len(v))
    fwd1 = total * rng.uniform(0.9, 0.99, len(v))
    parts.append((entry, flat[offs[rv] + k_m], fwd1, t1))
    collector = rng.integers(0, sizes)  # one collector per ring
    k_c = collector[rv]
    k_c = np.where(k_c == k_m, (k_m + 1) % sizes[rv], k_c)
    parts.append(
        (
            flat[offs[rv] + k_m],
            flat[offs[rv] + k_c],
            fwd1 * rng.uniform(0.9, 0.99, len(v)),
            t1 + rng.integers(HOUR // 3, 8 * HOUR, len(v)),
        )
    )
    return parts


def victim_calls(
    rng: np.random.Generator, bank: Bank, abnormal: np.ndarray, phone: np.ndarray
) -> list[tuple[np.ndarray, ...]]:
    """The ring's gang numbers call or text victims in the hours or days before they pay;
    about half call back: (from, to, kind, count, first, last) parts."""
    gang = [
        abnormal[rng.choice(len(abnormal), size=rng.integers(1, 4), replace=False)]
        for _ in bank.rings
    ]
    v, t0 = filled(bank.victims, "victims"), filled(bank.victim_time, "victim_time")
    caller = np.array(
        [
            g[rng.integers(0, len(g))]
            for g in (gang[r] for r in filled(bank.victim_ring, "victim_ring"))
        ],
        dtype=np.int64,
    ).reshape(-1)
    last = t0 - rng.integers(VICTIM_CONTACT_WINDOW[0], 2 * DAY, len(v))
    first = np.maximum(last - rng.integers(0, 5 * DAY, len(v)), t0 - VICTIM_CONTACT_WINDOW[1])
    cnt = rng.integers(1, 7, len(v))
    first = np.where(cnt == 1, last, first)
    sms = (rng.random(len(v)) < 0.3).astype(np.int64)
    parts: list[tuple[np.ndarray, ...]] = [(caller, phone[v], sms, cnt, first, last)]
    cb = rng.random(len(v)) < 0.5
    cb_t = first[cb] + (rng.random(cb.sum()) * (t0[cb] - first[cb])).astype(np.int64)
    parts.append(
        (
            phone[v[cb]],
            caller[cb],
            np.zeros(cb.sum(), np.int64),
            np.ones(cb.sum(), np.int64),
            cb_t,
            cb_t,
        )
    )
    return parts


def victim_vouches(rng: np.random.Generator, bank: Bank) -> tuple[np.ndarray, ...]:
    """Some victims were vouched for by a relative minutes before paying the mule; the payee
    was later reported as a fraud: (guarantor, customer, business, ts, outcome)."""
    people = bank.people
    v, t = filled(bank.victims, "victims"), filled(bank.victim_time, "victim_time")
    has = (people["size"][v] > 1) & (rng.random(len(v)) < 0.3)
    vv, vt = v[has], t[has]
    return (
        household_member(rng, people, vv),
        vv,
        np.where(rng.random(len(vv)) < 0.7, 1, 0),
        vt - rng.integers(300, 3600, len(vv)),
        np.full(len(vv), OUTCOME_CODE[VouchOutcome.FRAUD_REPORTED]),
    )
