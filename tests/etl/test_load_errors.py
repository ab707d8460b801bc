"""A load whose store fails is a store problem, on both load paths and in the CLI: a stopped
server is StoreUnavailable (exit code 4), never bad input (exit code 2). On the embedded
FalkorDB server; tests/etl/test_neo4j_bulk.py holds Neo4j's side."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from cli import main as cli
from etl.bulk import bulk_load
from etl.load import load_folder
from graph import embedded
from graph.backends.falkor import FalkorStore
from graph.bulk import EdgeColumns, NodeColumns
from graph.errors import StoreError, StoreUnavailable

CUSTOMERS = """customer_id,name,id_number,gender,birth_date,opened_at,status
C1,A,X1,F,1990-01-01,2020-01-01,active
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "bank"
    path.mkdir()
    (path / "customers.csv").write_text(CUSTOMERS)
    return path


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[embedded.ServerInfo]:
    """An embedded server of this test's own, stopped after it (if the test has not)."""
    data_dir = tmp_path / "data"
    yield embedded.ensure_running(data_dir)
    embedded.stop(data_dir)


@pytest.fixture
def stopped_store(own_server: embedded.ServerInfo) -> FalkorStore:
    """A store whose server was stopped after the store connected to it."""
    store = FalkorStore(own_server.host, own_server.port, own_server.password, "g", 2000)
    store.ping()
    embedded.stop(own_server.data_dir)
    return store


def test_a_stopped_server_is_store_unavailable_on_the_bulk_path(
    stopped_store: FalkorStore, folder: Path
) -> None:
    with pytest.raises(StoreUnavailable, match="unreachable"):
        bulk_load(stopped_store, folder, progress=False)
    with pytest.raises(StoreUnavailable, match="unreachable"):
        stopped_store.bulk_loader().load(
            [NodeColumns("Customer", pa.table({"id": ["C1"]}))], [], False
        )


def test_a_stopped_server_is_store_unavailable_on_the_incremental_path(
    stopped_store: FalkorStore, folder: Path
) -> None:
    with pytest.raises(StoreUnavailable, match="unreachable"):
        load_folder(stopped_store, folder, progress=False)


def test_a_server_lost_just_before_graph_bulk_is_store_unavailable(
    own_server: embedded.ServerInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FalkorStore(own_server.host, own_server.port, own_server.password, "g", 2000)
    clear = store.clear

    def clear_then_stop() -> None:  # the last step before the stream: the server goes away
        clear()
        embedded.stop(own_server.data_dir)

    monkeypatch.setattr(store, "clear", clear_then_stop)
    monkeypatch.setattr(store, "aof_rewrite_paused", contextlib.nullcontext)
    customers = NodeColumns("Customer", pa.table({"id": ["C1"]}))
    with pytest.raises(StoreUnavailable, match="unreachable"):
        store.bulk_loader().load([customers], [], False)


@pytest.mark.parametrize("bulk", [["--bulk"], []], ids=["bulk", "incremental"])
def test_cli_load_reports_a_stopped_store_as_a_store_problem_with_exit_4(
    stopped_store: FalkorStore,
    folder: Path,
    bulk: list[str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli, "open_store", lambda: stopped_store)
    assert cli.main(["load", *bulk, "--quiet", str(folder)]) == StoreUnavailable.exit_code == 4
    message = capsys.readouterr().err.strip().splitlines()
    assert message == [
        f"vouchgraph: error: graph store at {stopped_store.host}:{stopped_store.port} "
        "unreachable (ConnectionError)"
    ]


def test_a_block_graph_bulk_refuses_is_a_store_error_and_leaves_no_graph(
    own_server: embedded.ServerInfo,
) -> None:
    store = FalkorStore(own_server.host, own_server.port, own_server.password, "g", 2000)
    nested = pa.table({"id": ["C1"], "when": pa.array([{"a": 1}])})  # a struct: not encodable
    with pytest.raises(StoreError, match="unsupported column type") as raised:
        store.bulk_loader().load([NodeColumns("Customer", nested)], [], False)
    assert not isinstance(raised.value, StoreUnavailable)
    assert store.is_empty()


def test_a_bulk_loader_of_the_embedded_store_loads_the_blocks_and_builds_the_schema(
    own_server: embedded.ServerInfo,
) -> None:
    store = FalkorStore(own_server.host, own_server.port, own_server.password, "g", 2000)
    assert store.bulk_loader().refusal() is None
    customers = NodeColumns("Customer", pa.table({"id": ["C1", "C2"]}))
    ties = EdgeColumns("KIN", np.array([0]), np.array([1]), pa.table({"kind": ["spouse"]}))
    store.bulk_loader().load([customers], [ties], False)
    assert not store.is_empty()
    assert {c["label"] for c in store.constraints()} >= {"Customer"}
    with pytest.raises(StoreError, match="not empty"):
        store.bulk_loader().load([customers], [], False)
