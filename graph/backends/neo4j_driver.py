"""The Neo4j 5 backend, over Bolt with the official driver: one driver per process."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import neo4j
from neo4j import GraphDatabase
from neo4j import exceptions as neo4j_errors
from neo4j.graph import Node, Path, Relationship

from graph.errors import ConfigError, StoreError, StoreTimeout, StoreUnavailable
from graph.queries import (
    ANY_NODE,
    DELETE_CHUNK,
    DELETE_RELATIONSHIP_CHUNK,
    NEO4J_CONSTRAINTS,
    NEO4J_SCHEMA,
    ROUND_TRIP,
    Query,
)
from graph.settings import Settings

if TYPE_CHECKING:
    from graph.bulk import BulkLoader

_drivers: dict[tuple[str, str, str], neo4j.Driver] = {}
_drivers_lock = threading.Lock()


def _driver(uri: str, user: str, password: str) -> neo4j.Driver:
    with _drivers_lock:
        key = (uri, user, password)  # other credentials never borrow a logged-in driver
        if key not in _drivers:
            _drivers[key] = GraphDatabase.driver(
                uri,
                auth=(user, password),
                # the shared query texts name labels a fresh graph lacks: no warnings
                notifications_min_severity="OFF",
                # a managed transaction retries transient errors; on a decision path with its
                # own deadline, give up soon and let the flow fail closed
                max_transaction_retry_time=5.0,
            )
        return _drivers[key]


def _plain(value: Any) -> Any:
    if isinstance(value, (Node, Relationship)):
        return dict(value)
    if isinstance(value, Path):
        return [dict(n) for n in value.nodes]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _mapped(exc: neo4j_errors.Neo4jError, name: str, timeout: float) -> StoreError:
    """The store error for a server error, without the server's message: it may quote the
    failing value (a constraint violation names the duplicate key)."""
    code = exc.code or ""
    if "TransactionTimedOut" in code or "TransactionTimedOutClientConfiguration" in code:
        return StoreTimeout(f"query {name} ran past {timeout:.1f} s")
    if code.startswith("Neo.TransientError.General.DatabaseUnavailable"):
        return StoreUnavailable(f"query {name}: Neo4j database unavailable")
    return StoreError(f"query {name} failed: {code or type(exc).__name__}")


class Neo4jStore:
    """A graph in a Neo4j 5 database, each statement one managed transaction."""

    backend = "neo4j"

    def __init__(
        self, driver: neo4j.Driver, database: str | None, timeout_ms: int, uri: str
    ) -> None:
        self.driver, self.database, self.timeout_ms, self.uri = driver, database, timeout_ms, uri
        # A routed cluster (neo4j://) chains each statement after the last one's bookmark, so a
        # read on a follower sees the write before it; one server (bolt://) needs none, and
        # bookmarks cost a millisecond a statement (bench/backends.py, 2026-12-02).
        self.bookmarks = neo4j.GraphDatabase.bookmark_manager() if uri.startswith("neo4j") else None

    @classmethod
    def connect(cls, settings: Settings) -> Neo4jStore:
        if settings.graph_uri is None:
            raise ConfigError("VOUCHGRAPH_GRAPH_URI: a neo4j:// or bolt:// URI is required")
        if not settings.neo4j_password:
            raise ConfigError("NEO4J_PASSWORD: required for a Neo4j store")
        try:
            driver = _driver(settings.graph_uri, settings.neo4j_user, settings.neo4j_password)
        except (neo4j_errors.ConfigurationError, ValueError) as exc:
            # (its type only: a message may quote the URI, which may hold credentials)
            raise ConfigError(f"VOUCHGRAPH_GRAPH_URI: not usable ({type(exc).__name__})") from None
        return cls(driver, settings.neo4j_database, settings.query_timeout_ms, settings.graph_uri)

    def _home_database(self) -> str:
        """The database to use: the configured one, else the user's home database, asked once
        (leaving it unnamed would make the driver ask again for every statement)."""
        if self.database is None:
            with self.driver.session() as session:
                self.database = session.run(ROUND_TRIP.text).consume().database
        return self.database or "neo4j"

    def run(
        self, query: Query, params: Mapping[str, Any] | None = None, timeout_ms: int | None = None
    ) -> list[dict[str, Any]]:
        timeout = (timeout_ms or self.timeout_ms) / 1000
        try:
            # execute_query: a managed transaction (retried on transient errors) without a
            # session of our own per statement
            records, _summary, _keys = self.driver.execute_query(
                neo4j.Query(query.text, timeout=timeout),
                dict(params or {}),
                database_=self._home_database(),
                routing_=neo4j.RoutingControl.WRITE if query.write else neo4j.RoutingControl.READ,
                bookmark_manager_=self.bookmarks,
            )
            return [{k: _plain(v) for k, v in record.items()} for record in records]
        except neo4j_errors.AuthError:
            raise StoreUnavailable(
                "Neo4j refused the credentials (authentication failed)"
            ) from None
        except (neo4j_errors.ServiceUnavailable, neo4j_errors.SessionExpired, OSError) as exc:
            raise StoreUnavailable(f"Neo4j unreachable ({type(exc).__name__})") from None
        except neo4j_errors.Neo4jError as exc:
            raise _mapped(exc, query.name, timeout) from None
        except neo4j_errors.DriverError as exc:
            raise StoreError(f"query {query.name} failed: {type(exc).__name__}") from None

    def ensure_schema(self) -> None:
        for query in NEO4J_SCHEMA:
            self.run(query)

    def constraints(self) -> list[dict[str, Any]]:
        """The uniqueness constraints, in FalkorStore.constraints()'s shape."""
        return [
            {
                **row,
                "type": "UNIQUE" if row["type"] == "UNIQUENESS" else row["type"],
                "status": "OPERATIONAL",
            }
            for row in self.run(NEO4J_CONSTRAINTS)
        ]

    def is_empty(self) -> bool:
        return not self.run(ANY_NODE)

    def clear(self) -> None:
        for query in (DELETE_RELATIONSHIP_CHUNK, DELETE_CHUNK):
            while self.run(query, {"limit": 20_000})[0]["deleted"]:
                pass

    def ping(self) -> None:
        try:
            self.driver.verify_connectivity()
        except (
            neo4j_errors.ServiceUnavailable,
            neo4j_errors.SessionExpired,
            neo4j_errors.AuthError,
            OSError,
        ) as exc:
            raise StoreUnavailable(f"Neo4j unreachable ({type(exc).__name__})") from None
        except (neo4j_errors.Neo4jError, neo4j_errors.DriverError) as exc:
            raise StoreError(f"Neo4j ping failed ({type(exc).__name__})") from None

    def bulk_loader(self) -> BulkLoader:
        """neo4j-admin's import, when this store is the local Neo4j's `neo4j` database."""
        from graph.backends.neo4j_bulk import Neo4jBulkLoader  # Arrow: only when loading

        return Neo4jBulkLoader(self)

    def close(self) -> None:
        """The driver is shared by the process; it is closed at exit by the driver itself."""
