"""The embedded server's lifecycle: start, reuse, stop, restart after a kill with data intact."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph import embedded
from graph import queries as q
from graph.backends.falkor import FalkorStore
from graph.errors import StoreUnavailable


@pytest.fixture
def own_dir(tmp_path: Path) -> Iterator[Path]:
    """A data directory with a server of its own, stopped after the test."""
    path = tmp_path / "data"
    yield path
    embedded.stop(path)


def _store(info: embedded.ServerInfo, graph: str = "lifecycle") -> FalkorStore:
    return FalkorStore(info.host, info.port, info.password, graph, 10_000)


def _write_customer(store: FalkorStore, customer_id: str) -> None:
    row = {**q.UPSERT_CUSTOMERS.params["rows"][0], "customer_id": customer_id}
    store.run(q.UPSERT_CUSTOMERS, {"rows": [row]})


def _customers(store: FalkorStore) -> list[str]:
    return sorted(r["id"] for r in store.run(q.RANDOM_CUSTOMER_IDS, {"skip": 0, "limit": 100}))


def test_server_listens_on_loopback_with_a_private_generated_password(own_dir: Path) -> None:
    info = embedded.ensure_running(own_dir)
    assert info.host == "127.0.0.1"
    password_file = own_dir / embedded.PASSWORD_FILE
    assert stat.S_IMODE(password_file.stat().st_mode) == 0o600
    assert stat.S_IMODE((own_dir / embedded.CONFIG_FILE).stat().st_mode) == 0o600
    assert len(info.password) >= 32 and info.password == password_file.read_text().strip()
    config = (own_dir / embedded.CONFIG_FILE).read_text()
    assert "appendonly yes" in config and "bind 127.0.0.1" in config
    with pytest.raises(StoreUnavailable, match="authentication failed"):
        FalkorStore(info.host, info.port, "wrong", "g", 1000).ping()


def test_a_second_process_reuses_the_running_server(own_dir: Path) -> None:
    info = embedded.ensure_running(own_dir)
    code = (
        "from graph import embedded; from pathlib import Path; import sys; "
        "print(embedded.ensure_running(Path(sys.argv[1])).pid)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(own_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert int(out.stdout.strip()) == info.pid


def test_concurrent_starts_share_one_server(own_dir: Path) -> None:
    code = (
        "from graph import embedded; from pathlib import Path; import sys; "
        "print(embedded.ensure_running(Path(sys.argv[1])).pid)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(own_dir)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    pids = {int(p.communicate(timeout=60)[0].strip()) for p in procs}
    assert len(pids) == 1


def test_stop_then_start_keeps_the_data(own_dir: Path) -> None:
    store = _store(embedded.ensure_running(own_dir))
    _write_customer(store, "C42")
    store.close()
    assert embedded.stop(own_dir) is True
    assert embedded.running(own_dir) is None
    assert embedded.stop(own_dir) is False
    store = _store(embedded.ensure_running(own_dir))
    assert _customers(store) == ["C42"]
    store.close()


def test_a_killed_server_restarts_with_its_data_intact(own_dir: Path) -> None:
    info = embedded.ensure_running(own_dir)
    store = _store(info)
    _write_customer(store, "C7")
    store.close()
    os.kill(info.pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while embedded.running(own_dir) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    restarted = embedded.ensure_running(own_dir)
    assert restarted.pid != info.pid
    store = _store(restarted)
    assert _customers(store) == ["C7"]
    store.close()


def test_cli_db_start_status_stop(own_dir: Path) -> None:
    env = {**os.environ, "VOUCHGRAPH_DATA_DIR": str(own_dir)}
    cli = [sys.executable, "-m", "api.cli", "db"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            cli + list(args), env=env, capture_output=True, text=True, timeout=120, check=False
        )

    assert run("start").returncode == 0
    status = run("status", "--json")
    assert status.returncode == 0 and json.loads(status.stdout)["running"] is True
    stopped = run("stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert run("status").returncode == 1
