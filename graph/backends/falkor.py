"""The FalkorDB backend, over FalkorDB's native protocol with the `falkordb` client."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, cast

import redis
from falkordb import Edge, FalkorDB, Node, Path

from graph import embedded
from graph.bulk import BulkLoader, EdgeColumns, NodeColumns
from graph.errors import StoreError, StoreTimeout, StoreUnavailable
from graph.progress import Progress
from graph.queries import ANY_NODE, FALKOR_CONSTRAINTS, FALKOR_SCHEMA, NODE_KEYS, Query
from graph.settings import Settings

_AUTH_ERRORS = (
    redis.exceptions.AuthenticationError,
    redis.exceptions.AuthenticationWrongNumberOfArgsError,
)
_AUTH_MESSAGE = "graph store refused the password (authentication failed)"


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    if type(value) in _SCALARS:  # most values: no conversion (checked first, it is cheap)
        return value
    if isinstance(value, (Node, Edge)):
        return dict(value.properties)
    if isinstance(value, Path):
        return [_plain(n) for n in value.nodes()]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _safe_message(exc: Exception) -> str:
    # FalkorDB echoes the failing query text after "errCtx"; parameters travel inside that
    # text, so cut it off: personal data must never reach an error message.
    return str(exc).split(" errCtx", 1)[0].strip()


class CommandRefused(StoreError):
    """The server answered a native command with an error (a managed server refusing CONFIG,
    a constraint that exists already, ...)."""


class FalkorStore:
    """A graph in a FalkorDB server (the embedded one, or any reachable server)."""

    backend = "falkordb"

    def __init__(
        self,
        host: str,
        port: int,
        password: str | None,
        graph_name: str,
        timeout_ms: int,
        data_dir: str | None = None,
    ) -> None:
        self.host, self.port, self.graph_name = host, port, graph_name
        self.timeout_ms = timeout_ms
        self.data_dir = data_dir
        with self._errors("connecting"):  # the client talks to the server as it is made
            self.db = FalkorDB(
                host=host,
                port=port,
                password=password,
                socket_connect_timeout=5,
                socket_timeout=max(5.0, timeout_ms / 1000 + 5),
            )
        self.graph = self.db.select_graph(graph_name)

    @classmethod
    def embedded(cls, settings: Settings) -> FalkorStore:
        """Connect to the embedded server of the settings' data dir, starting it if needed."""
        info = embedded.ensure_running(settings.data_dir)
        return cls(
            info.host,
            info.port,
            info.password,
            settings.graph_name,
            settings.query_timeout_ms,
            data_dir=str(settings.data_dir),
        )

    @property
    def connection(self) -> redis.Redis:
        """The raw connection, for native commands such as GRAPH.BULK."""
        return cast(redis.Redis, self.db.connection)  # falkordb ships no type hints

    @contextlib.contextmanager
    def _errors(self, what: str, timeout: int | None = None) -> Iterator[None]:
        """Map the client's exceptions to the store's error types (no personal data)."""
        try:
            yield
        except redis.exceptions.TimeoutError:
            raise StoreTimeout(f"{what} ran past {timeout or self.timeout_ms} ms") from None
        except _AUTH_ERRORS:
            raise StoreUnavailable(_AUTH_MESSAGE) from None
        except (redis.exceptions.ConnectionError, OSError) as exc:
            raise StoreUnavailable(
                f"graph store at {self.host}:{self.port} unreachable ({type(exc).__name__})"
            ) from None
        except redis.exceptions.ResponseError as exc:
            raise StoreError(f"{what} failed: {_safe_message(exc)}") from None
        except redis.exceptions.RedisError as exc:  # a malformed reply, a client-side error
            raise StoreError(f"{what} failed ({type(exc).__name__})") from None

    def run(
        self, query: Query, params: Mapping[str, Any] | None = None, timeout_ms: int | None = None
    ) -> list[dict[str, Any]]:
        timeout = timeout_ms or self.timeout_ms
        call = self.graph.query if query.write else self.graph.ro_query
        with self._errors(f"query {query.name}", timeout):
            try:
                result = call(query.text, dict(params) if params else None, timeout=timeout)
            except redis.exceptions.ResponseError as exc:
                message = _safe_message(exc)
                if "timed out" in message.lower():
                    raise StoreTimeout(f"query {query.name} ran past {timeout} ms") from None
                raise StoreError(f"query {query.name} failed: {message}") from None
        names = [column[1] for column in result.header]
        names = [n.decode() if isinstance(n, bytes) else n for n in names]
        return [dict(zip(names, map(_plain, row), strict=True)) for row in result.result_set]

    def _command(self, *args: Any) -> Any:
        with self._errors(f"command {args[0]}"):
            try:
                return self.connection.execute_command(*args)
            except redis.exceptions.ResponseError as exc:
                raise CommandRefused(f"command {args[0]} failed: {_safe_message(exc)}") from None

    def ensure_schema(self) -> None:
        for query in FALKOR_SCHEMA:
            try:
                self.run(query)
            except StoreError as exc:
                if "already indexed" not in str(exc):
                    raise
        for label, prop, unique in NODE_KEYS:
            if not unique:
                continue
            try:
                self._command(
                    "GRAPH.CONSTRAINT",
                    "CREATE",
                    self.graph_name,
                    "UNIQUE",
                    "NODE",
                    label,
                    "PROPERTIES",
                    1,
                    prop,
                )
            except CommandRefused as exc:
                if "already exists" not in str(exc).lower():
                    raise StoreError(f"constraint on {label}.{prop}: {exc}") from None
        self.wait_for_schema()

    def wait_for_schema(self, timeout_s: float = 600.0) -> None:
        """Block until every constraint is built (FalkorDB builds them in the background;
        a freshly loaded graph is not ready for traffic before that)."""
        deadline = time.monotonic() + timeout_s
        while any(c["status"] != "OPERATIONAL" for c in self.constraints()):
            if time.monotonic() > deadline:
                raise StoreTimeout(f"constraints not built within {timeout_s:.0f} s")
            time.sleep(0.05)

    def constraints(self) -> list[dict[str, Any]]:
        """The constraints FalkorDB holds for this graph, with their status."""
        return self.run(FALKOR_CONSTRAINTS)

    @contextlib.contextmanager
    def aof_rewrite_paused(self) -> Iterator[None]:
        """Hold off automatic append-only-file rewrites (a bulk load meeting the rewrite's fork
        was seen to hang the server), then restore the setting and compact the file into a
        snapshot once, returning when the rewrite is done (so that a restart right after the
        load reads the snapshot instead of replaying the load)."""
        try:
            before = self._command("CONFIG", "GET", "auto-aof-rewrite-percentage")
            percentage = before[1] if len(before) > 1 else b"100"
            self._command("CONFIG", "SET", "auto-aof-rewrite-percentage", "0")
        except CommandRefused:  # a managed server may refuse CONFIG
            yield
            return
        completed = False
        try:
            yield
            completed = True
        finally:
            self._command("CONFIG", "SET", "auto-aof-rewrite-percentage", percentage)
            if completed:
                with self._errors("compacting the append-only file"):
                    embedded.rewrite_aof(self.connection)
            else:  # the load failed: do not hold up its error, compact in the background
                with contextlib.suppress(StoreError):
                    self._command("BGREWRITEAOF")

    def is_empty(self) -> bool:
        keys = self._command("GRAPH.LIST")
        names = {k.decode() if isinstance(k, bytes) else k for k in keys}
        if self.graph_name not in names:
            return True
        return not self.run(ANY_NODE)

    def clear(self) -> None:
        with self._errors("clearing the graph"):
            try:
                self.graph.delete()
            except redis.exceptions.ResponseError as exc:
                if "empty key" not in str(exc).lower() and "invalid graph" not in str(exc).lower():
                    raise StoreError(f"clearing graph failed: {_safe_message(exc)}") from None

    def ping(self) -> None:
        self._command("PING")

    def bulk_loader(self) -> BulkLoader:
        """GRAPH.BULK, for any FalkorDB server."""
        return FalkorBulkLoader(self)

    def close(self) -> None:
        self.db.connection.close()


class FalkorBulkLoader:
    """A first load through GRAPH.BULK, with automatic AOF rewrites held off meanwhile."""

    def __init__(self, store: FalkorStore) -> None:
        self.store = store

    def refusal(self) -> str | None:
        return None

    def load(
        self, nodes: Sequence[NodeColumns], edges: Sequence[EdgeColumns], progress: bool
    ) -> None:
        from graph.backends.falkordb_bulk import bulk_insert_columns  # Arrow: only when loading

        store = self.store
        # GRAPH.BULK creates its graph: one holding only the schema (`ensure_schema` ran, no
        # data yet) is removed first; the schema is built again after the data.
        if not store.is_empty():
            raise StoreError("the graph is not empty (bulk is for a first load)")
        store.clear()
        with Progress("bulk insert", unit="entities", enabled=progress) as bar:
            seen: dict[str, int] = {}

            def on_progress(kind: str, count: int) -> None:
                bar.update(count - seen.get(kind, 0))
                seen[kind] = count

            with store.aof_rewrite_paused(), store._errors("bulk insert"):
                try:
                    bulk_insert_columns(
                        store.connection, store.graph_name, nodes, edges, progress=on_progress
                    )
                except (ValueError, RuntimeError) as exc:
                    # the blocks' validation and the count check name blocks and columns,
                    # never a value
                    raise StoreError(f"bulk insert failed: {exc}") from None
        store.ensure_schema()
