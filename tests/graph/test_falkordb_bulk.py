"""Tests for the GRAPH.BULK writer, against a real FalkorDB server (no mocks)."""

from __future__ import annotations

import itertools
import math
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from falkordb import FalkorDB

from graph import embedded
from graph.backends import falkordb_bulk
from graph.backends.falkordb_bulk import (
    EdgeBlock,
    EdgeColumns,
    NodeBlock,
    NodeColumns,
    bulk_insert,
    bulk_insert_columns,
)


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


# --------------------------------------------------------------------------------------
# columnar entry point
# --------------------------------------------------------------------------------------


def _as_rows(table: pa.Table) -> list[tuple[Any, ...]]:
    names = table.column_names
    return [tuple(row[n] for n in names) for row in table.to_pylist()]


def _row_blocks(
    nodes: list[NodeColumns], edges: list[EdgeColumns]
) -> tuple[list[NodeBlock], list[EdgeBlock]]:
    """The same load as row blocks, relationships in the order the columnar path sends them."""
    node_blocks = [
        NodeBlock(b.label, tuple(b.table.column_names), _as_rows(b.table), b.extra_labels)
        if b.table.num_columns
        else NodeBlock(b.label, (), [()] * b.table.num_rows, b.extra_labels)
        for b in nodes
    ]
    edge_blocks = []
    for b in edges:
        props = [] if b.table is None else _as_rows(b.table)
        names = () if b.table is None else tuple(b.table.column_names)
        order = sorted(range(len(b.src)), key=lambda i, s=b.src: int(s[i]))  # stable, by src
        rows = [(int(b.src[i]), int(b.dst[i]), *(props[i] if props else ())) for i in order]
        edge_blocks.append(EdgeBlock(b.rel_type, names, rows))
    return node_blocks, edge_blocks


def _chunked(table: pa.Table, *cuts: int) -> pa.Table:
    """The same table stored in several chunks (cut at the given rows)."""
    bounds = [0, *cuts, table.num_rows]
    return pa.concat_tables([table.slice(a, b - a) for a, b in itertools.pairwise(bounds)])


def _sample_columns() -> tuple[list[NodeColumns], list[EdgeColumns]]:
    texts = ["Ada", None, "Ω ünï 日本 🏦", "", 'O\'Brien "q" \\ \n\t', "x" * 300]
    people = pa.table(
        {
            "name": pa.array(texts, pa.string()),
            "big": pa.array(["a", "", None, "ß", "b", "c"], pa.large_string()),
            "age": pa.array([36, -7, None, 2**63 - 1, -(2**63), 0], pa.int64()),
            "small": pa.array([1, None, -3, 127, 0, -128], pa.int8()),
            "mid": pa.array([70000, 1, None, -(2**31), 2**31 - 1, 5], pa.int32()),
            "count": pa.array([2**32 - 1, 0, 1, None, 3, 4], pa.uint32()),
            "score": pa.array([0.5, -1.25e300, math.inf, -math.inf, None, 0.0], pa.float64()),
            "ratio": pa.array([0.25, None, 1.5, -2.0, 0.125, 3.0], pa.float32()),
            "vip": pa.array([True, False, None, True, False, None]),
            "tags": pa.array(
                [["a", "b"], [], None, ["", None, "é"], ["x"], [None]], pa.list_(pa.string())
            ),
            "nums": pa.array(
                [[1, 2, 3], [2**63 - 1, -(2**63)], [], None, [None, 0], [7]],
                pa.list_(pa.int64()),
            ),
            "vals": pa.array(
                [[1.5], None, [math.inf, -0.5], [], [None], [0.25, 0.5]],
                pa.large_list(pa.float64()),
            ),
            "flags": pa.array([[True, None], [], None, [False], [True], []], pa.list_(pa.bool_())),
            "nested": pa.array(
                [[[1], []], None, [[2, None]], [], [None, [3]], [[4, 5], [6]]],
                pa.list_(pa.list_(pa.int64())),
            ),
            "city": pa.array(["Wien", None, "Köln", "Wien", "Paris", "Köln"]).dictionary_encode(),
            "nothing": pa.nulls(6),
        }
    )
    accounts = pa.table(
        {
            "iban": ["DE00 1234", "FR76 9999", None, "AT61"],
            "balance": pa.array([1e6, None, 3.5, None]),
            "opened": pa.array([2024, None, None, 1999], pa.int64()),
        }
    )
    nodes = [
        NodeColumns("Person", _chunked(people, 2, 3)),
        NodeColumns("Bare", pa.table({"x": [1, 2, 3]}).select([]), extra_labels=("Extra",)),
        NodeColumns("Account", accounts.slice(0)),
        NodeColumns("Empty", accounts.slice(0, 0)),
    ]
    n_total = 6 + 3 + 4
    owns = pa.table(
        {
            "since": pa.array([2020, None, 2021, 5, 6], pa.int64()),
            "share": pa.array([1.0, 0.5, None, 0.25, 0.125]),
            "note": ["first", None, "", "Ω", "x"],
            "tags": pa.array([["a"], None, [], ["b", None], ["c"]], pa.list_(pa.string())),
        }
    )
    edges = [
        # unsorted sources with repeats: sent sorted by src, stably
        EdgeColumns(
            "OWNS", np.array([5, 0, 5, 1, 0]), np.array([9, 9, 10, 12, 11]), _chunked(owns, 1)
        ),
        EdgeColumns("VOUCHES", np.array([0, 1, 2, 2], np.int32), np.array([1, 2, 0, 7]), None),
        EdgeColumns(
            "SELF",
            np.array([12, 3], np.uint64),
            np.array([12, 3], np.uint16),
            owns.slice(0, 2).select([]),
        ),
        EdgeColumns("NONE", np.array([], np.int64), np.array([], np.int64), owns.slice(0, 0)),
        EdgeColumns(
            "LAST",
            np.array([n_total - 1]),
            np.array([0]),
            pa.table({"w": pa.array([1], pa.int16())}),
        ),
    ]
    return nodes, edges


def test_columns_give_the_same_graph_as_rows(db: FalkorDB, name: str) -> None:
    nodes, edges = _sample_columns()
    by_rows = name + "_rows"
    by_columns = name + "_columns"
    result_rows = bulk_insert(db.connection, by_rows, *_row_blocks(nodes, edges))
    result_columns = bulk_insert_columns(db.connection, by_columns, nodes, edges)
    assert result_columns["nodes"] == result_rows["nodes"] == 13
    assert result_columns["relationships"] == result_rows["relationships"] == 12
    assert _dump(db, by_columns) == _dump(db, by_rows)
    keys = "CALL db.propertyKeys() YIELD propertyKey RETURN propertyKey"
    assert _rows(db, by_columns, keys) == _rows(db, by_rows, keys)
    # Spot checks against expectations written out, not just against the row path.
    assert _rows(
        db,
        by_columns,
        "MATCH (n:Person) RETURN n.name, n.age, n.small, n.ratio, n.vip, n.tags, n.nested "
        "ORDER BY ID(n)",
    ) == [
        ["Ada", 36, 1, 0.25, True, ["a", "b"], [[1], []]],
        [None, -7, None, None, False, [], None],
        ["Ω ünï 日本 🏦", None, -3, 1.5, None, None, [[2, None]]],
        ["", 2**63 - 1, 127, -2.0, True, ["", None, "é"], []],
        ['O\'Brien "q" \\ \n\t', -(2**63), 0, 0.125, False, ["x"], [None, [3]]],
        ["x" * 300, 0, -128, 3.0, None, [None], [[4, 5], [6]]],
    ]
    assert _rows(
        db, by_columns, "MATCH (n:Person) WHERE n.nothing IS NOT NULL RETURN count(n)"
    ) == [[0]]
    assert _rows(
        db, by_columns, "MATCH (a)-[r:OWNS]->(b) RETURN ID(a), ID(b), r.since ORDER BY ID(r)"
    ) == [[0, 9, None], [0, 11, 6], [1, 12, 5], [5, 9, 2020], [5, 10, 2021]]


def _generated_columns(
    n_nodes: int, n_edges: int, seed: int
) -> tuple[list[NodeColumns], list[EdgeColumns]]:
    rng = np.random.default_rng(seed)
    half = n_nodes // 2
    people = pa.table(
        {
            "name": [f"person-{i}" if i % 4 else None for i in range(half)],
            "n": pa.array(rng.integers(-(2**40), 2**40, half)),
            "r": pa.array(rng.random(half)),
            "flag": pa.array([[True, False, None][i % 3] for i in range(half)]),
        }
    )
    accounts = pa.table(
        {
            "iban": [f"acct-{i}" for i in range(n_nodes - half)],
            "balance": [None if i % 5 == 0 else float(i) for i in range(n_nodes - half)],
        }
    )
    props = pa.table(
        {
            "seq": pa.array(np.arange(n_edges)),
            "tags": pa.array([["x"] * (i % 3) for i in range(n_edges)], pa.list_(pa.string())),
            "note": [None if i % 7 else "ß" * (i % 50) for i in range(n_edges)],
        }
    )
    src = rng.integers(0, n_nodes, n_edges)
    dst = rng.integers(0, n_nodes, n_edges)
    mid = n_edges // 2
    nodes = [NodeColumns("Person", people), NodeColumns("Account", accounts)]
    edges = [
        EdgeColumns("LINK", src[:mid], dst[:mid], props.slice(0, mid)),
        EdgeColumns("OTHER", src[mid:], dst[mid:], props.slice(mid)),
        EdgeColumns("BARE", dst[:mid], src[:mid], None),
    ]
    return nodes, edges


@pytest.mark.parametrize("overlap", [False, True])
def test_columns_split_into_many_calls_give_the_same_graph(
    db: FalkorDB, name: str, overlap: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    one = name + "_one"
    many = name + "_many"
    rows = name + "_rows"
    nodes, edges = _generated_columns(300, 900, seed=3)
    calls_before = _bulk_calls(db)
    result_one = bulk_insert_columns(db.connection, one, nodes, edges)
    calls_mid = _bulk_calls(db)
    # tiny slices too, so that slices, tokens and calls are cut at unrelated rows
    monkeypatch.setattr(falkordb_bulk, "_FIRST_SLICE_ROWS", 7)
    monkeypatch.setattr(falkordb_bulk, "_SLICE_BYTES", 333)
    result_many = bulk_insert_columns(
        db.connection, many, nodes, edges, max_buffer_bytes=400, overlap=overlap
    )
    calls_after = _bulk_calls(db)
    assert calls_mid - calls_before == 1
    assert calls_after - calls_mid > 50  # really split into many GRAPH.BULK calls
    assert result_one["nodes"] == result_many["nodes"] == 300
    assert result_one["relationships"] == result_many["relationships"] == 1350
    assert _dump(db, one) == _dump(db, many)
    bulk_insert(db.connection, rows, *_row_blocks(nodes, edges))
    assert _dump(db, rows) == _dump(db, one)


def test_columns_buffer_too_small_for_one_row_is_refused(db: FalkorDB, name: str) -> None:
    nodes = [NodeColumns("N", pa.table({"s": ["x", "x" * 1000]}))]
    with pytest.raises(ValueError, match=r"label 'N' row 1: .*more than one GRAPH\.BULK call"):
        bulk_insert_columns(db.connection, name, nodes, [], max_buffer_bytes=100)
    assert not db.connection.exists(name)
    edges = [EdgeColumns("R", np.array([1, 0]), np.array([0, 0]), pa.table({"s": ["x" * 999, ""]}))]
    nodes = [NodeColumns("N", pa.table({"s": ["a", "b"]}))]
    with pytest.raises(ValueError, match=r"relationship type 'R' row 0: .*more than one"):
        bulk_insert_columns(db.connection, name, nodes, edges, max_buffer_bytes=100)
    assert not db.connection.exists(name)


def test_columns_existing_graph_is_refused(db: FalkorDB, name: str) -> None:
    db.select_graph(name).query("CREATE (:Old {v: 1})")
    with pytest.raises(ValueError, match="already exists"):
        bulk_insert_columns(db.connection, name, [NodeColumns("N", pa.table({"v": [2]}))], [])
    assert _rows(db, name, "MATCH (n) RETURN labels(n), n.v") == [[["Old"], 1]]
    other = name + "_key"
    db.connection.set(other, "not a graph")
    with pytest.raises(ValueError, match="already exists"):
        bulk_insert_columns(db.connection, other, [], [])
    assert db.connection.get(other) == "not a graph"


def _two_nodes() -> list[NodeColumns]:
    return [NodeColumns("N", pa.table({"a": [1, 2]}))]


def _edge(src: Any, dst: Any, table: pa.Table | None = None) -> list[EdgeColumns]:
    return [EdgeColumns("R", src, dst, table)]


@pytest.mark.parametrize(
    ("nodes", "edges", "message"),
    [
        (
            _two_nodes(),
            _edge(np.array([0, 1]), np.array([1, 2])),
            r"relationship type 'R' row 1: node ids must be ints in \[0, 2\).*src=1 dst=2",
        ),
        (
            _two_nodes(),
            _edge(np.array([0, -1]), np.array([1, 0])),
            r"row 1: node ids must be ints in \[0, 2\).*src=-1 dst=0",
        ),
        (
            _two_nodes(),
            _edge(np.array([2**64 - 1], np.uint64), np.array([0])),
            r"node ids must be ints in \[0, 2\)",
        ),
        ([], _edge(np.array([0]), np.array([0])), r"node ids must be ints in \[0, 0\)"),
        (_two_nodes(), _edge(np.array([0.0]), np.array([1])), r"src must be a 1-D integer array"),
        (_two_nodes(), _edge(np.array([0]), np.array([[1]])), r"dst must be a 1-D integer array"),
        (_two_nodes(), _edge(np.array([True]), np.array([1])), r"src must be a 1-D integer"),
        (
            _two_nodes(),
            _edge(np.array([0, 1]), np.array([1])),
            r"relationship type 'R': src has 2 node ids but dst has 1",
        ),
        (
            _two_nodes(),
            _edge(np.array([0, 1]), np.array([1, 0]), pa.table({"w": [1]})),
            r"relationship type 'R': table has 1 rows but src has 2",
        ),
        (
            [NodeColumns("N", pa.table({"raw": [b"x"]}))],
            [],
            r"label 'N', property 'raw': unsupported column type binary",
        ),
        (
            [NodeColumns("N", pa.table({"a": [1], "ts": pa.array([0], pa.timestamp("s"))}))],
            [],
            r"label 'N', property 'ts': unsupported column type timestamp",
        ),
        (
            [NodeColumns("N", pa.table({"s": [{"k": 1}]}))],
            [],
            r"property 's': unsupported column type struct",
        ),
        (
            [NodeColumns("N", pa.table({"l": pa.array([[b"x"]], pa.list_(pa.binary()))}))],
            [],
            r"property 'l': unsupported column type list<item: binary>",
        ),
        (
            [NodeColumns("N", pa.table({"u": pa.array([1], pa.uint64())}))],
            [],
            r"property 'u': unsupported column type uint64",
        ),
        (
            _two_nodes(),
            _edge(np.array([0]), np.array([1]), pa.table({"d": pa.array([1], pa.decimal128(5))})),
            r"relationship type 'R', property 'd': unsupported column type decimal",
        ),
        (
            [NodeColumns("N", pa.table({"s": ["ok", "nul\x00byte"]}))],
            [],
            r"label 'N', property 's', row 1: string contains a NUL",
        ),
        (
            [NodeColumns("N", pa.table({"l": [["a"], [], ["b", "c\x00"]]}))],
            [],
            r"property 'l', row 2: string contains a NUL",
        ),
        (
            [NodeColumns("N", _chunked(pa.table({"s": ["a", "b", "c\x00"]}), 1))],
            [],
            r"property 's', row 2: string contains a NUL",
        ),
        ([NodeColumns("A:B", pa.table({"a": [1]}))], [], r"contains ':'"),
        ([NodeColumns("", pa.table({"a": [1]}))], [], r"label must be a non-empty string"),
        (
            [NodeColumns("N", pa.Table.from_arrays([pa.array([1]), pa.array([2])], ["a", "a"]))],
            [],
            r"lists property 'a' twice",
        ),
        ([NodeColumns("N", {"a": [1]})], [], r"label 'N': table is a dict, not a pyarrow Table"),
        ([NodeBlock("N", (), [()])], [], r"nodes\[0\] is a NodeBlock, not a NodeColumns"),
        (_two_nodes(), [EdgeColumns("X:Y", np.array([0]), np.array([0]))], r"contains ':'"),
    ],
)
def test_columns_bad_input_is_refused(
    db: FalkorDB, name: str, nodes: list[NodeColumns], edges: list[EdgeColumns], message: str
) -> None:
    calls_before = _bulk_calls(db)
    with pytest.raises(ValueError, match=message):
        bulk_insert_columns(db.connection, name, nodes, edges)
    assert _bulk_calls(db) == calls_before  # refused before anything was sent
    assert not db.connection.exists(name)


def test_columns_errors_do_not_echo_values(db: FalkorDB, name: str) -> None:
    secret = "IBAN DE89 3704 0044 0532 0130 00"
    for value in (secret + "\x00", b"\xff" + secret.encode()):
        if isinstance(value, bytes):
            # a string column whose bytes are not UTF-8 (Arrow does not check on construction)
            column = pa.Array.from_buffers(
                pa.string(),
                1,
                [None, pa.py_buffer(np.array([0, len(value)], np.int32)), pa.py_buffer(value)],
            )
        else:
            column = pa.array([value])
        with pytest.raises(ValueError, match="property 'iban'") as info:
            bulk_insert_columns(
                db.connection, name, [NodeColumns("N", pa.table({"iban": column}))], []
            )
        assert "3704" not in str(info.value)
        assert not db.connection.exists(name)


@pytest.mark.parametrize("overlap", [False, True])
def test_columns_failure_after_first_call_removes_partial_graph(
    db: FalkorDB, name: str, overlap: bool
) -> None:
    nodes, edges = _generated_columns(300, 900, seed=5)

    def fail_late(kind: str, count: int) -> None:
        if kind == "relationships":
            raise RuntimeError("caller gave up")

    calls_before = _bulk_calls(db)
    with pytest.raises(RuntimeError, match="caller gave up"):
        bulk_insert_columns(
            db.connection,
            name,
            nodes,
            edges,
            max_buffer_bytes=4096,
            overlap=overlap,
            progress=fail_late,
        )
    assert _bulk_calls(db) - calls_before > 1
    assert not db.connection.exists(name)


def test_columns_empty_load_creates_empty_graph(db: FalkorDB, name: str) -> None:
    empty = pa.table({"a": pa.array([], pa.int64())})
    edges = [EdgeColumns("R", np.array([], np.int64), np.array([], np.int64), None)]
    result = bulk_insert_columns(db.connection, name, [NodeColumns("N", empty)], edges)
    assert (result["nodes"], result["relationships"]) == (0, 0)
    assert db.connection.exists(name)
    assert _rows(db, name, "MATCH (n) RETURN count(n)") == [[0]]


def test_columns_progress_matches_rows(db: FalkorDB, name: str) -> None:
    nodes = [
        NodeColumns("A", pa.table({"x": np.zeros(150_000)}).select([])),
        NodeColumns("B", pa.table({"x": np.zeros(60_000)}).select([])),
    ]
    src = np.arange(120_000)
    edges = [EdgeColumns("R", src, src + 1)]
    seen: list[tuple[str, int]] = []
    result = bulk_insert_columns(
        db.connection, name, nodes, edges, progress=lambda k, n: seen.append((k, n))
    )
    assert seen == [
        ("nodes", 100_000),
        ("nodes", 200_000),
        ("nodes", 210_000),
        ("relationships", 100_000),
        ("relationships", 120_000),
    ]
    assert (result["nodes"], result["relationships"]) == (210_000, 120_000)
    assert _rows(db, name, "MATCH (a:A)-[:R]->(b:A) RETURN count(*)") == [[120_000]]
    assert _rows(db, name, "MATCH (n:B) RETURN min(ID(n)), max(ID(n)), keys(n) LIMIT 1") == [
        [150_000, 209_999, []]
    ]


def test_columns_load_larger_graph_sorted_by_source(db: FalkorDB, name: str) -> None:
    n_nodes, n_edges = 20_000, 100_000
    rng = np.random.default_rng(11)
    ids = np.arange(n_nodes)
    customers = pa.table({"cid": ids, "name": [f"customer {i}" for i in ids]})
    src = rng.integers(0, n_nodes, n_edges)
    dst = rng.integers(0, n_nodes, n_edges)
    weight = rng.integers(0, 1000, n_edges) / 8  # exact in the 15 digits the client reads
    edges = [
        EdgeColumns("VOUCHES", src, dst, pa.table({"weight": weight, "seq": np.arange(n_edges)}))
    ]
    result = bulk_insert_columns(
        db.connection, name, [NodeColumns("Customer", customers)], edges, max_buffer_bytes=1 << 20
    )
    assert (result["nodes"], result["relationships"]) == (n_nodes, n_edges)
    got = _rows(db, name, "MATCH (a)-[r]->(b) RETURN ID(a), ID(b), r.seq, r.weight ORDER BY ID(r)")
    order = np.argsort(src, kind="stable")
    assert got == [[int(src[i]), int(dst[i]), int(i), float(weight[i])] for i in order]
