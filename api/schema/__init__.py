"""The GraphQL schema: one root Query and Mutation assembled from each flow's module.

`enums` and `scores` hold what the flows share; `kiosk` is Flow A, `customers` the analysts'
customer read, `analyst` the workbench's operations. Resolvers are thin calls into
`risk.flows`; api/app.py builds the Schema.
"""

from __future__ import annotations

from strawberry.tools import merge_types

from api.schema.analyst import AnalystMutation, AnalystQuery
from api.schema.customers import CustomerQuery, CustomerSummary
from api.schema.enums import (
    AssessmentOutcome,
    Business,
    Channel,
    ConsentCategory,
    DecisionOutcome,
    IdCheck,
    Outcome,
    business_enum,
)
from api.schema.kiosk import (
    AssessInput,
    Assessment,
    AssistRequest,
    AssistRequestDetails,
    Decision,
    GuarantorCandidate,
    GuarantorVerificationInput,
    KioskMutation,
    KioskQuery,
    RelationshipPath,
    assessment_type,
    decision_type,
)
from api.schema.scores import Score, ScoreItem

Query = merge_types("Query", (KioskQuery, CustomerQuery, AnalystQuery))
Mutation = merge_types("Mutation", (KioskMutation, AnalystMutation))

__all__ = [
    "AssessInput",
    "Assessment",
    "AssessmentOutcome",
    "AssistRequest",
    "AssistRequestDetails",
    "Business",
    "Channel",
    "ConsentCategory",
    "CustomerSummary",
    "Decision",
    "DecisionOutcome",
    "GuarantorCandidate",
    "GuarantorVerificationInput",
    "IdCheck",
    "Mutation",
    "Outcome",
    "Query",
    "RelationshipPath",
    "Score",
    "ScoreItem",
    "assessment_type",
    "business_enum",
    "decision_type",
]
