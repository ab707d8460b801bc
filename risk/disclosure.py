"""What a kiosk may be shown of an assessment or a decision.

A kiosk (and the mobile-banking backend) acts for one customer: it may show that customer their
own scorecard, but never another customer's id, name, data or fraud flags. Analysts see the
full record. The rules are an allow-list: an evidence key not named here never reaches a kiosk,
so a new kind of evidence is private until someone decides otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable

from risk.scorecard import Item

# Evidence keys about the applicant's own request and data, or about how scores were combined.
# Absent on purpose: "neighbours" (other customers' ids and fraud flags in the graph-risk
# explanation), "guarantor_id" and "guarantor" (whose item it is), "paths" of a guarantor.
KIOSK_EVIDENCE = frozenset(
    {
        "aggregate",
        "band",
        "below",
        "blacklisted",
        "business",
        "categories",
        "count",
        "customer_known",
        "days_ago",
        "expired_at",
        "grade",
        "household_check",
        "id_check",
        "known",
        "method",
        "missing_model",
        "model_version",
        "probability",
        "reason",
        "reason_code",
        "rejection_id",
        "relations",
        "score",
        "scores",
        "status",
        "unit",
        "weight",
        "window_days",
    }
)
# A guarantor's items and hard refusals stay with the bank: the kiosk learns only that a
# guarantor did not carry the request.
GUARANTOR_NOT_ACCEPTED = "GUARANTOR_NOT_ACCEPTED"


def _guarantors(item: Item) -> bool:
    return (
        "guarantor_id" in item.evidence
        or "guarantor" in item.evidence
        or item.code.startswith(("GUARANTOR_", "HARD_GUARANTOR_"))
    )


def kiosk_items(items: Iterable[Item]) -> tuple[Item, ...]:
    """The items a kiosk may show: the applicant's own and the combination, with only the
    evidence keys of KIOSK_EVIDENCE."""
    return tuple(
        Item(i.code, i.points, {k: v for k, v in i.evidence.items() if k in KIOSK_EVIDENCE})
        for i in items
        if not _guarantors(i)
    )


def kiosk_reasons(reasons: Iterable[str]) -> tuple[str, ...]:
    """Reason codes for a kiosk: any code about a guarantor becomes GUARANTOR_NOT_ACCEPTED."""
    shown = (
        GUARANTOR_NOT_ACCEPTED if r.startswith(("GUARANTOR_", "HARD_GUARANTOR_")) else r
        for r in reasons
    )
    return tuple(dict.fromkeys(shown))
