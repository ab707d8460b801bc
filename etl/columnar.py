"""Fast validation of whole column batches with Arrow, falling back to the row rules.

Millions of rows are checked column by column in Arrow's compute kernels. The checks here are
a screen, deliberately stricter than the rules of `etl.validate` (only plain forms pass: `10.5`,
`2025-03-01`, `2025-03-01T12:30:00Z`, `2025-03-01T12:30:00.250Z`): a row that passes gets its
typed values from Arrow; a row that does not is handed to `validate_row`, which accepts it or
says exactly why not. So the row rules stay the single truth, and the screen only decides how
fast a row gets there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from etl.readers import MalformedFile, check_header
from etl.sources import Field, Source
from etl.validate import ROW_RULES, RowError, validate_row

BATCH_BYTES = 4 << 20

_INT = r"^-?[0-9]{1,15}$"
_FLOAT = r"^-?[0-9]{1,15}(\.[0-9]{1,12})?$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DATETIME = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$"
_DATETIME_MS = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$"
_CONTROL = r"[\x00-\x1f]"

Rows = list[tuple[int, dict[str, Any]]]


def _true(n: int) -> pa.Array:
    return pa.array(np.ones(n, dtype=bool))


def _time(col: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(epoch ms or null, passes) for plain ISO dates and UTC date-times (whole seconds or
    milliseconds)."""
    out = pa.nulls(len(col), pa.int64())
    ok = pa.array(np.zeros(len(col), dtype=bool))
    for pattern, target, fmt in (
        (_DATE, pa.timestamp("s"), "%Y-%m-%d"),
        (_DATETIME, pa.timestamp("s", tz="UTC"), "%Y-%m-%dT%H:%M:%SZ"),
        (_DATETIME_MS, pa.timestamp("ms", tz="UTC"), None),
    ):
        shaped = pc.fill_null(pc.match_substring_regex(col, pattern), False)
        if not pc.any(shaped).as_py():
            continue
        candidates = pc.if_else(shaped, col, None)
        scale = 1 if target.unit == "ms" else 1000
        try:  # Arrow's ISO 8601 cast is strict (no 2025-02-30) and fast, but all-or-nothing
            ticks = pc.cast(pc.cast(candidates, target), pa.int64())
            exact = shaped
        except pa.ArrowInvalid:  # some impossible date in the batch: check value by value
            if fmt is None:  # strptime has no milliseconds: leave these to the row rules
                continue
            parsed = pc.strptime(candidates, format=fmt, unit="s", error_is_null=True)
            # strptime rolls 2025-02-30 over to March: only a value that prints back passes
            exact = pc.fill_null(pc.equal(pc.strftime(parsed, format=fmt), col), False)
            ticks = pc.cast(parsed, pa.int64())
        out = pc.if_else(exact, pc.multiply(ticks, scale), out)
        ok = pc.or_(ok, exact)
    return out, ok


def _screen(field: Field, col: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(typed values, passes) for one column of strings; passes is True for absent values of
    optional fields."""
    present = pc.is_valid(col)
    if field.kind in ("str", "enum"):
        typed = col
        ok = pc.and_(
            pc.equal(col, pc.utf8_trim_whitespace(col)),
            pc.invert(pc.match_substring_regex(col, _CONTROL)),
        )
        ok = pc.and_(ok, pc.less_equal(pc.utf8_length(col), field.max_length))
        if field.kind == "enum":
            ok = pc.and_(ok, pc.is_in(col, value_set=pa.array(field.choices)))
        if field.pattern is not None:
            ok = pc.and_(ok, pc.match_substring_regex(col, field.pattern))
    elif field.kind in ("int", "float"):
        shaped = pc.fill_null(pc.match_substring_regex(col, _INT if field.kind == "int"
                                                       else _FLOAT), False)  # fmt: skip
        target = pa.int64() if field.kind == "int" else pa.float64()
        typed = pc.cast(pc.if_else(shaped, col, None), target)
        ok = shaped
        if field.min_value is not None:
            ok = pc.and_(ok, pc.greater_equal(typed, field.min_value))
        if field.max_value is not None:
            ok = pc.and_(ok, pc.less_equal(typed, field.max_value))
    elif field.kind == "bool":
        ok = pc.is_in(col, value_set=pa.array(["true", "false"]))
        typed = pc.equal(col, "true")
    else:  # time
        typed, ok = _time(col)
    ok = pc.fill_null(ok, False)
    ok = pc.and_(ok, present) if field.required else pc.or_(ok, pc.invert(present))
    return typed, ok


ARROW_TYPES = {"str": pa.string(), "enum": pa.string(), "int": pa.int64(),
               "float": pa.float64(), "bool": pa.bool_(), "time": pa.int64()}  # fmt: skip


def typed_schema(source: Source) -> pa.Schema:
    """The Arrow schema of a source's validated rows (times as epoch milliseconds)."""
    return pa.schema([(f.name, ARROW_TYPES[f.kind]) for f in source.fields])


def _screen_batch(
    source: Source, file: str, batch: pa.RecordBatch, lines: np.ndarray
) -> tuple[pa.Table, np.ndarray, Rows, list[RowError]]:
    """(typed rows the screen passed, their lines, rows the row rules accepted, errors)."""
    n = batch.num_rows
    names = set(batch.schema.names)
    raw: dict[str, pa.Array] = {}
    typed: dict[str, pa.Array] = {}
    ok = _true(n)
    for field in source.fields:
        col = batch.column(field.name) if field.name in names else pa.nulls(n, pa.string())
        if col.type != pa.string():
            col = pc.cast(col, pa.string())
        raw[field.name] = col
        typed[field.name], passes = _screen(field, col)
        ok = pc.and_(ok, passes)
    for rule in ROW_RULES.get(source.name, ()):
        ok = pc.and_(ok, pc.fill_null(rule.passes(typed), False))
    mask = np.asarray(ok.to_numpy(zero_copy_only=False), dtype=bool)
    table = pa.table([typed[f.name] for f in source.fields], schema=typed_schema(source))
    slow: Rows = []
    errors: list[RowError] = []
    for i in np.flatnonzero(~mask).tolist():
        line = int(lines[i])
        checked = validate_row(source, {k: v[i].as_py() for k, v in raw.items()}, file, line)
        if isinstance(checked, RowError):
            errors.append(checked)
        else:
            slow.append((line, checked))
    return table.filter(pa.array(mask)), lines[mask], slow, errors


def validate_batch(source: Source, file: str, batch: pa.RecordBatch, lines: np.ndarray
                   ) -> tuple[Rows, list[RowError]]:  # fmt: skip
    """Typed rows that pass (with their lines) and the errors of those that do not."""
    fast, fast_lines, slow, errors = _screen_batch(source, file, batch, lines)
    rows: Rows = list(zip(fast_lines.tolist(), fast.to_pylist(), strict=True))
    return rows + slow, errors


def validate_batch_table(source: Source, file: str, batch: pa.RecordBatch, lines: np.ndarray
                         ) -> tuple[pa.Table, list[RowError]]:  # fmt: skip
    """The rows that pass as one typed Arrow table with a `_line` column, and the errors."""
    fast, fast_lines, slow, errors = _screen_batch(source, file, batch, lines)
    if slow:
        extra = pa.Table.from_pylist([row for _line, row in slow], schema=typed_schema(source))
        fast = pa.concat_tables([fast, extra])
        fast_lines = np.concatenate([fast_lines, np.array([ln for ln, _ in slow], np.int64)])
    return fast.append_column("_line", pa.array(fast_lines, pa.int64())), errors


def read_batches(path: Path, source: Source
                 ) -> Iterator[tuple[pa.RecordBatch, np.ndarray, list[RowError]]]:  # fmt: skip
    """(batch of string columns, the line of each row, rows that could not be split)."""
    if path.suffix == ".parquet":
        check_header(path, source)
        yield from _parquet_batches(path, source)
    else:
        yield from _csv_batches(path, source)


def _csv_batches(path: Path, source: Source
                 ) -> Iterator[tuple[pa.RecordBatch, np.ndarray, list[RowError]]]:  # fmt: skip
    bad: list[tuple[int, str]] = []

    def on_invalid(row: Any) -> str:
        bad.append(
            (
                row.number or 0,
                f"has {row.actual_columns} columns, the header has {row.expected_columns}",
            )
        )
        return "skip"

    header = check_header(path, source)
    wanted = [f.name for f in source.fields if f.name in header]
    try:
        reader = pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False, block_size=BATCH_BYTES),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                include_columns=wanted, strings_can_be_null=True, quoted_strings_can_be_null=True,
            ),
        )  # fmt: skip
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
        raise MalformedFile(f"{path.name}: {exc}") from None
    next_line = 2  # line 1 is the header
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as exc:
            message = "not UTF-8 text" if "UTF8" in str(exc) else str(exc)
            raise MalformedFile(f"{path.name}: {message} (after line {next_line})") from None
        # rows this block skipped as unsplittable sit between the good ones: place each line
        skipped = sorted(line for line, _ in bad)
        total = batch.num_rows + len(skipped)
        span = np.arange(next_line, next_line + total)
        lines = span[~np.isin(span, np.array(skipped, dtype=np.int64))]
        errors = [RowError(path.name, line, "(row)", reason) for line, reason in bad]
        bad.clear()
        next_line += total
        yield batch, lines[: batch.num_rows], errors


def _parquet_batches(path: Path, source: Source
                     ) -> Iterator[tuple[pa.RecordBatch, np.ndarray, list[RowError]]]:  # fmt: skip
    parquet = pq.ParquetFile(path)
    columns = [f.name for f in source.fields if f.name in parquet.schema_arrow.names]
    first = 1  # Parquet rows are numbered from 1
    for batch in parquet.iter_batches(batch_size=65536, columns=columns):
        yield batch, np.arange(first, first + batch.num_rows), []
        first += batch.num_rows
