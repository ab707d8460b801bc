"""`vouchgraph demo` (what `make demo` runs) builds, loads and summarises a bank, and trains and
promotes a model, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_builds_loads_and_summarises_a_bank(data_dir: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "VOUCHGRAPH_GRAPH_NAME": "demo_test",
        "VOUCHGRAPH_MODEL_DIR": str(tmp_path / "models"),
    }
    cmd = [
        sys.executable,
        "-m",
        "cli",
        "demo",
        "--customers",
        "1000",
        "--out",
        str(tmp_path / "bank"),
        "--no-serve",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "Loaded" in done.stdout and "(bulk)" in done.stdout
    assert ":Customer" in done.stdout and "sample customer C" in done.stdout
    assert "demo ready" in done.stdout
    assert "promoted" in done.stdout and (tmp_path / "models" / "PROMOTED").exists()
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0 and "already holds data" in again.stdout
    assert "training" not in again.stdout  # the promoted version serves again
    import dataclasses

    from graph.settings import load_settings
    from graph.store import open_store

    open_store(dataclasses.replace(load_settings(), graph_name="demo_test")).clear()
