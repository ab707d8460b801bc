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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from etl import readers
from etl.columnar import read_batches, validate_batch
from etl.readers import MalformedFile
from etl.sources import SOURCES, Source
from etl.transfers import TransferAggregate
from etl.validate import RowError
from graph import embedded
from graph import queries as q
from graph.errors import StoreError, StoreUnavailable
from graph.progress import Progress
from graph.store import GraphStore

MAX_REJECTIONS_SHOWN = 20
T = TypeVar("T")

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

# Which fields must name an existing node, and the query that tells which ones do.
REFERENCES: dict[str, tuple[tuple[str, q.Query, str], ...]] = {
    "relations": (
        ("src_id", q.EXISTING_CUSTOMERS, "customer"),
        ("dst_id", q.EXISTING_CUSTOMERS, "customer"),
    ),
    "transfers": (
        ("src_id", q.EXISTING_CUSTOMERS, "customer"),
        ("dst_id", q.EXISTING_CUSTOMERS, "customer"),
    ),
    "ratings": (
        ("src_id", q.EXISTING_CUSTOMERS, "customer"),
        ("dst_id", q.EXISTING_CUSTOMERS, "customer"),
    ),
    "attributes": (("customer_id", q.EXISTING_CUSTOMERS, "customer"),),
    "phones": (("customer_id", q.EXISTING_CUSTOMERS, "customer"),),
    "devices": (("customer_id", q.EXISTING_CUSTOMERS, "customer"),),
    "apps": (("device_id", q.EXISTING_DEVICES, "device"),),
    "rejections": (("customer_id", q.EXISTING_CUSTOMERS, "customer"),),
    "credit": (("customer_id", q.EXISTING_CUSTOMERS, "customer"),),
    "consents": (("customer_id", q.EXISTING_CUSTOMERS, "customer"),),
    "vouches": (
        ("guarantor_id", q.EXISTING_CUSTOMERS, "customer"),
        ("customer_id", q.EXISTING_CUSTOMERS, "customer"),
    ),
    "labels": (("customer_id", q.EXISTING_CUSTOMERS, "customer"),),
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


@dataclass
class FileReport:
    """What happened to one source file."""

    source: str
    file: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejections: list[str] = field(default_factory=list)
    note: str | None = None
    seconds: float = 0.0

    def reject(self, error: RowError) -> None:
        self.rows_rejected += 1
        if len(self.rejections) < MAX_REJECTIONS_SHOWN:
            self.rejections.append(str(error))


@dataclass
class LoadReport:
    """The end-of-load report: per file, graph deltas, rate and time."""

    folder: str
    backend: str
    mode: str
    files: list[FileReport] = field(default_factory=list)
    nodes_before: dict[str, int] = field(default_factory=dict)
    nodes_after: dict[str, int] = field(default_factory=dict)
    relationships_before: dict[str, int] = field(default_factory=dict)
    relationships_after: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def nodes_written(self) -> int:
        return sum(self.nodes_after.values()) - sum(self.nodes_before.values())

    @property
    def relationships_written(self) -> int:
        return sum(self.relationships_after.values()) - sum(self.relationships_before.values())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        rate = self.rows_read / self.seconds if self.seconds else 0.0
        data.update(
            rows_read=self.rows_read,
            rows_rejected=self.rows_rejected,
            nodes_written=self.nodes_written,
            relationships_written=self.relationships_written,
            rows_per_second=round(rate, 1),
        )
        return data

    def render(self) -> str:
        lines = [f"Loaded {self.folder} into {self.backend} ({self.mode})", ""]
        lines.append(f"{'file':<22}{'read':>12}{'loaded':>12}{'rejected':>10}{'seconds':>9}")
        for f in self.files:
            if f.note:
                lines.append(f"{f.source:<22}{f.note}")
                continue
            lines.append(
                f"{f.source:<22}{f.rows_read:>12,}{f.rows_loaded:>12,}"
                f"{f.rows_rejected:>10,}{f.seconds:>9.1f}"
            )
        for f in self.files:
            for reason in f.rejections:
                lines.append(f"  rejected {reason}")
            if f.rows_rejected > len(f.rejections):
                lines.append(f"  ... and {f.rows_rejected - len(f.rejections):,} more in {f.file}")
        rate = self.rows_read / self.seconds if self.seconds else 0.0
        lines += [
            "",
            f"nodes written: {self.nodes_written:,}   relationships written: "
            f"{self.relationships_written:,}",
            f"{self.rows_read:,} rows in {self.seconds:.1f}s ({rate:,.0f} rows/s)",
        ]
        return "\n".join(lines)


def graph_counts(store: GraphStore) -> tuple[dict[str, int], dict[str, int]]:
    """(node count by label, relationship count by type) of the whole graph."""
    nodes = {r["label"]: int(r["count"]) for r in store.run(q.NODE_COUNTS)}
    rels = {r["type"]: int(r["count"]) for r in store.run(q.RELATIONSHIP_COUNTS)}
    return nodes, rels


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


def missing_reference(
    report: FileReport, source: Source, field_name: str, line: int, value: Any, what: str
) -> RowError:
    """The error of a row naming a node that does not exist (personal values not shown)."""
    shown = "" if source.field(field_name).personal else f" {value!r}"
    return RowError(report.file or "", line, field_name, f"no such {what}{shown} in the graph")


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


def validated_batches(
    path: Path,
    source: Source,
    report: FileReport,
    validate: Callable[[Source, str, Any, Any], tuple[T, list[RowError]]] = validate_batch,
) -> Iterator[tuple[T, int]]:
    """What `validate` makes of each batch of the file (rows by default, or an Arrow table),
    with the number of rows read; rejected rows go to `report` in line order."""
    for batch, lines, unsplittable in read_batches(path, source):
        valid, errors = validate(source, path.name, batch, lines)
        for error in sorted(unsplittable + errors, key=lambda e: e.line):
            report.reject(error)
        report.rows_read += batch.num_rows + len(unsplittable)
        yield valid, batch.num_rows + len(unsplittable)


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


def preflight(folder: Path) -> dict[str, Path]:
    """Find each source's file and check it opens with its required columns, before writing."""
    if not folder.is_dir():
        raise MalformedFile(f"{folder}: not a folder")
    files: dict[str, Path] = {}
    for source in SOURCES:
        path = readers.find_file(folder, source)
        if path is not None:
            readers.check_header(path, source)
            files[source.name] = path
    if not files:
        names = ", ".join(s.name for s in SOURCES)
        raise MalformedFile(f"{folder}: no source file found (expected some of: {names})")
    return files


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
        from etl.bulk import bulk_load, bulk_supported

        reason = bulk_supported(store)
        if reason is None:
            return bulk_load(store, folder, progress=progress)
        if on_note:
            on_note(f"--bulk not used: {reason}; loading incrementally")
    report = Loader(store, batch_size=batch_size, progress=progress).load(folder)
    embedded.compact_store(store)  # a restart then reads a snapshot, not the load's queries
    return report
