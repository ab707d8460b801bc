"""Flow A steps 1-4: assess the applicant and find the candidate guarantors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace

from graph import queries as q
from graph.vocab import (
    DAY_MS,
    MS_PER_S,
    AccountStatus,
    ConsentCategory,
    FirstOutcome,
    IdCheck,
    RelationSource,
    names,
)
from risk.eligibility import CandidateFacts, candidates_to_show, rank_candidates
from risk.errors import InvalidInput, NotFound
from risk.flows.actor import Actor
from risk.flows.consents import usable_consents
from risk.flows.graph_model import GRAPH_MODEL_READ
from risk.flows.ids import new_id
from risk.flows.kiosk_base import (
    EVIDENCE_CATEGORIES,
    IDENTITY_CATEGORIES,
    RELATIONSHIPS_READ,
    KioskBase,
)
from risk.flows.kiosk_evidence import (
    channels_of,
    no_candidates,
    vouches_of,
)
from risk.flows.kiosk_views import (
    AssessmentView,
    AssessRequest,
    Candidate,
    candidate_of,
)
from risk.flows.records import items_json
from risk.flows.rows import RelatedRow, from_row
from risk.scorecard import (
    CustomerEvidence,
    Item,
    first_decision,
    hard_refusals,
)

IDENTITY_REFUSALS = ("HARD_FACE_MISMATCH", "HARD_ID_UNKNOWN", "HARD_ID_CHIP_MISMATCH")


class AssessSteps(KioskBase):
    """Assess an applicant; when guarantors are needed, offer candidates by handle."""

    def assess(self, actor: Actor, request: AssessRequest) -> AssessmentView:
        """Steps 1-3: score the applicant; below T1 proceed, else find candidate guarantors."""
        self._check_business(request.business)
        if not 0.0 <= request.face_similarity <= 1.0:
            raise InvalidInput("faceSimilarity: must be between 0 and 1")
        if request.id_check not in names(IdCheck):
            raise InvalidInput(f"idCheck: must be one of {', '.join(names(IdCheck))}")
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
            view = self._refused_view(request, now, (item,))
            return self._store_assessment(actor, request, view, consent_ids=consent_ids)
        identity = self._identity_refusals(request, now)
        if identity:  # not the customer, or not a known ID: nothing of theirs is read
            view = self._refused_view(request, now, identity)
            return self._store_assessment(
                actor, request, view, categories=IDENTITY_CATEGORIES, consent_ids=consent_ids
            )
        evidence = self._customer_evidence(request, categories, now)
        decision = first_decision(evidence, request.business, self.policy)
        candidates: tuple[Candidate, ...] = ()
        if decision.outcome == FirstOutcome.NEEDS_GUARANTOR:
            candidates = self._candidates(request.customer_id, request.business, categories, now)
            if not candidates:
                decision = no_candidates(decision)
        view = self._assessment_view(
            request,
            now=now,
            outcome=str(decision.outcome),
            score=decision.score.total,
            threshold=decision.threshold,
            items=decision.hard + decision.score.items,
            reasons=decision.reasons,
            candidates=candidates,
            model_version=",".join(decision.model_versions) or None,
        )
        read = sorted(categories & {*IDENTITY_CATEGORIES, *EVIDENCE_CATEGORIES})
        if decision.model_versions:  # the graph model read the applicant's neighbourhood
            read.append(GRAPH_MODEL_READ)
        return self._store_assessment(
            actor,
            request,
            view,
            categories=read,
            consent_ids=consent_ids,
            model_read=bool(decision.model_versions),
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
        *,
        now: int,
        outcome: str,
        score: float,
        threshold: float,
        items: Sequence[Item],
        reasons: Sequence[str],
        candidates: Sequence[Candidate] = (),
        model_version: str | None = None,
    ) -> AssessmentView:
        ttl_ms = self.policy.business(request.business).assist.assessment_ttl_seconds * MS_PER_S
        return AssessmentView(
            id=new_id("asm"),
            customer_id=request.customer_id,
            business=request.business,
            outcome=outcome,
            score=score,
            threshold=threshold,
            items=tuple(items),
            reasons=tuple(reasons),
            candidates=tuple(candidates),
            policy_version=self.policy.version,
            model_version=model_version,
            created_at=now,
            expires_at=now + ttl_ms,
        )

    def _refused_view(
        self, request: AssessRequest, now: int, items: Sequence[Item]
    ) -> AssessmentView:
        """A refusal before any scoring: no points, the items' codes as the reasons."""
        return self._assessment_view(
            request,
            now=now,
            outcome=FirstOutcome.REFUSED,
            score=0.0,
            threshold=self.policy.business(request.business).t1,
            items=items,
            reasons=tuple(i.code for i in items),
        )

    def _refuse_unknown(self, actor: Actor, request: AssessRequest, now: int) -> AssessmentView:
        item = Item("HARD_ID_UNKNOWN", 0.0, {"customer_known": False})
        view = replace(self._refused_view(request, now, (item,)), expires_at=now)
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
                "items": items_json(view.items),
                "reasons": list(view.reasons),
                "policy_version": view.policy_version,
                "now": now,
                "audit_id": new_id("aud"),
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
        *,
        categories: Sequence[str] = (),
        consent_ids: Sequence[str],
        model_read: bool = False,
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
                "items": items_json(view.items),
                "reasons": list(view.reasons),
                "candidates": [c.customer_id for c in view.candidates],
                "candidate_view": json.dumps([c.stored() for c in view.candidates]),
                "policy_version": view.policy_version,
                "model_version": view.model_version,
                "now": view.created_at,
                "expires_at": view.expires_at,
                "audit_id": new_id("aud"),
                "actor": actor.name,
                "owner_key": actor.key_id,
                "categories": list(categories),
                "consent_ids": [*consent_ids, *(f"kiosk:{c}" for c in request.consents)],
                "kiosk_consents": sorted(set(request.consents)),
                "model_reads": [view.customer_id] if model_read else [],
                "face_similarity": request.face_similarity,
                "id_check": request.id_check,
            },
        )
        return view

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
        rules = self.policy.business(business).eligibility
        rows = self._run(q.RELATED_CUSTOMERS, {"id": customer_id, "limit": rules.max_related})
        since = now - rules.history_days * DAY_MS
        registry = ConsentCategory.HOUSEHOLD_REGISTRY in categories
        facts = []
        names: dict[str, str] = {}
        for row in (from_row(RelatedRow, r) for r in rows):
            paths = tuple(
                tie.path()
                for tie in row.tie_rows()
                if registry or tie.source != RelationSource.HOUSEHOLD_REGISTRY
            )
            if not paths:
                continue
            names[row.id] = row.name or ""
            facts.append(
                CandidateFacts(
                    customer_id=row.id,
                    paths=paths,
                    status=row.status or AccountStatus.CLOSED,
                    blacklisted=row.blacklisted,
                    is_self=row.id == customer_id or bool(row.same_person),
                    channels=channels_of(row.phones, row.devices),
                    shared_channels=channels_of(row.shared_phones, row.shared_devices),
                    device_cluster=bool(row.device_cluster),
                    transfer_ring=bool(row.transfer_ring),
                    account_opened_at=row.opened_at,
                    credit_grade=row.credit_grade,
                    graph_risk=row.graph_risk,
                    vouches_given=vouches_of(row.vouches, True, since),
                    vouches_received=vouches_of(row.vouches, False, since),
                )
            )
        ranked = rank_candidates(facts, business, self.policy, now)
        shown = ranked if every else candidates_to_show(ranked, business, self.policy)
        return tuple(candidate_of(c, names[c.facts.customer_id]) for c in shown)

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
                "id": new_id("aud"),
                "now": now,
                "actor": actor.name,
                "action": "READ_CANDIDATES",
                "subject_id": customer_id,
                "categories": [RELATIONSHIPS_READ],
                "consent_ids": consent_ids,
                "reference": ",".join(c.customer_id for c in shown) or None,
            },
        )
        return shown
