"""Evidence from the store's rows: the scorecards' inputs, built the same way for everyone."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from graph.vocab import DAY_MS, DAYS_PER_YEAR, AccountStatus, Channel, FirstOutcome, VouchOutcome
from risk.flows.records import AssistRequestRecord
from risk.flows.rows import PersonRow
from risk.scorecard import Decision, Movement, VouchRecord

log = logging.getLogger(__name__)


def age_years(birth_date: int | None, now: int) -> int | None:
    return None if birth_date is None else int((now - birth_date) // (DAYS_PER_YEAR * DAY_MS))


def movement_of(row: PersonRow, now: int, *, recent_account_days: int) -> Movement | None:
    """The account movement of a person's evidence row; None when it was not read (no consent
    to transactions) or is not known. An account opened within `recent_account_days` counts
    among the accounts opened in the period."""
    if row.movement_as_of is None:
        return None
    status, opened_at = row.status, row.opened_at
    recent_open = opened_at is not None and now - opened_at < recent_account_days * DAY_MS
    return Movement(
        out_total=float(row.out_total or 0.0),
        out_count=int(row.out_count or 0),
        counterparties=int(row.counterparties or 0),
        max_single_out=float(row.max_out or 0.0),
        accounts_opened=1 if recent_open else 0,
        accounts_closed=1 if status == AccountStatus.CLOSED else 0,
        dormant_then_active=status == AccountStatus.DORMANT and int(row.out_count_30d or 0) > 0,
    )


def vouches_of(rows: Iterable[dict[str, Any]], given: bool, since: int) -> tuple[VouchRecord, ...]:
    out = []
    for row in rows:
        vouch = row.get("vouch")
        if vouch is None or bool(row.get("given")) != given or (vouch.get("ts") or 0) < since:
            continue
        out.append(
            VouchRecord(
                vouch.get("business") or "",
                int(vouch["ts"]),
                vouch.get("outcome") or VouchOutcome.PENDING,
                vouch.get("outcome_ts"),
            )
        )
    return tuple(out)


def bound_to_request(request: AssistRequestRecord) -> bool:
    """Whether a confirmation's verification results belong to this request: its id, its
    guarantor and its channel, as written when the guarantor answered."""
    verification = request.verification_results()
    bound = (
        verification.get("request_id") == request.id
        and verification.get("guarantor_id") == request.guarantor_id
        and verification.get("channel") == request.channel
    )
    if not bound:
        log.warning("a confirmation not bound to its request was ignored")
    return bound


def channels_of(phones: int | None, devices: int | None) -> frozenset[str]:
    """The channels that reach someone: SMS with a phone, MOBILE_BANKING with a device."""
    return frozenset(
        name for name, count in ((Channel.SMS, phones), (Channel.MOBILE_BANKING, devices)) if count
    )


def no_candidates(decision: Decision) -> Decision:
    return replace(
        decision,
        outcome=FirstOutcome.REFUSED,
        reasons=("NO_ELIGIBLE_GUARANTOR", *decision.reasons[1:]),
    )
