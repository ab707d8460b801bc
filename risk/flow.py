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
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

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
)

DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS
ID_CHECKS = ("MATCH", "NOT_FOUND", "CHIP_MISMATCH")
CHANNELS = ("SMS", "MOBILE_BANKING")
OUTCOMES = ("FRAUD_REPORTED", "NO_ISSUE")
# Without these the applicant cannot be assessed at all (face match, identity, basic facts).
APPLICANT_REQUIRED = ("basic_info", "face", "identity")
# Without these a guarantor's confirmation cannot count.
GUARANTOR_REQUIRED = ("face", "identity")
EVIDENCE_CATEGORIES = (
    "basic_info",
    "rejection_history",
    "transactions",
    "credit",
    "vouching_history",
)


log = logging.getLogger(__name__)
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
    """A candidate guarantor as a kiosk screen may show it: no ID or phone number."""

    customer_id: str
    display_name: str
    relationship: str
    eligible: bool
    reasons: tuple[str, ...]
    paths: tuple[RelationshipPath, ...]


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
    channel: str
    status: str
    created_at: int
    expires_at: int
    responded_at: int | None = None


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


@dataclass
class Actor:
    """Who is asking (recorded in the audit trail)."""

    name: str
    role: str


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
    ) -> None:
        self.store, self.policy, self.clock = store, policy, clock
        self.assist_link, self.on_queued, self.deadline_ms = assist_link, on_queued, deadline_ms
        self.scorer = scorer  # None: no model (the policy decides what that means) ...
        self.no_model_reason = no_model_reason  # ... for this reason

    def now(self) -> int:
        return int(self.clock() * 1000)

    def _graph_risk(
        self, score: Callable[[GraphRiskScorer], GraphRiskResult]
    ) -> tuple[float | None, str | None, dict[str, Any]]:
        """The graph model's probability, version and evidence; without a model, or when
        scoring fails, no probability and the reason (the policy then decides: by default it
        refuses). A store failure is not a scoring failure: it fails the step closed."""
        if self.scorer is None:
            return None, None, {"reason": self.no_model_reason}
        try:
            result = score(self.scorer)
        except StoreError:
            raise
        except Exception as exc:
            log.warning("graph risk scoring failed: %s", type(exc).__name__)
            return None, None, {"reason": "SCORING_FAILED", "model_version": self.scorer.version}
        return result.probability, result.model_version, dict(result.evidence)

    def _run(self, query: q.Query, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.store.run(query, params, timeout_ms=self.deadline_ms)

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
        missing = [c for c in APPLICANT_REQUIRED if c not in categories]
        if missing:
            item = Item("CONSENT_MISSING", 0.0, {"categories": missing})
            return self._store_assessment(
                actor,
                request,
                now,
                "REFUSED",
                0.0,
                business.t1,
                (item,),
                ("CONSENT_MISSING",),
                (),
                [],
                [],
                None,
            )
        evidence = self._customer_evidence(request, categories, now)
        decision = first_decision(evidence, request.business, self.policy)
        candidates: tuple[Candidate, ...] = ()
        if decision.outcome == "NEEDS_GUARANTOR":
            candidates = self._candidates(request.customer_id, request.business, categories, now)
            if not candidates:
                decision = _no_candidates(decision)
        items = decision.hard + decision.score.items
        read = sorted(categories & {"face", "identity", *EVIDENCE_CATEGORIES})
        if decision.model_versions:  # the graph model read the applicant's neighbourhood
            read.append(GRAPH_MODEL_READ)
        return self._store_assessment(
            actor,
            request,
            now,
            str(decision.outcome),
            decision.score.total,
            decision.threshold,
            items,
            decision.reasons,
            candidates,
            read,
            consent_ids,
            ",".join(decision.model_versions) or None,
        )

    def _refuse_unknown(self, actor: Actor, request: AssessRequest, now: int) -> AssessmentView:
        business = self.policy.business(request.business)
        item = Item("HARD_ID_UNKNOWN", 0.0, {"customer_known": False})
        view = AssessmentView(
            _new_id("asm"),
            request.customer_id,
            request.business,
            "REFUSED",
            0.0,
            business.t1,
            (item,),
            ("HARD_ID_UNKNOWN",),
            (),
            self.policy.version,
            None,
            now,
            now,
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
            },
        )
        return view

    def _store_assessment(
        self,
        actor: Actor,
        request: AssessRequest,
        now: int,
        outcome: str,
        score: float,
        threshold: float,
        items: Sequence[Item],
        reasons: Sequence[str],
        candidates: Sequence[Candidate],
        categories: list[str],
        consent_ids: list[str],
        model_version: str | None,
    ) -> AssessmentView:
        ttl_ms = self.policy.business(request.business).assist.request_ttl_seconds * 1000
        view = AssessmentView(
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
        self._run(
            q.CREATE_ASSESSMENT,
            {
                "customer_id": view.customer_id,
                "id": view.id,
                "business": view.business,
                "kiosk_id": request.kiosk_id,
                "outcome": outcome,
                "score": score,
                "threshold": threshold,
                "items": _items_json(items),
                "reasons": list(reasons),
                "candidates": [c.customer_id for c in candidates if c.eligible],
                "policy_version": view.policy_version,
                "model_version": model_version,
                "now": now,
                "expires_at": view.expires_at,
                "audit_id": _new_id("aud"),
                "actor": actor.name,
                "categories": categories,
                "consent_ids": consent_ids + [f"kiosk:{c}" for c in request.consents],
                "face_similarity": request.face_similarity,
                "id_check": request.id_check,
            },
        )
        return view

    # --- step 4 --------------------------------------------------------------------------

    def _candidates(
        self, customer_id: str, business: str, categories: set[str], now: int
    ) -> tuple[Candidate, ...]:
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
            channels = {"SMS"} if row["phones"] else set()
            if row["devices"]:
                channels.add("MOBILE_BANKING")
            names[row["id"]] = row["name"] or ""
            facts.append(
                CandidateFacts(
                    customer_id=row["id"],
                    paths=paths,
                    status=row["status"] or "closed",
                    blacklisted=int(row["blacklist_entries"] or 0) > 0,
                    is_self=row["id"] == customer_id,
                    channels=frozenset(channels),
                    account_opened_at=row["opened_at"],
                    credit_grade=row["credit_grade"],
                    graph_risk=row["graph_risk"],
                    vouches_given=_vouches(row["vouches"], True, now - 2 * YEAR_MS),
                    vouches_received=_vouches(row["vouches"], False, now - 2 * YEAR_MS),
                )
            )
        ranked = rank_candidates(facts, business, self.policy, now)
        shown = candidates_to_show(ranked, business, self.policy)
        return tuple(_candidate(c, names[c.facts.customer_id]) for c in shown)

    def candidates(
        self,
        actor: Actor,
        customer_id: str,
        business: str,
        first: int | None,
        consents: Sequence[str] = (),
    ) -> list[Candidate]:
        """Step 4 on its own: the applicant's candidate guarantors, best first (audited)."""
        self._check_business(business)
        if first is not None and first < 1:
            raise InvalidInput("first: must be at least 1")
        now = self.now()
        found = self._run(q.CUSTOMER_CONSENTS, {"id": customer_id})
        if not found:
            raise NotFound(f"customer {customer_id!r} not found")
        categories, consent_ids = usable_consents(found[0]["consents"], consents, now)
        shown = list(self._candidates(customer_id, business, categories, now))[:first]
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

    def _assessment(self, assessment_id: str) -> dict[str, Any]:
        rows = self._run(q.GET_ASSESSMENT, {"id": assessment_id})
        if not rows:
            raise NotFound(f"assessment {assessment_id!r} not found")
        return rows[0]

    def request_assist(
        self, actor: Actor, assessment_id: str, guarantor_ids: Sequence[str], channel: str | None
    ) -> list[AssistRequestView]:
        """Step 5-6: one request per picked guarantor, queued in the outbox (all or none)."""
        channel = channel or "SMS"
        if channel not in CHANNELS:
            raise InvalidInput(f"channel: must be one of {', '.join(CHANNELS)}")
        if not guarantor_ids or len(set(guarantor_ids)) != len(guarantor_ids):
            raise InvalidInput("guarantorIds: give one or more distinct ids")
        found = self._assessment(assessment_id)
        assessment = found["assessment"]
        now = self.now()
        if assessment["outcome"] != "NEEDS_GUARANTOR":
            raise Conflict(f"assessment {assessment_id!r} does not need a guarantor")
        if found["decision"] is not None:
            raise Conflict(f"assessment {assessment_id!r} is already decided")
        if assessment["expires_at"] <= now:
            raise Conflict(f"assessment {assessment_id!r} has expired")
        offered = set(assessment.get("candidates") or [])
        for gid in guarantor_ids:
            if gid not in offered:
                raise InvalidInput(f"guarantorIds: {gid!r} is not an offered candidate")
        asked = {r["guarantor_id"] for r in found["requests"] if r["status"] != "EXPIRED"}
        repeated = sorted(asked & set(guarantor_ids))
        if repeated:
            raise Conflict(f"guarantorIds: {repeated[0]!r} was already asked")
        rules = self.policy.business(assessment["business"]).assist
        if len(asked) + len(guarantor_ids) > rules.max_guarantors:
            raise InvalidInput(f"guarantorIds: at most {rules.max_guarantors} guarantors")
        expires_at = min(now + rules.request_ttl_seconds * 1000, assessment["expires_at"])
        requests, views = [], []
        for gid in guarantor_ids:
            token = secrets.token_urlsafe(32)
            request_id = _new_id("req")
            requests.append(
                {
                    "id": request_id,
                    "guarantor_id": gid,
                    "channel": channel,
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
                    request_id, assessment_id, gid, channel, "PENDING", now, expires_at
                )
            )
        created = self._run(
            q.CREATE_ASSIST_REQUESTS,
            {"assessment_id": assessment_id, "now": now, "requests": requests},
        )
        if len(created) != len(requests):
            raise NotFound("guarantorIds: a guarantor is no longer in the graph")
        if self.on_queued is not None:
            self.on_queued()
        return views

    def respond_assist(
        self, request_id: str, token: str, accept: bool, verification: Verification | None
    ) -> AssistRequestView:
        """The guarantor's answer: only a matching token on a pending, unexpired request."""
        rows = self._run(q.GET_ASSIST_REQUEST, {"id": request_id})
        if not rows:
            raise NotFound(f"assist request {request_id!r} not found")
        request = rows[0]["request"]
        now = self.now()
        if not hmac.compare_digest(request["token_hash"], _token_hash(token)):
            raise RequestRejected("token: does not match this request")
        if request["status"] != "PENDING":
            raise RequestRejected(f"request already {request['status'].lower()}")
        if request["expires_at"] <= now:
            self._run(q.EXPIRE_ASSIST, {"id": request_id, "now": now})
            raise RequestRejected("request expired")
        status, detail, categories = "DECLINED", "{}", []
        if accept:
            if verification is None:
                raise InvalidInput("verification: required to confirm")
            if not 0.0 <= verification.face_similarity <= 1.0:
                raise InvalidInput("verification.faceSimilarity: must be between 0 and 1")
            if verification.id_check not in ID_CHECKS:
                raise InvalidInput(f"verification.idCheck: must be one of {', '.join(ID_CHECKS)}")
            lacking = [c for c in GUARANTOR_REQUIRED if c not in verification.consents]
            if lacking:
                raise InvalidInput(f"verification.consents: must include {', '.join(lacking)}")
            status, categories = "CONFIRMED", sorted(set(verification.consents))
            detail = json.dumps(
                {
                    "face_similarity": verification.face_similarity,
                    "id_check": verification.id_check,
                    "id_photo_captured": verification.id_photo_captured,
                }
            )
        updated = self._run(
            q.RESPOND_ASSIST,
            {
                "id": request_id,
                "token_hash": request["token_hash"],
                "now": now,
                "status": status,
                "verification": detail,
                "consent_categories": categories,
            },
        )
        if not updated:  # another replica answered first, or it expired meanwhile
            raise RequestRejected("request is no longer pending")
        return _request_view(updated[0]["request"])

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

    def decide(self, actor: Actor, assessment_id: str) -> DecisionView:
        """Steps 7-9: combine the applicant's and the confirmed guarantors' scores."""
        found = self._assessment(assessment_id)
        if found["decision"] is not None:
            return _decision_view(found["decision"])
        assessment = found["assessment"]
        now = self.now()
        business = assessment["business"]
        if assessment["outcome"] != "NEEDS_GUARANTOR":
            allowed = assessment["outcome"] == "PROCEED"
            return self._store_decision(
                actor,
                assessment,
                now,
                "ALLOW" if allowed else "REFUSE",
                float(assessment["score"]),
                float(assessment["threshold"]),
                _items(assessment["items"]),
                tuple(assessment["reasons"]),
                (),
                [],
                [],
                None,
            )
        requests = found["requests"]
        pending = [r for r in requests if r["status"] == "PENDING" and r["expires_at"] > now]
        if pending:
            raise Conflict("a guarantor has not answered yet")
        confirmed = [r for r in requests if r["status"] == "CONFIRMED"]
        # the applicant is re-read now, under the consents that hold now
        consents = self._run(q.CUSTOMER_CONSENTS, {"id": assessment["customer_id"]})
        categories, consent_ids = usable_consents(
            consents[0]["consents"] if consents else [], (), now
        )
        categories |= {"face", "identity", "basic_info"}  # given at the kiosk for this request
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
                Item(i.code, i.points, {**i.evidence, "guarantor_id": confirmed[n]["guarantor_id"]})
                for n, g in enumerate(decision.guarantors)
                for i in g.items
            )
        ids = tuple(r["guarantor_id"] for r in confirmed)
        return self._store_decision(
            actor,
            assessment,
            now,
            str(decision.outcome),
            decision.score.total,
            decision.threshold,
            items,
            decision.reasons,
            ids,
            sorted(categories) + ([GRAPH_MODEL_READ] if decision.model_versions else []),
            consent_ids,
            ",".join(decision.model_versions) or None,
            reads,
        )

    def _store_decision(
        self,
        actor: Actor,
        assessment: dict[str, Any],
        now: int,
        outcome: str,
        score: float,
        threshold: float,
        items: Sequence[Item],
        reasons: Sequence[str],
        guarantor_ids: Sequence[str],
        categories: list[str],
        consent_ids: list[str],
        model_version: str | None,
        guarantor_reads: Sequence[dict[str, Any]] = (),
    ) -> DecisionView:
        rows = self._run(
            q.CREATE_DECISION,
            {
                "assessment_id": assessment["id"],
                "customer_id": assessment["customer_id"],
                "id": _new_id("dec"),
                "outcome": outcome,
                "score": score,
                "threshold": threshold,
                "items": _items_json(items),
                "reasons": list(reasons),
                "guarantor_ids": list(guarantor_ids),
                "vouch_ids": list(guarantor_ids) if outcome == "ALLOW" else [],
                "policy_version": self.policy.version,
                "model_version": model_version,
                "now": now,
                "audit_id": _new_id("aud"),
                "actor": actor.name,
                "categories": categories,
                "consent_ids": consent_ids,
                "guarantor_reads": list(guarantor_reads),
            },
        )
        if not rows:
            raise NotFound(f"assessment {assessment['id']!r} not found")
        return _decision_view(rows[0]["decision"])

    def record_outcome(self, actor: Actor, decision_id: str, outcome: str) -> DecisionView:
        """After the business: the outcome joins the guarantors' vouching history."""
        if outcome not in OUTCOMES:
            raise InvalidInput(f"outcome: must be one of {', '.join(OUTCOMES)}")
        found = self._run(q.GET_DECISION, {"id": decision_id})
        if not found:
            raise NotFound(f"decision {decision_id!r} not found")
        if found[0]["decision"]["outcome"] != "ALLOW":
            raise Conflict("an outcome can only be recorded for an allowed business")
        rows = self._run(
            q.RECORD_OUTCOME, {"id": decision_id, "outcome": outcome, "now": self.now()}
        )
        return _decision_view(rows[0]["decision"])

    # --- reads ----------------------------------------------------------------------------

    def assessment(self, assessment_id: str) -> tuple[AssessmentView, list[AssistRequestView]]:
        found = self._assessment(assessment_id)
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
            (),
            a["policy_version"],
            a.get("model_version"),
            a["created_at"],
            a["expires_at"],
        )
        return view, [_request_view(r) for r in found["requests"]]

    def decision(self, decision_id: str) -> DecisionView:
        found = self._run(q.GET_DECISION, {"id": decision_id})
        if not found:
            raise NotFound(f"decision {decision_id!r} not found")
        return _decision_view(found[0]["decision"])


def _no_candidates(decision: Decision) -> Decision:
    return replace(
        decision, outcome="REFUSED", reasons=("NO_ELIGIBLE_GUARANTOR", *decision.reasons[1:])
    )


def _candidate(ranked: RankedCandidate, name: str) -> Candidate:
    return Candidate(
        ranked.facts.customer_id,
        mask_name(name),
        ranked.relationship,
        ranked.eligibility.eligible,
        ranked.eligibility.reasons,
        ranked.facts.paths,
    )


def _request_view(r: dict[str, Any]) -> AssistRequestView:
    return AssistRequestView(
        r["id"],
        r["assessment_id"],
        r["guarantor_id"],
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
