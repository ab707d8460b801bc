"""The graph store: connection, backends, schema and every Cypher query."""

from graph.errors import ConfigError, StoreError, StoreTimeout, StoreUnavailable
from graph.queries import Query
from graph.settings import Settings, load_settings
from graph.store import GraphStore, Row, open_store

__all__ = [
    "ConfigError",
    "GraphStore",
    "Query",
    "Row",
    "Settings",
    "StoreError",
    "StoreTimeout",
    "StoreUnavailable",
    "load_settings",
    "open_store",
]
