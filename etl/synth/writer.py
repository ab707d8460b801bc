"""Writing a source's rows to CSV or Parquet, chunk by chunk, under a temporary name first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from etl.sources import Source
from etl.synth.tables import Columns

CHUNK_ROWS = 500_000  # rows formatted and written at a time

_ARROW_TYPES = {
    "str": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "time": pa.string(),
    "enum": pa.string(),
}


def source_schema(source: Source) -> pa.Schema:
    """The Arrow schema `generate` writes for a source: times and enums are strings."""
    return pa.schema(
        [pa.field(f.name, _ARROW_TYPES[f.kind], nullable=not f.required) for f in source.fields]
    )


def write(
    source: Source,
    rows: int,
    columns: Columns,
    path: Path,
    fmt: str,
    progress: Callable[[str, int, int], None] | None,
) -> None:
    """Write `rows` rows of `source` built by `columns` to path, in `fmt` ("csv" or "parquet")."""
    schema = source_schema(source)
    # Quoting "none" keeps files small; pyarrow refuses (rather than corrupts) a value with a
    # comma, quote or newline, and no generated value has one.
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "csv":
        writer = pacsv.CSVWriter(
            str(tmp), schema, write_options=pacsv.WriteOptions(quoting_style="none")
        )
    else:
        writer = pq.ParquetWriter(str(tmp), schema, compression="zstd")
    try:
        for a in range(0, rows, CHUNK_ROWS):
            b = min(rows, a + CHUNK_ROWS)
            cols = columns(a, b)
            writer.write_batch(
                pa.record_batch([cols[f.name] for f in source.fields], schema=schema)
            )
            if progress is not None:
                progress(source.name, b, rows)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    writer.close()
    tmp.replace(path)  # a reader never sees a half-written file under the real name
    if rows == 0 and progress is not None:
        progress(source.name, 0, 0)
