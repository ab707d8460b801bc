"""Per-request context: who is calling, the flow, DataLoaders, and fail-closed execution."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
from graphql import GraphQLError
from strawberry.dataloader import DataLoader
from strawberry.types import Info

from api.keys import Principal
from api.metrics import Metrics
from graph.errors import StoreError
from graph.vocab import Role
from risk.errors import FlowError
from risk.flows.actor import Actor
from risk.flows.customers import customer_summaries
from risk.flows.kiosk import KioskFlow
from risk.flows.kiosk_views import (
    AssessmentView,
    AssessRequest,
    DecisionView,
    refusal,
    refusal_decision,
)

T = TypeVar("T")
V = TypeVar("V")
DEADLINE_GRACE_S = 0.5


def api_error(message: str, code: str) -> GraphQLError:
    """A GraphQL error whose `extensions.code` says what kind of failure it is."""
    return GraphQLError(message, extensions={"code": code})


@dataclass
class Context:
    """Everything a resolver may use for one request (DataLoaders are never shared)."""

    flow: KioskFlow
    metrics: Metrics
    principal: Principal | None
    deadline_s: float
    response: Any = None
    customers: DataLoader[str, dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        self.customers = DataLoader(load_fn=self._load_customers)

    @property
    def actor(self) -> Actor:
        assert self.principal is not None
        return Actor(self.principal.name, self.principal.role, self.principal.key_id)

    @property
    def sees_all(self) -> bool:
        """Analysts and admins see full evidence; kiosk and mobile-banking keys see only what
        their own customer may be shown."""
        return self.principal is not None and self.principal.role in (Role.ANALYST, Role.ADMIN)

    async def _load_customers(self, ids: Sequence[str]) -> list[dict[str, Any] | Exception]:
        rows = await self.call(
            customer_summaries, self.flow.store, self.actor, list(ids), self.flow.now()
        )
        return [
            row if row is not None else api_error(f"customer {cid!r} not found", "NOT_FOUND")
            for cid, row in zip(ids, rows, strict=True)
        ]

    async def _within(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work off the event loop. The flow holds the step to its deadline (no
        store call starts after it); the wait here allows a little more, as a last resort."""
        with anyio.fail_after(self.deadline_s + DEADLINE_GRACE_S):
            return await anyio.to_thread.run_sync(
                self.flow.within, self.deadline_s, fn, *args, abandon_on_cancel=True
            )

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work within the deadline; typed errors out."""
        try:
            return await self._within(fn, *args)
        except FlowError as exc:
            raise api_error(str(exc), exc.code) from None
        except StoreError as exc:
            raise api_error("the graph store is unavailable", exc.code) from None
        except TimeoutError:
            raise api_error("the request ran past its deadline", "DEADLINE_EXCEEDED") from None

    async def _decision_step(self, step: str, fn: Callable[[], V], refuse: Callable[[str], V]) -> V:
        """Run a decision step failing closed: any failure but a typed refusal of the request
        answers `refuse(reason)`, counted; never an approval."""
        try:
            return await self._within(fn)
        except FlowError as exc:
            raise api_error(str(exc), exc.code) from None
        except Exception as exc:  # every failure on the decision path refuses
            reason = _reason(exc)
            self.metrics.fail_closed.labels(step, reason).inc()
            return refuse(reason)

    async def assess(self, request: AssessRequest) -> AssessmentView:
        """`assess`, failing closed."""
        view = await self._decision_step(
            "assess",
            lambda: self.flow.assess(self.actor, request),
            lambda reason: refusal(request, self.flow.policy, reason, self.flow.now()),
        )
        self.metrics.decisions.labels("assess", view.business, view.outcome).inc()
        return view

    async def decide(self, assessment_id: str) -> DecisionView:
        """`decide`, failing closed."""
        view = await self._decision_step(
            "decide",
            lambda: self.flow.decide(self.actor, assessment_id),
            lambda reason: refusal_decision(
                assessment_id, self.flow.policy, reason, self.flow.now()
            ),
        )
        self.metrics.decisions.labels("decide", view.business or "-", view.outcome).inc()
        return view


def _reason(exc: Exception) -> str:
    if isinstance(exc, TimeoutError):
        return "DEADLINE_EXCEEDED"
    if isinstance(exc, StoreError):
        return "SERVICE_UNAVAILABLE"
    return "INTERNAL_ERROR"


def allow(info: Info[Context, None], roles: tuple[str, ...]) -> Context:
    """The context, once the caller's key is known and its role may run this operation."""
    ctx = info.context
    if ctx.principal is None:
        raise api_error("an API key is required (Authorization: Bearer KEY)", "UNAUTHENTICATED")
    if ctx.principal.role not in roles:
        raise api_error(f"role {ctx.principal.role!r} may not run {info.field_name}", "FORBIDDEN")
    return ctx
