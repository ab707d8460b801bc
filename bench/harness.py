"""The benchmarks' harness: where a result came from (command, machine, code), free ports,
percentiles, a scratch store, a child server, a raw HTTP status line."""

from __future__ import annotations

import contextlib
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent


def git(*args: str) -> str | None:
    """`git ARGS` in the repository, or None where git cannot tell (no checkout)."""
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentiles(
    samples: list[float], quantiles: tuple[float, ...] = (0.5, 0.95, 0.99)
) -> dict[str, Any]:
    """n, the quantiles, max and mean of samples in seconds, as milliseconds."""
    if not samples:
        return {"n": 0}
    ordered = sorted(samples)
    figures: dict[str, Any] = {"n": len(ordered)}
    for q in quantiles:
        figures[f"p{round(q * 100)}_ms"] = round(
            ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 3
        )
    figures["max_ms"] = round(ordered[-1] * 1000, 3)
    figures["mean_ms"] = round(statistics.fmean(ordered) * 1000, 3)
    return figures


def scratch_store(work: Path) -> Path:
    """Point this process (and the servers it starts) at an embedded store of its own under
    `work`, with no user configuration; returns the store's data directory."""
    data_dir = work / "data"
    config = work / "none.toml"
    config.write_text("[vouchgraph]\n")
    os.environ["VOUCHGRAPH_DATA_DIR"] = str(data_dir)
    os.environ["VOUCHGRAPH_CONFIG"] = str(config)
    os.environ.pop("VOUCHGRAPH_GRAPH_URI", None)
    return data_dir


@contextlib.contextmanager
def child_server(argv: list[str], port: int, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start an API server process (`argv`, listening on `port`), wait until /readyz answers
    200, yield it; stop it (SIGTERM, then kill) whatever happens. Its output goes to
    `log_path`, whose tail is in the error when it exits early."""
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the API server exited with {proc.returncode}: {tail}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the API server did not become ready within 120 s")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def machine() -> dict[str, Any]:
    """The machine a figure was taken on: CPUs usable and present, CPU model, memory, load now."""
    info = Path("/proc/cpuinfo").read_text()
    model = next(
        (ln.split(":", 1)[1].strip() for ln in info.splitlines() if "model name" in ln), None
    )
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor() or platform.machine(),
        "memory_gib": round(mem_kib / 2**20, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
    }


def provenance(benchmark: str) -> dict[str, Any]:
    """The head of every result file: which benchmark, the command, the machine, the code."""
    return {
        "benchmark": benchmark,
        "command": " ".join([os.path.relpath(sys.executable, ROOT), *sys.argv]),
        "machine": machine(),
        "code": {
            "commit": git("rev-parse", "HEAD"),
            "modified_tracked_files": (
                git("status", "--porcelain", "--untracked-files=no") or ""
            ).splitlines(),
        },
    }


def status_line(sock: socket.socket) -> str:
    """The first line of what the server sent on a raw socket ("" when it closed at once)."""
    received = b""
    while b"\r\n" not in received:
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    return received.split(b"\r\n", 1)[0].decode("latin-1")
