"""Tests for the GRAPH.BULK writer, against a real FalkorDB server (no mocks)."""

from __future__ import annotations

import itertools
import math
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from falkordb import FalkorDB

from graph import embedded
from graph.backends.falkordb_bulk import EdgeBlock, NodeBlock, bulk_insert


@pytest.fixture
def db(data_dir: Path) -> Iterator[FalkorDB]:
    """A client of the session's embedded server (the project's own, as users run it)."""
    info = embedded.ensure_running(data_dir)
    client = FalkorDB(host=info.host, port=info.port, password=info.password)
    yield client
    client.connection.close()


@pytest.fixture
def name() -> str:
    """A graph name no other test uses."""
    return f"bulk_{uuid.uuid4().hex[:12]}"


def _rows(db: FalkorDB, graph: str, query: str) -> list[list[Any]]:
    return db.select_graph(graph).query(query).result_set


def _dump(db: FalkorDB, graph: str) -> tuple[list[Any], list[Any]]:
    """Every node and relationship with ids, labels/types and properties, in id order."""
    nodes = _rows(db, graph, "MATCH (n) RETURN ID(n), labels(n), properties(n) ORDER BY ID(n)")
    rels = _rows(
        db,
        graph,
        "MATCH (a)-[r]->(b) RETURN ID(a), type(r), ID(b), properties(r) ORDER BY ID(r)",
    )
    return [[i, sorted(lbl), dict(p)] for i, lbl, p in nodes], [
        [a, t, b, dict(p)] for a, t, b, p in rels
    ]


def _bulk_calls(db: FalkorDB) -> int:
    stats = db.connection.info("commandstats")
    for key, value in stats.items():
        if key.lower() == "cmdstat_graph.bulk":
            return int(value["calls"])
    return 0


PEOPLE = (
    ("name", "age", "score", "vip", "tags", "limits"),
    [
        ("Ada", 36, 0.5, True, ["a", "b"], [1, 2, 3]),
        ("Grace", -7, -1.25e300, False, [], [2**63 - 1, -(2**63)]),
        ("Ω", 0, 0.0, None, None, [1.5, "x", True, None]),
    ],
)
ACCOUNTS = (
    ("iban", "balance", "opened"),
    [
        ("DE00 1234", 1e6, 2024),
        ("FR76 9999", None, None),
    ],
)


def _sample_blocks() -> tuple[list[NodeBlock], list[EdgeBlock]]:
    nodes = [
        NodeBlock("Person", PEOPLE[0], list(PEOPLE[1])),
        NodeBlock("Account", ACCOUNTS[0], iter(ACCOUNTS[1])),
    ]
    edges = [
        EdgeBlock("OWNS", ("since", "share"), [(0, 3, 2020, 1.0), (1, 4, None, 0.5)]),
        EdgeBlock("VOUCHES", (), [(0, 1), (1, 2), (2, 0)]),
        EdgeBlock("SELF", ("note",), [(3, 3, "loop")]),
    ]
    return nodes, edges


def test_round_trip_every_type(db: FalkorDB, name: str) -> None:
    nodes, edges = _sample_blocks()
    result = bulk_insert(db.connection, name, nodes, edges)
    assert result["nodes"] == 5
    assert result["relationships"] == 6
    assert result["seconds"] >= 0

    got_nodes, got_rels = _dump(db, name)
    assert got_nodes == [
        [
            0,
            ["Person"],
            {
                "name": "Ada",
                "age": 36,
                "score": 0.5,
                "vip": True,
                "tags": ["a", "b"],
                "limits": [1, 2, 3],
            },
        ],
        [
            1,
            ["Person"],
            {
                "name": "Grace",
                "age": -7,
                "score": -1.25e300,
                "vip": False,
                "tags": [],
                "limits": [2**63 - 1, -(2**63)],
            },
        ],
        [2, ["Person"], {"name": "Ω", "age": 0, "score": 0.0, "limits": [1.5, "x", True, None]}],
        [3, ["Account"], {"iban": "DE00 1234", "balance": 1e6, "opened": 2024}],
        [4, ["Account"], {"iban": "FR76 9999"}],
    ]
    assert got_rels == [
        [0, "OWNS", 3, {"since": 2020, "share": 1.0}],
        [1, "OWNS", 4, {"share": 0.5}],
        [0, "VOUCHES", 1, {}],
        [1, "VOUCHES", 2, {}],
        [2, "VOUCHES", 0, {}],
        [3, "SELF", 3, {"note": "loop"}],
    ]
    # Types survive as the server's own types, not strings.
    assert _rows(
        db,
        name,
        "MATCH (p:Person {name: 'Ada'}) "
        "RETURN p.age + 1, p.score * 2, NOT p.vip, size(p.tags), p.limits[2]",
    ) == [[37, 1.0, False, 2, 3]]
    # Relationships reference the nodes by insertion order across blocks.
    assert _rows(
        db, name, "MATCH (p:Person)-[:OWNS]->(a:Account) RETURN p.name, a.iban ORDER BY p.name"
    ) == [["Ada", "DE00 1234"], ["Grace", "FR76 9999"]]


def test_none_means_property_absent(db: FalkorDB, name: str) -> None:
    nodes = [NodeBlock("N", ("a", "b"), [(None, 1), (None, None)])]
    edges = [EdgeBlock("R", ("w",), [(0, 1, None)])]
    bulk_insert(db.connection, name, nodes, edges)
    assert _rows(db, name, "MATCH (n:N) RETURN keys(n) ORDER BY ID(n)") == [[["b"]], [[]]]
    assert _rows(db, name, "MATCH ()-[r:R]->() RETURN keys(r)") == [[[]]]
    assert _rows(db, name, "MATCH (n:N) WHERE n.a IS NULL RETURN count(n)") == [[2]]


def test_nodes_without_properties(db: FalkorDB, name: str) -> None:
    nodes = [
        NodeBlock("Bare", (), [()] * 3),
        NodeBlock("Named", ("n",), [("x",)]),
        NodeBlock("Bare2", (), iter([(), ()]), extra_labels=("Extra",)),
    ]
    edges = [EdgeBlock("R", (), [(0, 5), (4, 3)])]
    result = bulk_insert(db.connection, name, nodes, edges)
    assert (result["nodes"], result["relationships"]) == (6, 2)
    got_nodes, got_rels = _dump(db, name)
    assert got_nodes == [
        [0, ["Bare"], {}],
        [1, ["Bare"], {}],
        [2, ["Bare"], {}],
        [3, ["Named"], {"n": "x"}],
        [4, ["Bare2", "Extra"], {}],
        [5, ["Bare2", "Extra"], {}],
    ]
    assert got_rels == [[0, "R", 5, {}], [4, "R", 3, {}]]
    # The placeholder reuses a real property name: no stray property key in the graph.
    keys = _rows(db, name, "CALL db.propertyKeys() YIELD propertyKey RETURN propertyKey")
    assert keys == [["n"]]


def test_graph_without_any_property(db: FalkorDB, name: str) -> None:
    bulk_insert(db.connection, name, [NodeBlock("A", (), [(), ()])], [EdgeBlock("R", (), [(0, 1)])])
    assert _rows(db, name, "MATCH (a)-[r]->(b) RETURN ID(a), keys(a), keys(r), ID(b)") == [
        [0, [], [], 1]
    ]


def test_unicode_quotes_and_odd_names(db: FalkorDB, name: str) -> None:
    texts = [
        "O'Brien",
        'say "hi"',
        "back\\slash",
        "line\nbreak\ttab",
        "emoji 🏦💶",
        "日本語テキスト",
        "Ünïcödé ß",
        "",
        "`backtick`",
        "$param {curly} [square] (paren)",
    ]
    nodes = [
        NodeBlock(
            "Kunde Ä",
            ("näme", "idx", "prop with space"),
            [(t, i, t) for i, t in enumerate(texts)],
            extra_labels=("Person",),
        )
    ]
    edges = [EdgeBlock("VERBÜRGT", ("grund",), [(0, 1, "“smart” ‘quotes’")])]
    bulk_insert(db.connection, name, nodes, edges)
    got = _rows(
        db,
        name,
        "MATCH (n:`Kunde Ä`:Person) RETURN n.`näme`, n.`prop with space` ORDER BY n.idx",
    )
    assert got == [[t, t] for t in texts]
    assert _rows(db, name, "MATCH ()-[r:`VERBÜRGT`]->() RETURN r.grund") == [["“smart” ‘quotes’"]]
    assert db.select_graph(name).query(
        "MATCH (n:Person) WHERE n.`näme` = $t RETURN n.idx", {"t": "O'Brien"}
    ).result_set == [[0]]


def _generated(n_nodes: int, n_edges: int, seed: int) -> tuple[list[NodeBlock], list[EdgeBlock]]:
    rnd = random.Random(seed)
    half = n_nodes // 2
    people = [(f"person-{i}", i, rnd.random(), i % 3 == 0) for i in range(half)]
    accounts = [(f"acct-{i}", None if i % 5 == 0 else float(i)) for i in range(n_nodes - half)]
    rels = [
        (rnd.randrange(n_nodes), rnd.randrange(n_nodes), i, ["x"] * (i % 3)) for i in range(n_edges)
    ]
    nodes = [
        NodeBlock("Person", ("name", "n", "r", "flag"), people),
        NodeBlock("Account", ("iban", "balance"), accounts),
    ]
    edges = [
        EdgeBlock("LINK", ("seq", "tags"), rels[: n_edges // 2]),
        EdgeBlock("OTHER", ("seq", "tags"), rels[n_edges // 2 :]),
    ]
    return nodes, edges


@pytest.mark.parametrize("overlap", [True, False])
def test_many_small_buffers_give_the_same_graph(db: FalkorDB, name: str, overlap: bool) -> None:
    one = name + "_one"
    many = name + "_many"
    calls_before = _bulk_calls(db)
    result_one = bulk_insert(db.connection, one, *_generated(300, 900, seed=7))
    calls_mid = _bulk_calls(db)
    result_many = bulk_insert(
        db.connection, many, *_generated(300, 900, seed=7), max_buffer_bytes=400, overlap=overlap
    )
    calls_after = _bulk_calls(db)
    assert calls_mid - calls_before == 1
    assert calls_after - calls_mid > 50  # really split into many GRAPH.BULK calls
    assert result_one["nodes"] == result_many["nodes"] == 300
    assert result_one["relationships"] == result_many["relationships"] == 900
    assert _dump(db, one) == _dump(db, many)


def test_buffer_too_small_for_one_row_is_refused(db: FalkorDB, name: str) -> None:
    nodes = [NodeBlock("N", ("s",), [("x" * 1000,)])]
    with pytest.raises(ValueError, match=r"more than one GRAPH\.BULK call may carry"):
        bulk_insert(db.connection, name, nodes, [], max_buffer_bytes=100)
    assert not db.connection.exists(name)


def test_existing_graph_is_refused(db: FalkorDB, name: str) -> None:
    db.select_graph(name).query("CREATE (:Old {v: 1})")
    nodes = [NodeBlock("N", ("v",), [(2,)])]
    with pytest.raises(ValueError, match="already exists"):
        bulk_insert(db.connection, name, nodes, [])
    assert _rows(db, name, "MATCH (n) RETURN labels(n), n.v") == [[["Old"], 1]]


def test_existing_non_graph_key_is_refused(db: FalkorDB, name: str) -> None:
    db.connection.set(name, "not a graph")
    with pytest.raises(ValueError, match="already exists"):
        bulk_insert(db.connection, name, [NodeBlock("N", (), [()])], [])
    assert db.connection.get(name) == "not a graph"


def test_second_load_into_same_graph_is_refused(db: FalkorDB, name: str) -> None:
    bulk_insert(db.connection, name, [NodeBlock("N", (), [(), ()])], [])
    with pytest.raises(ValueError, match="already exists"):
        bulk_insert(db.connection, name, [NodeBlock("N", (), [()])], [])
    assert _rows(db, name, "MATCH (n) RETURN count(n)") == [[2]]


@pytest.mark.parametrize(
    ("nodes", "edges", "message"),
    [
        (
            [NodeBlock("N", ("a", "b"), [(1, 2), (1,)])],
            [],
            r"label 'N' row 1 .*1 values, expected 2",
        ),
        ([NodeBlock("N", ("a",), [(1, 2)])], [], r"row 0 .*2 values, expected 1"),
        ([NodeBlock("N", ("a",), [5])], [], r"row 0: row is a int, not a tuple"),
        (
            [NodeBlock("N", (), [(), ()])],
            [EdgeBlock("R", ("w",), [(0, 1)])],
            r"relationship type 'R' row 0: .*2 values, expected 3",
        ),
        (
            [NodeBlock("N", (), [(), ()])],
            [EdgeBlock("R", (), [(0, 1), (0, 2)])],
            r"row 1: node ids must be ints in \[0, 2\).*dst=2",
        ),
        (
            [NodeBlock("N", (), [(), ()])],
            [EdgeBlock("R", (), [(-1, 0)])],
            r"node ids must be ints in \[0, 2\).*src=-1",
        ),
        (
            [NodeBlock("N", (), [(), ()])],
            [EdgeBlock("R", (), [(0.0, 1)])],
            r"node ids must be ints",
        ),
        (
            [NodeBlock("N", (), [(), ()])],
            [EdgeBlock("R", (), [("acct-1", 1)])],
            r"src=<str>",
        ),
        ([], [EdgeBlock("R", (), [(0, 0)])], r"node ids must be ints in \[0, 0\)"),
        ([NodeBlock("N", ("a",), [({"k": 1},)])], [], r"property 'a': unsupported type dict"),
        ([NodeBlock("N", ("a",), [(b"raw",)])], [], r"property 'a': unsupported type bytes"),
        ([NodeBlock("N", ("a",), [("nul\x00byte",)])], [], r"property 'a': .*NUL"),
        (
            [NodeBlock("N", ("a",), [(2**63,)])],
            [],
            r"property 'a': integer does not fit in a signed 64-bit",
        ),
        ([NodeBlock("N", ("a",), [([1, {2}],)])], [], r"property 'a': unsupported type set"),
        ([NodeBlock("N", ("a",), [("\ud800",)])], [], r"property 'a': string is not valid"),
        ([NodeBlock("A:B", (), [()])], [], r"contains ':'"),
        ([NodeBlock("", (), [()])], [], r"label must be a non-empty string"),
        ([NodeBlock("N", ("a", "a"), [(1, 2)])], [], r"lists property 'a' twice"),
        ([NodeBlock("N", ("",), [(1,)])], [], r"property name of label 'N'"),
        ([NodeBlock("N", (), [()])], [EdgeBlock("X:Y", (), [(0, 0)])], r"contains ':'"),
    ],
)
def test_bad_input_is_refused(
    db: FalkorDB, name: str, nodes: list[NodeBlock], edges: list[EdgeBlock], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        bulk_insert(db.connection, name, nodes, edges)
    assert not db.connection.exists(name)


def test_value_errors_do_not_echo_the_value(db: FalkorDB, name: str) -> None:
    secret = "IBAN DE89 3704 0044 0532 0130 00\x00"
    with pytest.raises(ValueError) as info:
        bulk_insert(db.connection, name, [NodeBlock("N", ("iban",), [(secret,)])], [])
    assert "3704" not in str(info.value)


@pytest.mark.parametrize("overlap", [False, True])
def test_failure_after_first_call_removes_partial_graph(
    db: FalkorDB, name: str, overlap: bool
) -> None:
    def rows() -> Iterator[tuple[Any, ...]]:
        for i in range(1000):
            yield (i, "padding" * 10)
        yield (1,)  # wrong arity, long after the first buffers went out

    calls_before = _bulk_calls(db)
    with pytest.raises(ValueError, match="row 1000"):
        bulk_insert(
            db.connection,
            name,
            [NodeBlock("N", ("i", "s"), rows())],
            [],
            max_buffer_bytes=4096,
            overlap=overlap,
        )
    assert _bulk_calls(db) - calls_before > 1
    assert not db.connection.exists(name)


def test_empty_load_creates_empty_graph(db: FalkorDB, name: str) -> None:
    result = bulk_insert(db.connection, name, [NodeBlock("N", ("a",), [])], [])
    assert result["nodes"] == 0
    assert result["relationships"] == 0
    assert db.connection.exists(name)
    assert _rows(db, name, "MATCH (n) RETURN count(n)") == [[0]]


def test_non_finite_floats_and_subclasses(db: FalkorDB, name: str) -> None:
    import enum

    class Kind(enum.StrEnum):
        RETAIL = "retail"

    class Level(enum.IntEnum):
        HIGH = 3

    rows = [(math.inf, -math.inf, Kind.RETAIL, Level.HIGH, (1, 2))]
    bulk_insert(db.connection, name, [NodeBlock("N", ("a", "b", "k", "l", "t"), rows)], [])
    assert _rows(db, name, "MATCH (n) RETURN n.a, n.b, n.k, n.l, n.t") == [
        [math.inf, -math.inf, "retail", 3, [1, 2]]
    ]


def test_numpy_scalars(db: FalkorDB, name: str) -> None:
    np = pytest.importorskip("numpy")
    nodes = [NodeBlock("N", ("i", "f", "b"), [(np.int64(5), np.float32(0.5), np.bool_(True))] * 2)]
    edges = [EdgeBlock("R", ("w",), [(np.int64(0), np.uint32(1), np.float64(2.5))])]
    bulk_insert(db.connection, name, nodes, edges)
    assert _rows(db, name, "MATCH (n) RETURN n.i, n.f, n.b LIMIT 1") == [[5, 0.5, True]]
    assert _rows(db, name, "MATCH ()-[r]->() RETURN r.w") == [[2.5]]


def test_progress_is_reported(db: FalkorDB, name: str) -> None:
    seen: list[tuple[str, int]] = []
    nodes = [
        NodeBlock("A", (), [()] * 150_000),
        NodeBlock("B", (), [()] * 60_000),
    ]
    edges = [EdgeBlock("R", (), [(i, i + 1) for i in range(120_000)])]
    result = bulk_insert(
        db.connection, name, nodes, edges, progress=lambda k, n: seen.append((k, n))
    )
    assert seen == [
        ("nodes", 100_000),
        ("nodes", 200_000),
        ("nodes", 210_000),
        ("relationships", 100_000),
        ("relationships", 120_000),
    ]
    assert result["nodes"] == 210_000
    assert result["relationships"] == 120_000


def test_loads_20k_nodes_100k_edges(db: FalkorDB, name: str) -> None:
    n_nodes, n_edges = 20_000, 100_000
    rnd = random.Random(1)
    nodes = [
        NodeBlock(
            "Customer",
            ("cid", "name", "risk"),
            ((i, f"customer {i}", rnd.random()) for i in range(n_nodes)),
        )
    ]
    edges = [
        EdgeBlock(
            "VOUCHES",
            ("weight",),
            ((i % n_nodes, (i * 7919 + 1) % n_nodes, 0.5) for i in range(n_edges)),
        )
    ]
    result = bulk_insert(db.connection, name, nodes, edges, max_buffer_bytes=1024 * 1024)
    seconds = result["seconds"]
    print(
        f"\nGRAPH.BULK {n_nodes} nodes + {n_edges} edges in {seconds:.3f}s "
        f"({(n_nodes + n_edges) / seconds:,.0f} entities/s)"
    )
    assert result == {"nodes": n_nodes, "relationships": n_edges, "seconds": seconds}
    assert _rows(db, name, "MATCH (n:Customer) RETURN count(n)") == [[n_nodes]]
    assert _rows(db, name, "MATCH ()-[r:VOUCHES]->() RETURN count(r)") == [[n_edges]]
    # Spot-check that endpoints are the intended nodes.
    for i in itertools.islice(range(0, n_edges, 9973), 12):
        src, dst = i % n_nodes, (i * 7919 + 1) % n_nodes
        assert _rows(
            db,
            name,
            f"MATCH (a:Customer {{cid: {src}}})-[:VOUCHES]->(b:Customer {{cid: {dst}}}) "
            "RETURN count(*) > 0",
        ) == [[True]]
