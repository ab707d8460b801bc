"""The model interface: every kind fits, scores, saves and loads the same way."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from graph.store import GraphStore
from ml.export import export_graph
from ml.models.booster import BoosterEstimator
from ml.models.estimator import MANIFEST_FILE, NotFitted
from ml.models.gnn import GNNEstimator
from ml.models.kinds import MODEL_KINDS, estimator_class, load_estimator
from ml.train import TrainConfig, fit_models, stratified_split, vouch_pairs

QUICK = TrainConfig(max_epochs=10, hidden=8, boost_iterations=30, progress=False)


@pytest.mark.parametrize("kind", sorted(MODEL_KINDS))
def test_every_kind_scores_the_same_after_save_and_load(
    kind: str, model_bank: GraphStore, tmp_path: Path
) -> None:
    export = export_graph(model_bank, progress=False)
    split = stratified_split(export.label, QUICK)
    model = estimator_class(kind)(QUICK).fit(export, split)
    model.save(tmp_path)
    loaded = load_estimator(tmp_path)
    assert type(loaded) is type(model) and loaded.kind == kind
    assert loaded.hops == model.hops and loaded.scores_pairs == model.scores_pairs
    known = export.known_labels(split.mask(export.num_customers))
    prob = loaded.predict_proba(export, known)
    assert np.array_equal(prob, model.predict_proba(export, known))
    assert ((prob > 0) & (prob < 1)).all()
    assert loaded.scores_pairs  # the model bank has enough vouches that ended badly
    customers, guarantors, _ = vouch_pairs(export)
    pairs = loaded.predict_pair_proba(export, known, customers, guarantors)
    assert np.array_equal(pairs, model.predict_pair_proba(export, known, customers, guarantors))


def test_a_saved_model_of_another_kind_is_refused(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_FILE).write_text(json.dumps({"kind": "gnn"}))
    with pytest.raises(ValueError, match="'gnn' model, not 'baseline'"):
        BoosterEstimator.load(tmp_path)


def test_an_unknown_model_kind_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown model 'forest' \(known: gnn, baseline\)"):
        fit_models(None, None, TrainConfig(models=("gnn", "forest")))  # type: ignore[arg-type]


@pytest.mark.parametrize("model", [GNNEstimator(), BoosterEstimator()], ids=lambda m: m.kind)
def test_an_unfitted_model_refuses_to_score_or_save(model, tmp_path: Path) -> None:
    assert not model.scores_pairs
    with pytest.raises(NotFitted):
        model.predict_proba(None, np.zeros(0))  # type: ignore[arg-type]
    with pytest.raises(NotFitted):
        model.save(tmp_path)
