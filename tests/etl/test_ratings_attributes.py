"""The `ratings` and `attributes` sources: bad rows reported, newest rating wins, idempotent,
and the bulk path writes the graph the incremental one does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_load import snapshot  # the canonical dump of a graph

from etl.load import Loader, load_folder
from graph import queries as q
from graph.settings import Settings
from graph.store import GraphStore, open_store

CUSTOMERS = """
customer_id,name,id_number,gender,birth_date,opened_at,status
C1,A,X1,F,1990-01-01,2020-01-01,active
C2,B,X2,M,1990-01-01,2020-01-01,active
C3,C,X3,M,1990-01-01,2020-01-01,active
"""
RATINGS = """
src_id,dst_id,score,ts
C1,C2,0.5,2025-01-01
C1,C2,-0.4,2025-03-01T10:00:00.250Z
C1,C2,0.9,2024-06-01
C2,C2,1,2025-01-01
C1,C9,0.1,2025-01-01
C3,C1,1.5,2025-01-01
C3,C1,-1,2025-02-01
C2,C1,0.2,2025-02-01
C2,C1,0.3,2025-02-01
"""
ATTRIBUTES = """
customer_id,name,value,as_of
C1,approved_rate,0.8,2025-01-01
C1,approved_rate,0.7,
C2,approved_rate,0.1,2025-01-01
C2,Approved Rate,1,
C2,english_tested,1,2025-01-01
C9,english_tested,1,
C3,skipped_rate,inf,
"""
RATING_REJECTIONS = [
    "ratings.csv:5: dst_id: same as src_id",
    "ratings.csv:7: score: '1.5' is above the maximum 1",
    "ratings.csv:6: dst_id: no such customer 'C9' in the graph",
]
ATTRIBUTE_REJECTIONS = [
    "attributes.csv:5: name: 'Approved Rate' does not match ^[a-z][a-z0-9_]{0,63}$",
    "attributes.csv:8: value: 'inf' is not a number",
    "attributes.csv:7: customer_id: no such customer 'C9' in the graph",
]
MARCH_1 = 1_740_823_200_250  # 2025-03-01T10:00:00.250Z
JAN_1 = 1_735_689_600_000  # 2025-01-01


def _folder(path: Path, **files: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (path / f"{name}.csv").write_text(text.strip() + "\n")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return _folder(tmp_path / "bank", customers=CUSTOMERS, ratings=RATINGS, attributes=ATTRIBUTES)


def _rels(store: GraphStore, rel: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (r["src"], r["dst"]): r["props"] for r in store.run(q.ALL_RELATIONSHIPS) if r["type"] == rel
    }


def _attributes(store: GraphStore) -> dict[tuple[str, str], dict[str, Any]]:
    nodes = [r["props"] for r in store.run(q.ALL_NODES) if r["labels"] == ["Attribute"]]
    assert sorted(n["name"] for n in nodes) == ["approved_rate", "english_tested"]
    assert all(set(n) == {"name"} for n in nodes)
    return _rels(store, "HAS_ATTRIBUTE")


def _check_graph(store: GraphStore) -> None:
    assert _rels(store, "RATED") == {
        ("C1", "C2"): {"score": -0.4, "ts": MARCH_1},  # the newest, not the last row
        ("C3", "C1"): {"score": -1.0, "ts": JAN_1 + 31 * 86_400_000},
        ("C2", "C1"): {"score": 0.3, "ts": JAN_1 + 31 * 86_400_000},  # same time: last row
    }
    assert _attributes(store) == {
        ("C1", "approved_rate"): {"value": 0.7},  # the last row; its as_of is absent
        ("C2", "approved_rate"): {"value": 0.1, "as_of": JAN_1},
        ("C2", "english_tested"): {"value": 1.0, "as_of": JAN_1},
    }
    nodes = {r["label"]: r["count"] for r in store.run(q.NODE_COUNTS)}
    assert nodes["Attribute"] == 2


@pytest.mark.parametrize("batch_size", [1, 5000])
def test_ratings_and_attributes_load_and_bad_rows_are_reported(
    store: GraphStore, folder: Path, batch_size: int
) -> None:
    report = Loader(store, batch_size=batch_size, progress=False).load(folder)
    files = {f.source: f for f in report.files}
    assert (files["ratings"].rows_read, files["ratings"].rows_loaded) == (9, 6)
    assert files["ratings"].rejections == RATING_REJECTIONS
    assert (files["attributes"].rows_read, files["attributes"].rows_loaded) == (7, 4)
    assert files["attributes"].rejections == ATTRIBUTE_REJECTIONS
    _check_graph(store)


def test_loading_ratings_and_attributes_twice_changes_nothing(
    store: GraphStore, folder: Path
) -> None:
    Loader(store, progress=False).load(folder)
    first = snapshot(store)
    again = Loader(store, progress=False).load(folder)
    assert again.nodes_written == 0 and again.relationships_written == 0
    assert snapshot(store) == first


def test_an_older_rating_loaded_later_changes_nothing_a_newer_one_replaces_it(
    store: GraphStore, folder: Path, tmp_path: Path
) -> None:
    Loader(store, progress=False).load(folder)
    older = _folder(tmp_path / "older", ratings="src_id,dst_id,score,ts\nC1,C2,1,2024-01-01\n")
    Loader(store, progress=False).load(older)
    assert _rels(store, "RATED")[("C1", "C2")] == {"score": -0.4, "ts": MARCH_1}
    newer = _folder(tmp_path / "newer", ratings="src_id,dst_id,score,ts\nC1,C2,1,2026-01-01\n")
    Loader(store, progress=False).load(newer)
    assert _rels(store, "RATED")[("C1", "C2")]["score"] == 1.0


def test_bulk_gives_the_graph_and_the_rejections_of_incremental(
    settings: Settings, folder: Path
) -> None:
    bulk = open_store(settings)
    try:
        expected = Loader(bulk, progress=False).load(folder)
        incremental = snapshot(bulk)
        bulk.clear()
        report = load_folder(bulk, folder, progress=False, bulk=True)
        assert report.mode == "bulk"
        assert snapshot(bulk) == incremental
        _check_graph(bulk)
        for mine, theirs in zip(report.files, expected.files, strict=True):
            assert (mine.source, mine.rows_read, mine.rows_loaded) == (
                theirs.source,
                theirs.rows_read,
                theirs.rows_loaded,
            )
            assert sorted(mine.rejections) == sorted(theirs.rejections)
    finally:
        bulk.clear()


# How the bulk path resolves rows is the same for both backends (Arrow, etl/bulk.py); each
# backend's writer is compared with the incremental path on both by the equivalence tests.
# On Neo4j every bulk load is a server restart around an import (~30 s): once is enough.
@pytest.mark.only_backend("falkordb")
def test_bulk_takes_a_graph_that_holds_only_the_schema(store: GraphStore, folder: Path) -> None:
    report = load_folder(store, folder, progress=False, bulk=True)  # `store` ran ensure_schema
    assert report.mode == "bulk"
    _check_graph(store)
    constraints = {(r["label"], tuple(r["properties"])) for r in store.constraints()}  # type: ignore[attr-defined]
    assert ("Attribute", ("name",)) in constraints and ("Customer", ("id",)) in constraints
