"""Row validation: raw values in, typed values or a reason naming the field out.

Errors never carry a personal value (names, ID numbers, phone numbers, addresses): they name
the file, the line and the field, and for other fields show the offending value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from etl.sources import KIN_KINDS, SOCIAL_KINDS, Field, Source
from graph.vocab import RelationType


@dataclass(frozen=True)
class RowError:
    """Why one row was rejected."""

    file: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.reason}"


class FieldError(ValueError):
    """A value that does not meet its field's rule (message safe to show)."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def _shown(field: Field, value: Any) -> str:
    if field.personal:
        return "(value hidden: personal data)"
    text = str(value)
    return repr(text if len(text) <= 40 else text[:40] + "...")


def parse_time(value: Any) -> int:
    """ISO 8601 date or date-time (UTC when no offset) -> epoch milliseconds."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = str(value).strip()
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), datetime.min.time())
        else:
            moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # integer arithmetic: `timestamp() * 1000` can land a millisecond short (.343 -> 342)
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def convert(field: Field, value: Any) -> Any:
    """One value, typed and checked against its field's rule; None when absent."""
    if value is None or (isinstance(value, str) and value.strip() == ""):
        if field.required:
            raise FieldError("missing")
        return None
    if isinstance(value, float) and math.isnan(value):
        if field.required:
            raise FieldError("missing")
        return None
    kind = field.kind
    try:
        if kind in ("str", "enum"):
            result: Any = value.strip() if isinstance(value, str) else str(value)
            if len(result) > field.max_length:
                raise FieldError(f"longer than {field.max_length} characters")
            if any(ord(ch) < 32 for ch in result):
                raise FieldError("contains control characters")
            if field.pattern is not None and re.fullmatch(field.pattern, result) is None:
                raise FieldError(f"{_shown(field, result)} does not match {field.pattern}")
            if kind == "enum" and result not in field.choices:
                raise FieldError(
                    f"{_shown(field, result)} is not one of {', '.join(field.choices)}"
                )
            return result
        if kind == "int":
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not number.is_integer():
                raise ValueError
            result = int(number)
        elif kind == "float":
            result = float(value)
            if not math.isfinite(result):
                raise ValueError
        elif kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError
        elif kind == "time":
            return parse_time(value)
        else:  # pragma: no cover - Kind is a closed set
            raise FieldError(f"unknown kind {kind}")
    except (ValueError, TypeError, OverflowError) as exc:
        if isinstance(exc, FieldError):
            raise
        expected = {
            "int": "an integer",
            "float": "a number",
            "bool": "true or false",
            "time": "an ISO 8601 date or date-time",
        }[kind]
        raise FieldError(f"{_shown(field, value)} is not {expected}") from None
    if field.min_value is not None and result < field.min_value:
        raise FieldError(f"{_shown(field, result)} is below the minimum {field.min_value:g}")
    if field.max_value is not None and result > field.max_value:
        raise FieldError(f"{_shown(field, result)} is above the maximum {field.max_value:g}")
    return result


class RowRule:
    """A rule across the fields of one row, checked per row (the rule's truth) and per column
    batch (a fast screen that may be stricter, never looser: rows it fails are re-checked row
    by row)."""

    def check(self, row: dict[str, Any]) -> tuple[str, str] | None:
        """(field, reason) when the row breaks the rule, else None."""
        raise NotImplementedError

    def passes(self, cols: dict[str, pa.Array]) -> pa.Array:
        """Boolean array: True where the rule certainly holds."""
        raise NotImplementedError


@dataclass(frozen=True)
class NotEqual(RowRule):
    a: str
    b: str

    def check(self, row: dict[str, Any]) -> tuple[str, str] | None:
        return (self.b, f"same as {self.a}") if row[self.a] == row[self.b] else None

    def passes(self, cols: dict[str, pa.Array]) -> pa.Array:
        return pc.fill_null(pc.not_equal(cols[self.a], cols[self.b]), True)


@dataclass(frozen=True)
class Ordered(RowRule):
    a: str
    b: str

    def check(self, row: dict[str, Any]) -> tuple[str, str] | None:
        if row[self.a] is not None and row[self.b] is not None and row[self.b] < row[self.a]:
            return (self.b, f"earlier than {self.a}")
        return None

    def passes(self, cols: dict[str, pa.Array]) -> pa.Array:
        return pc.fill_null(pc.greater_equal(cols[self.b], cols[self.a]), True)


@dataclass(frozen=True)
class KindMatchesCategory(RowRule):
    def check(self, row: dict[str, Any]) -> tuple[str, str] | None:
        kinds = KIN_KINDS if row["category"] == RelationType.KIN else SOCIAL_KINDS
        if row["kind"] not in kinds:
            return ("kind", f"{row['kind']!r} is not a {row['category']} kind")
        return None

    def passes(self, cols: dict[str, pa.Array]) -> pa.Array:
        kin = pc.equal(cols["category"], RelationType.KIN.value)
        kin_kind = pc.is_in(cols["kind"], value_set=pa.array(KIN_KINDS))
        social_kind = pc.is_in(cols["kind"], value_set=pa.array(SOCIAL_KINDS))
        return pc.fill_null(pc.if_else(kin, kin_kind, social_kind), False)


@dataclass(frozen=True)
class OneOfPresent(RowRule):
    a: str
    b: str

    def check(self, row: dict[str, Any]) -> tuple[str, str] | None:
        if row[self.a] is None and row[self.b] is None:
            return (self.a, f"an entry needs a {self.a} or an {self.b}")
        return None

    def passes(self, cols: dict[str, pa.Array]) -> pa.Array:
        return pc.or_(pc.is_valid(cols[self.a]), pc.is_valid(cols[self.b]))


# Rules across fields of one row, per source.
ROW_RULES: dict[str, tuple[RowRule, ...]] = {
    "relations": (NotEqual("src_id", "dst_id"), KindMatchesCategory()),
    "transfers": (NotEqual("src_id", "dst_id"),),
    "ratings": (NotEqual("src_id", "dst_id"),),
    "calls": (NotEqual("phone_number", "counterpart_number"), Ordered("first_ts", "last_ts")),
    "devices": (Ordered("first_seen", "last_seen"),),
    "vouches": (NotEqual("guarantor_id", "customer_id"), Ordered("ts", "outcome_ts")),
    "consents": (Ordered("ts", "expires_at"),),
    "blacklist": (OneOfPresent("customer_id", "id_number"),),
}


def validate_row(
    source: Source, raw: Mapping[str, Any], file: str, line: int
) -> dict[str, Any] | RowError:
    """A row of `source` as typed values, or the first reason it cannot be loaded."""
    row: dict[str, Any] = {}
    for field in source.fields:
        try:
            row[field.name] = convert(field, raw.get(field.name))
        except FieldError as exc:
            return RowError(file, line, field.name, str(exc))
    for rule in ROW_RULES.get(source.name, ()):
        problem = rule.check(row)
        if problem is not None:
            return RowError(file, line, problem[0], problem[1])
    return row
