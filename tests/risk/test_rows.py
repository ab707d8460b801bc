"""Each typed row's fields are exactly the names its query returns (and the nested maps'
keys where a row reads them), so a renamed column breaks a test, not a kiosk."""

from __future__ import annotations

import re
from dataclasses import fields

import pytest
from cypher_text import returned_names

from risk.flows.rows import ROWS, RelatedRow, TieRow, from_row


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
