"""The outbox dispatcher: delivers queued assisted-authentication messages through a sender.

Requests and their messages are written in one statement (risk.flow); delivery happens here,
off the request path, so a slow gateway never slows a kiosk. A message is claimed (QUEUED ->
SENDING) before it is sent, so two API replicas never send it twice; the gateway also receives
the message id as an idempotency key.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable

from graph import queries as q
from graph.errors import StoreError
from graph.store import GraphStore
from risk.senders import OutboxMessage, Sender

log = logging.getLogger(__name__)


class OutboxDispatcher:
    """Sends queued messages; `notify()` wakes it, and it also sweeps every `interval_s`."""

    def __init__(
        self,
        store: GraphStore,
        sender: Sender,
        *,
        clock: Callable[[], float] = time.time,
        interval_s: float = 1.0,
        on_result: Callable[[str, str], None] | None = None,
    ) -> None:
        self.store, self.sender, self.clock = store, sender, clock
        self.interval_s, self.on_result = interval_s, on_result
        self.worker = "w_" + secrets.token_hex(4)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def dispatch_once(self, limit: int = 100) -> int:
        """Send what is queued now; returns how many messages were handled."""
        now = int(self.clock() * 1000)
        handled = 0
        for row in self.store.run(q.QUEUED_OUTBOX, {"now": now, "limit": limit}):
            claimed = self.store.run(
                q.CLAIM_OUTBOX, {"id": row["message"]["id"], "worker": self.worker, "now": now}
            )
            if not claimed:
                continue  # another dispatcher has it
            m = claimed[0]["message"]
            message = OutboxMessage(
                message_id=m["id"],
                request_id=m["request_id"],
                guarantor_id=m["guarantor_id"],
                channel=m["channel"],
                link=m["link"],
                text=m["text"],
                expires_at=m["expires_at"],
                created_at=m["created_at"],
            )
            result = self.sender.send(message)
            self.store.run(
                q.MARK_OUTBOX,
                {
                    "id": m["id"],
                    "status": result.status,
                    "attempts": result.attempts,
                    "detail": result.detail,
                    "now": int(self.clock() * 1000),
                    # only the development log sender keeps the link (and its token) readable
                    "keep_link": self.sender.name == "local",
                },
            )
            if self.on_result is not None:
                self.on_result(m["channel"], result.status)
            handled += 1
        return handled

    def notify(self) -> None:
        self._wake.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                self.dispatch_once()
            except StoreError as exc:  # the store is down: try again on the next sweep
                log.warning("outbox dispatch failed: %s", type(exc).__name__)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="outbox", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
