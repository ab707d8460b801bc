"""The source format: one file per source, its columns, their types and rules.

This module is the single description of the folder format that `vouchgraph load` reads and
`vouchgraph synth` writes (docs/data-format.md is its prose). A file is `<source>.csv` (UTF-8,
header row, comma-separated) or `<source>.parquet`; columns may come in any order, unknown
columns are ignored, and an optional column may be missing or empty.

Times are ISO 8601 (`2025-03-01` or `2025-03-01T12:30:00Z`; without an offset they are UTC) and
are stored in the graph as epoch milliseconds.

The allowed values of the enum columns are graph/vocab.py's vocabularies, and a business is one
the risk policy configures (`policy_businesses`): adding a business to the policy file is all
it takes for its rejections and vouches to load.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from graph import vocab
from graph.vocab import names

Kind = Literal["str", "int", "float", "bool", "time", "enum"]

# The shipped policy, installed beside this package (one distribution).
SHIPPED_POLICY = Path(__file__).resolve().parent.parent / "risk" / "policy.toml"


def policy_businesses(path: Path | None = None) -> tuple[str, ...]:
    """The businesses the risk policy configures, in its order (its `[businesses]` table).

    The policy is the file `path`, else `$VOUCHGRAPH_POLICY`, else the shipped risk/policy.toml:
    the one the service loads. etl may not import risk (etl -> graph), so it reads the names
    from the file; risk/policy.py validates the rest when the service starts.
    """
    if path is None and os.environ.get(vocab.POLICY_ENV):
        path = Path(os.environ[vocab.POLICY_ENV])
    path = path or SHIPPED_POLICY
    try:
        businesses = tomllib.loads(path.read_text(encoding="utf-8")).get("businesses")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the policy's businesses: {exc}") from None
    if not isinstance(businesses, dict) or not businesses:
        raise ValueError(f"{path}: the policy configures no [businesses]")
    return tuple(businesses)


BUSINESSES = policy_businesses()
KIN_KINDS = names(vocab.KIN_KINDS)
SOCIAL_KINDS = names(vocab.SOCIAL_KINDS)
RELATION_SOURCES = names(vocab.RelationSource)
CONSENT_CATEGORIES = names(vocab.ConsentCategory)
CREDIT_GRADES = names(vocab.CREDIT_GRADES)
VOUCH_OUTCOMES = names(vocab.VouchOutcome)
LABEL_KINDS = names(vocab.LabelKind)


@dataclass(frozen=True)
class Field:
    """One column: its name, type and the rule a value must meet."""

    name: str
    kind: Kind = "str"
    required: bool = True
    choices: tuple[str, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    max_length: int = 200
    personal: bool = False  # personal data: never echoed in an error or a log line
    pattern: str | None = None  # a str value must match this whole regular expression


@dataclass(frozen=True)
class Source:
    """One source file: its fields and the columns that identify a row."""

    name: str
    fields: tuple[Field, ...]
    key: tuple[str, ...]
    description: str

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


def _id(name: str, required: bool = True) -> Field:
    return Field(name, "str", required=required, max_length=64)


CUSTOMERS = Source(
    "customers",
    (
        _id("customer_id"),
        Field("name", personal=True),
        Field("id_number", personal=True, max_length=32),
        Field("gender", "enum", choices=names(vocab.Gender)),
        Field("birth_date", "time"),
        Field("address", required=False, personal=True),
        Field("city", required=False, max_length=80),
        Field("occupation", required=False, max_length=80),
        Field("opened_at", "time"),
        Field("status", "enum", choices=names(vocab.AccountStatus)),
    ),
    ("customer_id",),
    "A customer of the bank (basic information from account opening).",
)

RELATIONS = Source(
    "relations",
    (
        _id("src_id"),
        _id("dst_id"),
        Field("category", "enum", choices=names(vocab.RelationType)),
        Field("kind", "enum", choices=KIN_KINDS + SOCIAL_KINDS),
        Field("source", "enum", choices=RELATION_SOURCES),
        Field("since", "time", required=False),
    ),
    ("src_id", "dst_id", "category", "kind", "source"),
    "A kinship or social relationship between two customers, and where it comes from.",
)

TRANSFERS = Source(
    "transfers",
    (
        _id("transfer_id"),
        _id("src_id"),
        _id("dst_id"),
        Field("amount", "float", min_value=0.01, max_value=1e12),
        Field("currency", "str", required=False, max_length=3),
        Field("ts", "time"),
    ),
    ("transfer_id",),
    "One money transfer between two customers; aggregated per ordered pair on load.",
)

PHONES = Source(
    "phones",
    (
        _id("customer_id"),
        Field("phone_number", personal=True, max_length=32),
        Field("since", "time", required=False),
    ),
    ("customer_id", "phone_number"),
    "A phone number a customer uses.",
)

CALLS = Source(
    "calls",
    (
        Field("phone_number", personal=True, max_length=32),
        Field("counterpart_number", personal=True, max_length=32),
        Field("kind", "enum", choices=names(vocab.ContactKind)),
        Field("count", "int", min_value=1, max_value=1e9),
        Field("first_ts", "time"),
        Field("last_ts", "time"),
    ),
    ("phone_number", "counterpart_number", "kind"),
    "Calls or text messages from one number to another over a time window.",
)

DEVICES = Source(
    "devices",
    (
        _id("customer_id"),
        _id("device_id"),
        Field("model", required=False, max_length=80),
        Field("first_seen", "time", required=False),
        Field("last_seen", "time", required=False),
    ),
    ("customer_id", "device_id"),
    "A device (phone handset, tablet) a customer has used for banking.",
)

APPS = Source(
    "apps",
    (
        _id("device_id"),
        _id("app_id"),
        Field("app_name", required=False, max_length=120),
        Field("installed_at", "time", required=False),
    ),
    ("device_id", "app_id"),
    "An app installed on a device.",
)

ABNORMAL_NUMBERS = Source(
    "abnormal_numbers",
    (
        Field("phone_number", personal=True, max_length=32),
        Field("category", max_length=40),
        Field("listed_at", "time"),
    ),
    ("phone_number",),
    "A number in the abnormal-number database (telecom fraud, spoofing, ...).",
)

ABNORMAL_APPS = Source(
    "abnormal_apps",
    (_id("app_id"), Field("category", max_length=40), Field("listed_at", "time")),
    ("app_id",),
    "An app on the abnormal-app list.",
)

BLACKLIST = Source(
    "blacklist",
    (
        _id("entry_id"),
        _id("customer_id", required=False),
        Field("id_number", required=False, personal=True, max_length=32),
        Field("reason", max_length=80),
        Field("listed_at", "time"),
    ),
    ("entry_id",),
    "A blacklist entry, naming a customer or an ID number (or both).",
)

REJECTIONS = Source(
    "rejections",
    (
        _id("rejection_id"),
        _id("customer_id"),
        Field("business", "enum", choices=BUSINESSES),
        Field("reason_code", max_length=40),
        Field("ts", "time"),
    ),
    ("rejection_id",),
    "An earlier rejected business of a customer, with its reason code.",
)

CREDIT = Source(
    "credit",
    (
        _id("customer_id"),
        Field("grade", "enum", choices=CREDIT_GRADES),
        Field("score", "int", required=False, min_value=0, max_value=1000),
        Field("as_of", "time"),
    ),
    ("customer_id", "as_of"),
    "A customer's credit grade as of a time; the newest one wins.",
)

CONSENTS = Source(
    "consents",
    (
        _id("consent_id"),
        _id("customer_id"),
        Field("category", "enum", choices=CONSENT_CATEGORIES),
        Field("granted", "bool"),
        Field("ts", "time"),
        Field("expires_at", "time", required=False),
    ),
    ("consent_id",),
    "A consent record: a customer granted (or withdrew) the use of a data category.",
)

VOUCHES = Source(
    "vouches",
    (
        _id("vouch_id"),
        _id("guarantor_id"),
        _id("customer_id"),
        Field("business", "enum", choices=BUSINESSES),
        Field("ts", "time"),
        Field("outcome", "enum", choices=VOUCH_OUTCOMES),
        Field("outcome_ts", "time", required=False),
    ),
    ("vouch_id",),
    "One time a guarantor vouched for a customer, and how that business ended.",
)

RATINGS = Source(
    "ratings",
    (
        _id("src_id"),
        _id("dst_id"),
        Field("score", "float", min_value=-1.0, max_value=1.0),
        Field("ts", "time"),
    ),
    ("src_id", "dst_id"),
    "One customer's trust rating of another (-1 distrust to 1 trust); the newest per pair wins.",
)

ATTRIBUTE_NAME = r"^[a-z][a-z0-9_]{0,63}$"

ATTRIBUTES = Source(
    "attributes",
    (
        _id("customer_id"),
        Field("name", max_length=64, pattern=ATTRIBUTE_NAME),
        Field("value", "float"),
        Field("as_of", "time", required=False),
    ),
    ("customer_id", "name"),
    "A numeric attribute of a customer from the bank's feature store (a model feature).",
)

LABELS = Source(
    "labels",
    (
        _id("customer_id"),
        Field("label", "int", min_value=0, max_value=1),
        Field("kind", "enum", choices=LABEL_KINDS),
        Field("ts", "time"),
    ),
    ("customer_id",),
    "A fraud label for a customer (1 fraud, 0 known good) and when it became known.",
)

# In load order: nodes other sources point at come first.
SOURCES: tuple[Source, ...] = (
    CUSTOMERS,
    RELATIONS,
    TRANSFERS,
    RATINGS,
    ATTRIBUTES,
    PHONES,
    CALLS,
    DEVICES,
    APPS,
    ABNORMAL_NUMBERS,
    ABNORMAL_APPS,
    BLACKLIST,
    REJECTIONS,
    CREDIT,
    CONSENTS,
    VOUCHES,
    LABELS,
)
SOURCES_BY_NAME = {s.name: s for s in SOURCES}
# The columns that name a business, by source.
BUSINESS_COLUMNS = {"rejections": "business", "vouches": "business"}


def sources_for(businesses: Iterable[str]) -> tuple[Source, ...]:
    """SOURCES with the business columns accepting exactly `businesses` (a loaded policy's)."""
    allowed = tuple(businesses)
    return tuple(
        dataclasses.replace(
            s,
            fields=tuple(
                dataclasses.replace(f, choices=allowed) if f.name == BUSINESS_COLUMNS[s.name] else f
                for f in s.fields
            ),
        )
        if s.name in BUSINESS_COLUMNS
        else s
        for s in SOURCES
    )
