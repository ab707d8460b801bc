"""`vouchgraph load DIR`: validate every row, write in idempotent batches, report.

Every batch is one `UNWIND ... MERGE` statement, so it lands whole or not at all, and running a
load again (after a kill, or on the same folder) ends with exactly the graph a clean load gives.
A bad row is rejected with its file, line and field and the rest loads; a missing file is
skipped with a note; a malformed file (unreadable, missing a required column) stops the load
before anything is written.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from etl import readers
from etl.bulk import bulk_load, bulk_supported
from etl.folder import REFERENCES, missing_reference, preflight, validated_batches
from etl.report import FileReport, LoadReport, graph_counts
from etl.sources import SOURCES, Source
from etl.transfers import TransferAggregate
from etl.validate import RowError
from graph import embedded
from graph import queries as q
from graph.errors import StoreError, StoreUnavailable
from graph.progress import Progress
from graph.store import GraphStore

# Re-exported: callers name the load's report and counts through this module.
__all__ = ["BATCH_SIZES", "FileReport", "LoadReport", "Loader", "graph_counts", "load_folder"]

# Rows per write statement, by backend, from bench/batch_size.py (bench/results/batch-size-*.json):
# FalkorDB's rate falls slightly above a few thousand rows, Neo4j's rises up to 20,000 (each
# statement is a transaction: fewer commits) and stays within its transaction memory cap.
BATCH_SIZES = {"falkordb": 5000, "neo4j": 20_000}

# The sources whose rows make the ties a customer's degree counts, and their endpoint fields.
TIE_ENDPOINTS: dict[str, tuple[str, str]] = {
    "relations": ("src_id", "dst_id"),
    "transfers": ("src_id", "dst_id"),
    "vouches": ("guarantor_id", "customer_id"),
}

# The statement that writes a batch of each source (relations and transfers are special).
WRITERS: dict[str, q.Query] = {
    "customers": q.UPSERT_CUSTOMERS,
    "ratings": q.UPSERT_RATINGS,
    "attributes": q.UPSERT_ATTRIBUTES,
    "phones": q.UPSERT_PHONES,
    "calls": q.UPSERT_CALLS,
    "devices": q.UPSERT_DEVICES,
    "apps": q.UPSERT_APPS,
    "abnormal_numbers": q.UPSERT_ABNORMAL_NUMBERS,
    "abnormal_apps": q.UPSERT_ABNORMAL_APPS,
    "blacklist": q.UPSERT_BLACKLIST,
    "rejections": q.UPSERT_REJECTIONS,
    "credit": q.SET_CREDIT,
    "consents": q.UPSERT_CONSENTS,
    "vouches": q.UPSERT_VOUCHES,
    "labels": q.SET_LABELS,
}


def _batches(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


# Sources where one batch may hold several rows of one key and the newest (by this field) must
# win, not the last: a statement's WHERE sees the graph as it was before the statement.
NEWEST_WINS: dict[str, tuple[tuple[str, ...], str]] = {
    "credit": (("customer_id",), "as_of"),
    "ratings": (("src_id", "dst_id"), "ts"),
}


def _dedupe(source: Source, rows: list[tuple[int, dict[str, Any]]]) -> list[dict[str, Any]]:
    # Last row wins for one key; FalkorDB must not see the same pair twice in one MERGE batch.
    if source.name in NEWEST_WINS:
        keys, order = NEWEST_WINS[source.name]
        newest: dict[tuple[Any, ...], dict[str, Any]] = {}
        for _line, row in rows:
            key = tuple(row[k] for k in keys)
            kept = newest.get(key)
            if kept is None or kept[order] <= row[order]:
                newest[key] = row
        return list(newest.values())
    by_key = {tuple(row[k] for k in source.key): row for _line, row in rows}
    return list(by_key.values())


class Loader:
    """Loads a source folder into a store, batch by batch."""

    def __init__(
        self, store: GraphStore, batch_size: int | None = None, progress: bool = True
    ) -> None:
        self.store, self.progress = store, progress
        self.batch_size = batch_size or BATCH_SIZES.get(store.backend, 5000)
        self.touched: set[str] = set()  # customers whose degree this load may have changed

    def _write(self, query: q.Query, rows: list[Any], key: str = "rows") -> None:
        for chunk in _batches(rows, self.batch_size):
            self.store.run(query, {key: chunk})

    def _check_references(
        self, source: Source, rows: list[tuple[int, dict[str, Any]]], report: FileReport
    ) -> list[tuple[int, dict[str, Any]]]:
        for field_name, query, what in REFERENCES.get(source.name, ()):
            wanted = list({row[field_name] for _line, row in rows})
            found = {r["id"] for r in self.store.run(query, {"ids": wanted})}
            kept = []
            for line, row in rows:
                if row[field_name] in found:
                    kept.append((line, row))
                else:
                    report.reject(
                        missing_reference(report, source, field_name, line, row[field_name], what)
                    )
            rows = kept
        return rows

    def _write_source_batch(
        self, source: Source, rows: list[tuple[int, dict[str, Any]]], report: FileReport
    ) -> None:
        if source.name == "relations":
            kin = [(ln, r) for ln, r in rows if r["category"] == "KIN"]
            social = [(ln, r) for ln, r in rows if r["category"] == "SOCIAL"]
            self._write_or_isolate(q.UPSERT_KIN, source, kin, report)
            self._write_or_isolate(q.UPSERT_SOCIAL, source, social, report)
        else:
            self._write_or_isolate(WRITERS[source.name], source, rows, report)

    def _write_or_isolate(
        self,
        query: q.Query,
        source: Source,
        rows: list[tuple[int, dict[str, Any]]],
        report: FileReport,
    ) -> None:
        if not rows:
            return
        try:
            self.store.run(query, {"rows": _dedupe(source, rows)})
            report.rows_loaded += len(rows)
        except StoreUnavailable:
            raise
        except StoreError:
            # The store refused the batch as a whole: find the row(s) it refuses, load the rest.
            for line, row in rows:
                try:
                    self.store.run(query, {"rows": [row]})
                    report.rows_loaded += 1
                except StoreUnavailable:
                    raise
                except StoreError as exc:
                    report.reject(RowError(report.file or "", line, "(row)", str(exc)))

    def load_file(self, source: Source, path: Path) -> FileReport:
        """Validate and write one file; transfers are aggregated first, then written."""
        report = FileReport(source.name, path.name)
        started = time.monotonic()
        aggregate = TransferAggregate() if source.name == "transfers" else None
        with Progress(f"load {path.name}", enabled=self.progress) as bar:
            for valid, batch_len in validated_batches(path, source, report):
                for chunk in _batches(valid, self.batch_size):
                    chunk = self._check_references(source, chunk, report)
                    for field_name in TIE_ENDPOINTS.get(source.name, ()):
                        self.touched.update(row[field_name] for _line, row in chunk)
                    if aggregate is not None:
                        for _line, row in chunk:
                            aggregate.add(row)
                        report.rows_loaded += len(chunk)
                    else:
                        self._write_source_batch(source, chunk, report)
                bar.update(batch_len)
        if aggregate is not None:
            batch_id = readers.digest(path)
            with Progress("write transfer aggregates", enabled=self.progress) as bar:
                for chunk in _batches(aggregate.pair_rows(batch_id), self.batch_size):
                    self.store.run(q.UPSERT_TRANSFERRED, {"rows": chunk})
                    bar.update(len(chunk))
            self._write(q.SET_MOVEMENT, aggregate.movement_rows())
        report.seconds = round(time.monotonic() - started, 3)
        return report

    def load(self, folder: Path) -> LoadReport:
        """Load every source file found in `folder`, in dependency order."""
        started = time.monotonic()
        report = LoadReport(str(folder), self.store.backend, "incremental")
        files = preflight(folder)
        self.store.ensure_schema()
        report.nodes_before, report.relationships_before = graph_counts(self.store)
        for source in SOURCES:
            path = files.get(source.name)
            if path is None:
                report.files.append(FileReport(source.name, note="skipped: no file"))
                continue
            report.files.append(self.load_file(source, path))
        self._write(q.SET_DEGREES, sorted(self.touched), key="ids")
        self.touched.clear()
        report.nodes_after, report.relationships_after = graph_counts(self.store)
        report.seconds = round(time.monotonic() - started, 3)
        return report


def load_folder(
    store: GraphStore,
    folder: Path,
    batch_size: int | None = None,
    progress: bool = True,
    bulk: bool = False,
    on_note: Callable[[str], None] | None = None,
) -> LoadReport:
    """Load a source folder: the bulk path for a first load when asked and possible."""
    if bulk:
        reason = bulk_supported(store)
        if reason is None:
            return bulk_load(store, folder, progress=progress)
        if on_note:
            on_note(f"--bulk not used: {reason}; loading incrementally")
    report = Loader(store, batch_size=batch_size, progress=progress).load(folder)
    embedded.compact_store(store)  # a restart then reads a snapshot, not the load's queries
    return report
