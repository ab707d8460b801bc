"""The model kinds by name: what `TrainConfig.models` lists and a version's manifest records."""

from __future__ import annotations

import json
from pathlib import Path

from ml.models.booster import BoosterEstimator
from ml.models.estimator import MANIFEST_FILE, RiskEstimator
from ml.models.gnn import GNNEstimator

MODEL_KINDS: dict[str, type[RiskEstimator]] = {
    GNNEstimator.kind: GNNEstimator,
    BoosterEstimator.kind: BoosterEstimator,
}


def estimator_class(kind: str) -> type[RiskEstimator]:
    """The class of a model kind; a ValueError names the known kinds."""
    try:
        return MODEL_KINDS[kind]
    except KeyError:
        known = ", ".join(MODEL_KINDS)
        raise ValueError(f"models: unknown model {kind!r} (known: {known})") from None


def load_estimator(directory: Path) -> RiskEstimator:
    """The model saved in `directory`, of the kind its manifest records."""
    manifest = json.loads((Path(directory) / MANIFEST_FILE).read_text(encoding="utf-8"))
    return estimator_class(str(manifest.get("kind"))).load(directory)
