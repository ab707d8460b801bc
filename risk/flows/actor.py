"""Who is asking: the caller a flow acts for, and what its role lets it touch."""

from __future__ import annotations

from dataclasses import dataclass

# Roles that act for one customer at a time (a kiosk backend, the mobile-banking backend): they
# see only what their own key created, and never another customer's data.
CHANNEL_ROLES = ("kiosk", "mobile_banking")


@dataclass(frozen=True)
class Actor:
    """Who is asking: the key's name (recorded in the audit trail), role and id (ownership)."""

    name: str
    role: str
    key_id: str = ""

    @property
    def owns_only(self) -> bool:
        """True when this caller may touch only the assessments its own key created."""
        return self.role in CHANNEL_ROLES
