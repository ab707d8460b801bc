"""The `vouchgraph` command line: db, synth, load, stats, serve, keys, outbox, demo, and the
model commands (train, models, score; in cli/model.py) and `neo4j` (in cli/local_neo4j.py).

Errors exit non-zero with one clear line on stderr (the exit code says which kind of error);
personal data never appears in what is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cli.alerts import register as register_alert_commands
from cli.local_neo4j import register as register_neo4j_commands
from cli.model import register as register_model_commands
from cli.output import print_json
from etl.readers import MalformedFile
from graph import embedded
from graph import queries as q
from graph.errors import ConfigError, StoreError
from graph.settings import load_settings
from graph.store import GraphStore, open_store
from ml.registry import RegistryError

EXIT_BAD_INPUT = 2


def cmd_db(args: argparse.Namespace) -> int:
    def _db_progress(progress: dict[str, Any]) -> str:
        """One phrase for a server that is not serving yet: loading (how far) or starting."""
        if progress.get("state") != "loading":
            return "starting"
        parts = []
        if progress.get("loading_loaded_perc") is not None:
            parts.append(f"{float(progress['loading_loaded_perc']):.0f}% loaded")
        if progress.get("loading_eta_seconds") is not None:
            parts.append(f"about {int(progress['loading_eta_seconds'])} s left")
        return "loading its data" + (f" ({', '.join(parts)})" if parts else "")

    settings = load_settings()
    if not settings.embedded:
        raise ConfigError(
            "vouchgraph db manages the embedded server only; VOUCHGRAPH_GRAPH_URI names Neo4j"
        )
    if args.action == "start":

        def waiting(progress: dict[str, Any]) -> None:
            # a server replaying a big append-only file takes a while: say so, do not look hung
            print(f"embedded graph server {_db_progress(progress)}", file=sys.stderr)

        info = embedded.ensure_running(settings.data_dir, on_wait=waiting)
        print(
            f"embedded graph server running at {info.host}:{info.port} (pid {info.pid}), "
            f"data in {info.data_dir}"
        )
    elif args.action == "stop":
        stopped = embedded.stop(settings.data_dir)
        print("embedded graph server stopped" if stopped else "embedded graph server not running")
    else:
        status: dict[str, Any] = embedded.status(settings.data_dir)
        if args.json:
            print_json(status)
        elif status["running"]:
            print(
                f"running at {status['address']} (pid {status['pid']}), "
                f"data in {status['data_dir']}, graphs: {', '.join(status['graphs']) or '-'}, "
                f"memory {int(status['used_memory_bytes']) / 2**20:.1f} MiB"
            )
        elif status.get("state") in ("loading", "starting"):
            # not serving yet, hence exit code 1 as for a stopped server
            print(
                f"{_db_progress(status)} at {status.get('address', '-')} "
                f"(pid {status.get('pid', '-')}), data in {status['data_dir']}"
            )
            return 1
        else:
            print(f"not running (data in {status['data_dir']})")
            return 1
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from etl.synth import generate
    from graph.progress import Progress

    bars: dict[str, Progress] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = Progress(f"synth {stage}", total=total, unit="items")
        bar.update(done - bar.done)

    summary = generate(
        args.customers, args.seed, Path(args.out), fmt=args.format, progress=progress
    )
    for bar in bars.values():
        bar.close()
    if args.json:
        print_json(summary)
    else:
        print(f"synthetic bank of {args.customers:,} customers (seed {args.seed}) in {args.out}")
        for name, rows in summary.get("rows", {}).items():
            print(f"  {name:<18}{rows:>12,} rows")
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from etl.load import load_folder

    store = open_store()
    try:
        report = load_folder(
            store,
            Path(args.folder),
            batch_size=args.batch_size,
            progress=not args.quiet,
            bulk=args.bulk,
            on_note=lambda note: print(note, file=sys.stderr),
        )
    finally:
        store.close()
    if args.json:
        print_json(report.to_dict())
    else:
        print(report.render())
    return 0


def graph_stats(store: GraphStore) -> dict[str, Any]:
    """Node counts by label and relationship counts by type."""
    from etl.load import graph_counts

    nodes, rels = graph_counts(store)
    return {
        "backend": store.backend,
        "nodes": nodes,
        "relationships": rels,
        "total_nodes": sum(nodes.values()),
        "total_relationships": sum(rels.values()),
    }


def _render_stats(stats: dict[str, Any]) -> str:
    lines = [
        f"graph ({stats['backend']}): {stats['total_nodes']:,} nodes, "
        f"{stats['total_relationships']:,} relationships"
    ]
    lines += [f"  :{label:<20}{n:>12,}" for label, n in stats["nodes"].items()]
    lines += [
        f"  [:{rel}]{'':<{max(0, 17 - len(rel))}}{n:>12,}"
        for rel, n in stats["relationships"].items()
    ]
    return "\n".join(lines)


def cmd_stats(args: argparse.Namespace) -> int:
    store = open_store()
    try:
        stats = graph_stats(store)
    finally:
        store.close()
    if args.json:
        print_json(stats)
    else:
        print(_render_stats(stats))
    return 0


def sample_customer_text(store: GraphStore) -> str:
    """A customer with kin, and their relations: ids and kinds only, no personal data."""
    found = store.run(q.SAMPLE_CUSTOMER)
    if not found:
        return "no customer with relations yet"
    cid = found[0]["id"]
    profile = store.run(q.CUSTOMER_PROFILE, {"id": cid})[0]
    lines = [
        f"sample customer {cid}: status {profile['status']}, credit "
        f"{profile['credit_grade'] or '-'}, {profile['phones']} phone(s), "
        f"{profile['devices']} device(s), {profile['out_count_180d'] or 0} transfers out "
        f"in 180 days"
    ]
    for rel in store.run(q.CUSTOMER_RELATIONS, {"id": cid, "limit": 15}):
        arrow = "->" if rel["outgoing"] else "<-"
        detail = rel["kind"] or ""
        if rel["type"] == "TRANSFERRED":
            detail = f"{rel['count']} transfers, total {rel['total']:,.2f}"
        elif rel["type"] == "VOUCHED_FOR":
            detail = f"outcome {rel['outcome']}"
        elif rel["source"]:
            detail += f" (source: {rel['source']})"
        lines.append(f"  {arrow} {rel['type']:<12} {rel['other']}  {detail}")
    return "\n".join(lines)


def cmd_demo(args: argparse.Namespace) -> int:
    from api.keys import create_key
    from cli.alerts import ring_example_text
    from etl.load import load_folder
    from etl.synth import generate
    from graph.vocab import Role, names

    folder = Path(args.out)
    started = time.monotonic()
    if not (folder / "customers.csv").exists():
        print(f"generating a synthetic bank of {args.customers:,} customers in {folder} ...")
        generate(args.customers, args.seed, folder)
    store = open_store()
    try:
        if store.is_empty():
            print("loading it into the graph ...")
            report = load_folder(
                store, folder, bulk=True, on_note=lambda n: print(n, file=sys.stderr)
            )
            print(report.render())
        else:
            print("the graph already holds data; not loading again (vouchgraph load to add)")
        print()
        print(_render_stats(graph_stats(store)))
        print()
        print(sample_customer_text(store))
        print(ring_example_text(store, f"http://{args.host}:{args.port}"))
        roles = names((Role.KIOSK, Role.MOBILE_BANKING, Role.ANALYST))
        keys = {role: create_key(store, role, f"demo-{role}")[1] for role in roles}
        version = _demo_model(store)
    finally:
        store.close()
    print(f"\ndemo ready in {time.monotonic() - started:.1f}s")
    if args.no_serve:
        return 0
    print(f"\npolicy: the shipped one; graph model {version} (vouchgraph models show {version})")
    for role, key in keys.items():
        print(f"{role} key: {key}")
    print(f"GraphiQL: http://{args.host}:{args.port}/graphql  (header Authorization: Bearer KEY)")
    return cmd_serve(args)


def _demo_model(store: GraphStore) -> str:
    """The promoted model version; when there is none, trains one on the store, promotes it
    and writes every customer's batch score."""
    from ml.export import export_graph
    from ml.pipeline import train_export
    from ml.registry import ModelRegistry, default_root
    from ml.serving import load_version, score_store
    from ml.train import TrainConfig
    from risk.policy import load_policy

    registry = ModelRegistry(default_root(load_settings()))
    version = registry.promoted()
    if version is None:
        print("\ntraining the graph model and the baseline ...")
        export = export_graph(store)
        result = train_export(export, registry, TrainConfig(max_epochs=120))
        for name, r in result.summary["models"].items():
            print(f"  {name:9s} test ROC-AUC {r['metrics']['roc_auc']:.3f}")
        version = result.version
        registry.promote(version)
        print(f"promoted {version} ({result.served}); report: {registry.path(version)}/report.md")
        score_store(
            store,
            load_version(registry, version),
            export=export,  # read once
            bands=load_policy().graph_risk_bands,
        )
    return version


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from api.app import build_app, build_service

    app = build_app(build_service())
    print(f"serving GraphQL on http://{args.host}:{args.port}/graphql", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    if args.action == "list":
        return _keys_list(args)
    if args.action == "revoke":
        return _keys_revoke(args)
    from api.keys import create_key

    for option in ("role", "name"):
        if getattr(args, option) is None:
            raise ValueError(f"--{option}: required to create a key")
    store = open_store()
    try:
        store.ensure_schema()
        principal, key = create_key(store, args.role, args.name)
    finally:
        store.close()
    if args.json:
        print_json(
            {"id": principal.key_id, "name": principal.name, "role": principal.role, "key": key}
        )
    else:
        print(
            f"key {principal.key_id} for {principal.name} ({principal.role}); "
            "shown once, keep it safe:",
            file=sys.stderr,
        )
        print(key)
    return 0


def _keys_list(args: argparse.Namespace) -> int:
    from api.keys import list_keys

    store = open_store()
    try:
        keys = [
            {name: k[name] for name in ("id", "name", "role", "created_at", "revoked")}
            for k in list_keys(store)
        ]
    finally:
        store.close()
    if args.json:
        print_json(keys)
        return 0
    for k in keys:
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(k["created_at"] / 1000))
        state = "revoked" if k["revoked"] else "active"
        print(f"{k['id']}  {k['role']:<15}{state:<9}{created}  {k['name']}")
    return 0


def _keys_revoke(args: argparse.Namespace) -> int:
    from api.keys import revoke_key

    if not args.key_id:
        raise ValueError("KEY_ID: required to revoke a key (see `vouchgraph keys list`)")
    store = open_store()
    try:
        found = revoke_key(store, args.key_id)
    finally:
        store.close()
    if not found:
        print(f"vouchgraph: error: no API key with id {args.key_id!r}", file=sys.stderr)
        return 1
    print(f"key {args.key_id} revoked (servers stop accepting it within seconds)", file=sys.stderr)
    return 0


def cmd_outbox(args: argparse.Namespace) -> int:
    store = open_store()
    try:
        if args.action == "send":
            from notify.outbox import OutboxDispatcher
            from notify.senders import sender_from_settings

            settings = load_settings()
            sender = sender_from_settings(os.environ, default_log=settings.data_dir / "outbox.log")
            sent = OutboxDispatcher(store, sender).dispatch_once(limit=args.limit)
            print(f"{sent} message(s) handled")
            return 0
        rows = [r["message"] for r in store.run(q.LIST_OUTBOX, {"limit": args.limit})]
    finally:
        store.close()
    shown = [
        {
            "request_id": m["request_id"],
            "message_id": m["id"],
            "guarantor_id": m["guarantor_id"],
            "channel": m["channel"],
            "status": m["status"],
            "attempts": m.get("attempts") or 0,
            "created_at": m["created_at"],
        }
        for m in rows
    ]
    if args.json:
        print_json(shown)
    else:
        for m in shown:
            print(f"{m['request_id']}  {m['guarantor_id']}  {m['channel']:<15}{m['status']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vouchgraph", description="VouchGraph: relationship-graph risk decisions for banks"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="start, stop or show the embedded graph server")
    db.add_argument("action", choices=("start", "stop", "status"))
    db.add_argument("--json", action="store_true")
    db.set_defaults(func=cmd_db)

    synth = sub.add_parser("synth", help="write a synthetic bank in the source format")
    synth.add_argument("--customers", type=int, default=10_000)
    synth.add_argument("--seed", type=int, default=7)
    synth.add_argument("--out", required=True)
    synth.add_argument("--format", choices=("csv", "parquet"), default="csv")
    synth.add_argument("--json", action="store_true")
    synth.set_defaults(func=cmd_synth)

    load = sub.add_parser("load", help="validate and load a source folder into the graph")
    load.add_argument("folder")
    load.add_argument(
        "--bulk",
        action="store_true",
        help="first load into an empty store with the native bulk loader",
    )
    load.add_argument("--json", action="store_true", help="print the report as JSON")
    load.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="rows per write statement (default: measured per backend, see etl/load.py)",
    )
    load.add_argument("--quiet", action="store_true", help="no progress output")
    load.set_defaults(func=cmd_load)

    stats = sub.add_parser("stats", help="node counts by label, relationship counts by type")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(func=cmd_stats)

    serve = sub.add_parser("serve", help="serve the GraphQL API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(func=cmd_serve)

    keys = sub.add_parser(
        "keys", help="create, list or revoke API keys (kiosk, mobile_banking, analyst, admin)"
    )
    keys.add_argument("action", choices=("create", "list", "revoke"))
    keys.add_argument("key_id", nargs="?", help="the key to revoke (an id from `keys list`)")
    keys.add_argument("--role", help="create: the key's role")
    keys.add_argument("--name", help="create: who holds the key")
    keys.add_argument("--json", action="store_true")
    keys.set_defaults(func=cmd_keys)

    outbox = sub.add_parser("outbox", help="list (or send) assisted-authentication messages")
    outbox.add_argument("action", choices=("list", "send"))
    outbox.add_argument("--json", action="store_true")
    outbox.add_argument("--limit", type=int, default=100)
    outbox.set_defaults(func=cmd_outbox)

    demo = sub.add_parser("demo", help="build a synthetic bank, load it and summarise it")
    demo.add_argument("--customers", type=int, default=5_000)
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--out", default="data/demo-bank")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--no-serve", action="store_true", help="stop after the summary")
    demo.set_defaults(func=cmd_demo)
    register_model_commands(sub)
    register_neo4j_commands(sub)
    register_alert_commands(sub)
    return parser


def _positive(args: argparse.Namespace) -> None:
    for name in ("customers", "batch_size"):
        value = getattr(args, name, None)
        if value is not None and value <= 0:
            raise ConfigError(f"--{name.replace('_', '-')}: must be a positive integer")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _positive(args)
        return int(args.func(args))
    except (ConfigError, StoreError, RegistryError) as exc:
        print(f"vouchgraph: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (MalformedFile, FileNotFoundError, NotADirectoryError, ValueError) as exc:
        print(f"vouchgraph: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("vouchgraph: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
