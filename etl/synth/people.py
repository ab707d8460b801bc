"""People: households, ages, names, places, accounts."""

from __future__ import annotations

import numpy as np

from etl.synth.households import (
    FIRST_CHILD,
    HOUSEHOLD_SIZE_P,
    ROLE_CHILD,
    ROLE_ELDER,
    ROLE_HEAD,
    ROLE_SPOUSE,
    ROLE_TABLE,
)
from etl.synth.sampling import others_in_group, zipf_p
from etl.synth.timeframe import DAY, HOUR, REFERENCE_TIME, YEAR
from etl.synth.vocabulary import (
    CITIES,
    DISTRICTS,
    GIVEN,
    OCC_RETIRED,
    OCC_STUDENT,
    OCCUPATIONS,
    STREET_SUFFIX,
    STREETS,
    SURNAMES,
)


def people(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """n customers in households: one array per attribute, indexed by customer."""
    sizes = _household_sizes(rng, n)
    h = _households(rng, sizes)
    m = _members(rng, n, sizes, h)
    order = m["order"]
    age = _by_customer(order, m["age"])
    birth, opened, occupation, status = _accounts(rng, n, age)
    hh = _by_customer(order, m["hh"])
    return {
        "order": order,
        "hh": hh,
        "h_start": h["start"],
        "h_size": sizes,
        "size": sizes[hh],
        "pos": _by_customer(order, m["pos"]),
        "role": _by_customer(order, m["role"]),
        "tpl": h["tpl"],
        "age": age,
        "birth": birth,
        "gender": _by_customer(order, m["gender"]),
        "surname": _by_customer(order, m["surname"]),
        "given1": rng.integers(0, len(GIVEN), n),
        "given2": np.where(rng.random(n) < 0.7, rng.integers(0, len(GIVEN), n), -1),
        "city": h["city"][hh],
        "district": h["district"][hh],
        "street": h["street"][hh],
        "house": h["house"][hh],
        "apt": h["apt"][hh],
        "occupation": occupation,
        "opened": opened,
        "status": status,
        "activity": rng.lognormal(0.0, 0.8, n) * np.array([1.0, 0.05, 0.02])[status],
        "address_known": rng.random(n) < 0.97,
    }


def household_member(
    rng: np.random.Generator, people: dict[str, np.ndarray], c: np.ndarray
) -> np.ndarray:
    """A random other member of each customer's household (customers in households of 2+)."""
    hh = people["hh"][c]
    p = others_in_group(rng, people["h_start"][hh], people["h_size"][hh], people["pos"][c])
    return people["order"][p]


def _household_sizes(rng: np.random.Generator, n: int) -> np.ndarray:
    """Household sizes (1 to 5) summing to exactly n."""
    sizes = rng.choice(5, size=n // 2 + 10, p=HOUSEHOLD_SIZE_P) + 1
    cs = np.cumsum(sizes)
    k = int(np.searchsorted(cs, n))
    if k >= len(sizes):  # never for these rates, but keep the sum exact anyway
        sizes, cs, k = np.append(sizes, n - cs[-1]), np.append(cs, n), len(sizes)
    sizes = sizes[: k + 1].copy()
    sizes[-1] -= cs[k] - n
    return sizes


def _households(rng: np.random.Generator, sizes: np.ndarray) -> dict[str, np.ndarray]:
    """Per household: its template, the head's and eldest child's ages, surname and address."""
    nh = len(sizes)
    r = rng.random(nh)
    tpl = np.select(
        [
            sizes == 1,
            (sizes == 2) & (r < 0.7),
            sizes == 2,
            (sizes == 3) & (r < 0.75),
            sizes == 3,
            sizes == 4,
        ],
        [0, 1, 2, 3, 4, 5],
        6,
    )
    has_child = np.isin(tpl, (2, 3, 5, 6))
    cmax = np.where(np.isin(tpl, (5, 6)), rng.uniform(20, 42, nh), rng.uniform(18, 42, nh))
    head_age = np.where(
        has_child,
        cmax + rng.uniform(22, 36, nh),
        np.where(tpl == 4, rng.uniform(28, 60, nh), 18 + rng.gamma(2.0, 11.0, nh)),
    )
    head_age = np.minimum(head_age, np.where(tpl == 6, 70.0, 95.0))
    return {
        "start": np.concatenate(([0], np.cumsum(sizes)[:-1])),
        "tpl": tpl,
        "cmax": cmax,
        "head_age": head_age,
        "surname": rng.choice(len(SURNAMES), size=nh, p=zipf_p(len(SURNAMES), 0.8)),
        "city": rng.choice(len(CITIES), size=nh, p=zipf_p(len(CITIES), 0.9)),
        "district": rng.integers(0, len(DISTRICTS), nh),
        "street": rng.integers(0, len(STREETS) * len(STREET_SUFFIX), nh),
        "house": rng.integers(1, 400, nh),
        "apt": rng.integers(1, 33, nh) * 100 + rng.integers(1, 9, nh),
    }


def _members(
    rng: np.random.Generator, n: int, sizes: np.ndarray, h: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """Per position p in household order: role, age, gender, surname; customer = order[p]."""
    nh = len(sizes)
    # Customer index = order[p] so households are scattered.
    order = rng.permutation(n)
    hh_p = np.repeat(np.arange(nh), sizes)
    pos_p = np.arange(n) - h["start"][hh_p]
    t_p = h["tpl"][hh_p]
    role_p = ROLE_TABLE[t_p, pos_p]
    ha = h["head_age"][hh_p]
    age_p = np.select(
        [role_p == ROLE_HEAD, role_p == ROLE_SPOUSE, role_p == ROLE_CHILD],
        [
            ha,
            np.clip(ha + np.clip(rng.normal(0, 3.5, n), -8, 8), 18, 99),
            np.maximum(18.0, h["cmax"][hh_p] - (pos_p - FIRST_CHILD[t_p]) * rng.uniform(1.5, 6, n)),
        ],
        np.minimum(ha + rng.uniform(20, 30, n), 99),
    )
    head_gender = rng.integers(0, 2, nh)
    gender_p = np.where(
        (role_p == ROLE_SPOUSE) & (rng.random(n) < 0.96),
        1 - head_gender[hh_p],
        rng.integers(0, 2, n),
    )
    gender_p = np.where(role_p == ROLE_HEAD, head_gender[hh_p], gender_p)
    gender_p[rng.random(n) < 0.001] = 2
    own_surname = rng.choice(len(SURNAMES), size=n, p=zipf_p(len(SURNAMES), 0.8))
    keep_family = (
        (role_p == ROLE_HEAD)
        | (role_p == ROLE_CHILD)
        | ((role_p == ROLE_ELDER) & (rng.random(n) < 0.6))
    )
    surname_p = np.where(keep_family, h["surname"][hh_p], own_surname)
    return {
        "order": order,
        "hh": hh_p,
        "pos": pos_p,
        "role": role_p,
        "age": age_p,
        "gender": gender_p,
        "surname": surname_p,
    }


def _by_customer(order: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Values by household position, re-indexed by customer."""
    out = np.empty_like(a)
    out[order] = a
    return out


def _accounts(
    rng: np.random.Generator, n: int, age: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Birth time, account opening, occupation (-1 unknown) and account status."""
    birth = (REFERENCE_TIME - age * YEAR - rng.uniform(0, DAY, n)).astype(np.int64)
    tenure = rng.exponential(7.0, n)
    tenure = np.where(tenure > 28.0, rng.uniform(15.0, 28.0, n), tenure)  # no pile-up at a cap
    tenure = np.clip(np.minimum(tenure, age - 18.0), 0.03, None)
    opened = (REFERENCE_TIME - tenure * YEAR).astype(np.int64)
    opened -= opened % DAY - (8 * HOUR + rng.integers(0, 10 * HOUR, n))  # business hours
    occupation = rng.integers(0, len(OCCUPATIONS), n)
    occupation = np.where((age >= 60) & (rng.random(n) < 0.8), OCC_RETIRED, occupation)
    occupation = np.where((age < 23) & (rng.random(n) < 0.6), OCC_STUDENT, occupation)
    occupation = np.where(
        (occupation == OCC_RETIRED) & (age < 50), rng.integers(0, 5, n), occupation
    )
    occupation[rng.random(n) < 0.08] = -1
    status = rng.choice(3, size=n, p=(0.87, 0.11, 0.02))
    return birth, opened, occupation, status
