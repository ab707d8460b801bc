"""Flow A steps 5-6: ask the picked guarantors, and take their answers from mobile banking."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Sequence

from graph import queries as q
from graph.vocab import MS_PER_S, AssistStatus, Channel, FirstOutcome, IdCheck, names
from risk.eligibility import mask_name
from risk.errors import Conflict, InvalidInput, NotFound, RequestRejected
from risk.flows.actor import Actor
from risk.flows.ids import TOKEN_BYTES, new_id
from risk.flows.kiosk_base import KioskBase
from risk.flows.kiosk_views import (
    AssistDetails,
    AssistRequestView,
    Candidate,
    Verification,
    request_view,
)
from risk.flows.records import AssistRequestRecord, AssistRequestState, from_props


def token_hash(token: str) -> str:
    """The stored form of a one-time token (256-bit random: a plain SHA-256 suffices)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class AssistSteps(KioskBase):
    """Requests to guarantors through the outbox, and the guarantor's side of them."""

    def request_assist(
        self, actor: Actor, assessment_id: str, handles: Sequence[str], channel: str | None
    ) -> list[AssistRequestView]:
        """Step 5-6: one request per picked candidate (by the handle the assessment gave),
        queued in the outbox, all or none; only on a channel the candidate does not share with
        the applicant."""
        if channel is not None and channel not in names(Channel):
            raise InvalidInput(f"channel: must be one of {', '.join(names(Channel))}")
        if not handles or len(set(handles)) != len(handles):
            raise InvalidInput("guarantors: give one or more distinct candidate handles")
        found = self._assessment(actor, assessment_id)
        assessment = found.assessment
        now = self.now()
        if assessment.outcome != FirstOutcome.NEEDS_GUARANTOR:
            raise Conflict(f"assessment {assessment_id!r} does not need a guarantor")
        if found.decision is not None:
            raise Conflict(f"assessment {assessment_id!r} is already decided")
        if assessment.expires_at <= now:
            raise Conflict(f"assessment {assessment_id!r} has expired")
        offered = {c["handle"]: Candidate.from_stored(c) for c in assessment.offered()}
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
        asked = {r.guarantor_id for r in found.requests if r.status != AssistStatus.EXPIRED}
        if any(c.customer_id in asked for c, _ in picked):
            raise Conflict("guarantors: a picked candidate was already asked")
        rules = self.policy.business(assessment.business).assist
        if len(asked) + len(picked) > rules.max_guarantors:
            raise InvalidInput(f"guarantors: at most {rules.max_guarantors} guarantors")
        expires_at = min(now + rules.request_ttl_seconds * MS_PER_S, assessment.expires_at)
        requests, views = [], []
        for candidate, via in picked:
            token = secrets.token_urlsafe(TOKEN_BYTES)
            request_id = new_id("req")
            requests.append(
                {
                    "id": request_id,
                    "guarantor_id": candidate.customer_id,
                    "handle": candidate.handle,
                    "channel": via,
                    "token_hash": token_hash(token),
                    "expires_at": expires_at,
                    "message_id": new_id("msg"),
                    "link": f"{self.assist_link}/{request_id}?token={token}",
                    "text": rules.message,
                }
            )
            views.append(
                AssistRequestView(
                    id=request_id,
                    assessment_id=assessment_id,
                    guarantor_id=candidate.customer_id,
                    handle=candidate.handle,
                    channel=via,
                    status=AssistStatus.PENDING,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
        created = self._run(
            q.CREATE_ASSIST_REQUESTS,
            {
                "assessment_id": assessment_id,
                "now": now,
                "requests": requests,
                "max_guarantors": rules.max_guarantors,
                "audit_id": new_id("aud"),
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
        request = found.request
        now = self.now()
        if request.status != AssistStatus.PENDING:
            raise RequestRejected(f"request already {request.status.lower()}")
        if request.expires_at <= now:
            self._run(q.EXPIRE_ASSIST, {"id": request_id, "now": now})
            raise RequestRejected("request expired")
        status, detail, categories = AssistStatus.DECLINED, "{}", []
        if accept:
            categories = self._checked_verification(verification, found.business)
            assert verification is not None
            status = AssistStatus.CONFIRMED
            detail = json.dumps(
                {
                    "face_similarity": verification.face_similarity,
                    "id_check": verification.id_check,
                    "id_photo_captured": verification.id_photo_captured,
                    # what the results are bound to: checked again by `decide`
                    "request_id": request_id,
                    "guarantor_id": request.guarantor_id,
                    "channel": request.channel,
                    "expires_at": request.expires_at,
                    "responder": actor.name,
                }
            )
        updated = self._run(
            q.RESPOND_ASSIST,
            {
                "id": request_id,
                "token_hash": request.token_hash,
                "guarantor_id": guarantor_id,
                "now": now,
                "status": status,
                "verification": detail,
                "consent_categories": categories,
                "actor": actor.name,
                "audit_id": new_id("aud"),
            },
        )
        if not updated:  # another replica answered first, or it expired meanwhile
            raise RequestRejected("request is no longer pending")
        return request_view(from_props(AssistRequestRecord, updated[0]["request"]))

    def _opened(
        self, actor: Actor, request_id: str, guarantor_id: str, token: str
    ) -> AssistRequestState:
        """The request, once the token and the signed-in guarantor match it; a mismatch counts
        towards locking it."""
        rows = self._run(q.GET_ASSIST_REQUEST, {"id": request_id})
        if not rows:
            raise NotFound(f"assist request {request_id!r} not found")
        found = AssistRequestState.from_row(rows[0])
        if found.request.status == AssistStatus.LOCKED:
            raise RequestRejected("request locked after too many failed attempts")
        token_ok = hmac.compare_digest(found.request.token_hash, token_hash(token))
        if not token_ok or found.request.guarantor_id != guarantor_id:
            business = self.policy.business(found.business)
            self._token_failed(actor, request_id, business.assist.max_token_failures)
        return found

    def assist_details(
        self, actor: Actor, request_id: str, guarantor_id: str, token: str
    ) -> AssistDetails:
        """What a guarantor is asked to confirm, for the mobile-banking screen (audited: the
        applicant's masked name is read)."""
        found = self._opened(actor, request_id, guarantor_id, token)
        offered = json.loads(found.candidate_view)
        relationship = next(
            (c["relationship"] for c in offered if c["customer_id"] == guarantor_id),
            "related customer",
        )
        self._audit(actor, "READ_ASSIST_REQUEST", found.applicant_id, request_id)
        return AssistDetails(
            request_id=request_id,
            business=found.business,
            applicant_display_name=mask_name(found.applicant_name),
            relationship=relationship,
            channel=found.request.channel,
            status=found.request.status,
            expires_at=found.request.expires_at,
        )

    def _token_failed(self, actor: Actor, request_id: str, limit: int) -> None:
        now = self.now()
        rows = self._run(
            q.FAIL_ASSIST_TOKEN,
            {
                "id": request_id,
                "max_failures": limit,
                "audit_id": new_id("aud"),
                "actor": actor.name,
                "now": now,
            },
        )
        if rows and rows[0]["status"] == AssistStatus.LOCKED:
            raise RequestRejected("token: does not match; the request is now locked")
        raise RequestRejected("token: does not match this request")

    def _checked_verification(self, verification: Verification | None, business: str) -> list[str]:
        """The categories a confirmation allows to read: every category the guarantor's
        scorecard needs must be consented (they are required, not chosen)."""
        if verification is None:
            raise InvalidInput("verification: required to confirm")
        if not 0.0 <= verification.face_similarity <= 1.0:
            raise InvalidInput("verification.faceSimilarity: must be between 0 and 1")
        if verification.id_check not in names(IdCheck):
            raise InvalidInput(f"verification.idCheck: must be one of {', '.join(names(IdCheck))}")
        required = self.policy.business(business).assist.guarantor_required_consents
        lacking = [c for c in required if c not in verification.consents]
        if lacking:
            raise InvalidInput(f"verification.consents: must include {', '.join(lacking)}")
        return sorted(set(verification.consents))
