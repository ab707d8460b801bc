"""Senders: the signed webhook against a real HTTP server on loopback, the local log, settings.

The gateway is a ``ThreadingHTTPServer`` on a free loopback port, scripted per test (a list of
responses, one per request). Backoff sleeps go to a fake ``sleep`` that records the delays.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from graph.errors import ConfigError
from notify.senders import (
    LOCAL_LOG_WARNING,
    LocalSender,
    OutboxMessage,
    Sender,
    SendResult,
    WebhookSender,
    sender_from_settings,
    sign,
    verify_signature,
)

SECRET = b"test-shared-secret-0123456789abcdef"
TOKEN = "tok_9f8e7d6c5b4a39281706f5e4d3c2b1a0"
LINK = f"https://vouch.bank.example/v/{TOKEN}"
TEXT = "Anna K*** asks you to vouch for her at a kiosk. Open the link to confirm."


def message(**changes: object) -> OutboxMessage:
    now_ms = int(time.time() * 1000)
    values: dict[str, object] = {
        "message_id": "msg-0001",
        "request_id": "req-0001",
        "guarantor_id": "cust-42",
        "channel": "SMS",
        "link": LINK,
        "text": TEXT,
        "expires_at": now_ms + 15 * 60 * 1000,
        "created_at": now_ms,
    }
    values.update(changes)
    return OutboxMessage(**values)  # type: ignore[arg-type]


# --- the scripted gateway ---------------------------------------------------------------------


@dataclass
class Reply:
    """One scripted answer: a status, headers, a body, and an optional stall before it."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"gateway_id": "gw-123"}'
    stall_s: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool


class Gateway:
    """A loopback messaging gateway: answers requests from ``script`` and records them."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.received: list[Received] = []
        self.release = threading.Event()  # ends stalls early at teardown
        self._lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                ok = verify_signature(
                    SECRET,
                    headers.get("x-vouchgraph-timestamp", ""),
                    body,
                    headers.get("x-vouchgraph-signature", ""),
                    now=time.time(),
                )
                with gateway._lock:
                    gateway.received.append(Received(self.path, headers, body, ok))
                    reply = gateway.script.pop(0) if gateway.script else Reply()
                if reply.stall_s:
                    gateway.release.wait(reply.stall_s)
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:
                    pass  # the client gave up (timeout test)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{port}/v1/assisted-auth?tenant=kiosk"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __enter__(self) -> Gateway:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    with Gateway() as gw:
        yield gw


class FakeSleep:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


def webhook(url: str, sleep: FakeSleep, **options: object) -> WebhookSender:
    settings: dict[str, object] = {
        "timeout_s": 2.0,
        "max_attempts": 4,
        "base_delay_s": 0.5,
        "max_delay_s": 20.0,
        "sleep": sleep,
    }
    settings.update(options)
    return WebhookSender(url, SECRET, **settings)  # type: ignore[arg-type]


def assert_no_secrets(result: SendResult) -> None:
    for text in (result.detail, repr(result)):
        assert TOKEN not in text
        assert LINK not in text
        assert TEXT not in text
        assert "Anna" not in text


# --- signatures -------------------------------------------------------------------------------


def test_signed_delivery_is_verified_by_the_gateway(gateway: Gateway, sleep: FakeSleep) -> None:
    msg = message()
    result = webhook(gateway.url, sleep).send(msg)

    assert result == SendResult(True, 1, "DELIVERED", result.detail, "gw-123")
    assert sleep.delays == []
    [req] = gateway.received
    assert req.signature_ok
    assert req.path == "/v1/assisted-auth?tenant=kiosk"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["idempotency-key"] == "msg-0001"
    assert req.headers["x-vouchgraph-signature"].startswith("sha256=")
    assert abs(int(req.headers["x-vouchgraph-timestamp"]) - time.time()) < 5
    assert json.loads(req.body) == {
        "message_id": "msg-0001",
        "request_id": "req-0001",
        "recipient_customer_id": "cust-42",
        "channel": "SMS",
        "link": LINK,
        "text": TEXT,
        "expires_at": msg.expires_at,
    }
    assert_no_secrets(result)


def test_tampered_body_wrong_secret_or_stale_timestamp_fail_verification(
    gateway: Gateway, sleep: FakeSleep
) -> None:
    webhook(gateway.url, sleep).send(message())
    [req] = gateway.received
    ts = req.headers["x-vouchgraph-timestamp"]
    sig = req.headers["x-vouchgraph-signature"]
    now = float(ts)

    assert verify_signature(SECRET, ts, req.body, sig, now)
    tampered = req.body.replace(b"cust-42", b"cust-43")
    assert tampered != req.body
    assert not verify_signature(SECRET, ts, tampered, sig, now)
    assert not verify_signature(b"another-secret", ts, req.body, sig, now)
    assert not verify_signature(SECRET, str(int(ts) + 1), req.body, sig, now)
    assert not verify_signature(SECRET, ts, req.body, sig, now + 301)
    assert not verify_signature(SECRET, ts, req.body, sig, now - 301)
    assert verify_signature(SECRET, ts, req.body, sig, now + 60, tolerance_s=60)
    assert not verify_signature(SECRET, ts, req.body, sig.removeprefix("sha256="), now)
    assert not verify_signature(SECRET, ts, req.body, "sha256=" + "0" * 64, now)
    assert not verify_signature(SECRET, "not-a-number", req.body, sig, now)
    assert not verify_signature(SECRET, ts, req.body, "", now)


def test_sign_matches_the_documented_scheme() -> None:
    expected = hmac.new(SECRET, b"1700000000.{}", hashlib.sha256).hexdigest()
    assert sign(SECRET, "1700000000", b"{}") == f"sha256={expected}"


def test_each_retry_is_re_signed_with_the_same_idempotency_key(
    gateway: Gateway, sleep: FakeSleep
) -> None:
    clock = iter(range(1_700_000_000, 1_700_000_100, 7))
    gateway.script = [Reply(503), Reply(200)]
    sender = webhook(gateway.url, sleep, clock=lambda: float(next(clock)))

    sender.send(message(expires_at=1_800_000_000_000))

    first, second = gateway.received
    assert first.body == second.body
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"] == "msg-0001"
    assert first.headers["x-vouchgraph-timestamp"] != second.headers["x-vouchgraph-timestamp"]
    for req in (first, second):
        ts = req.headers["x-vouchgraph-timestamp"]
        assert verify_signature(
            SECRET, ts, req.body, req.headers["x-vouchgraph-signature"], float(ts)
        )


# --- retries ----------------------------------------------------------------------------------


def test_5xx_is_retried_with_growing_backoff_then_delivered(
    gateway: Gateway, sleep: FakeSleep
) -> None:
    gateway.script = [Reply(503), Reply(500), Reply(502), Reply(200)]

    result = webhook(gateway.url, sleep, max_attempts=5).send(message())

    assert result.delivered and result.status == "DELIVERED"
    assert result.attempts == 4
    assert len(gateway.received) == 4
    assert len(sleep.delays) == 3
    assert sleep.delays == sorted(sleep.delays)
    for retry, delay in enumerate(sleep.delays, start=1):
        cap = 0.5 * 2 ** (retry - 1)
        assert cap / 2 <= delay <= cap
    assert sleep.delays[-1] > sleep.delays[0]


def test_backoff_is_capped_and_jittered(sleep: FakeSleep) -> None:
    low = WebhookSender(
        "http://127.0.0.1:9/", SECRET, base_delay_s=1, max_delay_s=8, jitter=lambda: 0.0
    )
    high = WebhookSender(
        "http://127.0.0.1:9/", SECRET, base_delay_s=1, max_delay_s=8, jitter=lambda: 0.999
    )
    assert [low.backoff(n) for n in range(1, 7)] == [0.5, 1, 2, 4, 4, 4]
    assert [round(high.backoff(n), 2) for n in range(1, 7)] == [1, 2, 4, 8, 8, 8]


def test_5xx_exhausting_attempts_fails(gateway: Gateway, sleep: FakeSleep) -> None:
    gateway.script = [Reply(503, body=LINK.encode())] * 3

    result = webhook(gateway.url, sleep, max_attempts=3).send(message())

    assert result.status == "FAILED" and not result.delivered
    assert result.attempts == 3
    assert len(sleep.delays) == 2  # no sleep after the last attempt
    assert "503" in result.detail
    assert_no_secrets(result)


def test_400_is_rejected_without_retry(gateway: Gateway, sleep: FakeSleep) -> None:
    echo = json.dumps({"error": "bad request", "echo": {"link": LINK, "text": TEXT}}).encode()
    gateway.script = [Reply(400, body=echo), Reply(200)]

    result = webhook(gateway.url, sleep).send(message())

    assert result.status == "REJECTED" and not result.delivered
    assert result.attempts == 1
    assert result.gateway_id is None
    assert len(gateway.received) == 1
    assert sleep.delays == []
    assert "400" in result.detail
    assert_no_secrets(result)


def test_redirect_is_not_followed(gateway: Gateway, sleep: FakeSleep) -> None:
    gateway.script = [Reply(307, headers={"Location": "http://elsewhere.example/"})]

    result = webhook(gateway.url, sleep).send(message())

    assert result.status == "FAILED" and result.attempts == 1
    assert len(gateway.received) == 1


def test_timeout_is_retried_then_fails(gateway: Gateway, sleep: FakeSleep) -> None:
    gateway.script = [Reply(200, stall_s=2.0), Reply(200, stall_s=2.0)]

    started = time.monotonic()
    result = webhook(gateway.url, sleep, timeout_s=0.2, max_attempts=2).send(message())

    assert time.monotonic() - started < 1.5
    assert result.status == "FAILED" and not result.delivered
    assert result.attempts == 2
    assert len(sleep.delays) == 1
    assert "timed out" in result.detail
    assert_no_secrets(result)


def test_429_honours_retry_after(gateway: Gateway, sleep: FakeSleep) -> None:
    gateway.script = [Reply(429, headers={"Retry-After": "7"}), Reply(200)]

    result = webhook(gateway.url, sleep, base_delay_s=0.01).send(message())

    assert result.delivered and result.attempts == 2
    assert sleep.delays == [7.0]


def test_retry_after_is_capped_and_accepts_http_dates(gateway: Gateway, sleep: FakeSleep) -> None:
    in_90s = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 90))
    gateway.script = [
        Reply(429, headers={"Retry-After": "3600"}),
        Reply(429, headers={"Retry-After": in_90s}),
        Reply(429),  # no Retry-After: ordinary backoff
        Reply(200),
    ]

    result = webhook(gateway.url, sleep, base_delay_s=1.0, max_delay_s=10.0).send(message())

    assert result.delivered and result.attempts == 4
    assert sleep.delays[:2] == [10.0, 10.0]
    assert 2.0 <= sleep.delays[2] <= 4.0


def test_connection_refused_fails_after_retries(sleep: FakeSleep) -> None:
    # A bound socket that never listens: connections to its port are refused, and no other
    # process can take the port while the test runs.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        result = webhook(f"http://127.0.0.1:{port}/hook", sleep, max_attempts=3).send(message())

    assert result.status == "FAILED" and not result.delivered
    assert result.attempts == 3
    assert len(sleep.delays) == 2
    assert "refused" in result.detail
    assert_no_secrets(result)


def test_expired_link_is_not_sent(gateway: Gateway, sleep: FakeSleep) -> None:
    result = webhook(gateway.url, sleep).send(message(expires_at=int(time.time() * 1000) - 1))

    assert result.status == "FAILED" and result.attempts == 0
    assert gateway.received == []


def test_retrying_stops_when_the_link_would_expire(gateway: Gateway, sleep: FakeSleep) -> None:
    gateway.script = [Reply(429, headers={"Retry-After": "60"}), Reply(200)]
    expires = int((time.time() + 30) * 1000)

    result = webhook(gateway.url, sleep, max_delay_s=120).send(message(expires_at=expires))

    assert result.status == "FAILED" and result.attempts == 1
    assert sleep.delays == []


def test_unknown_channel_is_rejected_without_a_request(gateway: Gateway, sleep: FakeSleep) -> None:
    result = webhook(gateway.url, sleep).send(message(channel="EMAIL"))

    assert result.status == "REJECTED" and result.attempts == 0
    assert gateway.received == []


# --- secrets stay out of results, reprs and logs ----------------------------------------------


def test_no_token_text_or_secret_in_details_reprs_or_logs(
    gateway: Gateway, sleep: FakeSleep, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="notify.senders")
    echo = LINK.encode() + b" " + TEXT.encode()
    gateway.script = [
        Reply(200, body=echo),
        Reply(503, body=echo),
        Reply(503, body=echo),
        Reply(404, body=echo),
        Reply(200, stall_s=1.0),
        Reply(200, stall_s=1.0),
    ]
    sender = webhook(gateway.url, sleep, max_attempts=2, timeout_s=0.2)

    results = [sender.send(message()) for _ in range(4)]

    assert [r.status for r in results] == ["DELIVERED", "FAILED", "REJECTED", "FAILED"]
    assert results[0].gateway_id is None  # not JSON: no id
    for result in results:
        assert_no_secrets(result)
    logged = caplog.text
    assert logged  # retries and outcomes are logged
    for secret in (TOKEN, TEXT, SECRET.decode()):
        assert secret not in logged
        assert secret not in repr(sender)
    assert TOKEN not in repr(message())
    assert TEXT not in repr(message())


# --- local sender -----------------------------------------------------------------------------


def test_local_sender_appends_a_json_line_with_the_link(tmp_path: Path) -> None:
    path = tmp_path / "data" / "outbox.log"
    sender = LocalSender(path)

    first = sender.send(message())
    second = sender.send(message(message_id="msg-0002", channel="MOBILE_BANKING"))

    assert first.delivered and first.status == "DELIVERED" and first.attempts == 1
    assert second.delivered
    header, *lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(header) == {"request_id": None, "warning": LOCAL_LOG_WARNING}
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert records[0]["link"] == LINK
    assert records[0]["text"] == TEXT
    assert records[0]["message_id"] == "msg-0001"
    assert records[0]["recipient_customer_id"] == "cust-42"
    assert records[1]["channel"] == "MOBILE_BANKING"
    if os.name == "posix":
        assert path.stat().st_mode & 0o077 == 0
    assert_no_secrets(first)


def test_local_sender_lines_stay_whole_across_threads(tmp_path: Path) -> None:
    path = tmp_path / "outbox.log"
    sender = LocalSender(path)
    long_text = "x" * 20_000

    def work(worker: int) -> None:
        for n in range(20):
            sender.send(message(message_id=f"m-{worker}-{n}", text=long_text))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    header, *lines = path.read_text().splitlines()
    assert json.loads(header)["warning"] == LOCAL_LOG_WARNING  # one header, first
    ids = {json.loads(line)["message_id"] for line in lines}
    assert len(ids) == 160 and len(lines) == 160


def test_local_sender_reports_an_unwritable_log(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")

    result = LocalSender(blocker / "outbox.log").send(message())

    assert result.status == "FAILED" and not result.delivered


def test_local_sender_warns_once_that_it_is_for_development(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="notify.senders")
    sender = LocalSender(tmp_path / "outbox.log")
    sender.send(message())
    sender.send(message(message_id="msg-0002"))

    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "development only" in warnings[0].getMessage()
    assert TOKEN not in caplog.text and TEXT not in caplog.text


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_local_sender_tightens_an_existing_log_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "outbox.log"
    path.write_text("")
    path.chmod(0o644)

    sender = LocalSender(path)
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)  # widened again behind the sender's back
    result = sender.send(message())

    assert result.delivered and path.stat().st_mode & 0o777 == 0o600


@pytest.mark.skipif(os.name != "posix", reason="symbolic links and O_NOFOLLOW are POSIX")
def test_local_sender_refuses_a_log_that_is_a_symbolic_link(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.log"
    target.write_text("")
    link = tmp_path / "outbox.log"
    link.symlink_to(target)

    with pytest.raises(ConfigError, match="VOUCHGRAPH_SENDER_LOG"):
        LocalSender(link)
    assert target.read_text() == ""


def test_local_sender_does_not_log_an_expired_link(tmp_path: Path) -> None:
    path = tmp_path / "outbox.log"

    result = LocalSender(path).send(message(expires_at=int(time.time() * 1000) - 1))

    assert result.status == "FAILED" and result.attempts == 0 and not path.exists()


# --- settings ---------------------------------------------------------------------------------


def test_settings_default_to_the_local_sender(tmp_path: Path) -> None:
    sender = sender_from_settings({}, default_log=tmp_path / "outbox.log")
    assert isinstance(sender, LocalSender) and sender.name == "local"
    assert sender.path == tmp_path / "outbox.log"
    assert isinstance(sender, Sender)

    custom = sender_from_settings(
        {"VOUCHGRAPH_SENDER": "local", "VOUCHGRAPH_SENDER_LOG": str(tmp_path / "x.log")}
    )
    assert isinstance(custom, LocalSender) and custom.path == tmp_path / "x.log"


def test_settings_build_a_webhook_sender(gateway: Gateway) -> None:
    env = {
        "VOUCHGRAPH_SENDER": "webhook",
        "VOUCHGRAPH_WEBHOOK_URL": gateway.url,
        "VOUCHGRAPH_WEBHOOK_SECRET": SECRET.decode(),
    }
    sender = sender_from_settings(env)
    assert isinstance(sender, WebhookSender) and sender.name == "webhook"
    assert SECRET.decode() not in repr(sender)
    result = sender.send(message())
    assert result.delivered
    assert gateway.received[0].signature_ok


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"VOUCHGRAPH_SENDER": "carrier-pigeon"}, "VOUCHGRAPH_SENDER"),
        ({"VOUCHGRAPH_SENDER": "local"}, "VOUCHGRAPH_SENDER_LOG"),
        (
            {"VOUCHGRAPH_SENDER": "webhook", "VOUCHGRAPH_WEBHOOK_SECRET": "s3cret-value"},
            "VOUCHGRAPH_WEBHOOK_URL",
        ),
        (
            {"VOUCHGRAPH_SENDER": "webhook", "VOUCHGRAPH_WEBHOOK_URL": "https://gw.bank.example/h"},
            "VOUCHGRAPH_WEBHOOK_SECRET",
        ),
        (
            {
                "VOUCHGRAPH_SENDER": "webhook",
                "VOUCHGRAPH_WEBHOOK_URL": "https://gw.bank.example/h",
                "VOUCHGRAPH_WEBHOOK_SECRET": "",
            },
            "VOUCHGRAPH_WEBHOOK_SECRET",
        ),
        (
            {
                "VOUCHGRAPH_SENDER": "webhook",
                "VOUCHGRAPH_WEBHOOK_URL": "ftp://gw.bank.example/h",
                "VOUCHGRAPH_WEBHOOK_SECRET": "s3cret-value",
            },
            "VOUCHGRAPH_WEBHOOK_URL",
        ),
        (
            {
                "VOUCHGRAPH_SENDER": "webhook",
                "VOUCHGRAPH_WEBHOOK_URL": "https://user:pw@gw.bank.example/h",
                "VOUCHGRAPH_WEBHOOK_SECRET": "s3cret-value",
            },
            "VOUCHGRAPH_WEBHOOK_URL",
        ),
    ],
)
def test_settings_errors_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        sender_from_settings(env)
    message_text = str(info.value)
    assert message_text.startswith(f"{variable}:")
    assert "s3cret-value" not in message_text
    assert "gw.bank.example" not in message_text


def test_webhook_sender_validates_its_arguments() -> None:
    with pytest.raises(ValueError):
        WebhookSender("file:///etc/passwd", SECRET)
    with pytest.raises(ValueError):
        WebhookSender("http://127.0.0.1:9/", b"")
    with pytest.raises(ValueError):
        WebhookSender("http://127.0.0.1:9/", SECRET, max_attempts=0)
