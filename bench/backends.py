"""Benchmark: the same workload on the embedded FalkorDB and on a local Neo4j, in one run.

    .venv/bin/python bench/backends.py --customers N [--folder DIR] [--backends falkordb,neo4j]
        [--seconds S] [--skip incremental,restart,reads,export,flows,throughput]

Generates a synthetic bank (`etl.synth.generate(N, 5, folder)`, or reuses --folder), then for
each backend in turn, each with its own fresh server in a temporary directory (stopped at the
end, on SIGTERM and Ctrl-C too):

1. bulk load into an empty store (`load_folder(..., bulk=True)`; a backend without a bulk path
   falls back to an incremental load, and the JSON says so);
2. incremental load rate (rows/s, relationships/s) into another fresh, empty server; above
   --incremental-customers the folder is a smaller bank generated with the same seed;
3. restart: stop the server, then `ensure_running` until a first 1-hop query is answered;
4. 1-hop and 2-hop neighbourhood latency (the queries' example fanout/budget) over random
   customers, interleaved with a ROUND_TRIP baseline;
5. one-client kiosk flow over HTTP (`bench/api.py`'s flow and server process, reused):
   candidateGuarantors, assess, requestAssistedAuth, respondAssistedAuth, decide, p50/p99 each;
6. --clients concurrent clients doing whole flows for --seconds: flows/s;
7. whole-graph export (`ml.export.export_graph`).

Prints a side-by-side table and writes `<out>/backends-<N>.json` with the machine, the
command, the versions and every figure. Loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from etl.load import LoadReport, load_folder  # noqa: E402
from etl.synth import generate  # noqa: E402
from graph import embedded, neo4j_local  # noqa: E402
from graph import queries as q  # noqa: E402
from graph.settings import load_settings  # noqa: E402
from graph.store import GraphStore, open_store  # noqa: E402

SEED = 5
GRAPH = "bench_backends"
PHASES = ("incremental", "restart", "reads", "export", "flows", "throughput")
READ_QUERIES = {"round_trip": q.ROUND_TRIP, "one_hop": q.NEIGHBOURHOOD_1HOP}
READ_QUERIES["two_hop"] = q.NEIGHBOURHOOD_2HOP


import bench.api as flowbench  # noqa: E402
from bench.harness import percentiles, provenance  # noqa: E402

# --- the two backends -------------------------------------------------------------------------


class Backend:
    """One fresh server of one engine in its own temporary directory."""

    name = ""

    def __init__(self, root: Path) -> None:
        self.root = root

    def start(self) -> None:
        """Start the server (or find it running) and point os.environ at it."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the server; safe to call when it is not running."""
        raise NotImplementedError

    def pid(self) -> int | None:
        """The server's process id, None when it is not running."""
        raise NotImplementedError

    def versions(self, store: GraphStore) -> dict[str, Any]:
        """The engine's version figures, asked of the running server."""
        raise NotImplementedError

    def store(self) -> GraphStore:
        """A store on this server's benchmark graph."""
        return open_store(dataclasses.replace(load_settings(), graph_name=GRAPH))


class FalkorBackend(Backend):
    """The embedded FalkorDB (redis-server with the graph module) of a data directory."""

    name = "falkordb"

    def start(self) -> None:
        os.environ["VOUCHGRAPH_DATA_DIR"] = str(self.root)
        for key in ("VOUCHGRAPH_GRAPH_URI", "NEO4J_USER", "NEO4J_PASSWORD"):
            os.environ.pop(key, None)
        embedded.ensure_running(self.root)

    def stop(self) -> None:
        embedded.stop(self.root)

    def pid(self) -> int | None:
        info = embedded.running(self.root, timeout=5)
        return info.pid if info else None

    def versions(self, store: GraphStore) -> dict[str, Any]:
        conn = store.connection  # type: ignore[attr-defined]
        modules = {}
        for entry in conn.execute_command("MODULE", "LIST"):
            fields = dict(zip(entry[::2], entry[1::2], strict=False))
            name = fields.get(b"name", fields.get("name"))
            ver = int(fields.get(b"ver", fields.get("ver", 0)))
            modules[name.decode() if isinstance(name, bytes) else name] = ver
        graph = modules.get("graph", 0)
        return {
            "falkordb_module": f"{graph // 10000}.{graph // 100 % 100}.{graph % 100}",
            "redis": conn.info("server").get("redis_version"),
        }


class Neo4jBackend(Backend):
    """A local Neo4j (graph.neo4j_local) in its own directory, jars linked from the cache."""

    name = "neo4j"

    def __init__(self, root: Path, jars: Path) -> None:
        super().__init__(root)
        self.root.mkdir(parents=True, exist_ok=True)
        link = neo4j_local.lib_dir(root)
        if not link.exists():
            os.symlink(jars, link)

    def start(self) -> None:
        server = neo4j_local.ensure_running(self.root, tied=True)
        os.environ.update({**server.env(), "VOUCHGRAPH_NEO4J_DIR": str(self.root)})

    def stop(self) -> None:
        neo4j_local.stop(self.root)

    def pid(self) -> int | None:
        server = neo4j_local.running(self.root)
        return server.pid if server else None

    def versions(self, store: GraphStore) -> dict[str, Any]:
        import neo4j

        records = store.run(q.NEO4J_COMPONENTS)
        return {
            "neo4j": [f"{r['name']} {r['versions'][0]} {r['edition']}" for r in records],
            "neo4j_local_pinned": neo4j_local.NEO4J_VERSION,
            "python_driver": neo4j.__version__,
            "heap": neo4j_local.HEAP,
            "page_cache": neo4j_local.PAGE_CACHE,
        }


@contextlib.contextmanager
def running(backend: Backend) -> Iterator[Backend]:
    """A started backend, stopped and its directory removed whatever happens."""
    try:
        backend.start()
        yield backend
    finally:
        with contextlib.suppress(Exception):
            backend.stop()
        shutil.rmtree(backend.root, ignore_errors=True)


# --- phases -----------------------------------------------------------------------------------


def _load_figures(report: LoadReport, seconds: float, notes: list[str]) -> dict[str, Any]:
    """A load report's figures and rates over `seconds`."""
    rows = report.rows_read
    return {
        "mode": report.mode,
        "seconds": round(seconds, 2),
        "rows_read": rows,
        "rows_rejected": report.rows_rejected,
        "nodes": report.nodes_written,
        "relationships": report.relationships_written,
        "rows_per_s": round(rows / seconds),
        "relationships_per_s": round(report.relationships_written / seconds),
        "notes": notes,
    }


def timed_load(store: GraphStore, folder: Path, bulk: bool) -> dict[str, Any]:
    """Load `folder` into the (empty) store; its time and rates."""
    notes: list[str] = []
    started = time.perf_counter()
    report = load_folder(store, folder, progress=False, bulk=bulk, on_note=notes.append)
    return _load_figures(report, time.perf_counter() - started, notes)


def phase_bulk(backend: Backend, store: GraphStore, folder: Path) -> dict[str, Any]:
    """Step 1: bulk load into the empty store (or the fallback the loader takes)."""
    if not store.is_empty():
        raise RuntimeError(f"{backend.name}: the fresh store is not empty")
    figures = timed_load(store, folder, bulk=True)
    if figures["mode"] == "bulk":
        figures["bulk_path"] = "GRAPH.BULK" if backend.name == "falkordb" else "neo4j-admin import"
    else:
        figures["bulk_path"] = "incremental fallback"
    return figures


def phase_incremental(backend: Backend, folder: Path, customers: int) -> dict[str, Any]:
    """Step 2: incremental load of `folder` into another fresh server of the same engine."""
    with running(backend):
        store = backend.store()
        try:
            figures = timed_load(store, folder, bulk=False)
        finally:
            store.close()
    return {"folder_customers": customers, **figures}


def phase_restart(
    backend: Backend, store: GraphStore, customer: str
) -> tuple[dict[str, Any], GraphStore]:
    """Step 3: stop the server, then time a start until a first 1-hop query is answered."""
    started = time.perf_counter()
    store.close()
    backend.stop()
    stopped = time.perf_counter()
    backend.start()
    up = time.perf_counter()
    fresh = backend.store()
    rows = fresh.run(q.NEIGHBOURHOOD_1HOP, {"id": customer, "fanout": 25})
    answered = time.perf_counter()
    return {
        "stop_s": round(stopped - started, 2),
        "ensure_running_s": round(up - stopped, 2),
        "first_query_s": round(answered - up, 3),
        "start_to_first_query_s": round(answered - stopped, 2),
        "first_query_rows": len(rows),
    }, fresh


def customer_ids(folder: Path) -> list[str]:
    """Every customer id of the bank folder."""
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(
        folder / "customers.csv",
        convert_options=pacsv.ConvertOptions(include_columns=["customer_id"]),
    )
    return [str(v) for v in table.column("customer_id").to_pylist()]


def _read_params(query: q.Query, customer: str) -> dict[str, Any]:
    """The query's example parameters for `customer` (none for the round trip)."""
    return {**query.params, "id": customer} if query.params else {}


def phase_reads(store: GraphStore, ids: list[str], samples: int) -> dict[str, Any]:
    """Step 4: p50/p99 of each read query, interleaved per customer with the round trip."""
    chosen = random.Random(SEED).sample(ids, min(samples, len(ids)))
    times: dict[str, list[float]] = {name: [] for name in READ_QUERIES}
    rows: dict[str, list[int]] = {name: [] for name in READ_QUERIES}
    warm = chosen[:100]
    for n, customer in enumerate(warm + chosen):  # the first ones: warm-up, not measured
        for name, query in READ_QUERIES.items():
            started = time.perf_counter()
            result = store.run(query, _read_params(query, customer))
            if n >= len(warm):
                times[name].append(time.perf_counter() - started)
                rows[name].append(len(result) + sum(len(r.get("second") or []) for r in result))
    out: dict[str, Any] = {"samples": len(chosen), "params": dict(q.NEIGHBOURHOOD_2HOP.params)}
    for name in READ_QUERIES:
        out[name] = {
            **percentiles(times[name]),
            "mean_rows": round(statistics.fmean(rows[name]), 1),
        }
    return out


def phase_export(store: GraphStore) -> dict[str, Any]:
    """Step 7: the whole graph to arrays."""
    from ml.export import export_graph

    started = time.perf_counter()
    export = export_graph(store, progress=False)
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 2),
        "customers": export.num_customers,
        "customers_per_s": round(export.num_customers / seconds),
        "edges": {name: len(e) for name, e in export.edges.items()},
    }


def phase_flows(
    backend: Backend, store: GraphStore, folder: Path, work: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """Steps 5 and 6: the kiosk flow over HTTP, one client then --clients, bench/api.py's."""
    from api.keys import create_key

    key = create_key(store, "kiosk", "bench-backends")[1]
    related = flowbench.kin_customers(folder)
    random.Random(SEED).shuffle(related)
    wanted = (
        args.warmup + args.iterations + (int(40 * args.seconds) if "throughput" in args.run else 0)
    )
    scan = flowbench.prescan(store, related, int(min(len(related), max(wanted, 200))))
    applicants = flowbench.Applicants(scan.pop("applicants"))
    out: dict[str, Any] = {"prescan": scan}
    if applicants.left == 0:
        raise RuntimeError("pre-scan: no applicant needs a guarantor")
    tail = flowbench.OutboxTail(work / "outbox.log")
    store_pid = backend.pid()
    try:
        with flowbench.server_process(GRAPH, work / "outbox.log", work / "server.log") as (
            url,
            pid,
        ):
            out["latency"] = flowbench.phase_latency(
                url, key, tail, applicants, args.warmup, args.iterations, pid, store_pid
            )
            if "throughput" in args.run:
                out["throughput"] = flowbench.phase_throughput(
                    url, key, tail, applicants, args.clients, args.seconds, pid, store_pid
                )
                out["throughput"].pop("samples", None)  # the per-10 s drift: not needed here
    finally:
        tail.close()
    return out


# --- one backend, start to end ----------------------------------------------------------------


def _step(results: dict[str, Any], name: str, fn: Callable[[], Any]) -> Any:
    """Run one phase, print and keep its figures (and the load average when it began)."""
    load = [round(v, 2) for v in os.getloadavg()]
    print(f"[{time.strftime('%H:%M:%S')}] {name} (load average {load})", flush=True)
    started = time.perf_counter()
    value = fn()
    figures = value[0] if isinstance(value, tuple) else value
    if isinstance(figures, dict):
        figures.setdefault("load_average_at_start", load)
        figures.setdefault("wall_s", round(time.perf_counter() - started, 2))
        results[name] = figures
        print(f"  {name}: {json.dumps(figures)[:600]}", flush=True)
    return value


def run_backend(
    make: Callable[[str], Backend],
    banks: dict[str, Any],
    args: argparse.Namespace,
    results: dict[str, Any],
) -> None:
    """Every phase on one fresh server of one backend, its figures into `results` as each
    phase ends (an error is recorded there; an interrupt leaves what was measured)."""
    work = Path(tempfile.mkdtemp(prefix="vouchgraph-bench-backends-"))
    folder: Path = banks["folder"]
    try:
        if "incremental" in args.run:
            sub, n_sub = banks["incremental_folder"], banks["incremental_customers"]
            _step(results, "incremental", lambda: phase_incremental(make("incr"), sub, n_sub))
        with running(make("main")) as backend:
            store = backend.store()
            results["versions"] = backend.versions(store)
            _step(results, "bulk", lambda: phase_bulk(backend, store, folder))
            backend.start()  # an offline import restarts the server: point at it again
            store = backend.store()
            ids = customer_ids(folder)
            if "restart" in args.run:
                restart = lambda: phase_restart(backend, store, ids[0])  # noqa: E731
                store = _step(results, "restart", restart)[1]
            if "reads" in args.run:
                _step(results, "reads", lambda: phase_reads(store, ids, args.samples))
            if "export" in args.run:  # before the flows write assessments and vouches
                _step(results, "export", lambda: phase_export(store))
            if "flows" in args.run:
                _step(results, "flows", lambda: phase_flows(backend, store, folder, work, args))
            with contextlib.suppress(Exception):
                store.close()
    except Exception as exc:  # one backend failing must not lose the other's figures
        results["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        print(f"{make.__name__}: FAILED: {results['error']}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)


# --- the report -------------------------------------------------------------------------------


def _get(figures: dict[str, Any], path: str) -> Any:
    """figures["a"]["b"] for "a.b"; None where a part is missing."""
    value: Any = figures
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def _pair(figures: dict[str, Any], path: str) -> str:
    """ "p50 / p99" of the percentiles at `path`."""
    p50, p99 = _get(figures, f"{path}.p50_ms"), _get(figures, f"{path}.p99_ms")
    return "-" if p50 is None else f"{p50:.2f} / {p99:.2f}"


def table_rows() -> list[tuple[str, Callable[[dict[str, Any]], Any]]]:
    """(metric, how to read it from a backend's figures), in the table's order."""
    rows: list[tuple[str, Callable[[dict[str, Any]], Any]]] = [
        ("bulk load s", lambda f: _get(f, "bulk.seconds")),
        ("bulk path", lambda f: _get(f, "bulk.bulk_path")),
        ("incremental rels/s", lambda f: _get(f, "incremental.relationships_per_s")),
        ("incremental rows/s", lambda f: _get(f, "incremental.rows_per_s")),
        ("incremental load s", lambda f: _get(f, "incremental.seconds")),
        ("restart to 1st query s", lambda f: _get(f, "restart.start_to_first_query_s")),
    ]
    for name in READ_QUERIES:
        rows.append((f"{name} p50/p99 ms", lambda f, n=name: _pair(f, f"reads.{n}")))
    rows.append(("GET /healthz p50/p99 ms", lambda f: _pair(f, "flows.latency.healthz")))
    for step in flowbench.STEPS:
        rows.append((f"{step} p50/p99 ms", lambda f, s=step: _pair(f, f"flows.latency.{s}")))
    rows += [
        ("clients flows/s", lambda f: _get(f, "flows.throughput.flows_per_s")),
        ("clients errors", lambda f: _get(f, "flows.throughput.errors")),
        ("export s", lambda f: _get(f, "export.seconds")),
    ]
    return rows


def print_table(by_backend: dict[str, dict[str, Any]]) -> None:
    """metric | falkordb | neo4j."""
    names = list(by_backend)
    print(f"\n{'metric':<32}" + "".join(f"{n:>20}" for n in names))
    for label, read in table_rows():
        cells = [read(by_backend[n]) for n in names]
        print(f"{label:<32}" + "".join(f"{'-' if c is None else str(c):>20}" for c in cells))


# --- main -------------------------------------------------------------------------------------


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    """SIGTERM as Ctrl-C."""
    raise KeyboardInterrupt(f"signal {signum}")  # unwinds the run: every finally stops its server


def prepare_banks(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    """The bank folder (generated unless it exists) and the incremental load's folder."""
    folder = Path(args.folder) if args.folder else work / "bank"
    banks: dict[str, Any] = {"folder": folder, "seed": SEED}
    if not (folder / "customers.csv").exists():
        started = time.perf_counter()
        banks["rows"] = generate(args.customers, SEED, folder)["rows"]
        banks["synth_s"] = round(time.perf_counter() - started, 2)
    else:
        banks["reused"] = True
    n_sub = min(args.customers, args.incremental_customers)
    banks["incremental_customers"] = n_sub
    banks["incremental_folder"] = folder
    if n_sub < args.customers and "incremental" in args.run:
        banks["incremental_folder"] = work / f"bank-{n_sub}"
        generate(n_sub, SEED, banks["incremental_folder"])
        banks["incremental_note"] = (
            f"incremental load of a {n_sub}-customer bank generated with the same seed "
            f"({SEED}), not of the {args.customers}-customer one"
        )
    return banks


def parse_args() -> argparse.Namespace:
    """The command line; `run` is the set of phases not skipped."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--folder", help="the bank folder (generated there unless it exists)")
    parser.add_argument("--backends", default="falkordb,neo4j")
    parser.add_argument("--seconds", type=float, default=60.0, help="throughput phase length")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--samples", type=int, default=1000, help="read latency customers")
    parser.add_argument("--iterations", type=int, default=200, help="one-client flows measured")
    parser.add_argument("--warmup", type=int, default=20, help="one-client flows not measured")
    parser.add_argument("--incremental-customers", type=int, default=20_000)
    parser.add_argument("--skip", default="", help=f"comma-separated, of: {', '.join(PHASES)}")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()
    skip = {s for s in args.skip.split(",") if s}
    if skip - set(PHASES) or not set(args.backends.split(",")) <= {"falkordb", "neo4j"}:
        parser.error("unknown --skip phase or --backends name")
    args.run = set(PHASES) - skip - ({"throughput"} if "flows" in skip else set())
    return args


def makers(args: argparse.Namespace, work: Path) -> dict[str, Callable[[str], Backend]]:
    """Per backend asked for, a factory of fresh servers under `work`."""
    out: dict[str, Callable[[str], Backend]] = {}
    for name in args.backends.split(","):
        if name == "falkordb":
            out[name] = lambda tag: FalkorBackend(work / f"falkordb-{tag}")
        else:
            jars = neo4j_local.ensure_jars(neo4j_local.default_home())  # the user's cache
            out[name] = lambda tag, jars=jars: Neo4jBackend(work / f"neo4j-{tag}", jars)
        out[name].__name__ = name
    return out


def main() -> int:
    """Run every backend asked for, print the table, write the JSON."""
    args = parse_args()
    signal.signal(signal.SIGTERM, _on_sigterm)
    work = Path(tempfile.mkdtemp(prefix="vouchgraph-bench-backends-"))
    config = work / "none.toml"
    config.write_text("[vouchgraph]\n")
    os.environ["VOUCHGRAPH_CONFIG"] = str(config)  # no user config: only this run's servers
    results: dict[str, Any] = {
        **provenance("backends"),
        "customers": args.customers,
        "phases": sorted(args.run),
        "settings": {k: getattr(args, k) for k in ("seconds", "clients", "samples", "iterations")},
        "backends": {},
    }
    try:
        factories = makers(args, work)
        banks = prepare_banks(args, work)
        results["bank"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in banks.items()}
        for name, make in factories.items():
            print(f"=== {name} ===", flush=True)
            results["backends"][name] = {}
            run_backend(make, banks, args, results["backends"][name])
    except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: the servers are stopped by now
        results["interrupted"] = str(exc) or "KeyboardInterrupt"
        print(f"interrupted ({results['interrupted']}): writing what was measured", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    print_table(results["backends"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    suffix = "-interrupted" if "interrupted" in results else ""
    path = out / f"backends-{args.customers}{suffix}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"wrote {path}")
    return 130 if suffix else 0


if __name__ == "__main__":
    sys.exit(main())
