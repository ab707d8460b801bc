"""What every backend promises the rest of the project: the same values back, the same errors."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from graph import queries as q
from graph.errors import StoreError, StoreTimeout, StoreUnavailable
from graph.settings import Settings
from graph.store import GraphStore, open_store

ECHO = q.Query(
    "echo",
    "CREATE (n:Probe {id: $id, whole: $whole, real: $real, flag: $flag, words: $words, "
    "numbers: $numbers, absent: $absent, text: $text}) RETURN properties(n) AS node, "
    "$whole AS whole, $real AS real, $numbers AS numbers, {a: $whole, b: [$text]} AS nested",
    write=True,
)
# Far more work than the deadline allows, in many small operations: FalkorDB checks its
# deadline between operations, Neo4j as it goes.
SLOW = q.Query(
    "slow",
    "UNWIND range(1, 5000) AS x UNWIND range(1, 5000) AS y WITH x WHERE x + y < 0 "
    "RETURN count(x) AS n",
)
DUPLICATE = q.Query(
    "duplicate",
    "CREATE (:Customer {id: $id}) CREATE (:Customer {id: $id})",
    write=True,
)
BAD = q.Query("bad", "MATCH (n:Customer) RETURN n.id AS id ORDER BY nope")


def test_values_come_back_with_their_types(store: GraphStore) -> None:
    params = {
        "id": "P1",
        "whole": 3,
        "real": 1.0,
        "flag": False,
        "words": ["a", "b"],
        "numbers": [1.5, 2.0],
        "absent": None,
        "text": "名字 ünï",
    }
    row = store.run(ECHO, params)[0]
    node = row["node"]
    assert node == {k: v for k, v in params.items() if v is not None}
    assert "absent" not in node  # a null is no property, on both engines
    assert type(node["whole"]) is int and type(row["whole"]) is int
    assert type(node["real"]) is float and type(row["real"]) is float
    assert row["numbers"] == [1.5, 2.0] and row["nested"] == {"a": 3, "b": ["名字 ünï"]}


def test_a_query_past_its_deadline_raises_store_timeout(store: GraphStore) -> None:
    with pytest.raises(StoreTimeout):
        store.run(SLOW, timeout_ms=100)


def test_a_constraint_violation_is_a_store_error_without_the_value(store: GraphStore) -> None:
    with pytest.raises(StoreError) as raised:
        store.run(DUPLICATE, {"id": "SECRET-ID-42"})
    assert not isinstance(raised.value, StoreUnavailable)
    assert "SECRET-ID-42" not in str(raised.value)
    assert store.run(q.EXISTING_CUSTOMERS, {"ids": ["SECRET-ID-42"]}) == []  # nothing half-done


def test_a_bad_query_is_a_store_error_naming_the_query(store: GraphStore) -> None:
    with pytest.raises(StoreError, match="bad"):
        store.run(BAD)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.only_backend("neo4j")
def test_an_unreachable_neo4j_is_store_unavailable(settings: Settings) -> None:
    unreachable = dataclasses.replace(
        settings,
        graph_uri=f"bolt://127.0.0.1:{_closed_port()}",
        neo4j_password="x",
        query_timeout_ms=2000,
    )
    store = open_store(unreachable)
    with pytest.raises(StoreUnavailable):
        store.run(q.ROUND_TRIP)
    with pytest.raises(StoreUnavailable):
        store.ping()


@pytest.mark.only_backend("neo4j")
def test_a_wrong_neo4j_password_is_store_unavailable(settings: Settings) -> None:
    # another user name: Neo4j locks a user out for a while after failed logins
    wrong = dataclasses.replace(settings, neo4j_user="intruder", neo4j_password="wrong")
    with pytest.raises(StoreUnavailable, match="credentials"):
        open_store(wrong).run(q.ROUND_TRIP)
