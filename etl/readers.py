"""Reading source files (CSV or Parquet) as raw rows with their line numbers."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from etl.sources import Source


class MalformedFile(ValueError):
    """A file that cannot be read as its source at all (not a bad row: a bad file)."""


def find_file(folder: Path, source: Source) -> Path | None:
    """The file of `source` in `folder` (`<name>.csv` or `<name>.parquet`), if present."""
    found = [
        p for p in (folder / f"{source.name}.csv", folder / f"{source.name}.parquet") if p.exists()
    ]
    if len(found) > 1:
        raise MalformedFile(f"{source.name}: both .csv and .parquet present; keep one")
    return found[0] if found else None


def _check_columns(path: Path, source: Source, columns: list[str]) -> None:
    if len(set(columns)) != len(columns):
        raise MalformedFile(f"{path.name}: duplicate column names in the header")
    missing = [f.name for f in source.fields if f.required and f.name not in columns]
    if missing:
        raise MalformedFile(f"{path.name}: missing required column(s): {', '.join(missing)}")


def check_header(path: Path, source: Source) -> None:
    """Raise MalformedFile unless the file opens and has every required column."""
    if path.suffix == ".parquet":
        try:
            columns = pq.read_schema(path).names
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise MalformedFile(f"{path.name}: not a readable Parquet file ({exc})") from None
    else:
        try:
            with open(path, encoding="utf-8-sig", newline="") as fh:
                columns = next(csv.reader(fh), [])
        except UnicodeDecodeError:
            raise MalformedFile(f"{path.name}: not UTF-8 text") from None
        if not columns:
            raise MalformedFile(f"{path.name}: empty file (no header row)")
        columns = [c.strip() for c in columns]
    _check_columns(path, source, columns)


def iter_rows(path: Path, source: Source) -> Iterator[tuple[int, dict[str, Any] | str]]:
    """(line, raw row) pairs; a row that cannot be split into the header's columns comes as
    (line, reason) so the caller can reject it and go on."""
    check_header(path, source)
    if path.suffix == ".parquet":
        yield from _parquet_rows(path, source)
    else:
        yield from _csv_rows(path)


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = [c.strip() for c in next(reader)]
        width = len(header)
        try:
            for values in reader:
                line = reader.line_num
                if not values:
                    continue
                if len(values) != width:
                    yield line, f"has {len(values)} columns, the header has {width}"
                    continue
                yield line, dict(zip(header, values, strict=True))
        except UnicodeDecodeError:
            raise MalformedFile(
                f"{path.name}: not UTF-8 text after line {reader.line_num}"
            ) from None
        except csv.Error as exc:
            raise MalformedFile(f"{path.name}:{reader.line_num}: {exc}") from None


def _parquet_rows(path: Path, source: Source) -> Iterator[tuple[int, dict[str, Any] | str]]:
    wanted = [f.name for f in source.fields]
    parquet = pq.ParquetFile(path)
    columns = [c for c in wanted if c in parquet.schema_arrow.names]
    line = 1  # row 1 is the first data row, like line 2 of a CSV after its header
    for batch in parquet.iter_batches(batch_size=65536, columns=columns):
        for row in batch.to_pylist():
            yield line, row
            line += 1


def digest(path: Path) -> str:
    """A short content digest of a file: the identity of a batch of transfers."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]
