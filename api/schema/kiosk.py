"""Flow A, the kiosk: assessments, candidate guarantors, assisted authentication, decisions.

Types are what a caller may see (`full` for analysts and admins, masked for kiosk keys);
resolvers check the role and call `risk.flows.kiosk` through the context, nothing more.
"""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context, allow
from api.schema.enums import (
    AssessmentOutcome,
    Business,
    Channel,
    ConsentCategory,
    DecisionOutcome,
    IdCheck,
    Outcome,
)
from api.schema.scores import Score, score_items
from graph.vocab import Role
from risk.disclosure import kiosk_reasons
from risk.flows.kiosk_views import (
    AssessmentView,
    AssessRequest,
    AssistRequestView,
    Candidate,
    DecisionView,
    Verification,
)


@strawberry.type(description="How a candidate is related to the applicant (one tie).")
class RelationshipPath:
    type: str
    kind: str
    source: str
    direction: str


@strawberry.type(description="A related customer who may vouch; what a kiosk screen may show.")
class GuarantorCandidate:
    handle: strawberry.ID = strawberry.field(
        description="Opaque, valid within its assessment: what requestAssistedAuth takes."
    )
    customer_id: strawberry.ID | None = strawberry.field(
        description="Analysts and admins only; null for kiosk keys."
    )
    display_name: str
    relationship: str
    eligible: bool
    reasons: list[str]
    channels: list[Channel] = strawberry.field(
        description="Channels a request may use: never one the applicant shares."
    )
    paths: list[RelationshipPath]


@strawberry.type
class AssistRequest:
    id: strawberry.ID
    assessment_id: strawberry.ID
    guarantor_id: strawberry.ID | None = strawberry.field(
        description="Analysts, admins and the mobile-banking backend; null for kiosk keys."
    )
    candidate: strawberry.ID = strawberry.field(description="The candidate's handle.")
    channel: Channel
    status: str
    created_at: float
    expires_at: float
    responded_at: float | None


@strawberry.type(description="What a guarantor is asked to confirm (mobile-banking screen).")
class AssistRequestDetails:
    id: strawberry.ID
    business: Business
    applicant_display_name: str = strawberry.field(description="Masked, e.g. W*** F***.")
    relationship: str = strawberry.field(
        description="What the guarantor is to the applicant in the bank's records, e.g. parent."
    )
    channel: Channel
    status: str
    expires_at: float


@strawberry.type
class Assessment:
    id: strawberry.ID
    customer_id: strawberry.ID
    business: Business
    outcome: AssessmentOutcome
    score: Score
    reasons: list[str]
    candidates: list[GuarantorCandidate]
    policy_version: str
    model_version: str | None
    created_at: float
    expires_at: float
    requests: list[AssistRequest]


@strawberry.type
class Decision:
    id: strawberry.ID
    assessment_id: strawberry.ID
    customer_id: strawberry.ID
    business: str
    outcome: DecisionOutcome
    score: Score
    reasons: list[str]
    guarantor_ids: list[strawberry.ID] | None = strawberry.field(
        description="Analysts and admins only; null for kiosk keys (see guarantors)."
    )
    guarantors: list[strawberry.ID] = strawberry.field(
        description="The confirmed guarantors' candidate handles."
    )
    policy_version: str
    model_version: str | None
    created_at: float
    reported_outcome: str | None


@strawberry.input
class AssessInput:
    customer_id: strawberry.ID
    business: Business
    kiosk_id: str
    face_similarity: float
    id_check: IdCheck
    consents: list[ConsentCategory] = strawberry.field(default_factory=list)


@strawberry.input(
    description="What the guarantor's phone checked, as the mobile-banking backend reports it."
)
class GuarantorVerificationInput:
    face_similarity: float
    id_check: IdCheck
    id_photo_captured: bool
    consents: list[ConsentCategory]


def _candidate(c: Candidate, full: bool) -> GuarantorCandidate:
    return GuarantorCandidate(
        handle=strawberry.ID(c.handle),
        customer_id=strawberry.ID(c.customer_id) if full else None,
        display_name=c.display_name,
        relationship=c.relationship,
        eligible=c.eligible,
        reasons=list(c.reasons),
        channels=[Channel(x) for x in c.channels],
        paths=[
            RelationshipPath(type=p.rel_type, kind=p.kind, source=p.source, direction=p.direction)
            for p in c.paths
        ],
    )


def _request(r: AssistRequestView, full: bool) -> AssistRequest:
    return AssistRequest(
        id=strawberry.ID(r.id),
        assessment_id=strawberry.ID(r.assessment_id),
        guarantor_id=strawberry.ID(r.guarantor_id) if full else None,
        candidate=strawberry.ID(r.handle),
        channel=Channel(r.channel),
        status=r.status,
        created_at=r.created_at,
        expires_at=r.expires_at,
        responded_at=r.responded_at,
    )


def assessment_type(
    a: AssessmentView, requests: list[AssistRequestView] | None = None, full: bool = False
) -> Assessment:
    """An assessment as the caller may see it: `full` for analysts and admins."""
    return Assessment(
        id=strawberry.ID(a.id),
        customer_id=strawberry.ID(a.customer_id),
        business=Business(a.business),
        outcome=AssessmentOutcome(a.outcome),
        score=Score(total=a.score, threshold=a.threshold, items=score_items(a.items, full)),
        reasons=list(a.reasons if full else kiosk_reasons(a.reasons)),
        candidates=[_candidate(c, full) for c in a.candidates],
        policy_version=a.policy_version,
        model_version=a.model_version,
        created_at=a.created_at,
        expires_at=a.expires_at,
        requests=[_request(r, full) for r in requests or []],
    )


def decision_type(d: DecisionView, full: bool = False) -> Decision:
    """A decision as the caller may see it: a kiosk gets no guarantor's id, items or grade."""
    return Decision(
        id=strawberry.ID(d.id),
        assessment_id=strawberry.ID(d.assessment_id),
        customer_id=strawberry.ID(d.customer_id),
        business=d.business,
        outcome=DecisionOutcome(d.outcome),
        score=Score(total=d.score, threshold=d.threshold, items=score_items(d.items, full)),
        reasons=list(d.reasons if full else kiosk_reasons(d.reasons)),
        guarantor_ids=[strawberry.ID(g) for g in d.guarantor_ids] if full else None,
        guarantors=[strawberry.ID(h) for h in d.guarantor_handles],
        policy_version=d.policy_version,
        model_version=d.model_version,
        created_at=d.created_at,
        reported_outcome=d.reported_outcome,
    )


KIOSK = (Role.KIOSK, Role.ADMIN)
READERS = (Role.KIOSK, Role.ANALYST, Role.ADMIN)
ANALYSTS = (Role.ANALYST, Role.ADMIN)
GUARANTOR_CHANNEL = (Role.MOBILE_BANKING,)
# The deciding kiosk backend reports how its own business ended; analysts correct and label.
REPORTERS = (Role.KIOSK, Role.ANALYST, Role.ADMIN)


@strawberry.type
class KioskQuery:
    @strawberry.field(
        description="Step 4 for analysts: candidate guarantors of a customer, best first."
    )
    async def candidate_guarantors(
        self,
        info: Info[Context, None],
        customer_id: strawberry.ID,
        business: Business,
        first: int | None = None,
    ) -> list[GuarantorCandidate]:
        ctx = allow(info, ANALYSTS)
        found = await ctx.call(
            ctx.flow.candidates, ctx.actor, str(customer_id), business.value, first
        )
        return [_candidate(c, True) for c in found]

    @strawberry.field(description="An assessment: kiosk keys see only their own.")
    async def assessment(self, info: Info[Context, None], id: strawberry.ID) -> Assessment:
        ctx = allow(info, READERS)
        view, requests = await ctx.call(ctx.flow.assessment, ctx.actor, str(id))
        return assessment_type(view, requests, ctx.sees_all)

    @strawberry.field(description="A decision: kiosk keys see only their own.")
    async def decision(self, info: Info[Context, None], id: strawberry.ID) -> Decision:
        ctx = allow(info, READERS)
        return decision_type(await ctx.call(ctx.flow.decision, ctx.actor, str(id)), ctx.sees_all)

    @strawberry.field(
        description="For the mobile-banking backend: what the signed-in guarantor is asked to "
        "confirm (the link's token and the guarantor must match the request)."
    )
    async def assist_request(
        self,
        info: Info[Context, None],
        request_id: strawberry.ID,
        guarantor_id: strawberry.ID,
        token: str,
    ) -> AssistRequestDetails:
        ctx = allow(info, GUARANTOR_CHANNEL)
        d = await ctx.call(
            ctx.flow.assist_details, ctx.actor, str(request_id), str(guarantor_id), token
        )
        return AssistRequestDetails(
            id=strawberry.ID(d.request_id),
            business=Business(d.business),
            applicant_display_name=d.applicant_display_name,
            relationship=d.relationship,
            channel=Channel(d.channel),
            status=d.status,
            expires_at=d.expires_at,
        )


@strawberry.type
class KioskMutation:
    @strawberry.mutation(description="Steps 1-4: assess a kiosk request (fails closed).")
    async def assess(self, info: Info[Context, None], input: AssessInput) -> Assessment:
        ctx = allow(info, KIOSK)
        request = AssessRequest(
            customer_id=str(input.customer_id),
            business=input.business.value,
            kiosk_id=input.kiosk_id,
            face_similarity=input.face_similarity,
            id_check=input.id_check.value,
            consents=tuple(c.value for c in input.consents),
        )
        return assessment_type(await ctx.assess(request), full=ctx.sees_all)

    @strawberry.mutation(
        description="Steps 5-6: ask the picked candidates (by handle) to confirm; the channel "
        "defaults to each candidate's first offered one."
    )
    async def request_assisted_auth(
        self,
        info: Info[Context, None],
        assessment_id: strawberry.ID,
        guarantors: list[strawberry.ID],
        channel: Channel | None = None,
    ) -> list[AssistRequest]:
        ctx = allow(info, KIOSK)
        views = await ctx.call(
            ctx.flow.request_assist,
            ctx.actor,
            str(assessment_id),
            [str(g) for g in guarantors],
            channel.value if channel else None,
        )
        return [_request(v, ctx.sees_all) for v in views]

    @strawberry.mutation(
        description="The guarantor's answer, sent by the mobile-banking backend for the "
        "guarantor it has signed in, with the phone-side verification (mobile_banking role)."
    )
    async def respond_assisted_auth(
        self,
        info: Info[Context, None],
        request_id: strawberry.ID,
        guarantor_id: strawberry.ID,
        token: str,
        accept: bool,
        verification: GuarantorVerificationInput | None = None,
    ) -> AssistRequest:
        ctx = allow(info, GUARANTOR_CHANNEL)
        checked = None
        if verification is not None:
            checked = Verification(
                face_similarity=verification.face_similarity,
                id_check=verification.id_check.value,
                id_photo_captured=verification.id_photo_captured,
                consents=tuple(c.value for c in verification.consents),
            )
        view = await ctx.call(
            ctx.flow.respond_assist,
            ctx.actor,
            str(request_id),
            str(guarantor_id),
            token,
            accept,
            checked,
        )
        return _request(view, True)

    @strawberry.mutation(description="Steps 7-9: the combined-score decision (fails closed).")
    async def decide(self, info: Info[Context, None], assessment_id: strawberry.ID) -> Decision:
        ctx = allow(info, KIOSK)
        return decision_type(await ctx.decide(str(assessment_id)), ctx.sees_all)

    @strawberry.mutation(
        description="Record how an allowed business ended (a training label), once per "
        "decision: the deciding kiosk backend, or an analyst."
    )
    async def record_outcome(
        self, info: Info[Context, None], decision_id: strawberry.ID, outcome: Outcome
    ) -> Decision:
        ctx = allow(info, REPORTERS)
        view = await ctx.call(ctx.flow.record_outcome, ctx.actor, str(decision_id), outcome.value)
        return decision_type(view, ctx.sees_all)
