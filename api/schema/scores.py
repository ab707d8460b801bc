"""Scores as every flow's answers show them: a sum of items, each with its code and evidence."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import strawberry

from risk.disclosure import kiosk_items


@strawberry.type(description="One scorecard item: a reason code, its points and its evidence.")
class ScoreItem:
    code: str
    points: float
    evidence: strawberry.scalars.JSON
    guarantor_id: str | None = None


@strawberry.type(description="A sum of items compared with a threshold.")
class Score:
    total: float
    threshold: float
    items: list[ScoreItem]


def score_items(items: Iterable[Any], full: bool) -> list[ScoreItem]:
    """The items as the caller may see them: all for analysts and admins (`full`), else only
    what a kiosk may show (risk.disclosure)."""
    out = []
    for item in items if full else kiosk_items(items):
        evidence = json.loads(json.dumps(item.evidence, default=str))
        out.append(
            ScoreItem(
                code=item.code,
                points=item.points,
                evidence=evidence,
                guarantor_id=evidence.get("guarantor_id"),
            )
        )
    return out
