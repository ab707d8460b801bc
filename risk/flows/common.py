"""What every flow shares: who is asking, deadlines, ids, stored score items, the graph model."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from risk.scorecard import Item

MS_PER_S = 1000  # times are epoch milliseconds; the policy counts seconds and days
ID_BYTES = 10  # random bytes of a workflow id (assessment, request, decision, audit event)
TOKEN_BYTES = 32  # random bytes of a one-time token (256 bits)
DAYS_PER_YEAR = 365.2425  # the Gregorian year, for ages
# Recorded among an audit event's categories when the graph model read the neighbourhood.
GRAPH_MODEL_READ = "graph_model"
NO_MODEL = "NO_MODEL_PROMOTED"  # why there is no graph risk when no scorer is given


class GraphRiskResult(Protocol):
    probability: float
    model_version: str
    evidence: Mapping[str, Any]


class GraphRiskScorer(Protocol):
    """The graph model in the request path (`ml.serving.OnlineScorer`)."""

    @property
    def version(self) -> str: ...

    def score_customer(self, customer_id: str, now: int) -> GraphRiskResult: ...

    def score_pair(self, customer_id: str, guarantor_id: str, now: int) -> GraphRiskResult: ...


# Roles that act for one customer at a time (a kiosk backend, the mobile-banking backend): they
# see only what their own key created, and never another customer's data.
CHANNEL_ROLES = ("kiosk", "mobile_banking")


@dataclass(frozen=True)
class Actor:
    """Who is asking: the key's name (recorded in the audit trail), role and id (ownership)."""

    name: str
    role: str
    key_id: str = ""

    @property
    def owns_only(self) -> bool:
        """True when this caller may touch only the assessments its own key created."""
        return self.role in CHANNEL_ROLES


class DeadlineExceeded(TimeoutError):
    """A step ran past its deadline; nothing more of it is written."""


def new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(ID_BYTES)}"


def items_json(items: Iterable[Item]) -> str:
    return json.dumps(
        [{"code": i.code, "points": i.points, "evidence": i.evidence} for i in items],
        sort_keys=True,
        default=str,
    )


def items_from_json(text: str | None) -> tuple[Item, ...]:
    return tuple(
        Item(i["code"], float(i["points"]), i["evidence"]) for i in json.loads(text or "[]")
    )
