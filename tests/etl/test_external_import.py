"""Public labelled graphs go into the store through the project's own format and loader.

Needs ../shared/datasets (see its README.md); skipped where it is absent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from test_load import snapshot  # the canonical dump of a graph

from bench import datasets
from etl.load import Loader, load_folder
from graph import queries as q
from graph.settings import Settings
from graph.store import GraphStore, open_store

pytestmark = pytest.mark.skipif(
    not datasets.DATASETS_DIR.is_dir(),
    reason=f"the public data sets are absent ({datasets.DATASETS_DIR})",
)


def _rows(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f) - 1  # less the header


@pytest.fixture
def bulk_store(settings: Settings) -> Iterator[GraphStore]:
    """A graph that does not exist yet (what `--bulk` needs), deleted after the test."""
    store = open_store(settings)
    yield store
    store.clear()


def _labels(store: GraphStore) -> Counter[int]:
    return Counter(
        r["props"]["fraud_label"] for r in store.run(q.ALL_NODES) if "fraud_label" in r["props"]
    )


def test_bitcoin_alpha_loads_in_bulk_as_incrementally(
    bulk_store: GraphStore, settings: Settings, tmp_path: Path
) -> None:
    try:
        meta = datasets.write_bitcoin(
            datasets.DATASETS_DIR / "bitcoin_alpha_rev2", "alpha", tmp_path
        )
    except datasets.DatasetMissing as exc:
        pytest.skip(str(exc))
    assert (meta.users, meta.ratings) == (3783, 24186)
    assert (meta.duplicate_ratings_dropped, meta.self_ratings_dropped) == (0, 0)
    assert meta.duplicate_label_rows_dropped == 3  # users 3, 16 and 36 repeat
    assert (len(meta.customer_ids), int(meta.labels.sum())) == (237, 102)

    report = load_folder(bulk_store, tmp_path, progress=False, bulk=True)
    assert report.mode == "bulk" and report.rows_rejected == 0
    assert report.nodes_after == {"Customer": 3783}
    assert report.relationships_after == {"RATED": 24186}
    assert _labels(bulk_store) == {1: 102, 0: 135}
    scores = [r["props"]["score"] for r in bulk_store.run(q.ALL_RELATIONSHIPS)]
    assert min(scores) == -1.0 and max(scores) == 1.0 and 0.0 not in scores

    bulk = snapshot(bulk_store)
    bulk_store.clear()  # one graph at a time (Neo4j Community has one database)
    Loader(bulk_store, progress=False).load(tmp_path)
    assert snapshot(bulk_store) == bulk


def test_tolokers_loads_with_its_features_and_fixed_splits(
    bulk_store: GraphStore, tmp_path: Path
) -> None:
    folder = datasets.DATASETS_DIR / "tolokers"
    try:
        meta = datasets.write_tolokers(folder, tmp_path)
    except datasets.DatasetMissing as exc:
        pytest.skip(str(exc))
    n = 11_758
    assert len(meta.customer_ids) == n and meta.customer_ids[:2] == ("t0", "t1")
    assert meta.train_masks.shape == meta.val_masks.shape == meta.test_masks.shape == (10, n)
    assert meta.edges == 519_000
    counts = {p.stem: _rows(p) for p in tmp_path.glob("*.csv")}
    assert counts == {
        "customers": n,
        "relations": 519_000,
        "attributes": 10 * n,
        "labels": n,
    }

    report = load_folder(bulk_store, tmp_path, progress=False, bulk=True)
    assert report.mode == "bulk" and report.rows_rejected == 0
    assert report.nodes_after == {"Customer": n, "Attribute": 10}
    assert report.relationships_after == {"SOCIAL": 519_000, "HAS_ATTRIBUTE": 10 * n}
    assert _labels(bulk_store) == {1: int(meta.labels.sum()), 0: n - int(meta.labels.sum())}
    assert 2500 < meta.labels.sum() < 2600  # 21.8% banned

    # every feature reads back as the published float32
    with np.load(folder / "tolokers.npz") as data:
        expected = data["node_features"]
    got = np.full_like(expected, np.nan)
    column = {name: j for j, name in enumerate(datasets.TOLOKERS_FEATURES)}
    for r in bulk_store.run(q.MODEL_ALL_ATTRIBUTES, {"as_of": 0}):
        i = int(r["id"][1:])
        for name, value in r["attributes"]:
            got[i, column[name]] = value
    assert np.array_equal(got, expected)
