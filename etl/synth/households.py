"""Household templates: who lives together, in which roles, and how they are kin."""

from __future__ import annotations

import numpy as np

# Household templates: member roles and kin pairs (i, j, kind) read as "member i is <kind> of
# member j". Roles: ROLE_ELDER is the head's parent.
ROLE_HEAD, ROLE_SPOUSE, ROLE_CHILD, ROLE_ELDER = 0, 1, 2, 3
TEMPLATES: tuple[tuple[tuple[int, ...], tuple[tuple[int, int, str], ...]], ...] = (
    ((ROLE_HEAD,), ()),
    ((ROLE_HEAD, ROLE_SPOUSE), ((0, 1, "spouse"),)),
    ((ROLE_HEAD, ROLE_CHILD), ((0, 1, "parent"),)),
    ((ROLE_HEAD, ROLE_SPOUSE, ROLE_CHILD), ((0, 1, "spouse"), (0, 2, "parent"), (1, 2, "parent"))),
    (
        (ROLE_HEAD, ROLE_SPOUSE, ROLE_ELDER),
        ((0, 1, "spouse"), (2, 0, "parent"), (2, 1, "other_kin")),
    ),
    (
        (ROLE_HEAD, ROLE_SPOUSE, ROLE_CHILD, ROLE_CHILD),
        (
            (0, 1, "spouse"),
            (0, 2, "parent"),
            (0, 3, "parent"),
            (1, 2, "parent"),
            (1, 3, "parent"),
            (2, 3, "sibling"),
        ),
    ),
    (
        (ROLE_ELDER, ROLE_HEAD, ROLE_SPOUSE, ROLE_CHILD, ROLE_CHILD),
        (
            (0, 1, "parent"),
            (0, 2, "other_kin"),
            (0, 3, "grandparent"),
            (0, 4, "grandparent"),
            (1, 2, "spouse"),
            (1, 3, "parent"),
            (1, 4, "parent"),
            (2, 3, "parent"),
            (2, 4, "parent"),
            (3, 4, "sibling"),
        ),
    ),
)
HOUSEHOLD_SIZE_P = (0.30, 0.25, 0.20, 0.17, 0.08)  # households of 1..5 members
ROLE_TABLE = np.full((len(TEMPLATES), 5), -1)
for _t, (_roles, _pairs) in enumerate(TEMPLATES):
    ROLE_TABLE[_t, : len(_roles)] = _roles
FIRST_CHILD = np.array(
    [[r for r in roles].index(ROLE_CHILD) if ROLE_CHILD in roles else 0 for roles, _ in TEMPLATES]
)


# --------------------------------------------------------------------------------------------
# The bank in memory.
