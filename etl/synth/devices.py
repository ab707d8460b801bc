"""Phones, devices and apps: customers' numbers, handsets and installed apps."""

from __future__ import annotations

import numpy as np

from etl.synth.bank import Bank, filled
from etl.synth.formatting import id_strings, put_digits, put_text, strings
from etl.synth.households import ROLE_HEAD
from etl.synth.people import household_member
from etl.synth.rates import MULE_RING_PHONE_SHARERS
from etl.synth.sampling import unique_ints, zipf_p
from etl.synth.timeframe import DAY, HOUR, NO_TIME, REFERENCE_TIME, YEAR
from etl.synth.vocabulary import ABNORMAL_APP_CATEGORIES, ABNORMAL_APP_COUNT, APP_COUNT, MODELS


def phones(rng: np.random.Generator, bank: Bank) -> tuple[np.ndarray, int, int]:
    """Phone rows and the number pool: customers' numbers, then external, then abnormal."""
    people, n = bank.people, bank.n
    second = np.flatnonzero(rng.random(n) < 0.08)
    n_burner = len(bank.rings)
    n_external = n // 5 + 100
    n_abnormal = max(30, n // 250)
    n_own = n + len(second) + n_burner
    total = n_own + n_external + n_abnormal
    values = unique_ints(rng, total, 7_000_000_000)
    chars = np.empty((total, 15), dtype=np.uint8)
    put_text(chars, 0, "+86 ")
    put_digits(chars, 4, 11, values + 13_000_000_000)
    bank.phone_numbers = strings(chars)
    bank.abnormal_phone_index = np.arange(n_own + n_external, total)

    # Primary number: own, except some non-head household members who use the head's phone.
    primary = np.arange(n)
    share = np.flatnonzero(
        (people["size"] > 1) & (people["role"] != ROLE_HEAD) & (rng.random(n) < 0.03)
    )
    share = share[filled(bank.true_kind, "true_kind")[share] == 0]
    head = people["order"][
        people["h_start"][people["hh"][share]] + (people["tpl"][people["hh"][share]] == 6)
    ]
    primary[share] = head
    people["phone"] = primary
    cust_parts = [np.arange(n), second]
    num_parts = [primary, n + np.arange(len(second))]
    low, high = MULE_RING_PHONE_SHARERS
    for r, ring in enumerate(bank.rings):
        k = min(len(ring), int(rng.integers(low, high + 1)))
        cust_parts.append(ring[:k])
        num_parts.append(np.full(k, n + len(second) + r))
    cust, num = np.concatenate(cust_parts), np.concatenate(num_parts)
    # Known to the bank since opening, or since a later change of number (skewed early).
    lo = np.maximum(people["opened"][cust], people["birth"][cust] + 16 * YEAR)
    lo = np.minimum(lo, REFERENCE_TIME - DAY)
    since = lo + (rng.random(len(cust)) ** 3 * (REFERENCE_TIME - lo)).astype(np.int64)
    burner = num >= n + len(second)
    ring_of = np.clip(num - n - len(second), 0, max(0, n_burner - 1))
    if n_burner:
        ring_start = filled(bank.ring_windows, "ring_windows")[:, 0]
        since = np.where(burner, ring_start[ring_of] - rng.integers(1, 20, len(cust)) * DAY, since)
    since = np.where(rng.random(len(cust)) < 0.1, NO_TIME, since)
    code = people["rank"][cust] * total + num  # rows in customer id order
    _, first = np.unique(code, return_index=True)
    bank.tables["phones"] = {"customer": cust[first], "number": num[first], "since": since[first]}
    return primary, n_own, n_external


def devices(rng: np.random.Generator, bank: Bank) -> None:
    """Handsets and tablets, their users, and the handsets mule rings share."""
    people, n = bank.people, bank.n
    per = 1 + (rng.random(n) < 0.10) + (rng.random(n) < 0.02)
    cust = np.repeat(np.arange(n), per)
    dev = np.arange(len(cust))
    n_dev = len(cust)
    # A household tablet used by two members.
    fam = np.flatnonzero(
        (people["role"] == ROLE_HEAD) & (people["size"] > 1) & (rng.random(n) < 0.04)
    )
    other = household_member(rng, people, fam)
    tablets = n_dev + np.arange(len(fam))
    n_dev += len(fam)
    cust_parts, dev_parts = [cust, fam, other], [dev, tablets, tablets]
    # Mule rings share one to three handsets; every member uses one, the first two share one.
    ring_devs = []
    for ring in bank.rings:
        k = 1 + len(ring) // 5
        use = np.concatenate(([0, 0], np.arange(1, k), rng.integers(0, k, len(ring) - k - 1)))
        ring_devs.append(n_dev + np.arange(k))
        cust_parts.append(ring)
        dev_parts.append(n_dev + use)
        n_dev += k
    cust, dev = np.concatenate(cust_parts), np.concatenate(dev_parts)
    # The device's own activation, then when each customer first and last used it.
    activated = REFERENCE_TIME - (rng.random(n_dev) * 4 * YEAR).astype(np.int64)
    for r, devs in enumerate(ring_devs):
        activated[devs] = (
            filled(bank.ring_windows, "ring_windows")[r, 0] - rng.integers(1, 40, len(devs)) * DAY
        )
    lo = np.maximum(activated[dev], people["opened"][cust])
    lo = np.minimum(lo, REFERENCE_TIME - DAY)
    first = lo + (rng.random(len(cust)) ** 2 * (REFERENCE_TIME - lo) * 0.5).astype(np.int64)
    last = REFERENCE_TIME - (rng.random(len(cust)) ** 3 * (REFERENCE_TIME - first)).astype(np.int64)
    unknown = rng.random(len(cust)) < 0.03
    model = rng.choice(len(MODELS), size=n_dev, p=zipf_p(len(MODELS), 0.7))
    model = np.where(rng.random(n_dev) < 0.05, -1, model)
    code = people["rank"][cust] * n_dev + dev  # rows in customer id order
    _, keep = np.unique(code, return_index=True)
    bank.tables["devices"] = {
        "customer": cust[keep],
        "device": dev[keep],
        "model": model[dev[keep]],
        "first": np.where(unknown, NO_TIME, first)[keep],
        "last": np.where(unknown, NO_TIME, last)[keep],
    }
    bank.tables["_device"] = {"activated": activated}
    bank.device_ids = id_strings("D", unique_ints(rng, n_dev, 1_000_000_000), 9)
    # Each customer's main device (their first row), for planting apps.
    main = np.full(n, -1)
    owner, row = np.unique(cust, return_index=True)
    main[owner] = dev[row]
    people["device"] = main
    bank.ring_devices = ring_devs


def apps(rng: np.random.Generator, bank: Bank) -> None:
    """Apps installed on devices, and the abnormal apps victims and mules installed."""
    activated = bank.tables["_device"]["activated"]
    n_dev = len(activated)
    abnormal = np.sort(rng.choice(np.arange(40, APP_COUNT), ABNORMAL_APP_COUNT, replace=False))
    normal = np.setdiff1d(np.arange(APP_COUNT), abnormal)
    per = 1 + rng.poisson(3.0, n_dev)
    dev = np.repeat(np.arange(n_dev), per)
    app = normal[rng.choice(len(normal), size=len(dev), p=zipf_p(len(normal), 1.0))]
    at = activated[dev] + (rng.random(len(dev)) * (REFERENCE_TIME - activated[dev])).astype(
        np.int64
    )
    # Background: a few devices carry an abnormal app.
    bg = np.flatnonzero(rng.random(n_dev) < 0.003)
    bg_at = activated[bg] + (rng.random(len(bg)) * (REFERENCE_TIME - activated[bg])).astype(
        np.int64
    )
    # Victims were talked into installing one (remote control, fake investment) before paying.
    main = bank.people["device"]
    victims = filled(bank.victims, "victims")
    v = np.flatnonzero(rng.random(len(victims)) < 0.35)
    v_dev = main[victims[v]]
    v_at = filled(bank.victim_time, "victim_time")[v] - rng.integers(HOUR, 3 * DAY, len(v))
    mules = np.concatenate(bank.rings) if bank.rings else np.zeros(0, np.int64)
    m = mules[rng.random(len(mules)) < 0.15]
    m_dev = main[m]
    m_at = np.maximum(activated[m_dev], REFERENCE_TIME - 200 * DAY)
    ab_dev = np.concatenate([bg, v_dev, m_dev])
    ab_app = abnormal[rng.integers(0, len(abnormal), len(ab_dev))]
    dev = np.concatenate([dev, ab_dev])
    app = np.concatenate([app, ab_app])
    at = np.concatenate([at, bg_at, v_at, m_at])
    at = np.where(rng.random(len(at)) < 0.05, NO_TIME, at)
    code = dev * APP_COUNT + app
    _, keep = np.unique(code, return_index=True)
    bank.tables["apps"] = {"device": dev[keep], "app": app[keep], "at": at[keep]}
    bank.tables["abnormal_apps"] = {
        "app": abnormal,
        "category": rng.integers(0, len(ABNORMAL_APP_CATEGORIES), len(abnormal)),
        "listed": REFERENCE_TIME - rng.integers(30, 900, len(abnormal)) * DAY,
    }
