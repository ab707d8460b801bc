"""The analyst workbench's graph reads: search, a customer's profile, paged neighbours with
true counts, a path between two customers, and the rings around one.

Every read is bounded by the policy's `[workbench]` caps, runs within the step's deadline (the
kiosk base's store calls), and records an audit event per customer shown, with the key's name.
Shared phones and devices are ties without the phone or the device: nothing here returns them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graph import queries as q
from graph.vocab import MS_PER_S, ConsentCategory, VouchOutcome, WorkbenchRelation, names
from ml.serving import band
from risk.eligibility import mask_name
from risk.errors import InvalidInput, NotFound
from risk.flows.actor import Actor
from risk.flows.explore_rules import (
    RING_LINKS,
    Tie,
    components,
    edge_id,
    is_dense,
    join_path,
    page_slices,
    ring_id,
)
from risk.flows.graph_model import GRAPH_MODEL_READ
from risk.flows.ids import new_id
from risk.flows.kiosk_base import RELATIONSHIPS_READ, KioskBase
from risk.flows.kiosk_views import AssessmentView, DecisionView, assessment_view, decision_view
from risk.flows.records import AssessmentRecord, DecisionRecord, from_props

UNSCORED = "UNSCORED"  # the band of a customer without a stored graph-risk score
RELATION_ORDER = tuple(WorkbenchRelation)  # the order of types on pages of every type
# The graph model's relation names (ml.export.RELATIONS) as the workbench draws them.
MODEL_RELATIONS = {
    "kin": WorkbenchRelation.KIN,
    "social": WorkbenchRelation.SOCIAL,
    "transferred": WorkbenchRelation.TRANSFER,
    "vouched": WorkbenchRelation.VOUCH,
}
# What each read shows of a customer, recorded in its audit events.
NODE_CATEGORIES = (ConsentCategory.BASIC_INFO, RELATIONSHIPS_READ)
PROFILE_CATEGORIES = names(
    (
        ConsentCategory.BASIC_INFO,
        ConsentCategory.VOUCHING_HISTORY,
        ConsentCategory.REJECTION_HISTORY,
        ConsentCategory.CREDIT,
        ConsentCategory.TRANSACTIONS,
    )
)


@dataclass(frozen=True)
class NodeView:
    id: str
    display_name: str
    risk_band: str
    graph_risk: float | None
    known_fraud: bool
    status: str | None
    opened_at: int | None = None
    graph_model: str | None = None


@dataclass(frozen=True)
class EdgeView:
    id: str
    source: str
    target: str
    type: str
    kind: str | None = None
    at: int | None = None
    amount: float | None = None
    count: int | None = None


@dataclass(frozen=True)
class NeighbourPageView:
    center: NodeView
    nodes: list[NodeView]
    edges: list[EdgeView]
    counts: dict[str, int]
    total: int
    offset: int
    next_offset: int | None


@dataclass(frozen=True)
class PathView:
    nodes: list[NodeView]
    edges: list[EdgeView]
    hops: int


@dataclass(frozen=True)
class RingView:
    id: str
    size: int
    known_fraud: int
    total_moved: float
    members: list[NodeView]
    edges: list[EdgeView]


@dataclass(frozen=True)
class Contribution:
    customer_id: str
    type: str
    weight: float


@dataclass(frozen=True)
class RiskView:
    probability: float | None
    band: str
    model_version: str | None
    top_relations: list[Contribution]


@dataclass(frozen=True)
class VouchView:
    voucher_id: str
    vouchee_id: str
    business: str
    at: int
    outcome: str
    decision_id: str | None


@dataclass(frozen=True)
class ProfileView:
    customer: NodeView
    risk: RiskView
    vouches: list[VouchView]
    assessments: list[AssessmentView]
    decisions: list[DecisionView]


@dataclass(frozen=True)
class TimeRange:
    since: int | None
    until: int | None

    def params(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until}


EVERY_TIME = TimeRange(None, None)


def parse_time(text: str | None, argument: str) -> int | None:
    """An ISO-8601 date or time (UTC unless it says otherwise) as epoch ms; BAD_USER_INPUT
    naming the argument otherwise."""
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"{argument}: {text!r} is not an ISO-8601 date or time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * MS_PER_S)


def time_range(since: str | None, until: str | None) -> TimeRange:
    found = TimeRange(parse_time(since, "since"), parse_time(until, "until"))
    if found.since is not None and found.until is not None and found.since > found.until:
        raise InvalidInput("until: must not be before since")
    return found


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / MS_PER_S, UTC).isoformat().replace("+00:00", "Z")


def band_of(probability: float, bands: Sequence[tuple[float, str]]) -> str:
    """The policy's name of the graph-risk band a probability falls in (as batch scoring
    names it; a policy without bands leaves it unscored)."""
    return band(probability, bands) if bands else UNSCORED


class Explorer:
    """The workbench's reads over the kiosk flow's store, policy, model and deadline."""

    def __init__(self, base: KioskBase) -> None:
        self.base = base
        self.rules = base.policy.workbench

    # --- shared pieces ---

    def _run(self, query: q.Query, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self.base._run(query, params)

    def _audit(
        self, actor: Actor, action: str, ids: Sequence[str], categories: Sequence[str]
    ) -> None:
        if not ids:
            return
        self._run(
            q.AUDIT_READS,
            {
                "events": [{"id": new_id("aud"), "subject_id": cid} for cid in dict.fromkeys(ids)],
                "now": self.base.now(),
                "actor": actor.name,
                "action": action,
                "categories": [str(c) for c in categories],
            },
        )

    def nodes(self, ids: Sequence[str]) -> dict[str, NodeView]:
        """The customers among `ids` that exist, as the workbench shows them (masked)."""
        if not ids:
            return {}
        rows = self._run(
            q.WB_NODES, {"ids": list(dict.fromkeys(ids)), "fraud": VouchOutcome.FRAUD_REPORTED}
        )
        return {r["id"]: _node(r) for r in rows}

    def _centre(self, customer_id: str) -> NodeView:
        found = self.nodes([customer_id]).get(customer_id)
        if found is None:
            raise NotFound(f"customer {customer_id!r} not found")
        return found

    # --- operations ---

    def search(self, actor: Actor, prefix: str, first: int) -> list[NodeView]:
        if not prefix.strip():
            raise InvalidInput("idPrefix: must not be empty")
        ids = [r["id"] for r in self._run(q.WB_SEARCH, {"prefix": prefix, "limit": first})]
        found = self.nodes(ids)
        self._audit(actor, "WORKBENCH_SEARCH", list(found), NODE_CATEGORIES)
        return [found[i] for i in ids if i in found]

    def neighbours(
        self,
        actor: Actor,
        customer_id: str,
        type_: str | None,
        first: int,
        offset: int,
        window: TimeRange,
    ) -> NeighbourPageView:
        if offset < 0:
            raise InvalidInput("offset: must be >= 0")
        centre = self._centre(customer_id)
        rows = self._run(q.WB_NEIGHBOUR_COUNTS, {"id": customer_id, **window.params()})
        counts = {str(t): 0 for t in RELATION_ORDER}
        counts.update({r["type"]: int(r["total"]) for r in rows})
        order = RELATION_ORDER if type_ is None else (type_,)
        total = sum(counts[t] for t in order)
        slices = page_slices(counts, order, offset, first)
        params: dict[str, Any] = {"id": customer_id, **window.params()}
        for t in RELATION_ORDER:
            skip, limit = slices.get(t, (0, 0))
            params[f"skip_{t.lower()}"], params[f"limit_{t.lower()}"] = skip, limit
        page = self._run(q.WB_NEIGHBOUR_PAGE, params) if any(s[1] for s in slices.values()) else []
        rank = {t: i for i, t in enumerate(order)}
        page.sort(key=lambda r: (rank.get(r["type"], len(rank)), r["id"]))
        found = self.nodes([r["id"] for r in page])
        edges = [_page_edge(customer_id, r) for r in page if r["id"] in found]
        nodes = [found[i] for i in dict.fromkeys(r["id"] for r in page) if i in found]
        self._audit(
            actor, "WORKBENCH_NEIGHBOURS", [customer_id, *(n.id for n in nodes)], NODE_CATEGORIES
        )
        end = offset + len(page)
        return NeighbourPageView(
            centre, nodes, edges, counts, total, offset, end if end < total else None
        )

    def _ties(
        self, ids: Sequence[str], types: Sequence[str], fanout: int, window: TimeRange,
        within: Sequence[str] | None = None,
    ) -> list[Tie]:  # fmt: skip
        rows = self._run(
            q.WB_TIES,
            {
                "ids": list(ids),
                "types": [str(t) for t in types],
                "fanout": fanout,
                "within": list(within) if within is not None else None,
                **window.params(),
            },
        )
        return [Tie(r["id"], r["other"], r["type"], r["amount"], r["count"]) for r in rows]

    def path(
        self, actor: Actor, from_id: str, to_id: str, max_hops: int, window: TimeRange
    ) -> PathView | None:
        """A shortest path of at most `max_hops` ties, by breadth-first search from both ends
        (the smaller frontier first), each customer's ties and each side's expansion capped."""
        if not 1 <= max_hops <= self.rules.path_max_hops:
            raise InvalidInput(f"maxHops: must be 1 to {self.rules.path_max_hops}")
        ends = self.nodes([from_id, to_id])
        for cid, argument in ((from_id, "fromId"), (to_id, "toId")):
            if cid not in ends:
                raise NotFound(f"{argument}: customer {cid!r} not found")
        found = self._search(from_id, to_id, max_hops, window)
        if found is None:
            self._audit(actor, "WORKBENCH_PATH", [from_id, to_id], NODE_CATEGORIES)
            return None
        ids, types = found
        nodes = self.nodes(ids)
        edges = [
            EdgeView(edge_id(t, a, b), a, b, t)
            for a, b, t in zip(ids, ids[1:], types, strict=False)
        ]
        self._audit(actor, "WORKBENCH_PATH", ids, NODE_CATEGORIES)
        return PathView([nodes[i] for i in ids if i in nodes], edges, len(edges))

    def _search(
        self, from_id: str, to_id: str, max_hops: int, window: TimeRange
    ) -> tuple[list[str], list[str]] | None:
        if from_id == to_id:
            return [from_id], []
        back: tuple[dict[str, tuple[str, str] | None], dict[str, tuple[str, str] | None]] = (
            {from_id: None},
            {to_id: None},
        )
        frontiers = ([from_id], [to_id])
        expanded = [0, 0]
        hops = 0
        while hops < max_hops and frontiers[0] and frontiers[1]:
            side = 0 if len(frontiers[0]) <= len(frontiers[1]) else 1
            room = self.rules.path_max_frontier - expanded[side]
            ids = frontiers[side][:room]
            if not ids:
                return None
            expanded[side] += len(ids)
            mine, theirs = back[side], back[1 - side]
            step: list[str] = []
            meets: list[str] = []
            for tie in self._ties(ids, RELATION_ORDER, self.rules.path_fanout, window):
                if tie.b in mine:
                    continue
                mine[tie.b] = (tie.a, tie.type)
                step.append(tie.b)
                if tie.b in theirs:
                    meets.append(tie.b)
            hops += 1
            if meets:
                return join_path(min(meets), back[0], back[1])
            frontiers = (step, frontiers[1]) if side == 0 else (frontiers[0], step)
        return None

    def rings(self, actor: Actor, customer_id: str, window: TimeRange) -> list[RingView]:
        """Groups tied by shared phones or devices and dense transfers around a customer: the
        customer's own ties of those kinds, then dense ties out to `ring_hops`; connected
        groups of at least `ring_min_size` over the dense ties among everyone read."""
        self._centre(customer_id)
        rules = self.rules
        seen = {customer_id}
        frontier = [customer_id]
        for hop in range(rules.ring_hops):
            step = []
            for tie in self._ties(frontier, RING_LINKS, rules.ring_fanout, window):
                first_hop = hop == 0  # the customer's own ties: also to a ring it only pays
                if tie.b in seen or not (first_hop or is_dense(tie, rules)):
                    continue
                if len(seen) >= rules.ring_max_customers:
                    break
                seen.add(tie.b)
                step.append(tie.b)
            frontier = step
        members = sorted(seen)
        ties = {
            edge_id(t.type, t.a, t.b): t
            for t in self._ties(members, RING_LINKS, len(members), window, within=members)
        }
        dense = [t for t in ties.values() if is_dense(t, rules)]
        groups = [g for g in components(members, dense) if len(g) >= rules.ring_min_size]
        shown = self.nodes([m for g in groups for m in g])
        out = []
        for group in groups:
            inside = set(group)
            among = [t for t in ties.values() if t.a in inside and t.b in inside]
            moved = sum(t.amount or 0.0 for t in among if t.type == WorkbenchRelation.TRANSFER)
            people = [shown[m] for m in group if m in shown]
            out.append(
                RingView(
                    ring_id(group),
                    len(group),
                    sum(1 for p in people if p.known_fraud),
                    float(moved),
                    people,
                    [_tie_edge(t) for t in among if is_dense(t, rules)],
                )
            )
        self._audit(actor, "WORKBENCH_RINGS", [customer_id, *shown], NODE_CATEGORIES)
        return out

    def profile(self, actor: Actor, customer_id: str) -> ProfileView | None:
        """A customer's graph risk (with the relations that drove it when a model is loaded),
        vouching timeline, assessments and decisions; None for an unknown customer."""
        customer = self.nodes([customer_id]).get(customer_id)
        if customer is None:
            return None
        categories = list(PROFILE_CATEGORIES)
        risk = RiskView(customer.graph_risk, customer.risk_band, customer.graph_model, [])
        if self.base.scorer is not None:
            now = self.base.now()
            p, version, evidence = self.base._graph_risk(
                lambda scorer: scorer.score_customer(customer_id, now)
            )
            if p is not None:
                risk = RiskView(
                    p, band_of(p, self.base.policy.graph_risk_bands), version, _top(evidence)
                )
                categories.append(GRAPH_MODEL_READ)
        vouches = [
            VouchView(
                r["voucher_id"],
                r["vouchee_id"],
                r["business"] or "",
                int(r["ts"] or 0),
                r["outcome"] or VouchOutcome.PENDING,
                _decision_of(r["id"]),
            )
            for r in self._run(
                q.WB_VOUCHES, {"id": customer_id, "limit": self.rules.profile_vouches}
            )
        ]
        cases = self._run(
            q.WB_CUSTOMER_CASES, {"id": customer_id, "limit": self.rules.profile_assessments}
        )
        assessments = [
            assessment_view(from_props(AssessmentRecord, c["assessment"])) for c in cases
        ]
        decisions = [
            decision_view(from_props(DecisionRecord, c["decision"])) for c in cases if c["decision"]
        ]
        self._audit(actor, "WORKBENCH_PROFILE", [customer_id], categories)
        return ProfileView(customer, risk, vouches, assessments, decisions)


def _node(r: dict[str, Any]) -> NodeView:
    risk = r["graph_risk"]
    return NodeView(
        id=r["id"],
        display_name=mask_name(r["name"] or ""),
        risk_band=r["graph_band"] or UNSCORED if risk is not None else UNSCORED,
        graph_risk=float(risk) if risk is not None else None,
        known_fraud=bool(r["known_fraud"]),
        status=r["status"],
        opened_at=r["opened_at"],
        graph_model=r["graph_model"],
    )


def _page_edge(centre: str, r: dict[str, Any]) -> EdgeView:
    inbound = int(r["outgoing"] or 0) == 0 and int(r["incoming"] or 0) > 0
    source, target = (r["id"], centre) if inbound else (centre, r["id"])
    kinds = sorted(k for k in r["kinds"] or [] if k)
    return EdgeView(
        id=edge_id(r["type"], centre, r["id"]),
        source=source,
        target=target,
        type=r["type"],
        kind=",".join(kinds) or None,
        at=r["at"],
        amount=float(r["amount"]) if r["amount"] is not None else None,
        count=int(r["count"]) if r["count"] is not None else None,
    )


def _tie_edge(t: Tie) -> EdgeView:
    a, b = sorted((t.a, t.b))
    return EdgeView(
        edge_id(t.type, a, b),
        a,
        b,
        t.type,
        amount=float(t.amount) if t.amount is not None else None,
        count=int(t.count) if t.count is not None else None,
    )


def _decision_of(vouch_id: str | None) -> str | None:
    """The decision a vouch came from: decide writes its vouches as `<decision id>:<n>`."""
    if not vouch_id or ":" not in vouch_id:
        return None
    return vouch_id.split(":", 1)[0]


def _top(evidence: dict[str, Any]) -> list[Contribution]:
    out = []
    for n in evidence.get("neighbours") or []:
        types = [MODEL_RELATIONS[r] for r in n.get("relations") or [] if r in MODEL_RELATIONS]
        if types:
            out.append(Contribution(str(n["customer_id"]), types[0], float(n["contribution"])))
    return out
