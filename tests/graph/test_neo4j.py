"""The same schema, queries and ETL against a Neo4j 5 server, when one is configured.

Set NEO4J_URI (e.g. neo4j://localhost:7687), NEO4J_USER and NEO4J_PASSWORD to run these; the
graph in that database is cleared, so point them at a scratch database.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from etl.load import Loader
from graph import queries as q
from graph.settings import load_settings
from graph.store import GraphStore, open_store

pytestmark = pytest.mark.skipif(
    not os.environ.get("NEO4J_URI"),
    reason="NEO4J_URI is not set: no Neo4j server to test against (see tests/graph/test_neo4j.py)",
)


@pytest.fixture
def neo4j_store(data_dir: Path) -> Iterator[GraphStore]:
    settings = dataclasses.replace(load_settings(), graph_uri=os.environ["NEO4J_URI"])
    store = open_store(settings)
    store.clear()
    store.ensure_schema()
    yield store
    store.clear()


def test_schema_setup_is_idempotent_on_neo4j(neo4j_store: GraphStore) -> None:
    neo4j_store.ensure_schema()
    assert neo4j_store.backend == "neo4j"


def test_every_read_query_runs_on_neo4j(neo4j_store: GraphStore) -> None:
    schema = {x.name for x in q.FALKOR_SCHEMA + q.NEO4J_SCHEMA}
    for query in q.ALL:
        if query.name not in schema and query.name != "falkor_constraints":
            neo4j_store.run(query, query.params)


def test_load_is_idempotent_on_neo4j(neo4j_store: GraphStore, small_bank: Path) -> None:
    first = Loader(neo4j_store, progress=False).load(small_bank)
    assert first.rows_rejected == 0 and first.nodes_after["Customer"] == 1000
    again = Loader(neo4j_store, progress=False).load(small_bank)
    assert again.nodes_written == 0 and again.relationships_written == 0
