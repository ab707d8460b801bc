"""The analysts' customer read: a risk summary with masked personal data."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from api.context import Context, allow
from graph.vocab import Role

ANALYSTS = (Role.ANALYST, Role.ADMIN)


@strawberry.type(description="A customer's risk summary; personal data masked.")
class CustomerSummary:
    id: strawberry.ID
    display_name: str
    status: str | None
    credit_grade: str | None
    graph_risk: float | None = strawberry.field(
        description="The batch graph-model score (vouchgraph score), a calibrated probability."
    )
    graph_band: str | None
    graph_model: str | None = strawberry.field(description="The model version of graph_risk.")
    blacklisted: bool
    relations: int
    rejections: int
    vouches_given: int
    vouches_received: int
    bad_vouch_outcomes: int


@strawberry.type
class CustomerQuery:
    @strawberry.field(description="A customer's risk summary with masked personal data.")
    async def customer(self, info: Info[Context, None], id: strawberry.ID) -> CustomerSummary:
        ctx = allow(info, ANALYSTS)
        return CustomerSummary(**await ctx.customers.load(str(id)))
