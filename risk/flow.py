"""Flow A end to end: assess, candidate guarantors, assisted authentication, decide, outcome.

Each step reads what it needs from the store (each data category only under consent), calls
the pure rules of `risk.scorecard` and `risk.eligibility`, and writes its result with its audit
record in one statement, so any API replica can serve any step. Failures on the decision path
(`assess`, `decide`) never approve: `fail_closed` turns them into refusals with a reason code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from graph import queries as q
from graph.errors import StoreError
from graph.store import GraphStore
from risk.eligibility import (
    CandidateFacts,
    RankedCandidate,
    candidates_to_show,
    mask_name,
    rank_candidates,
)
from risk.errors import Conflict, InvalidInput, NotFound, RequestRejected
from risk.policy import Policy, UnknownBusiness
from risk.scorecard import (
    IN,
    OUT,
    CustomerEvidence,
    Decision,
    GuarantorEvidence,
    Item,
    Movement,
    Rejection,
    RelationshipPath,
    VouchRecord,
    final_decision,
    first_decision,
    hard_refusals,
)

DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS
ID_CHECKS = ("MATCH", "NOT_FOUND", "CHIP_MISMATCH")
CHANNELS = ("SMS", "MOBILE_BANKING")
OUTCOMES = ("FRAUD_REPORTED", "NO_ISSUE")
EVIDENCE_CATEGORIES = (
    "basic_info",
    "rejection_history",
    "transactions",
    "credit",
    "vouching_history",
)


log = logging.getLogger(__name__)
T = TypeVar("T")
# Recorded among an audit event's categories when the graph model read the neighbourhood.
GRAPH_MODEL_READ = "graph_model"
NO_MODEL = "NO_MODEL_PROMOTED"  # why there is no graph risk when no scorer is given
MAX_TOKEN_FAILURES = 3  # wrong tokens (or guarantors) before a request is locked
IDENTITY_REFUSALS = ("HARD_FACE_MISMATCH", "HARD_ID_UNKNOWN", "HARD_ID_CHIP_MISMATCH")
# What `KioskFlow.warm_up` plans before the first request.
WARM_UP_READS = (
    q.CUSTOMER_CONSENTS,
    q.PERSON_EVIDENCE,
    q.RELATED_CUSTOMERS,
    q.TIES_BETWEEN,
    q.GET_ASSESSMENT,
    q.GET_ASSIST_REQUEST,
    q.GET_DECISION,
)


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


@dataclass(frozen=True)
class AssessRequest:
    """Step 1's input from the kiosk."""

    customer_id: str
    business: str
    kiosk_id: str
    face_similarity: float
    id_check: str
    consents: tuple[str, ...] = ()


@dataclass(frozen=True)
class Verification:
    """What the guarantor's phone reports with a confirmation (step 6)."""

    face_similarity: float
    id_check: str
    id_photo_captured: bool
    consents: tuple[str, ...]


@dataclass(frozen=True)
class Candidate:
    """A candidate guarantor. A kiosk sees the opaque `handle` (per assessment), the masked
    name, the relationship in words and the channels a request may use; only analysts see the
    customer id."""

    handle: str
    customer_id: str
    display_name: str
    relationship: str
    eligible: bool
    reasons: tuple[str, ...]
    paths: tuple[RelationshipPath, ...]
    channels: tuple[str, ...] = ()

    def stored(self) -> dict[str, Any]:
        """The candidate as the assessment keeps it (JSON), so later steps need no re-read."""
        return {
            "handle": self.handle,
            "customer_id": self.customer_id,
            "display_name": self.display_name,
            "relationship": self.relationship,
            "channels": list(self.channels),
            "paths": [[p.rel_type, p.kind, p.source, p.direction] for p in self.paths],
        }

    @staticmethod
    def from_stored(row: Mapping[str, Any]) -> Candidate:
        return Candidate(
            row["handle"],
            row["customer_id"],
            row["display_name"],
            row["relationship"],
            True,
            (),
            tuple(RelationshipPath(*p) for p in row["paths"]),
            tuple(row["channels"]),
        )


@dataclass(frozen=True)
class AssessmentView:
    """An assessment as stored (or, when failing closed, as answered without a store)."""

    id: str
    customer_id: str
    business: str
    outcome: str
    score: float
    threshold: float
    items: tuple[Item, ...]
    reasons: tuple[str, ...]
    candidates: tuple[Candidate, ...]
    policy_version: str
    model_version: str | None
    created_at: int
    expires_at: int
    persisted: bool = True


@dataclass(frozen=True)
class AssistRequestView:
    """An assisted-authentication request and where it stands."""

    id: str
    assessment_id: str
    guarantor_id: str
    handle: str
    channel: str
    status: str
    created_at: int
    expires_at: int
    responded_at: int | None = None


@dataclass(frozen=True)
class AssistDetails:
    """What the guarantor's mobile banking shows before they answer: which business, for whom
    (masked), how they are related, and until when."""

    request_id: str
    business: str
    applicant_display_name: str
    relationship: str
    channel: str
    status: str
    expires_at: int


@dataclass(frozen=True)
class DecisionView:
    """A final decision with everything that explains it."""

    id: str
    assessment_id: str
    customer_id: str
    business: str
    outcome: str
    score: float
    threshold: float
    items: tuple[Item, ...]
    reasons: tuple[str, ...]
    guarantor_ids: tuple[str, ...]
    policy_version: str
    model_version: str | None
    created_at: int
    reported_outcome: str | None = None
    persisted: bool = True
    guarantor_handles: tuple[str, ...] = ()


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


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(10)}"


def _items_json(items: Iterable[Item]) -> str:
    return json.dumps(
        [{"code": i.code, "points": i.points, "evidence": i.evidence} for i in items],
        sort_keys=True,
        default=str,
    )


def _items(text: str | None) -> tuple[Item, ...]:
    return tuple(
        Item(i["code"], float(i["points"]), i["evidence"]) for i in json.loads(text or "[]")
    )


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


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


def _age(birth_date: int | None, now: int) -> int | None:
    return None if birth_date is None else int((now - birth_date) // (365.2425 * DAY_MS))


def _movement(
    row: dict[str, Any], status: str | None, opened_at: int | None, now: int
) -> Movement | None:
    if row.get("movement_as_of") is None:
        return None
    recent_open = opened_at is not None and now - opened_at < 180 * DAY_MS
    return Movement(
        out_total=float(row.get("out_total") or 0.0),
        out_count=int(row.get("out_count") or 0),
        counterparties=int(row.get("counterparties") or 0),
        max_single_out=float(row.get("max_out") or 0.0),
        accounts_opened=1 if recent_open else 0,
        accounts_closed=1 if status == "closed" else 0,
        dormant_then_active=status == "dormant" and int(row.get("out_count_30d") or 0) > 0,
    )


def _vouches(rows: Iterable[dict[str, Any]], given: bool, since: int) -> tuple[VouchRecord, ...]:
    out = []
    for row in rows:
        vouch = row.get("vouch")
        if vouch is None or bool(row.get("given")) != given or (vouch.get("ts") or 0) < since:
            continue
        out.append(
            VouchRecord(
                vouch.get("business") or "",
                int(vouch["ts"]),
                vouch.get("outcome") or "PENDING",
                vouch.get("outcome_ts"),
            )
        )
    return tuple(out)


class KioskFlow:
    """The steps of Flow A over one store and one policy."""

    def __init__(
        self,
        store: GraphStore,
        policy: Policy,
        *,
        clock: Callable[[], float] = time.time,
        assist_link: str = "https://mobile.bank.example/assist",
        on_queued: Callable[[], None] | None = None,
        deadline_ms: int = 2000,
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
        self.scoring_budget_ms = scoring_budget_ms or deadline_ms // 2
        self._local = threading.local()

    def now(self) -> int:
        return int(self.clock() * 1000)

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
        left = int((deadline - time.monotonic()) * 1000)
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
        if (time.monotonic() - started) * 1000 > self.scoring_budget_ms:
            log.warning("graph risk scoring ran past its budget of %d ms", self.scoring_budget_ms)
            return None, None, {"reason": "SCORING_TIMEOUT", "model_version": self.scorer.version}
        return result.probability, result.model_version, dict(result.evidence)

    def _run(self, query: q.Query, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.store.run(query, params, timeout_ms=self._time_left_ms())

    # --- step 1-3 (and 4 when needed) ------------------------------------------------------

    def _check_business(self, business: str) -> None:
        try:
            self.policy.business(business)
        except UnknownBusiness:
            raise InvalidInput(f"business: {business!r} is not configured") from None

    def _evidence_row(self, customer_id: str, categories: set[str]) -> dict[str, Any]:
        flags = {c: c in categories for c in EVIDENCE_CATEGORIES}
        rows = self._run(q.PERSON_EVIDENCE, {"id": customer_id, **flags})
        if not rows:
            raise NotFound(f"customer {customer_id!r} not found")
        return rows[0]

    def _customer_evidence(
        self, request: AssessRequest, categories: set[str], now: int
    ) -> CustomerEvidence:
        row = self._evidence_row(request.customer_id, categories)
        rejections = None
        if "rejection_history" in categories:
            rejections = tuple(
                Rejection(
                    r.get("business") or "",
                    r.get("reason_code") or "",
                    int(r.get("ts") or 0),
                    r.get("id"),
                )
                for r in row["rejections"]
            )
        basic = "basic_info" in categories
        risk, version, why = self._graph_risk(
            lambda scorer: scorer.score_customer(request.customer_id, now)
        )
        return CustomerEvidence(
            now=now,
            face_similarity=request.face_similarity,
            id_check=request.id_check,
            blacklisted=int(row["blacklist_entries"] or 0) > 0,
            age=_age(row["birth_date"], now) if basic else None,
            account_opened_at=row["opened_at"] if basic else None,
            account_status=row["status"] if basic else None,
            address_present=row["address_present"] if basic else None,
            rejections=rejections,
            movement=_movement(row, row["status"], row["opened_at"], now),
            credit_grade=row["credit_grade"],
            graph_risk=risk,
            model_version=version,
            graph_evidence=why,
        )

    def assess(self, actor: Actor, request: AssessRequest) -> AssessmentView:
        """Steps 1-3: score the applicant; below T1 proceed, else find candidate guarantors."""
        self._check_business(request.business)
        if not 0.0 <= request.face_similarity <= 1.0:
            raise InvalidInput("faceSimilarity: must be between 0 and 1")
        if request.id_check not in ID_CHECKS:
            raise InvalidInput(f"idCheck: must be one of {', '.join(ID_CHECKS)}")
        if not request.customer_id.strip() or not request.kiosk_id.strip():
            raise InvalidInput("customerId and kioskId: must not be empty")
        now = self.now()
        found = self._run(q.CUSTOMER_CONSENTS, {"id": request.customer_id})
        business = self.policy.business(request.business)
        if not found:
            return self._refuse_unknown(actor, request, now)
        categories, consent_ids = usable_consents(found[0]["consents"], request.consents, now)
        missing = [c for c in business.applicant_required_consents if c not in categories]
        if missing:
            item = Item("CONSENT_MISSING", 0.0, {"categories": missing})
            view = self._assessment_view(
                request, now, "REFUSED", 0.0, business.t1, (item,), ("CONSENT_MISSING",)
            )
            return self._store_assessment(actor, request, view, [], consent_ids, False)
        identity = self._identity_refusals(request, now)
        if identity:  # not the customer, or not a known ID: nothing of theirs is read
            reasons = tuple(i.code for i in identity)
            view = self._assessment_view(
                request, now, "REFUSED", 0.0, business.t1, identity, reasons
            )
            return self._store_assessment(
                actor, request, view, ["face", "identity"], consent_ids, False
            )
        evidence = self._customer_evidence(request, categories, now)
        decision = first_decision(evidence, request.business, self.policy)
        candidates: tuple[Candidate, ...] = ()
        if decision.outcome == "NEEDS_GUARANTOR":
            candidates = self._candidates(request.customer_id, request.business, categories, now)
            if not candidates:
                decision = _no_candidates(decision)
        view = self._assessment_view(
            request,
            now,
            str(decision.outcome),
            decision.score.total,
            decision.threshold,
            decision.hard + decision.score.items,
            decision.reasons,
            candidates,
            ",".join(decision.model_versions) or None,
        )
        read = sorted(categories & {"face", "identity", *EVIDENCE_CATEGORIES})
        if decision.model_versions:  # the graph model read the applicant's neighbourhood
            read.append(GRAPH_MODEL_READ)
        return self._store_assessment(
            actor, request, view, read, consent_ids, bool(decision.model_versions)
        )

    def _identity_refusals(self, request: AssessRequest, now: int) -> tuple[Item, ...]:
        """The hard rules on the kiosk's own identity checks (face match, ID card), decided
        before any of the customer's data is read."""
        probe = CustomerEvidence(
            now=now,
            face_similarity=request.face_similarity,
            id_check=request.id_check,
            blacklisted=False,
        )
        hard = hard_refusals(probe, request.business, self.policy)
        return tuple(i for i in hard if i.code in IDENTITY_REFUSALS)

    def _assessment_view(
        self,
        request: AssessRequest,
        now: int,
        outcome: str,
        score: float,
        threshold: float,
        items: Sequence[Item],
        reasons: Sequence[str],
        candidates: Sequence[Candidate] = (),
        model_version: str | None = None,
    ) -> AssessmentView:
        ttl_ms = self.policy.business(request.business).assist.request_ttl_seconds * 1000
        return AssessmentView(
            _new_id("asm"),
            request.customer_id,
            request.business,
            outcome,
            score,
            threshold,
            tuple(items),
            tuple(reasons),
            tuple(candidates),
            self.policy.version,
            model_version,
            now,
            now + 3 * ttl_ms,
        )

    def _refuse_unknown(self, actor: Actor, request: AssessRequest, now: int) -> AssessmentView:
        business = self.policy.business(request.business)
        item = Item("HARD_ID_UNKNOWN", 0.0, {"customer_known": False})
        view = replace(
            self._assessment_view(
                request, now, "REFUSED", 0.0, business.t1, (item,), ("HARD_ID_UNKNOWN",)
            ),
            expires_at=now,
        )
        self._run(
            q.CREATE_ORPHAN_ASSESSMENT,
            {
                "id": view.id,
                "customer_id": view.customer_id,
                "business": view.business,
                "kiosk_id": request.kiosk_id,
                "outcome": view.outcome,
                "score": 0.0,
                "threshold": view.threshold,
                "items": _items_json(view.items),
                "reasons": list(view.reasons),
                "policy_version": view.policy_version,
                "now": now,
                "audit_id": _new_id("aud"),
                "actor": actor.name,
                "owner_key": actor.key_id,
            },
        )
        return view

    def _store_assessment(
        self,
        actor: Actor,
        request: AssessRequest,
        view: AssessmentView,
        categories: list[str],
        consent_ids: list[str],
        model_read: bool,
    ) -> AssessmentView:
        """Write the assessment with its audit events (the applicant's read, each candidate's,
        the graph model's) in one statement."""
        self._run(
            q.CREATE_ASSESSMENT,
            {
                "customer_id": view.customer_id,
                "id": view.id,
                "business": view.business,
                "kiosk_id": request.kiosk_id,
                "outcome": view.outcome,
                "score": view.score,
                "threshold": view.threshold,
                "items": _items_json(view.items),
                "reasons": list(view.reasons),
                "candidates": [c.customer_id for c in view.candidates],
                "candidate_view": json.dumps([c.stored() for c in view.candidates]),
                "policy_version": view.policy_version,
                "model_version": view.model_version,
                "now": view.created_at,
                "expires_at": view.expires_at,
                "audit_id": _new_id("aud"),
                "actor": actor.name,
                "owner_key": actor.key_id,
                "categories": categories,
                "consent_ids": consent_ids + [f"kiosk:{c}" for c in request.consents],
                "kiosk_consents": sorted(set(request.consents)),
                "model_reads": [view.customer_id] if model_read else [],
                "face_similarity": request.face_similarity,
                "id_check": request.id_check,
            },
        )
        return view

    # --- step 4 --------------------------------------------------------------------------

    def _candidates(
        self,
        customer_id: str,
        business: str,
        categories: set[str],
        now: int,
        *,
        every: bool = False,
    ) -> tuple[Candidate, ...]:
        """The candidates a kiosk may offer, best first; `every`: all related customers, the
        ineligible ones with their reasons (for analysts)."""
        rows = self._run(q.RELATED_CUSTOMERS, {"id": customer_id, "limit": 200})
        registry = "household_registry" in categories
        facts = []
        names: dict[str, str] = {}
        for row in rows:
            paths = tuple(
                RelationshipPath(
                    t["type"], t["kind"], t["source"], OUT if t["candidate_is_src"] else IN
                )
                for t in row["ties"]
                if registry or t["source"] != "household_registry"
            )
            if not paths:
                continue
            names[row["id"]] = row["name"] or ""
            facts.append(
                CandidateFacts(
                    customer_id=row["id"],
                    paths=paths,
                    status=row["status"] or "closed",
                    blacklisted=int(row["blacklist_entries"] or 0) > 0,
                    is_self=row["id"] == customer_id or bool(row["same_person"]),
                    channels=_channels(row["phones"], row["devices"]),
                    shared_channels=_channels(row["shared_phones"], row["shared_devices"]),
                    device_cluster=bool(row["device_cluster"]),
                    transfer_ring=bool(row["transfer_ring"]),
                    account_opened_at=row["opened_at"],
                    credit_grade=row["credit_grade"],
                    graph_risk=row["graph_risk"],
                    vouches_given=_vouches(row["vouches"], True, now - 2 * YEAR_MS),
                    vouches_received=_vouches(row["vouches"], False, now - 2 * YEAR_MS),
                )
            )
        ranked = rank_candidates(facts, business, self.policy, now)
        shown = ranked if every else candidates_to_show(ranked, business, self.policy)
        return tuple(_candidate(c, names[c.facts.customer_id]) for c in shown)

    def candidates(
        self,
        actor: Actor,
        customer_id: str,
        business: str,
        first: int | None,
        consents: Sequence[str] = (),
    ) -> list[Candidate]:
        """Step 4 on its own, for analysts: every related customer, eligible candidates first,
        the others with the reasons they may not vouch (audited)."""
        self._check_business(business)
        if first is not None and first < 1:
            raise InvalidInput("first: must be at least 1")
        now = self.now()
        found = self._run(q.CUSTOMER_CONSENTS, {"id": customer_id})
        if not found:
            raise NotFound(f"customer {customer_id!r} not found")
        categories, consent_ids = usable_consents(found[0]["consents"], consents, now)
        shown = list(self._candidates(customer_id, business, categories, now, every=True))[:first]
        self._run(
            q.AUDIT_READ,
            {
                "id": _new_id("aud"),
                "now": now,
                "actor": actor.name,
                "action": "READ_CANDIDATES",
                "subject_id": customer_id,
                "categories": ["relationships"],
                "consent_ids": consent_ids,
                "reference": ",".join(c.customer_id for c in shown) or None,
            },
        )
        return shown

    # --- steps 5-6 ------------------------------------------------------------------------

    def _assessment(self, actor: Actor, assessment_id: str) -> dict[str, Any]:
        """The stored assessment, its requests and decision; NOT_FOUND to a kiosk whose key did
        not create it (as for an id that does not exist)."""
        rows = self._run(q.GET_ASSESSMENT, {"id": assessment_id})
        if not rows or (actor.owns_only and rows[0]["assessment"].get("owner_key") != actor.key_id):
            raise NotFound(f"assessment {assessment_id!r} not found")
        return rows[0]

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
                "id": _new_id("aud"),
                "now": self.now(),
                "actor": actor.name,
                "action": action,
                "subject_id": subject_id,
                "categories": list(categories),
                "consent_ids": [],
                "reference": reference,
            },
        )

    def request_assist(
        self, actor: Actor, assessment_id: str, handles: Sequence[str], channel: str | None
    ) -> list[AssistRequestView]:
        """Step 5-6: one request per picked candidate (by the handle the assessment gave),
        queued in the outbox, all or none; only on a channel the candidate does not share with
        the applicant."""
        if channel is not None and channel not in CHANNELS:
            raise InvalidInput(f"channel: must be one of {', '.join(CHANNELS)}")
        if not handles or len(set(handles)) != len(handles):
            raise InvalidInput("guarantors: give one or more distinct candidate handles")
        found = self._assessment(actor, assessment_id)
        assessment = found["assessment"]
        now = self.now()
        if assessment["outcome"] != "NEEDS_GUARANTOR":
            raise Conflict(f"assessment {assessment_id!r} does not need a guarantor")
        if found["decision"] is not None:
            raise Conflict(f"assessment {assessment_id!r} is already decided")
        if assessment["expires_at"] <= now:
            raise Conflict(f"assessment {assessment_id!r} has expired")
        offered = {
            c["handle"]: Candidate.from_stored(c)
            for c in json.loads(assessment.get("candidate_view") or "[]")
        }
        picked = []
        for handle in handles:
            if handle not in offered:
                raise InvalidInput(f"guarantors: {handle!r} is not a candidate of this assessment")
            candidate = offered[handle]
            if channel is not None and channel not in candidate.channels:
                raise InvalidInput(
                    f"channel: {channel} cannot reach candidate {handle!r} "
                    f"(offered: {', '.join(candidate.channels)})"
                )
            picked.append((candidate, channel or candidate.channels[0]))
        asked = {r["guarantor_id"] for r in found["requests"] if r["status"] != "EXPIRED"}
        if any(c.customer_id in asked for c, _ in picked):
            raise Conflict("guarantors: a picked candidate was already asked")
        rules = self.policy.business(assessment["business"]).assist
        if len(asked) + len(picked) > rules.max_guarantors:
            raise InvalidInput(f"guarantors: at most {rules.max_guarantors} guarantors")
        expires_at = min(now + rules.request_ttl_seconds * 1000, assessment["expires_at"])
        requests, views = [], []
        for candidate, via in picked:
            token = secrets.token_urlsafe(32)
            request_id = _new_id("req")
            requests.append(
                {
                    "id": request_id,
                    "guarantor_id": candidate.customer_id,
                    "handle": candidate.handle,
                    "channel": via,
                    "token_hash": _token_hash(token),
                    "expires_at": expires_at,
                    "message_id": _new_id("msg"),
                    "link": f"{self.assist_link}/{request_id}?token={token}",
                    "text": "A relative or friend asks you to confirm a bank business at a "
                    "self-service kiosk. Open the link to review and confirm in mobile banking.",
                }
            )
            views.append(
                AssistRequestView(
                    request_id,
                    assessment_id,
                    candidate.customer_id,
                    candidate.handle,
                    via,
                    "PENDING",
                    now,
                    expires_at,
                )
            )
        created = self._run(
            q.CREATE_ASSIST_REQUESTS,
            {
                "assessment_id": assessment_id,
                "now": now,
                "requests": requests,
                "max_guarantors": rules.max_guarantors,
                "audit_id": _new_id("aud"),
                "actor": actor.name,
            },
        )
        if not created:  # a concurrent pick took the places (checked under the lock)
            raise Conflict(
                f"guarantors: at most {rules.max_guarantors} guarantors, each asked once"
            )
        if len(created) != len(requests):
            raise NotFound("guarantors: a candidate is no longer in the graph")
        if self.on_queued is not None:
            self.on_queued()
        return views

    def respond_assist(
        self,
        actor: Actor,
        request_id: str,
        guarantor_id: str,
        token: str,
        accept: bool,
        verification: Verification | None,
    ) -> AssistRequestView:
        """The guarantor's answer, sent by the mobile-banking backend for the guarantor it has
        signed in: only for that guarantor, with the request's token, on a pending, unexpired
        request. A wrong token or guarantor counts; after `max_token_failures` the request is
        locked."""
        found = self._opened(actor, request_id, guarantor_id, token)
        request = found["request"]
        now = self.now()
        if request["status"] != "PENDING":
            raise RequestRejected(f"request already {request['status'].lower()}")
        if request["expires_at"] <= now:
            self._run(q.EXPIRE_ASSIST, {"id": request_id, "now": now})
            raise RequestRejected("request expired")
        status, detail, categories = "DECLINED", "{}", []
        if accept:
            categories = self._checked_verification(verification, found["business"])
            assert verification is not None
            status = "CONFIRMED"
            detail = json.dumps(
                {
                    "face_similarity": verification.face_similarity,
                    "id_check": verification.id_check,
                    "id_photo_captured": verification.id_photo_captured,
                    # what the results are bound to: checked again by `decide`
                    "request_id": request_id,
                    "guarantor_id": request["guarantor_id"],
                    "channel": request["channel"],
                    "expires_at": request["expires_at"],
                    "responder": actor.name,
                }
            )
        updated = self._run(
            q.RESPOND_ASSIST,
            {
                "id": request_id,
                "token_hash": request["token_hash"],
                "guarantor_id": guarantor_id,
                "now": now,
                "status": status,
                "verification": detail,
                "consent_categories": categories,
                "actor": actor.name,
                "audit_id": _new_id("aud"),
            },
        )
        if not updated:  # another replica answered first, or it expired meanwhile
            raise RequestRejected("request is no longer pending")
        return _request_view(updated[0]["request"])

    def _opened(
        self, actor: Actor, request_id: str, guarantor_id: str, token: str
    ) -> dict[str, Any]:
        """The request, once the token and the signed-in guarantor match it; a mismatch counts
        towards locking it."""
        rows = self._run(q.GET_ASSIST_REQUEST, {"id": request_id})
        if not rows:
            raise NotFound(f"assist request {request_id!r} not found")
        request = rows[0]["request"]
        if request["status"] == "LOCKED":
            raise RequestRejected("request locked after too many failed attempts")
        token_ok = hmac.compare_digest(request["token_hash"], _token_hash(token))
        if not token_ok or request["guarantor_id"] != guarantor_id:
            self._token_failed(actor, request_id, self.now())
        return rows[0]

    def assist_details(
        self, actor: Actor, request_id: str, guarantor_id: str, token: str
    ) -> AssistDetails:
        """What a guarantor is asked to confirm, for the mobile-banking screen (audited: the
        applicant's masked name is read)."""
        found = self._opened(actor, request_id, guarantor_id, token)
        request = found["request"]
        offered = json.loads(found["candidate_view"] or "[]")
        relationship = next(
            (c["relationship"] for c in offered if c["customer_id"] == guarantor_id),
            "related customer",
        )
        self._audit(actor, "READ_ASSIST_REQUEST", found["applicant_id"] or "", request_id)
        return AssistDetails(
            request_id,
            found["business"] or "",
            mask_name(found["applicant_name"] or ""),
            relationship,
            request["channel"],
            request["status"],
            request["expires_at"],
        )

    def _token_failed(self, actor: Actor, request_id: str, now: int) -> None:
        limit = MAX_TOKEN_FAILURES
        rows = self._run(
            q.FAIL_ASSIST_TOKEN,
            {
                "id": request_id,
                "max_failures": limit,
                "audit_id": _new_id("aud"),
                "actor": actor.name,
                "now": now,
            },
        )
        if rows and rows[0]["status"] == "LOCKED":
            raise RequestRejected("token: does not match; the request is now locked")
        raise RequestRejected("token: does not match this request")

    def _checked_verification(self, verification: Verification | None, business: str) -> list[str]:
        """The categories a confirmation allows to read: every category the guarantor's
        scorecard needs must be consented (they are required, not chosen)."""
        if verification is None:
            raise InvalidInput("verification: required to confirm")
        if not 0.0 <= verification.face_similarity <= 1.0:
            raise InvalidInput("verification.faceSimilarity: must be between 0 and 1")
        if verification.id_check not in ID_CHECKS:
            raise InvalidInput(f"verification.idCheck: must be one of {', '.join(ID_CHECKS)}")
        required = self.policy.business(business).assist.guarantor_required_consents
        lacking = [c for c in required if c not in verification.consents]
        if lacking:
            raise InvalidInput(f"verification.consents: must include {', '.join(lacking)}")
        return sorted(set(verification.consents))

    # --- steps 7-9 ------------------------------------------------------------------------

    def _guarantor_evidence(
        self, request: dict[str, Any], customer_id: str, now: int
    ) -> tuple[GuarantorEvidence, list[str]]:
        categories = set(request.get("consent_categories") or [])
        verification = json.loads(request.get("verification") or "{}")
        row = self._evidence_row(request["guarantor_id"], categories)
        ties = self._run(
            q.TIES_BETWEEN, {"customer_id": customer_id, "guarantor_id": request["guarantor_id"]}
        )
        paths = tuple(
            RelationshipPath(
                t["type"], t["kind"], t["source"], OUT if t["candidate_is_src"] else IN
            )
            for t in ties
        )
        vouching = "vouching_history" in categories
        risk, version, why = self._graph_risk(
            lambda scorer: scorer.score_pair(customer_id, request["guarantor_id"], now)
        )
        evidence = GuarantorEvidence(
            now=now,
            face_similarity=float(verification["face_similarity"]),
            id_check=verification["id_check"],
            blacklisted=int(row["blacklist_entries"] or 0) > 0,
            account_status=row["status"],
            id_photo_captured=bool(verification.get("id_photo_captured")),
            relationship=paths,
            movement=_movement(row, row["status"], row["opened_at"], now),
            vouch_history=_vouches(row["vouches"], False, now - YEAR_MS) if vouching else None,
            credit_grade=row["credit_grade"],
            graph_risk=risk,
            model_version=version,
            graph_evidence=why,
        )
        return evidence, sorted(categories)

    def _hard_now(self, assessment: dict[str, Any], now: int) -> tuple[Item, ...]:
        """The hard rules (blacklist, account status, ID known to the bank) checked again at
        decision time: the applicant may have been listed or closed since the assessment."""
        flags = {c: False for c in EVIDENCE_CATEGORIES}
        rows = self._run(q.PERSON_EVIDENCE, {"id": assessment["customer_id"], **flags})
        if not rows:
            return (Item("HARD_ID_UNKNOWN", 0.0, {"customer_known": False}),)
        evidence = CustomerEvidence(
            now=now,
            face_similarity=float(assessment["face_similarity"]),
            id_check=assessment["id_check"],
            blacklisted=int(rows[0]["blacklist_entries"] or 0) > 0,
            account_status=rows[0]["status"],
        )
        # the graph model was heard at assess: here only the rules on the facts count
        hard = hard_refusals(evidence, assessment["business"], self.policy)
        return tuple(i for i in hard if not i.code.endswith("NO_MODEL"))

    def decide(self, actor: Actor, assessment_id: str) -> DecisionView:
        """Steps 7-9: combine the applicant's and the confirmed guarantors' scores. An expired
        assessment is refused; the hard rules are checked again now."""
        found = self._assessment(actor, assessment_id)
        if found["decision"] is not None:
            decided = _decision_view(found["decision"])
            self._audit(actor, "READ_DECISION", decided.customer_id, decided.id)
            return decided
        assessment = found["assessment"]
        now = self.now()
        business = assessment["business"]
        threshold = float(assessment["threshold"])
        if assessment["outcome"] == "REFUSED":
            return self._store_decision(
                actor,
                assessment,
                self._decision_view(
                    assessment,
                    now,
                    "REFUSE",
                    float(assessment["score"]),
                    threshold,
                    _items(assessment["items"]),
                    tuple(assessment["reasons"]),
                ),
            )
        if assessment["expires_at"] <= now:
            item = Item("ASSESSMENT_EXPIRED", 0.0, {"expired_at": assessment["expires_at"]})
            return self._store_decision(
                actor,
                assessment,
                self._decision_view(
                    assessment, now, "REFUSE", 0.0, threshold, (item,), ("ASSESSMENT_EXPIRED",)
                ),
            )
        if assessment["outcome"] == "PROCEED":
            hard = self._hard_now(assessment, now)
            items = hard or _items(assessment["items"])
            reasons = tuple(i.code for i in hard) or tuple(assessment["reasons"])
            return self._store_decision(
                actor,
                assessment,
                self._decision_view(
                    assessment,
                    now,
                    "REFUSE" if hard else "ALLOW",
                    float(assessment["score"]),
                    threshold,
                    items,
                    reasons,
                ),
            )
        requests = found["requests"]
        pending = [r for r in requests if r["status"] == "PENDING" and r["expires_at"] > now]
        if pending:
            raise Conflict("a guarantor has not answered yet")
        confirmed = [r for r in requests if r["status"] == "CONFIRMED" and _bound(r)]
        # the applicant is re-read now, under the consents given at the kiosk for this request
        # and those on record that still hold now
        consents = self._run(q.CUSTOMER_CONSENTS, {"id": assessment["customer_id"]})
        categories, consent_ids = usable_consents(
            consents[0]["consents"] if consents else [],
            assessment.get("kiosk_consents") or (),
            now,
        )
        applicant = self._customer_evidence(
            AssessRequest(
                assessment["customer_id"],
                business,
                assessment["kiosk_id"],
                float(assessment["face_similarity"]),
                assessment["id_check"],
            ),
            categories,
            now,
        )
        guarantors, reads = [], []
        for request in confirmed:
            evidence, cats = self._guarantor_evidence(request, assessment["customer_id"], now)
            guarantors.append(evidence)
            reads.append(
                {
                    "guarantor_id": request["guarantor_id"],
                    "categories": cats,
                    "consent": f"assist:{request['id']}",
                }
            )
        decision = final_decision(applicant, guarantors, business, self.policy)
        items = decision.hard + decision.score.items
        if decision.score is not decision.customer:
            items += decision.customer.items + tuple(
                replace(i, evidence={**i.evidence, "guarantor_id": confirmed[n]["guarantor_id"]})
                for n, g in enumerate(decision.guarantors)
                for i in g.items
            )
        view = self._decision_view(
            assessment,
            now,
            str(decision.outcome),
            decision.score.total,
            decision.threshold,
            items,
            decision.reasons,
            confirmed,
            ",".join(decision.model_versions) or None,
        )
        model_reads = (
            [assessment["customer_id"], *(r["guarantor_id"] for r in confirmed)]
            if decision.model_versions
            else []
        )
        return self._store_decision(
            actor,
            assessment,
            view,
            sorted(categories) + ([GRAPH_MODEL_READ] if decision.model_versions else []),
            consent_ids,
            reads,
            model_reads,
        )

    def _decision_view(
        self,
        assessment: dict[str, Any],
        now: int,
        outcome: str,
        score: float,
        threshold: float,
        items: Sequence[Item],
        reasons: Sequence[str],
        confirmed: Sequence[dict[str, Any]] = (),
        model_version: str | None = None,
    ) -> DecisionView:
        return DecisionView(
            _new_id("dec"),
            assessment["id"],
            assessment["customer_id"],
            assessment["business"],
            outcome,
            score,
            threshold,
            tuple(items),
            tuple(reasons),
            tuple(r["guarantor_id"] for r in confirmed),
            self.policy.version,
            model_version,
            now,
            guarantor_handles=tuple(r.get("handle") or "" for r in confirmed),
        )

    def _store_decision(
        self,
        actor: Actor,
        assessment: dict[str, Any],
        view: DecisionView,
        categories: Sequence[str] = (),
        consent_ids: Sequence[str] = (),
        guarantor_reads: Sequence[dict[str, Any]] = (),
        model_reads: Sequence[str] = (),
    ) -> DecisionView:
        rows = self._run(
            q.CREATE_DECISION,
            {
                "assessment_id": assessment["id"],
                "customer_id": assessment["customer_id"],
                "id": view.id,
                "outcome": view.outcome,
                "score": view.score,
                "threshold": view.threshold,
                "items": _items_json(view.items),
                "reasons": list(view.reasons),
                "guarantor_ids": list(view.guarantor_ids),
                "guarantor_handles": list(view.guarantor_handles),
                "vouch_ids": list(view.guarantor_ids) if view.outcome == "ALLOW" else [],
                "policy_version": view.policy_version,
                "model_version": view.model_version,
                "now": view.created_at,
                "audit_id": _new_id("aud"),
                "actor": actor.name,
                "categories": list(categories),
                "consent_ids": list(consent_ids),
                "guarantor_reads": list(guarantor_reads),
                "model_reads": list(model_reads),
            },
        )
        if not rows:
            raise NotFound(f"assessment {assessment['id']!r} not found")
        return _decision_view(rows[0]["decision"])

    def _decision(self, actor: Actor, decision_id: str) -> dict[str, Any]:
        """The stored decision; NOT_FOUND to a kiosk whose key did not create it."""
        found = self._run(q.GET_DECISION, {"id": decision_id})
        if not found or (actor.owns_only and found[0]["decision"].get("owner_key") != actor.key_id):
            raise NotFound(f"decision {decision_id!r} not found")
        return found[0]["decision"]

    def record_outcome(self, actor: Actor, decision_id: str, outcome: str) -> DecisionView:
        """After the business: the outcome joins the guarantors' vouching history, once per
        decision (a second report is a CONFLICT), audited with the reporter."""
        if outcome not in OUTCOMES:
            raise InvalidInput(f"outcome: must be one of {', '.join(OUTCOMES)}")
        decision = self._decision(actor, decision_id)
        if decision["outcome"] != "ALLOW":
            raise Conflict("an outcome can only be recorded for an allowed business")
        rows = self._run(
            q.RECORD_OUTCOME,
            {
                "id": decision_id,
                "outcome": outcome,
                "now": self.now(),
                "actor": actor.name,
                "audit_id": _new_id("aud"),
            },
        )
        if not rows:
            raise Conflict(f"decision {decision_id!r} already has an outcome")
        return _decision_view(rows[0]["decision"])

    # --- reads ----------------------------------------------------------------------------

    def assessment(
        self, actor: Actor, assessment_id: str
    ) -> tuple[AssessmentView, list[AssistRequestView]]:
        """An assessment with its candidates and requests (audited)."""
        found = self._assessment(actor, assessment_id)
        a = found["assessment"]
        view = AssessmentView(
            a["id"],
            a["customer_id"],
            a["business"],
            a["outcome"],
            float(a["score"]),
            float(a["threshold"]),
            _items(a["items"]),
            tuple(a["reasons"] or ()),
            tuple(Candidate.from_stored(c) for c in json.loads(a.get("candidate_view") or "[]")),
            a["policy_version"],
            a.get("model_version"),
            a["created_at"],
            a["expires_at"],
        )
        self._audit(actor, "READ_ASSESSMENT", view.customer_id, view.id)
        return view, [_request_view(r) for r in found["requests"]]

    def decision(self, actor: Actor, decision_id: str) -> DecisionView:
        """A decision with every item and reason (audited)."""
        view = _decision_view(self._decision(actor, decision_id))
        self._audit(actor, "READ_DECISION", view.customer_id, view.id)
        return view


def _bound(request: dict[str, Any]) -> bool:
    """Whether a confirmation's verification results belong to this request: its id, its
    guarantor and its channel, as written when the guarantor answered."""
    verification = json.loads(request.get("verification") or "{}")
    bound = all(
        verification.get(key) == request.get(field)
        for key, field in (
            ("request_id", "id"),
            ("guarantor_id", "guarantor_id"),
            ("channel", "channel"),
        )
    )
    if not bound:
        log.warning("a confirmation not bound to its request was ignored")
    return bound


def _channels(phones: int | None, devices: int | None) -> frozenset[str]:
    """The channels that reach someone: SMS with a phone, MOBILE_BANKING with a device."""
    return frozenset(
        name for name, count in (("SMS", phones), ("MOBILE_BANKING", devices)) if count
    )


def _no_candidates(decision: Decision) -> Decision:
    return replace(
        decision, outcome="REFUSED", reasons=("NO_ELIGIBLE_GUARANTOR", *decision.reasons[1:])
    )


def _candidate(ranked: RankedCandidate, name: str) -> Candidate:
    return Candidate(
        _new_id("cand"),
        ranked.facts.customer_id,
        mask_name(name),
        ranked.relationship,
        ranked.eligibility.eligible,
        ranked.eligibility.reasons,
        ranked.facts.paths,
        tuple(ranked.channels),
    )


def _request_view(r: dict[str, Any]) -> AssistRequestView:
    return AssistRequestView(
        r["id"],
        r["assessment_id"],
        r["guarantor_id"],
        r.get("handle") or "",
        r["channel"],
        r["status"],
        r["created_at"],
        r["expires_at"],
        r.get("responded_at"),
    )


def _decision_view(d: dict[str, Any]) -> DecisionView:
    return DecisionView(
        d["id"],
        d["assessment_id"],
        d["customer_id"],
        d["business"],
        d["outcome"],
        float(d["score"]),
        float(d["threshold"]),
        _items(d["items"]),
        tuple(d["reasons"] or ()),
        tuple(d.get("guarantor_ids") or ()),
        d["policy_version"],
        d.get("model_version"),
        d["created_at"],
        d.get("reported_outcome"),
        guarantor_handles=tuple(d.get("guarantor_handles") or ()),
    )


def refusal(request: AssessRequest, policy: Policy, reason: str, now: int) -> AssessmentView:
    """What `assess` answers when it cannot run: a refusal with a reason code, never stored."""
    try:
        threshold = policy.business(request.business).t1
    except UnknownBusiness:
        threshold = 0.0
    item = Item(reason, 0.0, {})
    return AssessmentView(
        _new_id("asm"),
        request.customer_id,
        request.business,
        "REFUSED",
        0.0,
        threshold,
        (item,),
        (reason,),
        (),
        policy.version,
        None,
        now,
        now,
        persisted=False,
    )


def refusal_decision(assessment_id: str, policy: Policy, reason: str, now: int) -> DecisionView:
    """What `decide` answers when it cannot run: REFUSE with a reason code, never stored."""
    return DecisionView(
        _new_id("dec"),
        assessment_id,
        "",
        "",
        "REFUSE",
        0.0,
        0.0,
        (Item(reason, 0.0, {}),),
        (reason,),
        (),
        policy.version,
        None,
        now,
        persisted=False,
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
                "events": [{"id": _new_id("aud"), "subject_id": cid} for cid in rows],
                "now": now,
                "actor": actor.name,
                "action": "READ_CUSTOMER",
                "categories": ["basic_info", "credit", "vouching_history", "rejection_history"],
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
