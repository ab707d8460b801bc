"""The HTTP service: GraphQL at /graphql, health, readiness and Prometheus metrics.

GraphQL follows the GraphQL-over-HTTP conventions: queries by GET or POST, mutations by POST
only, `application/graphql-response+json` when the client accepts it (then a request that
fails to parse or validate gets 400), 401 without a valid key and 403 for a role that may not
run the operation. GraphiQL is served to browsers at /graphql.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import strawberry
from cross_web import HTTPException as GraphQLHTTPError
from graphql import GraphQLError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as create_alias_rule
from strawberry.http import GraphQLHTTPResponse

from api.context import Context
from api.keys import KeyRing
from api.limits import CostLimitRule
from api.metrics import Metrics
from api.schema import Mutation, Query
from graph.errors import StoreError
from graph.settings import Settings, load_settings
from graph.store import GraphStore, open_store
from risk.flow import NO_MODEL, GraphRiskScorer, KioskFlow
from risk.outbox import OutboxDispatcher
from risk.policy import Policy, load_policy
from risk.senders import Sender, sender_from_settings

log = logging.getLogger(__name__)
# Built once: the validation cache is keyed by the rule classes, and Strawberry's
# MaxAliasesLimiter makes a new class per request, so the cache never hit (and validation cost
# about half the server's CPU).
VALIDATION_RULES = [create_alias_rule(20), CostLimitRule]
GRAPHQL_RESPONSE = "application/graphql-response+json"
STATUS_BY_CODE = {"UNAUTHENTICATED": 401, "FORBIDDEN": 403}


class OperationMetrics(SchemaExtension):
    """Counts and times each operation by its root field (the operation name is the client's)."""

    def on_execute(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        document = ctx.graphql_document
        name = "unknown"
        if document is not None and document.definitions:
            selections = getattr(document.definitions[0], "selection_set", None)
            if selections is not None and selections.selections:
                name = getattr(selections.selections[0], "name", None)
                name = name.value if name is not None else "unknown"
        metrics: Metrics = ctx.context.metrics
        status = "error" if ctx.result is not None and ctx.result.errors else "ok"
        metrics.requests.labels(name, status).inc()
        metrics.latency.labels(name).observe(time.perf_counter() - started)


def _typed(error: Any) -> bool:
    """Mask every error that is not one of ours (those carry extensions.code)."""
    return not (error.extensions or {}).get("code") and error.original_error is not None


class Schema(strawberry.Schema):
    """Logs only unexpected errors: a refused request is the client's business, not an incident
    (and an error message must never carry personal data into a log)."""

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        unexpected = [e for e in errors if not (e.extensions or {}).get("code")]
        for error in unexpected:
            log.error("unexpected GraphQL error: %s", type(error.original_error).__name__)


schema = Schema(
    query=Query,
    mutation=Mutation,
    extensions=[
        lambda: MaxTokensLimiter(max_token_count=5000),
        lambda: AddValidationRules(VALIDATION_RULES),
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        lambda: MaskErrors(should_mask_error=_typed, error_message="internal error"),
        OperationMetrics,
    ],
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


class GraphQLApp(GraphQL[Context, None]):
    """Strawberry's ASGI app with our context, auth and HTTP status conventions."""

    def __init__(self, service: Service) -> None:
        super().__init__(schema, allow_queries_via_get=True)
        self.service = service

    async def get_context(self, request: Any, response: Any) -> Context:
        principal = None
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            key = header[7:].strip()
            with contextlib.suppress(StoreError):
                principal = await anyio.to_thread.run_sync(self.service.keys.principal, key)
        return Context(
            self.service.flow, self.service.metrics, principal, self.service.deadline_s, response
        )

    async def process_result(self, request: Any, result: Any) -> GraphQLHTTPResponse:
        data = await super().process_result(request, result)
        request.state.graphql_errors = [
            (e.extensions or {}).get("code") for e in (result.errors or [])
        ]
        request.state.graphql_has_data = result.data is not None
        return data

    async def handle(self, request: Request) -> Response:
        try:
            response = await self.run(request)
        except GraphQLHTTPError as exc:  # e.g. a mutation sent by GET
            return PlainTextResponse(exc.reason, status_code=exc.status_code)
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
) -> Service:
    """Wire the parts from the settings (or from what a test passes in). The graph model is
    the promoted version unless a scorer (or None: no model) is given."""
    settings = load_settings()
    store = store or open_store(settings)
    no_model = NO_MODEL
    if isinstance(scorer, _Promoted):
        scorer, no_model = promoted_scorer(store, settings)
    policy = policy or load_policy()
    sender = sender or sender_from_settings(
        os.environ, default_log=Path(settings.data_dir) / "outbox.log"
    )
    metrics = Metrics()
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
    return Service(store, flow, KeyRing(store), metrics, dispatcher, deadline)


def build_app(service: Service | None = None) -> Starlette:
    """The ASGI application (the dispatcher runs while the app is up)."""
    service = service or build_service()
    graphql = GraphQLApp(service)

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
        service.dispatcher.start()
        try:
            yield
        finally:
            service.dispatcher.stop()

    app = Starlette(
        routes=[
            Route("/graphql", graphql.handle, methods=["GET", "POST"]),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics),
        ],
        lifespan=lifespan,
    )
    app.state.service = service
    return app
