"""Neighbourhood reads stay bounded around hubs: fan-out capped per hop."""

from __future__ import annotations

from pathlib import Path

from etl.load import Loader
from graph import queries as q
from graph.store import GraphStore


def _hub_bank(store: GraphStore, tmp_path: Path) -> None:
    """A joined to hub H, which 60 others are joined to as well."""
    ids = ["A", "H", *[f"P{i}" for i in range(60)]]
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,id_number,gender,birth_date,opened_at,status\n"
        + "".join(f"{c},N,X{c},F,1990-01-01,2020-01-01,active\n" for c in ids)
    )
    relations = ["src_id,dst_id,category,kind,source", "A,H,SOCIAL,friend,bank"]
    relations += [f"P{i},H,SOCIAL,colleague,bank" for i in range(60)]
    (tmp_path / "relations.csv").write_text("\n".join(relations) + "\n")
    Loader(store, progress=False).load(tmp_path)


def test_two_hop_reads_are_capped_around_a_hub(store: GraphStore, tmp_path: Path) -> None:
    _hub_bank(store, tmp_path)
    one = store.run(q.NEIGHBOURHOOD_1HOP, {"id": "H", "fanout": 5})
    assert len(one) == 5
    hub = store.run(q.CUSTOMER_DEGREES, {"ids": ["A", "H", "P0"]})
    assert {r["id"]: r["degree"] for r in hub} == {"A": 1, "H": 61, "P0": 1}
    params = {"id": "A", "fanout": 5, "budget": 7, "hub_degree": 100}
    two = store.run(q.NEIGHBOURHOOD_2HOP, params)
    assert [(row["id"], row["hub"]) for row in two] == [("H", False)]
    assert len(two[0]["second"]) == 7 and "A" not in two[0]["second"]


def test_two_hop_reads_step_around_a_hub_without_expanding_it(
    store: GraphStore, tmp_path: Path
) -> None:
    _hub_bank(store, tmp_path)
    params = {"id": "A", "fanout": 5, "budget": 7, "hub_degree": 60}
    assert store.run(q.NEIGHBOURHOOD_2HOP, params) == [{"id": "H", "hub": True, "second": []}]
