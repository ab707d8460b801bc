"""The HTTP service: GraphQL at /graphql, health, readiness and Prometheus metrics.

GraphQL follows the GraphQL-over-HTTP conventions: queries by GET or POST, mutations by POST
only, `application/graphql-response+json` when the client accepts it (then a request that
fails to parse or validate gets 400), 401 without a valid key and 403 for a role that may not
run the operation. GraphiQL is served to browsers at /graphql.

Before Strawberry sees a request, api/guard.py checks its size, its key and its key's rate
(nothing is parsed for a caller without a valid key); then api/limits.py measures the parsed
document in linear time, before the standard validation rules run.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import strawberry
from cross_web import HTTPException as GraphQLHTTPError
from graphql import FieldNode, GraphQLError, OperationDefinitionNode
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, request_response
from strawberry.asgi import GraphQL
from strawberry.extensions import MaskErrors, MaxTokensLimiter, SchemaExtension
from strawberry.http import GraphQLHTTPResponse

from api.caches import (
    ByteBoundedCache,
    DocumentCache,
    ValidationResultCache,
    digest,
    prepare,
)
from api.context import Context
from api.guard import Guard, Limits, principal_of
from api.keys import KeyRing
from api.limits import QueryLimits
from api.metrics import Metrics
from api.prepared import PREPARED
from api.schema import Mutation, Query
from api.web import routes as web_routes
from graph.errors import StoreError
from graph.settings import Settings, load_settings
from graph.store import GraphStore, open_store
from notify.outbox import OutboxDispatcher
from notify.senders import Sender, sender_from_settings
from risk.flows.cases import PeriodicScan
from risk.flows.graph_model import NO_MODEL, GraphRiskScorer
from risk.flows.kiosk import KioskFlow
from risk.policy import Policy, load_policy

log = logging.getLogger(__name__)
# Shared by every request: a parsed document and a validation result per distinct text.
PARSED = ByteBoundedCache[Any](max_bytes=32 * 1024 * 1024)
VALIDATED = ByteBoundedCache[Any](max_bytes=2 * 1024 * 1024)
MAX_TOKENS = 1000
GRAPHQL_RESPONSE = "application/graphql-response+json"
STATUS_BY_CODE = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403}


def _root_field(document: Any, operation_name: str | None) -> str | None:
    """The first root field of the operation that runs (the operation name is the client's)."""
    for definition in getattr(document, "definitions", ()):
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name is not None and getattr(definition.name, "value", None) != operation_name:
            continue
        for selection in definition.selection_set.selections:
            if isinstance(selection, FieldNode):
                return selection.name.value
        return None
    return None


class OperationMetrics(SchemaExtension):
    """Counts and times each operation by its root field, from a closed set (Metrics)."""

    def on_execute(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        metrics: Metrics = ctx.context.metrics
        ok = not (ctx.result is not None and ctx.result.errors)
        root = _root_field(ctx.graphql_document, ctx.operation_name)
        metrics.observe(root, ok, time.perf_counter() - started)


def _unexpected(error: Any) -> bool:
    """Whether an error is unexpected, to be masked and logged: an exception without a code
    (ours carry extensions.code). Parse, validation and variable-coercion errors are the
    client's: they have no original error, or a GraphQLError one (graphql-core 3.3 wraps
    coercion errors so), and keep their message."""
    original = error.original_error
    no_code = not (error.extensions or {}).get("code")
    return no_code and original is not None and not isinstance(original, GraphQLError)


class Schema(strawberry.Schema):
    """Logs only unexpected errors: a refused or invalid request is the client's business, not
    an incident (and an error message must never carry personal data into a log). Unexpected
    means an exception of ours without a code; parse and validation errors carry none."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        unexpected = [e for e in errors if _unexpected(e)]
        for error in unexpected:
            log.error("unexpected GraphQL error: %s", type(error.original_error).__name__)


schema = Schema(
    query=Query,
    mutation=Mutation,
    extensions=[
        # parsing is the one step before the limits: its work grows with the tokens (a kiosk's
        # documents have under 200, GraphiQL's introspection query about 160: 1000 parse in ms)
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        lambda: DocumentCache(PARSED),
        QueryLimits,  # before the validation cache, whose on_validate runs the standard rules
        lambda: ValidationResultCache(VALIDATED),
        lambda: MaskErrors(should_mask_error=_unexpected, error_message="internal error"),
        OperationMetrics,
    ],
)


ROOT_FIELDS = tuple(
    name
    for root in (schema._schema.query_type, schema._schema.mutation_type)
    if root is not None
    for name in root.fields
)


@dataclass
class Service:
    """What one API process holds: the store, the flow, keys, metrics and the dispatcher."""

    store: GraphStore
    flow: KioskFlow
    keys: KeyRing
    metrics: Metrics
    dispatcher: OutboxDispatcher
    deadline_s: float
    limits: Limits = field(default_factory=Limits)


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI app with our context, auth and HTTP status conventions."""

    def __init__(self, service: Service) -> None:
        super().__init__(schema, allow_queries_via_get=True)
        self.service = service

    async def get_context(self, request: Any, response: Any) -> Context:
        principal = principal_of(request.scope)  # checked by the guard before any parsing
        return Context(
            self.service.flow, self.service.metrics, principal, self.service.deadline_s, response
        )

    async def execute_single(
        self,
        request: Any,
        request_adapter: Any,
        sub_response: Any,
        context: Context,
        root_value: Any,
        request_data: Any,
    ) -> Any:
        """Run the operation; a document not seen before is parsed, measured and validated in
        a worker thread first, so that a hostile one never holds the event loop."""
        query = request_data.query
        if not isinstance(query, str) or not query or PARSED.get(digest(query)) is not None:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        prepared = await anyio.to_thread.run_sync(
            prepare, schema._schema, query, request_data.variables, PARSED, VALIDATED, MAX_TOKENS
        )
        token = PREPARED.set(prepared)
        try:
            return await super().execute_single(
                request, request_adapter, sub_response, context, root_value, request_data
            )
        finally:
            PREPARED.reset(token)

    async def process_result(self, request: Any, result: Any) -> GraphQLHTTPResponse:
        data = await super().process_result(request, result)
        request.state.graphql_errors = [
            (e.extensions or {}).get("code") for e in (result.errors or [])
        ]
        request.state.graphql_has_data = result.data is not None
        return data

    def parse_json(self, data: str | bytes) -> Any:
        """JSON of the body or of GET's variables; any ValueError is the client's 400 (an int
        past Python's 4,300-digit limit raises a plain ValueError, not JSONDecodeError)."""
        try:
            return super().parse_json(data)
        except ValueError:
            raise GraphQLHTTPError(400, "Unable to parse request body as JSON") from None

    async def handle(self, request: Request) -> Response:
        try:
            response = await self.run(request)
        except GraphQLHTTPError as exc:  # e.g. a mutation sent by GET, a body not JSON
            code = "METHOD_NOT_ALLOWED" if exc.status_code == 405 else "BAD_REQUEST"
            body = {"errors": [{"message": exc.reason, "extensions": {"code": code}}]}
            return JSONResponse(body, status_code=exc.status_code)
        accept = request.headers.get("accept", "")
        codes = getattr(request.state, "graphql_errors", [])
        status = next((STATUS_BY_CODE[c] for c in codes if c in STATUS_BY_CODE), None)
        if status is not None:
            response.status_code = status
            if status == 401:
                response.headers["www-authenticate"] = "Bearer"
        if GRAPHQL_RESPONSE in accept and response.media_type == "application/json":
            response.media_type = GRAPHQL_RESPONSE
            response.headers["content-type"] = GRAPHQL_RESPONSE
            if codes and not getattr(request.state, "graphql_has_data", True) and status is None:
                response.status_code = 400  # the request itself was not valid GraphQL
        return response


class _Promoted:
    """Marks "load the promoted model version" (the default of `build_service`)."""


PROMOTED = _Promoted()


def promoted_scorer(store: GraphStore, settings: Settings) -> tuple[GraphRiskScorer | None, str]:
    """An online scorer for the promoted model version, or None and why: no version promoted
    (`NO_MODEL_PROMOTED`) or one that fails to load (`MODEL_LOAD_FAILED`, logged); the
    policy then decides."""
    import torch

    from ml.registry import ModelRegistry, RegistryError, default_root
    from ml.serving import OnlineScorer, load_promoted

    try:
        model = load_promoted(ModelRegistry(default_root(settings)))
    except (RegistryError, OSError, ValueError, KeyError) as exc:
        log.error("the promoted model version could not be loaded: %s", type(exc).__name__)
        return None, "MODEL_LOAD_FAILED"
    if model is None:
        return None, NO_MODEL
    # A request scores a small neighbourhood: one torch thread is faster than a team that
    # must synchronise (and competes with the server's other threads).
    torch.set_num_threads(1)
    return OnlineScorer(store, model), NO_MODEL


def build_service(
    store: GraphStore | None = None,
    policy: Policy | None = None,
    sender: Sender | None = None,
    deadline_s: float | None = None,
    scorer: GraphRiskScorer | _Promoted | None = PROMOTED,
    limits: Limits | None = None,
) -> Service:
    """Wire the parts from the settings (or from what a test passes in). The graph model is
    the promoted version unless a scorer (or None: no model) is given; the limits are read
    from the environment unless given (Limits.from_env)."""
    settings = load_settings()
    store = store or open_store(settings)
    no_model = NO_MODEL
    if isinstance(scorer, _Promoted):
        scorer, no_model = promoted_scorer(store, settings)
    policy = policy or load_policy()
    sender = sender or sender_from_settings(
        os.environ, default_log=Path(settings.data_dir) / "outbox.log"
    )
    limits = limits or Limits.from_env(os.environ)
    metrics = Metrics(ROOT_FIELDS)
    deadline = deadline_s or float(os.environ.get("VOUCHGRAPH_DEADLINE_S", "2"))
    dispatcher = OutboxDispatcher(
        store, sender, on_result=lambda ch, st: metrics.outbox.labels(ch, st).inc()
    )
    flow = KioskFlow(
        store,
        policy,
        on_queued=dispatcher.notify,
        deadline_ms=int(deadline * 1000),
        assist_link=os.environ.get("VOUCHGRAPH_ASSIST_LINK", "https://mobile.bank.example/assist"),
        scorer=scorer,
        no_model_reason=no_model,
    )
    keys = KeyRing(store, ttl_s=limits.key_ttl_s)
    return Service(store, flow, keys, metrics, dispatcher, deadline, limits)


def build_app(service: Service | None = None) -> Starlette:
    """The ASGI application (the dispatcher runs while the app is up)."""
    service = service or build_service()
    graphql = GraphQLApp(service)
    guarded = Guard(request_response(graphql.handle), service.keys, service.limits, service.metrics)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        try:
            await anyio.to_thread.run_sync(service.store.ping)
        except StoreError as exc:
            service.metrics.ready.set(0)
            return JSONResponse({"status": "unavailable", "reason": exc.code}, status_code=503)
        scorer = service.flow.scorer
        model = scorer.version if scorer is not None else None
        body = {"status": "ready", "policy_version": service.flow.policy.version, "model": model}
        if model is None and service.flow.policy.refuses_without_model():
            service.metrics.ready.set(0)
            body.update(status="unavailable", reason=service.flow.no_model_reason)
            return JSONResponse(body, status_code=503)
        service.metrics.ready.set(1)
        return JSONResponse(body)

    async def metrics(_: Request) -> Response:
        return PlainTextResponse(service.metrics.render(), media_type="text/plain; version=0.0.4")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        # Everything built so far (schema, policy, clients) lives as long as the process:
        # freeze it, so the cyclic collector's full passes need not walk it mid-request.
        gc.collect()
        gc.freeze()
        # A worker thread parsing a large document holds the GIL for a whole switch interval
        # (5 ms by default) before the event loop may answer anyone: 1 ms keeps /healthz and
        # small requests quick beside it, for a few hundred more switches a second.
        sys.setswitchinterval(0.001)
        try:
            await anyio.to_thread.run_sync(service.flow.warm_up)
        except Exception as exc:  # a cold start is slower, not wrong: serve anyway
            log.warning("warm-up failed: %s", type(exc).__name__)
        service.dispatcher.start()
        alert_scan = PeriodicScan.of(service.flow, os.environ)
        alert_scan.start()
        try:
            yield
        finally:
            alert_scan.stop()
            service.dispatcher.stop()

    app = Starlette(
        routes=[
            Route("/graphql", guarded, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
            *web_routes(),
        ],
        lifespan=lifespan,
    )
    app.state.service = service
    return app
