"""The analysts' cases: the alert feed (a scan that raises one alert per kind and subject, run by
`vouchgraph alerts scan` and periodically inside `vouchgraph serve`) and the alert queue
(list, take, note, close with an outcome). Every change is one statement with its audit event,
compare-and-set under the alert's lock, so closing wins once on both stores."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graph import queries as q
from graph.vocab import (
    AlertOutcome,
    AlertState,
    FinalOutcome,
    FirstOutcome,
    LabelKind,
    VouchOutcome,
)
from risk.errors import Conflict, InvalidInput, NotFound
from risk.flows.actor import Actor
from risk.flows.cases_rules import (
    AlertCandidate,
    RingFinding,
    check_note,
    check_update,
    fraud_vouch_alerts,
    hard_refusal_alerts,
    high_risk_alerts,
    note_json,
    notes_of,
    ring_alerts,
)
from risk.flows.explore import EVERY_TIME, Explorer
from risk.flows.ids import new_id
from risk.flows.kiosk_base import KioskBase

log = logging.getLogger(__name__)
SCANNER = Actor("vouchgraph:alert-scan", "system")  # who the scan's reads are audited as


@dataclass(frozen=True)
class NoteView:
    author: str
    at: int
    text: str


@dataclass(frozen=True)
class AlertView:
    id: str
    kind: str
    customer_id: str
    state: str
    assignee: str | None
    summary: str
    evidence: str
    created_at: int
    updated_at: int
    notes: list[NoteView]
    outcome: str | None


@dataclass(frozen=True)
class AlertPageView:
    alerts: list[AlertView]
    total: int
    offset: int
    next_offset: int | None


@dataclass
class ScanReport:
    """What one scan found and made, per alert kind."""

    found: dict[str, int] = field(default_factory=dict)
    created: dict[str, int] = field(default_factory=dict)


def alert_view(props: dict[str, Any]) -> AlertView:
    return AlertView(
        id=props["id"],
        kind=props["kind"],
        customer_id=props["customer_id"],
        state=props["state"],
        assignee=props.get("assignee"),
        summary=props.get("summary") or "",
        evidence=props.get("evidence") or "{}",
        created_at=int(props["created_at"]),
        updated_at=int(props.get("updated_at") or props["created_at"]),
        notes=[
            NoteView(n["author"], int(n["at"]), n["text"]) for n in notes_of(props.get("notes"))
        ],
        outcome=props.get("outcome"),
    )


class Cases:
    """The alert feed and queue over the kiosk flow's store, policy and deadline."""

    def __init__(self, base: KioskBase) -> None:
        self.base = base
        self.rules = base.policy.alerts

    def _run(self, query: q.Query, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.base._run(query, params)

    # --- the feed ---

    def candidates(self) -> list[AlertCandidate]:
        """Every alert the rules raise now (bounded per rule by `scan_limit`)."""
        rules, limit = self.rules, self.rules.scan_limit
        found = high_risk_alerts(
            self._run(q.WB_SCAN_HIGH_RISK, {"threshold": rules.high_graph_risk, "limit": limit}),
            rules,
        )
        vouches = self._run(
            q.WB_SCAN_FRAUD_VOUCHES, {"fraud": VouchOutcome.FRAUD_REPORTED, "limit": limit}
        )
        found += fraud_vouch_alerts(vouches, {v["vouch_id"]: _decision_of(v) for v in vouches})
        found += hard_refusal_alerts(
            self._run(
                q.WB_SCAN_HARD_REFUSALS,
                {
                    "refused": FirstOutcome.REFUSED,
                    "refuse": FinalOutcome.REFUSE,
                    "prefix": rules.hard_reason_prefix,
                    "limit": limit,
                },
            ),
            rules,
        )
        found += ring_alerts(self._rings_around_fraud(), rules)
        return found

    def _rings_around_fraud(self) -> list[RingFinding]:
        explorer = Explorer(self.base)
        seeds = [r["id"] for r in self._run(q.WB_FRAUD_SEEDS, {"limit": self.rules.ring_seeds})]
        covered: set[str] = set()
        out = []
        for seed in seeds:
            if seed in covered:
                continue
            for ring in explorer.rings(SCANNER, seed, EVERY_TIME):
                members = tuple(m.id for m in ring.members)
                covered.update(members)
                out.append(RingFinding(ring.id, seed, members, ring.known_fraud, ring.total_moved))
        return out

    def scan(self) -> ScanReport:
        """Raise every alert the rules find that does not exist yet (idempotent)."""
        report = ScanReport()
        found = self.candidates()
        scan_id = new_id("scan")
        now = self.base.now()
        for kind in dict.fromkeys(c.kind for c in found):
            rows = [c.row() for c in found if c.kind == kind]
            created = self._run(
                q.WB_MERGE_ALERTS,
                {"rows": rows, "open": AlertState.OPEN, "now": now, "scan": scan_id},
            )
            report.found[kind] = len(rows)
            report.created[kind] = int(created[0]["created"] or 0) if created else 0
        return report

    # --- the queue ---

    def alerts(self, actor: Actor, state: str | None, first: int, offset: int) -> AlertPageView:
        if offset < 0:
            raise InvalidInput("offset: must be >= 0")
        rows = self._run(q.WB_ALERTS, {"state": state, "offset": offset, "limit": first})
        total = int(self._run(q.WB_ALERT_TOTAL, {"state": state})[0]["total"])
        views = [alert_view(r["alert"]) for r in rows]
        if views:
            self._run(
                q.AUDIT_READS,
                {
                    "events": [
                        {"id": new_id("aud"), "subject_id": cid}
                        for cid in dict.fromkeys(v.customer_id for v in views)
                    ],
                    "now": self.base.now(),
                    "actor": actor.name,
                    "action": "READ_ALERTS",
                    "categories": [],
                },
            )
        end = offset + len(views)
        return AlertPageView(views, total, offset, end if end < total else None)

    def _missing_or_closed(self, alert_id: str) -> Exception:
        if not self._run(q.WB_GET_ALERT, {"id": alert_id}):
            return NotFound(f"alert {alert_id!r} not found")
        return Conflict(f"alert {alert_id!r} is closed")

    def update(
        self,
        actor: Actor,
        alert_id: str,
        state: str | None,
        assignee: str | None,
        note: str | None,
    ) -> AlertView:
        try:
            check_update(state, assignee, note)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        now = self.base.now()
        rows = self._run(
            q.WB_UPDATE_ALERT,
            {
                "id": alert_id,
                "state": state,
                "assignee": assignee,
                "note": note_json(actor.name, now, note) if note is not None else None,
                "closed": AlertState.CLOSED,
                "now": now,
                "actor": actor.name,
                "audit_id": new_id("aud"),
            },
        )
        if not rows:
            raise self._missing_or_closed(alert_id)
        return alert_view(rows[0]["alert"])

    def close(self, actor: Actor, alert_id: str, outcome: str, note: str) -> AlertView:
        try:
            check_note(note)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from None
        now = self.base.now()
        rows = self._run(
            q.WB_CLOSE_ALERT,
            {
                "id": alert_id,
                "outcome": outcome,
                "note": note_json(actor.name, now, note),
                "closed": AlertState.CLOSED,
                "now": now,
                "actor": actor.name,
                "audit_id": new_id("aud"),
                "confirmed": outcome == AlertOutcome.FRAUD_CONFIRMED,
                "label_kind": LabelKind.FRAUD,
                "allow": FinalOutcome.ALLOW,
                "fraud": VouchOutcome.FRAUD_REPORTED,
            },
        )
        if not rows:
            raise self._missing_or_closed(alert_id)
        return alert_view(rows[0]["alert"])


def _decision_of(vouch: dict[str, Any]) -> str | None:
    vouch_id = vouch["vouch_id"] or ""
    return vouch_id.split(":", 1)[0] if ":" in vouch_id else None


SCAN_ENV = "VOUCHGRAPH_ALERT_SCAN_S"  # overrides [alerts] scan_interval_seconds (0: no scan)


def scan_interval_s(policy_seconds: int, environ: Mapping[str, str]) -> float:
    """The periodic scan's interval: the environment's, else the policy's."""
    text = environ.get(SCAN_ENV, "").strip()
    if not text:
        return float(policy_seconds)
    try:
        value = float(text)
    except ValueError:
        raise InvalidInput(f"{SCAN_ENV}: {text!r} is not a number of seconds") from None
    if value < 0:
        raise InvalidInput(f"{SCAN_ENV}: must be >= 0")
    return value


class PeriodicScan:
    """The alert scan on a timer in a daemon thread, stoppable at once (`vouchgraph serve`)."""

    @staticmethod
    def of(base: KioskBase, environ: Mapping[str, str]) -> PeriodicScan:
        """The scan of `base`'s store every `scan_interval_s`."""
        seconds = scan_interval_s(base.policy.alerts.scan_interval_seconds, environ)
        return PeriodicScan(Cases(base).scan, seconds)

    def __init__(self, scan: Callable[[], ScanReport], interval_s: float) -> None:
        self.scan, self.interval_s = scan, interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.interval_s <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._loop, name="alert-scan", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                report = self.scan()
                log.info("alert scan: created %s", report.created)
            except Exception as exc:  # a failed scan is retried at the next tick
                log.warning("alert scan failed: %s", type(exc).__name__)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
