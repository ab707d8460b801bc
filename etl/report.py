"""The end-of-load report, per file and for the whole graph, that both load paths fill in."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from etl.validate import RowError
from graph import queries as q
from graph.store import GraphStore

MAX_REJECTIONS_SHOWN = 20


@dataclass
class FileReport:
    """What happened to one source file."""

    source: str
    file: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejections: list[str] = field(default_factory=list)
    note: str | None = None
    seconds: float = 0.0

    def reject(self, error: RowError) -> None:
        self.rows_rejected += 1
        if len(self.rejections) < MAX_REJECTIONS_SHOWN:
            self.rejections.append(str(error))


@dataclass
class LoadReport:
    """The end-of-load report: per file, graph deltas, rate and time."""

    folder: str
    backend: str
    mode: str
    files: list[FileReport] = field(default_factory=list)
    nodes_before: dict[str, int] = field(default_factory=dict)
    nodes_after: dict[str, int] = field(default_factory=dict)
    relationships_before: dict[str, int] = field(default_factory=dict)
    relationships_after: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rows_read(self) -> int:
        return sum(f.rows_read for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)

    @property
    def nodes_written(self) -> int:
        return sum(self.nodes_after.values()) - sum(self.nodes_before.values())

    @property
    def relationships_written(self) -> int:
        return sum(self.relationships_after.values()) - sum(self.relationships_before.values())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        rate = self.rows_read / self.seconds if self.seconds else 0.0
        data.update(
            rows_read=self.rows_read,
            rows_rejected=self.rows_rejected,
            nodes_written=self.nodes_written,
            relationships_written=self.relationships_written,
            rows_per_second=round(rate, 1),
        )
        return data

    def render(self) -> str:
        lines = [f"Loaded {self.folder} into {self.backend} ({self.mode})", ""]
        lines.append(f"{'file':<22}{'read':>12}{'loaded':>12}{'rejected':>10}{'seconds':>9}")
        for f in self.files:
            if f.note:
                lines.append(f"{f.source:<22}{f.note}")
                continue
            lines.append(
                f"{f.source:<22}{f.rows_read:>12,}{f.rows_loaded:>12,}"
                f"{f.rows_rejected:>10,}{f.seconds:>9.1f}"
            )
        for f in self.files:
            for reason in f.rejections:
                lines.append(f"  rejected {reason}")
            if f.rows_rejected > len(f.rejections):
                lines.append(f"  ... and {f.rows_rejected - len(f.rejections):,} more in {f.file}")
        rate = self.rows_read / self.seconds if self.seconds else 0.0
        lines += [
            "",
            f"nodes written: {self.nodes_written:,}   relationships written: "
            f"{self.relationships_written:,}",
            f"{self.rows_read:,} rows in {self.seconds:.1f}s ({rate:,.0f} rows/s)",
        ]
        return "\n".join(lines)


def graph_counts(store: GraphStore) -> tuple[dict[str, int], dict[str, int]]:
    """(node count by label, relationship count by type) of the whole graph."""
    nodes = {r["label"]: int(r["count"]) for r in store.run(q.NODE_COUNTS)}
    rels = {r["type"]: int(r["count"]) for r in store.run(q.RELATIONSHIP_COUNTS)}
    return nodes, rels
