"""Synthetic bank: writes a source folder (the format of `etl/sources.py`) with planted risk.

`generate` is what `vouchgraph synth` calls. It builds a whole bank in memory as compact numpy
arrays (customers in households, kinship and social ties, transfers, phones, devices, apps,
calls, credit, consents, vouching history, ...) from one `np.random.default_rng(seed)`, plants
labelled risk that shows in the graph more than in any one customer's row (mule rings,
collusive guarantors, telecom-fraud victims, plus plain individual fraud), and writes one file
per source in chunks, formatting strings only chunk by chunk so memory stays low.

`plan_bank` returns the same bank without writing it, with the planted ground truth (ring
members, collusion groups, victims, true labels before label noise) that the files do not
carry; the tests and evaluation notebooks use it.

Everything is a function of (customers, seed): the reference "now" is the fixed
`REFERENCE_TIME`, never the wall clock, so the same arguments give byte-identical files.
docs/synthetic-bank.md describes what is generated and the conventions. The package holds one
module per generator (people, relations, planted, victims, devices, transfers, calls, vouches,
credit, consents, blacklist, identity), `plan` running them in order, `tables` and `writer`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from etl.sources import SOURCES
from etl.synth.bank import Bank, Relations, filled
from etl.synth.plan import plan_bank
from etl.synth.rates import (
    ABNORMAL_CONTACT_RATE,
    BLACKLIST_RATE,
    COLLUSION_BAD_OUTCOME_P,
    COLLUSION_GROUP_SIZE,
    COLLUSION_RATE,
    FRAUD_RATE,
    LABEL_FALSE_POSITIVE_RATE,
    LABEL_MISS_RATE,
    MIN_CUSTOMERS,
    MULE_RATE,
    MULE_RING_PAIR_P,
    MULE_RING_PHONE_SHARERS,
    MULE_RING_SIZE,
    POSITIVE_RATE_BOUNDS,
    REJECTION_RATE,
    TELECOM_VICTIM_RATE,
    VICTIM_CONTACT_WINDOW,
    VICTIM_MIN_AMOUNT,
    VOUCH_RATE,
)
from etl.synth.tables import Columns, source_tables
from etl.synth.timeframe import DAY, HISTORY_DAYS, HISTORY_START, HOUR, REFERENCE_TIME, YEAR
from etl.synth.vocabulary import BLACKLIST_REASONS, REJECTION_REASONS
from etl.synth.writer import CHUNK_ROWS, source_schema, write

__all__ = [
    "ABNORMAL_CONTACT_RATE",
    "BLACKLIST_RATE",
    "BLACKLIST_REASONS",
    "CHUNK_ROWS",
    "COLLUSION_BAD_OUTCOME_P",
    "COLLUSION_GROUP_SIZE",
    "COLLUSION_RATE",
    "DAY",
    "FRAUD_RATE",
    "HISTORY_DAYS",
    "HISTORY_START",
    "HOUR",
    "LABEL_FALSE_POSITIVE_RATE",
    "LABEL_MISS_RATE",
    "MIN_CUSTOMERS",
    "MULE_RATE",
    "MULE_RING_PAIR_P",
    "MULE_RING_PHONE_SHARERS",
    "MULE_RING_SIZE",
    "POSITIVE_RATE_BOUNDS",
    "REFERENCE_TIME",
    "REJECTION_RATE",
    "REJECTION_REASONS",
    "TELECOM_VICTIM_RATE",
    "VICTIM_CONTACT_WINDOW",
    "VICTIM_MIN_AMOUNT",
    "VOUCH_RATE",
    "YEAR",
    "Bank",
    "Columns",
    "Relations",
    "generate",
    "plan_bank",
    "source_schema",
]


def generate(
    customers: int,
    seed: int,
    out_dir: Path,
    fmt: str = "csv",
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Write a synthetic bank of `customers` customers to `out_dir`, one file per source.

    Files are `<source>.csv` or `<source>.parquet` (fmt="parquet") with the columns of
    `etl.sources`; the same (customers, seed) gives byte-identical files. A file of the same
    source in the other format is removed, so the folder holds one bank. `progress(stage,
    done, total)` is called after each planning step ("plan") and each chunk of each file.
    Returns a summary: rows and bytes per file, planted counts per risk kind, label counts,
    label rate and seconds taken.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError("fmt must be 'csv' or 'parquet'")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bank = plan_bank(customers, seed, progress)
    built = source_tables(bank)
    rows: dict[str, int] = {}
    sizes: dict[str, int] = {}
    other = "parquet" if fmt == "csv" else "csv"
    for source in SOURCES:
        count, columns = built[source.name]
        path = out_dir / f"{source.name}.{fmt}"
        write(source, count, columns, path, fmt, progress)
        # A folder holding both formats of a source is ambiguous to the loader: this bank
        # replaces an earlier one written in the other format.
        out_dir.joinpath(f"{source.name}.{other}").unlink(missing_ok=True)
        rows[source.name] = count
        sizes[source.name] = path.stat().st_size
    labels = bank.tables["labels"]
    positives = int(filled(bank.label, "label").sum())
    return {
        "customers": customers,
        "seed": seed,
        "format": fmt,
        "out_dir": str(out_dir),
        "reference_time": "2026-06-30T00:00:00Z",
        "rows": rows,
        "bytes": sizes,
        "planted": bank.planted_counts(),
        "labels": {
            "positive": positives,
            "negative": customers - positives,
            "missed_positives": len(labels["missed"]),
            "false_positives": len(labels["wrong"]),
        },
        "label_rate": positives / customers,
        "seconds": round(time.perf_counter() - started, 3),
    }
