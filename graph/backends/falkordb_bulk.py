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
"""

from __future__ import annotations

import contextlib
import numbers
import struct
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import redis

__all__ = ["EdgeBlock", "NodeBlock", "bulk_insert"]

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


def _count(conn: redis.Redis, graph: str, query: str) -> int:
    reply = conn.execute_command("GRAPH.RO_QUERY", graph, query)
    return int(reply[1][0][0])


def _verify_counts(conn: redis.Redis, graph: str, nodes: int, edges: int) -> None:
    """Check the loaded graph holds what was sent (GRAPH.BULK only echoes declared counts)."""
    got_nodes = _count(conn, graph, "MATCH (n) RETURN count(n)")
    got_edges = _count(conn, graph, "MATCH ()-[r]->() RETURN count(r)")
    if (got_nodes, got_edges) != (nodes, edges):
        raise RuntimeError(
            f"graph {graph!r} holds {got_nodes} nodes / {got_edges} relationships after "
            f"GRAPH.BULK, expected {nodes} / {edges}"
        )


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
    _check_name("graph name", graph)
    if isinstance(max_buffer_bytes, bool) or not isinstance(max_buffer_bytes, int):
        raise ValueError(f"max_buffer_bytes must be an int, got {max_buffer_bytes!r}")
    if not 0 < max_buffer_bytes <= MAX_BUFFER_BYTES:
        raise ValueError(f"max_buffer_bytes must be in [1, {MAX_BUFFER_BYTES}]")
    for index, block in enumerate(nodes):
        if not isinstance(block, NodeBlock):
            raise ValueError(f"nodes[{index}] is a {type(block).__name__}, not a NodeBlock")
    for index, block in enumerate(edges):
        if not isinstance(block, EdgeBlock):
            raise ValueError(f"edges[{index}] is a {type(block).__name__}, not an EdgeBlock")
    # Property name for the always-null placeholder of property-less nodes: reuse a real
    # one so that no extra property key appears in the graph, if the load has any.
    pad_name = next(
        (p for block in (*nodes, *edges) for p in block.properties if isinstance(p, str) and p),
        PAD_PROPERTY,
    )
    node_headers = [_node_header(block, pad_name) for block in nodes]
    edge_headers = [
        _header("relationship type", (block.rel_type,), tuple(block.properties)) for block in edges
    ]
    if conn.exists(graph):
        raise ValueError(f"graph {graph!r} already exists; GRAPH.BULK only loads a new graph")

    sender = _Sender(conn, graph, max_buffer_bytes, overlap)
    report = _Progress(progress)
    try:
        node_total = 0
        for block, header in zip(nodes, node_headers, strict=True):
            node_total += _write_nodes(sender, block, header, node_total, report)
        report.report("nodes", node_total)
        edge_total = 0
        for block, header in zip(edges, edge_headers, strict=True):
            edge_total += _write_edges(sender, block, header, node_total, report, edge_total)
        report.report("relationships", edge_total)
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
