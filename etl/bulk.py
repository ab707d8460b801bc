"""`vouchgraph load --bulk`: a first load into an empty FalkorDB graph through GRAPH.BULK.

The folder is validated exactly as the incremental path validates it (same rules, same
reference checks, same report), resolved in memory with the same last-row-wins semantics as the
`MERGE` statements, and sent as binary blocks; the indexes and constraints are built after the
data. The resulting graph is the one an incremental load of the same folder gives (a test
compares them property by property).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from etl import readers
from etl.load import (
    REFERENCES,
    FileReport,
    LoadReport,
    graph_counts,
    preflight,
    validated_batches,
)
from etl.sources import SOURCES, Source
from etl.transfers import TransferAggregate
from etl.validate import RowError
from graph.backends.falkor import FalkorStore
from graph.backends.falkordb_bulk import EdgeBlock, NodeBlock, bulk_insert
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
MOVEMENT_FIELDS = {  # graph property <- movement row key (graph.queries.SET_MOVEMENT)
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


def bulk_supported(store: GraphStore) -> str | None:
    """None when `store` can take a bulk load now, else why not."""
    if not isinstance(store, FalkorStore):
        return "the bulk path is for the embedded FalkorDB store"
    if not store.is_empty():
        return "the graph is not empty (bulk is for a first load)"
    return None


class _Table:
    """Nodes of one label keyed by id, with last-row-wins properties, in insertion order."""

    def __init__(self, label: str, key: str, properties: tuple[str, ...]) -> None:
        self.label, self.key, self.properties = label, key, properties
        self.rows: dict[str, dict[str, Any]] = {}

    def merge(self, key: str, props: dict[str, Any], keep_old_if_none: tuple[str, ...] = ()):
        node = self.rows.setdefault(key, {})
        for name, value in props.items():
            if value is None and name in keep_old_if_none:
                continue
            node[name] = value

    def block(self) -> NodeBlock:
        props = (self.key, *self.properties)
        rows = [(key, *(node.get(p) for p in self.properties)) for key, node in self.rows.items()]
        return NodeBlock(self.label, props, rows)


class _Bulk:
    """The whole folder, resolved in memory into node tables and relationship maps."""

    def __init__(self) -> None:
        self.customers = _Table(
            "Customer",
            "id",
            (
                *CUSTOMER_FIELDS,
                "credit_grade",
                "credit_score",
                "credit_as_of",
                "fraud_label",
                "fraud_kind",
                "label_ts",
                *MOVEMENT_FIELDS,
            ),
        )
        self.phones = _Table(
            "Phone", "number", ("abnormal", "abnormal_category", "abnormal_listed_at")
        )
        self.devices = _Table("Device", "id", ("model",))
        self.apps = _Table(
            "App", "id", ("name", "abnormal", "abnormal_category", "abnormal_listed_at")
        )
        self.blacklist = _Table(
            "BlacklistEntry", "id", ("customer_id", "id_number", "reason", "listed_at")
        )
        self.rejections = _Table("Rejection", "id", ("business", "reason_code", "ts"))
        self.consents = _Table("Consent", "id", ("category", "granted", "ts", "expires_at"))
        # relationship type -> {(src key, dst key, *merge key): properties}
        self.edges: dict[str, dict[tuple[Any, ...], dict[str, Any]]] = {}
        self.transfers = TransferAggregate()
        self.transfer_batch = ""

    def edge(self, rel: str, key: tuple[Any, ...], props: dict[str, Any]) -> None:
        self.edges.setdefault(rel, {})[key] = props

    def known(self, label_query_name: str) -> set[str]:
        table = {
            "existing_customers": self.customers,
            "existing_phones": self.phones,
            "existing_devices": self.devices,
        }[label_query_name]
        return set(table.rows)

    def add(self, source: str, row: dict[str, Any]) -> None:
        r = row
        if source == "customers":
            self.customers.merge(r["customer_id"], {f: r[f] for f in CUSTOMER_FIELDS})
        elif source == "relations":
            self.edge(
                r["category"],
                (r["src_id"], r["dst_id"], r["kind"], r["source"]),
                {"kind": r["kind"], "source": r["source"], "since": r["since"]},
            )
        elif source == "transfers":
            self.transfers.add(r)
        elif source == "phones":
            self.phones.merge(r["phone_number"], {})
            self.edge("USES_PHONE", (r["customer_id"], r["phone_number"]), {"since": r["since"]})
        elif source == "calls":
            self.phones.merge(r["phone_number"], {})
            self.phones.merge(r["counterpart_number"], {})
            self.edge(
                "CONTACTED",
                (r["phone_number"], r["counterpart_number"], r["kind"]),
                {
                    "kind": r["kind"],
                    "count": r["count"],
                    "first_ts": r["first_ts"],
                    "last_ts": r["last_ts"],
                },
            )
        elif source == "devices":
            self.devices.merge(r["device_id"], {"model": r["model"]}, keep_old_if_none=("model",))
            self.edge(
                "USES_DEVICE",
                (r["customer_id"], r["device_id"]),
                {"first_seen": r["first_seen"], "last_seen": r["last_seen"]},
            )
        elif source == "apps":
            self.apps.merge(r["app_id"], {"name": r["app_name"]}, keep_old_if_none=("name",))
            self.edge("HAS_APP", (r["device_id"], r["app_id"]), {"installed_at": r["installed_at"]})
        elif source == "abnormal_numbers":
            self.phones.merge(
                r["phone_number"],
                {
                    "abnormal": True,
                    "abnormal_category": r["category"],
                    "abnormal_listed_at": r["listed_at"],
                },
            )
        elif source == "abnormal_apps":
            self.apps.merge(
                r["app_id"],
                {
                    "abnormal": True,
                    "abnormal_category": r["category"],
                    "abnormal_listed_at": r["listed_at"],
                },
            )
        elif source == "blacklist":
            self.blacklist.merge(
                r["entry_id"],
                {k: r[k] for k in ("customer_id", "id_number", "reason", "listed_at")},
            )
            self.edge("_BLACKLIST_ROW", (r["entry_id"], r["customer_id"], r["id_number"]), {})
        elif source == "rejections":
            self.rejections.merge(
                r["rejection_id"],
                {"business": r["business"], "reason_code": r["reason_code"], "ts": r["ts"]},
            )
            self.edge("WAS_REJECTED", (r["customer_id"], r["rejection_id"]), {})
        elif source == "credit":
            current = self.customers.rows[r["customer_id"]]
            if current.get("credit_as_of") is None or current["credit_as_of"] <= r["as_of"]:
                self.customers.merge(
                    r["customer_id"],
                    {
                        "credit_grade": r["grade"],
                        "credit_score": r["score"],
                        "credit_as_of": r["as_of"],
                    },
                )
        elif source == "consents":
            self.consents.merge(
                r["consent_id"],
                {
                    "category": r["category"],
                    "granted": r["granted"],
                    "ts": r["ts"],
                    "expires_at": r["expires_at"],
                },
            )
            self.edge("GAVE_CONSENT", (r["customer_id"], r["consent_id"]), {})
        elif source == "vouches":
            self.edge(
                "VOUCHED_FOR",
                (r["guarantor_id"], r["customer_id"], r["vouch_id"]),
                {
                    "id": r["vouch_id"],
                    "business": r["business"],
                    "ts": r["ts"],
                    "outcome": r["outcome"],
                    "outcome_ts": r["outcome_ts"],
                },
            )
        elif source == "labels":
            self.customers.merge(
                r["customer_id"],
                {"fraud_label": r["label"], "fraud_kind": r["kind"], "label_ts": r["ts"]},
            )

    def finish_transfers(self) -> None:
        for m in self.transfers.movement_rows():
            node = self.customers.rows[m["customer_id"]]
            if node.get("movement_as_of") is None or node["movement_as_of"] <= m["as_of"]:
                node.update({prop: m[key] for prop, key in MOVEMENT_FIELDS.items()})

    def blocks(self) -> tuple[list[NodeBlock], list[EdgeBlock]]:
        tables = (
            self.customers,
            self.phones,
            self.devices,
            self.apps,
            self.blacklist,
            self.rejections,
            self.consents,
        )
        index: dict[str, dict[str, int]] = {}
        offset = 0
        for table in tables:
            index[table.label] = {key: offset + i for i, key in enumerate(table.rows)}
            offset += len(table.rows)
        cust, phone, device = index["Customer"], index["Phone"], index["Device"]
        ends = {  # relationship type -> (source node index, destination node index)
            "KIN": (cust, cust),
            "SOCIAL": (cust, cust),
            "USES_PHONE": (cust, phone),
            "CONTACTED": (phone, phone),
            "USES_DEVICE": (cust, device),
            "HAS_APP": (device, index["App"]),
            "WAS_REJECTED": (cust, index["Rejection"]),
            "GAVE_CONSENT": (cust, index["Consent"]),
            "VOUCHED_FOR": (cust, cust),
        }
        edges: list[EdgeBlock] = []
        for rel, (src_index, dst_index) in ends.items():
            found = self.edges.get(rel, {})
            names = tuple(next(iter(found.values()), {}).keys())
            rows = [
                (src_index[k[0]], dst_index[k[1]], *(p[n] for n in names)) for k, p in found.items()
            ]
            edges.append(EdgeBlock(rel, names, sorted(rows, key=lambda row: row[0])))
        edges.append(self._transferred(cust))
        edges.append(self._blacklisted(cust, index["BlacklistEntry"]))
        return [t.block() for t in tables], edges

    def _transferred(self, cust: dict[str, int]) -> EdgeBlock:
        cols = self.transfers.pair_columns()
        ids = self.transfers.ids
        rows = [
            (cust[ids[s]], cust[ids[d]], c, round(t, 2), m, f, la, [self.transfer_batch])
            for s, d, c, t, m, f, la in zip(
                cols["src"].tolist(),
                cols["dst"].tolist(),
                cols["count"].tolist(),
                cols["total"].tolist(),
                cols["max_amount"].tolist(),
                cols["first_ts"].tolist(),
                cols["last_ts"].tolist(),
                strict=True,
            )
        ]
        rows.sort(key=lambda row: row[0])
        names = ("count", "total", "max_amount", "first_ts", "last_ts", "batches")
        return EdgeBlock("TRANSFERRED", names, rows)

    def _blacklisted(self, cust: dict[str, int], entries: dict[str, int]) -> EdgeBlock:
        by_id_number: dict[str, list[str]] = {}
        for cid, node in self.customers.rows.items():
            if node.get("id_number"):
                by_id_number.setdefault(node["id_number"], []).append(cid)
        pairs: set[tuple[int, int]] = set()
        for entry_id, customer_id, id_number in self.edges.get("_BLACKLIST_ROW", {}):
            named = [customer_id] if customer_id in cust else []
            named += by_id_number.get(id_number or "", [])
            pairs.update((cust[c], entries[entry_id]) for c in named)
        return EdgeBlock("BLACKLISTED_AS", (), sorted(pairs))


def _check_local(
    source: Source, rows: list[tuple[int, dict[str, Any]]], bulk: _Bulk, report: FileReport
) -> Iterable[tuple[int, dict[str, Any]]]:
    checks = [
        (f, bulk.known(query.name), what) for f, query, what in REFERENCES.get(source.name, ())
    ]
    for line, row in rows:
        for field_name, known, what in checks:
            if row[field_name] not in known:
                shown = "" if source.field(field_name).personal else f" {row[field_name]!r}"
                report.reject(
                    RowError(
                        report.file or "", line, field_name, f"no such {what}{shown} in the graph"
                    )
                )
                break
        else:
            yield line, row


def bulk_load(store: GraphStore, folder: Path, progress: bool = True) -> LoadReport:
    """Validate the folder, then create the graph in one GRAPH.BULK stream."""
    if not isinstance(store, FalkorStore):
        raise TypeError("bulk_load needs the FalkorDB store")
    started = time.monotonic()
    report = LoadReport(str(folder), store.backend, "bulk")
    files = preflight(folder)
    bulk = _Bulk()
    for source in SOURCES:
        path = files.get(source.name)
        if path is None:
            report.files.append(FileReport(source.name, note="skipped: no file"))
            continue
        file_report = FileReport(source.name, path.name)
        file_started = time.monotonic()
        with Progress(f"read {path.name}", enabled=progress) as bar:
            for valid, batch_len in validated_batches(path, source, file_report):
                for _line, row in _check_local(source, valid, bulk, file_report):
                    bulk.add(source.name, row)
                    file_report.rows_loaded += 1
                bar.update(batch_len)
        if source.name == "transfers":
            bulk.transfer_batch = readers.digest(path)
            bulk.finish_transfers()
        file_report.seconds = round(time.monotonic() - file_started, 3)
        report.files.append(file_report)
    nodes, edges = bulk.blocks()
    with Progress("bulk insert", unit="entities", enabled=progress) as bar:
        seen: dict[str, int] = {}

        def on_progress(kind: str, count: int) -> None:
            bar.update(count - seen.get(kind, 0))
            seen[kind] = count

        bulk_insert(
            store.connection,
            store.graph_name,
            nodes,
            edges,
            progress=on_progress,
            max_buffer_bytes=256 << 20,
        )
    store.ensure_schema()
    report.nodes_after, report.relationships_after = graph_counts(store)
    report.seconds = round(time.monotonic() - started, 3)
    return report
