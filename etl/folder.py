"""A source folder as both load paths read it: each source's file found and its header
checked before anything is written, each file validated batch by batch, and the fields that
must name a node already in the graph."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from etl import readers
from etl.columnar import read_batches, validate_batch
from etl.readers import MalformedFile
from etl.report import FileReport
from etl.sources import SOURCES, Source
from etl.validate import RowError
from graph import queries as q

T = TypeVar("T")

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


def missing_reference(
    report: FileReport, source: Source, field_name: str, line: int, value: Any, what: str
) -> RowError:
    """The error of a row naming a node that does not exist (personal values not shown)."""
    shown = "" if source.field(field_name).personal else f" {value!r}"
    return RowError(report.file or "", line, field_name, f"no such {what}{shown} in the graph")


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
