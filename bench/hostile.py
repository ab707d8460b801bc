"""Benchmark: how fast hostile requests are refused, and whether /healthz stays quick meanwhile.

    python bench/hostile.py [--tries 50] [--out bench/results]

A temporary embedded graph server (VOUCHGRAPH_DATA_DIR, stopped at the end) holds one kiosk
key; the API runs in a separate process (`bench/hostile.py --serve`, uvicorn on a free loopback
port, as `vouchgraph serve` runs it). For each hostile case, one client sends `--tries`
requests one after the other (keep-alive for GraphQL documents, a fresh connection for the
body-size cases) and times each refusal, while a second process polls `GET /healthz` on its
own keep-alive connection and times every answer. Documents sent with a key differ in a trailing
comment each try, so none is answered from the parse cache.

Cases: the exponential fragment document (25 levels, each fragment spreading the next twice)
without and with a key; deep nesting (150 levels of introspection `ofType`); 300 aliases; a
body declared as 20 MB (headers only); a chunked body streamed in 16 KiB chunks until the
server answers; one field repeated 300 times (fit for the other limits, refused for its repeats,
which the standard overlap rule would compare pairwise). A last case, GraphiQL's introspection
query, is within every limit and goes through the full standard validation and execution: a
large document the limits let through.
Targets: each refusal < 50 ms, /healthz < 5 ms meanwhile. Prints the figures and writes them
(with the machine, the command and the commit) to `<out>/hostile.json`.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import multiprocessing
import os
import select
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import (  # noqa: E402
    child_server,
    free_port,
    percentiles,
    provenance,
    scratch_store,
    status_line,
)
from graph import embedded  # noqa: E402
from graph.settings import load_settings  # noqa: E402
from graph.store import GraphStore, open_store  # noqa: E402

GRAPH = "bench_hostile"
REFUSAL_TARGET_MS = 50.0
HEALTH_TARGET_MS = 5.0


def _store() -> GraphStore:
    return open_store(dataclasses.replace(load_settings(), graph_name=GRAPH))


# --- the documents ------------------------------------------------------------------------------


def exponential_fragments(levels: int = 25) -> str:
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    fragments.append(f"fragment F{levels} on Query {{ __typename }}")
    return "query { ...F0 }\n" + "\n".join(fragments)


def deep_nesting(levels: int = 150) -> str:
    nested = "name " + "ofType { " * levels + "name" + " }" * levels
    return "query { __schema { types { fields { type { " + nested + " } } } } }"


def many_aliases(count: int = 300) -> str:
    return "query { " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


def repeated_field(count: int = 300) -> str:
    return "query { " + "__typename " * count + "}"


def introspection() -> str:
    from graphql import get_introspection_query

    return get_introspection_query()


# --- the server process -------------------------------------------------------------------------


def serve(port: int) -> int:
    """`--serve`: the API as `vouchgraph serve` runs it (no graph model: none is trained)."""
    import uvicorn

    from api.app import build_app, build_service
    from risk.policy import without_model_policy

    service = build_service(
        store=_store(), policy=without_model_policy(graph_risk_points=0), scorer=None
    )
    uvicorn.run(
        build_app(service), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    return 0


@contextlib.contextmanager
def server_process(log_path: Path) -> Iterator[tuple[str, int]]:
    """Start `--serve` in a child process; yield (url, port); terminate it, whatever happens."""
    port = free_port()
    argv = [sys.executable, str(Path(__file__).resolve()), "--serve", "--port", str(port)]
    with child_server(argv, port, log_path):
        yield f"http://127.0.0.1:{port}", port


# --- the clients --------------------------------------------------------------------------------


def _poll_health(url: str, stop: Any, out: Any) -> None:
    """In its own process (no GIL shared with the hostile client): time /healthz until told."""
    samples: list[tuple[float, float]] = []  # (when, seconds)
    failures = 0
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            when, started = time.time(), time.perf_counter()
            try:
                ok = client.get(f"{url}/healthz").status_code == 200
            except httpx.HTTPError:
                ok = False
            elapsed = time.perf_counter() - started
            if ok:
                samples.append((when, elapsed))
            else:
                failures += 1
            time.sleep(0.002)
    out.send((samples, failures))


class HealthPoller:
    """Polls /healthz from a second process on its own keep-alive connection, timing every
    answer (failures counted)."""

    def __init__(self, url: str) -> None:
        self._stop = multiprocessing.Event()
        self._receive, send = multiprocessing.Pipe(duplex=False)
        self._process = multiprocessing.Process(
            target=_poll_health, args=(url, self._stop, send), daemon=True
        )
        self.samples: list[float] = []
        self.failures = 0

    def __enter__(self) -> HealthPoller:
        self._process.start()
        time.sleep(0.5)  # its imports and first connection are not what is measured
        self._since = time.time()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        samples, self.failures = self._receive.recv()
        self._process.join()
        self.samples = [seconds for when, seconds in samples if when >= self._since]


def _code(response: httpx.Response) -> str:
    try:
        return str(response.json()["errors"][0]["extensions"]["code"])
    except (ValueError, KeyError, IndexError, TypeError):
        return f"HTTP {response.status_code}"


def graphql_case(
    client: httpx.Client, url: str, document: str, key: str | None
) -> Callable[[int], tuple[float, str]]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}

    def attempt(i: int) -> tuple[float, str]:
        body = {"query": f"{document}\n# try {i}"}  # a new text each try: no parse-cache hit
        started = time.perf_counter()
        reply = client.post(f"{url}/graphql", json=body, headers=headers)
        elapsed = time.perf_counter() - started
        return elapsed, f"{reply.status_code} {_code(reply)}"

    return attempt


def _head(key: str, extra: str) -> bytes:
    return (
        "POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n{extra}\r\n\r\n"
    ).encode("latin-1")


def _status(sock: socket.socket) -> str:
    return " ".join(status_line(sock).split(" ")[1:2]) or "no answer"


def declared_case(port: int, key: str) -> Callable[[int], tuple[float, str]]:
    head = _head(key, f"Content-Length: {20 * 1024 * 1024}")

    def attempt(_: int) -> tuple[float, str]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            started = time.perf_counter()
            sock.sendall(head)
            status = _status(sock)
            return time.perf_counter() - started, status

    return attempt


def chunked_case(port: int, key: str) -> Callable[[int], tuple[float, str]]:
    head = _head(key, "Transfer-Encoding: chunked")
    chunk = b"x" * 16_384
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)

    def attempt(_: int) -> tuple[float, str]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            started = time.perf_counter()
            sock.sendall(head)
            for _n in range(1280):  # 20 MiB at most
                try:
                    sock.sendall(frame)
                except OSError:
                    break
                if select.select([sock], [], [], 0)[0]:
                    break
            status = _status(sock)
            return time.perf_counter() - started, status

    return attempt


def measure(
    name: str, attempt: Callable[[int], tuple[float, str]], url: str, tries: int
) -> dict[str, Any]:
    attempt(-1)  # a first connection, imports, caches of the server warmed
    answers: dict[str, int] = {}
    samples: list[float] = []
    with HealthPoller(url) as health:
        for i in range(tries):
            elapsed, answer = attempt(i)
            samples.append(elapsed)
            answers[answer] = answers.get(answer, 0) + 1
    figures = {
        "refusal": percentiles(samples, (0.5, 0.99)),
        "answers": answers,
        "healthz": percentiles(health.samples, (0.5, 0.99)),
        "healthz_failures": health.failures,
    }
    r, h = figures["refusal"], figures["healthz"]
    print(
        f"  {name:<28} p50 {r['p50_ms']:7.2f}  p99 {r['p99_ms']:7.2f}  max {r['max_ms']:7.2f} ms"
        f"   healthz p50 {h.get('p50_ms', 0):5.2f}  p99 {h.get('p99_ms', 0):6.2f} ms"
        f" (n={h['n']})   {answers}",
        flush=True,
    )
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=50)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.port)

    from api.keys import create_key

    work = Path(tempfile.mkdtemp(prefix="vouchgraph-bench-hostile-"))
    data_dir = scratch_store(work)
    results: dict[str, Any] = {
        **provenance("hostile"),
        "tries": args.tries,
        "targets_ms": {"refusal": REFUSAL_TARGET_MS, "healthz": HEALTH_TARGET_MS},
        "cases": {},
    }
    store: GraphStore | None = None
    try:
        store = _store()
        store.clear()
        store.ensure_schema()
        key = create_key(store, "kiosk", "bench-hostile")[1]
        with server_process(work / "server.log") as (url, port):
            print(f"server at {url}; {args.tries} tries a case", flush=True)
            with httpx.Client(timeout=60) as client:
                cases: dict[str, Callable[[int], tuple[float, str]]] = {
                    "exponential_fragments_no_key": graphql_case(
                        client, url, exponential_fragments(), None
                    ),
                    "exponential_fragments_key": graphql_case(
                        client, url, exponential_fragments(), key
                    ),
                    "deep_nesting_150": graphql_case(client, url, deep_nesting(), key),
                    "aliases_300": graphql_case(client, url, many_aliases(), key),
                    "declared_20_mb_body": declared_case(port, key),
                    "chunked_oversize_body": chunked_case(port, key),
                    "repeated_field_300": graphql_case(client, url, repeated_field(), key),
                    "within_limits_introspection": graphql_case(client, url, introspection(), key),
                }
                for name, attempt in cases.items():
                    results["cases"][name] = measure(name, attempt, url, args.tries)
        logged = (work / "server.log").read_text(errors="replace").splitlines()
        results["server_log_lines"] = len(logged)
        results["server_log_tail"] = logged[-20:]
        results["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
    finally:
        if store is not None:
            with contextlib.suppress(Exception):
                store.close()
        embedded.stop(data_dir)
        shutil.rmtree(work, ignore_errors=True)
    hostile = {k: v for k, v in results["cases"].items() if not k.startswith("within_limits")}
    results["refusals_within_target"] = all(
        c["refusal"]["max_ms"] < REFUSAL_TARGET_MS for c in hostile.values()
    )
    results["healthz_within_target"] = all(
        c["healthz"].get("p99_ms", 0) < HEALTH_TARGET_MS for c in results["cases"].values()
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "hostile.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
