"""The workbench's pure graph rules: dense ties, rings as connected groups, stable ids, paging
across relation types, and a path from two search trees. Values in, values out."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from graph.vocab import WorkbenchRelation
from risk.policy import WorkbenchRules

RING_LINKS = (
    WorkbenchRelation.TRANSFER,
    WorkbenchRelation.SHARED_PHONE,
    WorkbenchRelation.SHARED_DEVICE,
)
UNDIRECTED_ID_PARTS = 2  # an edge id names its type and its two ends, in sorted order
ID_DIGEST_CHARS = 16  # hex characters of a ring id's SHA-256


@dataclass(frozen=True)
class Tie:
    """One tie as a breadth-first step reads it: from `a` to `b`, its type, and for transfers
    the pair's total moved and number of transfers (in the time range)."""

    a: str
    b: str
    type: str
    amount: float | None = None
    count: int | None = None


def edge_id(type_: str, a: str, b: str) -> str:
    """Stable: the same tie has the same id from either end and on every page."""
    lo, hi = sorted((a, b))
    return f"{type_}:{lo}:{hi}"


def ring_id(members: Iterable[str]) -> str:
    """Stable for the same members: a digest of their sorted ids."""
    text = "\n".join(sorted(set(members)))
    return "ring_" + hashlib.sha256(text.encode()).hexdigest()[:ID_DIGEST_CHARS]


def is_dense(tie: Tie, rules: WorkbenchRules) -> bool:
    """Whether a tie joins a ring: a shared phone or device always does; transfers when the
    pair moved money often enough or much enough (the policy's `dense_min_*`)."""
    if tie.type != WorkbenchRelation.TRANSFER:
        return tie.type in RING_LINKS
    return (tie.count or 0) >= rules.dense_min_transfers or (
        tie.amount or 0.0
    ) >= rules.dense_min_amount


def components(nodes: Iterable[str], ties: Iterable[Tie]) -> list[list[str]]:
    """Connected groups of `nodes` over `ties` (both ends among the nodes), each sorted, the
    largest first (then by first id)."""
    parent = {n: n for n in nodes}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for t in ties:
        if t.a in parent and t.b in parent:
            ra, rb = root(t.a), root(t.b)
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    groups: dict[str, list[str]] = {}
    for n in parent:
        groups.setdefault(root(n), []).append(n)
    return sorted((sorted(g) for g in groups.values()), key=lambda g: (-len(g), g[0]))


def page_slices(
    counts: Mapping[str, int], order: Sequence[str], offset: int, first: int
) -> dict[str, tuple[int, int]]:
    """Where a page of `first` entries from `offset` falls in the types' lists laid end to end
    in `order`: (skip, limit) per type, (0, 0) for a type the page does not reach."""
    out: dict[str, tuple[int, int]] = {}
    start, end = offset, offset + first
    at = 0
    for name in order:
        n = counts.get(name, 0)
        lo, hi = max(start, at), min(end, at + n)
        out[name] = (lo - at, hi - lo) if hi > lo else (0, 0)
        at += n
    return out


def join_path(
    meet: str,
    back_from: Mapping[str, tuple[str, str] | None],
    back_to: Mapping[str, tuple[str, str] | None],
) -> tuple[list[str], list[str]]:
    """The customers and tie types of a path through `meet`: `back_from` leads back to the
    start and `back_to` on to the end (each maps a customer to (previous, type), None at the
    root)."""
    left: list[str] = [meet]
    types: list[str] = []
    step = back_from[meet]
    while step is not None:
        previous, type_ = step
        left.append(previous)
        types.append(type_)
        step = back_from[previous]
    left.reverse()
    types.reverse()
    step = back_to[meet]
    while step is not None:
        following, type_ = step
        left.append(following)
        types.append(type_)
        step = back_to[following]
    return left, types
