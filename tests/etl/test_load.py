"""`vouchgraph load`: reports, rejects bad rows, is idempotent, survives a kill, bulk path."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from etl.load import Loader, load_folder
from etl.readers import MalformedFile
from graph import queries as q
from graph.settings import Settings
from graph.store import GraphStore, open_store


def loaded_snapshot(
    store: GraphStore, load: Callable[[GraphStore], object]
) -> tuple[list[Any], list[Any]]:
    """The snapshot of what `load` makes of `store` (one graph at a time: Neo4j Community has
    one database, so two loads are compared one after the other)."""
    load(store)
    return snapshot(store)


def snapshot(store: GraphStore) -> tuple[list[Any], list[Any]]:
    """Every node and relationship with its properties, in a canonical order."""
    nodes = sorted(
        json.dumps([sorted(r["labels"]), r["props"]], sort_keys=True)
        for r in store.run(q.ALL_NODES)
    )
    rels = sorted(
        json.dumps([r["type"], r["src"], r["dst"], r["props"]], sort_keys=True)
        for r in store.run(q.ALL_RELATIONSHIPS)
    )
    return nodes, rels


def test_load_reports_every_file_and_fills_the_graph(store: GraphStore, small_bank: Path) -> None:
    report = Loader(store, progress=False).load(small_bank)
    by_source = {f.source: f for f in report.files}
    assert by_source["customers"].rows_loaded == 1000
    unsynthesised = {"ratings", "attributes"}  # the synthetic bank writes them header-only
    empty = [f.source for f in report.files if f.rows_read == 0]
    assert sorted(empty) == sorted(unsynthesised), [f.source for f in report.files if f.note]
    assert report.rows_rejected == 0, [f.rejections for f in report.files]
    assert report.nodes_after["Customer"] == 1000
    for rel in (
        "KIN",
        "SOCIAL",
        "TRANSFERRED",
        "USES_PHONE",
        "USES_DEVICE",
        "HAS_APP",
        "CONTACTED",
        "VOUCHED_FOR",
        "GAVE_CONSENT",
        "WAS_REJECTED",
    ):
        assert report.relationships_after.get(rel, 0) > 0, rel
    data = report.to_dict()
    assert data["nodes_written"] == sum(report.nodes_after.values())
    assert data["relationships_written"] > 1000
    assert "rows/s" in report.render()


def test_loading_the_same_folder_twice_changes_nothing(store: GraphStore, small_bank: Path) -> None:
    Loader(store, progress=False).load(small_bank)
    first = snapshot(store)
    report = Loader(store, progress=False).load(small_bank)
    assert report.nodes_written == 0 and report.relationships_written == 0
    assert snapshot(store) == first


def test_transfers_are_aggregated_per_pair(store: GraphStore, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,id_number,gender,birth_date,opened_at,status\n"
        "C1,A,X1,F,1990-01-01,2020-01-01,active\nC2,B,X2,M,1990-01-01,2020-01-01,active\n"
    )
    (tmp_path / "transfers.csv").write_text(
        "transfer_id,src_id,dst_id,amount,ts\n"
        "T1,C1,C2,100,2026-01-01\nT2,C1,C2,50.5,2026-03-01\nT3,C2,C1,7,2025-01-01\n"
    )
    Loader(store, progress=False).load(tmp_path)
    Loader(store, progress=False).load(tmp_path)
    rels = {(r["src"], r["dst"]): r["props"] for r in store.run(q.ALL_RELATIONSHIPS)}
    c1c2 = rels[("C1", "C2")]
    assert (c1c2["count"], c1c2["total"], c1c2["max_amount"]) == (2, 150.5, 100.0)
    assert c1c2["first_ts"] < c1c2["last_ts"]
    profile = store.run(q.CUSTOMER_PROFILE, {"id": "C1"})[0]
    assert profile["out_count_180d"] == 2 and profile["out_total_180d"] == 150.5
    # C2's only transfer out is more than 180 days before the file's newest one
    assert store.run(q.CUSTOMER_PROFILE, {"id": "C2"})[0]["out_count_180d"] == 0


def test_bad_rows_are_reported_and_the_rest_loads(store: GraphStore, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,id_number,gender,birth_date,opened_at,status\n"
        "C1,A,X1,F,1990-01-01,2020-01-01,active\n"
        "C2,B,X2,Q,1990-01-01,2020-01-01,active\n"
        "C3,C,X3,M,1990-01-01,2020-01-01\n"
        "C4,D,X4,M,1990-01-01,2020-01-01,active\n"
    )
    (tmp_path / "relations.csv").write_text(
        "src_id,dst_id,category,kind,source\nC1,C4,KIN,spouse,bank\nC1,C2,KIN,spouse,bank\n"
    )
    report = Loader(store, progress=False).load(tmp_path)
    customers, relations = report.files[0], report.files[1]
    assert (customers.rows_read, customers.rows_loaded, customers.rows_rejected) == (4, 2, 2)
    assert customers.rejections == [
        "customers.csv:3: gender: 'Q' is not one of F, M, X",
        "customers.csv:4: (row): has 6 columns, the header has 7",
    ]
    assert relations.rejections == ["relations.csv:3: dst_id: no such customer 'C2' in the graph"]
    assert report.nodes_after == {"Customer": 2}
    skipped = [f for f in report.files if f.note]
    assert len(skipped) == 15 and skipped[0].note == "skipped: no file"


def test_a_malformed_file_stops_the_load_before_anything_is_written(
    store: GraphStore, tmp_path: Path, small_bank: Path
) -> None:
    shutil.copy(small_bank / "customers.csv", tmp_path / "customers.csv")
    (tmp_path / "relations.csv").write_text("src_id,category\nC1,KIN\n")
    with pytest.raises(MalformedFile, match=r"relations.csv: missing required column\(s\): dst_id"):
        Loader(store, progress=False).load(tmp_path)
    assert store.is_empty()
    (tmp_path / "relations.csv").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(MalformedFile, match="not UTF-8"):
        Loader(store, progress=False).load(tmp_path)
    with pytest.raises(MalformedFile, match="not a folder"):
        Loader(store, progress=False).load(tmp_path / "nothing-here")
    (tmp_path / "empty").mkdir()
    with pytest.raises(MalformedFile, match="no source file"):
        Loader(store, progress=False).load(tmp_path / "empty")


def test_parquet_loads_like_csv(store: GraphStore, small_bank: Path, tmp_path: Path) -> None:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    for name in ("customers", "relations"):
        table = pacsv.read_csv(
            small_bank / f"{name}.csv",
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
        )
        pq.write_table(table, tmp_path / f"{name}.parquet")
    report = Loader(store, progress=False).load(tmp_path)
    assert report.rows_rejected == 0, [f.rejections for f in report.files]
    assert report.nodes_after["Customer"] == 1000


def test_a_load_killed_half_way_and_run_again_gives_the_clean_graph(
    settings: Settings, small_bank: Path, tmp_path: Path
) -> None:
    store = open_store(settings)
    try:
        clean = loaded_snapshot(store, lambda s: Loader(s, progress=False).load(small_bank))
        store.clear()
        env = {**os.environ, "VOUCHGRAPH_GRAPH_NAME": settings.graph_name}
        cmd = [
            sys.executable,
            "-m",
            "cli",
            "load",
            str(small_bank),
            "--batch-size",
            "20",
            "--quiet",
        ]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until relations are being written
            if store.is_empty() is False and store.run(q.RELATIONSHIP_COUNTS):
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert snapshot(store) != clean, "the load finished before it was killed"
        Loader(store, progress=False).load(small_bank)
        assert snapshot(store) == clean
    finally:
        store.clear()


def test_bulk_first_load_gives_the_same_graph_as_incremental(
    settings: Settings, small_bank: Path
) -> None:
    store = open_store(settings)
    try:
        incremental = loaded_snapshot(store, lambda s: Loader(s, progress=False).load(small_bank))
        store.clear()
        report = load_folder(store, small_bank, progress=False, bulk=True)
        assert report.mode == "bulk" and report.rows_rejected == 0
        assert snapshot(store) == incremental
        notes: list[str] = []
        again = load_folder(store, small_bank, progress=False, bulk=True, on_note=notes.append)
        assert again.mode == "incremental" and "not empty" in notes[0]
        assert snapshot(store) == incremental
    finally:
        store.clear()


def test_cli_load_json_and_stats(settings: Settings, small_bank: Path) -> None:
    env = {**os.environ, "VOUCHGRAPH_GRAPH_NAME": settings.graph_name}
    cli = [sys.executable, "-m", "cli"]
    out = subprocess.run(
        [*cli, "load", str(small_bank), "--json", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    report = json.loads(out.stdout)
    assert report["rows_rejected"] == 0 and report["nodes_written"] > 1000
    stats = subprocess.run(
        [*cli, "stats", "--json"], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(stats.stdout)["nodes"]["Customer"] == 1000
    bad = subprocess.run(
        [*cli, "load", "/nonexistent/folder"], env=env, capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "not a folder" in bad.stderr
    open_store(settings).clear()


def _write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text.strip() + "\n")


# How the bulk path resolves rows is the same for both backends (Arrow, etl/bulk.py); each
# backend's writer is compared with the incremental path on both by the equivalence tests.
# On Neo4j every bulk load is a server restart around an import (~30 s): once is enough.
@pytest.mark.only_backend("falkordb")
def test_bulk_and_incremental_agree_on_repeated_keys_and_late_facts(
    settings: Settings, tmp_path: Path
) -> None:

    _write(
        tmp_path,
        "customers.csv",
        """
customer_id,name,id_number,gender,birth_date,opened_at,status
C1,A,X1,F,1990-01-01,2020-01-01,active
C2,B,X2,M,1990-01-01,2020-01-01,active
C1,A2,X1,F,1990-01-01,2020-01-01,dormant
C3,C,X3,M,1990-01-01,2020-01-01,active
""",
    )
    _write(
        tmp_path,
        "relations.csv",
        """
src_id,dst_id,category,kind,source,since
C1,C2,KIN,spouse,bank,2020-01-01
C1,C2,KIN,spouse,bank,2021-01-01
C1,C2,KIN,spouse,household_registry,
C2,C3,SOCIAL,friend,bank,
""",
    )
    _write(
        tmp_path,
        "devices.csv",
        """
customer_id,device_id,model,first_seen,last_seen
C1,D1,Kite A10,2024-01-01,2024-02-01
C2,D1,,2024-01-01,2024-03-01
""",
    )
    _write(
        tmp_path,
        "credit.csv",
        """
customer_id,grade,score,as_of
C1,A,700,2025-06-01
C1,B,600,2025-01-01
C2,C,500,2025-01-01
""",
    )
    _write(
        tmp_path,
        "blacklist.csv",
        """
entry_id,customer_id,id_number,reason,listed_at
B1,,X3,fraud,2025-01-01
B2,C9,,fraud,2025-01-01
""",
    )
    _write(
        tmp_path,
        "vouches.csv",
        """
vouch_id,guarantor_id,customer_id,business,ts,outcome,outcome_ts
V1,C2,C1,INSURANCE_PURCHASE,2025-01-01,PENDING,
V1,C2,C1,INSURANCE_PURCHASE,2025-01-01,FRAUD_REPORTED,2025-02-01
""",
    )
    bulk = open_store(settings)
    try:
        incremental = loaded_snapshot(bulk, lambda s: Loader(s, progress=False).load(tmp_path))
        bulk.clear()
        report = load_folder(bulk, tmp_path, progress=False, bulk=True)
        assert report.mode == "bulk"
        assert snapshot(bulk) == incremental
        nodes = {r["props"].get("id"): r["props"] for r in bulk.run(q.ALL_NODES)}
        assert nodes["C1"]["status"] == "dormant" and nodes["C1"]["credit_grade"] == "A"
        assert nodes["D1"]["model"] == "Kite A10"
        rels = [(r["type"], r["src"], r["dst"]) for r in bulk.run(q.ALL_RELATIONSHIPS)]
        assert ("BLACKLISTED_AS", "C3", "B1") in rels
        assert rels.count(("KIN", "C1", "C2")) == 2
    finally:
        bulk.clear()


# How the bulk path resolves rows is the same for both backends (Arrow, etl/bulk.py); each
# backend's writer is compared with the incremental path on both by the equivalence tests.
# On Neo4j every bulk load is a server restart around an import (~30 s): once is enough.
@pytest.mark.only_backend("falkordb")
def test_bulk_rejects_unknown_references_like_incremental(
    settings: Settings, tmp_path: Path
) -> None:
    _write(
        tmp_path,
        "customers.csv",
        """
customer_id,name,id_number,gender,birth_date,opened_at,status
C1,A,X1,F,1990-01-01,2020-01-01,active
""",
    )
    _write(
        tmp_path,
        "relations.csv",
        """
src_id,dst_id,category,kind,source
C1,C7,KIN,spouse,bank
""",
    )
    store = open_store(settings)
    try:
        report = load_folder(store, tmp_path, progress=False, bulk=True)
        assert report.mode == "bulk"
        relations = next(f for f in report.files if f.source == "relations")
        assert relations.rejections == [
            "relations.csv:2: dst_id: no such customer 'C7' in the graph"
        ]
        assert relations.rows_loaded == 0
    finally:
        store.clear()
