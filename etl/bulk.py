"""`vouchgraph load --bulk`: a first load into an empty graph through the store's native bulk
path (`GraphStore.bulk_loader()`: FalkorDB's GRAPH.BULK, or `neo4j-admin database import full`
into the local Neo4j; a store that refuses is loaded incrementally, with the reason as a note).

The folder is validated exactly as the incremental path validates it (same rules, same
reference checks, same report) but kept as Arrow columns, resolved with the same semantics as
the `MERGE` statements (the last row of a key wins; the newest credit wins), and sent as binary
blocks built column by column; indexes and constraints are built after the data. The result is
the graph an incremental load of the same folder gives (a test compares them property by
property).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl import readers
from etl.columnar import typed_schema, validate_batch_table
from etl.folder import REFERENCES, missing_reference, preflight, validated_batches
from etl.report import FileReport, LoadReport, graph_counts
from etl.sources import SOURCES, SOURCES_BY_NAME, Source
from etl.transfers import TransferAggregate
from graph import queries as q
from graph.bulk import EdgeColumns, NodeColumns
from graph.errors import StoreError
from graph.progress import Progress
from graph.store import GraphStore

CUSTOMER_FIELDS = (
    "name",
    "id_number",
    "gender",
    "birth_date",
    "address",
    "city",
    "occupation",
    "opened_at",
    "status",
)
MOVEMENT = {  # graph property <- movement column (as graph.queries.SET_MOVEMENT sets them)
    "movement_as_of": "as_of",
    "out_count_180d": "out_count",
    "out_total_180d": "out_total",
    "in_count_180d": "in_count",
    "in_total_180d": "in_total",
    "max_out_180d": "max_out",
    "counterparties_180d": "counterparties",
    "out_count_30d": "out_count_30d",
    "out_total_30d": "out_total_30d",
}
NODE_KEY = {"Phone": "number", "Attribute": "name"}  # the key of a label not keyed on `id`
# Where the nodes each reference check of etl.folder.REFERENCES looks for live in the folder.
REFERENCE_TARGETS = {
    q.EXISTING_CUSTOMERS.name: ("customers", "customer_id"),
    q.EXISTING_DEVICES.name: ("devices", "device_id"),
}


TIE_TYPES = frozenset({"KIN", "SOCIAL", "TRANSFERRED", "VOUCHED_FOR"})  # as SET_DEGREES counts


def bulk_supported(store: GraphStore) -> str | None:
    """None when `store` can take a bulk load now, else why not."""
    reason = store.bulk_loader().refusal()
    if reason is not None:
        return reason
    if not store.is_empty():
        return "the graph is not empty (bulk is for a first load)"
    return None


def last_by_key(table: pa.Table, keys: Sequence[str], order: str = "_order") -> pa.Table:
    """One row per key: the one with the largest `order` (the last row wins), in that order."""
    if table.num_rows == 0:
        return table
    latest = table.group_by(list(keys), use_threads=False).aggregate([(order, "max")])
    positions = pc.index_in(latest[f"{order}_max"], value_set=table[order])
    return table.take(positions.take(pc.sort_indices(positions)))


def newest_by_key(table: pa.Table, keys: Sequence[str], newest: str) -> pa.Table:
    """One row per key: the one with the largest `newest` value, the later row among equals
    (what the `WHERE x.t <= r.t` of an incremental write leaves)."""
    if table.num_rows:
        table = _renumber(table.sort_by([(newest, "ascending"), ("_order", "ascending")]))
    return last_by_key(table, keys)


def _renumber(table: pa.Table) -> pa.Table:
    return table.set_column(
        table.schema.get_field_index("_order"),
        "_order",
        pa.array(np.arange(table.num_rows, dtype=np.int64)),
    )


def _last_non_null(table: pa.Table, key: str, column: str) -> pa.Table:
    """Per key, the last non-null value of `column` (what `coalesce(r.x, n.x)` leaves)."""
    present = table.filter(pc.is_valid(table[column]))
    return last_by_key(present, [key]).select([key, column])


def _left_join(left: pa.Table, right: pa.Table, key: str, right_key: str | None = None) -> pa.Table:
    if right.num_rows == 0:
        for name in right.column_names:
            if name != (right_key or key):
                left = left.append_column(
                    name, pa.nulls(left.num_rows, right.schema.field(name).type)
                )
        return left
    return left.join(
        right, keys=key, right_keys=right_key or key, join_type="left outer", use_threads=False
    )


class _Folder:
    """The validated sources of one folder, as Arrow tables with `_line` and `_order`."""

    def __init__(self) -> None:
        self.tables: dict[str, pa.Table] = {}

    def table(self, source: Source) -> pa.Table:
        found = self.tables.get(source.name)
        if found is not None:
            return found
        schema = typed_schema(source).append(pa.field("_line", pa.int64()))
        return schema.append(pa.field("_order", pa.int64())).empty_table()

    def read(self, source: Source, path: Path, report: FileReport, progress: bool) -> None:
        parts: list[pa.Table] = []
        with Progress(f"read {path.name}", enabled=progress) as bar:
            for table, read in validated_batches(path, source, report, validate_batch_table):
                parts.append(table)
                bar.update(read)
        table = pa.concat_tables(parts) if parts else self.table(source).drop(["_order"])
        table = table.sort_by("_line")  # rows the row rules accepted came after the batch
        table = table.append_column("_order", pa.array(np.arange(table.num_rows, dtype=np.int64)))
        table = self._check_references(source, table, report)
        report.rows_loaded = table.num_rows
        self.tables[source.name] = table

    def _check_references(self, source: Source, table: pa.Table, report: FileReport) -> pa.Table:
        for field_name, query, what in REFERENCES.get(source.name, ()):
            target, key = REFERENCE_TARGETS[query.name]
            known = self.table(SOURCES_BY_NAME[target])[key]
            found = pc.is_in(table[field_name], value_set=known.combine_chunks())
            missing = pc.invert(pc.fill_null(found, False))
            if pc.any(missing).as_py():
                bad = table.filter(missing)
                for line, value in zip(
                    bad["_line"].to_pylist(), bad[field_name].to_pylist(), strict=True
                ):
                    report.reject(missing_reference(report, source, field_name, line, value, what))
                table = _renumber(table.filter(pc.invert(missing)))
        return table


def _customers(folder: _Folder, transfers: TransferAggregate | None) -> pa.Table:
    src = {s.name: s for s in SOURCES}
    customers = last_by_key(folder.table(src["customers"]), ["customer_id"])
    customers = customers.select(["customer_id", *CUSTOMER_FIELDS])
    credit = newest_by_key(folder.table(src["credit"]), ["customer_id"], "as_of")
    credit = credit.select(["customer_id", "grade", "score", "as_of"])
    credit = credit.rename_columns(["customer_id", "credit_grade", "credit_score", "credit_as_of"])
    labels = last_by_key(folder.table(src["labels"]), ["customer_id"])
    labels = labels.select(["customer_id", "label", "kind", "ts"]).rename_columns(
        ["customer_id", "fraud_label", "fraud_kind", "label_ts"]
    )
    table = _left_join(_left_join(customers, credit, "customer_id"), labels, "customer_id")
    cols = transfers.movement_columns() if transfers is not None else {}
    movement = pa.table(
        {
            "customer_id": pa.array(cols.get("customer_id", []), pa.string()),
            **{
                prop: pa.array(cols[c]) if cols else pa.array([], pa.float64())
                for prop, c in MOVEMENT.items()
            },
        }
    )
    table = _left_join(table, movement, "customer_id")
    return table.rename_columns(["id" if n == "customer_id" else n for n in table.column_names])


def _keyed(table: pa.Table, key: str, props: Sequence[str]) -> pa.Table:
    return table.select([key, *props]).rename_columns(
        ["id" if n == key else n for n in [key, *props]]
    )


def _nodes(folder: _Folder, transfers: TransferAggregate | None) -> list[NodeColumns]:
    t = {s.name: folder.table(s) for s in SOURCES}
    string = pa.string()
    # Phones: every number named anywhere; abnormal ones carry the list's facts.
    numbers = pc.unique(
        pa.chunked_array(
            [
                *t["phones"]["phone_number"].chunks,
                *t["calls"]["phone_number"].chunks,
                *t["calls"]["counterpart_number"].chunks,
                *t["abnormal_numbers"]["phone_number"].chunks,
            ],
            type=string,
        )
    )
    abnormal = last_by_key(t["abnormal_numbers"], ["phone_number"])
    abnormal = abnormal.select(["phone_number", "category", "listed_at"]).rename_columns(
        ["number", "abnormal_category", "abnormal_listed_at"]
    )
    abnormal = abnormal.append_column("abnormal", pa.array([True] * abnormal.num_rows))
    phones = _left_join(pa.table({"number": numbers}), abnormal, "number")
    phones = phones.select(["number", "abnormal", "abnormal_category", "abnormal_listed_at"])
    devices = pa.table({"device_id": pc.unique(t["devices"]["device_id"].combine_chunks())})
    devices = _left_join(
        devices, _last_non_null(t["devices"], "device_id", "model"), "device_id"
    ).rename_columns(["id", "model"])
    app_ids = pc.unique(
        pa.chunked_array(
            [*t["apps"]["app_id"].chunks, *t["abnormal_apps"]["app_id"].chunks], type=string
        )
    )
    names = _last_non_null(t["apps"], "app_id", "app_name").rename_columns(["app_id", "name"])
    bad_apps = (
        last_by_key(t["abnormal_apps"], ["app_id"])
        .select(["app_id", "category", "listed_at"])
        .rename_columns(["app_id", "abnormal_category", "abnormal_listed_at"])
    )
    bad_apps = bad_apps.append_column("abnormal", pa.array([True] * bad_apps.num_rows))
    apps = _left_join(
        _left_join(pa.table({"app_id": app_ids}), names, "app_id"), bad_apps, "app_id"
    )
    apps = _keyed(apps, "app_id", ["name", "abnormal", "abnormal_category", "abnormal_listed_at"])
    blacklist = _keyed(
        last_by_key(t["blacklist"], ["entry_id"]),
        "entry_id",
        ["customer_id", "id_number", "reason", "listed_at"],
    )
    rejections = _keyed(
        last_by_key(t["rejections"], ["rejection_id"]),
        "rejection_id",
        ["business", "reason_code", "ts"],
    )
    consents = _keyed(
        last_by_key(t["consents"], ["consent_id"]),
        "consent_id",
        ["category", "granted", "ts", "expires_at"],
    )
    attributes = pa.table({"name": pc.unique(t["attributes"]["name"].combine_chunks())})
    return [
        NodeColumns("Customer", _customers(folder, transfers)),
        NodeColumns("Phone", phones),
        NodeColumns("Device", devices),
        NodeColumns("App", apps),
        NodeColumns("BlacklistEntry", blacklist),
        NodeColumns("Rejection", rejections),
        NodeColumns("Consent", consents),
        NodeColumns("Attribute", attributes),
    ]


class _Ids:
    """Global node ids: each label's keys in the order its nodes are sent."""

    def __init__(self, nodes: Sequence[NodeColumns]) -> None:
        self.keys: dict[str, tuple[pa.Array, int]] = {}
        offset = 0
        for block in nodes:
            key = NODE_KEY.get(block.label, "id")
            self.keys[block.label] = (block.table[key].combine_chunks(), offset)
            offset += block.table.num_rows

    def of(self, label: str, values: pa.ChunkedArray | pa.Array) -> np.ndarray:
        keys, offset = self.keys[label]
        positions = pc.index_in(values, value_set=keys)
        return positions.to_numpy(zero_copy_only=False).astype(np.int64) + offset


def _edge(
    ids: _Ids,
    rel: str,
    table: pa.Table,
    src: tuple[str, str],
    dst: tuple[str, str],
    props: Sequence[str],
) -> EdgeColumns:
    return EdgeColumns(
        rel, ids.of(src[0], table[src[1]]), ids.of(dst[0], table[dst[1]]), table.select(list(props))
    )


def _edges(
    folder: _Folder,
    ids: _Ids,
    nodes: list[NodeColumns],
    transfers: TransferAggregate | None,
    batch: str,
) -> list[EdgeColumns]:
    t = {s.name: folder.table(s) for s in SOURCES}
    c = "Customer"
    relations = last_by_key(t["relations"], ["src_id", "dst_id", "category", "kind", "source"])
    vouches = last_by_key(t["vouches"], ["guarantor_id", "customer_id", "vouch_id"])
    vouches = vouches.rename_columns(["id" if n == "vouch_id" else n for n in vouches.column_names])
    edges = [
        _edge(
            ids,
            category,
            relations.filter(pc.equal(relations["category"], category)),
            (c, "src_id"),
            (c, "dst_id"),
            ("kind", "source", "since"),
        )
        for category in ("KIN", "SOCIAL")
    ]
    edges += [
        _edge(
            ids,
            "USES_PHONE",
            last_by_key(t["phones"], ["customer_id", "phone_number"]),
            (c, "customer_id"),
            ("Phone", "phone_number"),
            ("since",),
        ),
        _edge(
            ids,
            "CONTACTED",
            last_by_key(t["calls"], ["phone_number", "counterpart_number", "kind"]),
            ("Phone", "phone_number"),
            ("Phone", "counterpart_number"),
            ("kind", "count", "first_ts", "last_ts"),
        ),
        _edge(
            ids,
            "USES_DEVICE",
            last_by_key(t["devices"], ["customer_id", "device_id"]),
            (c, "customer_id"),
            ("Device", "device_id"),
            ("first_seen", "last_seen"),
        ),
        _edge(
            ids,
            "HAS_APP",
            last_by_key(t["apps"], ["device_id", "app_id"]),
            ("Device", "device_id"),
            ("App", "app_id"),
            ("installed_at",),
        ),
        _edge(
            ids,
            "WAS_REJECTED",
            last_by_key(t["rejections"], ["customer_id", "rejection_id"]),
            (c, "customer_id"),
            ("Rejection", "rejection_id"),
            (),
        ),
        _edge(
            ids,
            "GAVE_CONSENT",
            last_by_key(t["consents"], ["customer_id", "consent_id"]),
            (c, "customer_id"),
            ("Consent", "consent_id"),
            (),
        ),
        _edge(
            ids,
            "RATED",
            newest_by_key(t["ratings"], ["src_id", "dst_id"], "ts"),
            (c, "src_id"),
            (c, "dst_id"),
            ("score", "ts"),
        ),
        _edge(
            ids,
            "HAS_ATTRIBUTE",
            last_by_key(t["attributes"], ["customer_id", "name"]),
            (c, "customer_id"),
            ("Attribute", "name"),
            ("value", "as_of"),
        ),
        _edge(
            ids,
            "VOUCHED_FOR",
            vouches,
            (c, "guarantor_id"),
            (c, "customer_id"),
            ("id", "business", "ts", "outcome", "outcome_ts"),
        ),
    ]
    edges.append(_blacklisted(t["blacklist"], nodes[0].table, ids))
    if transfers is not None:
        pairs = transfers.pair_columns()
        customer_ids = pa.array(transfers.ids, pa.string())
        props = pa.table(
            {
                "count": pairs["count"],
                "total": pairs["total"],
                "max_amount": pairs["max_amount"],
                "first_ts": pairs["first_ts"],
                "last_ts": pairs["last_ts"],
                "batches": pa.array([[batch]] * len(pairs["count"]), pa.list_(pa.string())),
            }
        )
        edges.append(
            EdgeColumns(
                "TRANSFERRED",
                ids.of(c, customer_ids.take(pairs["src"])),
                ids.of(c, customer_ids.take(pairs["dst"])),
                props,
            )
        )
    return edges


def _blacklisted(rows: pa.Table, customers: pa.Table, ids: _Ids) -> EdgeColumns:
    """Every customer an entry names, by id or by ID number (each version of the entry)."""
    by_id = rows.filter(pc.is_in(rows["customer_id"], value_set=customers["id"].combine_chunks()))
    by_id = by_id.select(["customer_id", "entry_id"])
    named = rows.filter(pc.is_valid(rows["id_number"])).select(["id_number", "entry_id"])
    people = customers.select(["id", "id_number"]).filter(pc.is_valid(customers["id_number"]))
    by_number = named.join(people, keys="id_number", join_type="inner", use_threads=False)
    pairs = pa.concat_tables(
        [
            by_id.rename_columns(["customer_id", "entry_id"]),
            by_number.select(["id", "entry_id"]).rename_columns(["customer_id", "entry_id"]),
        ]
    )
    pairs = pairs.group_by(["customer_id", "entry_id"], use_threads=False).aggregate([])
    return EdgeColumns(
        "BLACKLISTED_AS",
        ids.of("Customer", pairs["customer_id"]),
        ids.of("BlacklistEntry", pairs["entry_id"]),
        None,
    )


def _add_degrees(nodes: list[NodeColumns], edges: Sequence[EdgeColumns]) -> None:
    """Give each customer with ties the `degree` the incremental path writes (SET_DEGREES):
    its kin, social, transfer and vouch relationships, counted from the edge arrays."""
    labels = [block.label for block in nodes]
    if "Customer" not in labels:
        return
    index = labels.index("Customer")
    block = nodes[index]
    offset = sum(b.table.num_rows for b in nodes[:index])  # global ids are positions
    size = block.table.num_rows
    counts = np.zeros(size, dtype=np.int64)
    for edge in edges:
        if edge.rel_type in TIE_TYPES:
            for ends in (edge.src, edge.dst):
                counts += np.bincount(ends - offset, minlength=size)[:size]
    degree = pa.array(counts, mask=counts == 0)  # no tie: no property, as incrementally
    nodes[index] = NodeColumns(
        block.label, block.table.append_column("degree", degree), block.extra_labels
    )


def bulk_load(store: GraphStore, folder: Path, progress: bool = True) -> LoadReport:
    """Validate the folder, then create the graph through the store's bulk loader."""
    loader = store.bulk_loader()
    reason = loader.refusal()
    if reason is not None:
        raise StoreError(f"bulk load not possible: {reason}")
    if not store.is_empty():  # checked before the folder is read, and again by the loader
        raise StoreError("the graph is not empty (bulk is for a first load)")
    started = time.monotonic()
    report = LoadReport(str(folder), store.backend, "bulk")
    files = preflight(folder)
    data = _Folder()
    for source in SOURCES:
        path = files.get(source.name)
        if path is None:
            report.files.append(FileReport(source.name, note="skipped: no file"))
            continue
        file_report = FileReport(source.name, path.name)
        file_started = time.monotonic()
        data.read(source, path, file_report, progress)
        file_report.seconds = round(time.monotonic() - file_started, 3)
        report.files.append(file_report)
    transfers = None
    batch = ""
    if "transfers" in files:
        t = data.tables["transfers"]
        transfers = TransferAggregate.from_columns(t["src_id"], t["dst_id"], t["ts"], t["amount"])
        batch = readers.digest(files["transfers"])
    nodes = _nodes(data, transfers)
    edges = _edges(data, _Ids(nodes), nodes, transfers, batch)
    _add_degrees(nodes, edges)
    data.tables.clear()
    loader.load(nodes, edges, progress)
    report.nodes_after, report.relationships_after = graph_counts(store)
    report.seconds = round(time.monotonic() - started, 3)
    return report
