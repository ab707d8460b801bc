"""Incremental load rate by write-batch size, on both backends, in one run.

    .venv/bin/python bench/batch_size.py --customers 20000 --sizes 1000,2500,5000,10000

Each (backend, size) loads the same synthetic bank into an emptied store with `Loader` (the path
`vouchgraph load` takes) and reports relationships/s and rows/s; the JSON goes to
bench/results/batch-size-<customers>.json. Each backend's server is the project's own (a temp
embedded data dir, a temp local Neo4j), stopped at the end, also on SIGTERM.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.harness import provenance  # noqa: E402
from etl.load import Loader  # noqa: E402
from etl.synth import generate  # noqa: E402
from graph import embedded, neo4j_local  # noqa: E402
from graph.settings import load_settings  # noqa: E402
from graph.store import GraphStore, open_store  # noqa: E402


def _store(backend: str, scratch: Path) -> GraphStore:
    settings = dataclasses.replace(load_settings(), data_dir=scratch / "falkordb", graph_uri=None)
    if backend == "falkordb":
        return open_store(dataclasses.replace(settings, graph_name="batch_bench"))
    home = scratch / "neo4j"
    home.mkdir(exist_ok=True)
    cache = neo4j_local.ensure_jars(neo4j_local.default_home())
    if not neo4j_local.lib_dir(home).exists():
        os.symlink(cache, neo4j_local.lib_dir(home))
    server = neo4j_local.ensure_running(home, tied=True)
    return open_store(
        dataclasses.replace(settings, graph_uri=server.uri, neo4j_password=server.password)
    )


def _one(store: GraphStore, folder: Path, size: int) -> dict[str, Any]:
    store.clear()
    store.ensure_schema()
    started = time.perf_counter()
    report = Loader(store, batch_size=size, progress=False).load(folder)
    seconds = time.perf_counter() - started
    rels = sum(report.relationships_after.values())
    rows = sum(f.rows_loaded for f in report.files)
    return {
        "batch_size": size,
        "seconds": round(seconds, 2),
        "relationships": rels,
        "relationships_per_s": round(rels / seconds),
        "rows_per_s": round(rows / seconds),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--sizes", default="1000,2500,5000,10000")
    parser.add_argument("--backends", default="falkordb,neo4j")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # unwind: servers are stopped
    sizes = [int(x) for x in args.sizes.split(",")]
    scratch = Path(tempfile.mkdtemp(prefix="vouchgraph-batch-"))
    folder = scratch / "bank"
    generate(args.customers, 5, folder)
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        for backend in args.backends.split(","):
            store = _store(backend, scratch)
            results[backend] = []
            for size in sizes:
                row = _one(store, folder, size)
                results[backend].append(row)
                print(
                    f"{backend:9s} batch {size:>6}: {row['relationships_per_s']:>8,} rels/s "
                    f"{row['rows_per_s']:>8,} rows/s ({row['seconds']} s)",
                    flush=True,
                )
            store.clear()
    finally:
        embedded.stop(scratch / "falkordb")
        neo4j_local.stop(scratch / "neo4j")
    out = ROOT / "bench" / "results" / f"batch-size-{args.customers}.json"
    out.write_text(
        json.dumps(
            {
                **provenance("batch_size"),
                "results": results,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
