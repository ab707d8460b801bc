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
import redis

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


_ENSURE_RUNNING = (
    "from graph import embedded; from pathlib import Path; import sys; "
    "print(embedded.ensure_running(Path(sys.argv[1])).pid)"
)


def _servers(data_dir: Path) -> list[int]:
    """The live redis-server processes working in `data_dir` (the server runs there)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            cwd = os.readlink(proc / "cwd")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"redis-server" in cmdline and cwd == str(data_dir) and state != "Z":
            pids.append(int(proc.name))
    return pids


def _aof_parts(data_dir: Path) -> dict[str, Path]:
    """The base and incremental files the AOF manifest names, by type ("b", "i")."""
    manifest = (data_dir / embedded.AOF_DIR / f"{embedded.AOF_NAME}.manifest").read_text()
    parts = {}
    for line in manifest.splitlines():
        words = line.split()
        parts[words[words.index("type") + 1]] = data_dir / embedded.AOF_DIR / words[1]
    return parts


def _persistence(info: embedded.ServerInfo) -> dict[str, object]:
    client = redis.Redis(host=info.host, port=info.port, password=info.password)
    try:
        return client.info("persistence")
    finally:
        client.close()


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


def test_concurrent_starts_from_many_processes_leave_exactly_one_server(
    own_dir: Path, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    # every process waits for the same signal, so that their starts really overlap
    code = f"import pathlib, time\nwhile not pathlib.Path({str(go)!r}).exists(): time.sleep(0.01)\n"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code + _ENSURE_RUNNING, str(own_dir)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    time.sleep(0.5)
    go.touch()
    pids = {int(p.communicate(timeout=60)[0].strip()) for p in procs}
    assert len(pids) == 1
    assert _servers(own_dir) == list(pids)
    state = json.loads((own_dir / embedded.STATE_FILE).read_text())
    assert state["pid"] in pids and state["state"] == "running"


def test_a_server_whose_state_file_is_lost_is_found_again_not_doubled(own_dir: Path) -> None:
    info = embedded.ensure_running(own_dir)
    (own_dir / embedded.STATE_FILE).unlink()
    out = subprocess.run(
        [sys.executable, "-c", _ENSURE_RUNNING, str(own_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert int(out.stdout.strip()) == info.pid
    assert _servers(own_dir) == [info.pid]
    assert json.loads((own_dir / embedded.STATE_FILE).read_text())["pid"] == info.pid


def test_server_keeps_a_multi_part_aof_with_a_snapshot_base_and_rewrites_it_as_it_grows(
    own_dir: Path,
) -> None:
    info = embedded.ensure_running(own_dir)
    client = redis.Redis(host=info.host, port=info.port, password=info.password)
    try:
        config = {
            k: client.config_get(k)[k]
            for k in (
                "appendonly",
                "appendfsync",
                "appenddirname",
                "aof-use-rdb-preamble",
                "auto-aof-rewrite-percentage",
                "auto-aof-rewrite-min-size",
            )
        }
    finally:
        client.close()
    assert config["appendonly"] == "yes" and config["appendfsync"] == "always"
    assert config["appenddirname"] == embedded.AOF_DIR
    assert config["aof-use-rdb-preamble"] == "yes"
    assert 0 < int(config["auto-aof-rewrite-percentage"]) <= 100
    assert 0 < int(config["auto-aof-rewrite-min-size"]) <= 64 * 2**20


def test_compacting_after_a_load_leaves_a_snapshot_that_a_restart_reads(own_dir: Path) -> None:
    store = _store(embedded.ensure_running(own_dir))
    sample = q.UPSERT_CUSTOMERS.params["rows"][0]
    rows = [{**sample, "customer_id": f"C{i:04d}"} for i in range(500)]
    store.run(q.UPSERT_CUSTOMERS, {"rows": rows})
    store.close()
    assert _aof_parts(own_dir)["i"].stat().st_size > 10_000  # the load, as queries

    assert embedded.compact(own_dir) is True

    parts = _aof_parts(own_dir)
    assert parts["b"].name.endswith(".base.rdb")
    assert parts["b"].read_bytes()[:5] == b"REDIS"  # a snapshot, not queries
    assert parts["i"].stat().st_size < 1_000
    assert embedded.status(own_dir)["aof_replay_bytes"] == parts["i"].stat().st_size
    log_before = (own_dir / embedded.LOG_FILE).stat().st_size
    assert embedded.stop(own_dir) is True

    store = _store(embedded.ensure_running(own_dir))
    assert len(store.run(q.RANDOM_CUSTOMER_IDS, {"skip": 0, "limit": 1000})) == 500
    store.close()
    with open(own_dir / embedded.LOG_FILE, encoding="utf-8") as fh:
        fh.seek(log_before)
        restart_log = fh.read()
    assert f"DB loaded from base file {parts['b'].name}" in restart_log
    assert "DB loaded from incr file" not in restart_log


def test_compact_is_a_no_op_without_a_server(own_dir: Path) -> None:
    assert embedded.compact(own_dir) is False


def test_aof_rewrite_paused_compacts_before_the_bulk_load_returns(own_dir: Path) -> None:
    info = embedded.ensure_running(own_dir)
    rewrites = int(_persistence(info)["aof_rewrites"])
    store = _store(info)
    with store.aof_rewrite_paused():
        assert int(store._command("CONFIG", "GET", "auto-aof-rewrite-percentage")[1]) == 0
        _write_customer(store, "C1")
    persistence = _persistence(info)
    assert int(persistence["aof_rewrites"]) == rewrites + 1
    assert persistence["aof_rewrite_in_progress"] == 0
    assert persistence["aof_last_bgrewrite_status"] == "ok"
    percentage = store._command("CONFIG", "GET", "auto-aof-rewrite-percentage")[1]
    assert int(percentage) == embedded.AUTO_REWRITE_PERCENTAGE
    store.close()
    assert _aof_parts(own_dir)["i"].stat().st_size < 1_000


def test_a_loading_server_is_waited_for_by_other_processes_never_killed_nor_doubled(
    own_dir: Path,
) -> None:
    info = embedded.ensure_running(own_dir)
    client = redis.Redis(host=info.host, port=info.port, password=info.password)
    pipe = client.pipeline(transaction=False)
    for i in range(10_000):
        pipe.set(f"k{i}", "v")
    pipe.execute()
    client.close()
    embedded.compact(own_dir)
    embedded.stop(own_dir)
    # a real server, slowed down while it loads its snapshot (redis's own debug setting), so
    # that the loading phase lasts a few seconds
    (own_dir / embedded.LOCAL_CONFIG_FILE).write_text(
        "key-load-delay 300\nloading-process-events-interval-bytes 1024\n"
    )
    first = subprocess.Popen(
        [sys.executable, "-c", _ENSURE_RUNNING, str(own_dir)], stdout=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 30
    status = embedded.status(own_dir)
    while status["state"] != "loading" and time.monotonic() < deadline:
        time.sleep(0.02)
        status = embedded.status(own_dir)
    assert status["state"] == "loading" and status["running"] is False
    assert "loading_loaded_perc" in status
    loading_pid = status["pid"]
    state = json.loads((own_dir / embedded.STATE_FILE).read_text())
    assert state == {"pid": loading_pid, "port": state["port"], "state": "starting"}

    # a caller that gives up is told why, and the server goes on loading
    with pytest.raises(StoreUnavailable, match="still loading"):
        embedded.ensure_running(own_dir, startup_timeout=0.3)
    assert _servers(own_dir) == [loading_pid]

    second = subprocess.Popen(
        [sys.executable, "-c", _ENSURE_RUNNING, str(own_dir)], stdout=subprocess.PIPE, text=True
    )
    pids = {int(p.communicate(timeout=60)[0].strip()) for p in (first, second)}
    assert pids == {loading_pid}
    assert _servers(own_dir) == [loading_pid]
    assert json.loads((own_dir / embedded.STATE_FILE).read_text())["state"] == "running"
    info = embedded.ensure_running(own_dir)
    client = redis.Redis(host=info.host, port=info.port, password=info.password)
    assert client.dbsize() == 10_000
    client.close()


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


def test_kill_9_after_a_compaction_keeps_the_snapshot_and_the_writes_after_it(
    own_dir: Path,
) -> None:
    info = embedded.ensure_running(own_dir)
    store = _store(info)
    _write_customer(store, "C1")
    assert embedded.compact(own_dir) is True
    _write_customer(store, "C2")
    store.close()
    os.kill(info.pid, signal.SIGKILL)
    restarted = embedded.ensure_running(own_dir)
    assert restarted.pid != info.pid
    assert _servers(own_dir) == [restarted.pid]
    store = _store(restarted)
    assert _customers(store) == ["C1", "C2"]
    store.close()


def test_cli_db_start_status_stop(own_dir: Path) -> None:
    env = {**os.environ, "VOUCHGRAPH_DATA_DIR": str(own_dir)}
    cli = [sys.executable, "-m", "cli", "db"]

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
