"""The words every package shares: stored values, check results, categories, time units.

Each vocabulary is defined once here and imported by `etl` (the source format and the synthetic
bank), `ml`, `risk` (policy, scorecards, flows) and `api` (the GraphQL enums are built from these
classes). A `StrEnum` member *is* its string (`Channel.SMS == "SMS"`), and its value is the
string that sits in source files, in the graph and in the policy file, so moving a comparison
from a raw string to a member changes no stored byte. GraphQL shows the member *names*
(`ConsentCategory.BASIC_INFO`, stored as "basic_info").

Tuples of members keep the order the format and the policy use (e.g. credit grades best
first); `names(...)` gives them as plain strings for error messages and Arrow value sets.

What is not here on purpose: businesses (the policy names them, risk/policy.toml), reason and
item codes (risk/scorecard.py), Cypher labels (graph/queries.py: Cypher is data).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

# --- time -------------------------------------------------------------------------------------
# Times in the graph are epoch milliseconds; the policy counts seconds and days.

MS_PER_S = 1000
S_PER_DAY = 86_400
DAY_MS = S_PER_DAY * MS_PER_S  # milliseconds in a day
# The Gregorian year, for ages and tenures (the flows' and the model's). The synthetic bank's
# clock keeps its own 365.25-day YEAR: changing it would change every generated file.
DAYS_PER_YEAR = 365.2425

# --- where the policy is ----------------------------------------------------------------------

POLICY_ENV = "VOUCHGRAPH_POLICY"  # names the policy file; else risk/policy.toml is used


def names(members: Iterable[str]) -> tuple[str, ...]:
    """Members as plain strings, in order (for messages, value sets and `choices`)."""
    return tuple(str(m) for m in members)


# --- identity checks --------------------------------------------------------------------------


class IdCheck(StrEnum):
    """An ID card read against the bank's records (kiosk or phone): its number and chip."""

    MATCH = "MATCH"
    NOT_FOUND = "NOT_FOUND"  # the ID number is unknown to the bank
    CHIP_MISMATCH = "CHIP_MISMATCH"  # the chip code differs from the bank's record


class HouseholdCheck(StrEnum):
    """The applicant checked against the household registry (where it is authorised)."""

    MATCH = "MATCH"
    MISMATCH = "MISMATCH"
    NOT_FOUND = "NOT_FOUND"


# --- customers --------------------------------------------------------------------------------


class AccountStatus(StrEnum):
    """A customer account's status, as the bank's core system records it."""

    ACTIVE = "active"
    DORMANT = "dormant"
    CLOSED = "closed"


class Gender(StrEnum):
    """A customer's recorded gender (loaded, never scored: not a lawful basis for risk)."""

    F = "F"
    M = "M"
    X = "X"


class CreditGrade(StrEnum):
    """A credit grade; the members are in order, best first (AAA) to worst (D)."""

    AAA = "AAA"
    AA = "AA"
    A = "A"
    BBB = "BBB"
    BB = "BB"
    B = "B"
    C = "C"
    D = "D"


CREDIT_GRADES: tuple[CreditGrade, ...] = tuple(CreditGrade)  # best first


class ConsentCategory(StrEnum):
    """A category of personal data a customer may consent to (as on Consent nodes)."""

    BASIC_INFO = "basic_info"
    FACE = "face"
    IDENTITY = "identity"
    REJECTION_HISTORY = "rejection_history"
    TRANSACTIONS = "transactions"
    VOUCHING_HISTORY = "vouching_history"
    CREDIT = "credit"
    DEVICE_DATA = "device_data"
    HOUSEHOLD_REGISTRY = "household_registry"


class LabelKind(StrEnum):
    """What kind of fraud a customer's label records (`none` for a known-good customer)."""

    NONE = "none"
    MULE = "mule"
    COLLUSION = "collusion"
    TELECOM_VICTIM = "telecom_victim"
    FRAUD = "fraud"


# --- relationships ----------------------------------------------------------------------------


class RelationType(StrEnum):
    """A tie between two customers; also the graph's relationship type (KIN / SOCIAL edges)."""

    KIN = "KIN"
    SOCIAL = "SOCIAL"


class RelationKind(StrEnum):
    """What the source of a KIN or SOCIAL tie is to its target, e.g. `parent`."""

    SPOUSE = "spouse"
    PARENT = "parent"
    CHILD = "child"
    SIBLING = "sibling"
    GRANDPARENT = "grandparent"
    GRANDCHILD = "grandchild"
    OTHER_KIN = "other_kin"
    COLLEAGUE = "colleague"
    FRIEND = "friend"
    CLASSMATE = "classmate"
    NEIGHBOUR = "neighbour"
    EMERGENCY_CONTACT = "emergency_contact"
    SHARED_ADDRESS = "shared_address"


KIN_KINDS: tuple[RelationKind, ...] = (
    RelationKind.SPOUSE,
    RelationKind.PARENT,
    RelationKind.CHILD,
    RelationKind.SIBLING,
    RelationKind.GRANDPARENT,
    RelationKind.GRANDCHILD,
    RelationKind.OTHER_KIN,
)
SOCIAL_KINDS: tuple[RelationKind, ...] = tuple(k for k in RelationKind if k not in KIN_KINDS)


class RelationSource(StrEnum):
    """Where the bank learnt of a tie."""

    BANK = "bank"
    HOUSEHOLD_REGISTRY = "household_registry"
    CUSTOMER_DECLARED = "customer_declared"


class Direction(StrEnum):
    """A tie seen from a candidate guarantor: OUT when the stored edge runs candidate ->
    applicant (the candidate is the applicant's <kind>), IN when it runs applicant -> candidate."""

    OUT = "OUT"
    IN = "IN"


class ContactKind(StrEnum):
    """How one phone number reached another (the calls source)."""

    CALL = "CALL"
    SMS = "SMS"


# --- vouching and assisted authentication ------------------------------------------------------


class VouchOutcome(StrEnum):
    """How a business a guarantor vouched for ended (PENDING: not known yet)."""

    NO_ISSUE = "NO_ISSUE"
    FRAUD_REPORTED = "FRAUD_REPORTED"
    DEFAULTED = "DEFAULTED"
    PENDING = "PENDING"


class ReportedOutcome(StrEnum):
    """How an allowed business ended, as its kiosk backend or an analyst reports it."""

    FRAUD_REPORTED = "FRAUD_REPORTED"
    NO_ISSUE = "NO_ISSUE"


class Channel(StrEnum):
    """A channel an assisted-authentication request reaches a guarantor through."""

    SMS = "SMS"
    MOBILE_BANKING = "MOBILE_BANKING"


class AssistStatus(StrEnum):
    """Where an assisted-authentication request stands (stored on the request)."""

    PENDING = "PENDING"
    CONFIRMED = "CONFIRMED"
    DECLINED = "DECLINED"
    EXPIRED = "EXPIRED"
    LOCKED = "LOCKED"  # too many wrong tokens or guarantors


class FirstOutcome(StrEnum):
    """The decision on the customer alone (Flow A step 3)."""

    PROCEED = "PROCEED"
    NEEDS_GUARANTOR = "NEEDS_GUARANTOR"
    REFUSED = "REFUSED"


class FinalOutcome(StrEnum):
    """The decision with guarantors (Flow A step 9)."""

    ALLOW = "ALLOW"
    REFUSE = "REFUSE"


# --- who calls --------------------------------------------------------------------------------


class Role(StrEnum):
    """The role an API key is issued for."""

    KIOSK = "kiosk"
    MOBILE_BANKING = "mobile_banking"
    ANALYST = "analyst"
    ADMIN = "admin"


# --- the analyst workbench ----------------------------------------------------------------------


class WorkbenchRelation(StrEnum):
    """A tie the workbench draws between two customers (GraphQL's `RelationType`): the stored
    relationships, and the two-hop sharing of a phone or a device (never which one)."""

    KIN = "KIN"
    SOCIAL = "SOCIAL"
    TRANSFER = "TRANSFER"
    VOUCH = "VOUCH"
    SHARED_PHONE = "SHARED_PHONE"
    SHARED_DEVICE = "SHARED_DEVICE"


class AlertState(StrEnum):
    """Where an analyst's case stands (stored on the Alert node)."""

    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    CLOSED = "CLOSED"


class AlertKind(StrEnum):
    """What raised an alert."""

    HIGH_GRAPH_RISK = "HIGH_GRAPH_RISK"
    FRAUD_ON_VOUCHED_BUSINESS = "FRAUD_ON_VOUCHED_BUSINESS"
    HARD_REFUSAL = "HARD_REFUSAL"
    RING_WITH_FRAUD = "RING_WITH_FRAUD"


class AlertOutcome(StrEnum):
    """How an analyst closed a case."""

    FRAUD_CONFIRMED = "FRAUD_CONFIRMED"
    NO_ISSUE = "NO_ISSUE"
