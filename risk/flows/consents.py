"""The rule that gates every read of personal data: which categories may be read now."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def usable_consents(
    records: Sequence[dict[str, Any]], given_now: Iterable[str], now: int
) -> tuple[set[str], list[str]]:
    """(categories that may be read, ids of the consent records that allow them).

    A category consented at the kiosk for this request may be read; so may one whose newest
    recorded consent is granted and unexpired (a newer withdrawal overrides an older grant).
    """
    latest: dict[str, dict[str, Any]] = {}
    for record in records:
        category = record.get("category")
        if category and (category not in latest or latest[category]["ts"] <= record["ts"]):
            latest[category] = record
    usable = set(given_now)
    consent_ids = []
    for category, record in latest.items():
        live = record.get("expires_at") is None or record["expires_at"] > now
        if record.get("granted") and live:
            usable.add(category)
            consent_ids.append(record["id"])
    return usable, sorted(consent_ids)
