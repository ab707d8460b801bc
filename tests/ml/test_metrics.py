"""The shared metric code and the calibrations, on small cases worked out by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ml.calibration import Calibration, choose_calibration, fit_isotonic, fit_platt, log_loss
from ml.metrics import bootstrap_ci, evaluate, pr_auc, recall_at_fpr, roc_auc


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


# --- metrics ----------------------------------------------------------------------------------


def test_perfect_ranking_scores_one_and_reversed_scores_zero() -> None:
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    assert roc_auc(y, p) == 1.0
    assert pr_auc(y, p) == 1.0
    assert roc_auc(y, 1.0 - p) == 0.0


def test_recall_at_fpr_is_the_most_recall_within_the_budget() -> None:
    # 10 negatives, 4 positives. Descending: P(.95) N(.9) P(.85) P(.8) N... P(.05).
    y = np.array([1, 0, 1, 1] + [0] * 9 + [1])
    p = np.array([0.95, 0.9, 0.85, 0.8] + [0.5 - 0.01 * i for i in range(9)] + [0.05])
    recall = recall_at_fpr(y, p, fprs=(0.05, 0.1, 0.2, 1.0))
    # FPR 0.05 allows no false positive: only the top positive -> 1/4.
    # FPR 0.1 allows one: the threshold 0.8 catches 3 of 4 positives.
    # FPR 0.2 allows two: still 3/4 (the last positive sits below every negative).
    assert recall == {"0.05": 0.25, "0.1": 0.75, "0.2": 0.75, "1": 1.0}


def test_evaluate_reports_every_metric_as_json() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 200)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, 200), 0, 1)
    result = evaluate(y, p)
    json.dumps(result, allow_nan=False)
    assert result["n"] == 200 and result["positives"] == int(y.sum())
    assert set(result["recall_at_fpr"]) == {"0.001", "0.01", "0.05", "0.1"}
    assert result["base_rate"] == pytest.approx(y.mean())
    assert result["brier"] == pytest.approx(np.mean((p - y) ** 2))
    assert 0.5 < result["roc_auc"] <= 1.0
    assert result["per_segment"] == {}


def test_ece_of_perfectly_calibrated_bins_is_zero() -> None:
    # In each bin the predicted probability equals the observed rate.
    y = np.array([0, 0, 0, 1] * 5 + [1, 1, 1, 0] * 5)
    p = np.array([0.25] * 20 + [0.75] * 20)
    assert evaluate(y, p)["ece"] == pytest.approx(0.0, abs=1e-12)


def test_ece_of_miscalibrated_bins_is_the_weighted_gap() -> None:
    # 10 rows predicted 0.9 but 50% positive (gap 0.4); 30 rows predicted 0.1, 0% positive
    # (gap 0.1). ECE = (10 * 0.4 + 30 * 0.1) / 40 = 0.175.
    y = np.array([1] * 5 + [0] * 5 + [0] * 30)
    p = np.array([0.9] * 10 + [0.1] * 30)
    assert evaluate(y, p)["ece"] == pytest.approx(0.175)


def test_a_single_class_segment_has_undefined_ranking_metrics() -> None:
    y = np.array([0, 1, 0, 1, 0, 0])
    p = np.array([0.2, 0.7, 0.4, 0.6, 0.1, 0.3])
    segments = {"status": np.array(["active", "active", "active", "active", "closed", "closed"])}
    per = evaluate(y, p, segments)["per_segment"]["status"]
    assert per["active"]["roc_auc"] == 1.0 and per["active"]["n"] == 4
    closed = per["closed"]
    assert closed["n"] == 2 and closed["positives"] == 0
    assert closed["roc_auc"] is None and closed["pr_auc"] is None
    assert set(closed["recall_at_fpr"].values()) == {None}


def test_segment_values_are_keyed_as_strings() -> None:
    y = np.array([0, 1, 0, 1])
    p = np.array([0.1, 0.9, 0.2, 0.8])
    per = evaluate(y, p, {"hops": np.array([1, 1, 2, 2])})["per_segment"]["hops"]
    assert set(per) == {"1", "2"}


@pytest.mark.parametrize(
    ("y", "p", "segments", "argument"),
    [
        ([0, 1, 1], [0.1, 0.2], None, "prob"),
        ([0, 2, 1], [0.1, 0.2, 0.3], None, "y_true"),
        ([0, 1, 1], [0.1, float("nan"), 0.3], None, "prob"),
        ([0, 1, 1], [0.1, 1.5, 0.3], None, "prob"),
        ([0, 1, 1], [0.1, 0.2, 0.3], {"status": np.array(["a", "b"])}, "segments"),
    ],
)
def test_bad_input_names_the_argument(y: list, p: list, segments: dict, argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        evaluate(np.array(y), np.array(p), segments)


def test_bootstrap_interval_brackets_the_point_estimate() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 300)
    p = np.clip(0.2 * y + rng.uniform(0, 0.8, 300), 0, 1)
    low, high = bootstrap_ci(y, p, n=100)
    assert low < roc_auc(y, p) < high
    with pytest.raises(ValueError, match="y_true"):
        bootstrap_ci(np.zeros(10, int), np.full(10, 0.5), n=10)


# --- calibration ------------------------------------------------------------------------------


def test_platt_recovers_a_known_sigmoid() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(0, 2, 20_000)
    y = (rng.uniform(size=scores.size) < _sigmoid(0.5 * scores - 1.0)).astype(int)
    calibration = fit_platt(scores, y)
    assert calibration.method == "platt"
    assert calibration.params["a"] == pytest.approx(0.5, abs=0.05)
    assert calibration.params["b"] == pytest.approx(-1.0, abs=0.08)


def test_platt_stays_finite_on_separable_scores() -> None:
    calibration = fit_platt(np.array([-2.0, -1.0, 1.0, 2.0]), np.array([0, 0, 1, 1]))
    prob = calibration.apply(np.array([-2.0, 2.0]))
    assert np.isfinite(calibration.params["a"]) and prob[0] < 0.5 < prob[1]


def test_isotonic_is_monotone_and_bounded() -> None:
    rng = np.random.default_rng(4)
    scores = rng.normal(0, 1, 2000)
    y = (rng.uniform(size=scores.size) < _sigmoid(2 * scores)).astype(int)
    calibration = fit_isotonic(scores, y)
    prob = calibration.apply(np.linspace(-5, 5, 500))
    assert np.all(np.diff(prob) >= 0)
    assert prob.min() >= 1e-6 and prob.max() <= 1 - 1e-6
    assert prob[0] < 0.1 and prob[-1] > 0.9


@pytest.mark.parametrize("fitter", [fit_platt, fit_isotonic])
def test_calibration_round_trips_through_json_exactly(fitter: object) -> None:
    rng = np.random.default_rng(5)
    scores = rng.normal(0, 1, 500)
    y = (rng.uniform(size=scores.size) < _sigmoid(scores)).astype(int)
    calibration = fitter(scores, y)  # type: ignore[operator]
    restored = Calibration.from_dict(json.loads(json.dumps(calibration.to_dict())))
    probe = np.linspace(-4, 4, 101)
    assert restored == calibration
    assert np.array_equal(restored.apply(probe), calibration.apply(probe))
    assert calibration.apply(probe).dtype == np.float64


def test_fitting_on_one_class_is_refused() -> None:
    with pytest.raises(ValueError, match="both classes"):
        fit_platt(np.array([0.1, 0.2, 0.3]), np.array([1, 1, 1]))
    with pytest.raises(ValueError, match="both classes"):
        choose_calibration(np.array([0.1, 0.2]), np.array([0, 0]))


def test_chosen_calibration_beats_the_raw_sigmoid_on_miscalibrated_scores() -> None:
    rng = np.random.default_rng(6)
    true_logit = rng.normal(-2, 1.5, 4000)
    y = (rng.uniform(size=true_logit.size) < _sigmoid(true_logit)).astype(int)
    scores = 3.0 * true_logit + 4.0  # overconfident and shifted
    calibration = choose_calibration(scores, y)
    assert log_loss(y, calibration.apply(scores)) < log_loss(y, _sigmoid(scores)) - 0.1


def test_few_positives_default_to_platt() -> None:
    rng = np.random.default_rng(7)
    scores = rng.normal(0, 1, 400)
    y = np.zeros(400, int)
    y[np.argsort(scores)[-30:]] = 1  # 30 positives, perfectly ranked: isotonic would "win"
    assert choose_calibration(scores, y).method == "platt"


def test_isotonic_is_chosen_when_the_shape_is_not_a_sigmoid() -> None:
    rng = np.random.default_rng(8)
    scores = rng.uniform(-3, 3, 6000)
    # a step: risk jumps from 5% to 60% at score 1, which no sigmoid of the score fits well
    y = (rng.uniform(size=scores.size) < np.where(scores > 1, 0.6, 0.05)).astype(int)
    assert choose_calibration(scores, y).method == "isotonic"
