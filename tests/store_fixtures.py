"""What the store fixtures share with the test modules: which graph Neo4j's one database holds."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from graph.settings import load_settings
from graph.store import GraphStore, open_store


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
    store = open_store(dataclasses.replace(load_settings(), graph_name=name))
    if backend == "neo4j":
        if Neo4jOccupant.take(name):
            store.clear()
            load(store)
    elif store.is_empty():
        load(store)
    return store
