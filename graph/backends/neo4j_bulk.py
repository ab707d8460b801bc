"""A first load into the local Neo4j through `neo4j-admin database import full`.

The same columns that FalkorDB's GRAPH.BULK takes (`NodeColumns` / `EdgeColumns`) are written
as the importer's CSV files, one header file and one data file per node block and per
relationship type, with pyarrow's CSV writer (lists joined into one string per value with
Arrow kernels, no loop over values). The server is stopped while the importer rewrites the
`neo4j` database and started again on the same port, whatever the import's outcome.

How the importer reads the files, checked against Neo4j 5.26 (tests/etl/test_neo4j_bulk.py;
tests/etl/test_load.py compares a bulk-loaded graph with an incremental one, on both backends):

- an unquoted empty field is no property at all, and a quoted `""` is the empty string (with
  `--ignore-empty-strings=false`, the default). pyarrow's writer quotes every string and
  writes a null as an unquoted empty field, so null stays "absent" and "" stays "".
- a doubled quote inside a quoted field is one quote; a backslash is an ordinary character
  (`--legacy-style-quoting=false`); commas and spaces inside quotes are kept as they are.
- an array is one field split on `--array-delimiter`. A field holding no characters is no
  property, so an empty list (and the list `[""]`, written the same way) cannot be imported:
  both are refused, as are lists with a null element (Neo4j has no null inside a list),
  nested lists and values holding the delimiter.
- line breaks inside values need `--multiline-fields=true` (slower), passed only when a
  value has one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from graph import neo4j_local
from graph.bulk import EdgeColumns, NodeColumns
from graph.errors import StoreError, StoreUnavailable


class ImportTarget(Protocol):
    """The store an import fills (a `Neo4jStore`; named by what the import needs of it, so
    the driver's module, which makes this loader, is not imported back)."""

    @property
    def uri(self) -> str: ...

    @property
    def database(self) -> str | None: ...

    def is_empty(self) -> bool: ...

    def ensure_schema(self) -> None: ...


DATABASE = "neo4j"  # Community edition: the one user database
#: ASCII unit separator between the elements of a list: no text the sources accept holds a
#: control character, and every value is checked before it is written.
ARRAY_DELIMITER = "\x1f"
IMPORT_HEAP = os.environ.get("VOUCHGRAPH_NEO4J_IMPORT_HEAP", "1g")
#: The importer takes 90 % of the machine's memory for its caches unless told otherwise.
IMPORT_MEMORY = os.environ.get("VOUCHGRAPH_NEO4J_IMPORT_MEMORY", "1g")
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost"})
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LINE_BREAK = r"[\r\n]"
_WRITE = pcsv.WriteOptions(include_header=False, batch_size=65_536, quoting_style="needed")
REMOTE_NEO4J = (
    "bulk import needs the local Neo4j (vouchgraph neo4j start); "
    "a remote server is loaded incrementally"
)


class BulkImportError(StoreError):
    """The bulk import into the local Neo4j failed; the message names the step, never data."""


def local_server(
    uri: str, database: str | None, home: Path | None = None
) -> neo4j_local.Neo4jServer | None:
    """The running local Neo4j of `home` when `uri` and `database` name it, else None."""
    if database not in (None, DATABASE):
        return None
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("bolt", "neo4j") or parts.hostname not in _LOCAL_HOSTS:
        return None
    server = neo4j_local.running(home or neo4j_local.default_home())
    if server is None or server.port != port:
        return None
    return server


def _checked_name(name: str) -> str:
    # property names come from the code, never from the data: safe to name in an error
    if not _NAME.match(name):
        raise BulkImportError(f"property name {name!r} cannot be a CSV header field")
    return name


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def _scalar_kind(kind: pa.DataType) -> str | None:
    """The importer's type for an Arrow scalar type, None for the null type."""
    if pa.types.is_null(kind):
        return None
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "string"
    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind):
        return "long"
    if pa.types.is_floating(kind):
        return "double"
    raise BulkImportError(f"type {kind} cannot be bulk-imported into Neo4j")


def _check_values(name: str, kind: str, values: pa.ChunkedArray | pa.Array) -> bool:
    """Refuse values the importer would change; True when some text holds a line break."""
    if kind == "double" and pc.any(pc.invert(pc.is_finite(values))).as_py():
        raise BulkImportError(f"property {name}: NaN or infinity cannot be bulk-imported")
    too_big = pa.types.is_uint64(values.type) and len(values) and pc.max(values).as_py()
    if too_big and too_big > np.iinfo(np.int64).max:
        raise BulkImportError(f"property {name}: an integer exceeds 64 bits")
    if kind == "string" and len(values):
        return bool(pc.any(pc.match_substring_regex(values, _LINE_BREAK)).as_py())
    return False


def _csv_field(name: str, column: pa.ChunkedArray) -> tuple[str, pa.ChunkedArray, bool] | None:
    """A header field, the column to write and whether it has line breaks; None to leave
    out a column of nulls only (no node has that property)."""
    column = _decoded(column)
    kind = column.type
    if not (pa.types.is_list(kind) or pa.types.is_large_list(kind)):
        scalar = _scalar_kind(kind)
        if scalar is None:
            return None
        breaks = _check_values(name, scalar, column)
        if scalar == "long":
            column = column.cast(pa.int64())
        elif scalar == "double":
            column = column.cast(pa.float64())
        return f"{_checked_name(name)}:{scalar}", column, breaks
    element = kind.value_type
    if pa.types.is_dictionary(element):
        element = element.value_type
        column = column.cast(pa.list_(element))
    if pa.types.is_list(element) or pa.types.is_large_list(element):
        raise BulkImportError(f"property {name}: nested lists cannot be bulk-imported into Neo4j")
    scalar = _scalar_kind(element)
    if scalar is None:
        scalar = "string"  # lists of nulls only: refused below, as every null element is
    flat = pc.list_flatten(column)
    if flat.null_count:
        raise BulkImportError(f"property {name}: a list holds a null (Neo4j lists cannot)")
    breaks = _check_values(name, scalar, flat)
    if (
        scalar == "string"
        and len(flat)
        and pc.any(pc.match_substring(flat, ARRAY_DELIMITER)).as_py()
    ):
        raise BulkImportError(f"property {name}: a list element holds the array delimiter U+001F")
    joined = pc.binary_join(column.cast(pa.list_(pa.string())), ARRAY_DELIMITER)
    if len(joined) and pc.any(pc.equal(joined, "")).as_py():
        # written as an empty field, which the importer reads as "no property"
        raise BulkImportError(
            f'property {name}: an empty list or the list [""] cannot be bulk-imported'
        )
    return f"{_checked_name(name)}:{scalar}[]", joined, breaks


def _write(
    folder: Path, stem: str, leading: Sequence[tuple[str, pa.Array]], table: pa.Table | None
) -> tuple[str, bool]:
    """Write `stem`.header.csv and `stem`.csv; the importer's file list and whether some
    value has a line break."""
    header = [field for field, _ in leading]
    columns = [array for _, array in leading]
    breaks = False
    if table is not None:
        for name in table.column_names:
            found = _csv_field(name, table[name])
            if found is None:
                continue
            header.append(found[0])
            columns.append(found[1])
            breaks = breaks or found[2]
    header_path, data_path = folder / f"{stem}.header.csv", folder / f"{stem}.csv"
    header_path.write_text(",".join(header) + "\n", encoding="utf-8")
    data = pa.table(columns, names=[f"c{i}" for i in range(len(columns))])
    pcsv.write_csv(data, data_path, _WRITE)
    return f"{header_path},{data_path}", breaks


def write_import_files(
    folder: Path, nodes: Sequence[NodeColumns], edges: Sequence[EdgeColumns]
) -> tuple[list[str], bool]:
    """Write the importer's input files into `folder`; its `--nodes` / `--relationships`
    arguments and whether `--multiline-fields` is needed."""
    arguments: list[str] = []
    multiline = False
    offset = 0
    for number, block in enumerate(nodes):
        rows = block.table.num_rows
        ids = pa.array(np.arange(offset, offset + rows, dtype=np.int64))
        offset += rows
        if rows == 0:
            continue
        labels = ":".join(_checked_name(label) for label in (block.label, *block.extra_labels))
        files, breaks = _write(folder, f"nodes-{number}", [(":ID", ids)], block.table)
        arguments.append(f"--nodes={labels}={files}")
        multiline = multiline or breaks
    for number, edge in enumerate(edges):
        if len(edge.src) == 0:
            continue
        ends = [
            (":START_ID", pa.array(np.asarray(edge.src, dtype=np.int64))),
            (":END_ID", pa.array(np.asarray(edge.dst, dtype=np.int64))),
        ]
        files, breaks = _write(folder, f"rels-{number}", ends, edge.table)
        arguments.append(f"--relationships={_checked_name(edge.rel_type)}={files}")
        multiline = multiline or breaks
    return arguments, multiline


def _run_importer(
    home: Path, folder: Path, arguments: list[str], on_line: Callable[[str], None] | None
) -> int:
    java = neo4j_local.java_executable()
    lib = neo4j_local.lib_dir(home)
    command = [
        *neo4j_local.jvm_command(java, lib, "org.neo4j.cli.AdminTool", IMPORT_HEAP),
        "database",
        "import",
        "full",
        DATABASE,
        "--overwrite-destination=true",
        "--id-type=integer",
        f"--array-delimiter=U+{ord(ARRAY_DELIMITER):04X}",
        '--quote="',
        "--ignore-empty-strings=false",
        "--legacy-style-quoting=false",
        "--trim-strings=false",
        f"--max-off-heap-memory={IMPORT_MEMORY}",
        # the report lists bad entries with their values: it stays in the private folder
        f"--report-file={folder / 'import.report'}",
        *arguments,
    ]
    env = {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(home / "conf")}
    # stderr carries the importer's error, which may quote a value: kept out of sight
    with open(folder / "stderr.txt", "wb") as errors:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
            cwd=folder,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        try:
            assert proc.stdout is not None
            for line in proc.stdout:  # the phases and the progress dots, with counts only
                if on_line is not None and line.strip():
                    on_line(line.rstrip("\n"))
            return proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise


def _remove_database_files(home: Path) -> None:
    """Delete what a failed import left of the `neo4j` database (Neo4j warns that the server
    cannot use it), so that the server starts it again empty, as it was before the import."""
    data = home / "data"
    for path in (data / "databases" / DATABASE, data / "transactions" / DATABASE):
        shutil.rmtree(path, ignore_errors=True)


def import_columns(
    home: Path,
    nodes: Sequence[NodeColumns],
    edges: Sequence[EdgeColumns],
    on_line: Callable[[str], None] | None = None,
) -> neo4j_local.Neo4jServer:
    """Replace the `neo4j` database of the local Neo4j of `home` with these nodes and
    relationships; returns the server, running again on its port.

    Meant for an empty database (a first load): whatever it held is gone. `on_line` gets the
    importer's progress lines. A failure raises BulkImportError naming the step; the server
    is started again all the same (on an empty database when the import itself failed).
    """
    if sum(block.table.num_rows for block in nodes) == 0:
        server = neo4j_local.ensure_running(home)
        return server  # nothing to import; the importer refuses an empty input
    before = neo4j_local.running(home)
    import_dir = home / "import"
    import_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="bulk-", dir=import_dir))  # 0700: personal data
    try:
        try:
            arguments, multiline = write_import_files(folder, nodes, edges)
        except (OSError, pa.ArrowException) as exc:
            raise BulkImportError(
                f"bulk import: writing the import files failed ({type(exc).__name__})"
            ) from None
        if multiline:
            arguments.append("--multiline-fields=true")
        with neo4j_local.offline(home):
            try:
                code = _run_importer(home, folder, arguments, on_line)
            except OSError as exc:
                _remove_database_files(home)
                raise BulkImportError(
                    f"bulk import: starting neo4j-admin failed ({type(exc).__name__})"
                ) from None
            except BaseException:
                _remove_database_files(home)
                raise
            if code != 0:
                _remove_database_files(home)
                raise BulkImportError(
                    f"bulk import: neo4j-admin database import failed (exit code {code}); "
                    "the database is empty again; load without --bulk to see which rows fail"
                )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    server = neo4j_local.ensure_running(home)
    if before is not None and server.port != before.port:
        raise StoreUnavailable(
            f"the local Neo4j came back on port {server.port} (its port was taken); "
            'point the URI at it: eval "$(vouchgraph neo4j start --env)"'
        )
    return server


def _print_line(line: str) -> None:
    """Show one progress line of neo4j-admin on the terminal (stderr, like the bars)."""
    print(line, file=sys.stderr, flush=True)


class Neo4jBulkLoader:
    """A first load through `neo4j-admin database import full`, for the local Neo4j only: the
    importer rewrites the database files, which only a server of our own lets us do."""

    def __init__(self, store: ImportTarget, home: Path | None = None) -> None:
        self.store = store
        self.home = home or neo4j_local.default_home()

    def refusal(self) -> str | None:
        if local_server(self.store.uri, self.store.database, self.home) is None:
            return REMOTE_NEO4J
        return None

    def load(
        self, nodes: Sequence[NodeColumns], edges: Sequence[EdgeColumns], progress: bool
    ) -> None:
        reason = self.refusal()
        if reason is not None:
            raise StoreError(f"bulk import not possible: {reason}")
        if not self.store.is_empty():  # the import replaces the whole database: never over data
            raise StoreError("the graph is not empty (bulk is for a first load)")
        try:
            import_columns(self.home, nodes, edges, on_line=_print_line if progress else None)
        except (OSError, subprocess.SubprocessError) as exc:  # the import folder, a restart
            raise BulkImportError(f"bulk import failed ({type(exc).__name__})") from None
        self.store.ensure_schema()
