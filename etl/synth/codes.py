"""Integer codes the generators use for relation kinds, relation sources, vouch outcomes, labels."""

from __future__ import annotations

import numpy as np

from etl.sources import KIN_KINDS, LABEL_KINDS, RELATION_SOURCES, SOCIAL_KINDS, VOUCH_OUTCOMES

# Relation kinds: one code space over KIN_KINDS + SOCIAL_KINDS.
RELATION_KINDS = KIN_KINDS + SOCIAL_KINDS
KIND_CODE = {k: i for i, k in enumerate(RELATION_KINDS)}
N_KIN = len(KIN_KINDS)
INVERSE_KIND = np.arange(len(RELATION_KINDS))
INVERSE_KIND[
    [KIND_CODE["parent"], KIND_CODE["child"], KIND_CODE["grandparent"], KIND_CODE["grandchild"]]
] = [KIND_CODE["child"], KIND_CODE["parent"], KIND_CODE["grandchild"], KIND_CODE["grandparent"]]
# Kinds where "src is <kind> of dst" reads the same both ways; their rows have src < dst.
SYMMETRIC_KIND = np.ones(len(RELATION_KINDS), dtype=bool)
SYMMETRIC_KIND[
    [KIND_CODE["parent"], KIND_CODE["child"], KIND_CODE["grandparent"], KIND_CODE["grandchild"]]
] = False
SYMMETRIC_KIND[KIND_CODE["emergency_contact"]] = False
BANK, REGISTRY, DECLARED = (RELATION_SOURCES.index(s) for s in RELATION_SOURCES)
OUTCOME_CODE = {o: i for i, o in enumerate(VOUCH_OUTCOMES)}
LABEL_CODE = {k: i for i, k in enumerate(LABEL_KINDS)}
