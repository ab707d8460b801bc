"""Model inputs computed from an export: structural features, known labels, neighbour means.

Everything here works on a `GraphExport`, whole graph or a capped neighbourhood, so training and
online scoring compute features the same way. Counts come from the exported edges; since online
neighbourhoods are capped at `fanout` per relation and direction, every count is clipped at the
same cap in training too.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import sparse

from ml.export import RELATIONS, Edges, GraphExport

STRUCTURAL_FEATURES: tuple[str, ...] = (
    "log_kin",
    "log_social",
    "log_sent",
    "log_received",
    "log_vouches_given",
    "log_vouches_received",
    "log_bad_vouches_given",
    "log_bad_vouches_received",
    "log_rated_out",
    "log_rated_in",
    "ratings_in_mean",
    "ratings_in_min",
    "log_ratings_in_negative",
    "log_phones",
    "log_devices",
    "shared_phone_users",
    "shared_device_users",
    "abnormal_phone",
    "abnormal_contacts",
    "abnormal_apps",
    "log_known_fraud_neighbours",
    "known_fraud_share",
    "log_known_good_neighbours",
)
LABEL_INPUTS = ("label_unknown", "label_good", "label_fraud")


def _count(index: np.ndarray, n: int, cap: int, weights: np.ndarray | None = None) -> np.ndarray:
    return np.minimum(np.bincount(index, weights=weights, minlength=n), cap).astype(np.float64)


def undirected(export: GraphExport) -> tuple[np.ndarray, np.ndarray]:
    """Every customer-to-customer tie, both ways round (for neighbour aggregates)."""
    src = np.concatenate([export.edges[r].src for r in RELATIONS])
    dst = np.concatenate([export.edges[r].dst for r in RELATIONS])
    return np.concatenate([src, dst]), np.concatenate([dst, src])


def mask_vouch_outcomes(edges: Edges) -> Edges:
    """The vouching edges with every outcome hidden: what a pair model may see."""
    attr = np.zeros_like(edges.attr)
    if len(edges):
        attr[:, 2] = 1.0
    return Edges(edges.src, edges.dst, attr)


def structural(
    export: GraphExport, known: np.ndarray, cap: int, hide_vouch_outcomes: bool = False
) -> np.ndarray:
    """Per customer: relation counts, vouch and rating history, phones and devices, and how many
    neighbours carry a known label (`known`: -1 unknown, 0 good, 1 fraud)."""
    n = export.num_customers
    e = export.edges
    log = np.log1p
    vouched = mask_vouch_outcomes(e["vouched"]) if hide_vouch_outcomes else e["vouched"]
    bad = vouched.attr[:, 1] > 0 if len(vouched) else np.zeros(0, bool)
    rated = e["rated"]
    score = rated.attr[:, 0] if len(rated) else np.zeros(0, np.float32)
    rated_in = _count(rated.dst, n, cap)
    mean_in = np.bincount(rated.dst, weights=score, minlength=n) / np.maximum(
        np.bincount(rated.dst, minlength=n), 1
    )
    min_in = np.zeros(n)
    if len(rated):
        order = np.lexsort((score, rated.dst))
        first = np.unique(rated.dst[order], return_index=True)[1]
        min_in[rated.dst[order][first]] = score[order][first]
    kin_social = {
        r: _count(np.concatenate([e[r].src, e[r].dst]), n, cap) for r in ("kin", "social")
    }
    phones, devices = e["uses_phone"], e["uses_device"]
    phone_users = export.phone_x[phones.dst, 1] if len(phones) else np.zeros(0)
    device_users = export.device_x[devices.dst, 0] if len(devices) else np.zeros(0)
    src, dst = undirected(export)
    fraud = _count(src, n, cap, (known[dst] == 1).astype(np.float64))
    good = _count(src, n, cap, (known[dst] == 0).astype(np.float64))
    columns = [
        log(kin_social["kin"]),
        log(kin_social["social"]),
        log(_count(e["transferred"].src, n, cap)),
        log(_count(e["transferred"].dst, n, cap)),
        log(_count(vouched.src, n, cap)),
        log(_count(vouched.dst, n, cap)),
        log(_count(vouched.src[bad], n, cap)),
        log(_count(vouched.dst[bad], n, cap)),
        log(_count(rated.src, n, cap)),
        log(rated_in),
        mean_in,
        min_in,
        log(_count(rated.dst[score < 0], n, cap)),
        log(_count(phones.src, n, cap)),
        log(_count(devices.src, n, cap)),
        _max_by(phones.src, phone_users, n),
        _max_by(devices.src, device_users, n),
        _max_by(phones.src, export.phone_x[phones.dst, 0] if len(phones) else np.zeros(0), n),
        _max_by(phones.src, export.phone_x[phones.dst, 2] if len(phones) else np.zeros(0), n),
        _max_by(devices.src, export.device_x[devices.dst, 1] if len(devices) else np.zeros(0), n),
        log(fraud),
        fraud / np.maximum(fraud + good, 1),
        log(good),
    ]
    return np.stack(columns, axis=1).astype(np.float32)


def _max_by(index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n)
    if len(index):
        np.maximum.at(out, index, values)
    return out


def neighbour_mean(export: GraphExport, matrix: np.ndarray) -> np.ndarray:
    """Mean of each customer's neighbours' rows (zero without neighbours)."""
    src, dst = undirected(export)
    n = export.num_customers
    adjacency = sparse.csr_matrix((np.ones(len(src), np.float32), (src, dst)), shape=(n, n))
    count = np.asarray(adjacency.sum(axis=1)).ravel()
    mean: np.ndarray = (adjacency @ matrix / np.maximum(count, 1)[:, None]).astype(np.float32)
    return mean  # (scipy's product is untyped)


def label_inputs(known: np.ndarray) -> np.ndarray:
    """One-hot of a known label (unknown, good, fraud): the GNN's label input."""
    out = np.zeros((len(known), 3), np.float32)
    out[np.arange(len(known)), known.astype(np.int64) + 1] = 1.0
    return out


def _rank_within(groups: np.ndarray) -> np.ndarray:
    order = np.argsort(groups, kind="stable")
    sorted_groups = groups[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    position = np.arange(len(groups)) - np.repeat(starts, np.diff(np.r_[starts, len(groups)]))
    rank = np.empty(len(groups), np.int64)
    rank[order] = position
    return rank


def cap_fanout(export: GraphExport, fanout: int, seed: int = 0) -> GraphExport:
    """A copy whose relations keep at most `fanout` edges per customer and direction, picked at
    random: the neighbourhoods an online read sees, so training matches serving."""
    rng = np.random.default_rng(seed)
    edges = dict(export.edges)
    for name, e in export.edges.items():
        if not len(e):
            continue
        order = rng.permutation(len(e))
        src, dst, attr = e.src[order], e.dst[order], e.attr[order]
        keep = (_rank_within(src) < fanout) & (_rank_within(dst) < fanout)
        edges[name] = Edges(src[keep], dst[keep], attr[keep])
    return dataclasses.replace(export, edges=edges)
