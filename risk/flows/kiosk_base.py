"""Flow A's machinery: the store with its deadline, the graph model, consents and audit, and
the reads every step shares (evidence of a person, a stored assessment or decision)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from graph import queries as q
from graph.errors import StoreError
from graph.store import GraphStore
from graph.vocab import MS_PER_S, ConsentCategory, names
from risk.errors import DeadlineExceeded, InvalidInput, NotFound
from risk.flows.actor import Actor
from risk.flows.graph_model import GRAPH_MODEL_READ, NO_MODEL, GraphRiskResult, GraphRiskScorer
from risk.flows.ids import new_id
from risk.flows.kiosk_evidence import (
    age_years,
    movement_of,
)
from risk.flows.kiosk_views import (
    AssessRequest,
)
from risk.flows.records import AssessmentState, DecisionRecord, from_props
from risk.flows.rows import PersonRow, from_row
from risk.policy import Policy, UnknownBusiness
from risk.scorecard import (
    CustomerEvidence,
    Rejection,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_DEADLINE_MS = 2000  # a step's deadline unless the service sets one (VOUCHGRAPH_DEADLINE_S)
SCORING_SHARE = 0.5  # of a step's deadline, graph scoring's own bound
# What the scorecards read of a person, each only with consent (PERSON_EVIDENCE's flags).
EVIDENCE_CATEGORIES = names(
    (
        ConsentCategory.BASIC_INFO,
        ConsentCategory.REJECTION_HISTORY,
        ConsentCategory.TRANSACTIONS,
        ConsentCategory.CREDIT,
        ConsentCategory.VOUCHING_HISTORY,
    )
)
# What the kiosk's own identity checks read (the face match and the ID card).
IDENTITY_CATEGORIES = names((ConsentCategory.FACE, ConsentCategory.IDENTITY))
# Recorded when a customer's related customers are read: the bank's own records of who is
# related to whom, which no consent category covers (the writing queries record it too).
RELATIONSHIPS_READ = "relationships"
# What `warm_up` plans before the first request.
WARM_UP_READS = (
    q.CUSTOMER_CONSENTS,
    q.PERSON_EVIDENCE,
    q.RELATED_CUSTOMERS,
    q.TIES_BETWEEN,
    q.GET_ASSESSMENT,
    q.GET_ASSIST_REQUEST,
    q.GET_DECISION,
)


class KioskBase:
    """What every step of Flow A stands on: one store, one policy, the graph model, a clock."""

    def __init__(
        self,
        store: GraphStore,
        policy: Policy,
        *,
        clock: Callable[[], float] = time.time,
        assist_link: str = "https://mobile.bank.example/assist",
        on_queued: Callable[[], None] | None = None,
        deadline_ms: int = DEFAULT_DEADLINE_MS,
        scorer: GraphRiskScorer | None = None,
        no_model_reason: str = NO_MODEL,
        scoring_budget_ms: int | None = None,
    ) -> None:
        self.store, self.policy, self.clock = store, policy, clock
        self.assist_link, self.on_queued, self.deadline_ms = assist_link, on_queued, deadline_ms
        self.scorer = scorer  # None: no model (the policy decides what that means) ...
        self.no_model_reason = no_model_reason  # ... for this reason
        # Graph scoring's own bound within a step (by default half the step's deadline): a
        # slower score is a scoring failure, which the policy refuses.
        self.scoring_budget_ms = scoring_budget_ms or int(deadline_ms * SCORING_SHARE)
        self._local = threading.local()

    def now(self) -> int:
        return int(self.clock() * MS_PER_S)

    def warm_up(self) -> None:
        """Before the first request: plan the steps' reads (with their example parameters, which
        name nobody real or find nothing; nothing is written) and score one customer, so that
        the first kiosk after a start is not refused by a cold plan cache or model. The one
        score is a read of that customer's neighbourhood, audited as the service's own."""
        for query in WARM_UP_READS:
            self.store.run(query, dict(query.params))
        if self.scorer is None:
            return
        rows = self.store.run(q.RANDOM_CUSTOMER_IDS, {"skip": 0, "limit": 1})
        if rows:
            self.scorer.score_customer(rows[0]["id"], self.now())
            self._audit(
                Actor("vouchgraph:warm-up", "system"),
                "GRAPH_MODEL_READ",
                rows[0]["id"],
                "warm-up",
                [GRAPH_MODEL_READ],
            )

    def within(self, seconds: float, fn: Callable[..., T], *args: Any) -> T:
        """Run one step with a deadline: every store call gets only the time left, and a call
        once it has passed raises `DeadlineExceeded`, so no write of the step lands late."""
        self._local.deadline = time.monotonic() + seconds
        try:
            return fn(*args)
        finally:
            self._local.deadline = None

    def _time_left_ms(self) -> int:
        deadline = getattr(self._local, "deadline", None)
        if deadline is None:
            return self.deadline_ms
        left = int((deadline - time.monotonic()) * MS_PER_S)
        if left <= 0:
            raise DeadlineExceeded("the step ran past its deadline")
        return min(left, self.deadline_ms)

    def _graph_risk(
        self, score: Callable[[GraphRiskScorer], GraphRiskResult]
    ) -> tuple[float | None, str | None, dict[str, Any]]:
        """The graph model's probability, version and evidence; without a model, or when
        scoring fails, no probability and the reason (the policy then decides: by default it
        refuses). A store failure is not a scoring failure: it fails the step closed."""
        if self.scorer is None:
            return None, None, {"reason": self.no_model_reason}
        self._time_left_ms()  # no scoring once the step is out of time
        started = time.monotonic()
        try:
            result = score(self.scorer)
        except StoreError:
            raise
        except Exception as exc:
            log.warning("graph risk scoring failed: %s", type(exc).__name__)
            return None, None, {"reason": "SCORING_FAILED", "model_version": self.scorer.version}
        if (time.monotonic() - started) * MS_PER_S > self.scoring_budget_ms:
            log.warning("graph risk scoring ran past its budget of %d ms", self.scoring_budget_ms)
            return None, None, {"reason": "SCORING_TIMEOUT", "model_version": self.scorer.version}
        return result.probability, result.model_version, dict(result.evidence)

    def _run(self, query: q.Query, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.store.run(query, params, timeout_ms=self._time_left_ms())

    def _check_business(self, business: str) -> None:
        try:
            self.policy.business(business)
        except UnknownBusiness:
            raise InvalidInput(f"business: {business!r} is not configured") from None

    def _evidence_row(self, customer_id: str, categories: set[str]) -> PersonRow:
        """What the scorecards read about a person, each category only when it may be read."""
        flags = {c: c in categories for c in EVIDENCE_CATEGORIES}
        rows = self._run(q.PERSON_EVIDENCE, {"id": customer_id, **flags})
        if not rows:
            raise NotFound(f"customer {customer_id!r} not found")
        return from_row(PersonRow, rows[0])

    def _customer_evidence(
        self, request: AssessRequest, categories: set[str], now: int
    ) -> CustomerEvidence:
        card = self.policy.business(request.business).customer
        row = self._evidence_row(request.customer_id, categories)
        rejections = None
        if ConsentCategory.REJECTION_HISTORY in categories:
            rejections = tuple(
                Rejection(
                    r.get("business") or "",
                    r.get("reason_code") or "",
                    int(r.get("ts") or 0),
                    r.get("id"),
                )
                for r in row.rejections
            )
        basic = ConsentCategory.BASIC_INFO in categories
        risk, version, why = self._graph_risk(
            lambda scorer: scorer.score_customer(request.customer_id, now)
        )
        return CustomerEvidence(
            now=now,
            face_similarity=request.face_similarity,
            id_check=request.id_check,
            blacklisted=row.blacklisted,
            age=age_years(row.birth_date, now) if basic else None,
            account_opened_at=row.opened_at if basic else None,
            account_status=row.status if basic else None,
            address_present=row.address_present if basic else None,
            rejections=rejections,
            movement=movement_of(row, now, recent_account_days=card.movement.recent_account_days),
            credit_grade=row.credit_grade,
            graph_risk=risk,
            model_version=version,
            graph_evidence=why,
        )

    def _assessment(self, actor: Actor, assessment_id: str) -> AssessmentState:
        """The stored assessment, its requests and decision; NOT_FOUND to a kiosk whose key did
        not create it (as for an id that does not exist)."""
        rows = self._run(q.GET_ASSESSMENT, {"id": assessment_id})
        if not rows:
            raise NotFound(f"assessment {assessment_id!r} not found")
        found = AssessmentState.from_row(rows[0])
        if actor.owns_only and found.assessment.owner_key != actor.key_id:
            raise NotFound(f"assessment {assessment_id!r} not found")
        return found

    def _audit(
        self,
        actor: Actor,
        action: str,
        subject_id: str,
        reference: str,
        categories: Sequence[str] = (),
    ) -> None:
        self._run(
            q.AUDIT_READ,
            {
                "id": new_id("aud"),
                "now": self.now(),
                "actor": actor.name,
                "action": action,
                "subject_id": subject_id,
                "categories": list(categories),
                "consent_ids": [],
                "reference": reference,
            },
        )

    def _decision(self, actor: Actor, decision_id: str) -> DecisionRecord:
        """The stored decision; NOT_FOUND to a kiosk whose key did not create it."""
        rows = self._run(q.GET_DECISION, {"id": decision_id})
        if not rows:
            raise NotFound(f"decision {decision_id!r} not found")
        decision = from_props(DecisionRecord, rows[0]["decision"])
        if actor.owns_only and decision.owner_key != actor.key_id:
            raise NotFound(f"decision {decision_id!r} not found")
        return decision
