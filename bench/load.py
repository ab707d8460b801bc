"""Benchmark: synthetic bank generation, bulk and incremental loads, neighbourhood queries.

    python bench/load.py --customers 100000 [--skip-incremental] [--out bench/results]

Each phase runs in a fresh process (so its peak memory is its own): synth, bulk load into an
empty graph, incremental `UNWIND ... MERGE` load into another empty graph, then 1-hop and
2-hop neighbourhood latency (p50/p99 over 1,000 random customers, fan-out capped at 25) on the
bulk-loaded graph, with a `RETURN 1` round trip in the same process as the baseline. Prints the
figures and writes them as JSON. Uses the embedded server of VOUCHGRAPH_DATA_DIR (a temporary
one unless set), and deletes its benchmark graphs at the end.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import provenance  # noqa: E402
from graph import embedded  # noqa: E402
from graph import queries as q  # noqa: E402
from graph.queries import Query  # noqa: E402
from graph.settings import load_settings  # noqa: E402
from graph.store import GraphStore, open_store  # noqa: E402

PING = q.ROUND_TRIP


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _store(graph: str) -> GraphStore:
    return open_store(dataclasses.replace(load_settings(), graph_name=graph))


def phase_synth(customers: int, folder: Path) -> dict[str, Any]:
    from etl.synth import generate

    started = time.perf_counter()
    summary = generate(customers, 7, folder)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "rows": summary["rows"],
        "peak_rss_mib": round(_peak_rss_mib(), 1),
    }


def phase_load(folder: Path, graph: str, bulk: bool) -> dict[str, Any]:
    from etl.load import load_folder

    store = _store(graph)
    store.clear()
    started = time.perf_counter()
    report = load_folder(store, folder, progress=False, bulk=bulk)
    seconds = time.perf_counter() - started
    return {
        "mode": report.mode,
        "seconds": round(seconds, 2),
        "rows_read": report.rows_read,
        "rows_rejected": report.rows_rejected,
        "nodes": report.nodes_written,
        "relationships": report.relationships_written,
        "nodes_per_s": round(report.nodes_written / seconds),
        "relationships_per_s": round(report.relationships_written / seconds),
        "per_file_seconds": {f.source: f.seconds for f in report.files if not f.note},
        "peak_rss_mib": round(_peak_rss_mib(), 1),
    }


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda p: ordered[min(len(ordered) - 1, int(p * len(ordered)))]  # noqa: E731
    return {
        "p50_ms": round(pick(0.50) * 1000, 3),
        "p99_ms": round(pick(0.99) * 1000, 3),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 3),
    }


def _params(query: Query, cid: str) -> dict[str, Any] | None:
    if query is PING:
        return None
    return (
        {"id": cid, "fanout": 25, "budget": 625}
        if "budget" in query.params
        else {"id": cid, "fanout": 25}
    )


def phase_queries(folder: Path, graph: str, samples: int) -> dict[str, Any]:
    import pyarrow.csv as pacsv

    ids = pacsv.read_csv(
        folder / "customers.csv",
        convert_options=pacsv.ConvertOptions(include_columns=["customer_id"]),
    )
    ids = ids.column("customer_id").to_pylist()
    chosen = random.Random(1).sample(ids, min(samples, len(ids)))
    store = _store(graph)
    result: dict[str, Any] = {"samples": len(chosen), "fanout": 25}
    for name, query in (
        ("ping", PING),
        ("one_hop", q.NEIGHBOURHOOD_1HOP),
        ("two_hop", q.NEIGHBOURHOOD_2HOP),
    ):
        for cid in chosen[:100]:  # warm-up
            store.run(query, _params(query, cid))
        times, sizes = [], []
        for cid in chosen:
            params = _params(query, cid)
            started = time.perf_counter()
            rows = store.run(query, params)
            times.append(time.perf_counter() - started)
            sizes.append(len(rows) + sum(len(r.get("second") or []) for r in rows))
        result[name] = {**_percentiles(times), "mean_rows": round(statistics.fmean(sizes), 1)}
    return result


def _run_phase(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--phase", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--skip-incremental", action="store_true")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--folder", help="reuse a generated bank instead of generating one")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--phase", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.phase:
        kind, *rest = args.phase
        if kind == "synth":
            result = phase_synth(int(rest[0]), Path(rest[1]))
        elif kind == "load":
            result = phase_load(Path(rest[0]), rest[1], rest[2] == "bulk")
        else:
            result = phase_queries(Path(rest[0]), rest[1], int(rest[2]))
        print(json.dumps(result))
        return 0

    env = dict(os.environ)
    own_server = "VOUCHGRAPH_DATA_DIR" not in env
    if own_server:
        env["VOUCHGRAPH_DATA_DIR"] = tempfile.mkdtemp(prefix="vouchgraph-bench-")
        os.environ["VOUCHGRAPH_DATA_DIR"] = env["VOUCHGRAPH_DATA_DIR"]
    work = Path(tempfile.mkdtemp(prefix="vouchgraph-bank-"))
    folder = Path(args.folder) if args.folder else work / "bank"
    n = args.customers
    results: dict[str, Any] = {**provenance("load"), "customers": n}
    try:
        if not args.folder:
            results["synth"] = _run_phase(["synth", str(n), str(folder)], env)
            print("synth", json.dumps(results["synth"]), flush=True)
        results["bulk"] = _run_phase(["load", str(folder), "bench_bulk", "bulk"], env)
        print("bulk", json.dumps(results["bulk"]), flush=True)
        if not args.skip_incremental:
            results["incremental"] = _run_phase(
                ["load", str(folder), "bench_incremental", "incremental"], env
            )
            print("incremental", json.dumps(results["incremental"]), flush=True)
        results["queries"] = _run_phase(
            ["queries", str(folder), "bench_bulk", str(args.samples)], env
        )
        print("queries", json.dumps(results["queries"]), flush=True)
        status = embedded.status(Path(env["VOUCHGRAPH_DATA_DIR"]))
        results["server_used_memory_mib"] = round(int(status.get("used_memory_bytes", 0)) / 2**20)
    finally:
        for graph in ("bench_bulk", "bench_incremental"):
            _store(graph).clear()
        if own_server:
            embedded.stop(Path(env["VOUCHGRAPH_DATA_DIR"]))
            shutil.rmtree(env["VOUCHGRAPH_DATA_DIR"], ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"load-{n}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
