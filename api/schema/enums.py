"""The GraphQL enums, built from graph/vocab.py and from the loaded policy's businesses.

A GraphQL value is its vocabulary member's name (`ConsentCategory.BASIC_INFO`); the resolvers
pass the member's value (`"basic_info"`) on to the flows, as stored in the graph.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import TYPE_CHECKING, cast

import strawberry

from graph import vocab
from risk.policy import load_policy


def business_enum(businesses: Iterable[str]) -> type[StrEnum]:
    """A `Business` enum with one member per business the policy configures, in its order."""
    # the functional API makes a class (mypy reads the call as a member's construction)
    return cast(type[StrEnum], StrEnum("Business", {name: name for name in businesses}))


# The policy the service loads ($VOUCHGRAPH_POLICY, else the shipped one) names the businesses:
# adding one to the policy file adds it here, with no code to edit. (A type checker sees a
# StrEnum: the members exist only once the policy is read.)
if TYPE_CHECKING:
    Business = StrEnum
else:
    Business = strawberry.enum(business_enum(load_policy().businesses), name="Business")

# The vocabulary's own classes, registered under today's GraphQL names.
for _cls, _name in (
    (vocab.IdCheck, "IdCheck"),
    (vocab.Channel, "Channel"),
    (vocab.ReportedOutcome, "Outcome"),
    (vocab.FirstOutcome, "AssessmentOutcome"),
    (vocab.FinalOutcome, "DecisionOutcome"),
    (vocab.ConsentCategory, "ConsentCategory"),
):
    strawberry.enum(_cls, name=_name)
IdCheck = vocab.IdCheck
Channel = vocab.Channel
Outcome = vocab.ReportedOutcome
AssessmentOutcome = vocab.FirstOutcome
DecisionOutcome = vocab.FinalOutcome
ConsentCategory = vocab.ConsentCategory
