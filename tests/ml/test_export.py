"""From the graph to arrays: a small known graph gives the expected tensors, nothing stamped
after `as_of` is seen, and the online neighbourhood read gives the same features."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import torch

from etl.load import Loader
from graph.store import GraphStore
from ml.export import CUSTOMER_FEATURES, GraphExport, export_graph, export_neighbourhood
from ml.features import STRUCTURAL_FEATURES, cap_fanout, structural
from ml.models.gnn import edge_types, model_for, to_heterodata

AS_OF = "2026-01-01"


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text.strip() + "\n")


@pytest.fixture
def small_graph(store: GraphStore, tmp_path: Path) -> GraphStore:
    """Five customers: C1-C2 kin, C2-C3 social (only from 2026-06), transfers C1->C3 (before
    as_of) and C3->C4 (running past it), vouches by C2 for C1 (bad outcome known before
    as_of) and by C4 for C1 (outcome after as_of), a phone shared by C1 and C5, labels."""
    write(
        tmp_path,
        "customers.csv",
        """
customer_id,name,id_number,gender,birth_date,opened_at,status
C1,A,X1,F,1990-01-01,2020-01-01,active
C2,B,X2,M,1980-01-01,2015-01-01,dormant
C3,C,X3,M,1970-01-01,2010-01-01,active
C4,D,X4,F,1960-01-01,2005-01-01,closed
C5,E,X5,F,2000-01-01,2024-01-01,active
""",
    )
    write(
        tmp_path,
        "relations.csv",
        """
src_id,dst_id,category,kind,source,since
C1,C2,KIN,spouse,bank,2020-01-01
C2,C1,KIN,spouse,household_registry,
C2,C3,SOCIAL,friend,bank,2026-06-01
""",
    )
    write(
        tmp_path,
        "transfers.csv",
        """
transfer_id,src_id,dst_id,amount,ts
T1,C1,C3,100,2025-06-01
T2,C1,C3,300,2025-07-01
T3,C3,C4,50,2025-12-01
T4,C3,C4,70,2026-02-01
""",
    )
    write(
        tmp_path,
        "vouches.csv",
        """
vouch_id,guarantor_id,customer_id,business,ts,outcome,outcome_ts
V1,C2,C1,CROSS_BORDER_TRANSFER,2025-03-01,FRAUD_REPORTED,2025-05-01
V2,C4,C1,INSURANCE_PURCHASE,2025-10-01,NO_ISSUE,2026-03-01
""",
    )
    write(
        tmp_path,
        "phones.csv",
        """
customer_id,phone_number,since
C1,+1 555 0100,2020-01-01
C5,+1 555 0100,2025-01-01
""",
    )
    write(
        tmp_path,
        "labels.csv",
        """
customer_id,label,kind,ts
C1,1,mule,2025-09-01
C2,0,none,2025-09-01
C4,1,fraud,2026-05-01
""",
    )
    report = Loader(store, progress=False).load(tmp_path)
    assert report.rows_rejected == 0, [f.rejections for f in report.files]
    return store


def edges(export: GraphExport, name: str) -> set[tuple[str, str]]:
    e = export.edges[name]
    ids = export.customer_ids
    return {(ids[s], ids[d]) for s, d in zip(e.src.tolist(), e.dst.tolist(), strict=True)}


def test_a_small_known_graph_gives_the_expected_arrays(small_graph: GraphStore) -> None:
    export = export_graph(small_graph, as_of=ms(AS_OF), progress=False)
    row = {c: export.x[i] for i, c in enumerate(export.customer_ids)}
    col = {name: j for j, name in enumerate(export.feature_names)}
    assert export.feature_names[: len(CUSTOMER_FEATURES)] == CUSTOMER_FEATURES
    assert sorted(export.customer_ids) == ["C1", "C2", "C3", "C4", "C5"]
    assert row["C1"][col["age_years"]] == pytest.approx(36.0, abs=0.01)
    assert row["C2"][col["status_dormant"]] == 1 and row["C2"][col["status_active"]] == 0
    assert row["C1"][col["credit_missing"]] == 1
    # kinship recorded by two sources in both directions is one tie
    assert edges(export, "kin") == {("C1", "C2")}
    # the transfers C1 -> C3 are one edge with log count, total and largest amount
    tx = export.edges["transferred"]
    assert edges(export, "transferred") == {("C1", "C3"), ("C3", "C4")}
    i = export.customer_ids.index("C1")
    c1c3 = tx.attr[tx.src == i][0]
    assert c1c3.tolist() == pytest.approx([math.log1p(2), math.log1p(400), math.log1p(300), 0])
    # C2 vouched for C1 and it went badly (known before as_of)
    assert edges(export, "vouched") == {("C2", "C1"), ("C4", "C1")}
    # the shared phone: one phone node, two users
    assert export.phone_x.shape == (1, 3)
    assert export.phone_x[0, 1] == pytest.approx(math.log1p(2))
    phone = export.edges["uses_phone"]
    assert sorted(export.customer_ids[i] for i in phone.src) == ["C1", "C5"]
    assert phone.dst.tolist() == [0, 0]
    # labels, their times and kinds
    labels = dict(zip(export.customer_ids, export.label.tolist(), strict=True))
    assert labels == {"C1": 1, "C2": 0, "C3": -1, "C4": 1, "C5": -1}

    data = to_heterodata(export, export.known_labels())
    assert set(data.edge_types) == set(edge_types())
    assert data["customer"].x.shape == (5, len(export.feature_names))
    assert data["customer", "kin", "customer"].edge_index.shape == (2, 2)  # both ways round
    assert data["customer", "transferred_by", "customer"].edge_index.shape == (2, 2)
    assert data["customer", "uses_phone", "phone"].edge_index.shape == (2, 2)
    model = model_for(data, hidden=8, layers=2, dropout=0.0)
    logits = model.customer_logits(model.encode(data))
    assert logits.shape == (5,) and torch.isfinite(logits).all()


def test_nothing_stamped_after_as_of_is_seen(small_graph: GraphStore) -> None:
    before = export_graph(small_graph, as_of=ms(AS_OF), progress=False)
    after = export_graph(small_graph, as_of=ms("2026-12-31"), progress=False)
    # the social tie starting in June 2026
    assert edges(before, "social") == set() and edges(after, "social") == {("C2", "C3")}
    # a transfer aggregate running past as_of keeps the edge but withholds its amounts
    tx = before.edges["transferred"]
    c3 = before.customer_ids.index("C3")
    assert tx.attr[tx.src == c3][0].tolist() == [0, 0, 0, 1]
    # a vouch outcome learnt after as_of is open; the one learnt before is bad
    v = before.edges["vouched"]
    outcome = {before.customer_ids[s]: a.tolist() for s, a in zip(v.src, v.attr, strict=True)}
    assert outcome == {"C2": [0, 1, 0], "C4": [0, 0, 1]}
    v = after.edges["vouched"]
    c4 = after.customer_ids.index("C4")
    assert v.attr[v.src == c4][0].tolist() == [1, 0, 0]
    # C4's label became known after as_of: it cannot be an input, only a target
    known = dict(zip(before.customer_ids, before.known_labels().tolist(), strict=True))
    assert known["C4"] == -1 and known["C1"] == 1
    assert dict(zip(after.customer_ids, after.known_labels().tolist(), strict=True))["C4"] == 1
    # and the known-fraud neighbour counts follow
    fraud = STRUCTURAL_FEATURES.index("log_known_fraud_neighbours")
    for export, expected in ((before, 1), (after, 2)):  # C1 by transfer; then C4 too
        counts = structural(export, export.known_labels(), cap=10)[:, fraud]
        assert counts[export.customer_ids.index("C3")] == pytest.approx(math.log1p(expected))


def test_the_online_neighbourhood_reads_the_same_features(small_graph: GraphStore) -> None:
    whole = export_graph(small_graph, as_of=ms(AS_OF), progress=False)
    near = export_neighbourhood(small_graph, ["C3"], ms(AS_OF), hops=2, fanout=10)
    assert near.customer_ids[int(near.seeds[0])] == "C3"
    # two hops from C3: C1 and C4 (transfers), then C2 (kin of C1) and C5 (C1's phone)
    assert set(near.customer_ids) == {"C1", "C2", "C3", "C4", "C5"}
    for c in near.customer_ids:
        np.testing.assert_array_equal(
            near.x[near.customer_ids.index(c)], whole.x[whole.customer_ids.index(c)]
        )
    assert edges(near, "transferred") == edges(whole, "transferred")
    with pytest.raises(LookupError):
        export_neighbourhood(small_graph, ["NOPE"], ms(AS_OF))


def test_fanout_caps_every_customer_the_same_way(small_graph: GraphStore) -> None:
    whole = export_graph(small_graph, as_of=ms("2026-12-31"), progress=False)
    capped = cap_fanout(whole, fanout=1, seed=0)
    for e in capped.edges.values():
        assert np.bincount(e.src).max(initial=0) <= 1
        assert np.bincount(e.dst).max(initial=0) <= 1
