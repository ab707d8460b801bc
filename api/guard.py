"""The ASGI guard in front of /graphql: nothing is parsed for a caller without a valid key.

In order, each step costing less than the next: the query string's length (GET) and the
declared body size; the key's format, then the key itself (remembered by the KeyRing; a
client whose unknown keys keep missing is slowed down before it reaches the store); the key's
rate limit; and the body, counted while it streams and abandoned at the limit. Only then does
Strawberry see the request, with the caller's principal in the ASGI scope. The GraphiQL page
(a browser's GET with no query) is served without a key: it is static, and every operation it
then sends needs one.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import anyio
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.keys import KeyRing, Principal, well_formed
from api.metrics import Metrics
from api.web import graphiql_page
from graph.errors import ConfigError, StoreError

GRAPHQL_RESPONSE = "application/graphql-response+json"
PRINCIPAL = "vouchgraph_principal"  # the key of the caller's principal in scope["state"]


@dataclass(frozen=True)
class Limits:
    """What one caller may send: sizes, rates, and how long a key's answer is remembered."""

    max_body_bytes: int = 64 * 1024
    max_query_string_bytes: int = 16 * 1024
    rate_per_s: float = 100.0  # per key: a kiosk backend speaks for many kiosks
    rate_burst: float = 200.0
    failed_lookups_per_s: float = 5.0  # per client address: unknown keys that reach the store
    failed_lookups_burst: float = 50.0
    key_ttl_s: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Limits:
        """The defaults, changed by VOUCHGRAPH_MAX_BODY_BYTES, VOUCHGRAPH_RATE_PER_S and
        VOUCHGRAPH_RATE_BURST."""
        changes: dict[str, Any] = {}
        for name, field, kind in (
            ("VOUCHGRAPH_MAX_BODY_BYTES", "max_body_bytes", int),
            ("VOUCHGRAPH_RATE_PER_S", "rate_per_s", float),
            ("VOUCHGRAPH_RATE_BURST", "rate_burst", float),
        ):
            raw = env.get(name)
            if raw is None or not raw.strip():
                continue
            try:
                value = kind(raw)
            except ValueError:
                raise ConfigError(f"{name}: must be a positive number") from None
            if not value > 0 or not math.isfinite(value):
                raise ConfigError(f"{name}: must be a positive number")
            changes[field] = value
        return cls(**changes)


class TokenBuckets:
    """A token bucket per name (`rate` tokens a second, at most `burst`), the least recently
    used forgotten past `max_names`. Used from the event loop only."""

    def __init__(
        self,
        rate: float,
        burst: float,
        max_names: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst, self.max_names, self.clock = rate, burst, max_names, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at

    def _tokens(self, name: str) -> float:
        tokens, at = self._buckets.get(name, (self.burst, self.clock()))
        return min(self.burst, tokens + (self.clock() - at) * self.rate)

    def wait_s(self, name: str) -> float:
        """Seconds until `name` has a token (0 when it has one now); takes nothing."""
        tokens = self._tokens(name)
        return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def take(self, name: str) -> float:
        """Take a token for `name`: 0 when taken, else the seconds until one is there."""
        tokens = self._tokens(name)
        if tokens < 1:
            return (1 - tokens) / self.rate
        self._buckets[name] = (tokens - 1, self.clock())
        self._buckets.move_to_end(name)
        while len(self._buckets) > self.max_names:
            self._buckets.popitem(last=False)
        return 0.0


def _refusal(
    scope: Scope, status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    accept = Headers(scope=scope).get("accept", "")
    media = GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in accept else "application/json"
    body = {"errors": [{"message": message, "extensions": {"code": code}}]}
    return JSONResponse(body, status_code=status, headers=headers, media_type=media)


class _TooLarge(Exception):
    pass


class _Disconnected(Exception):
    pass


class Guard:
    """ASGI app: checks a /graphql request (see the module's docstring), then hands it to
    `app` with the principal in `scope["state"]` and the body, read once, replayed."""

    def __init__(self, app: ASGIApp, keys: KeyRing, limits: Limits, metrics: Metrics) -> None:
        self.app, self.keys, self.limits, self.metrics = app, keys, limits, metrics
        self.per_key = TokenBuckets(limits.rate_per_s, limits.rate_burst)
        self.failed = TokenBuckets(limits.failed_lookups_per_s, limits.failed_lookups_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = await self._check(scope)
        if refused is not None:
            await refused(scope, receive, send)
            return
        if scope["method"] == "POST":
            try:
                body = await self._read_body(receive)
            except _TooLarge:
                await self._too_large(scope)(scope, receive, send)
                return
            except _Disconnected:
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope) -> Response | None:
        """A refusal for what the headers alone show, or None (the principal then in scope)."""
        headers = Headers(scope=scope)
        if scope["method"] == "GET":
            query_string: bytes = scope.get("query_string", b"")
            if len(query_string) > self.limits.max_query_string_bytes:
                self.metrics.refused.labels("query_too_long").inc()
                message = f"the query string is over {self.limits.max_query_string_bytes} bytes"
                return _refusal(scope, 414, "QUERY_TOO_LONG", message)
            if _graphiql_page(query_string, headers):
                return graphiql_page()  # the local one: Strawberry's loads GraphiQL from a CDN
        else:
            declared = headers.get("content-length")
            if declared is not None:
                if not declared.isdigit():
                    return _refusal(scope, 400, "BAD_REQUEST", "Content-Length is not a number")
                if int(declared) > self.limits.max_body_bytes:
                    return self._too_large(scope)
        principal, refused = await self._principal(scope, headers)
        if refused is not None:
            return refused
        assert principal is not None
        wait = self.per_key.take(principal.key_id)
        if wait:
            self.metrics.refused.labels("rate_limited").inc()
            return _rate_limited(scope, wait, "this key's request rate is over its limit")
        scope.setdefault("state", {})[PRINCIPAL] = principal
        return None

    async def _principal(
        self, scope: Scope, headers: Headers
    ) -> tuple[Principal | None, JSONResponse | None]:
        header = headers.get("authorization", "")
        key = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not well_formed(key):
            return None, self._unauthenticated(scope)
        remembered = self.keys.cached(key)
        if remembered is not None and remembered[0] < self.keys.ttl_s:
            principal = remembered[1]
        else:
            # A key that worked recently is refreshed whatever its caller's misses; any other
            # lookup spends one of the caller's few tries at unknown keys.
            client = (scope.get("client") or ("-", 0))[0]
            known = remembered is not None and remembered[1] is not None
            wait = 0.0 if known else self.failed.wait_s(client)
            if wait:
                self.metrics.refused.labels("rate_limited").inc()
                return None, _rate_limited(scope, wait, "too many unknown keys from this client")
            try:
                principal = await anyio.to_thread.run_sync(self.keys.principal, key)
            except StoreError:
                self.metrics.refused.labels("unavailable").inc()
                message = "the key could not be checked: the graph store is unavailable"
                return None, _refusal(scope, 503, "SERVICE_UNAVAILABLE", message)
            if principal is None and not known:
                self.failed.take(client)
        if principal is None:
            return None, self._unauthenticated(scope)
        return principal, None

    def _too_large(self, scope: Scope) -> JSONResponse:
        self.metrics.refused.labels("body_too_large").inc()
        message = f"the request body is over {self.limits.max_body_bytes} bytes"
        return _refusal(scope, 413, "BODY_TOO_LARGE", message)

    def _unauthenticated(self, scope: Scope) -> JSONResponse:
        self.metrics.refused.labels("unauthenticated").inc()
        message = "a valid API key is required (Authorization: Bearer KEY)"
        return _refusal(
            scope, 401, "UNAUTHENTICATED", message, headers={"WWW-Authenticate": "Bearer"}
        )

    async def _read_body(self, receive: Receive) -> bytes:
        limit = self.limits.max_body_bytes
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLarge  # stop reading: the rest is never received
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _rate_limited(scope: Scope, wait_s: float, message: str) -> JSONResponse:
    retry = str(max(1, math.ceil(wait_s)))
    return _refusal(scope, 429, "RATE_LIMITED", message, headers={"Retry-After": retry})


def _graphiql_page(query_string: bytes, headers: Headers) -> bool:
    """A browser asking for the GraphiQL page (Strawberry's own test for serving it)."""
    if b"query" in query_string and "query" in parse_qs(
        query_string.decode("latin-1"), keep_blank_values=True
    ):
        return False
    accept = headers.get("accept", "")
    return "text/html" in accept or "*/*" in accept


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that gives the body already read, then whatever the client sends next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


def principal_of(scope: Scope) -> Principal | None:
    """The principal the guard put in this request's scope (None for the GraphiQL page)."""
    found = scope.get("state", {}).get(PRINCIPAL)
    return found if isinstance(found, Principal) else None
