"""From the graph store to arrays: the whole graph, or a few customers' capped neighbourhood.

Both paths run the same batched, time-aware reads (`graph.queries`, `MODEL_*`), so a model sees
the same features in training as in serving. Reads go by batches of customer ids and each batch
is turned into numpy columns at once, so a 1M-customer export never holds query results twice.

A `GraphExport` holds:
- customers: ids, a float32 feature matrix (`CUSTOMER_FEATURES` plus the bank's own numeric
  attributes, see `attribute_names`), labels with the time each became known, and segments;
- phones and devices: small feature matrices (a phone's number stays in memory only, as a key);
- relations: for each of `RELATIONS`, directed edges (src, dst) between customers with
  attributes, plus the customer-phone and customer-device links.
Nothing stamped after `as_of` is read (see the queries), which is what keeps evaluation at a time
t free of facts learnt later.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from graph import queries as q
from graph.progress import Progress
from graph.store import GraphStore
from graph.vocab import CREDIT_GRADES, DAY_MS, DAYS_PER_YEAR

YEAR_MS = DAYS_PER_YEAR * DAY_MS
STATUSES = ("active", "dormant", "closed")

# Customer-to-customer relations and the attributes each edge carries.
RELATIONS: dict[str, tuple[str, ...]] = {
    "kin": (),
    "social": (),
    "transferred": ("log_count", "log_total", "log_max", "partial"),
    "vouched": ("no_issue", "bad", "open"),
    "rated": ("score",),
}
SYMMETRIC = frozenset({"kin", "social"})
VOUCH_OUTCOME = slice(0, 3)  # the attribute columns of "vouched" that carry its outcome

CUSTOMER_FEATURES: tuple[str, ...] = (
    "age_years",
    "tenure_years",
    "status_active",
    "status_dormant",
    "status_closed",
    "credit_missing",
    "credit_grade",
    "credit_score",
    "movement_missing",
    "log_out_count_180d",
    "log_out_total_180d",
    "log_in_count_180d",
    "log_in_total_180d",
    "log_max_out_180d",
    "log_counterparties_180d",
    "log_out_count_30d",
    "log_out_total_30d",
    "blacklisted",
    "log_rejections",
)
PHONE_FEATURES = ("abnormal", "log_users", "log_abnormal_contacts")
DEVICE_FEATURES = ("log_users", "log_abnormal_apps")


@dataclass
class Edges:
    """Directed edges by index, with one attribute row per edge."""

    src: np.ndarray  # int64
    dst: np.ndarray  # int64
    attr: np.ndarray  # float32, (edges, attributes)

    def __len__(self) -> int:
        return len(self.src)


@dataclass
class GraphExport:
    """Customers, phones, devices and their relations as arrays, as of one time."""

    as_of: int
    customer_ids: list[str]
    x: np.ndarray  # float32 (customers, features)
    feature_names: tuple[str, ...]
    attribute_names: tuple[str, ...]
    label: np.ndarray  # int8: 1 fraud, 0 known good, -1 none
    label_ts: np.ndarray  # int64 epoch ms; 0 when no label
    label_kind: np.ndarray  # object: the label's kind ("none", "mule", ...; "" when none)
    status: np.ndarray  # object
    phone_x: np.ndarray
    device_x: np.ndarray
    edges: dict[str, Edges]  # RELATIONS, plus "uses_phone" and "uses_device"
    seeds: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # online: the asked

    @property
    def num_customers(self) -> int:
        return len(self.customer_ids)

    def index_of(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.customer_ids)}

    def known_labels(self, allowed: np.ndarray | None = None) -> np.ndarray:
        """Labels a model may read as input: known by `as_of` (and, if given, `allowed`)."""
        known = (self.label >= 0) & (self.label_ts <= self.as_of)
        if allowed is not None:
            known &= allowed
        return np.where(known, self.label, -1).astype(np.int8)

    def fingerprint(self) -> str:
        """A digest of what a model trained on this export saw."""
        h = hashlib.sha256()
        h.update(str(self.as_of).encode())
        h.update("\n".join(self.customer_ids).encode())
        for array in (self.x, self.label, self.phone_x, self.device_x):
            h.update(np.ascontiguousarray(array).tobytes())
        for name in sorted(self.edges):
            e = self.edges[name]
            for array in (e.src, e.dst, e.attr):
                h.update(np.ascontiguousarray(array).tobytes())
        return h.hexdigest()

    def segments(self) -> dict[str, np.ndarray]:
        """Groups for per-segment evaluation: label kind, account status, relation count."""
        degree = np.zeros(self.num_customers, np.int64)
        for name in RELATIONS:
            e = self.edges[name]
            degree += np.bincount(e.src, minlength=self.num_customers)
            degree += np.bincount(e.dst, minlength=self.num_customers)
        bands = np.array(["none", "1-2", "3-9", "10+"], dtype=object)
        band = bands[np.searchsorted([1, 3, 10], degree, side="right")]
        kinds = np.where(self.label_kind == "", "unlabelled", self.label_kind)
        return {"label_kind": kinds, "status": self.status, "relations": band}


# --- reading --------------------------------------------------------------------------------


def _log(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.log1p(np.maximum(values, 0.0))


def _column(rows: list[dict[str, Any]], key: str, default: float = 0.0) -> np.ndarray:
    return np.array([default if r[key] is None else r[key] for r in rows], np.float64)


_LABEL_DTYPES = {"label": np.int8, "label_ts": np.int64, "label_kind": object, "status": object}


class _Builder:
    """Collects batches of rows into growing column chunks, indexed as they arrive."""

    def __init__(self, as_of: int) -> None:
        self.as_of = as_of
        self.customers: dict[str, int] = {}
        self.phones: dict[str, int] = {}
        self.devices: dict[str, int] = {}
        self.feature_rows: dict[int, int] = {}  # customer index -> row in feature chunks
        self.feature_chunks: list[np.ndarray] = []
        # per batch, in feature-row order: label, label_ts, label_kind, status
        self.label_chunks: dict[str, list[np.ndarray]] = {k: [] for k in _LABEL_DTYPES}
        self.attributes: dict[int, list[tuple[str, float]]] = {}
        self.edges: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
            name: [] for name in (*RELATIONS, "uses_phone", "uses_device")
        }
        self.phone_facts: dict[int, np.ndarray] = {}
        self.device_facts: dict[int, np.ndarray] = {}

    def customer(self, customer_id: str) -> int:
        index = self.customers.get(customer_id)
        if index is None:
            index = self.customers[customer_id] = len(self.customers)
        return index

    def add_features(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        base = len(self.feature_rows)
        for offset, r in enumerate(rows):
            index = self.customer(r["id"])
            self.feature_rows[index] = base + offset
            pairs = [(str(n), float(v)) for n, v in r["attributes"] if n is not None]
            if pairs:
                self.attributes[index] = pairs
        self.feature_chunks.append(_customer_matrix(rows, self.as_of))
        for key, values in (
            ("label", _column(rows, "label", -1)),
            ("label_ts", _column(rows, "label_ts", 0)),
            ("label_kind", [r["label_kind"] or "" for r in rows]),
            ("status", [r["status"] or "" for r in rows]),
        ):
            self.label_chunks[key].append(np.array(values, dtype=_LABEL_DTYPES[key]))

    def add_relation(self, name: str, rows: list[dict[str, Any]], outgoing: bool) -> set[str]:
        """Adds one relation's rows read from a batch; returns the neighbours' ids."""
        src: list[int] = []
        dst: list[int] = []
        attrs: list[list[float]] = []
        seen: set[str] = set()
        for r in rows:
            me, row = self.customer(r["id"]), r["row"]
            other = self.customer(row[0])
            seen.add(row[0])
            src.append(me if outgoing else other)
            dst.append(other if outgoing else me)
            attrs.append(_relation_attributes(name, row, self.as_of))
        if src:
            attr = np.array(attrs, np.float32).reshape(len(src), len(RELATIONS[name]))
            self.edges[name].append((np.array(src, np.int64), np.array(dst, np.int64), attr))
        return seen

    def add_things(self, name: str, rows: list[dict[str, Any]]) -> set[str]:
        """Phones or devices read online with their facts; returns their other users' ids.
        A row is [key, (phone: abnormal, abnormal contacts | device: abnormal apps), users,
        some user ids]."""
        phone = name == "uses_phone"
        keys, facts = (
            (self.phones, self.phone_facts) if phone else (self.devices, self.device_facts)
        )
        src: list[int] = []
        dst: list[int] = []
        users: set[str] = set()
        for r in rows:
            key, *counts, user_count, user_ids = r["row"]
            index = keys.get(key)
            if index is None:
                index = keys[key] = len(keys)
                if phone:
                    abnormal, contacts = counts
                    fact = [abnormal, math.log1p(user_count), math.log1p(contacts)]
                else:
                    fact = [math.log1p(user_count), math.log1p(counts[0])]
                facts[index] = np.array(fact, np.float32)
            for user in (r["id"], *user_ids):
                users.add(user)
                src.append(self.customer(user))
                dst.append(index)
        if src:
            empty = np.zeros((len(src), 0), np.float32)
            self.edges[name].append((np.array(src, np.int64), np.array(dst, np.int64), empty))
        return users

    def add_links(self, name: str, rows: list[dict[str, Any]]) -> None:
        """The export's customer-phone or customer-device links (facts come in `link_facts`)."""
        keys = self.phones if name == "uses_phone" else self.devices
        src, dst = [], []
        for r in rows:
            index = keys.get(r["key"])
            if index is None:
                index = keys[r["key"]] = len(keys)
                if name == "uses_phone":
                    self.phone_facts[index] = np.array([r["abnormal"], 0, 0], np.float32)
            src.append(self.customer(r["id"]))
            dst.append(index)
        if src:
            empty = np.zeros((len(src), 0), np.float32)
            self.edges[name].append((np.array(src, np.int64), np.array(dst, np.int64), empty))

    def link_facts(self, contacts: dict[str, int], apps: dict[str, int]) -> None:
        """Phones' and devices' facts from every link read (user counts) and the abnormal
        contacts and apps read in one pass."""
        for name, keys, facts in (
            ("uses_phone", self.phones, self.phone_facts),
            ("uses_device", self.devices, self.device_facts),
        ):
            users = np.zeros(len(keys), np.int64)
            for chunk in self.edges[name]:
                users += np.bincount(chunk[1], minlength=len(keys))
            for key, index in keys.items():
                if name == "uses_phone":
                    facts[index][1:] = [math.log1p(users[index]), math.log1p(contacts.get(key, 0))]
                else:
                    facts[index] = np.array(
                        [math.log1p(users[index]), math.log1p(apps.get(key, 0))], np.float32
                    )

    def finish(self, attribute_names: Sequence[str] | None) -> GraphExport:
        n = len(self.customers)
        ids = list(self.customers)
        missing = [ids[i] for i in range(n) if i not in self.feature_rows]
        if missing:
            raise LookupError(f"{len(missing)} customers have no features (removed meanwhile?)")
        order = np.array([self.feature_rows[i] for i in range(n)], np.int64)
        base = (
            np.concatenate(self.feature_chunks)[order]
            if self.feature_chunks
            else np.zeros((0, len(CUSTOMER_FEATURES)), np.float32)
        )
        if attribute_names is None:
            attribute_names = sorted({a for rows in self.attributes.values() for a, _ in rows})
        column = {a: j for j, a in enumerate(attribute_names)}
        extra = np.zeros((n, len(attribute_names)), np.float32)
        for index, pairs in self.attributes.items():
            for a, v in pairs:
                if a in column and math.isfinite(v):
                    extra[index, column[a]] = v
        x = np.concatenate([base, extra], axis=1).astype(np.float32)
        labels = {
            key: np.concatenate([np.zeros(0, _LABEL_DTYPES[key]), *chunks])[order]
            for key, chunks in self.label_chunks.items()
        }
        edges = {name: _edges(chunks, name) for name, chunks in self.edges.items()}
        return GraphExport(
            as_of=self.as_of,
            customer_ids=ids,
            x=x,
            feature_names=(*CUSTOMER_FEATURES, *(f"attr_{a}" for a in attribute_names)),
            attribute_names=tuple(attribute_names),
            label=labels["label"],
            label_ts=labels["label_ts"],
            label_kind=labels["label_kind"],
            status=labels["status"],
            phone_x=_facts(self.phone_facts, len(self.phones), len(PHONE_FEATURES)),
            device_x=_facts(self.device_facts, len(self.devices), len(DEVICE_FEATURES)),
            edges=edges,
        )


def _facts(facts: dict[int, np.ndarray], count: int, width: int) -> np.ndarray:
    out = np.zeros((count, width), np.float32)
    for index, row in facts.items():
        out[index] = row
    return out


def _edges(chunks: list[tuple[np.ndarray, np.ndarray, np.ndarray]], name: str) -> Edges:
    """Concatenates chunks and keeps one edge per (src, dst): a tie read from both ends, or
    recorded by two sources, is one edge."""
    width = len(RELATIONS.get(name, ()))
    if not chunks:
        return Edges(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, width), np.float32))
    src = np.concatenate([c[0] for c in chunks])
    dst = np.concatenate([c[1] for c in chunks])
    attr = np.concatenate([c[2] for c in chunks])
    if name in SYMMETRIC:  # stored in one direction, meaning both: keep one orientation
        src, dst = np.minimum(src, dst), np.maximum(src, dst)
    if name in RELATIONS:
        keep = src != dst
        src, dst, attr = src[keep], dst[keep], attr[keep]
    key = src * (int(dst.max(initial=0)) + 1) + dst
    _, first = np.unique(key, return_index=True)
    first.sort()
    return Edges(src[first], dst[first], attr[first])


def _relation_attributes(name: str, row: list[Any], as_of: int) -> list[float]:
    """An edge's attributes from the properties read; anything stamped after `as_of` withheld
    (a transfer aggregate that runs past it cannot be cut, so its amounts are withheld)."""
    if name == "transferred":
        count, total, largest, last_ts = row[1:5]
        if last_ts is not None and last_ts > as_of:
            return [0.0, 0.0, 0.0, 1.0]
        return [math.log1p(count or 0), math.log1p(total or 0), math.log1p(largest or 0), 0.0]
    if name == "vouched":
        outcome, outcome_ts = row[1:3]
        if outcome == "PENDING" or (outcome_ts or 0) > as_of:
            return [0.0, 0.0, 1.0]
        return [1.0, 0.0, 0.0] if outcome == "NO_ISSUE" else [0.0, 1.0, 0.0]
    if name == "rated":
        return [float(row[1] or 0.0)]
    return []


def _customer_matrix(rows: list[dict[str, Any]], as_of: int) -> np.ndarray:
    n = len(rows)
    birth = _column(rows, "birth_date", np.nan)
    opened = _column(rows, "opened_at", np.nan)
    age = np.clip(np.nan_to_num((as_of - birth) / YEAR_MS, nan=0.0), 0, 120)
    tenure = np.clip(np.nan_to_num((as_of - opened) / YEAR_MS, nan=0.0), 0, 100)
    status = np.array([[r["status"] == s for s in STATUSES] for r in rows], np.float64)
    grade = np.array(
        [
            CREDIT_GRADES.index(g) if g in CREDIT_GRADES else -1
            for g in (r["credit_grade"] for r in rows)
        ],
        np.float64,
    )
    credit_missing = (grade < 0).astype(np.float64)
    grade = np.where(grade < 0, 0.0, grade / (len(CREDIT_GRADES) - 1))
    score = _column(rows, "credit_score", 0.0) / 1000.0
    movement = np.zeros((n, 8))
    movement_missing = np.ones(n)
    for i, r in enumerate(rows):
        if r["movement"] is not None:
            movement[i] = [0.0 if v is None else float(v) for v in r["movement"]]
            movement_missing[i] = 0.0
    columns = [
        age,
        tenure,
        *status.T,
        credit_missing,
        grade,
        score,
        movement_missing,
        *_log(movement).T,
        (_column(rows, "blacklisted") > 0).astype(np.float64),
        _log(_column(rows, "rejections")),
    ]
    return np.stack(columns, axis=1).astype(np.float32)


def _batches(items: Sequence[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def customer_ids(store: GraphStore, page: int = 100_000) -> list[str]:
    """Every customer id, in id order, read page by page."""
    ids: list[str] = []
    after = ""
    while True:
        rows = store.run(q.CUSTOMER_IDS_PAGE, {"after": after, "limit": page})
        if not rows:
            return ids
        ids.extend(r["id"] for r in rows)
        after = ids[-1]


def latest_fact_time(store: GraphStore) -> int:
    """The latest time stamped on customers (labels, movement, accounts): a default `as_of`."""
    row = store.run(q.LATEST_FACT_TIME, {})[0]
    times = [int(v) for v in row.values() if v is not None]
    return max(times) if times else 0


def _fill_features(builder: _Builder, store: GraphStore, params: dict[str, Any]) -> None:
    """Reads the features of every customer met so far that has none yet."""
    rest = [c for c, i in builder.customers.items() if i not in builder.feature_rows]
    for batch in _batches(rest, 5000):
        builder.add_features(store.run(q.MODEL_CUSTOMER_FEATURES, {"ids": batch, **params}))


def _by_id(store: GraphStore, query: q.Query, params: dict[str, Any]) -> dict[str, Any]:
    return {r["id"]: r for r in store.run(query, params)}


def export_graph(
    store: GraphStore,
    as_of: int | None = None,
    batch_size: int = 5000,
    attribute_names: Sequence[str] | None = None,
    progress: bool = True,
) -> GraphExport:
    """The whole graph as of `as_of` (default: the latest fact time in the store)."""
    as_of = latest_fact_time(store) if as_of is None else int(as_of)
    params = {"as_of": as_of}
    ids = customer_ids(store)
    builder = _Builder(as_of)
    for customer_id in ids:
        builder.customer(customer_id)
    # the rarer facts in one pass each; customers' own properties by batch
    rare = {
        "rejections": _by_id(store, q.MODEL_ALL_REJECTIONS, params),
        "blacklisted": _by_id(store, q.MODEL_ALL_BLACKLISTED, params),
        "attributes": _by_id(store, q.MODEL_ALL_ATTRIBUTES, params),
    }
    empty = {"rejections": 0, "blacklisted": 0, "attributes": []}
    bar = Progress("export", total=len(ids), unit="customers", enabled=progress)
    for batch in _batches(ids, batch_size):
        args = {"ids": batch, **params}
        rows = store.run(q.MODEL_CUSTOMER_PROPERTIES, args)
        for r in rows:
            for key, found in rare.items():
                r[key] = found[r["id"]][key] if r["id"] in found else empty[key]
        builder.add_features(rows)
        for name, query in q.MODEL_RELATIONS_EXPORT.items():
            builder.add_relation(name, store.run(query, args), outgoing=True)
        builder.add_links("uses_phone", store.run(q.MODEL_PHONE_LINKS, args))
        builder.add_links("uses_device", store.run(q.MODEL_DEVICE_LINKS, args))
        bar.update(len(batch))
    bar.close()
    contacts = store.run(q.MODEL_ALL_ABNORMAL_CONTACTS, params)
    apps = store.run(q.MODEL_ALL_ABNORMAL_APPS, params)
    builder.link_facts(
        {r["key"]: r["abnormal_contacts"] for r in contacts},
        {r["key"]: r["abnormal_apps"] for r in apps},
    )
    _fill_features(builder, store, params)  # customers added while the export ran
    return builder.finish(attribute_names)


def export_neighbourhood(
    store: GraphStore,
    seeds: Sequence[str],
    as_of: int,
    hops: int = 2,
    fanout: int = 10,
    attribute_names: Sequence[str] | None = None,
) -> GraphExport:
    """The given customers and their `hops`-hop neighbourhood, at most `fanout` neighbours per
    customer, relation and direction, as of `as_of`. An unknown seed raises LookupError."""
    builder = _Builder(as_of)
    frontier = list(dict.fromkeys(seeds))
    for s in frontier:
        builder.customer(s)
    params = {"as_of": as_of}
    visited = set(frontier)
    for _ in range(hops):
        if not frontier:
            break
        args = {"ids": frontier, "fanout": fanout, **params}
        found: set[str] = set()
        rows = store.run(q.MODEL_NEIGHBOURS, args)
        for name in RELATIONS:
            for outgoing in (True, False):
                part = [r for r in rows if r["relation"] == name and r["outgoing"] == outgoing]
                found |= builder.add_relation(name, part, outgoing)
        for name in ("uses_phone", "uses_device"):
            found |= builder.add_things(name, [r for r in rows if r["relation"] == name])
        frontier = [c for c in found if c not in visited]
        visited.update(frontier)
    _fill_features(builder, store, params)
    if len(builder.feature_rows) < len(builder.customers):
        raise LookupError("a customer asked for is not in the graph")
    export = builder.finish(attribute_names)
    export.seeds = np.array([builder.customers[s] for s in seeds], np.int64)
    return export
