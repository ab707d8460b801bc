"""Each typed row's fields are exactly the names its query returns (and the nested maps'
keys where a row reads them), so a renamed column breaks a test, not a kiosk."""

from __future__ import annotations

import re
from dataclasses import fields

import pytest

from graph import queries as q
from risk.flows.rows import ROWS, RelatedRow, TieRow, from_row


def returned_names(query: q.Query) -> list[str]:
    """The names a query's last RETURN gives its columns (`expr AS name`, or a bare name)."""
    clause = query.text[query.text.rindex("RETURN ") + len("RETURN ") :]
    clause = re.split(r"\b(?:ORDER BY|LIMIT|SKIP)\b", clause)[0]
    parts, depth, current = [], 0, ""
    for char in clause:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    names = []
    for part in parts:
        alias = re.search(r"\bAS\s+(\w+)\s*$", part.strip())
        names.append(alias.group(1) if alias else part.strip().split(".")[-1])
    return names


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.__name__)
def test_a_rows_fields_are_its_querys_returned_names(row: type) -> None:
    assert sorted(f.name for f in fields(row)) == sorted(returned_names(row.QUERY))


def test_the_ties_a_related_row_carries_are_tie_rows() -> None:
    ties = re.search(r"collect\(\{(.*?)\}\) AS ties", RelatedRow.QUERY.text)
    assert ties is not None
    keys = [k.split(":")[0].strip() for k in ties.group(1).split(",")]
    assert sorted(keys) == sorted(f.name for f in fields(TieRow))


def test_a_missing_column_is_an_error_naming_it() -> None:
    with pytest.raises(KeyError, match="candidate_is_src"):
        from_row(TieRow, {"type": "KIN", "kind": "spouse", "source": "bank"})
