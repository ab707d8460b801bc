"""Benchmark: the graph model on the synthetic bank, quality and speed.

    python bench/ml.py --customers 100000 [--epochs N] [--hidden H] [--time-budget S]
        [--folder BANK]

Generates a bank (or reuses --folder), bulk-loads it into a graph of its own, then measures:
- export: the whole graph to arrays (seconds, customers/s, peak memory of this process);
- training: GNN and baseline on one split (seconds each), with test ROC-AUC, PR-AUC, recall at
  1% FPR, and per planted kind (mule ring, collusion, telecom-fraud victim, other fraud) the
  share of those customers above the 1%-FPR threshold: what the graph adds over the baseline;
- batch scoring: every customer scored and written back (seconds);
- online scoring: one customer, neighbourhood fetch included, p50/p99 over --samples random
  customers, without and with the explanation, and one (customer, guarantor) pair; with a
  `RETURN 1` round trip in the same process as the baseline.
Prints the figures and writes bench/results/ml-<customers>.json. Uses the embedded server of
VOUCHGRAPH_DATA_DIR (a temporary one, stopped at the end, unless set).
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import provenance  # noqa: E402
from etl.load import load_folder  # noqa: E402
from etl.synth import generate  # noqa: E402
from graph import embedded  # noqa: E402
from graph import queries as q  # noqa: E402
from graph.settings import load_settings  # noqa: E402
from graph.store import GraphStore, open_store  # noqa: E402
from ml.export import export_graph  # noqa: E402
from ml.pipeline import train_export  # noqa: E402
from ml.registry import ModelRegistry  # noqa: E402
from ml.serving import OnlineScorer, hide, load_version, score_store  # noqa: E402
from ml.train import TrainConfig  # noqa: E402
from risk.policy import load_policy  # noqa: E402

PING = q.ROUND_TRIP  # the same-process baseline
KINDS = ("mule", "collusion", "telecom_victim", "fraud")


def _percentiles(samples: list[float]) -> dict[str, float]:
    ms = np.array(samples) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }


def _peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def planted_recall(kinds: np.ndarray, y: np.ndarray, prob: np.ndarray) -> dict[str, Any]:
    """Per planted kind: the share of its labelled customers above the 1%-FPR threshold."""
    threshold = float(np.quantile(prob[y == 0], 0.99))
    out: dict[str, Any] = {"threshold_at_1pct_fpr": round(threshold, 4)}
    for kind in KINDS:
        members = (kinds == kind) & (y == 1)
        if members.any():
            out[kind] = {
                "n": int(members.sum()),
                "recall": round(float((prob[members] > threshold).mean()), 3),
            }
    return out


def _timed(samples: list[float], fn: Any, *args: Any) -> Any:
    started = time.perf_counter()
    result = fn(*args)
    samples.append(time.perf_counter() - started)
    return result


def online(store: GraphStore, scorer: OnlineScorer, ids: list[str], now: int) -> dict[str, Any]:
    fitted = scorer.model.fitted
    ping, plain, explained, pairs = [], [], [], []
    for customer in ids:
        _timed(ping, store.run, PING, {})
        started = time.perf_counter()
        near = scorer._neighbourhood([customer], now)
        seed = int(near.seeds[0])
        fitted.predict_proba(near, hide(near.known_labels(), [seed]))
        plain.append(time.perf_counter() - started)
        _timed(explained, scorer.score_customer, customer, now)
    if fitted.scores_pairs:
        for a, b in zip(ids[::2], ids[1::2], strict=False):
            _timed(pairs, scorer.score_pair, a, b, now)
    return {
        "samples": len(ids),
        "ping": _percentiles(ping),
        "score": _percentiles(plain),
        "score_and_explain": _percentiles(explained),
        **({"pair_score_and_explain": _percentiles(pairs)} if pairs else {}),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=300)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--time-budget", type=float, help="seconds for the GNN's epochs")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--folder", help="reuse a generated bank instead of generating one")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()

    own_server = "VOUCHGRAPH_DATA_DIR" not in os.environ
    if own_server:
        os.environ["VOUCHGRAPH_DATA_DIR"] = tempfile.mkdtemp(prefix="vouchgraph-bench-")
    work = Path(tempfile.mkdtemp(prefix="vouchgraph-ml-"))
    folder = Path(args.folder) if args.folder else work / "bank"
    n = args.customers
    results: dict[str, Any] = {**provenance("ml"), "customers": n}
    store = open_store(dataclasses.replace(load_settings(), graph_name="bench_ml"))
    try:
        if not args.folder:
            started = time.monotonic()
            generate(n, args.seed, folder)
            results["synth_seconds"] = round(time.monotonic() - started, 1)
        store.clear()
        started = time.monotonic()
        load_folder(store, folder, bulk=True, progress=False)
        results["load_seconds"] = round(time.monotonic() - started, 1)
        print("loaded", json.dumps(results), flush=True)

        started = time.monotonic()
        export = export_graph(store, progress=True)
        export_s = time.monotonic() - started
        results["export"] = {
            "seconds": round(export_s, 1),
            "customers_per_s": round(n / export_s),
            "edges": {name: len(e) for name, e in export.edges.items()},
            "peak_rss_mib": _peak_mib(),
        }
        print("export", json.dumps(results["export"]), flush=True)

        registry = ModelRegistry(work / "models")
        config = TrainConfig(
            seed=args.seed,
            max_epochs=args.epochs,
            hidden=args.hidden,
            time_budget_s=args.time_budget,
        )
        started = time.monotonic()
        trained = train_export(export, registry, config, title=f"synthetic bank, {n:,} customers")
        train_s = time.monotonic() - started
        kinds = export.label_kind[trained.split.test]
        models = {}
        for name, r in trained.summary["models"].items():
            y, prob = trained.predictions[name]
            m = r["metrics"]
            models[name] = {
                "roc_auc": round(m["roc_auc"], 4),
                "pr_auc": round(m["pr_auc"], 4),
                "recall_at_1pct_fpr": round(m["recall_at_fpr"]["0.01"], 4),
                "ece": round(m["ece"], 4),
                "val_pr_auc": round(r["val_metrics"]["pr_auc"], 4),
                "planted": planted_recall(kinds, y, prob),
                "training": r["training"],
                **(
                    {"pair_roc_auc": round(r["pair_metrics"]["roc_auc"], 4)}
                    if r.get("pair_metrics") and r["pair_metrics"]["roc_auc"] is not None
                    else {}
                ),
            }
        results["train"] = {
            "seconds": round(train_s, 1),
            "export_plus_train_seconds": round(export_s + train_s, 1),
            "served": trained.served,
            "models": models,
            "peak_rss_mib": _peak_mib(),
        }
        print("train", json.dumps(results["train"]), flush=True)

        model = load_version(registry, trained.version)
        started = time.monotonic()
        summary = score_store(store, model, progress=True, bands=load_policy().graph_risk_bands)
        results["batch_score"] = {
            "seconds": round(time.monotonic() - started, 1),
            "parts": summary["seconds"],
            "bands": summary["bands"],
        }
        print("batch_score", json.dumps(results["batch_score"]), flush=True)

        ids = random.Random(args.seed).sample(export.customer_ids, min(args.samples, n))
        # as in the API process: start-up objects out of the cyclic GC's way, one torch thread
        gc.collect()
        gc.freeze()
        torch.set_num_threads(1)
        results["online"] = {
            "served": online(store, OnlineScorer(store, model), ids, export.as_of),
        }
        other = "baseline" if trained.served == "gnn" else "gnn"
        if other in trained.summary["models"]:
            # the other model, for comparison: saved as its own version
            alt = train_export(  # for its latency only: a short training will do
                export,
                registry,
                dataclasses.replace(config, models=(other,), max_epochs=min(config.max_epochs, 10)),
                title="latency comparison",
                split=trained.split,
            )
            alt_model = load_version(registry, alt.version)
            results["online"][other] = online(
                store, OnlineScorer(store, alt_model), ids[: max(50, len(ids) // 5)], export.as_of
            )
        results["online"]["served_model"] = trained.served
        print("online", json.dumps(results["online"]), flush=True)
    finally:
        store.clear()
        store.close()
        if own_server:
            embedded.stop(Path(os.environ["VOUCHGRAPH_DATA_DIR"]))
            shutil.rmtree(os.environ["VOUCHGRAPH_DATA_DIR"], ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"ml-{n}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
