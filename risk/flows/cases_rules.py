"""The alert rules, pure: which facts raise an analyst's alert, each alert's deterministic id
(one per kind and subject), and the notes analysts add. Values in, values out."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graph.vocab import AlertKind, AlertState
from risk.policy import AlertRules

ALERT_ID_CHARS = 24  # hex characters of an alert id's SHA-256
NOTE_MAX_CHARS = 2000  # the longest note an analyst may add (a size, not a rule)
ASSIGNEE_MAX_CHARS = 100


def alert_id(kind: str, subject: str) -> str:
    """The same (kind, subject) always names the same alert, so a scan makes it once."""
    digest = hashlib.sha256(f"{kind}\n{subject}".encode()).hexdigest()
    return "alr_" + digest[:ALERT_ID_CHARS]


@dataclass(frozen=True)
class AlertCandidate:
    """An alert a scan would raise: what it is about and why (no personal data but ids)."""

    kind: str
    subject: str
    customer_id: str
    summary: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    decision_id: str | None = None

    @property
    def id(self) -> str:
        return alert_id(self.kind, self.subject)

    def row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "customer_id": self.customer_id,
            "decision_id": self.decision_id,
            "summary": self.summary,
            "evidence": json.dumps(dict(self.evidence), sort_keys=True, default=str),
        }


def high_risk_alerts(rows: Iterable[Mapping[str, Any]], rules: AlertRules) -> list[AlertCandidate]:
    """A stored batch score at or above the policy's `high_graph_risk`."""
    return [
        AlertCandidate(
            AlertKind.HIGH_GRAPH_RISK,
            r["customer_id"],
            r["customer_id"],
            f"graph risk {float(r['risk']):.2f} (model {r['model'] or '-'})",
            {"risk": float(r["risk"]), "model_version": r["model"]},
        )
        for r in rows
        if r["risk"] is not None and float(r["risk"]) >= rules.high_graph_risk
    ]


def fraud_vouch_alerts(
    rows: Iterable[Mapping[str, Any]], decision_of: Mapping[str, str | None]
) -> list[AlertCandidate]:
    """Fraud reported on a business a guarantor vouched for: one alert per vouch, about the
    customer vouched for, naming the guarantor and the decision it came from."""
    return [
        AlertCandidate(
            AlertKind.FRAUD_ON_VOUCHED_BUSINESS,
            r["vouch_id"],
            r["customer_id"],
            f"fraud reported on {r['business'] or 'a business'} vouched for by {r['guarantor_id']}",
            {"guarantor_id": r["guarantor_id"], "business": r["business"], "at": r["at"]},
            decision_of.get(r["vouch_id"]),
        )
        for r in rows
    ]


def hard_reasons(reasons: Sequence[str] | None, rules: AlertRules) -> list[str]:
    return [x for x in reasons or [] if x.startswith(rules.hard_reason_prefix)]


def hard_refusal_alerts(
    rows: Iterable[Mapping[str, Any]], rules: AlertRules
) -> list[AlertCandidate]:
    """A refusal (at assessment or decision) with at least one hard reason."""
    out = []
    for r in rows:
        hard = hard_reasons(r["reasons"], rules)
        if hard:
            out.append(
                AlertCandidate(
                    AlertKind.HARD_REFUSAL,
                    r["subject"],
                    r["customer_id"],
                    f"{r['business'] or 'business'} refused: {', '.join(hard)}",
                    {"reference": r["subject"], "reasons": hard, "at": r["at"]},
                )
            )
    return out


@dataclass(frozen=True)
class RingFinding:
    """A ring found around a customer of known fraud."""

    ring_id: str
    seed: str
    members: tuple[str, ...]
    known_fraud: int
    total_moved: float


def ring_alerts(rings: Iterable[RingFinding], rules: AlertRules) -> list[AlertCandidate]:
    """A ring with at least `ring_min_known_fraud` members of known fraud, once per ring."""
    out: dict[str, AlertCandidate] = {}
    for ring in rings:
        if ring.known_fraud < rules.ring_min_known_fraud or ring.ring_id in out:
            continue
        out[ring.ring_id] = AlertCandidate(
            AlertKind.RING_WITH_FRAUD,
            ring.ring_id,
            ring.seed,
            f"ring of {len(ring.members)} with {ring.known_fraud} of known fraud, "
            f"{ring.total_moved:,.2f} moved",
            {
                "ring_id": ring.ring_id,
                "members": list(ring.members),
                "known_fraud": ring.known_fraud,
                "total_moved": ring.total_moved,
            },
        )
    return list(out.values())


def note_json(author: str, at: int, text: str) -> str:
    """A note as stored on the alert (a list of JSON strings: both stores keep string lists)."""
    return json.dumps({"author": author, "at": at, "text": text}, sort_keys=True)


def notes_of(stored: Sequence[str] | None) -> list[dict[str, Any]]:
    return [json.loads(n) for n in stored or []]


def check_note(note: str | None, argument: str = "note") -> str | None:
    """A note's text, or why it may not be added (the message names the argument)."""
    if note is None:
        return None
    if not note.strip():
        raise ValueError(f"{argument}: must not be empty")
    if len(note) > NOTE_MAX_CHARS:
        raise ValueError(f"{argument}: at most {NOTE_MAX_CHARS} characters")
    return note


def check_update(state: str | None, assignee: str | None, note: str | None) -> None:
    """What `updateAlert` may change: state (not CLOSED: that is `closeAlert`), assignee,
    a note; at least one of them."""
    if state == AlertState.CLOSED:
        raise ValueError("state: an alert is closed with closeAlert (and an outcome)")
    if assignee is not None and not (0 < len(assignee.strip()) <= ASSIGNEE_MAX_CHARS):
        raise ValueError(f"assignee: 1 to {ASSIGNEE_MAX_CHARS} characters")
    if state is None and assignee is None and note is None:
        raise ValueError("state: give a state, an assignee or a note")
    check_note(note)
