"""Integer codes the generators use for relation kinds, relation sources, vouch outcomes, labels."""

from __future__ import annotations

import numpy as np

from etl.sources import KIN_KINDS, LABEL_KINDS, RELATION_SOURCES, SOCIAL_KINDS, VOUCH_OUTCOMES
from graph.vocab import RelationKind

# Relation kinds: one code space over KIN_KINDS + SOCIAL_KINDS.
RELATION_KINDS = KIN_KINDS + SOCIAL_KINDS
KIND_CODE = {k: i for i, k in enumerate(RELATION_KINDS)}
N_KIN = len(KIN_KINDS)
INVERSE_KIND = np.arange(len(RELATION_KINDS))
INVERSE_KIND[
    [
        KIND_CODE[RelationKind.PARENT],
        KIND_CODE[RelationKind.CHILD],
        KIND_CODE[RelationKind.GRANDPARENT],
        KIND_CODE[RelationKind.GRANDCHILD],
    ]
] = [
    KIND_CODE[RelationKind.CHILD],
    KIND_CODE[RelationKind.PARENT],
    KIND_CODE[RelationKind.GRANDCHILD],
    KIND_CODE[RelationKind.GRANDPARENT],
]
# Kinds where "src is <kind> of dst" reads the same both ways; their rows have src < dst.
SYMMETRIC_KIND = np.ones(len(RELATION_KINDS), dtype=bool)
SYMMETRIC_KIND[
    [
        KIND_CODE[RelationKind.PARENT],
        KIND_CODE[RelationKind.CHILD],
        KIND_CODE[RelationKind.GRANDPARENT],
        KIND_CODE[RelationKind.GRANDCHILD],
    ]
] = False
SYMMETRIC_KIND[KIND_CODE[RelationKind.EMERGENCY_CONTACT]] = False
BANK, REGISTRY, DECLARED = (RELATION_SOURCES.index(s) for s in RELATION_SOURCES)
OUTCOME_CODE = {o: i for i, o in enumerate(VOUCH_OUTCOMES)}
LABEL_CODE = {k: i for i, k in enumerate(LABEL_KINDS)}
