"""Analysts' customer summaries (the `customer` query): masked names, every read audited."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graph import queries as q
from graph.store import GraphStore
from graph.vocab import ConsentCategory, names
from risk.eligibility import mask_name
from risk.flows.actor import Actor
from risk.flows.ids import new_id

# What a customer summary reads, recorded in its audit event.
CUSTOMER_SUMMARY_CATEGORIES = names(
    (
        ConsentCategory.BASIC_INFO,
        ConsentCategory.CREDIT,
        ConsentCategory.VOUCHING_HISTORY,
        ConsentCategory.REJECTION_HISTORY,
    )
)


def customer_summaries(
    store: GraphStore, actor: Actor, ids: Sequence[str], now: int
) -> list[dict[str, Any] | None]:
    """Analysts' risk summaries (masked names), in the order asked; every read is audited."""
    rows = {r["id"]: r for r in store.run(q.CUSTOMER_SUMMARIES, {"ids": list(ids)})}
    if rows:
        store.run(
            q.AUDIT_READS,
            {
                "events": [{"id": new_id("aud"), "subject_id": cid} for cid in rows],
                "now": now,
                "actor": actor.name,
                "action": "READ_CUSTOMER",
                "categories": list(CUSTOMER_SUMMARY_CATEGORIES),
            },
        )
    out: list[dict[str, Any] | None] = []
    for cid in ids:
        row = rows.get(cid)
        if row is None:
            out.append(None)
            continue
        summary = {k: v for k, v in row.items() if k != "name"}
        summary["display_name"] = mask_name(row["name"] or "")
        out.append(summary)
    return out
