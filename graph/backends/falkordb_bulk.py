"""Fast first load of an empty FalkorDB graph through the server's native `GRAPH.BULK` command.

`GRAPH.BULK` takes nodes and relationships as binary blobs instead of Cypher, so the server
neither parses nor plans anything per entity. It only loads a graph key that does not exist
yet: nodes get the ids 0, 1, 2, ... in the order they are sent, and relationships name their
endpoints by those ids.

Wire format, as implemented by FalkorDB's `src/commands/cmd_bulk_insert.c` and
`src/bulk_insert/bulk_insert.c` (all integers little-endian, i.e. the server's native order)::

    GRAPH.BULK <key> [BEGIN] <node_count> <edge_count> <node_token_count> <edge_token_count>
               <node_token> ... <edge_token> ...

* `BEGIN` is present on the first call only; the server then creates the key and refuses
  with an error if it already exists. Later calls (no `BEGIN`) append to the same graph.
* `node_count` / `edge_count` are the number of entities in this call; the server only uses
  them to pre-allocate, and echoes them back as "N nodes created, M edges created" whatever
  it actually did (so this module checks the real counts once the load is done).
* Every token is one label (or relationship type): a header, then the entities.
  Header: the name as a NUL-terminated UTF-8 string (several node labels joined with ':'),
  a uint32 property count (< 65535), then that many NUL-terminated property names.
  A node entity is one encoded value per property; a relationship entity is a uint64
  source node id, a uint64 destination node id, then one value per property. The server
  walks a token until its bytes run out, so a node must take at least one byte: nodes of a
  property-less block are sent with one always-null placeholder property.
* A value is a one-byte type tag and a payload: 0 null (no payload; the property is left
  unset), 1 bool (1 byte), 2 double (8 bytes), 3 string (NUL-terminated UTF-8), 4 int64
  (8 bytes), 5 array (int64 length, then that many values, each with its own tag).
* All node tokens of a call are applied before its relationship tokens.

The server trusts the stream completely (a malformed blob is not reported but read past,
an out-of-range node id is not checked), so everything is validated here before it is sent:
arity, id ranges, types, NUL bytes, names.

Two entry points write this format: `bulk_insert` takes rows of Python values (`NodeBlock`,
`EdgeBlock`) and encodes them one by one, which is simple but costs microseconds per value;
`bulk_insert_columns` takes Arrow tables and NumPy id arrays (`NodeColumns`, `EdgeColumns`)
and builds the same bytes a column and a slice of rows at a time with vectorised Arrow and
NumPy kernels, for loads of millions of entities.
"""

from __future__ import annotations

import contextlib
import numbers
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import redis

from graph import queries as q
from graph.bulk import EdgeColumns, NodeColumns

__all__ = [
    "EdgeBlock",
    "EdgeColumns",
    "NodeBlock",
    "NodeColumns",
    "bulk_insert",
    "bulk_insert_columns",
]

#: Largest single token sent; redis refuses arguments above `proto-max-bulk-len` (512 MiB).
MAX_TOKEN_BYTES = 512 * 1024 * 1024 - 1024 * 1024
#: Largest accepted `max_buffer_bytes` (redis' default `client-query-buffer-limit` is 1 GiB).
MAX_BUFFER_BYTES = 1024 * 1024 * 1024 - 1024 * 1024
#: The server keeps a label's property count in 16 bits.
MAX_PROPERTIES = 65534
#: Deepest nesting of lists accepted in a property value.
MAX_ARRAY_DEPTH = 32
#: Placeholder property of property-less nodes when the load names no property at all.
PAD_PROPERTY = "_"
#: `progress` is called every this many rows of a kind (and once when the kind is done).
PROGRESS_EVERY = 100_000

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1

# Type tags of the binary value encoding.
_TAG_NULL = 0
_TAG_BOOL = 1
_TAG_DOUBLE = 2
_TAG_STRING = 3
_TAG_LONG = 4
_TAG_ARRAY = 5

_NULL = bytes([_TAG_NULL])
_TRUE = bytes([_TAG_BOOL, 1])
_FALSE = bytes([_TAG_BOOL, 0])
_STRING_FORMAT = bytes([_TAG_STRING]) + b"%b\x00"
_PACK_TAGGED_LONG = struct.Struct("<Bq").pack
_PACK_TAGGED_DOUBLE = struct.Struct("<Bd").pack
_PACK_UINT32 = struct.Struct("<I").pack
_PACK_ENDPOINTS = struct.Struct("<QQ").pack


@dataclass
class NodeBlock:
    """Nodes of one label to bulk-load, as rows aligned with `properties`.

    Values may be str, int (signed 64-bit), float (NaN and infinities included), bool, or
    a list/tuple of those (nested lists allowed); `None` means the node has no such property
    (inside a list it is a null element). Strings must not contain NUL characters. Nodes get
    global ids in the order they are given, across all blocks passed to one `bulk_insert`
    call, starting at 0. `extra_labels` adds further labels to every node of the block.
    """

    label: str
    properties: tuple[str, ...]
    rows: Iterable[tuple[Any, ...]]
    extra_labels: tuple[str, ...] = ()


@dataclass
class EdgeBlock:
    """Relationships of one type to bulk-load, as rows `(src, dst, *props)`.

    `src` and `dst` are global node ids: 0-based positions of the nodes across all
    `NodeBlock`s of the same `bulk_insert` call, in the order given. Property values are
    as for `NodeBlock`; `None` means the relationship has no such property.
    """

    rel_type: str
    properties: tuple[str, ...]
    rows: Iterable[tuple[Any, ...]]


class _BadValue(ValueError):
    """A property value that cannot be encoded (message names the problem, not the value)."""


# --------------------------------------------------------------------------------------
# value encoding
# --------------------------------------------------------------------------------------


def _encode_str(value: str) -> bytes:
    try:
        data = value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise _BadValue(f"string is not valid unicode ({exc.reason})") from None
    if b"\x00" in data:
        raise _BadValue("string contains a NUL character, which GRAPH.BULK cannot carry")
    return _STRING_FORMAT % data


def _encode_int(value: int) -> bytes:
    if _INT64_MIN <= value <= _INT64_MAX:
        return _PACK_TAGGED_LONG(_TAG_LONG, value)
    raise _BadValue("integer does not fit in a signed 64-bit integer")


def _encode_float(value: float) -> bytes:
    return _PACK_TAGGED_DOUBLE(_TAG_DOUBLE, value)


def _encode_bool(value: bool) -> bytes:
    return _TRUE if value else _FALSE


def _encode_none(value: None) -> bytes:
    return _NULL


def _encode_list(value: Sequence[Any], depth: int = 0) -> bytes:
    if depth >= MAX_ARRAY_DEPTH:
        raise _BadValue(f"list nested deeper than {MAX_ARRAY_DEPTH} levels")
    parts = [_PACK_TAGGED_LONG(_TAG_ARRAY, len(value))]
    for item in value:
        if type(item) is list or type(item) is tuple:
            parts.append(_encode_list(item, depth + 1))
        else:
            parts.append(_ENCODERS.get(type(item), _encode_other)(item))
    return b"".join(parts)


def _encode_other(value: Any) -> bytes:
    """Encode values whose exact type is not in `_ENCODERS` (subclasses, numpy scalars)."""
    if isinstance(value, bool):
        return _encode_bool(value)
    if isinstance(value, str):
        return _encode_str(value)
    if isinstance(value, numbers.Integral):
        return _encode_int(int(value))
    if isinstance(value, numbers.Real):
        return _encode_float(float(value))
    if isinstance(value, (list, tuple)):
        return _encode_list(value)
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        plain = item()  # numpy scalar (e.g. numpy.bool_) -> the Python scalar
        if type(plain) in _ENCODERS:
            return _ENCODERS[type(plain)](plain)
    raise _BadValue(
        f"unsupported type {type(value).__name__} "
        "(use str, int, float, bool, None or a list of those)"
    )


_ENCODERS: dict[type, Callable[[Any], bytes]] = {
    str: _encode_str,
    int: _encode_int,
    float: _encode_float,
    bool: _encode_bool,
    type(None): _encode_none,
    list: _encode_list,
    tuple: _encode_list,
}


# --------------------------------------------------------------------------------------
# headers and validation
# --------------------------------------------------------------------------------------


def _check_name(what: str, name: object) -> str:
    if not isinstance(name, str) or not name:
        raise ValueError(f"{what} must be a non-empty string, got {name!r}")
    if "\x00" in name:
        raise ValueError(f"{what} {name!r} contains a NUL character")
    return name


def _header(kind: str, names: Sequence[str], properties: Sequence[str]) -> bytes:
    """Binary header of a token: entity name(s), property count, property names."""
    for name in names:
        _check_name(kind, name)
        if ":" in name:
            raise ValueError(f"{kind} {name!r} contains ':', which GRAPH.BULK reads as a separator")
    if len(properties) > MAX_PROPERTIES:
        raise ValueError(
            f"{kind} {names[0]!r} has {len(properties)} properties (max {MAX_PROPERTIES})"
        )
    seen: set[str] = set()
    for prop in properties:
        _check_name(f"property name of {kind} {names[0]!r}", prop)
        if prop in seen:
            raise ValueError(f"{kind} {names[0]!r} lists property {prop!r} twice")
        seen.add(prop)
    parts = [":".join(names).encode("utf-8"), b"\x00", _PACK_UINT32(len(properties))]
    for prop in properties:
        parts += [prop.encode("utf-8"), b"\x00"]
    return b"".join(parts)


def _not_a_row(where: str, row: Any) -> ValueError:
    return ValueError(f"{where}: row is a {type(row).__name__}, not a tuple")


def _arity_error(where: str, got: int, expected: int, layout: str) -> ValueError:
    return ValueError(f"{where}: row has {got} values, expected {expected} ({layout})")


def _describe_id(value: Any) -> str:
    """Show an offending node id if it is a number, else only its type (rows may hold PII)."""
    if isinstance(value, numbers.Number):
        return repr(value)
    return f"<{type(value).__name__}>"


def _value_error(
    where: str, properties: Sequence[str], values: Sequence[Any], exc: Exception
) -> ValueError:
    """Name the property whose value failed to encode (without echoing the value)."""
    for name, value in zip(properties, values, strict=False):
        try:
            _ENCODERS.get(type(value), _encode_other)(value)
        except (ValueError, TypeError, OverflowError, struct.error, RecursionError) as bad:
            return ValueError(f"{where}, property {name!r}: {bad}")
    return ValueError(f"{where}: {exc}")


# --------------------------------------------------------------------------------------
# batching and sending
# --------------------------------------------------------------------------------------


class _Sender:
    """Collects finished tokens and sends them as GRAPH.BULK calls within a byte budget.

    With `overlap`, a call runs on a helper thread while the caller encodes the next batch
    (redis-py releases the GIL while it waits on the socket), and each call carries at most
    half the budget, so that in-flight plus in-progress data never exceed it.
    """

    def __init__(self, conn: redis.Redis, graph: str, max_bytes: int, overlap: bool) -> None:
        self.conn = conn
        self.graph = graph
        self.batch_bytes = max(1, max_bytes // 2) if overlap else max_bytes
        self.node_tokens: list[bytearray] = []
        self.edge_tokens: list[bytearray] = []
        self.pending_bytes = 0
        self.pending_nodes = 0
        self.pending_edges = 0
        self.submitted = False  # a call (the one with BEGIN) has been started
        self.begun = False  # a call went through: the graph key exists and is ours
        self.nodes_done = 0
        self.edges_done = 0
        self._pool = ThreadPoolExecutor(1, "graph-bulk") if overlap else None
        self._inflight: Future[None] | None = None

    def room(self) -> int:
        """Bytes the token being built may grow to without breaking the budget."""
        return min(MAX_TOKEN_BYTES, self.batch_bytes - self.pending_bytes)

    def add(self, is_node: bool, token: bytearray, count: int) -> None:
        """Queue a finished token holding `count` entities (empty tokens are dropped)."""
        if count == 0:
            return
        if is_node:
            self.node_tokens.append(token)
            self.pending_nodes += count
        else:
            self.edge_tokens.append(token)
            self.pending_edges += count
        self.pending_bytes += len(token)

    def flush(self, force: bool = False) -> None:
        """Send the queued tokens as one GRAPH.BULK call (the first one with BEGIN)."""
        if not (self.node_tokens or self.edge_tokens or force):
            return
        args: list[Any] = ["GRAPH.BULK", self.graph]
        first = not self.submitted
        if first:
            args.append("BEGIN")
        args += [
            self.pending_nodes,
            self.pending_edges,
            len(self.node_tokens),
            len(self.edge_tokens),
            *self.node_tokens,
            *self.edge_tokens,
        ]
        counts = (self.pending_nodes, self.pending_edges)
        self.node_tokens = []
        self.edge_tokens = []
        self.pending_bytes = self.pending_nodes = self.pending_edges = 0
        self.wait()  # calls must reach the server in order, each after the last succeeded
        self.submitted = True
        if self._pool is None:
            self._call(args, counts, first)
        else:
            self._inflight = self._pool.submit(self._call, args, counts, first)

    def wait(self) -> None:
        """Wait for the call in flight, if any, and raise its error."""
        inflight, self._inflight = self._inflight, None
        if inflight is not None:
            inflight.result()

    def close(self) -> None:
        """Wait for the call in flight, ignoring its outcome, and stop the helper thread."""
        with contextlib.suppress(Exception):
            self.wait()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _call(self, args: list[Any], counts: tuple[int, int], first: bool) -> None:
        try:
            reply = self.conn.execute_command(*args)
        except redis.ResponseError as exc:
            if first and "already exists" in str(exc):
                raise ValueError(
                    f"graph {self.graph!r} already exists; GRAPH.BULK only loads a new graph"
                ) from exc
            raise
        self.begun = True
        text = reply.decode() if isinstance(reply, bytes) else str(reply)
        try:
            nodes_part, edges_part = text.split(", ")
            nodes, edges = int(nodes_part.split()[0]), int(edges_part.split()[0])
        except ValueError:
            raise RuntimeError(f"unexpected GRAPH.BULK reply {text!r}") from None
        if (nodes, edges) != counts:
            raise RuntimeError(
                f"GRAPH.BULK created {nodes} nodes / {edges} relationships, "
                f"expected {counts[0]} / {counts[1]}"
            )
        self.nodes_done += nodes
        self.edges_done += edges


class _Progress:
    """Forwards progress to the caller's callback, never twice with the same count."""

    def __init__(self, callback: Callable[[str, int], None] | None) -> None:
        self.callback = callback
        self.last: dict[str, int] = {}

    def report(self, kind: str, count: int) -> None:
        if self.callback is not None and self.last.get(kind) != count:
            self.last[kind] = count
            self.callback(kind, count)

    def advance(self, kind: str, before: int, after: int) -> None:
        """Report every multiple of `PROGRESS_EVERY` in (before, after]: rows done in a batch."""
        if self.callback is None:
            return
        first = (before // PROGRESS_EVERY + 1) * PROGRESS_EVERY
        for count in range(first, after + 1, PROGRESS_EVERY):
            self.report(kind, count)


def _node_header(block: NodeBlock, pad_name: str) -> bytes:
    """Token header of a NodeBlock (validates its names)."""
    labels = (block.label, *block.extra_labels)
    if block.properties:
        return _header("label", labels, tuple(block.properties))
    # The server counts nodes by walking their bytes, so a node with no properties at all
    # would not exist on the wire: declare one property and always send it null (= unset).
    return _header("label", labels, (pad_name,))


def _write_nodes(
    sender: _Sender,
    block: NodeBlock,
    header: bytes,
    first_id: int,
    progress: _Progress,
) -> int:
    """Encode and queue one NodeBlock; returns how many nodes it held."""
    properties = tuple(block.properties)
    width = len(properties)
    get = _ENCODERS.get
    other = _encode_other
    token = bytearray(header)
    in_token = 0
    cap = sender.room()
    count = 0
    next_report = PROGRESS_EVERY - first_id % PROGRESS_EVERY
    for row in block.rows:
        try:
            got = len(row)
        except TypeError:
            raise _not_a_row(f"label {block.label!r} row {count}", row) from None
        if got != width:
            raise _arity_error(
                f"label {block.label!r} row {count} (node id {first_id + count})",
                got,
                width,
                f"one per property {properties!r}",
            )
        try:
            data = b"".join([get(type(v), other)(v) for v in row]) if width else _NULL
        except (ValueError, TypeError, OverflowError, struct.error, RecursionError) as exc:
            raise _value_error(
                f"label {block.label!r} row {count} (node id {first_id + count})",
                properties,
                row,
                exc,
            ) from None
        if len(token) + len(data) > cap:
            sender.add(True, token, in_token)
            sender.flush()
            token = bytearray(header)
            in_token = 0
            cap = sender.room()
            if len(token) + len(data) > cap:
                raise ValueError(
                    f"label {block.label!r} row {count}: encoded node takes "
                    f"{len(token) + len(data)} bytes with its header, more than one GRAPH.BULK "
                    f"call may carry ({cap} bytes; raise max_buffer_bytes)"
                )
        token += data
        in_token += 1
        count += 1
        if count == next_report:
            progress.report("nodes", first_id + count)
            next_report += PROGRESS_EVERY
    sender.add(True, token, in_token)
    return count


def _write_edges(
    sender: _Sender,
    block: EdgeBlock,
    header: bytes,
    node_total: int,
    progress: _Progress,
    done: int,
) -> int:
    """Encode and queue one EdgeBlock; returns how many relationships it held."""
    properties = tuple(block.properties)
    width = 2 + len(properties)
    has_props = width > 2
    get = _ENCODERS.get
    other = _encode_other
    pack_endpoints = _PACK_ENDPOINTS
    token = bytearray(header)
    in_token = 0
    cap = sender.room()
    count = 0
    next_report = PROGRESS_EVERY - done % PROGRESS_EVERY
    for row in block.rows:
        try:
            got = len(row)
        except TypeError:
            raise _not_a_row(f"relationship type {block.rel_type!r} row {count}", row) from None
        if got != width:
            raise _arity_error(
                f"relationship type {block.rel_type!r} row {count}",
                got,
                width,
                f"src, dst, then one per property {properties!r}",
            )
        src = row[0]
        dst = row[1]
        try:
            data = pack_endpoints(src, dst)
            in_range = src < node_total and dst < node_total
        except (struct.error, TypeError):
            in_range = False
        if not in_range:
            raise ValueError(
                f"relationship type {block.rel_type!r} row {count}: node ids must be ints in "
                f"[0, {node_total}) (the nodes given), got src={_describe_id(src)} "
                f"dst={_describe_id(dst)}"
            )
        if has_props:
            values = row[2:]
            try:
                data += b"".join([get(type(v), other)(v) for v in values])
            except (ValueError, TypeError, OverflowError, struct.error, RecursionError) as exc:
                raise _value_error(
                    f"relationship type {block.rel_type!r} row {count}", properties, values, exc
                ) from None
        if len(token) + len(data) > cap:
            sender.add(False, token, in_token)
            sender.flush()
            token = bytearray(header)
            in_token = 0
            cap = sender.room()
            if len(token) + len(data) > cap:
                raise ValueError(
                    f"relationship type {block.rel_type!r} row {count}: encoded relationship "
                    f"takes {len(token) + len(data)} bytes with its header, more than one "
                    f"GRAPH.BULK call may carry ({cap} bytes; raise max_buffer_bytes)"
                )
        token += data
        in_token += 1
        count += 1
        if count == next_report:
            progress.report("relationships", done + count)
            next_report += PROGRESS_EVERY
    sender.add(False, token, in_token)
    return count


def _count(conn: redis.Redis, graph: str, query: q.Query) -> int:
    reply = conn.execute_command("GRAPH.RO_QUERY", graph, query.text)
    return int(reply[1][0][0])


def _verify_counts(conn: redis.Redis, graph: str, nodes: int, edges: int) -> None:
    """Check the loaded graph holds what was sent (GRAPH.BULK only echoes declared counts)."""
    got_nodes = _count(conn, graph, q.NODE_TOTAL)
    got_edges = _count(conn, graph, q.RELATIONSHIP_TOTAL)
    if (got_nodes, got_edges) != (nodes, edges):
        raise RuntimeError(
            f"graph {graph!r} holds {got_nodes} nodes / {got_edges} relationships after "
            f"GRAPH.BULK, expected {nodes} / {edges}"
        )


def _check_load_arguments(graph: str, max_buffer_bytes: int) -> None:
    """Validate the arguments every entry point shares."""
    _check_name("graph name", graph)
    if isinstance(max_buffer_bytes, bool) or not isinstance(max_buffer_bytes, int):
        raise ValueError(f"max_buffer_bytes must be an int, got {max_buffer_bytes!r}")
    if not 0 < max_buffer_bytes <= MAX_BUFFER_BYTES:
        raise ValueError(f"max_buffer_bytes must be in [1, {MAX_BUFFER_BYTES}]")


def _pad_name(property_names: Iterable[object]) -> str:
    """Property name for the always-null placeholder of property-less nodes.

    A real property name of the load is reused, if it has any, so that no extra property key
    appears in the graph.
    """
    return next((p for p in property_names if isinstance(p, str) and p), PAD_PROPERTY)


def _load(
    conn: redis.Redis,
    graph: str,
    max_buffer_bytes: int,
    overlap: bool,
    progress: Callable[[str, int], None] | None,
    start: float,
    write: Callable[[_Sender, _Progress], tuple[int, int]],
) -> dict[str, Any]:
    """Run a load whose input is validated: `write` queues every token, returning the counts.

    Refuses an existing key before anything is sent, checks the counts once the calls are
    done, and deletes the partly loaded graph again if anything fails after the first call.
    """
    if conn.exists(graph):
        raise ValueError(f"graph {graph!r} already exists; GRAPH.BULK only loads a new graph")
    sender = _Sender(conn, graph, max_buffer_bytes, overlap)
    report = _Progress(progress)
    try:
        node_total, edge_total = write(sender, report)
        sender.flush(force=not sender.submitted)
        sender.wait()
        _verify_counts(conn, graph, node_total, edge_total)
    except BaseException:
        sender.close()
        if sender.begun:
            # the original error matters more than a failed clean-up
            with contextlib.suppress(redis.RedisError):
                conn.execute_command("GRAPH.DELETE", graph)
        raise
    finally:
        sender.close()
    return {
        "nodes": sender.nodes_done,
        "relationships": sender.edges_done,
        "seconds": time.perf_counter() - start,
    }


def bulk_insert(
    conn: redis.Redis,
    graph: str,
    nodes: Sequence[NodeBlock],
    edges: Sequence[EdgeBlock],
    *,
    max_buffer_bytes: int = 64 * 1024 * 1024,
    progress: Callable[[str, int], None] | None = None,
    overlap: bool = False,
) -> dict[str, Any]:
    """Create graph `graph` from scratch with GRAPH.BULK; for first loads only.

    `conn` is the redis connection of a FalkorDB client (`FalkorDB(...).connection`); its
    socket timeout, if any, must allow for one call's server time (seconds per few million
    entities). Rows are streamed: at most `max_buffer_bytes` of encoded data is held at a
    time, sent as a GRAPH.BULK call whenever the budget is full (the first carries BEGIN).
    All node blocks are sent before any relationship block.

    Speed: each call costs the server time that grows with the graph already loaded, so few
    large calls beat many small ones (a single call is fastest; raise `max_buffer_bytes` if
    memory allows). Relationships sorted by source node id load several times faster than
    randomly ordered ones. `overlap=True` encodes the next call while the server runs the
    previous one on a helper thread, each call then carrying at most half the budget; it
    pays off only when the server has idle cores and calls stay large.

    `progress(kind, count)` is called with kind "nodes" or "relationships" every
    `PROGRESS_EVERY` rows and when the kind is finished; `count` is the number of rows of that
    kind encoded so far (everything is on the server once this function returns).

    Raises ValueError, before anything is sent, if the key `graph` already exists, and while
    streaming if a row has the wrong number of values, a relationship names a node id outside
    the nodes given, or a value cannot be encoded. If anything fails after the first call went
    through, the partly loaded graph is deleted again, so a failed load leaves no graph behind.
    A load with no rows at all still creates the (empty) graph.

    Once the calls are done, the node and relationship counts of the graph are checked
    against what was sent (RuntimeError, and the graph is deleted, if they differ).

    Returns {"nodes": created, "relationships": created, "seconds": wall time}.
    """
    start = time.perf_counter()
    _check_load_arguments(graph, max_buffer_bytes)
    for index, node_block in enumerate(nodes):
        if not isinstance(node_block, NodeBlock):
            raise ValueError(f"nodes[{index}] is a {type(node_block).__name__}, not a NodeBlock")
    for index, edge_block in enumerate(edges):
        if not isinstance(edge_block, EdgeBlock):
            raise ValueError(f"edges[{index}] is a {type(edge_block).__name__}, not an EdgeBlock")
    blocks: tuple[NodeBlock | EdgeBlock, ...] = (*nodes, *edges)
    pad_name = _pad_name(p for block in blocks for p in block.properties)
    node_headers = [_node_header(block, pad_name) for block in nodes]
    edge_headers = [
        _header("relationship type", (block.rel_type,), tuple(block.properties)) for block in edges
    ]

    def write(sender: _Sender, report: _Progress) -> tuple[int, int]:
        node_total = 0
        for node_block, header in zip(nodes, node_headers, strict=True):
            node_total += _write_nodes(sender, node_block, header, node_total, report)
        report.report("nodes", node_total)
        edge_total = 0
        for edge_block, header in zip(edges, edge_headers, strict=True):
            edge_total += _write_edges(sender, edge_block, header, node_total, report, edge_total)
        report.report("relationships", edge_total)
        return node_total, edge_total

    return _load(conn, graph, max_buffer_bytes, overlap, progress, start, write)


# --------------------------------------------------------------------------------------
# columnar input
# --------------------------------------------------------------------------------------


_BINARY = pa.large_binary()
_NO_SEPARATOR = pa.scalar(b"", _BINARY)
_STRING_OPEN = pa.scalar(bytes([_TAG_STRING]), _BINARY)
_STRING_CLOSE = pa.scalar(b"\x00", _BINARY)
_NULL_VALUE = pa.scalar(_NULL, _BINARY)
_INT_TYPES = frozenset(
    [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32()]
)
#: Rows are encoded a slice at a time, aiming at this many encoded bytes per slice: large
#: enough that the per-call cost of the Arrow/NumPy kernels vanishes, small enough that the
#: temporaries of a slice stay small next to the send budget.
_SLICE_BYTES = 8 * 1024 * 1024
_FIRST_SLICE_ROWS = 16_384
_MAX_SLICE_ROWS = 1 << 22
_SUPPORTED = "use string, integer, float, bool, null or a list of those"


@dataclass
class _Fixed:
    """Slice of a column without nulls whose encoded values all have the same width.

    Kept as a (rows, width) byte matrix, so that neighbouring fixed-width columns can be laid
    side by side with NumPy instead of being joined row by row.
    """

    tag: int | None  # type tag written before each payload (None: the endpoints, untagged)
    payload: np.ndarray  # (rows, width) uint8


#: An encoded column slice: `_Fixed`, or a large_binary array of encoded values in which a
#: null stands for an absent property (encoded as a single null tag when rows are joined).
_Part: TypeAlias = _Fixed | pa.Array
_Encoder: TypeAlias = Callable[[pa.Array], _Part]


def _stack(parts: Sequence[_Fixed], rows: int) -> np.ndarray:
    """Lay fixed-width parts side by side: one (rows, total width) matrix of row bytes."""
    width = sum(part.payload.shape[1] + (part.tag is not None) for part in parts)
    out = np.empty((rows, width), np.uint8)
    at = 0
    for part in parts:
        if part.tag is not None:
            out[:, at] = part.tag
            at += 1
        size = part.payload.shape[1]
        out[:, at : at + size] = part.payload
        at += size
    return out


def _matrix_array(matrix: np.ndarray, validity: pa.Buffer | None = None) -> pa.Array:
    """A (rows, width) byte matrix as a large_binary array, without copying it."""
    rows, width = matrix.shape
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int64)
    return pa.Array.from_buffers(
        _BINARY, rows, [validity, pa.py_buffer(offsets), pa.py_buffer(matrix)]
    )


def _as_array(part: _Part, rows: int) -> pa.Array:
    return part if isinstance(part, pa.Array) else _matrix_array(_stack([part], rows))


def _binary_offsets(array: pa.Array) -> np.ndarray:
    """Value boundaries of a large_binary array, as positions in its data buffer."""
    return np.frombuffer(array.buffers()[1], np.int64, len(array) + 1, array.offset * 8)


def _data_buffer(array: pa.Array) -> pa.Buffer:
    # an array of empty values may have no data buffer at all
    return array.buffers()[2] or pa.py_buffer(b"")


def _primitive_values(array: pa.Array, dtype: str) -> np.ndarray:
    """The value buffer of a primitive array as NumPy values (no copy; nulls hold garbage)."""
    values = np.frombuffer(array.buffers()[1], np.dtype(dtype), len(array) + array.offset)
    return values[array.offset :].astype(np.dtype(dtype).newbyteorder("<"), copy=False)


def _with_nulls(tag: int, payload: np.ndarray, array: pa.Array) -> _Part:
    """Tagged fixed-width values, as `_Fixed` when `array` has no nulls."""
    part = _Fixed(tag, payload)
    if array.null_count == 0:
        return part
    # A fresh validity bitmap: the source's may start mid-byte when the array is a slice.
    validity = pc.is_valid(array).buffers()[1]
    return _matrix_array(_stack([part], len(array)), validity)


def _encode_ints(array: pa.Array) -> _Part:
    if array.type != pa.int64():
        array = array.cast(pa.int64())
    values = _primitive_values(array, "i8")
    return _with_nulls(_TAG_LONG, values.view(np.uint8).reshape(-1, 8), array)


def _encode_floats(array: pa.Array) -> _Part:
    if array.type != pa.float64():
        array = array.cast(pa.float64())
    values = _primitive_values(array, "f8")
    return _with_nulls(_TAG_DOUBLE, values.view(np.uint8).reshape(-1, 8), array)


def _encode_bools(array: pa.Array) -> _Part:
    values = pc.fill_null(array, False).to_numpy(zero_copy_only=False)
    return _with_nulls(_TAG_BOOL, values.view(np.uint8).reshape(-1, 1), array)


def _encode_strings(array: pa.Array) -> _Part:
    # nulls stay null: binary_join_element_wise emits null when an input is null
    return pc.binary_join_element_wise(
        _STRING_OPEN, array.cast(_BINARY), _STRING_CLOSE, _NO_SEPARATOR
    )


def _encode_nulls(array: pa.Array) -> _Part:
    return pa.nulls(len(array), _BINARY)


def _dictionary_encoder(values: _Encoder) -> _Encoder:
    def encode(array: pa.Array) -> _Part:
        # (_column_slice already decodes a slice spanning chunks)
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        return values(array)

    return encode


def _list_encoder(element: _Encoder) -> _Encoder:
    """Encoder of a list column: tag 5, the int64 length, then each element encoded."""

    def encode(array: pa.Array) -> _Part:
        rows = len(array)
        bounds = array.offsets.to_numpy().astype(np.int64, copy=False)
        first, last = int(bounds[0]), int(bounds[-1])
        lengths = np.diff(bounds).astype("<i8", copy=False)
        header = _with_nulls(_TAG_ARRAY, lengths.view(np.uint8).reshape(-1, 8), array)
        if last == first:
            return header  # no list holds an element: the header is the whole value
        elements = _as_array(element(array.values.slice(first, last - first)), last - first)
        if elements.null_count:
            elements = pc.fill_null(elements, _NULL_VALUE)
        # Each list's elements are consecutive, so the encoded elements of row i are one
        # contiguous range of the elements' data: the list's bytes need no copy at all.
        row_bounds = _binary_offsets(elements)[bounds - first]
        body = pa.Array.from_buffers(
            _BINARY, rows, [None, pa.py_buffer(row_bounds), _data_buffer(elements)]
        )
        # a null list stays null (null in, null out), i.e. the property is absent
        return pc.binary_join_element_wise(_as_array(header, rows), body, _NO_SEPARATOR)

    return encode


def _encoder(dtype: pa.DataType, depth: int = 0) -> _Encoder | None:
    """How to encode a column of type `dtype`; None if GRAPH.BULK cannot carry it."""
    if dtype in _INT_TYPES:
        return _encode_ints
    if dtype in (pa.float32(), pa.float64()):
        return _encode_floats
    if dtype == pa.bool_():
        return _encode_bools
    if dtype in (pa.string(), pa.large_string()):
        return _encode_strings
    if dtype == pa.null():
        return _encode_nulls
    if pa.types.is_dictionary(dtype):
        values = _encoder(dtype.value_type, depth)
        return None if values is None else _dictionary_encoder(values)
    if (pa.types.is_list(dtype) or pa.types.is_large_list(dtype)) and depth < MAX_ARRAY_DEPTH:
        element = _encoder(dtype.value_type, depth + 1)
        return None if element is None else _list_encoder(element)
    return None


def _first_nul(array: pa.Array) -> int | None:
    """Row of the first string holding a NUL character (anywhere inside lists too)."""
    dtype = array.type
    if dtype in (pa.string(), pa.large_string()):
        row = pc.index(pc.match_substring(array, "\x00"), True).as_py()
        return None if row < 0 else row
    if pa.types.is_dictionary(dtype):
        return _first_nul(array.dictionary_decode())
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        hit = _first_nul(array.flatten())
        return None if hit is None else pc.list_parent_indices(array)[hit].as_py()
    return None


def _column_encoder(column: pa.ChunkedArray, where: str) -> _Encoder:
    """Validate a whole column up front (before anything is sent) and pick its encoder."""
    encode = _encoder(column.type)
    if encode is None:
        raise ValueError(f"{where}: unsupported column type {column.type} ({_SUPPORTED})")
    try:
        column.validate(full=True)
    except pa.ArrowException:
        # Arrow's message may quote the data; say what is wrong without it
        raise ValueError(f"{where}: malformed Arrow data (e.g. a string not valid UTF-8)") from None
    base = 0
    for chunk in column.chunks:
        row = _first_nul(chunk)
        if row is not None:
            raise ValueError(
                f"{where}, row {base + row}: string contains a NUL character, "
                "which GRAPH.BULK cannot carry"
            )
        base += len(chunk)
    return encode


def _column_slice(column: pa.ChunkedArray) -> pa.Array:
    """A (sliced) column as one array, copying only when it spans several chunks."""
    if column.num_chunks == 1:
        return column.chunk(0)
    if pa.types.is_dictionary(column.type):
        # chunks may carry different dictionaries; decoded values concatenate plainly
        return pa.concat_arrays([chunk.dictionary_decode() for chunk in column.chunks])
    return column.combine_chunks()


def _row_bytes(parts: Sequence[_Part], rows: int) -> tuple[np.ndarray, pa.Buffer | np.ndarray]:
    """Concatenate the parts row by row: (row boundaries, data) with rows + 1 boundaries."""
    # Runs of fixed-width parts are laid side by side with NumPy (cheap, no per-row offsets);
    # only what remains goes through Arrow's row-wise join.
    merged: list[np.ndarray | pa.Array] = []
    run: list[_Fixed] = []
    for part in parts:
        if isinstance(part, _Fixed):
            run.append(part)
            continue
        if run:
            merged.append(_stack(run, rows))
            run = []
        merged.append(part)
    if run:
        merged.append(_stack(run, rows))
    if len(merged) == 1 and isinstance(merged[0], np.ndarray):
        width = merged[0].shape[1]
        return np.arange(0, (rows + 1) * width, width, dtype=np.int64), merged[0]
    arrays = [m if isinstance(m, pa.Array) else _matrix_array(m) for m in merged]
    joined = pc.binary_join_element_wise(
        *arrays, _NO_SEPARATOR, null_handling="replace", null_replacement=_NULL.decode()
    )
    return _binary_offsets(joined), _data_buffer(joined)


def _stream_rows(sender: _Sender, plan: _Plan, report: _Progress, done: int) -> None:
    """Encode a block's rows slice by slice and queue them as tokens within the budget.

    Tokens are cut at row boundaries found by binary search over the slice's row offsets, so
    no row is looked at one by one. `done` is the count of rows of the same kind queued
    before this block (for progress reports).
    """
    is_node = isinstance(plan, _NodePlan)
    header = plan.header
    rows = plan.rows
    kind = "nodes" if is_node else "relationships"
    token = bytearray(header)
    in_token = 0
    cap = sender.room()
    start = 0
    step = _FIRST_SLICE_ROWS
    while start < rows:
        stop = min(rows, start + step)
        bounds, data = plan.encode(start, stop)
        # numpy's stubs give ndarray __buffer__ only for Python >= 3.12 (typeshed's Buffer)
        view = memoryview(data).cast("B")  # type: ignore[arg-type]
        count = stop - start
        size = int(bounds[-1] - bounds[0])
        step = max(1, min(_MAX_SLICE_ROWS, _SLICE_BYTES * count // max(1, size)))
        i = 0
        while i < count:
            limit = int(bounds[i]) + cap - len(token)
            j = min(count, int(np.searchsorted(bounds, limit, side="right")) - 1)
            if j > i:
                token += view[int(bounds[i]) : int(bounds[j])]
                in_token += j - i
                report.advance(kind, done + start + i, done + start + j)
                i = j
            if i == count:
                break
            if in_token == 0 and sender.pending_bytes == 0:
                need = len(header) + int(bounds[i + 1] - bounds[i])
                what = "node" if is_node else "relationship"
                raise ValueError(
                    f"{plan.where} row {plan.row_number(start + i)}: encoded {what} takes "
                    f"{need} bytes with its header, more than one GRAPH.BULK call may carry "
                    f"({cap} bytes; raise max_buffer_bytes)"
                )
            sender.add(is_node, token, in_token)
            sender.flush()
            token = bytearray(header)
            in_token = 0
            cap = sender.room()
        start = stop
    sender.add(is_node, token, in_token)


class _Plan:
    """A validated block, ready to stream: its token header and how to encode its rows."""

    where: str  # names the block in messages
    header: bytes
    rows: int

    def encode(self, start: int, stop: int) -> tuple[np.ndarray, pa.Buffer | np.ndarray]:
        """Bytes of rows [start, stop) in sending order, and the rows' boundaries in them."""
        raise NotImplementedError

    def row_number(self, position: int) -> int:
        """The caller's row number of the row sent at `position`."""
        return position


@dataclass
class _NodePlan(_Plan):
    """A validated NodeColumns block, ready to stream."""

    where: str
    header: bytes
    rows: int
    table: pa.Table
    encoders: list[_Encoder]

    def encode(self, start: int, stop: int) -> tuple[np.ndarray, pa.Buffer | np.ndarray]:
        rows = stop - start
        if not self.encoders:
            # one always-null placeholder property per node (see _node_header)
            return np.arange(rows + 1, dtype=np.int64), np.zeros(rows, np.uint8)
        part = self.table.slice(start, rows)
        parts = [encode(_column_slice(part.column(k))) for k, encode in enumerate(self.encoders)]
        return _row_bytes(parts, rows)


@dataclass
class _EdgePlan(_Plan):
    """A validated EdgeColumns block, ready to stream."""

    where: str
    header: bytes
    rows: int
    src: np.ndarray
    dst: np.ndarray
    table: pa.Table | None
    encoders: list[_Encoder]
    order: np.ndarray | None = None  # sending order: rows sorted by src (None: as given)

    def row_number(self, position: int) -> int:
        return position if self.order is None else int(self.order[position])

    def encode(self, start: int, stop: int) -> tuple[np.ndarray, pa.Buffer | np.ndarray]:
        rows = stop - start
        if self.order is None:
            src, dst = self.src[start:stop], self.dst[start:stop]
            table = None if self.table is None else self.table.slice(start, rows)
        else:
            taken = self.order[start:stop]
            src, dst = self.src[taken], self.dst[taken]
            table = None if self.table is None else self.table.take(taken)
        ends = np.empty((rows, 2), "<u8")
        ends[:, 0] = src
        ends[:, 1] = dst
        parts: list[_Part] = [_Fixed(None, ends.view(np.uint8))]
        if table is not None:
            parts += [
                encode(_column_slice(table.column(k))) for k, encode in enumerate(self.encoders)
            ]
        return _row_bytes(parts, rows)


def _source_order(src: np.ndarray, node_total: int) -> np.ndarray | None:
    """Row positions sorted by source node id, stably; None when the rows already are."""
    rows = len(src)
    if rows < 2 or not (src[1:] < src[:-1]).any():
        return None
    shift = (rows - 1).bit_length()
    if (node_total - 1).bit_length() + shift > 63:
        return np.argsort(src, kind="stable")
    # The keys src << shift | position are unique, so any sort of them is stable by src; a
    # plain sort of int64 uses NumPy's SIMD sort, several times faster than a stable argsort,
    # and the positions come back out with a mask instead of a division.
    keys = src.astype(np.int64) << shift
    keys |= np.arange(rows, dtype=np.int64)
    keys.sort()
    keys &= (1 << shift) - 1
    return keys


def _as_table(value: object, where: str) -> pa.Table:
    if isinstance(value, pa.RecordBatch):
        return pa.Table.from_batches([value])
    if not isinstance(value, pa.Table):
        raise ValueError(f"{where}: table is a {type(value).__name__}, not a pyarrow Table")
    return value


def _node_plan(block: NodeColumns, pad_name: str) -> _NodePlan:
    where = f"label {block.label!r}"
    table = _as_table(block.table, where)
    names = tuple(table.column_names)
    labels = (block.label, *block.extra_labels)
    # property-less nodes carry one always-null placeholder (see _node_header)
    header = _header("label", labels, names or (pad_name,))
    encoders = [
        _column_encoder(table.column(k), f"{where}, property {name!r}")
        for k, name in enumerate(names)
    ]
    return _NodePlan(where, header, table.num_rows, table, encoders)


def _node_ids(value: object, where: str, end: str) -> np.ndarray:
    ids = np.asarray(value)
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise ValueError(
            f"{where}: {end} must be a 1-D integer array, got {ids.ndim}-D {ids.dtype}"
        )
    return ids


def _edge_plan(block: EdgeColumns, node_total: int) -> _EdgePlan:
    where = f"relationship type {block.rel_type!r}"
    src = _node_ids(block.src, where, "src")
    dst = _node_ids(block.dst, where, "dst")
    if len(src) != len(dst):
        raise ValueError(f"{where}: src has {len(src)} node ids but dst has {len(dst)}")
    table = None if block.table is None else _as_table(block.table, where)
    if table is not None and table.num_rows != len(src):
        raise ValueError(f"{where}: table has {table.num_rows} rows but src has {len(src)} ids")
    if table is not None and table.num_columns == 0:
        table = None
    names = () if table is None else tuple(table.column_names)
    header = _header("relationship type", (block.rel_type,), names)
    encoders = (
        []
        if table is None
        else [
            _column_encoder(table.column(k), f"{where}, property {name!r}")
            for k, name in enumerate(names)
        ]
    )
    if len(src) and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= node_total):
        bad = (src < 0) | (src >= node_total) | (dst < 0) | (dst >= node_total)
        row = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{where} row {row}: node ids must be ints in [0, {node_total}) (the nodes given), "
            f"got src={int(src[row])} dst={int(dst[row])}"
        )
    return _EdgePlan(where, header, len(src), src, dst, table, encoders)


def bulk_insert_columns(
    conn: redis.Redis,
    graph: str,
    nodes: Sequence[NodeColumns],
    edges: Sequence[EdgeColumns],
    *,
    max_buffer_bytes: int = 256 * 1024 * 1024,
    progress: Callable[[str, int], None] | None = None,
    overlap: bool = False,
) -> dict[str, Any]:
    """Create graph `graph` from scratch with GRAPH.BULK from columnar (Arrow/NumPy) input.

    The vectorised counterpart of `bulk_insert`, for large loads: values are encoded a column
    and a slice of rows at a time with Arrow and NumPy kernels, never one by one in Python.
    Same wire format, same graph for equivalent input, and the same guarantees: the key must
    not exist (checked before anything is sent), every column type, string and node id is
    validated before anything is sent (ValueError naming the block and column, never quoting
    a value), a failure after the first call deletes the partly loaded graph, and the node
    and relationship counts are checked once the calls are done (RuntimeError otherwise).

    Relationships of each block are sent sorted by source node id (stable), which the server
    loads several times faster; see `EdgeColumns`. `max_buffer_bytes`, `overlap` and
    `progress` are as for `bulk_insert` (progress reports the same multiples of
    `PROGRESS_EVERY`, then each kind's total). Memory held besides the input: the send budget,
    a slice's temporaries (a few times `_SLICE_BYTES`), and 8 bytes per relationship of the
    block being sent when it needs sorting.

    Returns {"nodes": created, "relationships": created, "seconds": wall time}.
    """
    start = time.perf_counter()
    _check_load_arguments(graph, max_buffer_bytes)
    for index, node_block in enumerate(nodes):
        if not isinstance(node_block, NodeColumns):
            raise ValueError(f"nodes[{index}] is a {type(node_block).__name__}, not a NodeColumns")
    for index, edge_block in enumerate(edges):
        if not isinstance(edge_block, EdgeColumns):
            raise ValueError(f"edges[{index}] is a {type(edge_block).__name__}, not an EdgeColumns")
    # (a table that is not one is refused with a proper message when its block is planned)
    blocks: tuple[NodeColumns | EdgeColumns, ...] = (*nodes, *edges)
    pad_name = _pad_name(
        name for block in blocks for name in getattr(block.table, "column_names", ())
    )
    node_plans = [_node_plan(block, pad_name) for block in nodes]
    node_total = sum(plan.rows for plan in node_plans)
    edge_plans = [_edge_plan(block, node_total) for block in edges]

    def write(sender: _Sender, report: _Progress) -> tuple[int, int]:
        done = 0
        for node_plan in node_plans:
            _stream_rows(sender, node_plan, report, done)
            done += node_plan.rows
        report.report("nodes", done)
        done = 0
        for edge_plan in edge_plans:
            edge_plan.order = _source_order(edge_plan.src, node_total)
            try:
                _stream_rows(sender, edge_plan, report, done)
            finally:
                edge_plan.order = None  # free it before the next block sorts its own
            done += edge_plan.rows
        report.report("relationships", done)
        return node_total, done

    return _load(conn, graph, max_buffer_bytes, overlap, progress, start, write)
