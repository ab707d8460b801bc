"""External benchmarks: public labelled graphs through the project's own format, ETL and models.

    python bench/external.py tolokers|bitcoin-otc|bitcoin-alpha [--folds N] [--epochs N]

Each data set (from ../shared/datasets, see its README) is written as a source folder
(bench/datasets.py), loaded into a graph of its own on the embedded server with the project's
loader, exported with `ml.export`, and every model is trained and scored with `ml.train`:
- tolokers: the 10 fixed 50/25/25 splits of Platonov et al. (2023); ROC-AUC mean ± std;
- bitcoin-otc, bitcoin-alpha: fraudulent-user ROC-AUC under two protocols, 10-fold stratified
  cross-validation on the labelled users each:
  - `rev2`: the REV2 paper's supervised protocol, the whole graph visible (the ratings a user
    received, which the labels were derived from, included);
  - `leakage-controlled`: every rating pointing into a labelled user is loaded without its
    score (0: the edge is there, its sign and weight are not), so no edge into an evaluated
    user carries the information the label came from.

Prints one JSON object per line and per (model, protocol): dataset, protocol, model,
roc_auc_mean, roc_auc_std, folds, seconds; and writes them all to
bench/results/external-<dataset>.json with the machine and per-fold figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import datasets  # noqa: E402
from bench.harness import provenance  # noqa: E402
from etl.load import load_folder  # noqa: E402
from graph import embedded  # noqa: E402
from graph.settings import load_settings  # noqa: E402
from graph.store import GraphStore, open_store  # noqa: E402
from ml.export import GraphExport, export_graph  # noqa: E402
from ml.metrics import roc_auc  # noqa: E402
from ml.train import Split, TrainConfig, fit_models  # noqa: E402

DATASETS_DIR = ROOT.parent / "shared" / "datasets"
NO_CAP = 1_000_000  # external graphs are trained on whole neighbourhoods


def _load(folder: Path, graph: str) -> tuple[GraphStore, GraphExport, float]:
    """The folder through the project's loader into a fresh graph, then exported."""
    started = time.monotonic()
    store = open_store(dataclasses.replace(load_settings(), graph_name=graph))
    store.clear()
    store.ensure_schema()
    report = load_folder(store, folder, bulk=True, progress=False)
    if report.rows_rejected:
        raise SystemExit(f"{graph}: {report.rows_rejected} rows rejected: {report.render()}")
    export = export_graph(store, progress=False)
    return store, export, time.monotonic() - started


def _fold_splits(labels: np.ndarray, indices: np.ndarray, folds: int, seed: int) -> list[Split]:
    """Stratified k-fold over the labelled customers; validation is a slice of the rest."""
    rng = np.random.default_rng(seed)
    fold_of = np.zeros(len(indices), np.int64)
    for value in (0, 1):
        members = rng.permutation(np.flatnonzero(labels[indices] == value))
        fold_of[members] = np.arange(len(members)) % folds
    splits = []
    for k in range(folds):
        test = indices[fold_of == k]
        val = indices[fold_of == (k + 1) % folds]
        train = indices[(fold_of != k) & (fold_of != (k + 1) % folds)]
        splits.append(Split(np.sort(train), np.sort(val), np.sort(test), f"{folds}-fold CV"))
    return splits


def _evaluate(
    export: GraphExport, splits: list[Split], config: TrainConfig, progress: str
) -> dict[str, list[float]]:
    aucs: dict[str, list[float]] = {m: [] for m in config.models}
    for k, split in enumerate(splits):
        fitted = fit_models(export, split, config)
        known = export.known_labels(split.mask(export.num_customers))
        for name, model in fitted.items():
            prob = model.predict_proba(export, known)
            aucs[name].append(float(roc_auc(export.label[split.test], prob[split.test])))
        shown = ", ".join(f"{m} {v[-1]:.4f}" for m, v in aucs.items())
        print(f"# {progress} split {k + 1}/{len(splits)}: {shown}", file=sys.stderr, flush=True)
    return aucs


def _lines(
    dataset: str, protocol: str, aucs: dict[str, list[float]], seconds: float
) -> list[dict[str, Any]]:
    return [
        {
            "dataset": dataset,
            "protocol": protocol,
            "model": model,
            "roc_auc_mean": round(float(np.mean(values)), 4),
            "roc_auc_std": round(float(np.std(values)), 4),
            "folds": len(values),
            "seconds": round(seconds, 1),
            "per_fold": [round(v, 4) for v in values],
        }
        for model, values in aucs.items()
    ]


def run_tolokers(config: TrainConfig, folds: int) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        meta = datasets.write_tolokers(DATASETS_DIR / "tolokers", Path(tmp))
        store, export, load_s = _load(Path(tmp), "bench_tolokers")
    try:
        index = export.index_of()
        order = np.array([index[c] for c in meta.customer_ids], np.int64)
        splits = [
            Split(
                np.sort(order[meta.train_masks[k]]),
                np.sort(order[meta.val_masks[k]]),
                np.sort(order[meta.test_masks[k]]),
                "fixed split (Platonov et al. 2023)",
            )
            for k in range(min(folds, len(meta.train_masks)))
        ]
        started = time.monotonic()
        aucs = _evaluate(export, splits, config, "tolokers")
        return _lines("tolokers", "fixed-splits", aucs, time.monotonic() - started + load_s)
    finally:
        store.clear()


def _mask_incoming_scores(folder: Path, labelled: set[str]) -> int:
    """Rewrites ratings.csv with the score of every rating into a labelled user set to 0."""
    import pandas as pd

    path = folder / "ratings.csv"
    ratings = pd.read_csv(path, dtype={"src_id": str, "dst_id": str})
    into = ratings["dst_id"].isin(labelled)
    ratings.loc[into, "score"] = 0.0
    ratings.to_csv(path, index=False)
    return int(into.sum())


def run_bitcoin(name: str, config: TrainConfig, folds: int) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for protocol in ("rev2", "leakage-controlled"):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            meta = datasets.write_bitcoin(DATASETS_DIR / f"bitcoin_{name}_rev2", name, folder)
            if protocol == "leakage-controlled":
                masked = _mask_incoming_scores(folder, set(meta.customer_ids))
                print(f"# {name}: {masked} ratings into labelled users masked", file=sys.stderr)
            store, export, load_s = _load(folder, f"bench_bitcoin_{name}")
        try:
            index = export.index_of()
            labelled = np.array([index[c] for c in meta.customer_ids], np.int64)
            splits = _fold_splits(export.label, labelled, folds, config.seed)
            started = time.monotonic()
            aucs = _evaluate(export, splits, config, f"{name} {protocol}")
            seconds = time.monotonic() - started + load_s
            lines += _lines(f"bitcoin-{name}", protocol, aucs, seconds)
        finally:
            store.clear()
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", choices=("tolokers", "bitcoin-otc", "bitcoin-alpha"))
    parser.add_argument("--folds", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", default="gnn,baseline")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    if args.folds < 3:
        parser.error("--folds: at least 3 (one for test, one for validation, the rest to train)")
    if not DATASETS_DIR.is_dir():
        print(f"skipped: {DATASETS_DIR} is absent (see its README)", file=sys.stderr)
        return 0
    own_server = "VOUCHGRAPH_DATA_DIR" not in os.environ
    if own_server:  # a temporary embedded server, stopped at the end
        os.environ["VOUCHGRAPH_DATA_DIR"] = tempfile.mkdtemp(prefix="vouchgraph-bench-")
    try:
        return _run(args)
    finally:
        if own_server:
            embedded.stop(Path(os.environ["VOUCHGRAPH_DATA_DIR"]))
            shutil.rmtree(os.environ["VOUCHGRAPH_DATA_DIR"], ignore_errors=True)


def _run(args: argparse.Namespace) -> int:
    config = TrainConfig(
        seed=args.seed,
        max_epochs=args.epochs,
        hidden=args.hidden,
        fanout=NO_CAP,
        models=tuple(args.models.split(",")),
        progress=False,
    )
    started = time.monotonic()
    if args.dataset == "tolokers":
        lines = run_tolokers(config, args.folds)
    else:
        lines = run_bitcoin(args.dataset.split("-", 1)[1], config, args.folds)
    for line in lines:
        print(json.dumps({k: v for k, v in line.items() if k != "per_fold"}), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    record = {
        **provenance("external"),
        "dataset": args.dataset,
        "config": dataclasses.asdict(config),
        "seconds": round(time.monotonic() - started, 1),
        "results": lines,
    }
    (args.out / f"external-{args.dataset}.json").write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
