"""ETL validation: each bad row gets a clear error naming its file, line and field."""

from __future__ import annotations

import pytest

from etl.sources import SOURCES_BY_NAME
from etl.validate import RowError, parse_time, validate_row

GOOD = {
    "customers": {
        "customer_id": "C1",
        "name": "Ann",
        "id_number": "110101199001011234",
        "gender": "F",
        "birth_date": "1990-01-01",
        "opened_at": "2015-03-01",
        "status": "active",
    },
    "relations": {
        "src_id": "C1",
        "dst_id": "C2",
        "category": "KIN",
        "kind": "spouse",
        "source": "bank",
    },
    "transfers": {
        "transfer_id": "T1",
        "src_id": "C1",
        "dst_id": "C2",
        "amount": "10.5",
        "ts": "2026-01-01T10:00:00Z",
    },
    "calls": {
        "phone_number": "+861",
        "counterpart_number": "+862",
        "kind": "SMS",
        "count": "3",
        "first_ts": "2026-01-01",
        "last_ts": "2026-01-02",
    },
    "vouches": {
        "vouch_id": "V1",
        "guarantor_id": "C1",
        "customer_id": "C2",
        "business": "INSURANCE_PURCHASE",
        "ts": "2026-01-01",
        "outcome": "NO_ISSUE",
    },
    "consents": {
        "consent_id": "K1",
        "customer_id": "C1",
        "category": "credit",
        "granted": "true",
        "ts": "2026-01-01",
    },
    "ratings": {"src_id": "C1", "dst_id": "C2", "score": "-0.5", "ts": "2026-01-01"},
    "attributes": {"customer_id": "C1", "name": "approved_rate", "value": "0.8"},
    "blacklist": {
        "entry_id": "B1",
        "customer_id": "C1",
        "reason": "fraud",
        "listed_at": "2026-01-01",
    },
}

# (source, changes to a good row, field named by the error, words the reason contains)
BAD_ROWS = [
    ("customers", {"customer_id": ""}, "customer_id", "missing"),
    ("customers", {"gender": "Q"}, "gender", "not one of F, M, X"),
    ("customers", {"birth_date": "01/02/1990"}, "birth_date", "ISO 8601"),
    ("customers", {"status": "ACTIVE"}, "status", "not one of"),
    ("customers", {"customer_id": "C" * 65}, "customer_id", "longer than 64"),
    ("customers", {"city": "Bei\x00jing"}, "city", "control characters"),
    ("relations", {"dst_id": "C1"}, "dst_id", "same as src_id"),
    ("relations", {"kind": "colleague"}, "kind", "not a KIN kind"),
    ("relations", {"source": "gossip"}, "source", "not one of"),
    ("relations", {"category": "FRIEND"}, "category", "not one of KIN, SOCIAL"),
    ("transfers", {"amount": "abc"}, "amount", "not a number"),
    ("transfers", {"amount": "-5"}, "amount", "below the minimum"),
    ("transfers", {"amount": "nan"}, "amount", "not a number"),
    ("transfers", {"ts": "yesterday"}, "ts", "ISO 8601"),
    ("calls", {"count": "2.5"}, "count", "not an integer"),
    ("calls", {"count": "0"}, "count", "below the minimum"),
    ("calls", {"last_ts": "2025-12-31"}, "last_ts", "earlier than first_ts"),
    ("vouches", {"customer_id": "C1"}, "customer_id", "same as guarantor_id"),
    ("vouches", {"outcome": "GREAT"}, "outcome", "not one of"),
    ("vouches", {"outcome_ts": "2025-01-01"}, "outcome_ts", "earlier than ts"),
    ("consents", {"granted": "maybe"}, "granted", "true or false"),
    ("blacklist", {"customer_id": ""}, "customer_id", "needs a customer_id or an id_number"),
    ("ratings", {"dst_id": "C1"}, "dst_id", "same as src_id"),
    ("ratings", {"score": "1.5"}, "score", "above the maximum 1"),
    ("ratings", {"score": "-1.01"}, "score", "below the minimum -1"),
    ("ratings", {"ts": ""}, "ts", "missing"),
    ("attributes", {"name": "Approved Rate"}, "name", "does not match ^[a-z][a-z0-9_]{0,63}$"),
    ("attributes", {"name": "1st_rate"}, "name", "does not match"),
    ("attributes", {"name": "a" * 65}, "name", "longer than 64"),
    ("attributes", {"value": "inf"}, "value", "not a number"),
    ("attributes", {"value": ""}, "value", "missing"),
    ("attributes", {"as_of": "soon"}, "as_of", "ISO 8601"),
]


@pytest.mark.parametrize(("source", "changes", "field", "words"), BAD_ROWS)
def test_bad_row_is_rejected_naming_its_field(
    source: str, changes: dict[str, str], field: str, words: str
) -> None:
    raw = {**GOOD[source], **changes}
    error = validate_row(SOURCES_BY_NAME[source], raw, f"{source}.csv", 7)
    assert isinstance(error, RowError)
    assert (error.file, error.line, error.field) == (f"{source}.csv", 7, field)
    assert words in error.reason
    assert str(error).startswith(f"{source}.csv:7: {field}: ")


@pytest.mark.parametrize("source", sorted(GOOD))
def test_good_row_is_typed(source: str) -> None:
    row = validate_row(SOURCES_BY_NAME[source], GOOD[source], "f.csv", 2)
    assert isinstance(row, dict)


def test_personal_values_never_appear_in_errors() -> None:
    raw = {**GOOD["customers"], "id_number": "X" * 40}
    error = validate_row(SOURCES_BY_NAME["customers"], raw, "customers.csv", 3)
    assert isinstance(error, RowError)
    assert "X" * 10 not in str(error)
    calls = {**GOOD["calls"], "counterpart_number": GOOD["calls"]["phone_number"]}
    error = validate_row(SOURCES_BY_NAME["calls"], calls, "calls.csv", 3)
    assert isinstance(error, RowError) and "+861" not in str(error)


def test_times_become_utc_epoch_milliseconds() -> None:
    assert parse_time("1970-01-02") == 86_400_000
    assert parse_time("1970-01-01T00:00:01Z") == 1000
    assert parse_time("1970-01-01T08:00:00+08:00") == 0
    # exact to the millisecond, where float arithmetic would land one short
    assert parse_time("2004-01-29T06:15:44.343Z") == 1_075_356_944_343
    assert parse_time("1970-01-01T00:00:00.001Z") == 1


def test_optional_fields_may_be_empty_and_types_convert() -> None:
    row = validate_row(
        SOURCES_BY_NAME["customers"], {**GOOD["customers"], "address": ""}, "c.csv", 2
    )
    assert isinstance(row, dict) and row["address"] is None
    transfer = validate_row(SOURCES_BY_NAME["transfers"], GOOD["transfers"], "t.csv", 2)
    assert isinstance(transfer, dict) and transfer["amount"] == 10.5
    consent = validate_row(SOURCES_BY_NAME["consents"], GOOD["consents"], "k.csv", 2)
    assert isinstance(consent, dict) and consent["granted"] is True
