"""The graph store interface and the factory that picks its backend from the settings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from graph.bulk import BulkLoader
from graph.queries import Query
from graph.settings import Settings, load_settings

Row = dict[str, Any]


class GraphStore(Protocol):
    """What the rest of the project may ask of the graph, whichever engine holds it."""

    backend: str

    def run(
        self, query: Query, params: Mapping[str, Any] | None = None, timeout_ms: int | None = None
    ) -> list[Row]:
        """Run one named query (one atomic statement) and return its rows as dicts."""
        ...

    def ensure_schema(self) -> None:
        """Create the uniqueness constraints and lookup indexes; safe to call again."""
        ...

    def is_empty(self) -> bool:
        """True when the graph holds no node at all (the condition for a bulk first load)."""
        ...

    def clear(self) -> None:
        """Delete every node and relationship of the graph (tests and `load --replace`)."""
        ...

    def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""
        ...

    def bulk_loader(self) -> BulkLoader:
        """The store's native path for a first load; its `refusal()` says if it can take one."""
        ...

    def close(self) -> None: ...


def open_store(settings: Settings | None = None) -> GraphStore:
    """Open the store the settings name: Neo4j for a neo4j:// or bolt:// URI, else embedded."""
    settings = settings or load_settings()
    if settings.embedded:
        from graph.backends.falkor import FalkorStore

        return FalkorStore.embedded(settings)
    from graph.backends.neo4j_driver import Neo4jStore

    return Neo4jStore.connect(settings)
