"""The tabular baseline: gradient boosting on own and neighbourhood-aggregated features.

Its inputs are each customer's own and structural features and its neighbours' means of them.
Known labels enter as counts of known-labelled neighbours, never averaged (a neighbour's count
would include the customer itself). A second booster scores (customer, guarantor) pairs from
both rows of the graph with every vouch outcome hidden.
"""

from __future__ import annotations

import pickle
import time
from typing import Any, Self, cast

import numpy as np
import numpy.typing as npt
from sklearn.ensemble import HistGradientBoostingClassifier

from ml.calibration import choose_calibration
from ml.config import TrainConfig
from ml.export import GraphExport
from ml.features import STRUCTURAL_FEATURES, neighbour_mean, structural
from ml.models.estimator import NotFitted, RiskEstimator
from ml.split import Split, class_weights, pair_split, vouch_pairs

LABEL_COLUMNS = 3  # the last structural columns count known-labelled neighbours


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


def _sampled(rows: np.ndarray, y: np.ndarray, config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """The training rows for the booster: every positive and, above `max_tabular_rows`, a
    seeded sample of the negatives, reweighted so the class balance is as in the full set."""
    weights = class_weights(y[rows])
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


class BoosterEstimator(RiskEstimator):
    """Histogram gradient boosting (scikit-learn) for customers, and one for vouch pairs."""

    kind = "baseline"

    def __init__(self, config: TrainConfig | None = None) -> None:
        super().__init__(config)
        self.booster: HistGradientBoostingClassifier | None = None
        self.pair_booster: HistGradientBoostingClassifier | None = None

    @property
    def hops(self) -> int:
        return 1

    def fit(self, export: GraphExport, split: Split) -> Self:
        started = time.monotonic()
        config = self.config
        known = export.known_labels(split.mask(export.num_customers))
        matrix = tabular_matrix(export, known, config.fanout)
        y = export.label
        rows, weights = _sampled(split.train, y, config)
        booster = _booster(config)
        booster.fit(matrix[rows], y[rows], sample_weight=weights)
        self.booster = booster
        self.feature_names, self.attribute_names = export.feature_names, export.attribute_names
        self.calibration = choose_calibration(
            booster.decision_function(matrix[split.val]), y[split.val]
        )
        self.pair_booster, self.pair_calibration = None, None
        customers, guarantors, bad = vouch_pairs(export)
        pairs_split = pair_split(bad, config)
        if pairs_split is not None:
            hidden = tabular_matrix(export, known, config.fanout, hide_vouch_outcomes=True)
            pairs = np.concatenate([hidden[customers], hidden[guarantors]], axis=1)
            self.pair_booster = _booster(config)
            t = pairs_split.train
            self.pair_booster.fit(pairs[t], bad[t], sample_weight=class_weights(bad[t]))
            v = pairs_split.val
            self.pair_calibration = choose_calibration(
                self.pair_booster.decision_function(pairs[v]), bad[v]
            )
        self.training = {
            "seconds": round(time.monotonic() - started, 2),
            "iterations": int(booster.n_iter_),
            "features": len(tabular_names(export)),
        }
        return self

    def decision_function(self, export: GraphExport, known: np.ndarray) -> np.ndarray:
        if self.booster is None:
            raise NotFitted("this baseline model is not fitted")
        matrix = tabular_matrix(export, known, self.config.fanout)
        # (scikit-learn ships no type hints: decision_function is Any)
        return cast(npt.NDArray[np.float64], self.booster.decision_function(matrix))

    def pair_decision_function(
        self, export: GraphExport, known: np.ndarray, customers: np.ndarray, guarantors: np.ndarray
    ) -> np.ndarray:
        if self.pair_booster is None:
            raise NotFitted("this baseline model has no pair booster")
        matrix = tabular_matrix(export, known, self.config.fanout, hide_vouch_outcomes=True)
        pairs = np.concatenate([matrix[customers], matrix[guarantors]], axis=1)
        return cast(npt.NDArray[np.float64], self.pair_booster.decision_function(pairs))

    def _weights(self) -> bytes:
        if self.booster is None:
            raise NotFitted("this baseline model is not fitted")
        return pickle.dumps({"customer": self.booster, "pair": self.pair_booster})

    def _read_weights(self, raw: bytes, spec: dict[str, Any]) -> None:
        # Only files this project wrote are loaded; the registry checks their digests first.
        boosters = pickle.loads(raw)
        self.booster, self.pair_booster = boosters["customer"], boosters["pair"]
