"""Who is asking: the caller a flow acts for, and what its role lets it touch."""

from __future__ import annotations

from dataclasses import dataclass

from graph.vocab import Role

# Roles that act for one customer at a time (a kiosk backend, the mobile-banking backend): they
# see only what their own key created, and never another customer's data.
CHANNEL_ROLES = (Role.KIOSK, Role.MOBILE_BANKING)


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
