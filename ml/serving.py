"""Serving: model versions saved and loaded, batch scoring into the graph, online scoring.

A version holds one trained model (the one that served best on validation) with its calibration,
feature spec and metrics (see `ml.registry` for the directory). `OnlineScorer` scores one
customer, or one (customer, guarantor) pair, from the neighbourhood it reads from the store at
request time, and says which relations and neighbours moved the score most.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from graph import queries as q
from graph.progress import Progress
from graph.store import GraphStore
from ml.export import RELATIONS, Edges, GraphExport, export_graph, export_neighbourhood
from ml.models.estimator import RiskEstimator
from ml.models.kinds import load_estimator
from ml.registry import ModelRegistry

RiskBands = Sequence[tuple[float, str]]
"""Named bands of a calibrated probability, as ascending (upper edge, name) pairs.

The policy owns them: `risk.policy.Policy.graph_risk_bands` ([customer.graph_risk] bands and
band_names of risk/policy.toml). ml may not import risk, so the caller passes them in."""


def band(probability: float, bands: RiskBands) -> str:
    """The name of the band holding `probability`: the first whose upper edge is above it; a
    probability at or beyond the top edge falls in the last band."""
    for upper, name in bands:
        if probability < upper:
            return name
    return bands[-1][1]


def manifest_for(fitted: RiskEstimator, export: GraphExport) -> dict[str, Any]:
    """What a version records besides its files (the trainer adds metrics and reports)."""
    return {
        **fitted.manifest(),
        "as_of": export.as_of,
        "data_fingerprint": export.fingerprint(),
    }


@dataclass
class LoadedModel:
    """A model version ready to score."""

    version: str
    manifest: dict[str, Any]
    fitted: RiskEstimator

    @property
    def hops(self) -> int:
        return int(self.manifest["feature_spec"]["hops"])

    @property
    def fanout(self) -> int:
        return int(self.manifest["feature_spec"]["fanout"])

    @property
    def attribute_names(self) -> tuple[str, ...]:
        return tuple(self.manifest["feature_spec"]["attribute_names"])


def load_version(registry: ModelRegistry, name: str) -> LoadedModel:
    """Loads a version after checking its files against the manifest's digests."""
    registry.verify(name)
    manifest = registry.show(name)
    return LoadedModel(name, manifest, load_estimator(registry.path(name)))


def load_promoted(registry: ModelRegistry) -> LoadedModel | None:
    """The promoted version, or None when no version is promoted."""
    name = registry.promoted()
    return None if name is None else load_version(registry, name)


def hide(known: np.ndarray, customers: Sequence[int] | np.ndarray) -> np.ndarray:
    """Known labels with the scored customers' own labels hidden (as in training)."""
    out = known.copy()
    out[np.asarray(customers, np.int64)] = -1
    return out


def batch_scores(model: LoadedModel, export: GraphExport, seed: int = 0) -> np.ndarray:
    """Every customer's calibrated probability. Own labels are hidden as in training: half the
    customers at a time, the other half's known labels visible."""
    known = export.known_labels()
    half = np.random.default_rng(seed).random(export.num_customers) < 0.5
    out = np.zeros(export.num_customers)
    for part in (half, ~half):
        out[part] = model.fitted.predict_proba(export, hide(known, np.flatnonzero(part)))[part]
    return out


def score_store(
    store: GraphStore,
    model: LoadedModel,
    as_of: int | None = None,
    batch_size: int = 5000,
    progress: bool = True,
    export: GraphExport | None = None,
    *,
    bands: RiskBands,
) -> dict[str, Any]:
    """Batch scoring: every customer's score, band and version written back to the graph.
    `export` is one just read (with the model's attributes) that need not be read again;
    `bands` names the bands (the policy's `graph_risk_bands`)."""
    started = time.monotonic()
    if export is None:
        export = export_graph(
            store, as_of, attribute_names=model.attribute_names, progress=progress
        )
    exported = time.monotonic()
    probs = batch_scores(model, export)
    scored = time.monotonic()
    now = int(time.time() * 1000)
    bar = Progress("write scores", total=export.num_customers, unit="customers", enabled=progress)
    for start in range(0, export.num_customers, batch_size):
        rows = [
            {
                "id": export.customer_ids[i],
                "risk": float(probs[i]),
                "band": band(float(probs[i]), bands),
            }
            for i in range(start, min(start + batch_size, export.num_customers))
        ]
        store.run(q.SET_GRAPH_RISK, {"rows": rows, "model": model.version, "now": now})
        bar.update(len(rows))
    bar.close()
    counts = {name: 0 for _, name in bands}
    for p in probs:
        counts[band(float(p), bands)] += 1
    return {
        "model": model.version,
        "customers": export.num_customers,
        "as_of": export.as_of,
        "bands": counts,
        "seconds": {
            "export": round(exported - started, 2),
            "score": round(scored - exported, 2),
            "write": round(time.monotonic() - scored, 2),
        },
    }


@dataclass(frozen=True)
class GraphRisk:
    """One online score: the calibrated probability, its version, and what drove it."""

    probability: float
    model_version: str
    evidence: Mapping[str, Any]


def _without(export: GraphExport, drop: Mapping[str, np.ndarray]) -> GraphExport:
    edges = dict(export.edges)
    for name, keep in drop.items():
        e = edges[name]
        edges[name] = Edges(e.src[keep], e.dst[keep], e.attr[keep])
    return dataclasses.replace(export, edges=edges)


def stack(exports: Sequence[GraphExport]) -> GraphExport:
    """Several exports as one graph of disjoint parts (one forward pass scores them all)."""
    first = exports[0]
    offsets = {"customer": 0, "phone": 0, "device": 0}
    edges: dict[str, list[Edges]] = {name: [] for name in first.edges}
    for e in exports:
        for name, part in e.edges.items():
            target = {"uses_phone": "phone", "uses_device": "device"}.get(name, "customer")
            edges[name].append(
                Edges(part.src + offsets["customer"], part.dst + offsets[target], part.attr)
            )
        offsets["customer"] += e.num_customers
        offsets["phone"] += len(e.phone_x)
        offsets["device"] += len(e.device_x)

    def cat(field: str) -> np.ndarray:
        return np.concatenate([getattr(e, field) for e in exports])

    return dataclasses.replace(
        first,
        customer_ids=[c for e in exports for c in e.customer_ids],
        x=cat("x"),
        label=cat("label"),
        label_ts=cat("label_ts"),
        label_kind=cat("label_kind"),
        status=cat("status"),
        phone_x=cat("phone_x"),
        device_x=cat("device_x"),
        edges={
            name: Edges(
                np.concatenate([p.src for p in parts]),
                np.concatenate([p.dst for p in parts]),
                np.concatenate([p.attr for p in parts]),
            )
            for name, parts in edges.items()
        },
    )


class OnlineScorer:
    """Scores customers and pairs in the request path from a capped neighbourhood read."""

    def __init__(self, store: GraphStore, model: LoadedModel, explain_top: int = 3) -> None:
        self.store, self.model, self.explain_top = store, model, explain_top

    @property
    def version(self) -> str:
        return self.model.version

    def _neighbourhood(self, seeds: Sequence[str], now: int) -> GraphExport:
        return export_neighbourhood(
            self.store,
            seeds,
            now,
            hops=self.model.hops,
            fanout=self.model.fanout,
            attribute_names=self.model.attribute_names,
        )

    def score_customer(self, customer_id: str, now: int) -> GraphRisk:
        export = self._neighbourhood([customer_id], now)
        fitted = self.model.fitted

        def predict(graph: GraphExport, known: np.ndarray, seeds: np.ndarray) -> np.ndarray:
            seeded: np.ndarray = fitted.predict_proba(graph, known)[seeds[:, 0]]
            return seeded

        return self._explained(export, predict)

    def score_pair(self, customer_id: str, guarantor_id: str, now: int) -> GraphRisk:
        """The risk that this guarantor's vouch for this customer ends badly; a model trained
        without vouch outcomes scores the guarantor alone, and the evidence says so."""
        if not self.model.fitted.scores_pairs:
            alone = self.score_customer(guarantor_id, now)
            return GraphRisk(
                alone.probability, alone.model_version, {**alone.evidence, "basis": "guarantor"}
            )
        export = self._neighbourhood([customer_id, guarantor_id], now)
        fitted = self.model.fitted

        def predict(graph: GraphExport, known: np.ndarray, seeds: np.ndarray) -> np.ndarray:
            return fitted.predict_pair_proba(graph, known, seeds[:, 0], seeds[:, 1])

        return self._explained(export, predict)

    def _explained(
        self,
        export: GraphExport,
        predict: Callable[[GraphExport, np.ndarray, np.ndarray], np.ndarray],
    ) -> GraphRisk:
        """The score, and by occlusion how much it falls without each relation type and
        without each near neighbour; all the variants are scored in one pass."""
        seeds = [int(s) for s in export.seeds]
        variants: list[tuple[str, Any]] = [("score", None)]
        for name, e in export.edges.items():
            if len(e):
                variants.append(("relation", name))
        near: set[int] = set()
        for name in RELATIONS:
            e = export.edges[name]
            for s in seeds:
                near.update(e.dst[e.src == s].tolist())
                near.update(e.src[e.dst == s].tolist())
        near.difference_update(seeds)
        variants += [("neighbour", i) for i in sorted(near)]
        graphs = []
        for kind, what in variants:
            if kind == "relation":
                graphs.append(_without(export, {what: np.zeros(len(export.edges[what]), bool)}))
            elif kind == "neighbour":
                graphs.append(
                    _without(
                        export,
                        {
                            n: (export.edges[n].src != what) & (export.edges[n].dst != what)
                            for n in RELATIONS
                        },
                    )
                )
            else:
                graphs.append(export)
        known = hide(export.known_labels(), seeds)
        n = export.num_customers
        offsets = np.arange(len(graphs))[:, None] * n
        scores = predict(stack(graphs), np.tile(known, len(graphs)), offsets + np.array(seeds))
        base = float(scores[0])
        relations = {}
        effects = []
        for (kind, what), value in zip(variants[1:], scores[1:], strict=True):
            if kind == "relation":
                relations[what] = round(base - float(value), 4)
            else:
                effects.append((base - float(value), what))
        effects.sort(reverse=True)
        neighbours = [
            {
                "customer_id": export.customer_ids[i],
                "relations": _relations_between(export, seeds, i),
                "known_fraud": bool(known[i] == 1),
                "contribution": round(float(effect), 4),
            }
            for effect, i in effects[: self.explain_top]
            if effect > 0
        ]
        evidence = {
            "relations": dict(sorted(relations.items(), key=lambda kv: -kv[1])),
            "neighbours": neighbours,
            "neighbourhood": {"customers": n, "fanout": self.model.fanout},
        }
        return GraphRisk(base, self.model.version, evidence)


def _relations_between(export: GraphExport, seeds: list[int], other: int) -> list[str]:
    found = []
    for name in RELATIONS:
        e = export.edges[name]
        for s in seeds:
            if np.any((e.src == s) & (e.dst == other)) or np.any((e.src == other) & (e.dst == s)):
                found.append(name)
                break
    return found
