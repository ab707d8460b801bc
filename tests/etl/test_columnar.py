"""The column screen never disagrees with the row rules: same verdicts, same typed values."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from etl.columnar import validate_batch
from etl.sources import SOURCES_BY_NAME
from etl.validate import RowError, validate_row

TRICKY = {
    "amount": [
        "10.5",
        "100",
        " 10",
        "1e3",
        "+5",
        "-0.001",
        "0.01",
        "1000000000001",
        "abc",
        "",
        "٣",
        "10.50",
        "nan",
        "inf",
    ],
    "ts": [
        "2025-03-01",
        "2025-02-30",
        "2025-03-01T12:30:00Z",
        "2025-03-01T12:30:00+08:00",
        "2025-03-01 12:30:00",
        "2025-3-1",
        "20250301",
        "",
        "2025-03-01T25:00:00Z",
        "2025-03-01T12:30:00.250Z",
        "2010-11-08T18:45:11.728Z",
        "2025-02-30T12:30:00.250Z",
        "2025-03-01T12:30:00.25Z",
        "2025-03-01T12:30:00.2500Z",
    ],
    "currency": ["CNY", " CNY", "CN\tY", "", "EURO"],
}


def _verdicts(values: dict[str, list[str]]) -> tuple[list[object], list[object]]:
    source = SOURCES_BY_NAME["transfers"]
    base = {
        "transfer_id": "T1",
        "src_id": "C1",
        "dst_id": "C2",
        "amount": "1",
        "currency": "",
        "ts": "2025-01-01",
    }
    raws = [{**base, name: v} for name, vs in values.items() for v in vs]
    batch = pa.RecordBatch.from_pylist(
        [{k: (v if v != "" else None) for k, v in raw.items()} for raw in raws],
        schema=pa.schema([(f.name, pa.string()) for f in source.fields]),
    )
    rows, errors = validate_batch(source, "t.csv", batch, np.arange(2, 2 + len(raws)))
    screened: list[object] = [None] * len(raws)
    for line, row in rows:
        screened[line - 2] = row
    for error in errors:
        screened[error.line - 2] = str(error)
    by_row: list[object] = []
    for i, raw in enumerate(raws):
        checked = validate_row(source, raw, "t.csv", i + 2)
        by_row.append(str(checked) if isinstance(checked, RowError) else checked)
    return screened, by_row


@pytest.mark.parametrize("name", sorted(TRICKY))
def test_column_screen_agrees_with_the_row_rules(name: str) -> None:
    screened, by_row = _verdicts({name: TRICKY[name]})
    assert [repr(x) for x in screened] == [repr(x) for x in by_row]


def test_the_screen_of_a_field_pattern_agrees_with_the_row_rules() -> None:
    source = SOURCES_BY_NAME["attributes"]
    names = ["approved_rate", "education_1", "Approved", "1st", "a b", "é", "a" * 64, "a" * 65]
    raws = [{"customer_id": "C1", "name": n, "value": "0.5", "as_of": None} for n in names]
    batch = pa.RecordBatch.from_pylist(
        raws, schema=pa.schema([(f.name, pa.string()) for f in source.fields])
    )
    rows, errors = validate_batch(source, "a.csv", batch, np.arange(2, 2 + len(raws)))
    screened = {line: row for line, row in rows} | {e.line: str(e) for e in errors}
    by_row = {i + 2: validate_row(source, raw, "a.csv", i + 2) for i, raw in enumerate(raws)}
    assert screened == {line: v if isinstance(v, dict) else str(v) for line, v in by_row.items()}
    assert sorted(screened[line]["name"] for line, _ in rows) == sorted(
        ["approved_rate", "education_1", "a" * 64]
    )
