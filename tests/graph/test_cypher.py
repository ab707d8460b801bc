"""Every query passes Neo4j's Cypher front end and runs on both backends."""

from __future__ import annotations

import re

import pytest
from cypher_text import returned_names

from graph import queries as q
from graph.cypherlint import lint, neo4j_problems, subset_problems
from graph.store import GraphStore


def test_every_query_passes_the_neo4j_cypher_lint() -> None:
    errors = [str(p) for p in lint() if p.severity == "error"]
    assert errors == []


def test_lint_reports_a_syntax_error_and_an_undeclared_parameter() -> None:
    bad = [
        q.Query("typo", "MATCH (c:Customer {id: $id}) RETRN c", {"id": "C1"}),
        q.Query("undeclared", "MATCH (c:Customer {id: $id}) RETURN c", {}),
    ]
    problems = neo4j_problems(bad)
    assert {p.query for p in problems if p.severity == "error"} == {"typo", "undeclared"}
    assert any("Parameter $id is not defined" in p.message for p in problems)


def test_lint_forbids_constructs_outside_the_shared_subset() -> None:
    bad = [
        q.Query("regex", "MATCH (c:Customer) WHERE c.name =~ 'A.*' RETURN c"),
        q.Query("exists", "MATCH (c) WHERE EXISTS { (c)--() } RETURN c"),
        q.Query("elem", "MATCH (c) RETURN elementId(c)"),
    ]
    assert {p.query for p in subset_problems(bad)} == {"regex", "exists", "elem"}


def test_queries_have_unique_names() -> None:
    names = [query.name for query in q.ALL]
    assert len(names) == len(set(names))


SCHEMA = {x.name for x in q.FALKOR_SCHEMA + q.NEO4J_SCHEMA}
RUNNABLE = [x for x in q.ALL if x.name not in SCHEMA]
WRITING = re.compile(r"\b(?:CREATE|MERGE|SET|DELETE|REMOVE)\b")


def runs_here(store: GraphStore, query: q.Query) -> bool:
    return q.BACKEND_ONLY.get(query.name, store.backend) == store.backend


def totals(store: GraphStore) -> tuple[int, int]:
    nodes = store.run(q.NODE_TOTAL, {})[0]["count"]
    return nodes, store.run(q.RELATIONSHIP_TOTAL, {})[0]["count"]


@pytest.fixture
def seeded(store: GraphStore) -> GraphStore:
    """The graph the ETL upserts make from their example parameters (customers C1 and C2,
    their ties, phones, devices...), so that reads find something."""
    for query in RUNNABLE:
        if query.write and query.name.startswith("upsert_"):
            store.run(query, query.params)
    return store


def columns_match(query: q.Query, rows: list[dict[str, object]]) -> bool:
    return all(sorted(row) == sorted(returned_names(query)) for row in rows)


@pytest.mark.parametrize("query", RUNNABLE, ids=lambda x: x.name)
def test_a_query_is_marked_as_a_write_exactly_when_it_writes(query: q.Query) -> None:
    assert query.write == bool(WRITING.search(query.text))


@pytest.mark.parametrize("query", [x for x in RUNNABLE if not x.write], ids=lambda x: x.name)
def test_a_read_query_runs_returns_its_named_columns_and_changes_nothing(
    seeded: GraphStore, query: q.Query
) -> None:
    if not runs_here(seeded, query):
        pytest.skip(f"{query.name} is for {q.BACKEND_ONLY[query.name]} only")
    before = totals(seeded)
    rows = seeded.run(query, query.params)
    assert totals(seeded) == before
    assert columns_match(query, rows)


@pytest.mark.parametrize("query", [x for x in RUNNABLE if x.write], ids=lambda x: x.name)
def test_a_write_query_runs_and_returns_its_named_columns(
    seeded: GraphStore, query: q.Query
) -> None:
    if not runs_here(seeded, query):
        pytest.skip(f"{query.name} is for {q.BACKEND_ONLY[query.name]} only")
    rows = seeded.run(query, query.params)
    assert "RETURN" in query.text or rows == []
    assert "RETURN" not in query.text or columns_match(query, rows)


def test_the_seeded_graph_is_what_the_reads_find(seeded: GraphStore) -> None:
    nodes, relationships = totals(seeded)
    assert nodes > 0 and relationships > 0
    reads = [x for x in RUNNABLE if not x.write and runs_here(seeded, x)]
    found = [x.name for x in reads if seeded.run(x, x.params)]
    assert len(found) >= len(reads) // 2, found


def test_schema_setup_is_idempotent_and_makes_ids_unique(store: GraphStore) -> None:
    store.ensure_schema()  # the fixture ran it once already
    store.ensure_schema()
    constraints = {
        (c["label"], tuple(c["properties"]), c["type"])
        for c in store.constraints()  # type: ignore[attr-defined]
    }
    unique = {(label, (prop,), "UNIQUE") for label, prop, is_unique in q.NODE_KEYS if is_unique}
    assert unique <= constraints
