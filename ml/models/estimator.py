"""The one interface every model kind offers: fit, customer and pair probabilities, save, load.

Training, evaluation, the model registry and serving use only this interface, so the GNN and the
tabular baseline are interchangeable behind it (`ml.models.kinds` names the kinds). A model
scores from a `GraphExport` and the labels known as inputs (`known`: -1 unknown, 0 good,
1 fraud): the online explanation scores occluded copies of a neighbourhood the same way, so it
needs nothing else of a model.

A saved model is a directory: ``manifest.json`` (what `manifest()` returns: the kind, the feature
spec, the calibrations, the train config, what training recorded) and ``weights.bin``. In the
model registry a version's own manifest is a superset of it, so `load` reads a version's
directory as it is, including versions written before this interface.
"""

from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np

from ml.calibration import Calibration
from ml.config import TrainConfig
from ml.export import RELATIONS, GraphExport
from ml.split import Split

MANIFEST_FILE = "manifest.json"
WEIGHTS_FILE = "weights.bin"


class NotFitted(ValueError):
    """A model was asked to score or save before it was fitted or loaded."""


class RiskEstimator(ABC):
    """A model of one kind: raw scores from the subclass, calibrated into probabilities here.

    `scores_pairs` is the capability to score (customer, guarantor) pairs: false when the model
    was trained on a graph with too few vouch outcomes for a pair head, and then
    `predict_pair_proba` refuses. `hops` is how deep a neighbourhood serving must read.
    """

    kind: ClassVar[str]

    def __init__(self, config: TrainConfig | None = None) -> None:
        self.config = config or TrainConfig()
        self.feature_names: tuple[str, ...] = ()
        self.attribute_names: tuple[str, ...] = ()
        self.calibration: Calibration | None = None
        self.pair_calibration: Calibration | None = None
        self.training: dict[str, Any] = {}

    @abstractmethod
    def fit(self, export: GraphExport, split: Split) -> Self:
        """Trains on the export's customers in `split.train` (and its vouches with known
        outcomes), calibrating on `split.val`; returns the fitted model."""

    @abstractmethod
    def decision_function(self, export: GraphExport, known: np.ndarray) -> np.ndarray:
        """Uncalibrated scores (logits or log-odds) for every customer of the export."""

    @abstractmethod
    def pair_decision_function(
        self, export: GraphExport, known: np.ndarray, customers: np.ndarray, guarantors: np.ndarray
    ) -> np.ndarray:
        """Uncalibrated scores for (customer, guarantor) pairs, given as customer indices."""

    @property
    @abstractmethod
    def hops(self) -> int:
        """How many hops of neighbourhood a customer's score depends on."""

    @abstractmethod
    def _weights(self) -> bytes:
        """The trained parameters as the bytes of ``weights.bin``."""

    @abstractmethod
    def _read_weights(self, raw: bytes, spec: dict[str, Any]) -> None:
        """Restores the trained parameters from ``weights.bin`` and the manifest's feature spec."""

    def _spec(self) -> dict[str, Any]:
        """What the kind adds to the feature spec (its architecture, say)."""
        return {}

    @property
    def scores_pairs(self) -> bool:
        return self.pair_calibration is not None

    def predict_proba(self, export: GraphExport, known: np.ndarray) -> np.ndarray:
        """Every customer's calibrated probability of fraud."""
        if self.calibration is None:
            raise NotFitted(f"this {self.kind} model is not fitted")
        return self.calibration.apply(self.decision_function(export, known))

    def predict_pair_proba(
        self, export: GraphExport, known: np.ndarray, customers: np.ndarray, guarantors: np.ndarray
    ) -> np.ndarray:
        """The calibrated probability that each guarantor's vouch for its customer ends badly."""
        if self.pair_calibration is None:
            raise ValueError("this model was trained without vouching outcomes: no pair scores")
        return self.pair_calibration.apply(
            self.pair_decision_function(export, known, customers, guarantors)
        )

    def manifest(self) -> dict[str, Any]:
        """What a saved model records about itself (the version's manifest holds it too)."""
        if self.calibration is None:
            raise NotFitted(f"this {self.kind} model is not fitted")
        spec: dict[str, Any] = {
            "customer_features": list(self.feature_names),
            "attribute_names": list(self.attribute_names),
            "relations": {name: list(attrs) for name, attrs in RELATIONS.items()},
            "fanout": self.config.fanout,
            "hops": self.hops,
            **self._spec(),
        }
        return {
            "kind": self.kind,
            "feature_spec": spec,
            "calibration": self.calibration.to_dict(),
            "pair_calibration": (
                self.pair_calibration.to_dict() if self.pair_calibration is not None else None
            ),
            "train_config": dataclasses.asdict(self.config),
            "training": self.training,
        }

    def save(self, directory: Path) -> None:
        """Writes ``manifest.json`` and ``weights.bin`` into `directory` (created if need be)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        text = json.dumps(self.manifest(), indent=2, sort_keys=True, allow_nan=False)
        (directory / MANIFEST_FILE).write_text(text + "\n", encoding="utf-8")
        (directory / WEIGHTS_FILE).write_bytes(self._weights())

    @classmethod
    def load(cls, directory: Path) -> Self:
        """The model saved in `directory` (a model registry version's directory too). Files are
        trusted: the registry checks a version's digests before serving loads it."""
        directory = Path(directory)
        manifest = json.loads((directory / MANIFEST_FILE).read_text(encoding="utf-8"))
        if manifest.get("kind") != cls.kind:
            raise ValueError(f"{directory}: a {manifest.get('kind')!r} model, not {cls.kind!r}")
        spec = manifest["feature_spec"]
        model = cls(TrainConfig.from_dict(manifest["train_config"]))
        model.feature_names = tuple(spec["customer_features"])
        model.attribute_names = tuple(spec["attribute_names"])
        model.calibration = Calibration.from_dict(manifest["calibration"])
        pair = manifest.get("pair_calibration")
        model.pair_calibration = Calibration.from_dict(pair) if pair else None
        model.training = manifest.get("training", {})
        model._read_weights((directory / WEIGHTS_FILE).read_bytes(), spec)
        return model
