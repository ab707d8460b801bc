"""Raw transfers -> one aggregate per ordered pair, plus each customer's recent movement.

Columns are kept as compact arrays (not one dict per transfer) so that millions of transfers
aggregate in seconds and a few hundred MB.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.vocab import DAY_MS

WINDOW_DAYS = 180
SHORT_WINDOW_DAYS = 30


class TransferAggregate:
    """Accumulates validated transfer rows; yields pair aggregates and movement statistics."""

    def __init__(self) -> None:
        self._index: dict[str, int] = {}
        self.ids: list[str] = []
        self._src, self._dst = array("q"), array("q")
        self._ts, self._amount = array("q"), array("d")

    def _idx(self, customer_id: str) -> int:
        i = self._index.get(customer_id)
        if i is None:
            i = self._index[customer_id] = len(self.ids)
            self.ids.append(customer_id)
        return i

    @classmethod
    def from_columns(
        cls,
        src: pa.ChunkedArray,
        dst: pa.ChunkedArray,
        ts: pa.ChunkedArray,
        amount: pa.ChunkedArray,
    ) -> TransferAggregate:
        """An aggregate of whole validated columns at once (the bulk path)."""
        aggregate = cls()
        ids = pc.unique(
            pa.concat_arrays([*src.chunks, *dst.chunks])
            if src.num_chunks
            else pa.array([], pa.string())
        )
        aggregate.ids = ids.to_pylist()
        aggregate._index = {}  # ids are final: nothing more is added
        for column, values in (
            (aggregate._src, pc.index_in(src, value_set=ids)),
            (aggregate._dst, pc.index_in(dst, value_set=ids)),
            (aggregate._ts, ts),
            (aggregate._amount, amount),
        ):
            column.frombytes(
                np.ascontiguousarray(values.to_numpy())
                .astype(np.float64 if column.typecode == "d" else np.int64)
                .tobytes()
            )
        return aggregate

    def add(self, row: dict[str, Any]) -> None:
        self._src.append(self._idx(row["src_id"]))
        self._dst.append(self._idx(row["dst_id"]))
        self._ts.append(row["ts"])
        self._amount.append(row["amount"])

    def __len__(self) -> int:
        return len(self._ts)

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(src index, dst index, ts ms, amount) as numpy arrays, one entry per transfer."""
        return (
            np.frombuffer(self._src, dtype=np.int64),
            np.frombuffer(self._dst, dtype=np.int64),
            np.frombuffer(self._ts, dtype=np.int64),
            np.frombuffer(self._amount, dtype=np.float64),
        )

    def pair_columns(self) -> dict[str, np.ndarray]:
        """One entry per ordered (src, dst) pair: count, total, max amount, first and last ts."""
        src, dst, ts, amount = self.arrays()
        if not len(ts):
            empty_i, empty_f = np.zeros(0, np.int64), np.zeros(0, np.float64)
            return {
                "src": empty_i,
                "dst": empty_i,
                "count": empty_i,
                "total": empty_f,
                "max_amount": empty_f,
                "first_ts": empty_i,
                "last_ts": empty_i,
            }
        key = src * len(self.ids) + dst
        order = np.argsort(key, kind="stable")
        key_sorted = key[order]
        starts = np.concatenate(([0], np.flatnonzero(np.diff(key_sorted)) + 1))
        counts = np.diff(np.concatenate((starts, [len(key_sorted)])))
        return {
            "src": src[order][starts],
            "dst": dst[order][starts],
            "count": counts,
            "total": np.round(np.add.reduceat(amount[order], starts), 2),
            "max_amount": np.maximum.reduceat(amount[order], starts),
            "first_ts": np.minimum.reduceat(ts[order], starts),
            "last_ts": np.maximum.reduceat(ts[order], starts),
        }

    def pair_rows(self, batch: str) -> Iterator[dict[str, Any]]:
        """Rows for graph.queries.UPSERT_TRANSFERRED; `batch` identifies this file's content."""
        cols = self.pair_columns()
        ids = self.ids
        for s, d, c, t, m, f, la in zip(
            cols["src"].tolist(),
            cols["dst"].tolist(),
            cols["count"].tolist(),
            cols["total"].tolist(),
            cols["max_amount"].tolist(),
            cols["first_ts"].tolist(),
            cols["last_ts"].tolist(),
            strict=True,
        ):
            yield {
                "src_id": ids[s],
                "dst_id": ids[d],
                "count": c,
                "total": t,
                "max_amount": m,
                "first_ts": f,
                "last_ts": la,
                "batch": batch,
            }

    def movement_columns(self) -> dict[str, Any]:
        """Per customer in this file (`customer_id` list, the rest numpy arrays): movements
        in the 180 (and 30) days before its newest transfer, the file's as-of time."""
        src, dst, ts, amount = self.arrays()
        if not len(ts):
            return {}
        n = len(self.ids)
        as_of = int(ts.max())
        window = ts >= as_of - WINDOW_DAYS * DAY_MS
        short = ts >= as_of - SHORT_WINDOW_DAYS * DAY_MS
        s_w, d_w, a_w = src[window], dst[window], amount[window]
        max_out = np.zeros(n)
        np.maximum.at(max_out, s_w, a_w)
        pairs = np.unique(s_w * n + d_w)
        return {
            "customer_id": self.ids,
            "as_of": np.full(n, as_of, dtype=np.int64),
            "out_count": np.bincount(s_w, minlength=n),
            "out_total": np.round(np.bincount(s_w, weights=a_w, minlength=n), 2),
            "in_count": np.bincount(d_w, minlength=n),
            "in_total": np.round(np.bincount(d_w, weights=a_w, minlength=n), 2),
            "max_out": max_out,
            "counterparties": np.bincount(pairs // n, minlength=n),
            "out_count_30d": np.bincount(src[short], minlength=n),
            "out_total_30d": np.round(
                np.bincount(src[short], weights=amount[short], minlength=n), 2
            ),
        }

    def movement_rows(self) -> list[dict[str, Any]]:
        """Rows for graph.queries.SET_MOVEMENT, one per customer in this file."""
        cols = self.movement_columns()
        if not cols:
            return []
        names = [k for k in cols if k != "customer_id"]
        values = [cols[k].tolist() for k in names]
        return [
            {"customer_id": cid, **dict(zip(names, row, strict=True))}
            for cid, *row in zip(cols["customer_id"], *values, strict=True)
        ]
