"""Prometheus metrics of one API process (a registry per app, so tests do not share counts).

Every label takes its values from a closed set, so no client can add series: an operation is
one of the schema's root fields or `other`, a status `ok` or `error`, a refusal one of
REFUSALS.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

OTHER = "other"
STATUSES = ("ok", "error")
REFUSALS = (
    "unauthenticated",
    "rate_limited",
    "body_too_large",
    "query_too_long",
    "unavailable",
)


class Metrics:
    """The counters and histograms `/metrics` exposes."""

    def __init__(self, operations: tuple[str, ...] = ()) -> None:
        self.operations = frozenset(operations)
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "vouchgraph_graphql_requests_total",
            "GraphQL operations served",
            ("operation", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "vouchgraph_graphql_seconds",
            "GraphQL operation latency",
            ("operation",),
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=self.registry,
        )
        self.decisions = Counter(
            "vouchgraph_decisions_total",
            "Decisions by step, business and outcome",
            ("step", "business", "outcome"),
            registry=self.registry,
        )
        self.fail_closed = Counter(
            "vouchgraph_fail_closed_total",
            "Decision-path failures answered with a refusal",
            ("operation", "reason"),
            registry=self.registry,
        )
        self.outbox = Counter(
            "vouchgraph_outbox_messages_total",
            "Assisted-authentication messages by result",
            ("channel", "status"),
            registry=self.registry,
        )
        self.ready = Gauge("vouchgraph_ready", "1 when the store answers", registry=self.registry)
        self.refused = Counter(
            "vouchgraph_http_refused_total",
            "/graphql requests refused before any parsing, by reason",
            ("reason",),
            registry=self.registry,
        )
        for reason in REFUSALS:
            self.refused.labels(reason)

    def operation(self, root_field: str | None) -> str:
        """The `operation` label of a root field: itself when the schema has it, else `other`."""
        return root_field if root_field in self.operations else OTHER

    def observe(self, root_field: str | None, ok: bool, seconds: float) -> None:
        """Count and time one executed operation."""
        operation = self.operation(root_field)
        self.requests.labels(operation, STATUSES[0] if ok else STATUSES[1]).inc()
        self.latency.labels(operation).observe(seconds)

    def render(self) -> bytes:
        """The exposition text of every metric."""
        return generate_latest(self.registry)
