"""Workflow steps that must win once: many simultaneous attempts, exactly one winner, on both
backends (on Neo4j a `WHERE status = ... SET` alone is not atomic: the statements lock the node
before they read the condition)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from graph import queries as q
from graph.store import GraphStore

ATTEMPTS = 24
NOW = 1_700_000_000_000
LATER = NOW + 3_600_000


def _all_at_once(attempt: Callable[[int], list[dict[str, Any]]]) -> list[list[dict[str, Any]]]:
    """Run `attempt(i)` in ATTEMPTS threads released together; their results in order."""
    gate = threading.Barrier(ATTEMPTS)
    results: list[list[dict[str, Any]]] = [[] for _ in range(ATTEMPTS)]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        gate.wait()
        try:
            results[i] = attempt(i)
        except BaseException as exc:  # surfaced below: a lost thread must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    return results


def _assessment(store: GraphStore, guarantors: tuple[str, ...] = ("G1",)) -> None:
    customer = dict(q.UPSERT_CUSTOMERS.params["rows"][0])
    rows = [{**customer, "customer_id": c, "id_number": f"ID{c}"} for c in ("C1", *guarantors)]
    store.run(q.UPSERT_CUSTOMERS, {"rows": rows})
    store.run(q.CREATE_ORPHAN_ASSESSMENT, {**q.CREATE_ORPHAN_ASSESSMENT.params, "id": "A1"})


def _ask(store: GraphStore, n: int, guarantors: list[str]) -> list[dict[str, Any]]:
    """One pick of `guarantors` for assessment A1, at most two per assessment."""
    return store.run(
        q.CREATE_ASSIST_REQUESTS,
        {
            "assessment_id": "A1",
            "now": NOW,
            "max_guarantors": 2,
            "audit_id": f"E-ask-{n}",
            "actor": "kiosk-1",
            "requests": [
                {
                    "id": f"R{n}{g}",
                    "guarantor_id": g,
                    "handle": f"cand_{g}",
                    "channel": "SMS",
                    "token_hash": "h",
                    "expires_at": LATER,
                    "message_id": f"M{n}{g}",
                    "link": "https://kiosk.example/t",
                    "text": "t",
                }
                for g in guarantors
            ],
        },
    )


def _one_request(store: GraphStore) -> None:
    _assessment(store)
    rows = _ask(store, 1, ["G1"])
    assert len(rows) == 1


def test_simultaneous_picks_never_exceed_the_guarantor_limit(store: GraphStore) -> None:
    _assessment(store, ("G1", "G2", "G3"))
    picks = [["G1"], ["G2"], ["G3"], ["G1", "G2"], ["G2", "G3"], ["G1", "G3"]] * 4

    results = _all_at_once(lambda i: _ask(store, i, picks[i % len(picks)]))
    made = store.run(q.GET_ASSESSMENT, {"id": "A1"})[0]["requests"]
    assert 1 <= len(made) <= 2, f"{len(made)} requests for an assessment allowing 2"
    assert len({r["guarantor_id"] for r in made}) == len(made), "a guarantor was asked twice"
    assert sum(len(rows) for rows in results) == len(made)


def test_many_simultaneous_confirmations_of_one_request_have_one_winner(
    store: GraphStore,
) -> None:
    _one_request(store)

    def confirm(i: int) -> list[dict[str, Any]]:
        return store.run(
            q.RESPOND_ASSIST,
            {
                "id": "R1G1",
                "token_hash": "h",
                "guarantor_id": "G1",
                "now": NOW + i,
                "status": "CONFIRMED" if i % 2 else "DECLINED",
                "verification": f'{{"attempt": {i}}}',
                "consent_categories": ["credit"],
                "actor": "mb-1",
                "audit_id": f"E-respond-{i}",
            },
        )

    results = _all_at_once(confirm)
    winners = [i for i, rows in enumerate(results) if rows]
    assert len(winners) == 1, f"{len(winners)} attempts won"
    stored = store.run(q.GET_ASSIST_REQUEST, {"id": "R1G1"})[0]["request"]
    assert stored["verification"] == f'{{"attempt": {winners[0]}}}'
    assert "_lock" not in stored


def test_many_dispatchers_claiming_one_message_have_one_winner(store: GraphStore) -> None:
    _assessment(store)
    _ask(store, 1, ["G1"])

    def claim(i: int) -> list[dict[str, Any]]:
        params = {"id": "M1G1", "worker": f"w{i}", "now": NOW + i, "lease_until": LATER}
        return store.run(q.CLAIM_OUTBOX, params)

    results = _all_at_once(claim)
    winners = [rows[0]["message"]["claimed_by"] for rows in results if rows]
    assert len(winners) == 1, f"{len(winners)} dispatchers claimed the message"
    message = store.run(q.LIST_OUTBOX, {"limit": 10})[0]["message"]
    assert message["status"] == "SENDING" and message["claimed_by"] == winners[0]
