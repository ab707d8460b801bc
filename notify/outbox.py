"""The outbox dispatcher: delivers queued assisted-authentication messages through a sender.

Requests and their messages are written in one statement (risk.flows.kiosk_assist); delivery
happens here, off the request path, so a slow gateway never slows a kiosk. A message is claimed
(QUEUED -> SENDING) before it is sent, so two API replicas never send it twice; the gateway also
receives the message id as an idempotency key.

The claim is a lease: it holds until ``lease_until`` (claim time + ``lease_ms``), after which a
message still SENDING (its process died mid-send) is claimable again. Sends run on a bounded set
of worker threads, and a sweep claims no more messages than there are idle workers, so a claimed
message starts at once and one slow gateway call holds up only its own worker. Whatever happens
to one message (the sender raises, the row is unusable, the store fails), the dispatcher goes on:
the message is marked FAILED with the exception's class name only, or left for its lease to run
out, and the outcome is reported through ``on_result(channel, status)``.

Message states: QUEUED -> SENDING (claimed_by, claimed_at, lease_until) -> DELIVERED | FAILED |
REJECTED; every final state removes the link (its one-time token) and the text from the store.
"""

from __future__ import annotations

import logging
import queue
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from graph import queries as q
from graph.store import GraphStore
from notify.senders import OutboxMessage, Sender, redact

log = logging.getLogger(__name__)

_MAX_DETAIL = 500
_LEASE_MARGIN_S = 60.0


class OutboxDispatcher:
    """Sends queued messages; `notify()` wakes it, and it also sweeps every `interval_s`.

    ``lease_ms`` must stay above the sender's worst case for one message (the webhook sender's
    retries and backoff included), or a slow send may be reclaimed and sent again (the gateway's
    idempotency key then drops the copy); by default it is the sender's ``worst_case_s`` (where
    it has one) plus a minute, and at least a minute. ``workers`` bounds the sends in flight;
    ``stop()`` waits at most ``stop_timeout_s`` for them.
    """

    def __init__(
        self,
        store: GraphStore,
        sender: Sender,
        *,
        clock: Callable[[], float] = time.time,
        interval_s: float = 1.0,
        on_result: Callable[[str, str], None] | None = None,
        lease_ms: int | None = None,
        workers: int = 4,
        stop_timeout_s: float = 10.0,
    ) -> None:
        if lease_ms is None:
            worst_s = float(getattr(sender, "worst_case_s", 0.0) or 0.0)
            lease_ms = int((worst_s + _LEASE_MARGIN_S) * 1000)
        if lease_ms <= 0:
            raise ValueError("lease_ms must be positive")
        if workers < 1:
            raise ValueError("workers must be at least 1")
        self.store, self.sender, self.clock = store, sender, clock
        self.interval_s, self.on_result = interval_s, on_result
        self.lease_ms, self.workers, self.stop_timeout_s = int(lease_ms), workers, stop_timeout_s
        self.worker = "w_" + secrets.token_hex(4)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._busy = 0  # messages handed to the workers and not finished
        self._busy_lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Mapping[str, Any] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pool: list[threading.Thread] = []

    # --- one message ---------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock() * 1000)

    def _claim(self, message_id: str) -> Mapping[str, Any] | None:
        """Claim one message (compare-and-set); None when another dispatcher holds it."""
        now = self._now()
        rows = self.store.run(
            q.CLAIM_OUTBOX,
            {
                "id": message_id,
                "worker": self.worker,
                "now": now,
                "lease_until": now + self.lease_ms,
            },
        )
        return rows[0]["message"] if rows else None

    def _expire(self, message_id: str) -> None:
        """Finish a message whose link expired before it could be sent (nothing is sent)."""
        rows = self.store.run(q.EXPIRE_OUTBOX, {"id": message_id, "now": self._now()})
        if rows:
            self._report(str(rows[0].get("channel") or "UNKNOWN"), "FAILED")

    def _deliver(self, claimed: Mapping[str, Any]) -> str:
        """Send one claimed message and record the outcome; never raises. Returns the status."""
        channel = str(claimed.get("channel") or "UNKNOWN")
        try:
            message = OutboxMessage(
                message_id=claimed["id"],
                request_id=claimed["request_id"],
                guarantor_id=claimed["guarantor_id"],
                channel=claimed["channel"],
                link=claimed["link"],
                text=claimed["text"],
                expires_at=int(claimed["expires_at"]),
                created_at=int(claimed["created_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            return self._finish(claimed, channel, "FAILED", 0, f"unusable message ({_kind(exc)})")
        if self._now() >= message.expires_at:
            return self._finish(claimed, channel, "FAILED", 0, "link expired before delivery")
        try:
            result = self.sender.send(message)
            status, attempts = str(result.status), int(result.attempts)
            detail = redact(str(result.detail), message)[:_MAX_DETAIL]
        except Exception as exc:  # a sender bug must not stop the dispatcher
            log.warning("outbox message %r: the sender raised %s", claimed.get("id"), _kind(exc))
            status, attempts, detail = "FAILED", 1, f"sender raised {_kind(exc)}"
        return self._finish(claimed, channel, status, attempts, detail)

    def _finish(
        self, claimed: Mapping[str, Any], channel: str, status: str, attempts: int, detail: str
    ) -> str:
        """Record a message's outcome (only while this claim still holds it); report it."""
        try:
            rows = self.store.run(
                q.MARK_OUTBOX,
                {
                    "id": claimed["id"],
                    "worker": claimed["claimed_by"],
                    "claimed_at": claimed["claimed_at"],
                    "status": status,
                    "attempts": attempts,
                    "detail": detail,
                    "now": self._now(),
                },
            )
        except Exception as exc:  # the store failed: the lease runs out and it is sent again
            log.warning(
                "outbox message %r: %s not recorded (%s); reclaimed after its lease",
                claimed.get("id"),
                status,
                _kind(exc),
            )
            status = "ERROR"
        else:
            if not rows:
                log.warning("outbox message %r: lease lost before %s", claimed.get("id"), status)
                status = "LEASE_LOST"
        self._report(channel, status)
        return status

    def _report(self, channel: str, status: str) -> None:
        if self.on_result is None:
            return
        try:
            self.on_result(channel, status)
        except Exception as exc:  # a metrics hook must not stop the dispatcher either
            log.warning("outbox on_result hook raised %s", _kind(exc))

    # --- sweeps ----------------------------------------------------------------------------

    def dispatch_once(self, limit: int = 100) -> int:
        """Send what is due now, one after the other in the calling thread (the CLI's `send`).

        Returns how many messages this call handled (sent, failed or expired).
        """
        handled = 0
        for row in self.store.run(q.QUEUED_OUTBOX, {"now": self._now(), "limit": limit}):
            if row["expires_at"] is not None and row["expires_at"] <= self._now():
                self._expire(row["id"])
                handled += 1
                continue
            claimed = self._claim(row["id"])
            if claimed is not None:
                self._deliver(claimed)
                handled += 1
        return handled

    def sweep(self) -> int:
        """Claim as many due messages as there are idle workers and hand them over at once.

        Does not wait for any send; returns how many messages it handed to the workers.
        """
        free = self.workers - self._busy
        if free <= 0:
            return 0
        handed = 0
        rows = self.store.run(q.QUEUED_OUTBOX, {"now": self._now(), "limit": free * 4})
        for row in rows:
            if self._stop.is_set():
                break
            if row["expires_at"] is not None and row["expires_at"] <= self._now():
                self._expire(row["id"])
                continue
            if not self._reserve():
                break  # every worker is busy: the rest waits for the next sweep
            try:
                claimed = self._claim(row["id"])
            except BaseException:
                self._release()
                raise
            if claimed is None:
                self._release()  # another dispatcher has it
                continue
            self._jobs.put(claimed)
            handed += 1
        return handed

    def _reserve(self) -> bool:
        with self._busy_lock:
            if self._busy >= self.workers:
                return False
            self._busy += 1
            return True

    def _release(self) -> None:
        with self._busy_lock:
            self._busy -= 1

    # --- threads ---------------------------------------------------------------------------

    def notify(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.sweep()
            except Exception as exc:  # the store is down, or a bad row: try on the next sweep
                log.warning("outbox sweep failed: %s", _kind(exc))
                self._report("UNKNOWN", "ERROR")

    def _work(self, jobs: queue.SimpleQueue[Mapping[str, Any] | None]) -> None:
        while True:
            claimed = jobs.get()
            if claimed is None:
                return
            try:
                self._deliver(claimed)
            except Exception as exc:  # pragma: no cover - _deliver does not raise
                log.warning("outbox worker: %s", _kind(exc))
            finally:
                self._release()
                self._wake.set()  # a worker is free: claim the next message now

    def start(self) -> None:
        """Start the sweeping thread and the worker threads (again after a `stop()`)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._jobs = queue.SimpleQueue()
        self._pool = [
            threading.Thread(
                target=self._work, args=(self._jobs,), name=f"outbox-send-{n}", daemon=True
            )
            for n in range(self.workers)
        ]
        for thread in self._pool:
            thread.start()
        self._thread = threading.Thread(target=self._loop, name="outbox", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop sweeping and join every thread, waiting at most `stop_timeout_s` in all.

        A send still running then is left to finish on its daemon thread; had it not, its
        message would be reclaimed once its lease ran out.
        """
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + self.stop_timeout_s
        if self._thread is not None:
            self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
            self._thread = None
        for _ in self._pool:
            self._jobs.put(None)
        for thread in self._pool:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        running = sum(thread.is_alive() for thread in self._pool)
        if running:
            log.warning("outbox: %d send(s) still running at stop", running)
        self._pool = []


def _kind(exc: BaseException) -> str:
    """An exception's class name: never its message, which may carry a link or personal data."""
    return type(exc).__name__
