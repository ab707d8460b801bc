"""Row validation: raw values in, typed values or a reason naming the field out.

Errors never carry a personal value (names, ID numbers, phone numbers, addresses): they name
the file, the line and the field, and for other fields show the offending value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from etl.sources import KIN_KINDS, SOCIAL_KINDS, Field, Source


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
    return int(moment.timestamp() * 1000)


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


def _not_equal(a: str, b: str) -> Callable[[dict[str, Any]], tuple[str, str] | None]:
    def rule(row: dict[str, Any]) -> tuple[str, str] | None:
        return (b, f"same as {a}") if row[a] == row[b] else None

    return rule


def _ordered(a: str, b: str) -> Callable[[dict[str, Any]], tuple[str, str] | None]:
    def rule(row: dict[str, Any]) -> tuple[str, str] | None:
        if row[a] is not None and row[b] is not None and row[b] < row[a]:
            return (b, f"earlier than {a}")
        return None

    return rule


def _kind_matches_category(row: dict[str, Any]) -> tuple[str, str] | None:
    kinds = KIN_KINDS if row["category"] == "KIN" else SOCIAL_KINDS
    if row["kind"] not in kinds:
        return ("kind", f"{row['kind']!r} is not a {row['category']} kind")
    return None


def _names_someone(row: dict[str, Any]) -> tuple[str, str] | None:
    if row["customer_id"] is None and row["id_number"] is None:
        return ("customer_id", "an entry needs a customer_id or an id_number")
    return None


# Rules across fields of one row, per source: each returns (field, reason) or None.
ROW_RULES: dict[str, tuple[Callable[[dict[str, Any]], tuple[str, str] | None], ...]] = {
    "relations": (_not_equal("src_id", "dst_id"), _kind_matches_category),
    "transfers": (_not_equal("src_id", "dst_id"),),
    "calls": (_not_equal("phone_number", "counterpart_number"), _ordered("first_ts", "last_ts")),
    "devices": (_ordered("first_seen", "last_seen"),),
    "vouches": (_not_equal("guarantor_id", "customer_id"), _ordered("ts", "outcome_ts")),
    "consents": (_ordered("ts", "expires_at"),),
    "blacklist": (_names_someone,),
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
        problem = rule(row)
        if problem is not None:
            return RowError(file, line, problem[0], problem[1])
    return row
