"""Kinship and social ties: relatives in and across households, colleagues, friends, ..."""

from __future__ import annotations

import numpy as np

from etl.sources import RELATION_SOURCES
from etl.synth.bank import Relations
from etl.synth.codes import INVERSE_KIND, KIND_CODE, REGISTRY, RELATION_KINDS, SYMMETRIC_KIND
from etl.synth.households import ROLE_HEAD, TEMPLATES
from etl.synth.people import household_member
from etl.synth.timeframe import DAY, NO_TIME, REFERENCE_TIME, YEAR
from graph.vocab import RelationKind

People = dict[str, np.ndarray]


class RelationBuffer:
    """Relation rows collected part by part, built once into deduplicated `Relations`."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(
        self,
        src: np.ndarray,
        dst: np.ndarray,
        kind: np.ndarray | int,
        source: np.ndarray | int,
        since: np.ndarray | int,
    ) -> None:
        n = len(src)
        self.parts.append(
            (
                np.asarray(src, np.int64),
                np.asarray(dst, np.int64),
                np.broadcast_to(np.asarray(kind, np.int64), (n,)),
                np.broadcast_to(np.asarray(source, np.int64), (n,)),
                np.broadcast_to(np.asarray(since, np.int64), (n,)),
            )
        )

    def build(self, rank: np.ndarray) -> Relations:
        """Deduplicated rows, symmetric kinds with src before dst, in (src, dst) id order."""
        n = len(rank)
        src, dst, kind, source, since = (np.concatenate(c) for c in zip(*self.parts, strict=True))
        swap = SYMMETRIC_KIND[kind] & (rank[src] > rank[dst])
        src, dst = np.where(swap, dst, src), np.where(swap, src, dst)
        keep = src != dst
        src, dst, kind, source, since = (
            src[keep],
            dst[keep],
            kind[keep],
            source[keep],
            since[keep],
        )
        code = ((rank[src] * n + rank[dst]) * len(RELATION_KINDS) + kind) * len(
            RELATION_SOURCES
        ) + source
        _, first = np.unique(code, return_index=True)  # sorted by (src, dst, kind, source)
        since = np.minimum(since[first], REFERENCE_TIME - DAY)
        return Relations(src[first], dst[first], kind[first], source[first], since)


def sources(rng: np.random.Generator, n: int, p: tuple[float, float, float]) -> np.ndarray:
    """Who recorded each of n ties (index into RELATION_SOURCES), with probabilities p."""
    return rng.choice(3, size=n, p=p)


def since_after(
    rng: np.random.Generator,
    people: People,
    a: np.ndarray,
    b: np.ndarray,
    min_age: float,
    null_p: float,
) -> np.ndarray:
    """A time after both were `min_age` (and in the last 20 years), or NO_TIME (unknown)."""
    lo = np.maximum(
        np.maximum(people["birth"][a], people["birth"][b]) + int(min_age * YEAR),
        REFERENCE_TIME - 20 * YEAR,
    )
    lo = np.minimum(lo, REFERENCE_TIME - 30 * DAY)
    t = lo + (rng.random(len(a)) * (REFERENCE_TIME - 7 * DAY - lo)).astype(np.int64)
    return np.where(rng.random(len(a)) < null_p, NO_TIME, t)


def relations(rng: np.random.Generator, people: People, buf: RelationBuffer) -> None:
    """The background ties of all customers, added to buf (flatmates also share an address)."""
    _household_kin(rng, people, buf)
    _relatives_elsewhere(rng, people, buf)
    _colleagues(rng, people, buf)
    loc = _friends(rng, people, buf)
    _classmates(rng, people, buf)
    _neighbours(rng, people, buf)
    _emergency_contacts(rng, people, buf, loc)
    _flatmates(rng, people, buf)


def _window_pairs(
    rng: np.random.Generator, order: np.ndarray, mean: float, window: int
) -> tuple[np.ndarray, ...]:
    """Pairs of nearby entries of `order` (a locality sort): about `mean` partners each."""
    # Sociability varies a lot between people: a heavy-tailed rate gives a few hubs.
    k = rng.poisson(mean * rng.lognormal(-0.5, 1.0, len(order)))
    i = np.repeat(np.arange(len(order)), k)
    off = rng.integers(1, window + 1, len(i)) * np.where(rng.random(len(i)) < 0.5, -1, 1)
    j = i + off
    ok = (j >= 0) & (j < len(order))
    return order[i[ok]], order[j[ok]]


def _household_kin(rng: np.random.Generator, people: People, buf: RelationBuffer) -> None:
    """Kinship inside households, one row per pair; the recorded direction is random and the
    kind is flipped with it (parent <-> child, grandparent <-> grandchild)."""
    order, h_start, tpl = people["order"], people["h_start"], people["tpl"]
    birth = people["birth"]
    for t, (_roles, pairs) in enumerate(TEMPLATES):
        hs = np.flatnonzero(tpl == t)
        hs = hs[people["h_size"][hs] == len(_roles)]
        for i, j, kind in pairs:
            a, b = order[h_start[hs] + i], order[h_start[hs] + j]
            k = np.full(len(hs), KIND_CODE[kind])
            flip = rng.random(len(hs)) < 0.5
            a, b, k = (
                np.where(flip, b, a),
                np.where(flip, a, b),
                np.where(flip, INVERSE_KIND[k], k),
            )
            since = np.maximum(birth[a], birth[b])
            if kind == RelationKind.SPOUSE:
                since = np.minimum(
                    since + (rng.uniform(20, 32, len(hs)) * YEAR).astype(np.int64),
                    REFERENCE_TIME - 60 * DAY,
                )
            elif kind == RelationKind.OTHER_KIN:
                since = np.full(len(hs), NO_TIME)
            since = np.where(rng.random(len(hs)) < 0.15, NO_TIME, since)
            src = sources(rng, len(hs), (0.62, 0.28, 0.10))
            buf.add(a, b, k, src, since)
            # Some pairs the bank or the customer recorded are corroborated by the registry.
            dup = (src != REGISTRY) & (rng.random(len(hs)) < 0.1)
            buf.add(a[dup], b[dup], k[dup], REGISTRY, since[dup])


def _relatives_elsewhere(rng: np.random.Generator, people: People, buf: RelationBuffer) -> None:
    """Relatives in other households: heads of the same surname in the same city."""
    heads = np.flatnonzero(people["role"] == ROLE_HEAD)
    heads = heads[rng.random(len(heads)) < 0.25]
    heads = heads[
        np.lexsort((rng.random(len(heads)), people["surname"][heads], people["city"][heads]))
    ]
    a, b = heads[0:-1:2], heads[1::2]
    same = (people["surname"][a] == people["surname"][b]) & (people["city"][a] == people["city"][b])
    a, b = a[same], b[same]
    kind = np.where(
        rng.random(len(a)) < 0.5, KIND_CODE[RelationKind.SIBLING], KIND_CODE[RelationKind.OTHER_KIN]
    )
    buf.add(a, b, kind, sources(rng, len(a), (0.3, 0.3, 0.4)), NO_TIME)


def _colleagues(rng: np.random.Generator, people: People, buf: RelationBuffer) -> None:
    """Colleagues: workers grouped into employers within a city, each knows 1-2 colleagues."""
    n = len(people["age"])
    age, city = people["age"], people["city"]
    workers = np.flatnonzero((age >= 22) & (age <= 62) & (rng.random(n) < 0.8))
    workers = workers[np.lexsort((rng.random(len(workers)), city[workers]))]
    emp = np.minimum(2 + (rng.pareto(1.2, len(workers) // 4 + 2) * 5).astype(np.int64), 400)
    cs = np.cumsum(emp)
    k = int(np.searchsorted(cs, len(workers)))
    emp = emp[: k + 1]
    emp[-1] -= cs[k] - len(workers) if k < len(cs) else 0
    if emp.sum() < len(workers):
        emp = np.append(emp, len(workers) - emp.sum())
    emp = emp[emp > 0]
    emp_start = np.concatenate(([0], np.cumsum(emp)[:-1]))
    emp_of = np.repeat(np.arange(len(emp)), emp)
    cnt = 1 + (rng.random(len(workers)) < 0.4)
    i = np.repeat(np.arange(len(workers)), cnt)
    j = emp_start[emp_of[i]] + rng.integers(0, emp[emp_of[i]])
    a, b = workers[i], workers[j]
    buf.add(
        a,
        b,
        KIND_CODE[RelationKind.COLLEAGUE],
        sources(rng, len(a), (0.8, 0.0, 0.2)),
        since_after(rng, people, a, b, 22, 0.3),
    )


def _friends(rng: np.random.Generator, people: People, buf: RelationBuffer) -> np.ndarray:
    """Friends: people of a city and a similar age; returns that locality order."""
    n = len(people["age"])
    age, city = people["age"], people["city"]
    loc = np.lexsort((rng.random(n), (age // 6).astype(np.int64), city))
    a, b = _window_pairs(rng, loc, 0.9, 60)
    ok = city[a] == city[b]
    a, b = a[ok], b[ok]
    buf.add(
        a,
        b,
        KIND_CODE[RelationKind.FRIEND],
        sources(rng, len(a), (0.35, 0.0, 0.65)),
        since_after(rng, people, a, b, 12, 0.35),
    )
    return loc


def _classmates(rng: np.random.Generator, people: People, buf: RelationBuffer) -> None:
    """Classmates: same city, born within about a year of each other."""
    age, city, birth = people["age"], people["city"], people["birth"]
    young = np.flatnonzero(age <= 40)
    yloc = young[np.lexsort((rng.random(len(young)), birth[young] // YEAR, city[young]))]
    a, b = _window_pairs(rng, yloc, 0.4, 25)
    ok = (city[a] == city[b]) & (np.abs(age[a] - age[b]) < 1.5)
    a, b = a[ok], b[ok]
    buf.add(
        a,
        b,
        KIND_CODE[RelationKind.CLASSMATE],
        sources(rng, len(a), (0.3, 0.0, 0.7)),
        since_after(rng, people, a, b, 6, 0.3),
    )


def _neighbours(rng: np.random.Generator, people: People, buf: RelationBuffer) -> None:
    """Neighbours: heads of households on the same street of a district."""
    city = people["city"]
    heads = np.flatnonzero(people["role"] == ROLE_HEAD)
    hloc = heads[
        np.lexsort(
            (
                rng.random(len(heads)),
                people["street"][heads],
                people["district"][heads],
                city[heads],
            )
        )
    ]
    a, b = hloc[:-1], hloc[1:]
    ok = (
        (city[a] == city[b])
        & (people["district"][a] == people["district"][b])
        & (rng.random(len(a)) < 0.35)
    )
    a, b = a[ok], b[ok]
    buf.add(
        a,
        b,
        KIND_CODE[RelationKind.NEIGHBOUR],
        sources(rng, len(a), (0.5, 0.2, 0.3)),
        since_after(rng, people, a, b, 18, 0.4),
    )


def _emergency_contacts(
    rng: np.random.Generator, people: People, buf: RelationBuffer, loc: np.ndarray
) -> None:
    """Emergency contacts (src is dst's emergency contact): mostly a household member, else
    someone near in the friends' locality order `loc`."""
    n = len(people["age"])
    named = np.flatnonzero(rng.random(n) < 0.35)
    in_hh = (people["size"][named] > 1) & (rng.random(len(named)) < 0.75)
    c_hh = named[in_hh]
    contact = household_member(rng, people, c_hh)
    buf.add(
        contact,
        c_hh,
        KIND_CODE[RelationKind.EMERGENCY_CONTACT],
        sources(rng, len(c_hh), (0.4, 0.0, 0.6)),
        since_after(rng, people, contact, c_hh, 18, 0.2),
    )
    at = np.empty(n, np.int64)  # position in the friends' locality order
    at[loc] = np.arange(n)
    c_far = named[~in_hh]
    j = np.clip(at[c_far] + rng.integers(1, 40, len(c_far)), 0, n - 1)
    contact = loc[j]
    buf.add(
        contact,
        c_far,
        KIND_CODE[RelationKind.EMERGENCY_CONTACT],
        sources(rng, len(c_far), (0.4, 0.0, 0.6)),
        since_after(rng, people, contact, c_far, 18, 0.2),
    )


def _flatmates(rng: np.random.Generator, people: People, buf: RelationBuffer) -> None:
    """Flatmates: pairs of single-person households in one city share an address."""
    city = people["city"]
    singles = np.flatnonzero(people["size"] == 1)
    singles = singles[np.lexsort((rng.random(len(singles)), city[singles]))]
    a, b = singles[0:-1:2], singles[1::2]
    ok = (city[a] == city[b]) & (rng.random(len(a)) < 0.06)
    a, b = a[ok], b[ok]
    for col in ("district", "street", "house", "apt"):
        people[col][b] = people[col][a]
    buf.add(
        a,
        b,
        KIND_CODE[RelationKind.SHARED_ADDRESS],
        sources(rng, len(a), (0.55, 0.45, 0.0)),
        since_after(rng, people, a, b, 18, 0.2),
    )
