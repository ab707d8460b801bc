"""Training: one split, the GNN and the tabular baseline, calibration, and the same metrics.

`fit_models` trains both models on a `GraphExport` and a `Split` of its labelled customers;
each comes back as a `Fitted` that scores customers (and, when the graph has vouches with
known outcomes, (customer, guarantor) pairs) with calibrated probabilities.

Labels as inputs: a label known before `as_of` is a fact the bank has, and a neighbour's known
fraud is strong evidence. Only training labels are ever inputs; the GNN is trained with half of
them hidden each epoch and the loss on the hidden half (so a customer's own label never feeds
its own prediction), and the baseline counts known neighbours but never averages those counts
(a neighbour's count would include the customer itself).
"""

from __future__ import annotations

import copy
import io
import pickle
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier

from graph.progress import Progress
from ml.calibration import Calibration, choose_calibration
from ml.export import GraphExport
from ml.features import (
    STRUCTURAL_FEATURES,
    cap_fanout,
    label_inputs,
    neighbour_mean,
    structural,
)
from ml.gnn import GraphRiskModel, model_for, relations, to_heterodata
from ml.metrics import evaluate

LABEL_COLUMNS = 3  # the last structural columns count known-labelled neighbours


@dataclass(frozen=True)
class TrainConfig:
    """How to train; every field is recorded in the model version."""

    seed: int = 0
    hidden: int = 64
    layers: int = 2
    dropout: float = 0.2
    lr: float = 0.005
    weight_decay: float = 1e-4
    max_epochs: int = 300
    patience: int = 40  # epochs without a better validation score before stopping
    eval_every: int = 5
    time_budget_s: float | None = None  # stop the GNN's epochs (keeping the best) after this
    fanout: int = 10  # neighbours per customer, relation and direction (training = serving)
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    models: tuple[str, ...] = ("gnn", "baseline")
    boost_iterations: int = 300
    max_tabular_rows: int = 200_000  # negatives beyond this are sampled (and reweighted)
    progress: bool = True


@dataclass(frozen=True)
class Split:
    """Indices of labelled customers (or pairs) for training, validation and test."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    method: str = "stratified random"

    def mask(self, n: int, part: str = "train") -> np.ndarray:
        out = np.zeros(n, bool)
        out[getattr(self, part)] = True
        return out

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "val": len(self.val), "test": len(self.test)}


def stratified_split(labels: np.ndarray, config: TrainConfig) -> Split:
    """A seeded split of the items with a label (>= 0), stratified by label."""
    rng = np.random.default_rng(config.seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for value in (0, 1):
        items = rng.permutation(np.flatnonzero(labels == value))
        n_test = round(len(items) * config.test_fraction)
        n_val = round(len(items) * config.val_fraction)
        parts["test"].append(items[:n_test])
        parts["val"].append(items[n_test : n_test + n_val])
        parts["train"].append(items[n_test + n_val :])
    out = {k: np.sort(np.concatenate(v)).astype(np.int64) for k, v in parts.items()}
    if min(len(labels[out[k]][labels[out[k]] == 1]) for k in out) == 0:
        raise ValueError("too few positive labels to split into train, validation and test")
    return Split(out["train"], out["val"], out["test"])


def vouch_pairs(export: GraphExport) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vouches whose outcome was known by `as_of`: (customer, guarantor, ended badly)."""
    e = export.edges["vouched"]
    known = (e.attr[:, 0] + e.attr[:, 1]) > 0 if len(e) else np.zeros(0, bool)
    return e.dst[known], e.src[known], (e.attr[known, 1] > 0).astype(np.int8)


@dataclass
class Fitted:
    """A trained model of one kind, with its calibrations and what training recorded."""

    kind: str
    config: TrainConfig
    feature_names: tuple[str, ...]
    attribute_names: tuple[str, ...]
    calibration: Calibration
    pair_calibration: Calibration | None = None
    network: GraphRiskModel | None = None
    booster: HistGradientBoostingClassifier | None = None
    pair_booster: HistGradientBoostingClassifier | None = None
    training: dict[str, Any] = field(default_factory=dict)

    @property
    def scores_pairs(self) -> bool:
        return self.pair_calibration is not None

    def raw(self, export: GraphExport, known: np.ndarray) -> np.ndarray:
        """Uncalibrated scores (logits or log-odds) for every customer of the export."""
        if self.network is not None:
            self.network.eval()
            with torch.no_grad():
                data = to_heterodata(export, known)
                return self.network.customer_logits(self.network.encode(data)).numpy()
        matrix = tabular_matrix(export, known, self.config.fanout)
        return self.booster.decision_function(matrix)  # type: ignore[union-attr]

    def predict(self, export: GraphExport, known: np.ndarray) -> np.ndarray:
        return self.calibration.apply(self.raw(export, known))

    def raw_pairs(
        self, export: GraphExport, known: np.ndarray, customers: np.ndarray, guarantors: np.ndarray
    ) -> np.ndarray:
        if self.network is not None:
            self.network.eval()
            with torch.no_grad():
                data = to_heterodata(export, known, hide_vouch_outcomes=True)
                z = self.network.encode(data)
                c, g = torch.from_numpy(customers), torch.from_numpy(guarantors)
                return self.network.pair_logits(z, c, g).numpy()
        matrix = tabular_matrix(export, known, self.config.fanout, hide_vouch_outcomes=True)
        pairs = np.concatenate([matrix[customers], matrix[guarantors]], axis=1)
        return self.pair_booster.decision_function(pairs)  # type: ignore[union-attr]

    def predict_pairs(
        self, export: GraphExport, known: np.ndarray, customers: np.ndarray, guarantors: np.ndarray
    ) -> np.ndarray:
        if self.pair_calibration is None:
            raise ValueError("this model was trained without vouching outcomes: no pair scores")
        return self.pair_calibration.apply(self.raw_pairs(export, known, customers, guarantors))

    def weights(self) -> bytes:
        """The trained parameters as bytes (torch state or the pickled boosters)."""
        if self.network is not None:
            buffer = io.BytesIO()
            torch.save(self.network.state_dict(), buffer)
            return buffer.getvalue()
        return pickle.dumps({"customer": self.booster, "pair": self.pair_booster})


def tabular_matrix(
    export: GraphExport, known: np.ndarray, cap: int, hide_vouch_outcomes: bool = False
) -> np.ndarray:
    """The baseline's inputs: own and structural features, and neighbours' means of them
    (without the known-label counts, which would echo the customer's own label)."""
    own = np.concatenate([export.x, structural(export, known, cap, hide_vouch_outcomes)], axis=1)
    return np.concatenate([own, neighbour_mean(export, own[:, :-LABEL_COLUMNS])], axis=1)


def tabular_names(export: GraphExport) -> tuple[str, ...]:
    own = [*export.feature_names, *STRUCTURAL_FEATURES]
    return (*own, *(f"neighbours_mean_{n}" for n in own[:-LABEL_COLUMNS]))


def _class_weights(y: np.ndarray) -> np.ndarray:
    positives = max(int(y.sum()), 1)
    ratio = min((len(y) - positives) / positives, 50.0)
    return np.where(y == 1, ratio, 1.0)


def _sampled(rows: np.ndarray, y: np.ndarray, config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The training rows for the booster: every positive and, above `max_tabular_rows`, a
    seeded sample of the negatives, reweighted so the class balance is as in the full set."""
    weights = _class_weights(y[rows])
    negatives = rows[y[rows] == 0]
    room = config.max_tabular_rows - (len(rows) - len(negatives))
    if room <= 0 or len(negatives) <= room:
        return rows, weights
    keep = np.random.default_rng(config.seed).choice(negatives, room, replace=False)
    sampled = np.sort(np.concatenate([rows[y[rows] == 1], keep]))
    scale = len(negatives) / room
    return sampled, np.where(y[sampled] == 1, weights.max(), scale)


def _booster(config: TrainConfig) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        max_iter=config.boost_iterations,
        learning_rate=0.05,
        max_leaf_nodes=31,
        l2_regularization=1.0,
        early_stopping=True,
        validation_fraction=0.15,
        n_iter_no_change=30,
        random_state=config.seed,
    )


def fit_baseline(export: GraphExport, split: Split, config: TrainConfig) -> Fitted:
    """Gradient boosting on own and neighbourhood-aggregated features."""
    started = time.monotonic()
    known = export.known_labels(split.mask(export.num_customers))
    matrix = tabular_matrix(export, known, config.fanout)
    y = export.label
    rows, weights = _sampled(split.train, y, config)
    booster = _booster(config)
    booster.fit(matrix[rows], y[rows], sample_weight=weights)
    fitted = Fitted(
        "baseline",
        config,
        export.feature_names,
        export.attribute_names,
        choose_calibration(booster.decision_function(matrix[split.val]), y[split.val]),
        booster=booster,
    )
    customers, guarantors, bad = vouch_pairs(export)
    pair_split = _pair_split(bad, config)
    if pair_split is not None:
        hidden = tabular_matrix(export, known, config.fanout, hide_vouch_outcomes=True)
        pairs = np.concatenate([hidden[customers], hidden[guarantors]], axis=1)
        fitted.pair_booster = _booster(config)
        t = pair_split.train
        fitted.pair_booster.fit(pairs[t], bad[t], sample_weight=_class_weights(bad[t]))
        v = pair_split.val
        fitted.pair_calibration = choose_calibration(
            fitted.pair_booster.decision_function(pairs[v]), bad[v]
        )
    fitted.training = {
        "seconds": round(time.monotonic() - started, 2),
        "iterations": int(booster.n_iter_),
        "features": len(tabular_names(export)),
    }
    return fitted


def _pair_split(bad: np.ndarray, config: TrainConfig) -> Split | None:
    if int(bad.sum()) < 10 or int((bad == 0).sum()) < 10:
        return None
    return stratified_split(bad, config)


def fit_gnn(export: GraphExport, split: Split, config: TrainConfig) -> Fitted:
    """The relation-aware GNN, full graph, early-stopped on validation PR-AUC; then its pair
    head, on the embeddings of the graph with every vouch outcome hidden."""
    started = time.monotonic()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    capped = cap_fanout(export, config.fanout, config.seed)
    y = torch.from_numpy(capped.label.astype(np.float32))
    train_known = capped.known_labels(split.mask(capped.num_customers))
    data = to_heterodata(capped, train_known)
    graph = relations(data)
    model = model_for(data, config.hidden, config.layers, config.dropout)
    optimiser = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    pos_weight = torch.tensor(float(_class_weights(capped.label[split.train]).max()))
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    best = (-1.0, 0, copy.deepcopy(model.state_dict()))
    bar = Progress("train gnn", total=config.max_epochs, unit="epochs", enabled=config.progress)
    epoch = 0
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        # the label trick: half the training labels are inputs, the other half are targets
        hide = rng.random(len(split.train)) < 0.5
        known = train_known.copy()
        known[split.train[hide]] = -1
        data["customer"].label_input = _label_input(known)
        targets = torch.from_numpy(split.train[hide])
        logits = model.customer_logits(model.encode(data, graph))
        loss = loss_fn(logits[targets], y[targets])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        bar.update(1)
        if epoch % config.eval_every == 0:
            val = _gnn_logits(model, data, graph, train_known)[split.val]
            score = evaluate(capped.label[split.val], _sigmoid(val))["pr_auc"] or 0.0
            if score > best[0]:
                best = (score, epoch, copy.deepcopy(model.state_dict()))
            elif epoch - best[1] >= config.patience:
                break
        if config.time_budget_s is not None and time.monotonic() - started > config.time_budget_s:
            break
    bar.close()
    model.load_state_dict(best[2])
    val = _gnn_logits(model, data, graph, train_known)[split.val]
    fitted = Fitted(
        "gnn",
        config,
        capped.feature_names,
        capped.attribute_names,
        choose_calibration(val, capped.label[split.val]),
        network=model,
    )
    fitted.training = {
        "epochs": epoch,
        "best_epoch": best[1],
        "best_val_pr_auc": round(best[0], 4),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    # The pairs come from the uncapped export, as in the baseline and in `evaluate_models`: the
    # fan-out cap drops some vouches at random, and a split of a different list of pairs would
    # put pairs the head trained on into the test set.
    customers, guarantors, bad = vouch_pairs(export)
    pair_split = _pair_split(bad, config)
    if pair_split is not None:
        _fit_pair_head(fitted, capped, train_known, (customers, guarantors, bad), pair_split)
    fitted.training["seconds"] = round(time.monotonic() - started, 2)
    return fitted


def _gnn_logits(
    model: GraphRiskModel, data: Any, graph: dict[Any, Any], known: np.ndarray
) -> np.ndarray:
    model.eval()
    data["customer"].label_input = _label_input(known)
    with torch.no_grad():
        return model.customer_logits(model.encode(data, graph)).numpy()


def _fit_pair_head(
    fitted: Fitted,
    export: GraphExport,
    known: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray],
    split: Split,
    steps: int = 300,
) -> None:
    """Trains the pair head on frozen embeddings of the graph without vouch outcomes (the
    outcome being predicted is never an input), early-stopped on validation PR-AUC."""
    model, config = fitted.network, fitted.config
    assert model is not None
    customers, guarantors, bad = pairs
    model.eval()
    with torch.no_grad():
        z = model.encode(to_heterodata(export, known, hide_vouch_outcomes=True))
    c, g = torch.from_numpy(customers), torch.from_numpy(guarantors)
    target = torch.from_numpy(bad.astype(np.float32))
    t, v = torch.from_numpy(split.train), split.val
    head = model.pair_head
    optimiser = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss(
        pos_weight=torch.tensor(float(_class_weights(bad[split.train]).max()))
    )
    best = (-1.0, 0, copy.deepcopy(head.state_dict()))
    for step in range(1, steps + 1):
        head.train()
        loss = loss_fn(model.pair_logits(z, c[t], g[t]), target[t])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        if step % 10 == 0:
            head.eval()
            with torch.no_grad():
                raw = model.pair_logits(z, c, g).numpy()[v]
            score = evaluate(bad[v], _sigmoid(raw))["pr_auc"] or 0.0
            if score > best[0]:
                best = (score, step, copy.deepcopy(head.state_dict()))
            elif step - best[1] >= 100:
                break
    head.load_state_dict(best[2])
    head.eval()
    with torch.no_grad():
        raw = model.pair_logits(z, c, g).numpy()[v]
    fitted.pair_calibration = choose_calibration(raw, bad[v])
    fitted.training["pair_best_val_pr_auc"] = round(best[0], 4)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


def _label_input(known: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(label_inputs(known))


def fit_models(export: GraphExport, split: Split, config: TrainConfig) -> dict[str, Fitted]:
    """Every model the config names, on the same export and split."""
    makers = {"gnn": fit_gnn, "baseline": fit_baseline}
    unknown = [m for m in config.models if m not in makers]
    if unknown:
        raise ValueError(f"models: unknown model {unknown[0]!r} (known: gnn, baseline)")
    return {name: makers[name](export, split, config) for name in config.models}


def evaluate_models(
    export: GraphExport,
    split: Split,
    fitted: Mapping[str, Fitted],
) -> tuple[dict[str, Any], dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Metrics per model on validation and test (same code for all), and test predictions."""
    known = export.known_labels(split.mask(export.num_customers))
    segments = {k: v[split.test] for k, v in export.segments().items()}
    results: dict[str, Any] = {}
    predictions: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    customers, guarantors, bad = vouch_pairs(export)
    for name, model in fitted.items():
        prob = model.predict(export, known)
        y = export.label
        results[name] = {
            "metrics": evaluate(y[split.test], prob[split.test], segments),
            "val_metrics": evaluate(y[split.val], prob[split.val]),
            "training": model.training,
        }
        predictions[name] = (y[split.test], prob[split.test])
        pair_split = _pair_split(bad, model.config)
        if model.scores_pairs and pair_split is not None:
            t = pair_split.test
            pair_prob = model.predict_pairs(export, known, customers[t], guarantors[t])
            results[name]["pair_metrics"] = evaluate(bad[t], pair_prob)
    return results, predictions


def served_model(results: Mapping[str, Any]) -> tuple[str, str]:
    """The model to serve: the better validation PR-AUC (ROC-AUC breaks ties)."""

    def key(name: str) -> tuple[float, float]:
        m = results[name]["val_metrics"]
        return (m["pr_auc"] or 0.0, m["roc_auc"] or 0.0)

    best = max(results, key=key)
    facts = ", ".join(f"{n} {key(n)[0]:.3f}" for n in results)
    return best, f"higher validation PR-AUC ({facts})"
