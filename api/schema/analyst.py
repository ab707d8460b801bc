"""The analyst workbench's operations (docs/workbench-api.md): search, profile, neighbours,
paths, rings and the alert queue. Analysts and admins only, checked before any read; resolvers
check arguments' ranges and call `risk.flows.explore` / `risk.flows.cases`, nothing more."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context, allow, api_error
from api.limits import DEFAULT_FIRST, MAX_FIRST
from api.schema.kiosk import Assessment, Decision, assessment_type, decision_type
from graph import vocab
from graph.vocab import Role
from risk.flows.cases import AlertPageView, AlertView, Cases
from risk.flows.explore import (
    EdgeView,
    Explorer,
    NodeView,
    ProfileView,
    RingView,
    iso,
    time_range,
)

ANALYSTS = (Role.ANALYST, Role.ADMIN)
NEIGHBOURS_FIRST = 20  # the contract's default page sizes
ALERTS_FIRST = 50
DEFAULT_MAX_HOPS = 4

RelationType = strawberry.enum(vocab.WorkbenchRelation, name="RelationType")
AlertState = strawberry.enum(vocab.AlertState, name="AlertState")
AlertKind = strawberry.enum(vocab.AlertKind, name="AlertKind")
AlertOutcome = strawberry.enum(vocab.AlertOutcome, name="AlertOutcome")


@strawberry.type(description="A customer as the workbench draws it; the name masked.")
class GraphNode:
    id: strawberry.ID
    display_name: str
    risk_band: str = strawberry.field(description="A band name of the policy, or UNSCORED.")
    graph_risk: float | None
    known_fraud: bool = strawberry.field(description="A fraud label or a reported fraud.")
    status: str | None


@strawberry.type(description="A tie; shared phones and devices never name the phone or device.")
class GraphEdge:
    id: strawberry.ID = strawberry.field(description="Stable: type and sorted ends.")
    source: strawberry.ID
    target: strawberry.ID
    type: vocab.WorkbenchRelation
    kind: str | None
    at: str | None
    amount: float | None
    count: int | None


@strawberry.type
class RelationCount:
    type: vocab.WorkbenchRelation
    total: int


@strawberry.type
class NeighbourPage:
    center: GraphNode
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    counts: list[RelationCount]
    total: int
    offset: int
    next_offset: int | None


@strawberry.type
class GraphPath:
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    hops: int


@strawberry.type
class Ring:
    id: strawberry.ID
    size: int
    known_fraud: int
    total_moved: float
    members: list[GraphNode]
    edges: list[GraphEdge]


@strawberry.type
class ContributingRelation:
    customer_id: strawberry.ID
    type: vocab.WorkbenchRelation
    weight: float


@strawberry.type
class GraphRiskExplanation:
    probability: float | None
    band: str
    model_version: str | None
    top_relations: list[ContributingRelation]


@strawberry.type
class VouchEvent:
    voucher_id: strawberry.ID
    vouchee_id: strawberry.ID
    business: str
    at: str
    outcome: str
    decision_id: strawberry.ID | None


@strawberry.type
class CustomerProfile:
    customer: GraphNode
    opened_at: str | None
    risk: GraphRiskExplanation
    vouches: list[VouchEvent]
    assessments: list[Assessment]
    decisions: list[Decision]


@strawberry.type
class AlertNote:
    author: str
    at: str
    text: str


@strawberry.type
class Alert:
    id: strawberry.ID
    kind: vocab.AlertKind
    customer_id: strawberry.ID
    state: vocab.AlertState
    assignee: str | None
    summary: str
    evidence: str = strawberry.field(description="JSON; no personal data beyond ids.")
    created_at: str
    updated_at: str
    notes: list[AlertNote]
    outcome: vocab.AlertOutcome | None


@strawberry.type
class AlertPage:
    alerts: list[Alert]
    total: int
    offset: int
    next_offset: int | None


def _node(n: NodeView) -> GraphNode:
    return GraphNode(
        id=strawberry.ID(n.id),
        display_name=n.display_name,
        risk_band=n.risk_band,
        graph_risk=n.graph_risk,
        known_fraud=n.known_fraud,
        status=n.status,
    )


def _edge(e: EdgeView) -> GraphEdge:
    return GraphEdge(
        id=strawberry.ID(e.id),
        source=strawberry.ID(e.source),
        target=strawberry.ID(e.target),
        type=vocab.WorkbenchRelation(e.type),
        kind=e.kind,
        at=iso(e.at),
        amount=e.amount,
        count=e.count,
    )


def _ring(r: RingView) -> Ring:
    return Ring(
        id=strawberry.ID(r.id),
        size=r.size,
        known_fraud=r.known_fraud,
        total_moved=r.total_moved,
        members=[_node(m) for m in r.members],
        edges=[_edge(e) for e in r.edges],
    )


def _profile(p: ProfileView) -> CustomerProfile:
    return CustomerProfile(
        customer=_node(p.customer),
        opened_at=iso(p.customer.opened_at),
        risk=GraphRiskExplanation(
            probability=p.risk.probability,
            band=p.risk.band,
            model_version=p.risk.model_version,
            top_relations=[
                ContributingRelation(
                    customer_id=strawberry.ID(c.customer_id),
                    type=vocab.WorkbenchRelation(c.type),
                    weight=c.weight,
                )
                for c in p.risk.top_relations
            ],
        ),
        vouches=[
            VouchEvent(
                voucher_id=strawberry.ID(v.voucher_id),
                vouchee_id=strawberry.ID(v.vouchee_id),
                business=v.business,
                at=iso(v.at) or "",
                outcome=v.outcome,
                decision_id=strawberry.ID(v.decision_id) if v.decision_id else None,
            )
            for v in p.vouches
        ],
        assessments=[assessment_type(a, full=True) for a in p.assessments],
        decisions=[decision_type(d, full=True) for d in p.decisions],
    )


def _alert(a: AlertView) -> Alert:
    return Alert(
        id=strawberry.ID(a.id),
        kind=vocab.AlertKind(a.kind),
        customer_id=strawberry.ID(a.customer_id),
        state=vocab.AlertState(a.state),
        assignee=a.assignee,
        summary=a.summary,
        evidence=a.evidence,
        created_at=iso(a.created_at) or "",
        updated_at=iso(a.updated_at) or "",
        notes=[AlertNote(author=n.author, at=iso(n.at) or "", text=n.text) for n in a.notes],
        outcome=vocab.AlertOutcome(a.outcome) if a.outcome else None,
    )


def _alert_page(p: AlertPageView) -> AlertPage:
    return AlertPage(
        alerts=[_alert(a) for a in p.alerts],
        total=p.total,
        offset=p.offset,
        next_offset=p.next_offset,
    )


def _first(value: int | None, default: int) -> int:
    value = default if value is None else value
    if not 1 <= value <= MAX_FIRST:
        raise api_error(f"first: must be 1 to {MAX_FIRST}", "BAD_USER_INPUT")
    return value


def _offset(value: int | None) -> int:
    value = value or 0
    if value < 0:
        raise api_error("offset: must be >= 0", "BAD_USER_INPUT")
    return value


@strawberry.type
class AnalystQuery:
    @strawberry.field(description="Customers whose id starts with a prefix, by id.")
    async def search_customers(
        self, info: Info[Context, None], id_prefix: str, first: int | None = DEFAULT_FIRST
    ) -> list[GraphNode]:
        ctx = allow(info, ANALYSTS)
        size = _first(first, DEFAULT_FIRST)
        found = await ctx.call(lambda: Explorer(ctx.flow).search(ctx.actor, id_prefix, size))
        return [_node(n) for n in found]

    @strawberry.field(description="A customer's graph risk, vouching history and cases.")
    async def customer_profile(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> CustomerProfile | None:
        ctx = allow(info, ANALYSTS)
        found = await ctx.call(lambda: Explorer(ctx.flow).profile(ctx.actor, str(id)))
        return _profile(found) if found is not None else None

    @strawberry.field(description="One page of a customer's neighbours, with true counts.")
    async def neighbours(
        self,
        info: Info[Context, None],
        customer_id: strawberry.ID,
        type: vocab.WorkbenchRelation | None = None,
        first: int | None = NEIGHBOURS_FIRST,
        offset: int | None = 0,
        since: str | None = None,
        until: str | None = None,
    ) -> NeighbourPage:
        ctx = allow(info, ANALYSTS)
        size, start = _first(first, NEIGHBOURS_FIRST), _offset(offset)
        page = await ctx.call(
            lambda: Explorer(ctx.flow).neighbours(
                ctx.actor,
                str(customer_id),
                type.value if type else None,
                size,
                start,
                time_range(since, until),
            )
        )
        return NeighbourPage(
            center=_node(page.center),
            nodes=[_node(n) for n in page.nodes],
            edges=[_edge(e) for e in page.edges],
            counts=[
                RelationCount(type=vocab.WorkbenchRelation(t), total=n)
                for t, n in page.counts.items()
            ],
            total=page.total,
            offset=page.offset,
            next_offset=page.next_offset,
        )

    @strawberry.field(description="A shortest path of at most maxHops (1..4) ties; null: none.")
    async def customer_path(
        self,
        info: Info[Context, None],
        from_id: strawberry.ID,
        to_id: strawberry.ID,
        max_hops: int | None = DEFAULT_MAX_HOPS,
        since: str | None = None,
        until: str | None = None,
    ) -> GraphPath | None:
        ctx = allow(info, ANALYSTS)
        found = await ctx.call(
            lambda: Explorer(ctx.flow).path(
                ctx.actor,
                str(from_id),
                str(to_id),
                DEFAULT_MAX_HOPS if max_hops is None else max_hops,
                time_range(since, until),
            )
        )
        if found is None:
            return None
        return GraphPath(
            nodes=[_node(n) for n in found.nodes],
            edges=[_edge(e) for e in found.edges],
            hops=found.hops,
        )

    @strawberry.field(description="Rings (shared phones/devices, dense transfers) around one.")
    async def rings(
        self,
        info: Info[Context, None],
        customer_id: strawberry.ID,
        since: str | None = None,
        until: str | None = None,
    ) -> list[Ring]:
        ctx = allow(info, ANALYSTS)
        found = await ctx.call(
            lambda: Explorer(ctx.flow).rings(ctx.actor, str(customer_id), time_range(since, until))
        )
        return [_ring(r) for r in found]

    @strawberry.field(description="The alert queue, newest first.")
    async def alerts(
        self,
        info: Info[Context, None],
        state: vocab.AlertState | None = None,
        first: int | None = ALERTS_FIRST,
        offset: int | None = 0,
    ) -> AlertPage:
        ctx = allow(info, ANALYSTS)
        size, start = _first(first, ALERTS_FIRST), _offset(offset)
        page = await ctx.call(
            lambda: Cases(ctx.flow).alerts(ctx.actor, state.value if state else None, size, start)
        )
        return _alert_page(page)


@strawberry.type
class AnalystMutation:
    @strawberry.mutation(description="Take an alert, change its state or add a note.")
    async def update_alert(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        state: vocab.AlertState | None = None,
        assignee: str | None = None,
        note: str | None = None,
    ) -> Alert:
        ctx = allow(info, ANALYSTS)
        found = await ctx.call(
            lambda: Cases(ctx.flow).update(
                ctx.actor, str(id), state.value if state else None, assignee, note
            )
        )
        return _alert(found)

    @strawberry.mutation(
        description="Close an alert once (CONFLICT after); FRAUD_CONFIRMED labels the customer."
    )
    async def close_alert(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        outcome: vocab.AlertOutcome,
        note: str,
    ) -> Alert:
        ctx = allow(info, ANALYSTS)
        found = await ctx.call(
            lambda: Cases(ctx.flow).close(ctx.actor, str(id), outcome.value, note)
        )
        return _alert(found)
