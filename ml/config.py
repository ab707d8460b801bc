"""How a model is trained: the one configuration every model kind and the split read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


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

    @classmethod
    def from_dict(cls, recorded: dict[str, Any]) -> TrainConfig:
        """The config a version's manifest recorded (JSON turned its tuples into lists)."""
        fields: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items()
        }
        return cls(**fields)
