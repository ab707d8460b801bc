"""Delivery of assisted-authentication requests: outbox messages to guarantors, by SMS or push.

The outbox lives in the graph store; a worker takes :class:`OutboxMessage` objects from it and
hands each to a :class:`Sender`, which returns a :class:`SendResult` (it never raises for a
delivery problem). Two senders:

- :class:`WebhookSender` POSTs a signed JSON body to the bank's messaging gateway, which sends the
  SMS or the mobile-banking push. The body is signed with HMAC-SHA256 over
  ``"<timestamp>.<raw body>"`` (headers ``X-VouchGraph-Timestamp`` and
  ``X-VouchGraph-Signature: sha256=<hex>``); the gateway checks it with :func:`verify_signature`.
  ``Idempotency-Key`` is the message id, so a retry after a lost response is not sent twice.
  Connection errors, timeouts, 429 and 5xx are retried with exponential backoff and jitter
  (``Retry-After`` honoured, capped at ``max_delay_s``); any other 4xx is ``REJECTED`` at once.
- :class:`LocalSender`, for development only, appends one JSON line per message (link included)
  to a log file readable by its owner only, after a first line that says so.

:func:`sender_from_settings` picks one from the environment:

- ``VOUCHGRAPH_SENDER``: ``local`` (default) or ``webhook``.
- ``VOUCHGRAPH_SENDER_LOG``: the local sender's log file (default: ``default_log``, normally
  ``<data dir>/outbox.log``).
- ``VOUCHGRAPH_WEBHOOK_URL``: the gateway's ``http://`` or ``https://`` URL (webhook only).
- ``VOUCHGRAPH_WEBHOOK_SECRET``: the shared HMAC secret (webhook only).

Neither the link (it carries a one-time token), the message text, the webhook secret nor the
gateway's response body appear in a result's ``detail``, in a ``repr`` or in log records.
"""

from __future__ import annotations

import email.utils
import errno
import hashlib
import hmac
import http.client
import json
import logging
import os
import random
import ssl
import stat
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import parse_qsl, urlsplit

from graph.errors import ConfigError
from graph.vocab import Channel, names

try:  # POSIX only; on other systems O_APPEND alone keeps each line whole.
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CHANNELS",
    "LOCAL_LOG_WARNING",
    "LocalSender",
    "OutboxMessage",
    "SendResult",
    "Sender",
    "WebhookSender",
    "redact",
    "sender_from_settings",
    "sign",
    "verify_signature",
]

log = logging.getLogger(__name__)

CHANNELS = names(Channel)

_SIGNATURE_PREFIX = "sha256="
_MAX_RESPONSE_BYTES = 64 * 1024
_USER_AGENT = "VouchGraph-Sender/1"


@dataclass(frozen=True)
class OutboxMessage:
    """One assisted-authentication request to deliver to a guarantor (``repr`` hides the link)."""

    message_id: str
    request_id: str
    guarantor_id: str
    channel: str
    link: str = field(repr=False)
    text: str = field(repr=False)
    expires_at: int
    created_at: int

    def delivery(self) -> dict[str, object]:
        """What a sender hands on: every field but the creation time (link and text included)."""
        return {
            "message_id": self.message_id,
            "request_id": self.request_id,
            "recipient_customer_id": self.guarantor_id,
            "channel": self.channel,
            "link": self.link,
            "text": self.text,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True)
class SendResult:
    """The outcome of one delivery: ``DELIVERED``, ``FAILED`` or ``REJECTED``.

    ``REJECTED`` is permanent (the gateway answered a 4xx other than 429, or the message cannot
    be sent as it is); ``FAILED`` means retries ran out, the link expired (``attempts`` 0 when
    nothing was sent) or the gateway answered something unusable such as a redirect.
    ``detail`` never holds the link, its token or the text.
    """

    delivered: bool
    attempts: int
    status: str
    detail: str
    gateway_id: str | None = None


@runtime_checkable
class Sender(Protocol):
    """Something that delivers outbox messages; ``send`` reports problems in its result."""

    name: str

    def send(self, message: OutboxMessage) -> SendResult: ...


# --- signatures -------------------------------------------------------------------------------


def _secret_bytes(secret: bytes | str) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """Compute the ``X-VouchGraph-Signature`` header value for a timestamp and a raw body."""
    mac = hmac.new(_secret_bytes(secret), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return _SIGNATURE_PREFIX + mac.hexdigest()


def verify_signature(
    secret: bytes,
    timestamp: str,
    body: bytes,
    signature_header: str,
    now: float,
    tolerance_s: int = 300,
) -> bool:
    """Check a webhook's signature (constant-time) and that its timestamp is within tolerance.

    ``timestamp`` is the ``X-VouchGraph-Timestamp`` header (unix seconds), ``body`` the raw
    request body, ``signature_header`` the ``X-VouchGraph-Signature`` header and ``now`` the
    receiver's clock (unix seconds). A timestamp more than ``tolerance_s`` in the past or the
    future, a malformed header or a wrong signature all give ``False``.
    """
    if not secret or not isinstance(timestamp, str) or not isinstance(signature_header, str):
        return False
    ts = timestamp.strip()
    if not ts.isascii() or not ts.isdigit() or len(ts) > 12:
        return False
    if abs(now - int(ts)) > tolerance_s:
        return False
    if not signature_header.startswith(_SIGNATURE_PREFIX):
        return False
    expected = sign(secret, ts, body)
    return hmac.compare_digest(expected.encode("ascii"), signature_header.strip().encode("utf-8"))


# --- helpers ----------------------------------------------------------------------------------


def redact(detail: str, message: OutboxMessage) -> str:
    """Remove the link, its query values (the token) and the text from a detail string."""
    secrets = [message.link, message.text]
    try:
        secrets.extend(v for _, v in parse_qsl(urlsplit(message.link).query) if len(v) >= 6)
        secrets.extend(p for p in urlsplit(message.link).path.split("/") if len(p) >= 16)
    except ValueError:
        pass
    for value in sorted((s for s in secrets if s), key=len, reverse=True):
        detail = detail.replace(value, "[redacted]")
    return detail


def _validate_url(url: str) -> None:
    """Raise ``ValueError`` (without echoing the URL) unless it is a usable http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("malformed URL") from None
    if any(c.isspace() or not c.isprintable() for c in url):
        raise ValueError("the URL contains spaces or control characters")
    if parts.scheme not in ("http", "https"):
        raise ValueError("expected an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in the URL are not supported")
    if port == 0:
        raise ValueError("the URL has no valid port")


def _header_safe(value: str) -> bool:
    """Whether a value can go into an HTTP header as is (non-empty printable ASCII)."""
    return bool(value) and len(value) <= 200 and value.isascii() and value.isprintable()


def _parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), else ``None``."""
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


# --- webhook ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Attempt:
    """What one HTTP attempt came to (internal)."""

    retryable: bool
    detail: str
    status: int | None = None
    retry_after: float | None = None
    gateway_id: str | None = None


class WebhookSender:
    """Delivers messages by a signed JSON POST to the bank's messaging gateway, with retries.

    ``sleep``, ``clock`` (unix seconds) and ``jitter`` (a float in [0, 1)) are injectable so
    tests run fast and deterministically. Uses the standard library's ``http.client``: no
    proxies from the environment and no redirects (a redirect is a ``FAILED`` delivery, so the
    signed body and its link are never replayed to another address).
    """

    name = "webhook"

    def __init__(
        self,
        url: str,
        secret: bytes | str,
        *,
        timeout_s: float = 10.0,
        max_attempts: int = 5,
        base_delay_s: float = 0.5,
        max_delay_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        jitter: Callable[[], float] = random.random,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        _validate_url(url)
        key = _secret_bytes(secret)
        if not key:
            raise ValueError("the webhook secret is empty")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if base_delay_s < 0 or max_delay_s < base_delay_s:
            raise ValueError("expected 0 <= base_delay_s <= max_delay_s")
        parts = urlsplit(url)
        self._scheme = parts.scheme
        self._host = parts.hostname or ""
        self._port = parts.port
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._secret = key
        self.timeout_s = float(timeout_s)
        self.max_attempts = int(max_attempts)
        self.base_delay_s = float(base_delay_s)
        self.max_delay_s = float(max_delay_s)
        self._sleep = sleep
        self._clock = clock
        self._jitter = jitter
        self._ssl_context = (
            (ssl_context or ssl.create_default_context()) if parts.scheme == "https" else None
        )

    def __repr__(self) -> str:
        port = f":{self._port}" if self._port else ""
        return (
            f"WebhookSender(url='{self._scheme}://{self._host}{port}/…', secret=***, "
            f"max_attempts={self.max_attempts}, timeout_s={self.timeout_s})"
        )

    @property
    def worst_case_s(self) -> float:
        """The longest one ``send`` takes when every attempt times out after the longest wait
        (what an outbox lease must outlast)."""
        return self.max_attempts * self.timeout_s + (self.max_attempts - 1) * self.max_delay_s

    # The body and headers are public helpers so a gateway stub can reproduce them.
    @staticmethod
    def body(message: OutboxMessage) -> bytes:
        """The exact JSON body POSTed for a message."""
        return json.dumps(message.delivery(), separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8"
        )

    def headers(self, message: OutboxMessage, body: bytes) -> dict[str, str]:
        """Headers for one attempt, signed with a fresh timestamp."""
        timestamp = str(int(self._clock()))
        return {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": _USER_AGENT,
            "X-VouchGraph-Timestamp": timestamp,
            "X-VouchGraph-Signature": sign(self._secret, timestamp, body),
            "Idempotency-Key": message.message_id,
        }

    def backoff(self, retry: int) -> float:
        """Delay before retry number ``retry`` (1-based): exponential, capped, "equal jitter".

        The delay lies in ``[cap / 2, cap]`` with ``cap = min(max_delay_s, base * 2**(retry-1))``,
        so successive delays never shrink and concurrent senders do not retry in lockstep.
        """
        cap = min(self.max_delay_s, self.base_delay_s * 2.0 ** (retry - 1))
        return cap / 2 + cap / 2 * min(max(self._jitter(), 0.0), 1.0)

    def send(self, message: OutboxMessage) -> SendResult:
        """Deliver one message; returns its result (never raises for a delivery problem)."""
        if message.channel not in CHANNELS:
            return self._result(message, "REJECTED", 0, "unknown channel (not attempted)")
        if not _header_safe(message.message_id):
            return self._result(message, "REJECTED", 0, "message_id unusable as a header")
        if self._clock() * 1000 >= message.expires_at:
            return self._result(message, "FAILED", 0, "link expired before delivery")
        body = self.body(message)
        attempts = 0
        while True:
            attempts += 1
            outcome = self._attempt(message, body)
            if outcome.status is not None and 200 <= outcome.status < 300:
                return self._result(
                    message, "DELIVERED", attempts, outcome.detail, outcome.gateway_id
                )
            if not outcome.retryable:
                status = (
                    "REJECTED"
                    if outcome.status is not None and 400 <= outcome.status < 500
                    else "FAILED"
                )
                return self._result(message, status, attempts, outcome.detail)
            if attempts >= self.max_attempts:
                return self._result(
                    message,
                    "FAILED",
                    attempts,
                    f"gave up after {attempts} attempts: {outcome.detail}",
                )
            if outcome.retry_after is not None:
                delay = min(self.max_delay_s, max(0.0, outcome.retry_after))
            else:
                delay = self.backoff(attempts)
            if (self._clock() + delay) * 1000 >= message.expires_at:
                return self._result(
                    message,
                    "FAILED",
                    attempts,
                    f"link expires before the next attempt; stopped after {attempts} "
                    f"attempt(s): {outcome.detail}",
                )
            log.warning(
                "message %r: attempt %d/%d failed (%s); retrying in %.2fs",
                message.message_id,
                attempts,
                self.max_attempts,
                redact(outcome.detail, message),
                delay,
            )
            self._sleep(delay)

    def _result(
        self,
        message: OutboxMessage,
        status: str,
        attempts: int,
        detail: str,
        gateway_id: str | None = None,
    ) -> SendResult:
        detail = redact(detail, message)
        level = logging.INFO if status == "DELIVERED" else logging.WARNING
        log.log(
            level,
            "message %r: %s after %d attempt(s): %s",
            message.message_id,
            status,
            attempts,
            detail,
        )
        return SendResult(
            delivered=status == "DELIVERED",
            attempts=attempts,
            status=status,
            detail=detail,
            gateway_id=gateway_id,
        )

    def _connection(self) -> http.client.HTTPConnection:
        if self._scheme == "https":
            return http.client.HTTPSConnection(
                self._host,
                self._port,
                timeout=self.timeout_s,
                context=self._ssl_context,
            )
        return http.client.HTTPConnection(self._host, self._port, timeout=self.timeout_s)

    def _attempt(self, message: OutboxMessage, body: bytes) -> _Attempt:
        """One POST; classifies the outcome. Details name only status codes and error kinds."""
        conn = self._connection()
        try:
            conn.request("POST", self._path, body=body, headers=self.headers(message, body))
            response = conn.getresponse()
            status = response.status
            retry_after_header = response.getheader("Retry-After")
            raw = response.read(_MAX_RESPONSE_BYTES)
        except ssl.SSLCertVerificationError:
            return _Attempt(retryable=False, detail="TLS certificate verification failed")
        except TimeoutError:
            return _Attempt(retryable=True, detail=f"timed out after {self.timeout_s:g}s")
        except ConnectionRefusedError:
            return _Attempt(retryable=True, detail="connection refused")
        except (OSError, http.client.HTTPException) as exc:
            return _Attempt(retryable=True, detail=f"connection error ({type(exc).__name__})")
        finally:
            conn.close()

        if 200 <= status < 300:
            return _Attempt(
                retryable=False,
                status=status,
                detail=f"HTTP {status}",
                gateway_id=_gateway_id(raw),
            )
        retry_after = _parse_retry_after(retry_after_header, self._clock())
        if status == 429 or status >= 500:
            return _Attempt(
                retryable=True,
                status=status,
                detail=f"HTTP {status}",
                retry_after=retry_after if status in (429, 503) else None,
            )
        if 300 <= status < 400:
            return _Attempt(retryable=False, status=status, detail=f"HTTP {status} (redirect)")
        return _Attempt(retryable=False, status=status, detail=f"HTTP {status}")


def _gateway_id(raw: bytes) -> str | None:
    """The gateway's own message id from a JSON response (``gateway_id`` or ``id``), if any."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    for key in ("gateway_id", "id"):
        value = data.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)[:200]
    return None


# --- local ------------------------------------------------------------------------------------

LOCAL_LOG_WARNING = (
    "VouchGraph DEVELOPMENT outbox log: it holds live one-time links (tokens); "
    "the local sender must not be used in production."
)
# The first line of the log, JSON like every other line (readers skip it: no request id).
_LOG_HEADER = (json.dumps({"request_id": None, "warning": LOCAL_LOG_WARNING}) + "\n").encode()


class LocalSender:
    """For development only: appends one JSON line per message (link included) to a log file.

    The log holds live one-time links, so it is created with mode 0600 (a wider existing file
    is tightened, or refused when it cannot be), its first line is a JSON header saying what it
    is, and constructing the sender logs a warning. Each line is written with a single
    ``write`` on a file opened in append mode, under an exclusive ``flock`` where available, so
    lines from threads and processes never interleave.
    """

    name = "local"

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._tighten_existing()
        log.warning(
            "the local outbox sender is for development only: %s holds live one-time links; "
            "set VOUCHGRAPH_SENDER=webhook in production",
            self.path,
        )

    def __repr__(self) -> str:
        return f"LocalSender(path={str(self.path)!r})"

    def _tighten_existing(self) -> None:
        """Make an existing log owner-only now; ``ConfigError`` when that cannot be done."""
        try:
            fd = os.open(self.path, os.O_RDONLY | _NO_FOLLOW_NO_BLOCK)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise ConfigError(
                    "VOUCHGRAPH_SENDER_LOG: refused: the outbox log is a symbolic link"
                ) from None
            return  # absent, or unreachable: each send reports what stands in its way
        try:
            problem = _owner_only(fd)
        finally:
            os.close(fd)
        if problem is not None:
            raise ConfigError(f"VOUCHGRAPH_SENDER_LOG: {problem}")

    def send(self, message: OutboxMessage) -> SendResult:
        """Append the message to the log file; ``DELIVERED`` unless the file cannot be written."""
        if self._clock() * 1000 >= message.expires_at:
            return SendResult(False, 0, "FAILED", "link expired before delivery", None)
        record = {
            "logged_at": int(self._clock() * 1000),
            **message.delivery(),
            "created_at": message.created_at,
        }
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._lock:
                fd = os.open(self.path, _LOG_FLAGS, 0o600)
                try:
                    if fcntl is not None:
                        fcntl.flock(fd, fcntl.LOCK_EX)
                    problem = _owner_only(fd)
                    if problem is not None:
                        return SendResult(False, 0, "FAILED", problem, None)
                    if os.fstat(fd).st_size == 0:
                        _write_all(fd, _LOG_HEADER)
                    _write_all(fd, line)
                finally:
                    os.close(fd)  # also releases the flock
        except OSError as exc:
            detail = f"cannot write the outbox log: {exc.strerror or type(exc).__name__}"
            return SendResult(False, 1, "FAILED", detail, None)
        return SendResult(True, 1, "DELIVERED", "written to the local outbox log", None)


# a symbolic link in place of the log is refused rather than followed, and a FIFO never blocks
# a send (where the OS can)
_NO_FOLLOW_NO_BLOCK = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
_LOG_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | _NO_FOLLOW_NO_BLOCK


def _owner_only(fd: int) -> str | None:
    """Make an open log file owner-only; a reason to refuse it when that cannot be done."""
    if os.name != "posix":  # pragma: no cover
        return None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        return "refused: the outbox log is not a regular file"
    if info.st_mode & 0o077:
        try:
            os.fchmod(fd, 0o600)
        except OSError:
            return (
                f"refused: the outbox log is readable by others (mode "
                f"{stat.S_IMODE(info.st_mode):o}) and cannot be made owner-only"
            )
    return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


# --- settings ---------------------------------------------------------------------------------


def sender_from_settings(env: Mapping[str, str], default_log: Path | None = None) -> Sender:
    """Build the sender the environment asks for (see the module docstring for the variables).

    Raises :class:`graph.errors.ConfigError` naming the missing or malformed variable (never
    echoing the secret or the URL).
    """

    def get(key: str) -> str | None:
        value = env.get(key)
        return value if value else None

    kind = (get("VOUCHGRAPH_SENDER") or "local").strip().lower()
    if kind == "local":
        log_path = get("VOUCHGRAPH_SENDER_LOG")
        if log_path is not None:
            return LocalSender(Path(log_path).expanduser())
        if default_log is None:
            raise ConfigError("VOUCHGRAPH_SENDER_LOG: not set and no default log path given")
        return LocalSender(default_log)
    if kind == "webhook":
        url = get("VOUCHGRAPH_WEBHOOK_URL")
        if url is None:
            raise ConfigError("VOUCHGRAPH_WEBHOOK_URL: required when VOUCHGRAPH_SENDER=webhook")
        try:
            _validate_url(url.strip())
        except ValueError as exc:
            raise ConfigError(f"VOUCHGRAPH_WEBHOOK_URL: {exc}") from None
        secret = get("VOUCHGRAPH_WEBHOOK_SECRET")
        if secret is None:
            raise ConfigError("VOUCHGRAPH_WEBHOOK_SECRET: required when VOUCHGRAPH_SENDER=webhook")
        return WebhookSender(url.strip(), secret)
    raise ConfigError("VOUCHGRAPH_SENDER: expected 'local' or 'webhook'")
