"""What a backend's native bulk path takes: columnar blocks of nodes and relationships, and
the `BulkLoader` a store hands out for a first load of an empty graph.

Each store answers `bulk_loader()`; etl/bulk.py builds the blocks once and gives them to
whichever loader it gets, never asking which engine is behind it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # a store hands out its loader without importing Arrow
    import numpy as np
    import pyarrow as pa


@dataclass
class NodeColumns:
    """Nodes of one label to bulk-load, as an Arrow table with one column per property.

    Row i of `table` is the node whose global id is i plus the number of nodes in the blocks
    before it (of the same `bulk_insert_columns` call). A null means the node has no such
    property. Column types: string / large_string (no NUL characters), int8 to int64 and
    uint8 to uint32 (stored as int64), float32 / float64 (stored as double), bool, null (the
    property is absent everywhere), dictionary-encoded values of those, and list / large_list
    of those (nested lists allowed; a null inside a list is a null element). A table without
    columns (e.g. `table.select([])`) gives as many property-less nodes as it has rows.
    `extra_labels` adds further labels to every node of the block.
    """

    label: str
    table: pa.Table
    extra_labels: tuple[str, ...] = ()


@dataclass
class EdgeColumns:
    """Relationships of one type to bulk-load, as endpoint id arrays plus property columns.

    `src` and `dst` are equally long 1-D integer arrays of global node ids (0-based positions
    of the nodes across all `NodeColumns` of the same call, in the order given). `table`
    holds the properties, one row per relationship and column types as for `NodeColumns`;
    None or a table without columns means the relationships have no properties. A block is
    sent sorted by `src` (stably), which the server loads several times faster, so the
    relationship ids the server assigns follow that order rather than the order given.
    """

    rel_type: str
    src: np.ndarray
    dst: np.ndarray
    table: pa.Table | None = None


class BulkLoader(Protocol):
    """A store's native path for the first load of an empty graph."""

    def refusal(self) -> str | None:
        """None when this store can take a bulk load, else why not (the load then goes
        incremental with that note); the emptiness of the graph is checked by the caller."""
        ...

    def load(
        self, nodes: Sequence[NodeColumns], edges: Sequence[EdgeColumns], progress: bool
    ) -> None:
        """Create the whole graph from these blocks, then build the schema. Meant for an empty
        graph; raises StoreUnavailable when the store cannot be reached and StoreError when
        the load fails (the graph is then left empty)."""
        ...
