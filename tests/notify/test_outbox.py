"""The outbox dispatcher against a real store (both backends): leases, concurrent dispatchers,
senders that raise or stall, and a link (its one-time token) that never outlives its message.

Messages are written with the flow's own statement (CREATE_ASSIST_REQUESTS) for an assessment
and customers created with the project's queries; senders are small recording fakes, the store
is never faked.
"""

from __future__ import annotations

import json
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from graph import queries as q
from graph.store import GraphStore
from notify.outbox import OutboxDispatcher
from notify.senders import LOCAL_LOG_WARNING, LocalSender, OutboxMessage, SendResult

TOKEN = "tok_5b4a39281706f5e4d3c2b1a09f8e7d6c"
MINUTE = 60_000


def now_ms() -> int:
    return int(time.time() * 1000)


def link_of(message_id: str) -> str:
    return f"https://mobile.bank.example/assist/{message_id}?token={TOKEN}{message_id}"


def queue_messages(
    store: GraphStore,
    ids: list[str],
    *,
    expires_at: int | None = None,
    now: int | None = None,
    text: str | None = "Someone asks you to vouch for them.",
) -> None:
    """One assessment, one guarantor per message, and their requests and outbox messages."""
    now = now_ms() if now is None else now
    expires_at = now + 10 * MINUTE if expires_at is None else expires_at
    customer = dict(q.UPSERT_CUSTOMERS.params["rows"][0])
    customers = ["C1", *(f"G_{m}" for m in ids)]
    store.run(
        q.UPSERT_CUSTOMERS,
        {"rows": [{**customer, "customer_id": c, "id_number": f"ID{c}"} for c in customers]},
    )
    assessment = f"A_{ids[0]}"
    store.run(
        q.CREATE_ORPHAN_ASSESSMENT,
        {**q.CREATE_ORPHAN_ASSESSMENT.params, "id": assessment, "audit_id": f"EA_{assessment}"},
    )
    example = dict(q.CREATE_ASSIST_REQUESTS.params["requests"][0])
    requests = [
        {
            **example,
            "id": f"R_{m}",
            "guarantor_id": f"G_{m}",
            "channel": "SMS",
            "token_hash": f"hash-{m}",
            "expires_at": expires_at,
            "message_id": m,
            "link": link_of(m),
            "text": text,
        }
        for m in ids
    ]
    params = {
        **q.CREATE_ASSIST_REQUESTS.params,
        "assessment_id": assessment,
        "now": now,
        "requests": requests,
    }
    if "max_guarantors" in params:  # the flow's cap on guarantors per assessment
        params |= {"max_guarantors": len(ids), "audit_id": f"E_{assessment}"}
    created = store.run(q.CREATE_ASSIST_REQUESTS, params)
    assert len(created) == len(ids)


def listed(store: GraphStore) -> dict[str, dict[str, Any]]:
    return {r["message"]["id"]: r["message"] for r in store.run(q.LIST_OUTBOX, {"limit": 1000})}


def stored_messages(store: GraphStore) -> dict[str, dict[str, Any]]:
    """Every property of every stored outbox message, as the store holds it."""
    rows = store.run(q.ALL_NODES)
    return {r["props"]["id"]: r["props"] for r in rows if "OutboxMessage" in r["labels"]}


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


class Recording:
    """A sender that records what it was given; `behaviour` may raise or block per message."""

    name = "recording"

    def __init__(self, behaviour: Callable[[OutboxMessage], None] | None = None) -> None:
        self.sent: list[str] = []
        self.links: list[str] = []
        self._lock = threading.Lock()
        self._behaviour = behaviour

    def send(self, message: OutboxMessage) -> SendResult:
        if self._behaviour is not None:
            self._behaviour(message)
        with self._lock:
            self.sent.append(message.message_id)
            self.links.append(message.link)
        return SendResult(True, 1, "DELIVERED", "recorded")


@pytest.fixture
def running() -> Iterator[list[OutboxDispatcher]]:
    """Dispatchers a test starts; stopped (threads joined) whatever the test's outcome."""
    started: list[OutboxDispatcher] = []
    yield started
    for dispatcher in started:
        dispatcher.stop()


@pytest.fixture
def release(running: list[OutboxDispatcher]) -> Iterator[threading.Event]:
    """What a stalled sender waits for; set before the dispatchers stop, even on failure."""
    event = threading.Event()
    yield event
    event.set()


def start(running: list[OutboxDispatcher], dispatcher: OutboxDispatcher) -> OutboxDispatcher:
    running.append(dispatcher)
    dispatcher.start()
    dispatcher.notify()
    return dispatcher


def claim_as_dead_process(store: GraphStore, message_id: str, lease_until: int) -> None:
    """What a dispatcher that died mid-send leaves behind: SENDING under its lease."""
    now = now_ms()
    rows = store.run(
        q.CLAIM_OUTBOX,
        {"id": message_id, "worker": "w_dead", "now": now, "lease_until": lease_until},
    )
    assert rows and rows[0]["message"]["status"] == "SENDING"


# --- leases -------------------------------------------------------------------------------------


def test_a_message_left_sending_with_an_expired_lease_is_reclaimed_and_delivered_once(
    store: GraphStore,
) -> None:
    queue_messages(store, ["M1"])
    claim_as_dead_process(store, "M1", lease_until=now_ms() - 1)
    sender = Recording()
    dispatcher = OutboxDispatcher(store, sender)

    assert dispatcher.dispatch_once() == 1
    assert dispatcher.dispatch_once() == 0

    assert sender.sent == ["M1"] and sender.links == [link_of("M1")]
    message = listed(store)["M1"]
    assert message["status"] == "DELIVERED" and message["claimed_by"] == dispatcher.worker
    assert message["claims"] == 2 and message["lease_until"] is None


def test_a_message_with_a_live_lease_is_not_reclaimed(store: GraphStore) -> None:
    queue_messages(store, ["M1"])
    claim_as_dead_process(store, "M1", lease_until=now_ms() + MINUTE)
    sender = Recording()

    assert OutboxDispatcher(store, sender).dispatch_once() == 0

    assert sender.sent == []
    message = listed(store)["M1"]
    assert message["status"] == "SENDING" and message["claimed_by"] == "w_dead"


def test_a_claim_holds_a_lease_of_lease_ms(store: GraphStore) -> None:
    queue_messages(store, ["M1"])
    seen: list[dict[str, Any]] = []
    sender = Recording(lambda m: seen.append(listed(store)[m.message_id]))

    OutboxDispatcher(store, sender, lease_ms=45_000).dispatch_once()

    assert seen[0]["status"] == "SENDING"
    assert seen[0]["lease_until"] - seen[0]["claimed_at"] == 45_000


def test_an_outcome_from_a_lost_lease_is_not_recorded(store: GraphStore) -> None:
    queue_messages(store, ["M1"])
    results: list[tuple[str, str]] = []

    def reclaimed_meanwhile(message: OutboxMessage) -> None:
        time.sleep(0.01)  # the 1 ms lease has run out: another dispatcher takes the message
        assert OutboxDispatcher(store, Recording()).dispatch_once() == 1

    slow = OutboxDispatcher(
        store, Recording(reclaimed_meanwhile), lease_ms=1, on_result=lambda *r: results.append(r)
    )
    slow.dispatch_once()

    assert results == [("SMS", "LEASE_LOST")]
    message = listed(store)["M1"]
    assert message["status"] == "DELIVERED" and message["claimed_by"] != slow.worker


def test_an_expired_link_is_not_sent(store: GraphStore) -> None:
    now = now_ms()
    queue_messages(store, ["M1"], now=now - 20 * MINUTE, expires_at=now - MINUTE)
    sender = Recording()
    results: list[tuple[str, str]] = []

    OutboxDispatcher(store, sender, on_result=lambda *r: results.append(r)).dispatch_once()

    assert sender.sent == []
    message = listed(store)["M1"]
    assert message["status"] == "FAILED" and message["attempts"] == 0
    assert message["detail"] == "link expired before delivery"
    assert "link" not in stored_messages(store)["M1"]
    assert results == [("SMS", "FAILED")]


# --- concurrency --------------------------------------------------------------------------------


def test_two_dispatchers_over_one_store_never_send_a_message_twice(
    store: GraphStore, running: list[OutboxDispatcher]
) -> None:
    ids = [f"M{n:02d}" for n in range(24)]
    queue_messages(store, ids)
    sender = Recording(lambda m: time.sleep(0.01))
    for _ in range(2):
        start(running, OutboxDispatcher(store, sender, interval_s=0.02, workers=3))

    wait_for(lambda: len(sender.sent) >= len(ids))
    time.sleep(0.2)  # room for a duplicate to show up

    assert sorted(sender.sent) == ids
    assert {m["status"] for m in listed(store).values()} == {"DELIVERED"}
    assert len({m["claimed_by"] for m in listed(store).values()}) == 2  # both took part


def test_a_sender_that_raises_does_not_stop_the_dispatcher(
    store: GraphStore, running: list[OutboxDispatcher]
) -> None:
    queue_messages(store, ["M1"])

    def explode(message: OutboxMessage) -> None:
        if message.message_id == "M1":
            raise RuntimeError(f"gateway bug while sending {message.link}")

    sender = Recording(explode)
    results: list[tuple[str, str]] = []
    dispatcher = start(
        running,
        OutboxDispatcher(store, sender, interval_s=0.02, on_result=lambda *r: results.append(r)),
    )
    wait_for(lambda: listed(store)["M1"]["status"] == "FAILED")
    queue_messages(store, ["M2"])
    dispatcher.notify()
    wait_for(lambda: sender.sent == ["M2"])

    failed = listed(store)["M1"]
    assert failed["detail"] == "sender raised RuntimeError" and failed["attempts"] == 1
    assert "link" not in stored_messages(store)["M1"]
    wait_for(lambda: ("SMS", "DELIVERED") in results)
    assert ("SMS", "FAILED") in results


def test_an_unusable_message_is_marked_failed_and_the_next_is_still_sent(
    store: GraphStore, running: list[OutboxDispatcher]
) -> None:
    queue_messages(store, ["M1"], text=None)  # stored without a text: no message can be built
    sender = Recording()
    dispatcher = start(running, OutboxDispatcher(store, sender, interval_s=0.02))
    wait_for(lambda: listed(store)["M1"]["status"] == "FAILED")
    queue_messages(store, ["M2"])
    dispatcher.notify()

    wait_for(lambda: sender.sent == ["M2"])
    failed = listed(store)["M1"]
    assert failed["detail"] == "unusable message (KeyError)" and failed["attempts"] == 0
    assert "link" not in stored_messages(store)["M1"]


def test_a_slow_gateway_does_not_delay_another_message(
    store: GraphStore, running: list[OutboxDispatcher], release: threading.Event
) -> None:
    def stall(message: OutboxMessage) -> None:
        if message.message_id == "M1":
            assert release.wait(timeout=60)

    queue_messages(store, ["M1"])
    sender = Recording(stall)
    dispatcher = start(running, OutboxDispatcher(store, sender, interval_s=0.02))
    wait_for(lambda: listed(store)["M1"]["status"] == "SENDING")
    queue_messages(store, ["M2"])
    dispatcher.notify()

    wait_for(lambda: sender.sent == ["M2"], timeout_s=10)
    assert listed(store)["M1"]["status"] == "SENDING"
    release.set()
    wait_for(lambda: listed(store)["M1"]["status"] == "DELIVERED")


def test_nothing_is_claimed_beyond_the_idle_workers(
    store: GraphStore, running: list[OutboxDispatcher], release: threading.Event
) -> None:
    queue_messages(store, ["M1"])
    sender = Recording(lambda m: release.wait(timeout=60) and None)
    dispatcher = start(running, OutboxDispatcher(store, sender, interval_s=0.02, workers=1))
    wait_for(lambda: listed(store)["M1"]["status"] == "SENDING")
    queue_messages(store, ["M2"])
    dispatcher.notify()
    time.sleep(0.3)

    assert listed(store)["M2"]["status"] == "QUEUED"  # no worker could start it: not claimed
    release.set()
    wait_for(lambda: {m["status"] for m in listed(store).values()} == {"DELIVERED"})


def test_stop_joins_every_thread(store: GraphStore) -> None:
    queue_messages(store, ["M1"])
    sender = Recording()
    dispatcher = OutboxDispatcher(store, sender, interval_s=0.02, workers=3)
    before = set(threading.enumerate())
    dispatcher.start()
    dispatcher.notify()
    wait_for(lambda: sender.sent == ["M1"])

    dispatcher.stop()

    assert not set(threading.enumerate()) - before


# --- the link and its token -------------------------------------------------------------------


def test_after_delivery_the_stored_message_has_no_link(store: GraphStore) -> None:
    queue_messages(store, ["M1"])
    assert stored_messages(store)["M1"]["link"] == link_of("M1")  # queued: the sender needs it

    OutboxDispatcher(store, Recording()).dispatch_once()

    stored = stored_messages(store)["M1"]
    assert stored["status"] == "DELIVERED"
    assert "link" not in stored and "text" not in stored
    assert TOKEN not in json.dumps(stored)


def test_list_outbox_rows_carry_no_link(store: GraphStore) -> None:
    queue_messages(store, ["M1", "M2"])

    rows = store.run(q.LIST_OUTBOX, {"limit": 10})

    assert len(rows) == 2
    for row in rows:
        assert "link" not in row["message"] and "text" not in row["message"]
        assert TOKEN not in json.dumps(row) and row["message"]["status"] == "QUEUED"


def test_the_local_sender_log_is_owner_only_with_a_development_header(
    store: GraphStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queue_messages(store, ["M1"])
    path = tmp_path / "outbox.log"
    with caplog.at_level("WARNING", logger="notify.senders"):
        sender = LocalSender(path)
    assert "development only" in caplog.text and TOKEN not in caplog.text

    OutboxDispatcher(store, sender).dispatch_once()

    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    header, line = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(header) == {"request_id": None, "warning": LOCAL_LOG_WARNING}
    assert "DEVELOPMENT" in header and "production" in header
    assert json.loads(line)["link"] == link_of("M1")
    assert "link" not in stored_messages(store)["M1"]  # the local sender no longer keeps it
