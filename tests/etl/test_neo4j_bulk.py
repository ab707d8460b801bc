"""`vouchgraph load --bulk` on the local Neo4j (`neo4j-admin database import full`), against
the session's real server: same graph as the incremental path, the importer's reading of empty
strings, nulls and lists, the fallback for a remote server, and the CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from test_load import _write, snapshot

from etl.bulk import bulk_supported
from etl.load import Loader, graph_counts, load_folder
from graph import neo4j_local
from graph import queries as q
from graph.backends.neo4j_bulk import (
    REMOTE_NEO4J,
    BulkImportError,
    import_columns,
    write_import_files,
)
from graph.backends.neo4j_driver import Neo4jStore
from graph.bulk import EdgeColumns, NodeColumns
from graph.errors import StoreUnavailable
from graph.settings import Settings
from graph.store import open_store

pytestmark = pytest.mark.only_backend("neo4j")  # the importer is Neo4j's; FalkorDB has its own


def test_bulk_import_keeps_quotes_commas_and_late_facts(settings: Settings, tmp_path: Path) -> None:
    # (the sources refuse control characters, so line breaks are tested on the importer below)
    _write(
        tmp_path,
        "customers.csv",
        """
customer_id,name,id_number,gender,birth_date,address,opened_at,status
C1,"O""Brien, \\ Jr.",X1,F,1990-01-01,"Flat 2; Long Road",2020-01-01,active
C2,Zoë Ünal,X2,M,1990-01-01, spaced ,2020-01-01,active
C1,"O""Brien, \\ Jr.",X1,F,1990-01-01,"Flat 2; Long Road",2020-01-01,dormant
""",
    )
    _write(
        tmp_path,
        "relations.csv",
        """
src_id,dst_id,category,kind,source,since
C1,C2,KIN,spouse,bank,2020-01-01
C1,C2,KIN,spouse,household_registry,
""",
    )
    _write(
        tmp_path,
        "credit.csv",
        """
customer_id,grade,score,as_of
C1,A,700,2025-06-01
C1,B,600,2025-01-01
""",
    )
    _write(
        tmp_path,
        "transfers.csv",
        """
transfer_id,src_id,dst_id,amount,currency,ts
T1,C1,C2,12.5,CNY,2025-01-01T10:00:00Z
T2,C1,C2,0.1,CNY,2025-01-02T10:00:00Z
""",
    )
    store = open_store(settings)
    try:
        Loader(store, progress=False).load(tmp_path)
        incremental = snapshot(store)
        store.clear()
        assert load_folder(store, tmp_path, progress=False, bulk=True).mode == "bulk"
        assert snapshot(store) == incremental
        nodes = {r["props"].get("id"): r["props"] for r in store.run(q.ALL_NODES)}
        assert nodes["C1"]["name"] == 'O"Brien, \\ Jr.' and nodes["C2"]["name"] == "Zoë Ünal"
        assert nodes["C1"]["address"] == "Flat 2; Long Road"
        assert nodes["C1"]["status"] == "dormant" and nodes["C1"]["credit_grade"] == "A"
    finally:
        store.clear()


def test_the_importer_keeps_empty_strings_nulls_and_lists(settings: Settings) -> None:
    """What the CSV files say survives the import: "" stays "", a null stays absent."""
    store = open_store(settings)
    assert isinstance(store, Neo4jStore)
    home = neo4j_local.default_home()
    people = pa.table(
        {
            "id": ["p0", "p1", "p2", "p3"],
            "text": ["", None, 'say "hi", \\o/', "two\nlines"],
            "count": pa.array([0, None, -(2**63), 2**63 - 1], pa.int64()),
            "ratio": [0.1, None, -0.0, 1e300],
            "flag": [False, None, True, True],
            "tags": pa.array([["", "a"], None, ["x;y", "z"], ["only"]]),
            "scores": pa.array([[1, 2], None, [3], [4]]),
            "nothing": pa.nulls(4),
            "kind": pa.array(["a", None, "b", "a"]).dictionary_encode(),
        }
    )
    nodes = [NodeColumns("Probe", people), NodeColumns("Other", pa.table({"id": ["o"]}))]
    edges = [EdgeColumns("LINKS", np.array([0, 2]), np.array([4, 4]), pa.table({"w": ["", None]}))]
    try:
        import_columns(home, nodes, edges)
        probes = [r["props"] for r in store.run(q.ALL_NODES) if r["labels"] == ["Probe"]]
        got = sorted(probes, key=lambda p: p["id"])
        assert got[0] == {
            "id": "p0",
            "text": "",
            "count": 0,
            "ratio": 0.1,
            "flag": False,
            "tags": ["", "a"],
            "scores": [1, 2],
            "kind": "a",
        }
        assert got[1] == {"id": "p1"}
        assert got[2]["text"] == 'say "hi", \\o/' and got[2]["count"] == -(2**63)
        assert got[2]["tags"] == ["x;y", "z"] and str(got[2]["ratio"]) == "-0.0"
        assert got[3]["text"] == "two\nlines" and got[3]["ratio"] == 1e300
        links = [r for r in store.run(q.ALL_RELATIONSHIPS) if r["type"] == "LINKS"]
        assert sorted((r["src"], r["dst"], r["props"]) for r in links) == [
            ("p0", "o", {"w": ""}),
            ("p2", "o", {}),
        ]
    finally:
        store.clear()
        store.ensure_schema()


@pytest.mark.parametrize(
    ("column", "says"),
    [
        (pa.array([[]], pa.list_(pa.string())), "empty list"),
        (pa.array([[""]]), "empty list"),
        (pa.array([["a", None]]), "null"),
        (pa.array([["a\x1fb"]]), "delimiter"),
        (pa.array([[[1]]]), "nested"),
        (pa.array([float("nan")]), "NaN"),
    ],
)
def test_values_the_importer_would_change_are_refused(
    tmp_path: Path, column: pa.Array, says: str
) -> None:
    nodes = [NodeColumns("Probe", pa.table({"secret": column}))]
    with pytest.raises(BulkImportError, match=says) as raised:
        write_import_files(tmp_path, nodes, [])
    assert "a\x1fb" not in str(raised.value)  # the property is named, never its value


def test_a_remote_neo4j_is_loaded_incrementally_with_a_note(
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
    local = open_store(settings)
    assert isinstance(local, Neo4jStore)
    port = neo4j_local.running().port  # type: ignore[union-attr]
    assert bulk_supported(local) is None
    for uri in (f"bolt://127.0.0.1:{port + 1}", f"neo4j://db.example.org:{port}"):
        # the same server behind a URI that does not name the local one: treated as remote
        remote = Neo4jStore(local.driver, local.database, local.timeout_ms, uri)
        assert bulk_supported(remote) == REMOTE_NEO4J
    notes: list[str] = []
    try:
        report = load_folder(remote, tmp_path, progress=False, bulk=True, on_note=notes.append)
        assert report.mode == "incremental"
        assert notes == [f"--bulk not used: {REMOTE_NEO4J}; loading incrementally"]
        assert not local.is_empty()
    finally:
        local.clear()


def test_cli_load_bulk_into_the_empty_local_neo4j(settings: Settings, small_bank: Path) -> None:
    # (tests/etl/test_load.py compares the bulk graph with the incremental one on both backends)
    port = neo4j_local.running().port  # type: ignore[union-attr]
    out = subprocess.run(
        [sys.executable, "-m", "cli", "load", "--bulk", str(small_bank), "--json"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=True,
        timeout=280,
    )
    report = json.loads(out.stdout)
    assert report["mode"] == "bulk" and report["rows_rejected"] == 0
    assert "IMPORT DONE" in out.stderr  # the importer's progress lines reach the terminal
    store = open_store(settings)
    try:
        assert graph_counts(store)[0]["Customer"] == 1000
        # the server came back on the URI every client holds, with the schema built again
        assert neo4j_local.running().port == port  # type: ignore[union-attr]
        assert store.constraints()  # type: ignore[attr-defined]
    finally:
        store.clear()


ONE_CUSTOMER = """
customer_id,name,id_number,gender,birth_date,opened_at,status
C1,A,X1,F,1990-01-01,2020-01-01,active
"""


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_refused_neo4j_connection_is_store_unavailable_on_the_bulk_path(
    settings: Settings, tmp_path: Path
) -> None:
    _write(tmp_path, "customers.csv", ONE_CUSTOMER)
    refused = dataclasses.replace(
        settings, graph_uri=f"bolt://127.0.0.1:{_closed_port()}", query_timeout_ms=2000
    )
    store = open_store(refused)
    assert store.bulk_loader().refusal() == REMOTE_NEO4J  # not the local server: incremental
    notes: list[str] = []
    with pytest.raises(StoreUnavailable, match="Neo4j unreachable"):
        load_folder(store, tmp_path, progress=False, bulk=True, on_note=notes.append)
    assert notes == [f"--bulk not used: {REMOTE_NEO4J}; loading incrementally"]


def test_cli_load_reports_a_refused_neo4j_as_a_store_problem_with_exit_4(
    settings: Settings, tmp_path: Path
) -> None:
    _write(tmp_path, "customers.csv", ONE_CUSTOMER)
    env = {**os.environ, "VOUCHGRAPH_GRAPH_URI": f"bolt://127.0.0.1:{_closed_port()}"}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "load", "--bulk", "--quiet", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == StoreUnavailable.exit_code == 4
    assert done.stderr.strip().splitlines() == [
        f"--bulk not used: {REMOTE_NEO4J}; loading incrementally",
        "vouchgraph: error: Neo4j unreachable (ServiceUnavailable)",
    ]
