"""Reading source files (CSV or Parquet) as raw rows with their line numbers."""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

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


def check_header(path: Path, source: Source) -> list[str]:
    """The file's column names; MalformedFile unless it opens and has every required one."""
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
    return columns


def digest(path: Path) -> str:
    """A short content digest of a file: the identity of a batch of transfers."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]
