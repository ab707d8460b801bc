"""Benchmark: the kiosk GraphQL API over HTTP, on a synthetic bank, with a server process.

    python bench/api.py --customers 100000 [--clients 8] [--seconds 600] [--out bench/results]

Sets up like tests/api/conftest.py, at scale: a temporary embedded graph server
(VOUCHGRAPH_DATA_DIR, stopped at the end), a synthetic bank (`etl.synth.generate`) bulk-loaded
into it, a kiosk API key, a policy that scores a missing graph model neutrally (no model is
trained here), and the local outbox sender writing to a temporary file. The API runs in a
separate process (`bench/api.py --serve`, uvicorn on a free loopback port, as `vouchgraph
serve` runs it), so the client and the server never share a GIL.

Applicants are customers with a kinship or social tie whose in-process assessment (face
similarity 0.72, above T1 for most of them) comes out NEEDS_GUARANTOR with a candidate. A
guarantor's link (with its one-time token) is read from the local sender's log, where the
server's outbox dispatcher writes it (it wakes on each request and sweeps every second).

- Phase A (latency): one client, sequential, keep-alive; after the warm-up flows, p50/p95/p99/max
  of candidateGuarantors, assess, requestAssistedAuth, respondAssistedAuth and decide, with a
  `GET /healthz` round trip as the baseline of the machine's noise.
- Phase B (throughput): `--clients` threads, each with its own keep-alive client, run complete
  flows (assess, requestAssistedAuth, wait for the token in the log, respondAssistedAuth,
  decide) for `--seconds`; flows/s with and without the token wait, errors (a non-200 answer,
  a GraphQL error or a fail-closed refusal), and the server's RSS every 10 s.

An applicant who no longer needs a guarantor (e.g. every candidate has vouched too often in
the policy's window: only ALLOW decisions create vouches) is skipped and counted, not an error.

Each phase also reports the CPU cores used by the API server, the graph store, this client and
the rest of the machine (from /proc), so a run on a busy machine shows it; phase B adds a
sample every 10 s (flows/s, step latencies, RSS, CPU) to show drift over a long run. Prints each
figure as it is measured and writes everything (with the machine, the command line and the git
commit) to `<out>/api-<N>.json`.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import dataclasses
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from api.operations import ASSESS, CANDIDATES, DECIDE, REQUEST, RESPOND  # noqa: E402
from bench.harness import (  # noqa: E402
    child_server,
    free_port,
    percentiles,
    provenance,
    scratch_store,
)
from graph import embedded  # noqa: E402
from graph.settings import load_settings  # noqa: E402
from graph.store import GraphStore, open_store  # noqa: E402
from risk.policy import Policy, without_model_policy  # noqa: E402

GRAPH = "bench_api"
SEED = 7
BUSINESS = "CROSS_BORDER_TRANSFER"
FACE = 0.72  # above T1 with a few more risk points: the applicant needs a guarantor
KIOSK_CONSENTS = ["BASIC_INFO", "FACE", "IDENTITY", "REJECTION_HISTORY", "TRANSACTIONS", "CREDIT"]
GUARANTOR_VERIFICATION = {
    "faceSimilarity": 0.95,
    "idCheck": "MATCH",
    "idPhotoCaptured": True,
    "consents": ["FACE", "IDENTITY", "BASIC_INFO", "TRANSACTIONS", "CREDIT", "VOUCHING_HISTORY"],
}
# The mobile-banking backend's and an analyst's keys, made at setup (the kiosk's is per client).
KEYS: dict[str, str] = {}
# reason codes of a fail-closed answer (api.context._reason): the service failed, count it
FAIL_CLOSED = {"SERVICE_UNAVAILABLE", "DEADLINE_EXCEEDED", "INTERNAL_ERROR"}
TOKEN_TIMEOUT_S = 10.0
RSS_EVERY_S = 10.0
STEPS = ("candidateGuarantors", "assess", "requestAssistedAuth", "respondAssistedAuth", "decide")


def lenient_policy() -> Policy:
    """No model exists yet: a missing one scores 0 instead of refusing (as in the tests)."""
    return without_model_policy(graph_risk_points=0)


def _store(graph: str) -> GraphStore:
    return open_store(dataclasses.replace(load_settings(), graph_name=graph))


def _show(name: str, figures: dict[str, Any]) -> None:
    if figures.get("n"):
        print(
            f"  {name:<22} n={figures['n']:<6} p50 {figures['p50_ms']:8.2f} ms  "
            f"p95 {figures['p95_ms']:8.2f}  p99 {figures['p99_ms']:8.2f}  "
            f"max {figures['max_ms']:8.2f}",
            flush=True,
        )
    else:
        print(f"  {name:<22} (no samples)", flush=True)


# --- the server process -----------------------------------------------------------------------


def serve(port: int, graph: str, outbox_log: Path) -> int:
    """`--serve`: the API as `vouchgraph serve` runs it, with the benchmark's policy and sender."""
    import uvicorn

    from api.app import build_app, build_service
    from notify.senders import LocalSender

    service = build_service(  # without the graph model: the flow's own cost
        store=_store(graph), policy=lenient_policy(), sender=LocalSender(outbox_log), scorer=None
    )
    uvicorn.run(
        build_app(service), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )
    return 0


@contextlib.contextmanager
def server_process(graph: str, outbox_log: Path, log_path: Path) -> Iterator[tuple[str, int]]:
    """Start `--serve` in a child process; yield (url, pid); terminate it, whatever happens."""
    port = free_port()
    argv = [sys.executable, str(Path(__file__).resolve()), "--serve", "--port", str(port),
            "--graph", graph, "--outbox-log", str(outbox_log)]  # fmt: skip
    with child_server(argv, port, log_path) as proc:
        yield f"http://127.0.0.1:{port}", proc.pid


def _rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process (from /proc/<pid>/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_s() -> float:
    """CPU seconds every process of the machine has used (from /proc/stat), all cores."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:8]) - fields[3] - fields[4]  # less idle and iowait
    return busy / os.sysconf("SC_CLK_TCK")


def _cpu_snapshot(server_pid: int, store_pid: int | None) -> dict[str, float | None]:
    return {
        "server": _cpu_s(server_pid),
        "store": _cpu_s(store_pid) if store_pid else None,
        "client": sum(os.times()[:2]),
        "machine": _machine_busy_s(),
    }


def _cores_used(
    before: dict[str, float | None], after: dict[str, float | None], wall: float
) -> dict[str, float | None]:
    """CPU cores each part used over `wall` seconds, and what other processes used."""
    used: dict[str, float | None] = {}
    for who, start in before.items():
        end = after[who]
        used[who] = None if start is None or end is None else round((end - start) / wall, 3)
    if None not in used.values():
        others = used["machine"] - used["server"] - used["store"] - used["client"]  # type: ignore[operator]
        used["other_processes"] = round(others, 3)
    return used


# --- the outbox log ---------------------------------------------------------------------------


class OutboxTail:
    """Reads the local sender's log as it grows; a waiter polls it for its request's token."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._file: Any = None
        self._partial = b""
        self._tokens: dict[str, tuple[str, str]] = {}

    def _read(self) -> None:
        if self._file is None:
            try:
                self._file = self.path.open("rb")
            except FileNotFoundError:
                return
        chunk = self._file.read()
        if not chunk:
            return
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if line.strip():
                record = json.loads(line)
                if record.get("request_id") is None:  # the development log's header
                    continue
                token = record["link"].split("token=", 1)[1]
                self._tokens[record["request_id"]] = (token, record["recipient_customer_id"])

    def wait(self, request_id: str, timeout: float = TOKEN_TIMEOUT_S) -> tuple[str, str] | None:
        """(token, guarantor id) of a request once its message is in the log."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                token = self._tokens.pop(request_id, None)
                if token is None:
                    self._read()
                    token = self._tokens.pop(request_id, None)
            if token is not None or time.monotonic() > deadline:
                return token
            time.sleep(0.001)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


# --- one kiosk flow over HTTP -----------------------------------------------------------------


def gql(
    client: httpx.Client, query: str, variables: dict[str, Any], key: str | None = None
) -> tuple[dict[str, Any] | None, str | None, float]:
    """(data, error, seconds): any non-200 answer or GraphQL error is an error. `key`: send
    with that key instead of the client's (the analyst's, the mobile-banking backend's)."""
    headers = {"Authorization": f"Bearer {key}"} if key else None
    started = time.perf_counter()
    try:
        response = client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    except httpx.HTTPError as exc:
        return None, f"http {type(exc).__name__}", time.perf_counter() - started
    seconds = time.perf_counter() - started
    if response.status_code != 200:
        return None, f"status {response.status_code}", seconds
    body = response.json()
    if body.get("errors"):
        first = body["errors"][0]
        code = (first.get("extensions") or {}).get("code", "-")
        return None, f"graphql {code}: {first.get('message', '')[:80]}", seconds
    return body["data"], None, seconds


@dataclasses.dataclass
class Flow:
    """What one flow did: 'complete', 'skipped' or 'error', and the time of each step."""

    status: str = "complete"
    times: dict[str, float] = dataclasses.field(default_factory=dict)
    token_wait_s: float | None = None
    outcome: str | None = None
    detail: str | None = None  # the skip reason or the error


def run_flow(
    client: httpx.Client,
    tail: OutboxTail,
    customer: str,
    rng: random.Random,
    with_candidates: bool = False,
) -> Flow:
    """One whole flow: the kiosk's steps with the client's key, the guarantor's answer with the
    mobile-banking backend's, the candidates' read (phase A) with an analyst's."""
    flow = Flow()

    def step(
        name: str, query: str, variables: dict[str, Any], key: str | None = None
    ) -> dict[str, Any] | None:
        data, error, seconds = gql(client, query, variables, key)
        if error is not None:
            flow.status, flow.detail = "error", f"{name}: {error}"
            return None
        flow.times[name] = seconds
        return data

    if with_candidates:
        found = step(
            "candidateGuarantors",
            CANDIDATES,
            {"id": customer, "business": BUSINESS},
            KEYS["analyst"],
        )
        if found is None:
            return flow
    assess_input = {
        "customerId": customer,
        "business": BUSINESS,
        "kioskId": "K-BENCH",
        "faceSimilarity": FACE,
        "idCheck": "MATCH",
        "consents": KIOSK_CONSENTS,
    }
    data = step("assess", ASSESS, {"input": assess_input})
    if data is None:
        return flow
    assessment = data["assess"]
    reasons = assessment["reasons"] or ["-"]
    if FAIL_CLOSED & set(reasons):
        flow.status, flow.detail = "error", f"assess failed closed: {reasons[0]}"
        return flow
    if assessment["outcome"] != "NEEDS_GUARANTOR" or not assessment["candidates"]:
        flow.status, flow.detail = "skipped", f"{assessment['outcome']} {reasons[0]}"
        return flow
    candidate = rng.choice(assessment["candidates"])
    data = step(
        "requestAssistedAuth",
        REQUEST,
        {"id": assessment["id"], "guarantors": [candidate["handle"]]},
    )
    if data is None:
        return flow
    request_id = data["requestAssistedAuth"][0]["id"]
    started = time.perf_counter()
    delivered = tail.wait(request_id)
    flow.token_wait_s = time.perf_counter() - started
    if delivered is None:
        flow.status = "error"
        flow.detail = f"outbox: no message within {TOKEN_TIMEOUT_S:.0f} s"
        return flow
    token, guarantor = delivered
    variables = {
        "id": request_id,
        "guarantor": guarantor,
        "token": token,
        "accept": True,
        "verification": GUARANTOR_VERIFICATION,
    }
    data = step("respondAssistedAuth", RESPOND, variables, KEYS["mobile_banking"])
    if data is None:
        return flow
    if data["respondAssistedAuth"]["status"] != "CONFIRMED":
        flow.status = "error"
        flow.detail = f"respondAssistedAuth: {data['respondAssistedAuth']['status']}"
        return flow
    data = step("decide", DECIDE, {"id": assessment["id"]})
    if data is None:
        return flow
    decision = data["decide"]
    if FAIL_CLOSED & set(decision["reasons"] or ()):
        flow.status, flow.detail = "error", f"decide failed closed: {decision['reasons'][0]}"
        return flow
    flow.outcome = decision["outcome"]
    return flow


class Applicants:
    """Round robin over the applicants; one that no longer needs a guarantor is dropped."""

    def __init__(self, ids: list[str]) -> None:
        self.ids = list(ids)
        self.dropped: set[str] = set()
        self._next = 0
        self._lock = threading.Lock()

    def next(self) -> str | None:
        with self._lock:
            for _ in range(len(self.ids)):
                customer = self.ids[self._next % len(self.ids)]
                self._next += 1
                if customer not in self.dropped:
                    return customer
            return None

    def drop(self, customer: str) -> None:
        with self._lock:
            self.dropped.add(customer)

    @property
    def left(self) -> int:
        return len(self.ids) - len(self.dropped)


def _client(url: str, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )


# --- setup ------------------------------------------------------------------------------------


def kin_customers(folder: Path) -> list[str]:
    """Customers with at least one kinship or social tie (either end of a relation)."""
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(
        folder / "relations.csv",
        convert_options=pacsv.ConvertOptions(include_columns=["src_id", "dst_id"]),
    )
    ids = set(table.column("src_id").to_pylist()) | set(table.column("dst_id").to_pylist())
    return sorted(ids)


def prescan(store: GraphStore, customers: list[str], target: int) -> dict[str, Any]:
    """Assess customers in-process until `target` need a guarantor and have a candidate."""
    from risk.flows.actor import Actor
    from risk.flows.kiosk import KioskFlow
    from risk.flows.kiosk_views import AssessRequest

    flow = KioskFlow(store, lenient_policy(), deadline_ms=30_000)
    actor = Actor("bench-prescan", "kiosk")
    consents = tuple(c.lower() for c in KIOSK_CONSENTS)

    def assess(customer: str) -> tuple[str, str, int]:
        request = AssessRequest(
            customer_id=customer,
            business=BUSINESS,
            kiosk_id="K-PRESCAN",
            face_similarity=FACE,
            id_check="MATCH",
            consents=consents,
        )
        view = flow.assess(actor, request)
        return customer, view.outcome, len(view.candidates)

    chosen: list[str] = []
    outcomes: collections.Counter[str] = collections.Counter()
    scanned = 0
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for start in range(0, len(customers), 256):
            for customer, outcome, candidates in pool.map(assess, customers[start : start + 256]):
                scanned += 1
                outcomes[outcome] += 1
                if outcome == "NEEDS_GUARANTOR" and candidates:
                    chosen.append(customer)
            if len(chosen) >= target:
                break
    seconds = time.perf_counter() - started
    return {
        "applicants": chosen[:target],
        "scanned": scanned,
        "needs_guarantor_with_candidates": len(chosen),
        "outcomes": dict(outcomes),
        "seconds": round(seconds, 2),
    }


# --- phase A: latency, one client -------------------------------------------------------------


def phase_latency(
    url: str,
    key: str,
    tail: OutboxTail,
    applicants: Applicants,
    warmup: int,
    iterations: int,
    server_pid: int,
    store_pid: int | None,
) -> dict[str, Any]:
    rng = random.Random(SEED)
    result: dict[str, Any] = {"warmup_flows": warmup, "flows": iterations}
    with _client(url, key) as client:
        health: list[float] = []
        for n in range(warmup + iterations):
            started = time.perf_counter()
            response = client.get("/healthz")
            seconds = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(f"/healthz answered {response.status_code}")
            if n >= warmup:
                health.append(seconds)
        figures = percentiles(health)
        result["healthz"] = figures
        print("phase A: one client, sequential, keep-alive", flush=True)
        _show("GET /healthz", figures)

        samples: dict[str, list[float]] = {s: [] for s in STEPS}
        waits: list[float] = []
        skipped: collections.Counter[str] = collections.Counter()
        errors: collections.Counter[str] = collections.Counter()
        outcomes: collections.Counter[str] = collections.Counter()
        complete = 0
        started = time.perf_counter()
        cpu_before = _cpu_snapshot(server_pid, store_pid)
        while complete < warmup + iterations:
            customer = applicants.next()
            if customer is None:
                raise RuntimeError("phase A: no applicant left who needs a guarantor")
            flow = run_flow(client, tail, customer, rng, with_candidates=True)
            measuring = complete >= warmup
            if flow.status == "skipped":
                applicants.drop(customer)
                skipped[flow.detail or "-"] += measuring
                continue
            if flow.status == "error":
                errors[flow.detail or "-"] += 1
                if sum(errors.values()) > 100:
                    raise RuntimeError(f"phase A: too many errors: {dict(errors)}")
                continue
            complete += 1
            outcomes[flow.outcome or "-"] += measuring
            if measuring:
                for name, seconds in flow.times.items():
                    samples[name].append(seconds)
                if flow.token_wait_s is not None:
                    waits.append(flow.token_wait_s)
        wall = time.perf_counter() - started
        result["seconds"] = round(wall, 2)
        result["cpu_cores_used"] = _cores_used(
            cpu_before, _cpu_snapshot(server_pid, store_pid), wall
        )
        for name in STEPS:
            result[name] = percentiles(samples[name])
            _show(name, result[name])
        result["token_wait"] = percentiles(waits)
        _show("(outbox token wait)", result["token_wait"])
        result["errors"] = sum(errors.values())
        result["error_kinds"] = dict(errors)
        result["skipped"] = sum(skipped.values())
        result["skip_reasons"] = dict(skipped)
        result["decisions"] = dict(outcomes)
        print(
            f"  errors {result['errors']}, skipped {result['skipped']}, "
            f"decisions {dict(outcomes)}, {result['seconds']} s; "
            f"CPU cores used {result['cpu_cores_used']} (of {os.cpu_count()})",
            flush=True,
        )
    return result


# --- phase B: throughput, concurrent clients --------------------------------------------------


@dataclasses.dataclass
class Worker:
    complete: int = 0
    requests: int = 0
    wait_s: float = 0.0
    started: float = 0.0
    finished: float = 0.0
    times: dict[str, list[float]] = dataclasses.field(
        default_factory=lambda: {s: [] for s in STEPS[1:]}
    )
    waits: list[float] = dataclasses.field(default_factory=list)
    skipped: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    errors: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    outcomes: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)


def phase_throughput(
    url: str,
    key: str,
    tail: OutboxTail,
    applicants: Applicants,
    clients: int,
    seconds: float,
    server_pid: int,
    store_pid: int | None,
) -> dict[str, Any]:
    workers = [Worker() for _ in range(clients)]
    stop_at = time.monotonic() + seconds
    exhausted: list[float] = []

    def work(index: int) -> None:
        me = workers[index]
        rng = random.Random(SEED * 1000 + index)
        me.started = time.monotonic()
        with _client(url, key) as client:
            while time.monotonic() < stop_at:
                customer = applicants.next()
                if customer is None:
                    exhausted.append(time.monotonic())
                    break
                flow = run_flow(client, tail, customer, rng)
                me.requests += len(flow.times) + (flow.status == "error")
                for name, value in flow.times.items():
                    me.times[name].append(value)
                if flow.token_wait_s is not None and flow.status != "error":
                    me.wait_s += flow.token_wait_s
                    me.waits.append(flow.token_wait_s)
                if flow.status == "skipped":
                    applicants.drop(customer)
                    me.skipped[flow.detail or "-"] += 1
                    continue
                if flow.status == "error":
                    me.errors[flow.detail or "-"] += 1
                    continue
                me.complete += 1
                me.outcomes[flow.outcome or "-"] += 1
        me.finished = time.monotonic()

    samples: list[dict[str, Any]] = []
    stop_sampling = threading.Event()
    seen: dict[tuple[int, str], int] = collections.defaultdict(int)  # window cursors

    def window(name: str) -> list[float]:
        """The values of a step (or "wait") recorded since the previous sample."""
        out: list[float] = []
        for i, w in enumerate(workers):
            values = w.waits if name == "wait" else w.times[name]
            end = len(values)
            out += values[seen[i, name] : end]
            seen[i, name] = end
        return out

    def sample(started: float) -> None:
        s: dict[str, Any] = {
            "t_s": round(time.monotonic() - started, 1),
            "server_rss_mib": round((_rss_kib(server_pid) or 0) / 1024, 1),
            "store_rss_mib": round((_rss_kib(store_pid) or 0) / 1024, 1) if store_pid else None,
            "flows": sum(w.complete for w in workers),
            "errors": sum(sum(w.errors.values()) for w in workers),
            "server_cpu_s": _cpu_s(server_pid),
            "store_cpu_s": _cpu_s(store_pid) if store_pid else None,
            "client_cpu_s": round(sum(os.times()[:2]), 2),
            "machine_cpu_s": round(_machine_busy_s(), 2),
        }
        for name in (*STEPS[1:], "wait"):
            figures = percentiles(window(name))
            for q in ("p50_ms", "p99_ms"):
                value = figures.get(q)
                s[f"{name}_{q}"] = None if value is None else round(value, 1)
        line = (
            f"  t={s['t_s']:6.1f}s flows {s['flows']:7d} errors {s['errors']:4d} "
            f"server RSS {s['server_rss_mib']:6.1f} MiB, store RSS {s['store_rss_mib']} MiB"
        )
        if samples and s["t_s"] - samples[-1]["t_s"] >= 1.0:  # not the last moment's sliver
            prev = samples[-1]
            dt = s["t_s"] - prev["t_s"]
            s["window_flows_per_s"] = round((s["flows"] - prev["flows"]) / dt, 1)
            for who in ("server", "store", "machine"):
                if s[f"{who}_cpu_s"] is not None and prev[f"{who}_cpu_s"] is not None:
                    used = (s[f"{who}_cpu_s"] - prev[f"{who}_cpu_s"]) / dt
                    s[f"window_{who}_cores"] = round(used, 2)
            line += (
                f"; {s['window_flows_per_s']} flows/s, decide p50 {s['decide_p50_ms']} ms,"
                f" token wait p50 {s['wait_p50_ms']} ms,"
                f" cores server {s.get('window_server_cores')}"
                f" store {s.get('window_store_cores')} machine {s.get('window_machine_cores')}"
            )
        samples.append(s)
        print(line, flush=True)

    def sampler(started: float) -> None:
        while not stop_sampling.wait(RSS_EVERY_S):
            sample(started)

    print(f"phase B: {clients} clients, complete flows for {seconds:.0f} s", flush=True)
    started = time.monotonic()
    sample(started)
    watcher = threading.Thread(target=sampler, args=(started,), daemon=True)
    watcher.start()
    threads = [threading.Thread(target=work, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.monotonic() - started
    stop_sampling.set()
    watcher.join()
    sample(started)

    complete = sum(w.complete for w in workers)
    errors: collections.Counter[str] = collections.Counter()
    skipped: collections.Counter[str] = collections.Counter()
    outcomes: collections.Counter[str] = collections.Counter()
    for w in workers:
        errors.update(w.errors)
        skipped.update(w.skipped)
        outcomes.update(w.outcomes)
    # Without the wait: each client's flows over its own time less its token waits, summed.
    # An estimate (the server would then see more concurrent work), labelled as such.
    without_wait = sum(
        w.complete / max(w.finished - w.started - w.wait_s, 1e-9) for w in workers if w.complete
    )
    first, last = samples[0], samples[-1]
    rss = [s["server_rss_mib"] for s in samples]
    store_rss = [s["store_rss_mib"] for s in samples if s["store_rss_mib"] is not None]

    parts = ("server", "store", "client", "machine")
    cores = _cores_used(
        {p: first[f"{p}_cpu_s"] for p in parts}, {p: last[f"{p}_cpu_s"] for p in parts}, wall
    )
    result: dict[str, Any] = {
        "clients": clients,
        "seconds_asked": seconds,
        "wall_s": round(wall, 2),
        "complete_flows": complete,
        "flows_per_s": round(complete / wall, 1),
        "flows_per_s_without_token_wait_estimate": round(without_wait, 1),
        "graphql_requests_per_s": round(sum(w.requests for w in workers) / wall, 1),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors.most_common(10)),
        "skipped": sum(skipped.values()),
        "skip_reasons": dict(skipped.most_common(10)),
        "applicants_left": applicants.left,
        "applicants_exhausted_at_s": round(min(exhausted) - started, 1) if exhausted else None,
        "decisions": dict(outcomes),
        "token_wait": percentiles([v for w in workers for v in w.waits]),
        "token_wait_share_of_client_time": round(
            sum(w.wait_s for w in workers)
            / max(sum(w.finished - w.started for w in workers), 1e-9),
            3,
        ),
        "steps": {
            name: percentiles([v for w in workers for v in w.times[name]]) for name in STEPS[1:]
        },
        "cpu_cores_used": cores,
        "server_rss_mib": {
            "first": rss[0],
            "last": rss[-1],
            "max": max(rss),
            "growth": round(rss[-1] - rss[0], 1),
        },
        "store_rss_mib": {"first": store_rss[0], "last": store_rss[-1], "max": max(store_rss)}
        if store_rss
        else None,
        "samples": samples,
    }
    print(
        f"  {complete} complete flows in {wall:.1f} s: {result['flows_per_s']} flows/s "
        f"(without the token wait, estimated: {result['flows_per_s_without_token_wait_estimate']}"
        f" flows/s); errors {result['errors']}, skipped {result['skipped']}",
        flush=True,
    )
    if errors:
        print(f"  error kinds: {dict(errors.most_common(5))}", flush=True)
    for name, figures in result["steps"].items():
        _show(name, figures)
    _show("(outbox token wait)", result["token_wait"])
    print(
        f"  token wait share of client time {result['token_wait_share_of_client_time']}; "
        f"CPU cores used {cores} (of {os.cpu_count()})",
        flush=True,
    )
    print(
        f"  server RSS first {rss[0]} MiB, last {rss[-1]} MiB, max {max(rss)} MiB; "
        f"store RSS {result['store_rss_mib']}",
        flush=True,
    )
    return result


# --- main -------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--iterations", type=int, default=1000, help="phase A flows measured")
    parser.add_argument("--warmup", type=int, default=100, help="phase A flows not measured")
    parser.add_argument(
        "--applicants",
        type=int,
        default=0,
        help="applicants to pre-scan (default: enough for the run, at most every candidate)",
    )
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--graph", default=GRAPH, help=argparse.SUPPRESS)
    parser.add_argument("--outbox-log", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(args.port, args.graph, Path(args.outbox_log))

    from api.keys import create_key
    from etl.load import load_folder
    from etl.synth import generate

    work = Path(tempfile.mkdtemp(prefix="vouchgraph-bench-api-"))
    data_dir = scratch_store(work)
    n = args.customers
    results: dict[str, Any] = {
        **provenance("api"),
        "customers": n,
        "settings": {
            "business": BUSINESS,
            "applicant_face_similarity": FACE,
            "policy": "shipped policy.toml, missing graph model neutral (0 points)",
            "sender": "LocalSender (log file)",
            "outbox_dispatcher": "interval 1 s, woken on each requestAssistedAuth",
            "server": "separate process, uvicorn, log_level=warning, no access log",
        },
    }
    store: GraphStore | None = None
    tail: OutboxTail | None = None
    try:
        folder = work / "bank"
        started = time.perf_counter()
        summary = generate(n, SEED, folder)
        results["synth_s"] = round(time.perf_counter() - started, 2)
        print(f"synth: {n} customers in {results['synth_s']} s", flush=True)

        store = _store(GRAPH)
        store.clear()
        notes: list[str] = []
        started = time.perf_counter()
        report = load_folder(store, folder, progress=False, bulk=True, on_note=notes.append)
        results["load"] = {
            "mode": report.mode,
            "seconds": round(time.perf_counter() - started, 2),
            "rows_read": report.rows_read,
            "rows_rejected": report.rows_rejected,
            "nodes": report.nodes_written,
            "relationships": report.relationships_written,
            "notes": notes,
        }
        for note in notes:
            print(f"note: {note}", flush=True)
        print(f"load: {json.dumps(results['load'])}", flush=True)
        key = create_key(store, "kiosk", "bench-kiosk")[1]
        for role in ("mobile_banking", "analyst"):
            KEYS[role] = create_key(store, role, f"bench-{role}")[1]

        related = kin_customers(folder)
        random.Random(SEED).shuffle(related)
        # enough for phase A and for phase B at 60 flows/s without reusing an applicant much
        # (their guarantors run out of vouches); an applicant is reused round robin
        wanted = max(args.warmup + args.iterations + 500, 60 * args.seconds)
        target = args.applicants or int(min(len(related), wanted))
        print(
            f"pre-scan: {len(related)} customers with a tie (of {summary['customers']}); "
            f"looking for {target} who need a guarantor",
            flush=True,
        )
        scan = prescan(store, related, target)
        applicants = Applicants(scan.pop("applicants"))
        results["prescan"] = {"customers_with_ties": len(related), "target": target, **scan}
        print(f"pre-scan: {json.dumps(results['prescan'])}", flush=True)
        if applicants.left == 0:
            raise RuntimeError("pre-scan: no applicant needs a guarantor")

        outbox_log = work / "outbox.log"
        tail = OutboxTail(outbox_log)
        store_info = embedded.running(data_dir)
        store_pid = store_info.pid if store_info else None
        with server_process(GRAPH, outbox_log, work / "server.log") as (url, pid):
            results["server_rss_mib_at_start"] = round((_rss_kib(pid) or 0) / 1024, 1)
            print(f"server: pid {pid} at {url}, RSS {results['server_rss_mib_at_start']} MiB")
            results["latency"] = phase_latency(
                url, key, tail, applicants, args.warmup, args.iterations, pid, store_pid
            )
            results["throughput"] = phase_throughput(
                url, key, tail, applicants, args.clients, args.seconds, pid, store_pid
            )
        logged = (work / "server.log").read_text(errors="replace").splitlines()
        results["server_log_lines"] = len(logged)
        results["server_log_tail"] = logged[-20:]
        if logged:
            print(f"server log: {len(logged)} lines, the last: {logged[-1][:200]}", flush=True)
        results["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
        status = embedded.status(data_dir)
        results["store_used_memory_mib"] = round(int(status.get("used_memory_bytes") or 0) / 2**20)
    finally:
        if tail is not None:
            tail.close()
        if store is not None:
            with contextlib.suppress(Exception):
                store.close()
        embedded.stop(data_dir)
        shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"api-{n}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
