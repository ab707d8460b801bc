"""What the store fixtures share with the test modules: which graph Neo4j's one database holds."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from graph.settings import Settings, load_settings
from graph.store import GraphStore, open_store

# The environment a test on each backend runs in (set by the `backend` fixture; the autouse
# `backend_environment` fixture applies it around each test, and only that test).
NEO4J_KEYS = ("VOUCHGRAPH_GRAPH_URI", "NEO4J_USER", "NEO4J_PASSWORD", "VOUCHGRAPH_NEO4J_DIR")
BACKEND_ENV: dict[str, dict[str, str]] = {"falkordb": {}}


def backend_settings(backend: str, **changes: object) -> Settings:
    """The settings of `backend`, whatever the environment holds now (for fixtures wider than
    a test, which are made before a test's environment is)."""
    env = BACKEND_ENV[backend]
    settings = dataclasses.replace(
        load_settings(),
        graph_uri=env.get("VOUCHGRAPH_GRAPH_URI"),
        neo4j_user=env.get("NEO4J_USER", "neo4j"),
        neo4j_password=env.get("NEO4J_PASSWORD"),
    )
    return dataclasses.replace(settings, **changes)  # type: ignore[arg-type]


class Neo4jOccupant:
    """Which fixture's graph the one Neo4j database holds now."""

    holder: str | None = None

    @classmethod
    def take(cls, name: str) -> bool:
        """Claim the database for `name`; True when it held something else (reload it)."""
        changed = cls.holder != name
        cls.holder = name
        return changed


def loaded_graph(backend: str, name: str, load: Callable[[GraphStore], None]) -> GraphStore:
    """The graph `name`, loaded with `load` unless it is already there (on Neo4j: unless
    another test has used the database since)."""
    store = open_store(backend_settings(backend, graph_name=name))
    if backend == "neo4j":
        if Neo4jOccupant.take(name):
            store.clear()
            load(store)
    elif store.is_empty():
        load(store)
    return store
