"""Every query passes Neo4j's Cypher front end and runs on both backends."""

from __future__ import annotations

import pytest

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


@pytest.mark.parametrize("query", [x for x in q.ALL if x.name not in SCHEMA], ids=lambda x: x.name)
def test_query_runs_on_the_store(store: GraphStore, query: q.Query) -> None:
    if q.BACKEND_ONLY.get(query.name, store.backend) != store.backend:
        pytest.skip(f"{query.name} is for {q.BACKEND_ONLY[query.name]} only")
    store.run(query, query.params)


def test_schema_setup_is_idempotent_and_makes_ids_unique(store: GraphStore) -> None:
    store.ensure_schema()  # the fixture ran it once already
    store.ensure_schema()
    constraints = {
        (c["label"], tuple(c["properties"]), c["type"])
        for c in store.constraints()  # type: ignore[attr-defined]
    }
    unique = {(label, (prop,), "UNIQUE") for label, prop, is_unique in q.NODE_KEYS if is_unique}
    assert unique <= constraints
