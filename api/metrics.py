"""Prometheus metrics of one API process (a registry per app, so tests do not share counts)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest


class Metrics:
    """The counters and histograms `/metrics` exposes."""

    def __init__(self) -> None:
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

    def render(self) -> bytes:
        return generate_latest(self.registry)
