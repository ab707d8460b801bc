"""The model commands of `vouchgraph`: train, models list|show|promote|demote, score.

They import torch only when run, so the other commands start fast.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

from cli.output import print_json
from etl.validate import parse_time
from graph.errors import ConfigError
from graph.settings import Settings, load_settings
from graph.store import open_store

if TYPE_CHECKING:
    from ml.pipeline import TrainResult
    from ml.registry import ModelRegistry
    from ml.train import TrainConfig


def _as_of(text: str | None) -> int | None:
    """An ISO 8601 time as epoch ms, read as the source format reads times (UTC by default)."""
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise ConfigError(f"--as-of: not an ISO 8601 time: {text!r}") from exc


def _registry() -> ModelRegistry:
    from ml.registry import ModelRegistry, default_root

    return ModelRegistry(default_root(load_settings()))


def train_folder(
    folder: Path,
    settings: Settings,
    registry: ModelRegistry,
    config: TrainConfig,
    as_of: int | None = None,
) -> TrainResult:
    """Loads a source folder into a scratch graph with the project's ETL, trains from it, and
    deletes the scratch graph."""
    import numpy as np

    from etl.load import load_folder
    from ml.pipeline import train_store

    name = f"train_{np.random.default_rng().integers(1 << 40):x}"
    scratch = dataclasses.replace(settings, graph_name=name)
    store = open_store(scratch)
    try:
        store.ensure_schema()
        load_folder(store, folder, bulk=settings.embedded, progress=config.progress)
        return train_store(store, registry, config, as_of)
    finally:
        store.clear()
        store.close()


def cmd_train(args: argparse.Namespace) -> int:
    from ml.pipeline import train_store
    from ml.train import TrainConfig

    config = TrainConfig(
        seed=args.seed,
        max_epochs=args.epochs,
        hidden=args.hidden,
        fanout=args.fanout,
        time_budget_s=args.time_budget,
        models=tuple(m.strip() for m in args.models.split(",") if m.strip()),
        progress=not args.quiet,
    )
    as_of = _as_of(args.as_of)  # bad input is refused before the store is opened
    registry = _registry()
    if args.source is not None:
        result = train_folder(Path(args.source), load_settings(), registry, config, as_of)
    else:
        store = open_store()
        try:
            result = train_store(store, registry, config, as_of)
        finally:
            store.close()
    if args.promote:
        registry.promote(result.version)
    if args.json:
        print_json({"version": result.version, "served": result.served, **result.summary})
        return 0
    reason = result.summary["served_reason"]
    print(f"model version {result.version} ({result.served} serves: {reason})")
    for name, r in result.summary["models"].items():
        m = r["metrics"]
        print(f"  {name:9s} test ROC-AUC {m['roc_auc']:.3f}  PR-AUC {m['pr_auc']:.3f}", end="")
        print(f"  ECE {m['ece']:.3f}")
    print(f"report: {registry.path(result.version) / 'report.md'}")
    print(
        "promoted"
        if args.promote
        else f"promote it with: vouchgraph models promote {result.version}"
    )
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    registry = _registry()
    if args.action == "list":
        versions = registry.list()
        if args.json:
            print_json([v.__dict__ for v in versions])
        elif not versions:
            print("no model versions yet (vouchgraph train)")
        for v in versions if not args.json else ():
            auc = "-" if v.roc_auc is None else f"{v.roc_auc:.3f}"
            print(
                f"{'*' if v.promoted else ' '} {v.name}  {v.kind:9s} ROC-AUC {auc}  {v.created_at}"
            )
        return 0
    if args.action == "demote":
        registry.demote()
        print("no model promoted: the policy's missing-model rule applies")
        return 0
    if not args.version:
        raise ConfigError(f"models {args.action}: name a version (vouchgraph models list)")
    if args.action == "promote":
        registry.promote(args.version)
        print(f"promoted {args.version}; restart the API to serve it")
        return 0
    manifest = registry.show(args.version)
    if args.json:
        print_json(manifest)
    else:
        m = manifest["metrics"]
        print(f"{args.version}: {manifest['kind']}, trained on data as of {manifest['as_of']}")
        print(f"  test ROC-AUC {m['roc_auc']:.3f}, PR-AUC {m['pr_auc']:.3f}, ECE {m['ece']:.3f}")
        print(f"  code {manifest.get('code_version')}, data {manifest['data_fingerprint'][:16]}")
        print(f"  report: {registry.path(args.version) / 'report.md'}")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from ml.serving import load_promoted, load_version, score_store
    from risk.policy import load_policy

    as_of = _as_of(args.as_of)  # bad input is refused before anything is opened
    registry = _registry()
    model = load_version(registry, args.version) if args.version else load_promoted(registry)
    if model is None:
        raise ConfigError("no model promoted: vouchgraph models promote VERSION (or --version)")
    store = open_store()
    try:
        summary = score_store(
            store,
            model,
            as_of,
            progress=not args.quiet,
            bands=load_policy().graph_risk_bands,
        )
    finally:
        store.close()
    if args.json:
        print_json(summary)
    else:
        bands = ", ".join(f"{k} {v:,}" for k, v in summary["bands"].items())
        print(f"scored {summary['customers']:,} customers with {summary['model']}: {bands}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds the model commands to the `vouchgraph` parser."""
    train = sub.add_parser("train", help="train the graph model and the baseline; save a version")
    train.add_argument("--from", dest="source", help="a source folder (default: the store)")
    train.add_argument("--as-of", help="train on facts known by this ISO time (default: latest)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--epochs", type=int, default=300, help="most GNN epochs (early stop)")
    train.add_argument("--hidden", type=int, default=64)
    train.add_argument(
        "--time-budget", type=float, help="seconds for the GNN's epochs (the best so far is kept)"
    )
    train.add_argument("--fanout", type=int, default=10, help="neighbours per relation")
    train.add_argument("--models", default="gnn,baseline")
    train.add_argument("--promote", action="store_true", help="promote the new version")
    train.add_argument("--json", action="store_true")
    train.add_argument("--quiet", action="store_true", help="no progress output")
    train.set_defaults(func=cmd_train)

    models = sub.add_parser("models", help="list, show, promote or demote model versions")
    models.add_argument("action", choices=("list", "show", "promote", "demote"))
    models.add_argument("version", nargs="?")
    models.add_argument("--json", action="store_true")
    models.set_defaults(func=cmd_models)

    score = sub.add_parser("score", help="score every customer; write score, band and version")
    score.add_argument("--version", help="a version (default: the promoted one)")
    score.add_argument("--as-of", help="score on facts known by this ISO time (default: latest)")
    score.add_argument("--json", action="store_true")
    score.add_argument("--quiet", action="store_true", help="no progress output")
    score.set_defaults(func=cmd_score)
