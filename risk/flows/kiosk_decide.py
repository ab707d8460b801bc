"""Flow A steps 7-9: the combined decision, the outcome afterwards, and the reads."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from graph import queries as q
from graph.vocab import (
    DAY_MS,
    AssistStatus,
    ConsentCategory,
    FinalOutcome,
    FirstOutcome,
    ReportedOutcome,
    names,
)
from risk.errors import Conflict, InvalidInput, NotFound
from risk.flows.actor import Actor
from risk.flows.consents import usable_consents
from risk.flows.graph_model import GRAPH_MODEL_READ
from risk.flows.ids import new_id
from risk.flows.kiosk_base import KioskBase
from risk.flows.kiosk_evidence import (
    bound_to_request,
    movement_of,
    vouches_of,
)
from risk.flows.kiosk_views import (
    AssessmentView,
    AssessRequest,
    AssistRequestView,
    DecisionView,
    assessment_view,
    decision_view,
    request_view,
)
from risk.flows.records import (
    AssessmentRecord,
    AssessmentState,
    AssistRequestRecord,
    DecisionRecord,
    from_props,
    items_json,
)
from risk.flows.rows import TieRow, from_row
from risk.scorecard import (
    CustomerEvidence,
    GuarantorEvidence,
    Item,
    final_decision,
    hard_refusals,
)


class DecideSteps(KioskBase):
    """Decide from the applicant's and the confirmed guarantors' scores, fresh."""

    def _guarantor_evidence(
        self, request: AssistRequestRecord, customer_id: str, business: str, now: int
    ) -> tuple[GuarantorEvidence, list[str]]:
        card = self.policy.business(business).guarantor
        since = now - card.vouch_history.window_days * DAY_MS
        categories = set(request.consent_categories or ())
        verification = request.verification_results()
        row = self._evidence_row(request.guarantor_id, categories)
        ties = self._run(
            q.TIES_BETWEEN, {"customer_id": customer_id, "guarantor_id": request.guarantor_id}
        )
        paths = tuple(from_row(TieRow, t).path() for t in ties)
        vouching = ConsentCategory.VOUCHING_HISTORY in categories
        risk, version, why = self._graph_risk(
            lambda scorer: scorer.score_pair(customer_id, request.guarantor_id, now)
        )
        evidence = GuarantorEvidence(
            now=now,
            face_similarity=float(verification["face_similarity"]),
            id_check=verification["id_check"],
            blacklisted=row.blacklisted,
            account_status=row.status,
            id_photo_captured=bool(verification.get("id_photo_captured")),
            relationship=paths,
            movement=movement_of(row, now, recent_account_days=card.movement.recent_account_days),
            vouch_history=vouches_of(row.vouches, False, since) if vouching else None,
            credit_grade=row.credit_grade,
            graph_risk=risk,
            model_version=version,
            graph_evidence=why,
        )
        return evidence, sorted(categories)

    def _hard_now(self, assessment: AssessmentRecord, now: int) -> tuple[Item, ...]:
        """The hard rules (blacklist, account status, ID known to the bank) checked again at
        decision time: the applicant may have been listed or closed since the assessment."""
        try:
            row = self._evidence_row(assessment.customer_id, set())  # no category: facts only
        except NotFound:
            return (Item("HARD_ID_UNKNOWN", 0.0, {"customer_known": False}),)
        evidence = CustomerEvidence(
            now=now,
            face_similarity=float(assessment.face_similarity),
            id_check=assessment.id_check,
            blacklisted=row.blacklisted,
            account_status=row.status,
        )
        # the graph model was heard at assess: here only the rules on the facts count
        hard = hard_refusals(evidence, assessment.business, self.policy)
        return tuple(i for i in hard if not i.code.endswith("NO_MODEL"))

    def decide(self, actor: Actor, assessment_id: str) -> DecisionView:
        """Steps 7-9: combine the applicant's and the confirmed guarantors' scores. An expired
        assessment is refused; the hard rules are checked again now."""
        found = self._assessment(actor, assessment_id)
        if found.decision is not None:
            decided = decision_view(found.decision)
            self._audit(actor, "READ_DECISION", decided.customer_id, decided.id)
            return decided
        assessment = found.assessment
        now = self.now()
        threshold = float(assessment.threshold)
        if assessment.outcome == FirstOutcome.REFUSED:
            view = self._new_decision_view(
                assessment,
                now=now,
                outcome=FinalOutcome.REFUSE,
                score=float(assessment.score),
                threshold=threshold,
                items=assessment.score_items(),
                reasons=assessment.reasons,
            )
            return self._store_decision(actor, assessment, view)
        if assessment.expires_at <= now:
            item = Item("ASSESSMENT_EXPIRED", 0.0, {"expired_at": assessment.expires_at})
            view = self._new_decision_view(
                assessment,
                now=now,
                outcome=FinalOutcome.REFUSE,
                score=0.0,
                threshold=threshold,
                items=(item,),
                reasons=("ASSESSMENT_EXPIRED",),
            )
            return self._store_decision(actor, assessment, view)
        if assessment.outcome == FirstOutcome.PROCEED:
            hard = self._hard_now(assessment, now)
            view = self._new_decision_view(
                assessment,
                now=now,
                outcome=FinalOutcome.REFUSE if hard else FinalOutcome.ALLOW,
                score=float(assessment.score),
                threshold=threshold,
                items=hard or assessment.score_items(),
                reasons=tuple(i.code for i in hard) or assessment.reasons,
            )
            return self._store_decision(actor, assessment, view)
        return self._decide_with_guarantors(actor, found, now)

    def _decide_with_guarantors(
        self, actor: Actor, found: AssessmentState, now: int
    ) -> DecisionView:
        """Step 8: the applicant re-read and every confirmed guarantor scored, then combined."""
        assessment = found.assessment
        pending = [
            r for r in found.requests if r.status == AssistStatus.PENDING and r.expires_at > now
        ]
        if pending:
            raise Conflict("a guarantor has not answered yet")
        confirmed = [
            r for r in found.requests if r.status == AssistStatus.CONFIRMED and bound_to_request(r)
        ]
        # the applicant is re-read now, under the consents given at the kiosk for this request
        # and those on record that still hold now
        consents = self._run(q.CUSTOMER_CONSENTS, {"id": assessment.customer_id})
        categories, consent_ids = usable_consents(
            consents[0]["consents"] if consents else [],
            assessment.kiosk_consents or (),
            now,
        )
        applicant = self._customer_evidence(
            AssessRequest(
                customer_id=assessment.customer_id,
                business=assessment.business,
                kiosk_id=assessment.kiosk_id,
                face_similarity=float(assessment.face_similarity),
                id_check=assessment.id_check,
            ),
            categories,
            now,
        )
        guarantors, reads = [], []
        for request in confirmed:
            evidence, cats = self._guarantor_evidence(
                request, assessment.customer_id, assessment.business, now
            )
            guarantors.append(evidence)
            reads.append(
                {
                    "guarantor_id": request.guarantor_id,
                    "categories": cats,
                    "consent": f"assist:{request.id}",
                }
            )
        decision = final_decision(applicant, guarantors, assessment.business, self.policy)
        items = decision.hard + decision.score.items
        if decision.score is not decision.customer:
            items += decision.customer.items + tuple(
                replace(i, evidence={**i.evidence, "guarantor_id": confirmed[n].guarantor_id})
                for n, g in enumerate(decision.guarantors)
                for i in g.items
            )
        view = self._new_decision_view(
            assessment,
            now=now,
            outcome=str(decision.outcome),
            score=decision.score.total,
            threshold=decision.threshold,
            items=items,
            reasons=decision.reasons,
            confirmed=confirmed,
            model_version=",".join(decision.model_versions) or None,
        )
        model_reads = (
            [assessment.customer_id, *(r.guarantor_id for r in confirmed)]
            if decision.model_versions
            else []
        )
        return self._store_decision(
            actor,
            assessment,
            view,
            categories=sorted(categories) + ([GRAPH_MODEL_READ] if decision.model_versions else []),
            consent_ids=consent_ids,
            guarantor_reads=reads,
            model_reads=model_reads,
        )

    def _new_decision_view(
        self,
        assessment: AssessmentRecord,
        *,
        now: int,
        outcome: str,
        score: float,
        threshold: float,
        items: Sequence[Item],
        reasons: Sequence[str],
        confirmed: Sequence[AssistRequestRecord] = (),
        model_version: str | None = None,
    ) -> DecisionView:
        return DecisionView(
            id=new_id("dec"),
            assessment_id=assessment.id,
            customer_id=assessment.customer_id,
            business=assessment.business,
            outcome=outcome,
            score=score,
            threshold=threshold,
            items=tuple(items),
            reasons=tuple(reasons),
            guarantor_ids=tuple(r.guarantor_id for r in confirmed),
            policy_version=self.policy.version,
            model_version=model_version,
            created_at=now,
            guarantor_handles=tuple(r.handle for r in confirmed),
        )

    def _store_decision(
        self,
        actor: Actor,
        assessment: AssessmentRecord,
        view: DecisionView,
        *,
        categories: Sequence[str] = (),
        consent_ids: Sequence[str] = (),
        guarantor_reads: Sequence[dict[str, Any]] = (),
        model_reads: Sequence[str] = (),
    ) -> DecisionView:
        rows = self._run(
            q.CREATE_DECISION,
            {
                "assessment_id": assessment.id,
                "customer_id": assessment.customer_id,
                "id": view.id,
                "outcome": view.outcome,
                "score": view.score,
                "threshold": view.threshold,
                "items": items_json(view.items),
                "reasons": list(view.reasons),
                "guarantor_ids": list(view.guarantor_ids),
                "guarantor_handles": list(view.guarantor_handles),
                "vouch_ids": list(view.guarantor_ids) if view.outcome == FinalOutcome.ALLOW else [],
                "policy_version": view.policy_version,
                "model_version": view.model_version,
                "now": view.created_at,
                "audit_id": new_id("aud"),
                "actor": actor.name,
                "categories": list(categories),
                "consent_ids": list(consent_ids),
                "guarantor_reads": list(guarantor_reads),
                "model_reads": list(model_reads),
            },
        )
        if not rows:
            raise NotFound(f"assessment {assessment.id!r} not found")
        return decision_view(from_props(DecisionRecord, rows[0]["decision"]))

    def record_outcome(self, actor: Actor, decision_id: str, outcome: str) -> DecisionView:
        """After the business: the outcome joins the guarantors' vouching history, once per
        decision (a second report is a CONFLICT), audited with the reporter."""
        if outcome not in names(ReportedOutcome):
            raise InvalidInput(f"outcome: must be one of {', '.join(names(ReportedOutcome))}")
        decision = self._decision(actor, decision_id)
        if decision.outcome != FinalOutcome.ALLOW:
            raise Conflict("an outcome can only be recorded for an allowed business")
        rows = self._run(
            q.RECORD_OUTCOME,
            {
                "id": decision_id,
                "outcome": outcome,
                "now": self.now(),
                "actor": actor.name,
                "audit_id": new_id("aud"),
            },
        )
        if not rows:
            raise Conflict(f"decision {decision_id!r} already has an outcome")
        return decision_view(from_props(DecisionRecord, rows[0]["decision"]))

    def assessment(
        self, actor: Actor, assessment_id: str
    ) -> tuple[AssessmentView, list[AssistRequestView]]:
        """An assessment with its candidates and requests (audited)."""
        found = self._assessment(actor, assessment_id)
        view = assessment_view(found.assessment)
        self._audit(actor, "READ_ASSESSMENT", view.customer_id, view.id)
        return view, [request_view(r) for r in found.requests]

    def decision(self, actor: Actor, decision_id: str) -> DecisionView:
        """A decision with every item and reason (audited)."""
        view = decision_view(self._decision(actor, decision_id))
        self._audit(actor, "READ_DECISION", view.customer_id, view.id)
        return view
