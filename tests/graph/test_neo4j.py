"""The local Neo4j's lifecycle through the CLI users run: start, reuse, status, env, a restart
after `kill -9` with the data intact, stop; and one clear line when Java or Maven is missing."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph import neo4j_local
from graph import queries as q
from graph.settings import load_settings
from graph.store import open_store

CLI = [sys.executable, "-m", "cli"]
pytestmark = pytest.mark.xdist_group("neo4j")  # on the worker that runs the session's Neo4j


def _cli(home: Path, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "VOUCHGRAPH_NEO4J_DIR": str(home)}
    env.pop("JAVA_HOME", None)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [*CLI, "neo4j", *args], env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def own_home(tmp_path: Path, neo4j_server: neo4j_local.Neo4jServer) -> Iterator[Path]:
    """A Neo4j directory of its own (its jars linked from the session's), stopped after."""
    home = tmp_path / "neo4j"
    home.mkdir()
    os.symlink(neo4j_local.lib_dir(neo4j_server.home).resolve(), neo4j_local.lib_dir(home))
    yield home
    neo4j_local.stop(home)


def _env_lines(text: str) -> dict[str, str]:
    lines = [line.removeprefix("export ").split("=", 1) for line in text.splitlines()]
    return {k: v.strip("'") for k, v in lines}


def test_start_reuse_status_kill_restart_and_stop(own_home: Path) -> None:
    started = _cli(own_home, "start", "--env")
    assert started.returncode == 0, started.stderr
    env = _env_lines(started.stdout)
    assert env["VOUCHGRAPH_GRAPH_URI"].startswith("bolt://127.0.0.1:")
    assert env["NEO4J_USER"] == "neo4j" and len(env["NEO4J_PASSWORD"]) >= 24
    assert stat.S_IMODE((own_home / "password").stat().st_mode) == 0o600
    conf = (own_home / "conf" / "neo4j.conf").read_text()
    assert "server.http.enabled=false" in conf and "dbms.security.auth_enabled=true" in conf

    status = json.loads(_cli(own_home, "status", "--json").stdout)
    assert status["state"] == "running" and status["uri"] == env["VOUCHGRAPH_GRAPH_URI"]
    again = _cli(own_home, "start", "--json")  # a second process reuses the running server
    assert json.loads(again.stdout)["pid"] == status["pid"]

    store = open_store(
        dataclasses.replace(
            load_settings(),
            graph_uri=env["VOUCHGRAPH_GRAPH_URI"],
            neo4j_password=env["NEO4J_PASSWORD"],
        )
    )
    row = {**q.UPSERT_CUSTOMERS.params["rows"][0], "customer_id": "KEPT"}
    store.run(q.UPSERT_CUSTOMERS, {"rows": [row]})

    os.kill(int(status["pid"]), signal.SIGKILL)
    deadline = time.monotonic() + 30
    while _cli(own_home, "status", "--json").returncode == 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert json.loads(_cli(own_home, "status", "--json").stdout)["state"] == "stopped"
    restarted = _cli(own_home, "start", "--env")
    assert restarted.returncode == 0, restarted.stderr
    assert _env_lines(restarted.stdout) == env  # the same port and password after a restart
    assert store.run(q.EXISTING_CUSTOMERS, {"ids": ["KEPT"]}) == [{"id": "KEPT"}]

    stopped = _cli(own_home, "stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert _cli(own_home, "status").returncode == 1


def _bin_with(tmp_path: Path, *tools: str) -> str:
    """A PATH holding only `tools` (and what a Python subprocess needs)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in tools:
        found = shutil.which(tool)
        assert found, tool
        os.symlink(found, folder / tool)
    return str(folder)


def test_missing_java_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    done = _cli(tmp_path / "home", "start", path=_bin_with(tmp_path))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "vouchgraph: error: Java not found: the local Neo4j needs Java 17 or 21 (`java` on PATH)"
    ]


def test_missing_maven_is_one_clear_line_and_exit_2(tmp_path: Path) -> None:
    if shutil.which("java") is None:
        pytest.skip("java not found: cannot get past the Java check on this machine")
    done = _cli(tmp_path / "home", "start", path=_bin_with(tmp_path, "java"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "vouchgraph: error: Maven not found: the local Neo4j's jars are resolved with `mvn`"
    ]
