"""The benchmarks are not run by the suite (they take minutes to hours), but each must still
start: a module that no longer imports would only be found by the next person measuring."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# the scripts; bench/harness.py and bench/datasets.py are modules they import
BENCHMARKS = sorted(
    p for p in (ROOT / "bench").glob("*.py") if 'if __name__ == "__main__"' in p.read_text()
)


@pytest.mark.parametrize("script", BENCHMARKS, ids=lambda p: p.stem)
def test_a_benchmark_starts_and_describes_its_options(script: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage:" in done.stdout


def test_a_result_says_where_it_came_from() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.harness import provenance

    head = provenance("example")
    assert head["benchmark"] == "example" and head["command"]
    assert head["machine"]["nproc"] >= 1 and head["machine"]["memory_gib"] > 0
    assert head["code"]["commit"] is None or len(head["code"]["commit"]) == 40
