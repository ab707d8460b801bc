"""The evaluation report of one training run: JSON, a readable Markdown page and three plots.

The trainer builds the summary (data set, split, each model's ``ml.metrics.evaluate`` results,
which model serves and why); this module only lays it out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import precision_recall_curve, roc_curve

from ml.metrics import bootstrap_ci, reliability

DASH = "–"
FIGSIZE = (5.0, 4.0)
DPI = 100


def write_report(
    out_dir: Path,
    summary: Mapping[str, Any],
    predictions: Mapping[str, tuple[np.ndarray, np.ndarray]],
) -> dict[str, Path]:
    """Writes report.json, report.md, roc.png, pr.png and calibration.png into ``out_dir``.

    ``predictions`` maps a model name to its (test labels, test probabilities) for the plots.
    Returns the paths under the keys json, markdown, roc, pr and calibration.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        "json": out_dir / "report.json",
        "markdown": out_dir / "report.md",
        "roc": out_dir / "roc.png",
        "pr": out_dir / "pr.png",
        "calibration": out_dir / "calibration.png",
    }
    paths["json"].write_text(
        json.dumps(summary, indent=2, sort_keys=True, default=_json_default) + "\n",
        encoding="utf-8",
    )
    _plot_roc(paths["roc"], predictions)
    _plot_pr(paths["pr"], predictions)
    _plot_calibration(paths["calibration"], predictions)
    paths["markdown"].write_text(markdown(summary, predictions), encoding="utf-8")
    return paths


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"summary: {type(value).__name__} is not JSON-serialisable")


# --- Markdown ---------------------------------------------------------------------------------


def _num(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return f"{float(value):.3f}"
    return _cell(value)


def _fact(value: Any) -> str:
    """A free-form fact: small floats keep their significant digits (a learning rate of 1e-4
    must not print as 0.000)."""
    if isinstance(value, float) and value != 0 and abs(value) < 0.001:
        return f"{value:.3g}"
    if isinstance(value, Mapping | list | tuple):
        return _cell(json.dumps(value, sort_keys=True, default=_json_default))
    return _num(value)


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _fpr_label(key: str) -> str:
    return f"{float(key) * 100:g}%"


def _headline_fpr(metrics: Mapping[str, Any]) -> str | None:
    keys = list((metrics.get("recall_at_fpr") or {}).keys())
    if not keys:
        return None
    return "0.01" if "0.01" in keys else keys[0]


def _metrics_table(models: Mapping[str, Mapping[str, Any]], which: str) -> list[str]:
    names = list(models)
    results = {name: models[name].get(which) or {} for name in names}
    fpr_keys: list[str] = []
    for m in results.values():
        fpr_keys += [k for k in m.get("recall_at_fpr") or {} if k not in fpr_keys]
    rows = [
        ["n", *(_num(results[n].get("n")) for n in names)],
        ["positives", *(_num(results[n].get("positives")) for n in names)],
        ["ROC-AUC", *(_num(results[n].get("roc_auc")) for n in names)],
        ["PR-AUC", *(_num(results[n].get("pr_auc")) for n in names)],
    ]
    for key in fpr_keys:
        label = f"recall @ {_fpr_label(key)} FPR"
        rows.append(
            [label, *(_num((results[n].get("recall_at_fpr") or {}).get(key)) for n in names)]
        )
    rows += [
        ["ECE", *(_num(results[n].get("ece")) for n in names)],
        ["Brier", *(_num(results[n].get("brier")) for n in names)],
        ["base rate", *(_num(results[n].get("base_rate")) for n in names)],
    ]
    return _table(["metric", *names], rows)


def _difference(a: float | None, b: float | None) -> str:
    return DASH if a is None or b is None else f"{a - b:+.3f}"


def _gnn_vs_baseline(models: Mapping[str, Mapping[str, Any]]) -> list[str]:
    if not {"gnn", "baseline"} <= set(models):
        return []
    g, b = models["gnn"].get("metrics") or {}, models["baseline"].get("metrics") or {}
    parts = [
        f"ROC-AUC {_difference(g.get('roc_auc'), b.get('roc_auc'))}",
        f"PR-AUC {_difference(g.get('pr_auc'), b.get('pr_auc'))}",
    ]
    key = _headline_fpr(g)
    if key is not None:
        recall = _difference(
            (g.get("recall_at_fpr") or {}).get(key), (b.get("recall_at_fpr") or {}).get(key)
        )
        parts.append(f"recall @ {_fpr_label(key)} FPR {recall}")
    parts += [
        f"ECE {_difference(g.get('ece'), b.get('ece'))}",
        f"Brier {_difference(g.get('brier'), b.get('brier'))}",
    ]
    return [
        f"**GNN vs baseline** (gnn minus baseline, test split): {', '.join(parts)}. "
        "Higher is better for ROC-AUC, PR-AUC and recall; lower for ECE and Brier.",
        "",
    ]


def _segment_tables(models: Mapping[str, Mapping[str, Any]]) -> list[str]:
    names = list(models)
    per_model = {n: (models[n].get("metrics") or {}).get("per_segment") or {} for n in names}
    segment_names: list[str] = []
    for segments in per_model.values():
        segment_names += [s for s in segments if s not in segment_names]
    if not segment_names:
        return ["No segments were evaluated.", ""]
    lines: list[str] = []
    for segment in segment_names:
        by_model = {n: per_model[n].get(segment) or {} for n in names}
        values = sorted({v for rows in by_model.values() for v in rows})
        headline = next(
            (k for n in names if (k := _headline_fpr(models[n].get("metrics") or {}))), None
        )
        recall_label = f"recall @ {_fpr_label(headline)} FPR" if headline else "recall"
        # n and positives are shared columns when every model saw the same rows (the usual case)
        shared = all(
            len({(r.get(v) or {}).get(k) for r in by_model.values() if v in r}) <= 1
            for v in values
            for k in ("n", "positives")
        )
        header = ["value"]
        if shared:
            header += ["n", "positives"]
        for n in names:
            header += ([] if shared else [f"{n} n", f"{n} positives"]) + [
                f"{n} ROC-AUC",
                f"{n} {recall_label}",
            ]
        rows = []
        for value in values:
            cells = {n: by_model[n].get(value) for n in names}
            row = [_cell(value)]
            if shared:
                first = next(c for c in cells.values() if c is not None)
                row += [_num(first.get("n")), _num(first.get("positives"))]
            for n in names:
                c = cells[n] or {}
                if not shared:
                    row += [_num(c.get("n")), _num(c.get("positives"))]
                recall = (c.get("recall_at_fpr") or {}).get(headline) if headline else None
                row += [_num(c.get("roc_auc")), _num(recall)]
            rows.append(row)
        lines += [f"### {_cell(segment)}", "", *_table(header, rows), ""]
    return lines


def _intervals(predictions: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> list[str]:
    facts = []
    for name, (y, prob) in predictions.items():
        try:
            low, high = bootstrap_ci(y, prob)
        except ValueError:
            continue
        facts.append(f"{name} [{low:.3f}, {high:.3f}]")
    if not facts:
        return []
    return [f"Test ROC-AUC 95% bootstrap interval (200 resamples): {'; '.join(facts)}.", ""]


def markdown(
    summary: Mapping[str, Any],
    predictions: Mapping[str, tuple[np.ndarray, np.ndarray]] | None = None,
) -> str:
    """The report as Markdown (images linked by relative path)."""
    models: Mapping[str, Mapping[str, Any]] = summary.get("models") or {}
    lines = [f"# {summary.get('title', 'Model evaluation report')}", ""]
    lines += ["## Data", ""]
    lines += [f"- {_cell(k)}: {_fact(v)}" for k, v in (summary.get("dataset") or {}).items()]
    split = summary.get("split") or {}
    lines += ["", "## Split", ""]
    lines += [f"- {_cell(k)}: {_fact(v)}" for k, v in split.items()]
    lines += ["", "## Overall metrics (test split)", "", *_metrics_table(models, "metrics"), ""]
    lines += _intervals(predictions or {})
    lines += _gnn_vs_baseline(models)
    if any(m.get("val_metrics") for m in models.values()):
        lines += ["## Validation metrics", "", *_metrics_table(models, "val_metrics"), ""]
    served = summary.get("served")
    if served is not None:
        reason = summary.get("served_reason")
        lines += ["## Served model", "", f"**{_cell(served)}**" + (f": {reason}" if reason else "")]
        lines += [""]
    lines += ["## Per segment (test split)", "", *_segment_tables(models)]
    lines += ["## Training", ""]
    for name, result in models.items():
        training = result.get("training") or {}
        lines += [f"### {_cell(name)}", ""]
        lines += [f"- {_cell(k)}: {_fact(v)}" for k, v in training.items()] or ["- (none)"]
        lines += [""]
    lines += [
        "## Plots",
        "",
        "![ROC](roc.png)",
        "",
        "![Precision-recall](pr.png)",
        "",
        "![Calibration](calibration.png)",
        "",
    ]
    return "\n".join(lines)


# --- plots ------------------------------------------------------------------------------------


def _figure(title: str, xlabel: str, ylabel: str) -> tuple[Any, Any]:
    # A bare Figure (not pyplot) saves PNG through Agg without touching the process's backend
    # (a notebook calling this keeps its own), and keeps no global state to close.
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGSIZE, dpi=DPI)
    axes = figure.add_subplot()
    axes.set(title=title, xlabel=xlabel, ylabel=ylabel, xlim=(0, 1), ylim=(0, 1.02))
    axes.grid(alpha=0.3)
    return figure, axes


def _save(figure: Any, axes: Any, path: Path) -> None:
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=DPI)


def _two_classes(y: np.ndarray) -> bool:
    return 0 < int(np.sum(y)) < len(y)


def _plot_roc(path: Path, predictions: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
    from sklearn.metrics import auc

    figure, axes = _figure("ROC (test split)", "false positive rate", "true positive rate")
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="chance")
    for name, (y, prob) in predictions.items():
        if not _two_classes(y):
            continue
        fpr, tpr, _ = roc_curve(y, prob)
        axes.plot(fpr, tpr, label=f"{name} (AUC {auc(fpr, tpr):.3f})")
    _save(figure, axes, path)


def _plot_pr(path: Path, predictions: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
    figure, axes = _figure("Precision-recall (test split)", "recall", "precision")
    base_rate = None
    for name, (y, prob) in predictions.items():
        if not _two_classes(y):
            continue
        base_rate = float(np.mean(y))
        precision, recall, _ = precision_recall_curve(y, prob)
        axes.step(recall, precision, where="post", label=name)
    if base_rate is not None:
        axes.axhline(base_rate, color="grey", linestyle="--", linewidth=1, label="base rate")
    _save(figure, axes, path)


def _plot_calibration(path: Path, predictions: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
    figure, axes = _figure("Reliability (test split)", "mean predicted", "observed rate")
    axes.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfect")
    for name, (y, prob) in predictions.items():
        mean_pred, observed, count = reliability(y, prob)
        full = count > 0
        axes.plot(mean_pred[full], observed[full], marker="o", label=name)
    _save(figure, axes, path)
