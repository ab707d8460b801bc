"""Public labelled graphs written as source folders (docs/data-format.md), for the benchmarks.

The files are read as published in `../shared/datasets/` (its README.md describes them); each
writer turns one data set into the CSV files `vouchgraph load` reads, so the benchmarks take
the same path into the store as a bank's own data. The data sets know nothing of a bank: the
customer fields they lack are filled with neutral placeholders, the same for everyone (see each
writer), so they carry no signal.

- `write_tolokers`: Tolokers (Platonov et al., ICLR 2023) -> customers, relations (SOCIAL
  colleague), attributes (the 10 node features), labels; the 10 fixed splits come back as masks.
- `write_bitcoin`: Bitcoin OTC / Alpha (Kumar et al., ICDM 2016; WSDM 2018) -> customers,
  ratings, labels.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

DATASETS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

# Neutral placeholders for the customer fields the data sets do not have.
BIRTH_DATE = "1990-01-01"
GENDER = "X"
STATUS = "active"
TOLOKERS_OPENED_AT = "2020-01-01"
TOLOKERS_LABEL_TS = "2023-01-01"  # the data set has no times: one for every label

# The columns of `node_features` in tolokers.npz, named as in nodes.tsv (its `education` column
# one-hot encoded in the order none, basic, middle, high; checked against nodes.tsv on reading).
EDUCATION = ("none", "basic", "middle", "high")
TOLOKERS_FEATURES = (
    "approved_rate",
    "skipped_rate",
    "expired_rate",
    "rejected_rate",
    *(f"education_{level}" for level in EDUCATION),
    "english_profile",
    "english_tested",
)


class DatasetMissing(FileNotFoundError):
    """A published file the writer needs is not there (callers skip the data set)."""


@dataclass(frozen=True)
class TolokersMeta:
    """What the benchmark needs besides the graph: node order, labels and the fixed splits."""

    customer_ids: tuple[str, ...]  # customer id of node i, in node order
    labels: np.ndarray  # int8 (N,): 1 banned, 0 not
    train_masks: np.ndarray  # bool (10, N)
    val_masks: np.ndarray  # bool (10, N)
    test_masks: np.ndarray  # bool (10, N)
    edges: int  # undirected edges written (once each)


@dataclass(frozen=True)
class BitcoinMeta:
    """The labelled users of a Bitcoin network and what was dropped on the way."""

    customer_ids: tuple[str, ...]  # labelled users, in the ground-truth file's order
    labels: np.ndarray  # int8, same order: 1 fraudulent (-1 in the file), 0 benign (+1)
    users: int  # customers written (everyone who rated, was rated or is labelled)
    ratings: int  # rating rows written
    duplicate_ratings_dropped: int  # extra ratings of an ordered pair (the latest is kept)
    self_ratings_dropped: int  # a user rating themself (the format refuses it)
    duplicate_label_rows_dropped: int  # repeated rows of the ground-truth file


def _need(path: Path) -> Path:
    if not path.is_file():
        raise DatasetMissing(f"{path}: not found (see {DATASETS_DIR / 'README.md'})")
    return path


def _write_csv(path: Path, columns: dict[str, pa.Array | np.ndarray | list[str]]) -> None:
    table = pa.table({name: pa.array(values, pa.string()) for name, values in columns.items()})
    # No value written here holds a comma, quote or newline: pyarrow refuses rather than corrupts.
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))


def _repeat(value: str, n: int) -> pa.Array:
    return pa.array([value], pa.string()).take(np.zeros(n, np.int64))


def _customers(
    out_dir: Path, ids: pa.Array, names: np.ndarray, id_numbers: np.ndarray, opened_at: pa.Array
) -> None:
    n = len(ids)
    _write_csv(
        out_dir / "customers.csv",
        {
            "customer_id": ids,
            "name": names,
            "id_number": id_numbers,
            "gender": _repeat(GENDER, n),
            "birth_date": _repeat(BIRTH_DATE, n),
            "opened_at": opened_at,
            "status": _repeat(STATUS, n),
        },
    )


def _labels(out_dir: Path, ids: pa.Array, labels: np.ndarray, ts: pa.Array) -> None:
    _write_csv(
        out_dir / "labels.csv",
        {
            "customer_id": ids,
            "label": pa.array(labels.astype(str)),
            "kind": pa.array(np.where(labels == 1, "fraud", "none")),
            "ts": ts,
        },
    )


def _iso_times(unix_seconds: np.ndarray) -> np.ndarray:
    """UTC ISO 8601 times, to the millisecond where the input has fractions of a second."""
    ms = np.round(np.asarray(unix_seconds, np.float64) * 1000).astype(np.int64)
    unit = "s" if np.all(ms % 1000 == 0) else "ms"
    text = np.datetime_as_string(ms.astype("datetime64[ms]"), unit=unit)
    return np.char.add(text, "Z")


def write_tolokers(dataset_dir: Path, out_dir: Path) -> TolokersMeta:
    """Tolokers (`tolokers.npz`, `nodes.tsv` in `dataset_dir`) as a source folder in `out_dir`.

    - customers: worker i is customer `t{i}`, with placeholders for what a bank would know:
      name `worker {i}`, id_number `TOL{i}`, gender `X`, birth date 1990-01-01, opened
      2020-01-01, status `active`;
    - relations: each of the 519,000 undirected edges once, as given (SOCIAL, kind `colleague`,
      source `bank`, no date); models read SOCIAL ties in both directions;
    - attributes: the 10 node features (`TOLOKERS_FEATURES`), without a date;
    - labels: banned -> 1 (`fraud`), else 0 (`none`), all known on 2023-01-01.
    """
    npz_path = _need(dataset_dir / "tolokers.npz")
    nodes = pd.read_csv(_need(dataset_dir / "nodes.tsv"), sep="\t")
    out_dir.mkdir(parents=True, exist_ok=True)
    with np.load(npz_path) as data:
        features = np.asarray(data["node_features"], np.float32)
        labels = np.asarray(data["node_labels"]).astype(np.int8)
        edges = np.asarray(data["edges"], np.int64)
        masks = [np.asarray(data[k], bool) for k in ("train_masks", "val_masks", "test_masks")]
    n = len(features)
    one_hot = features[:, 4:8].argmax(axis=1)
    readable = nodes["education"].to_numpy(dtype=str)
    if (
        len(nodes) != n
        or not np.array_equal(nodes["id"].to_numpy(), np.arange(n))
        or not np.array_equal(np.array(EDUCATION)[one_hot], readable)
        or not np.array_equal(nodes["banned"].to_numpy(), labels)
    ):
        raise ValueError(f"{dataset_dir}: nodes.tsv and tolokers.npz disagree")
    index = np.arange(n).astype(str)
    ids = pa.array(np.char.add("t", index))
    _customers(
        out_dir,
        ids,
        np.char.add("worker ", index),
        np.char.add("TOL", index),
        _repeat(TOLOKERS_OPENED_AT, n),
    )
    m = len(edges)
    _write_csv(
        out_dir / "relations.csv",
        {
            "src_id": ids.take(edges[:, 0]),
            "dst_id": ids.take(edges[:, 1]),
            "category": _repeat("SOCIAL", m),
            "kind": _repeat("colleague", m),
            "source": _repeat("bank", m),
        },
    )
    # The shortest decimal that reads back as the same float32: what nodes.tsv prints.
    values = [np.format_float_positional(v, unique=True, trim="-") for v in features.ravel()]
    _write_csv(
        out_dir / "attributes.csv",
        {
            "customer_id": ids.take(np.repeat(np.arange(n), len(TOLOKERS_FEATURES))),
            "name": pa.array(list(TOLOKERS_FEATURES) * n),
            "value": values,
        },
    )
    _labels(out_dir, ids, labels, _repeat(TOLOKERS_LABEL_TS, n))
    return TolokersMeta(
        customer_ids=tuple(ids.to_pylist()),
        labels=labels,
        train_masks=masks[0],
        val_masks=masks[1],
        test_masks=masks[2],
        edges=m,
    )


def write_bitcoin(dataset_dir: Path, name: Literal["otc", "alpha"], out_dir: Path) -> BitcoinMeta:
    """Bitcoin OTC or Alpha (`{name}_network.csv`, `{name}_gt.csv`) as a source folder.

    - customers: user u is customer `{name}{u}` (`otc7188`), with placeholders: name
      `user {u}`, id_number `OTC{u}`, gender `X`, birth date 1990-01-01, status `active`;
      opened at the user's first rating, given or received;
    - ratings: score = rating / 10 (-1 to 1), ts from the unix time (to the millisecond: OTC's
      times have fractions of a second); of several ratings of one ordered pair the latest is
      kept, a self-rating is dropped (neither occurs in the published files: counted in the
      meta);
    - labels: the ground truth with repeated rows dropped; -1 (fraudulent) -> 1 (`fraud`),
      +1 -> 0 (`none`); all known at the time of the last rating in the network.
    """
    if name not in ("otc", "alpha"):
        raise ValueError(f"name must be 'otc' or 'alpha', not {name!r}")
    ratings = pd.read_csv(
        _need(dataset_dir / f"{name}_network.csv"),
        header=None,
        names=["source", "target", "rating", "unix_time"],
        dtype={"source": np.int64, "target": np.int64, "rating": np.int64, "unix_time": float},
    )
    truth = pd.read_csv(
        _need(dataset_dir / f"{name}_gt.csv"),
        header=None,
        names=["user", "label"],
        dtype={"user": np.int64, "label": np.int64},
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    own = ratings["source"] == ratings["target"]
    ratings = ratings[~own]
    latest = ratings.sort_values("unix_time", kind="stable").drop_duplicates(
        ["source", "target"], keep="last"
    )
    duplicates = len(ratings) - len(latest)
    ratings = ratings.loc[latest.index.sort_values()]  # file order, one row per pair

    labelled = truth.drop_duplicates()
    if labelled["user"].duplicated().any():
        raise ValueError(f"{dataset_dir / f'{name}_gt.csv'}: a user with two different labels")
    if not labelled["label"].isin([-1, 1]).all():
        raise ValueError(f"{dataset_dir / f'{name}_gt.csv'}: a label other than -1 or +1")

    first = (
        pd.concat(
            [
                ratings[["source", "unix_time"]].rename(columns={"source": "user"}),
                ratings[["target", "unix_time"]].rename(columns={"target": "user"}),
            ]
        )
        .groupby("user")["unix_time"]
        .min()
    )
    users = np.union1d(first.index.to_numpy(), labelled["user"].to_numpy())
    opened = first.reindex(users).fillna(ratings["unix_time"].min()).to_numpy()
    user_text = users.astype(str)
    _customers(
        out_dir,
        pa.array(np.char.add(name, user_text)),
        np.char.add("user ", user_text),
        np.char.add(name.upper(), user_text),
        pa.array(_iso_times(opened)),
    )
    _write_csv(
        out_dir / "ratings.csv",
        {
            "src_id": np.char.add(name, ratings["source"].to_numpy().astype(str)),
            "dst_id": np.char.add(name, ratings["target"].to_numpy().astype(str)),
            "score": (ratings["rating"].to_numpy() / 10).round(1).astype(str),
            "ts": _iso_times(ratings["unix_time"].to_numpy()),
        },
    )
    label_ids = np.char.add(name, labelled["user"].to_numpy().astype(str))
    fraud = (labelled["label"].to_numpy() == -1).astype(np.int8)
    label_ts = _iso_times(np.array([ratings["unix_time"].max()]))[0]
    _labels(out_dir, pa.array(label_ids), fraud, _repeat(str(label_ts), len(labelled)))
    return BitcoinMeta(
        customer_ids=tuple(label_ids.tolist()),
        labels=fraud,
        users=len(users),
        ratings=len(ratings),
        duplicate_ratings_dropped=duplicates,
        self_ratings_dropped=int(own.sum()),
        duplicate_label_rows_dropped=len(truth) - len(labelled),
    )
