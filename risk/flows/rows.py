"""Typed rows between the store and the flows: one dataclass per query result, built in one
place (`from_row`), whose fields are the query's RETURN names (tests/risk/test_rows.py checks
each against its query), so nothing reads a result by a name the query does not return."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

from graph import queries as q
from risk.scorecard import IN, OUT, RelationshipPath

R = TypeVar("R")


def from_row(cls: type[R], row: Mapping[str, Any]) -> R:
    """`cls` built from a result row; a name the row lacks is a KeyError naming it."""
    return cls(**{f.name: row[f.name] for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True, kw_only=True)
class TieRow:
    """One kinship or social tie between an applicant and a related customer."""

    QUERY: ClassVar[q.Query] = q.TIES_BETWEEN

    type: str
    kind: str
    source: str
    candidate_is_src: bool

    def path(self) -> RelationshipPath:
        return RelationshipPath(
            self.type, self.kind, self.source, OUT if self.candidate_is_src else IN
        )


@dataclass(frozen=True, kw_only=True)
class PersonRow:
    """What the scorecards read about one person; a category not consented comes back None."""

    QUERY: ClassVar[q.Query] = q.PERSON_EVIDENCE

    status: str | None
    birth_date: int | None
    opened_at: int | None
    address_present: bool | None
    movement_as_of: int | None
    out_total: float | None
    out_count: int | None
    counterparties: int | None
    max_out: float | None
    out_count_30d: int | None
    credit_grade: str | None
    rejections: list[dict[str, Any]]
    blacklist_entries: int | None
    vouches: list[dict[str, Any]]

    @property
    def blacklisted(self) -> bool:
        return int(self.blacklist_entries or 0) > 0


@dataclass(frozen=True, kw_only=True)
class RelatedRow:
    """A customer related to the applicant, with what eligibility needs to know of them."""

    QUERY: ClassVar[q.Query] = q.RELATED_CUSTOMERS

    id: str
    name: str | None
    status: str | None
    opened_at: int | None
    credit_grade: str | None
    graph_risk: float | None
    ties: list[dict[str, Any]]
    blacklist_entries: int | None
    vouches: list[dict[str, Any]]
    phones: int
    shared_phones: int
    devices: int
    shared_devices: int
    device_cluster: bool
    transfer_ring: bool
    same_person: bool | None

    @property
    def blacklisted(self) -> bool:
        return int(self.blacklist_entries or 0) > 0

    def tie_rows(self) -> tuple[TieRow, ...]:
        return tuple(from_row(TieRow, t) for t in self.ties)


ROWS: tuple[type[Any], ...] = (TieRow, PersonRow, RelatedRow)
