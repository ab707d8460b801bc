"""The risk policy: businesses, thresholds, item points, hard rules and guarantor eligibility.

A policy is data: one versioned TOML file, read and fully validated when it is loaded, so a bad
policy stops the service at start instead of surprising a decision. `load_policy()` reads the
file named by the argument, else by `$VOUCHGRAPH_POLICY`, else the `policy.toml` shipped in this
package. Every problem is a `PolicyError` naming the key path, e.g.
`businesses.CROSS_BORDER_TRANSFER.t1: must be a positive number`.

Layout of the file (policy.toml holds the shipped values, with comments):

    version = "2026-12-02.2"                 recorded on every decision
    applicant_required_consents = [...]      categories without which an applicant is refused
    [hard_rules]  [eligibility]  [assist]    defaults for every business
    [customer.<item>]  [guarantor.<item>]    item points of the two scorecards
    [customer.graph_risk] band_names = [...] names its bands for batch scores (ml/serving.py)
    [businesses.<NAME>]                      t1, t2, combination = {...}; optional overrides:
      applicant_required_consents = [...]    replaces the top-level list for the business
      [businesses.<NAME>.customer.<item>]    replaces that whole item table for the business
      [businesses.<NAME>.guarantor.<item>]   likewise
      [businesses.<NAME>.hard_rules]         replaces single keys (also eligibility, assist)

Points are risk points: never negative, a higher score means a riskier request.

Missing data never helps: every item's missing value (`missing`, `missing_points`) scores at
least the worst known value of the item, or is `"refer"` (the request is refused with
REFER_TO_COUNTER and the item's code, and the customer goes to the counter). An item that can
grow without bound (points per rejection, per vouch) needs `max_points` before a number can
cover it, and a status the hard rules refuse at once can only be covered by `"refer"`. The
loader refuses a policy that breaks this, naming the key.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from graph.vocab import (
    POLICY_ENV,
    AccountStatus,
    Channel,
    ConsentCategory,
    CreditGrade,
    HouseholdCheck,
    IdCheck,
    RelationType,
    VouchOutcome,
    names,
)

# The vocabularies the policy and the evidence share, as plain strings in the order the policy
# file uses (graph/vocab.py defines them once, for every package).
ID_CHECKS = names(IdCheck)
HOUSEHOLD_CHECKS = names(HouseholdCheck)
ACCOUNT_STATUSES = names(AccountStatus)
CREDIT_GRADES = names(CreditGrade)  # best first
VOUCH_OUTCOMES = names(VouchOutcome)
RELATION_TYPES = names(RelationType)
CHANNELS = names(Channel)
CONSENT_CATEGORIES = names(ConsentCategory)  # as recorded on Consent nodes
COMBINATION_METHODS = ("sum", "weighted")
GUARANTOR_AGGREGATES = ("mean", "max", "min")
# refuse: no probability refuses (fail closed); neutral: it scores missing_points, at least the
# top band; unscored: the model is not used, everyone scores missing_points, known or not.
MISSING_MODEL_ACTIONS = ("refuse", "neutral", "unscored")
REFER = "refer"  # a missing value that sends the customer to the counter
CANDIDATE_LINK_ACTIONS = ("ineligible", "allow")

UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*$")
LOWER_SNAKE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


class PolicyError(ValueError):
    """The policy file is unreadable or breaks a rule; the message names the key path."""


class UnknownBusiness(PolicyError):
    """A request names a business the policy does not configure."""


# --- the policy as typed values ---------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    """One band of a banded item: values in [lo, hi) score `points`; hi None is open-ended."""

    lo: float
    hi: float | None
    points: float

    @property
    def label(self) -> str:
        """The band as text for evidence, e.g. `[0.7, 0.8)`."""
        return f"[{_fmt(self.lo)}, {'inf' if self.hi is None else _fmt(self.hi)})"


@dataclass(frozen=True)
class Bands:
    """Contiguous bands from 0 upwards; `upper` closes the last band (1 for a probability)."""

    bands: tuple[Band, ...]
    upper: float | None

    def find(self, value: float) -> Band:
        """The band holding `value`; values at or beyond the closed top fall in the last band."""
        for band in self.bands:
            if band.hi is None or value < band.hi:
                return band
        return self.bands[-1]

    def worst(self) -> Band:
        """The band scoring the most points (the first of equals)."""
        return max(self.bands, key=lambda b: b.points)

    def label(self, band: Band) -> str:
        """The band as text; the last band of a closed domain includes its top, e.g. `[0.9, 1]`."""
        if self.upper is not None and band is self.bands[-1]:
            return f"[{_fmt(band.lo)}, {_fmt(self.upper)}]"
        return band.label


@dataclass(frozen=True)
class BandedItem:
    """Points by bands of a number, and the points when the number is not available."""

    bands: Bands
    missing_points: float
    refer_missing: bool = False  # a missing number refers to the counter (and scores the top)


@dataclass(frozen=True)
class ChoicePoints:
    """Points for each known value of a choice item, and for a value not available.

    `points["D"]` and `choice["D"]` read the same; `choice["missing"]` is `missing_points`.
    """

    points: Mapping[str, float]
    missing_points: float
    refer_missing: bool = False

    def __getitem__(self, key: str) -> float:
        return self.missing_points if key == "missing" else self.points[key]


@dataclass(frozen=True)
class RejectionPoints:
    """Points per earlier rejection by reason code; only rejections within the window count."""

    window_days: int
    points: Mapping[str, float]
    default_points: float  # a reason code the policy does not list
    missing_points: float  # the rejection history could not be read
    max_points: float | None = None  # the item's total never exceeds it
    refer_missing: bool = False


@dataclass(frozen=True)
class MovementPoints:
    """Points for the last 180 days of account movement (seed 000: 动账, 开销户)."""

    out_total: Bands
    counterparties: Bands
    max_single_out: Bands
    accounts_opened: Bands
    accounts_closed: Bands
    dormant_then_active_points: float
    missing_points: float
    refer_missing: bool = False
    # An account opened this recently counts among the accounts opened in the period.
    recent_account_days: int = 180


@dataclass(frozen=True)
class VouchHistoryPoints:
    """Points for the times others vouched for a person in the window, and for each outcome."""

    window_days: int
    times: Bands
    outcomes: Mapping[str, float]
    missing_points: float
    max_points: float | None = None  # the item's total (times and outcomes) never exceeds it
    refer_missing: bool = False


@dataclass(frozen=True)
class GraphRiskPoints:
    """Points for the graph model's calibrated fraud probability, by bands.

    Without a probability (no model loaded, scoring failed) the item scores `missing_points`, and
    `missing_model = "refuse"` also makes it a hard refusal: fail closed. With "unscored" the
    policy does not use the model: everyone scores `missing_points`, probability or not.
    """

    bands: Bands
    missing_points: float
    missing_model: str
    # One name per band (`band_names`), e.g. LOW ... SEVERE: what a batch score's band is called.
    band_names: tuple[str, ...] = ()

    def named_bands(self) -> tuple[tuple[float, str], ...]:
        """(upper edge, name) per band, ascending: how serving names a probability's band."""
        return tuple(
            (1.0 if b.hi is None else b.hi, name)
            for b, name in zip(self.bands.bands, self.band_names, strict=True)
        )


@dataclass(frozen=True)
class RelationshipPoints:
    """Points for how a guarantor is related to the customer; the closest tie counts."""

    points: Mapping[str, float]
    default_points: float  # a kind the policy does not list
    no_path_points: float  # no known tie at all


@dataclass(frozen=True)
class CustomerCard:
    """Item points for the first customer's information (Flow A step 1)."""

    face_similarity: Bands
    id_check: Mapping[str, float]
    household_check: ChoicePoints  # HOUSEHOLD_CHECKS
    age: BandedItem
    account_age_days: BandedItem
    account_status: ChoicePoints  # ACCOUNT_STATUSES
    address_missing_points: float
    rejections: RejectionPoints
    movement: MovementPoints
    credit_grade: ChoicePoints  # CREDIT_GRADES
    graph_risk: GraphRiskPoints


@dataclass(frozen=True)
class GuarantorCard:
    """Item points for a confirmed guarantor's information (Flow A step 6)."""

    face_similarity: Bands
    id_check: Mapping[str, float]
    id_photo_missing_points: float
    account_status: ChoicePoints
    movement: MovementPoints
    vouch_history: VouchHistoryPoints
    credit_grade: ChoicePoints
    graph_risk: GraphRiskPoints
    relationship: RelationshipPoints


@dataclass(frozen=True)
class HardRules:
    """Rules that refuse at once, whatever the score."""

    face_similarity_below: float  # HARD_FACE_MISMATCH; 0 turns the rule off
    refuse_id_not_found: bool  # HARD_ID_UNKNOWN
    refuse_chip_mismatch: bool  # HARD_ID_CHIP_MISMATCH
    refuse_blacklisted: bool  # HARD_BLACKLISTED
    # HARD_ACCOUNT_<STATUS> / HARD_GUARANTOR_ACCOUNT_<STATUS>, read fresh at each decision
    refuse_account_statuses: frozenset[str]


@dataclass(frozen=True)
class GuarantorRules:
    """Who may be offered as a guarantor, and how many are shown."""

    relationship_kinds: Mapping[str, frozenset[str]]  # KIN / SOCIAL -> allowed kinds
    channels: frozenset[str]  # reachable through at least one of these
    min_account_age_days: int
    vouch_window_days: int
    max_vouches_in_window: int
    bad_outcome_window_days: int
    bad_outcomes: frozenset[str]
    max_graph_risk: float  # a candidate above this probability is not offered
    min_candidates: int  # fewer eligible than this: none are shown
    max_candidates: int
    channel_order: tuple[str, ...]  # `channels` in the policy's order of preference
    # A candidate whose device a third customer shares with the applicant (a household cluster),
    # or who sits in a short transfer cycle with the applicant: "ineligible" or "allow".
    device_cluster: str
    transfer_ring: str
    # How far back a candidate's vouching history is read (ranking counts every bad outcome
    # in it), and how many related customers are read at most.
    history_days: int
    max_related: int


@dataclass(frozen=True)
class AssistRules:
    """Limits of the assisted-authentication requests sent to guarantors."""

    request_ttl_seconds: int
    max_guarantors: int
    # Categories a guarantor must consent to before the request can be confirmed.
    guarantor_required_consents: tuple[str, ...]
    assessment_ttl_seconds: int  # an assessment expires (nothing more is asked or decided)
    max_token_failures: int  # wrong tokens or guarantors before a request is locked
    message: str  # the text sent with the link (no personal data in it)


@dataclass(frozen=True)
class Combination:
    """How customer and guarantor scores combine (Flow A step 8).

    combined = customer_weight * customer + guarantor_weight * aggregate(guarantors), where the
    aggregate is the mean, the max (the riskiest guarantor counts) or the min (the best one
    counts). `sum` is the weighted form with both weights 1.
    """

    method: str
    customer_weight: float
    guarantor_weight: float
    guarantors: str


@dataclass(frozen=True)
class Business:
    """Everything the policy says about one business, overrides applied."""

    name: str
    t1: float  # customer alone: score < t1 -> proceed
    t2: float  # with guarantors: combined < t2 -> allow
    combination: Combination
    customer: CustomerCard
    guarantor: GuarantorCard
    hard_rules: HardRules
    eligibility: GuarantorRules
    assist: AssistRules
    # Categories an applicant must consent to; without one the request is refused.
    applicant_required_consents: tuple[str, ...]


@dataclass(frozen=True)
class WorkbenchRules:
    """`[workbench]`: the caps of the analysts' graph reads and what makes a ring."""

    path_max_hops: int
    path_fanout: int
    path_max_frontier: int
    ring_hops: int
    ring_fanout: int
    ring_max_customers: int
    ring_min_size: int
    dense_min_transfers: int
    dense_min_amount: float
    profile_vouches: int
    profile_assessments: int


@dataclass(frozen=True)
class AlertRules:
    """`[alerts]`: what raises an analyst's alert, and how often the service looks."""

    high_graph_risk: float
    hard_reason_prefix: str
    ring_min_known_fraud: int
    ring_seeds: int
    scan_limit: int
    scan_interval_seconds: int


# Only for a Policy built by hand; a loaded policy always carries its file's sections.
WORKBENCH_DEFAULTS = WorkbenchRules(4, 50, 400, 2, 50, 300, 3, 3, 5000.0, 100, 50)
ALERT_DEFAULTS = AlertRules(0.8, "HARD_", 1, 50, 500, 300)


@dataclass(frozen=True)
class Policy:
    """A loaded, validated policy: its version, where it came from, and its businesses."""

    version: str
    businesses: Mapping[str, Business]
    source: str
    sha256: str
    # The named graph-risk bands of batch scores: `[customer.graph_risk]` before any business
    # overrides it, as (upper edge, name) pairs (ml.serving.score_store takes them).
    graph_risk_bands: tuple[tuple[float, str], ...] = ()
    workbench: WorkbenchRules = field(default_factory=lambda: WORKBENCH_DEFAULTS)
    alerts: AlertRules = field(default_factory=lambda: ALERT_DEFAULTS)

    def business(self, name: str) -> Business:
        """The named business; `UnknownBusiness` when the policy does not configure it."""
        try:
            return self.businesses[name]
        except KeyError:
            raise UnknownBusiness(f"business {name!r} is not in policy {self.version}") from None

    def refuses_without_model(self) -> bool:
        """Whether any business refuses when the graph model gives no probability."""
        return any(
            card.graph_risk.missing_model == "refuse"
            for b in self.businesses.values()
            for card in (b.customer, b.guarantor)
        )


# --- loading --------------------------------------------------------------------------------


def load_policy(path: Path | None = None) -> Policy:
    """Read and validate the policy from `path`, `$VOUCHGRAPH_POLICY`, or the shipped default."""
    if path is None and os.environ.get(POLICY_ENV):
        path = Path(os.environ[POLICY_ENV])
    if path is None:
        source = "risk/policy.toml (shipped default)"
        data = resources.files("risk").joinpath("policy.toml").read_bytes()
    else:
        source = str(path)
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise PolicyError(f"{path}: cannot read the policy file: {exc.strerror}") from exc
    return parse_policy(data, source=source)


def without_model_policy(graph_risk_points: float = 0.0) -> Policy:
    """The shipped policy without the graph model: the graph-risk item is not scored.

    For demos, tests and benchmarks while no model is promoted (the shipped policy refuses every
    request without one). Everyone, with a probability or without, scores `graph_risk_points`
    for the item (`missing_model = "unscored"`), so leaving the model out never helps anyone; a
    probability, when a scorer gives one, is kept as the item's evidence.
    """
    text = resources.files("risk").joinpath("policy.toml").read_text(encoding="utf-8")
    text, count = _GRAPH_RISK_HEAD.subn(
        lambda m: (
            f'{m["head"]}missing_model = "unscored"{m["rest"]}'
            f"missing_points = {graph_risk_points:g}"
        ),
        text,
    )
    if count != 2:
        raise PolicyError("risk/policy.toml: cannot find both graph_risk tables to leave unscored")
    text = text.replace('version = "', 'version = "no-model-', 1)
    return parse_policy(text, source="risk/policy.toml (graph model not used)")


# The head of a shipped graph_risk table: missing_model, then missing_points, on their own lines.
_GRAPH_RISK_HEAD = re.compile(
    r'(?P<head>\[(?:customer|guarantor)\.graph_risk\][^\n]*\n)missing_model = "refuse"'
    r"(?P<rest>[^\n]*\n)missing_points = [0-9.]+"
)


def parse_policy(data: bytes | str, *, source: str = "<string>") -> Policy:
    """Validate a policy given as TOML text; what `load_policy` does once it has the bytes."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PolicyError(f"{source}: not valid TOML: {exc}") from exc
    top = _Table.at(doc, "")
    version = top.text("version")
    if not version.strip() or len(version) > 64:
        raise PolicyError("version: must be a non-empty string of at most 64 characters")
    defaults = {
        name: top.table(name).take_all() for name in ("hard_rules", "eligibility", "assist")
    }
    consents = top.texts("applicant_required_consents", choices=CONSENT_CATEGORIES)
    cards = {name: top.table(name).take_all() for name in ("customer", "guarantor")}
    businesses_table = top.table("businesses")
    workbench = _read_workbench(top.table("workbench"))
    alerts = _read_alerts(top.table("alerts"))
    top.finish()
    businesses: dict[str, Business] = {}
    for name in businesses_table.names():
        if not UPPER_SNAKE.match(name):
            raise PolicyError(f"businesses.{name}: a business name must be UPPER_SNAKE_CASE")
        businesses[name] = _read_business(
            name, businesses_table.table(name), defaults, cards, consents
        )
    if not businesses:
        raise PolicyError("businesses: at least one business must be configured")
    # Batch scores are named by the default customer card's bands, whatever a business overrides.
    if "graph_risk" not in cards["customer"]:
        raise PolicyError("customer.graph_risk: missing (batch scores are named by its bands)")
    graph_risk = _read_graph_risk(_Table.at(cards["customer"]["graph_risk"], "customer.graph_risk"))
    if not graph_risk.band_names:
        raise PolicyError("customer.graph_risk.band_names: missing (batch scores are named by it)")
    return Policy(
        version=version,
        businesses=MappingProxyType(businesses),
        source=source,
        sha256=hashlib.sha256(raw).hexdigest(),
        graph_risk_bands=graph_risk.named_bands(),
        workbench=workbench,
        alerts=alerts,
    )


def _read_business(
    name: str,
    t: _Table,
    defaults: Mapping[str, dict[str, Any]],
    cards: Mapping[str, dict[str, Any]],
    consents: tuple[str, ...],
) -> Business:
    path = f"businesses.{name}"
    t1 = t.number("t1", _POSITIVE)
    t2 = t.number("t2", _POSITIVE)
    combination = _read_combination(t.table("combination"))
    if t.has("applicant_required_consents"):
        consents = t.texts("applicant_required_consents", choices=CONSENT_CATEGORIES)
    layered = {}
    for section in ("hard_rules", "eligibility", "assist"):
        layers = [(defaults[section], section)]
        if t.has(section):
            layers.append((t.table(section).take_all(), f"{path}.{section}"))
        layered[section] = _Table(layers)
    overrides = {section: t.optional_table(section) for section in ("customer", "guarantor")}
    customer = _read_card(
        "customer", CustomerCard, _CUSTOMER_ITEMS, cards["customer"], overrides["customer"]
    )
    guarantor = _read_card(
        "guarantor", GuarantorCard, _GUARANTOR_ITEMS, cards["guarantor"], overrides["guarantor"]
    )
    t.finish()
    hard_rules = _read_hard_rules(layered["hard_rules"])
    refused = sorted(hard_rules.refuse_account_statuses)
    for section, card in (("customer", customer), ("guarantor", guarantor)):
        status = card.account_status
        if refused and not status.refer_missing:
            override = overrides[section]
            item = f"{section}.account_status"
            if override is not None and override.has("account_status"):
                item = override.path_of("account_status")
            rule = layered["hard_rules"].path_of("refuse_account_statuses")
            raise PolicyError(
                f"{item}.missing: {_fmt(status.missing_points)} is below the worst known value, "
                f"a refusal ({', '.join(refused)} refused at once by {rule}): make it "
                f'"{REFER}"'
            )
    return Business(
        name=name,
        t1=t1,
        t2=t2,
        combination=combination,
        customer=customer,
        guarantor=guarantor,
        hard_rules=hard_rules,
        eligibility=_read_eligibility(layered["eligibility"]),
        assist=_read_assist(layered["assist"]),
        applicant_required_consents=consents,
    )


def _read_card(
    section: str,
    cls: type,
    readers: Mapping[str, Callable[[_Table], Any]],
    default: dict[str, Any],
    override: _Table | None,
) -> Any:
    for key in default:
        if key not in readers:
            raise PolicyError(f"{section}.{key}: unknown key")
    if override is not None:
        for key in override.names():
            if key not in readers:
                raise PolicyError(f"{override.path_of(key)}: unknown key")
    values = {}
    for name, read in readers.items():
        if override is not None and override.has(name):
            value = read(override.table(name))
        elif name in default:
            value = read(_Table.at(default[name], f"{section}.{name}"))
        else:
            raise PolicyError(f"{section}.{name}: missing")
        values[_CARD_FIELDS.get(name, name)] = value
    return cls(**values)


# Two item tables hold a single number; the dataclass field names say which.
_CARD_FIELDS = {"address": "address_missing_points", "id_photo": "id_photo_missing_points"}


# --- one reader per item or section -----------------------------------------------------------


def _read_similarity(t: _Table) -> Bands:
    bands = t.bands("bands", upper=1.0)
    t.finish()
    return bands


def _read_choice_points(choices: Sequence[str]) -> Callable[[_Table], Mapping[str, float]]:
    def read(t: _Table) -> Mapping[str, float]:
        points = {choice: t.number(choice, _NON_NEGATIVE) for choice in choices}
        t.finish()
        return MappingProxyType(points)

    return read


def _read_choice_item(choices: Sequence[str], word: str) -> Callable[[_Table], ChoicePoints]:
    """A choice item with a `missing` key: at least the highest choice's points, or "refer"."""

    def read(t: _Table) -> ChoicePoints:
        points = {choice: t.number(choice, _NON_NEGATIVE) for choice in choices}
        worst = max(choices, key=lambda c: points[c])
        missing, refer = t.missing("missing", points[worst], f"{word} {worst}" if word else worst)
        t.finish()
        return ChoicePoints(MappingProxyType(points), missing, refer)

    return read


def _read_banded(t: _Table) -> BandedItem:
    bands = t.bands("bands", upper=None)
    worst = bands.worst()
    missing, refer = t.missing("missing_points", worst.points, f"band {bands.label(worst)}")
    t.finish()
    return BandedItem(bands, missing, refer)


def _read_missing_points(t: _Table) -> float:
    points = t.number("missing_points", _NON_NEGATIVE)
    t.finish()
    return points


def _read_rejections(t: _Table) -> RejectionPoints:
    codes = t.table("points")
    points = {}
    for code in codes.names():
        if not UPPER_SNAKE.match(code):
            raise PolicyError(f"{codes.path_of(code)}: a reason code must be UPPER_SNAKE_CASE")
        points[code] = codes.number(code, _NON_NEGATIVE)
    codes.finish()
    default_points = t.number("default_points", _NON_NEGATIVE)
    max_points = t.optional_number("max_points", _NON_NEGATIVE)
    # Points per rejection grow with the count: only a cap bounds the worst history.
    unbounded = max((*points.values(), default_points)) > 0
    worst = max_points if max_points is not None else (None if unbounded else 0.0)
    missing, refer = t.missing("missing_points", worst, _cap_words(max_points, "rejection"))
    item = RejectionPoints(
        window_days=t.integer("window_days", minimum=1),
        points=MappingProxyType(points),
        default_points=default_points,
        missing_points=missing,
        max_points=max_points,
        refer_missing=refer,
    )
    t.finish()
    return item


def _cap_words(max_points: float | None, per: str) -> str:
    return f"points per {per} have no bound" if max_points is None else "max_points"


_MOVEMENT_BANDS = (
    "out_total",
    "counterparties",
    "max_single_out",
    "accounts_opened",
    "accounts_closed",
)


def _read_movement(t: _Table) -> MovementPoints:
    bands = {name: t.bands(name, upper=None) for name in _MOVEMENT_BANDS}
    dormant = t.number("dormant_then_active_points", _NON_NEGATIVE)
    # The worst movement is the worst band of each measure at once, dormant then active.
    worst = math.fsum(b.worst().points for b in bands.values()) + dormant
    words = "the worst band of each measure plus dormant_then_active_points"
    missing, refer = t.missing("missing_points", worst, words)
    item = MovementPoints(
        **bands,
        dormant_then_active_points=dormant,
        missing_points=missing,
        refer_missing=refer,
        recent_account_days=t.integer("recent_account_days", minimum=1),
    )
    t.finish()
    return item


def _read_vouch_history(t: _Table) -> VouchHistoryPoints:
    times = t.bands("times", upper=None)
    outcomes = _read_choice_points(VOUCH_OUTCOMES)(t.table("outcomes"))
    max_points = t.optional_number("max_points", _NON_NEGATIVE)
    # Points per vouch grow with the count: only a cap bounds the worst history.
    worst = max_points
    if worst is None and max(outcomes.values()) == 0:
        worst = times.worst().points
    missing, refer = t.missing("missing_points", worst, _cap_words(max_points, "vouch"))
    item = VouchHistoryPoints(
        window_days=t.integer("window_days", minimum=1),
        times=times,
        outcomes=outcomes,
        missing_points=missing,
        max_points=max_points,
        refer_missing=refer,
    )
    t.finish()
    return item


def _read_graph_risk(t: _Table) -> GraphRiskPoints:
    bands = t.bands("bands", upper=1.0)
    action = t.text("missing_model", choices=MISSING_MODEL_ACTIONS)
    points = t.number("missing_points", _NON_NEGATIVE)
    worst = bands.worst()
    # "unscored" gives everyone the same points, so only a model in use needs the top band.
    if action != "unscored" and points < worst.points:
        raise PolicyError(
            f"{t.path_of('missing_points')}: {_fmt(points)} is below the worst known value "
            f"{_fmt(worst.points)} (band {bands.label(worst)})"
        )
    band_names = _read_band_names(t, bands)
    t.finish()
    return GraphRiskPoints(
        bands=bands, missing_points=points, missing_model=action, band_names=band_names
    )


def _read_band_names(t: _Table, bands: Bands) -> tuple[str, ...]:
    """Optional `band_names`: one UPPER_SNAKE name per band, each once."""
    if not t.has("band_names"):
        return ()
    band_names = t.texts("band_names")
    path = t.path_of("band_names")
    if len(band_names) != len(bands.bands):
        raise PolicyError(f"{path}: must name each of the {len(bands.bands)} bands, in order")
    for i, name in enumerate(band_names):
        if not UPPER_SNAKE.match(name):
            raise PolicyError(f"{path}[{i}]: {name!r} is not UPPER_SNAKE_CASE")
    return band_names


def _read_relationship(t: _Table) -> RelationshipPoints:
    kinds = t.table("points")
    points = {}
    for kind in kinds.names():
        if not LOWER_SNAKE.match(kind):
            raise PolicyError(
                f"{kinds.path_of(kind)}: a relationship kind must be lower_snake_case"
            )
        points[kind] = kinds.number(kind, _NON_NEGATIVE)
    kinds.finish()
    default_points = t.number("default_points", _NON_NEGATIVE)
    no_path = t.number("no_path_points", _NON_NEGATIVE)
    # An unread tie (household registry not authorised) is no tie: it may not beat a known one.
    worst = max(points, key=lambda k: points[k], default=None)
    if worst is None or default_points >= points[worst]:
        worst_points, words = default_points, "default_points"
    else:
        worst_points, words = points[worst], worst
    if no_path < worst_points:
        raise PolicyError(
            f"{t.path_of('no_path_points')}: {_fmt(no_path)} is below the worst known value "
            f"{_fmt(worst_points)} ({words})"
        )
    item = RelationshipPoints(
        points=MappingProxyType(points), default_points=default_points, no_path_points=no_path
    )
    t.finish()
    return item


_CUSTOMER_ITEMS: dict[str, Callable[[_Table], Any]] = {
    "face_similarity": _read_similarity,
    "id_check": _read_choice_points(ID_CHECKS),
    "household_check": _read_choice_item(HOUSEHOLD_CHECKS, ""),
    "age": _read_banded,
    "account_age_days": _read_banded,
    "account_status": _read_choice_item(ACCOUNT_STATUSES, "status"),
    "address": _read_missing_points,
    "rejections": _read_rejections,
    "movement": _read_movement,
    "credit_grade": _read_choice_item(CREDIT_GRADES, "grade"),
    "graph_risk": _read_graph_risk,
}

_GUARANTOR_ITEMS: dict[str, Callable[[_Table], Any]] = {
    "face_similarity": _read_similarity,
    "id_check": _read_choice_points(ID_CHECKS),
    "id_photo": _read_missing_points,
    "account_status": _read_choice_item(ACCOUNT_STATUSES, "status"),
    "movement": _read_movement,
    "vouch_history": _read_vouch_history,
    "credit_grade": _read_choice_item(CREDIT_GRADES, "grade"),
    "graph_risk": _read_graph_risk,
    "relationship": _read_relationship,
}


def _read_combination(t: _Table) -> Combination:
    method = t.text("method", choices=COMBINATION_METHODS)
    guarantors = t.text("guarantors", choices=GUARANTOR_AGGREGATES)
    if method == "weighted":
        customer_weight = t.number("customer_weight", _NON_NEGATIVE)
        guarantor_weight = t.number("guarantor_weight", _NON_NEGATIVE)
        if customer_weight == 0 and guarantor_weight == 0:
            raise PolicyError(f"{t.path}: customer_weight and guarantor_weight are both 0")
    else:
        for key in ("customer_weight", "guarantor_weight"):
            if t.has(key):
                raise PolicyError(f'{t.path_of(key)}: only allowed with method = "weighted"')
        customer_weight = guarantor_weight = 1.0
    t.finish()
    return Combination(method, customer_weight, guarantor_weight, guarantors)


def _read_hard_rules(t: _Table) -> HardRules:
    rules = HardRules(
        face_similarity_below=t.number("face_similarity_below", _UNIT),
        refuse_id_not_found=t.flag("refuse_id_not_found"),
        refuse_chip_mismatch=t.flag("refuse_chip_mismatch"),
        refuse_blacklisted=t.flag("refuse_blacklisted"),
        refuse_account_statuses=frozenset(
            t.texts("refuse_account_statuses", choices=ACCOUNT_STATUSES, empty_ok=True)
        ),
    )
    t.finish()
    return rules


def _read_eligibility(t: _Table) -> GuarantorRules:
    kinds_table = t.table("relationship_kinds")
    kinds = {
        rel: frozenset(kinds_table.texts(rel, pattern=LOWER_SNAKE, empty_ok=True))
        for rel in RELATION_TYPES
    }
    kinds_table.finish()
    if not any(kinds.values()):
        raise PolicyError(f"{kinds_table.path}: at least one relationship kind must be allowed")
    min_candidates = t.integer("min_candidates", minimum=1)
    max_candidates = t.integer("max_candidates", minimum=1)
    if max_candidates < min_candidates:
        raise PolicyError(
            f"{t.path_of('max_candidates')}: must be >= min_candidates ({min_candidates})"
        )
    channels = t.texts("channels", choices=CHANNELS)
    rules = GuarantorRules(
        relationship_kinds=MappingProxyType(kinds),
        channels=frozenset(channels),
        min_account_age_days=t.integer("min_account_age_days", minimum=0),
        vouch_window_days=t.integer("vouch_window_days", minimum=1),
        max_vouches_in_window=t.integer("max_vouches_in_window", minimum=0),
        bad_outcome_window_days=t.integer("bad_outcome_window_days", minimum=1),
        bad_outcomes=frozenset(t.texts("bad_outcomes", choices=VOUCH_OUTCOMES)),
        max_graph_risk=t.number("max_graph_risk", _UNIT),
        min_candidates=min_candidates,
        max_candidates=max_candidates,
        channel_order=channels,
        device_cluster=t.text("device_cluster", choices=CANDIDATE_LINK_ACTIONS),
        transfer_ring=t.text("transfer_ring", choices=CANDIDATE_LINK_ACTIONS),
        history_days=t.integer("history_days", minimum=1),
        max_related=t.integer("max_related", minimum=1),
    )
    if rules.history_days < max(rules.vouch_window_days, rules.bad_outcome_window_days):
        raise PolicyError(
            f"{t.path_of('history_days')}: must cover vouch_window_days and "
            "bad_outcome_window_days (the rules look that far back)"
        )
    t.finish()
    return rules


def _read_assist(t: _Table) -> AssistRules:
    message = t.text("message")
    if not message.strip() or len(message) > 320:
        raise PolicyError(f"{t.path_of('message')}: must be 1 to 320 characters")
    rules = AssistRules(
        request_ttl_seconds=t.integer("request_ttl_seconds", minimum=1),
        max_guarantors=t.integer("max_guarantors", minimum=1),
        guarantor_required_consents=t.texts(
            "guarantor_required_consents", choices=CONSENT_CATEGORIES
        ),
        assessment_ttl_seconds=t.integer("assessment_ttl_seconds", minimum=1),
        max_token_failures=t.integer("max_token_failures", minimum=1),
        message=message,
    )
    if rules.assessment_ttl_seconds < rules.request_ttl_seconds:
        raise PolicyError(
            f"{t.path_of('assessment_ttl_seconds')}: must be at least request_ttl_seconds "
            f"({rules.request_ttl_seconds}): a request never outlives its assessment"
        )
    t.finish()
    return rules


def _read_workbench(t: _Table) -> WorkbenchRules:
    rules = WorkbenchRules(
        path_max_hops=t.integer("path_max_hops", minimum=1),
        path_fanout=t.integer("path_fanout", minimum=1),
        path_max_frontier=t.integer("path_max_frontier", minimum=1),
        ring_hops=t.integer("ring_hops", minimum=1),
        ring_fanout=t.integer("ring_fanout", minimum=1),
        ring_max_customers=t.integer("ring_max_customers", minimum=2),
        ring_min_size=t.integer("ring_min_size", minimum=2),
        dense_min_transfers=t.integer("dense_min_transfers", minimum=1),
        dense_min_amount=t.number("dense_min_amount", _POSITIVE),
        profile_vouches=t.integer("profile_vouches", minimum=1),
        profile_assessments=t.integer("profile_assessments", minimum=1),
    )
    if rules.ring_max_customers < rules.ring_min_size:
        raise PolicyError(f"{t.path_of('ring_max_customers')}: must be >= ring_min_size")
    t.finish()
    return rules


def _read_alerts(t: _Table) -> AlertRules:
    prefix = t.text("hard_reason_prefix")
    if not UPPER_SNAKE.match(prefix.rstrip("_")):
        raise PolicyError(f"{t.path_of('hard_reason_prefix')}: must be an UPPER_SNAKE prefix")
    rules = AlertRules(
        high_graph_risk=t.number("high_graph_risk", _UNIT),
        hard_reason_prefix=prefix,
        ring_min_known_fraud=t.integer("ring_min_known_fraud", minimum=1),
        ring_seeds=t.integer("ring_seeds", minimum=0),
        scan_limit=t.integer("scan_limit", minimum=1),
        scan_interval_seconds=t.integer("scan_interval_seconds", minimum=0),
    )
    t.finish()
    return rules


# --- the table reader -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    words: str
    ok: Callable[[float], bool]


_POSITIVE = _Rule("a positive number", lambda x: x > 0)
_NON_NEGATIVE = _Rule("a number >= 0", lambda x: x >= 0)
_UNIT = _Rule("a number in [0, 1]", lambda x: 0 <= x <= 1)


class _Table:
    """A TOML table being read: values are taken by key, and every error names the key's path.

    Layers let a business override defaults key by key; each key keeps the path it came from, so
    an error points at the line to fix. `finish()` rejects the keys nobody took.
    """

    def __init__(self, layers: Sequence[tuple[Mapping[str, Any], str]]) -> None:
        self.path = layers[0][1]
        self._values: dict[str, tuple[Any, str]] = {}
        for data, path in layers:
            for key, value in data.items():
                self._values[key] = (value, _join(path, key))
        self._taken: set[str] = set()

    @classmethod
    def at(cls, data: Any, path: str) -> _Table:
        if not isinstance(data, dict):
            raise PolicyError(f"{path}: must be a table")
        return cls([(data, path)])

    def take_all(self) -> dict[str, Any]:
        """All values, marked as read: for a caller that layers them under or over others."""
        self._taken.update(self._values)
        return {key: value for key, (value, _) in self._values.items()}

    def names(self) -> list[str]:
        return list(self._values)

    def has(self, key: str) -> bool:
        return key in self._values

    def path_of(self, key: str) -> str:
        return self._values[key][1] if key in self._values else _join(self.path, key)

    def _take(self, key: str) -> tuple[Any, str]:
        if key not in self._values:
            raise PolicyError(f"{self.path_of(key)}: missing")
        self._taken.add(key)
        return self._values[key]

    def table(self, key: str) -> _Table:
        return _Table.at(*self._take(key))

    def optional_table(self, key: str) -> _Table | None:
        return self.table(key) if self.has(key) else None

    def number(self, key: str, rule: _Rule) -> float:
        value, path = self._take(key)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or not rule.ok(value)
        ):
            raise PolicyError(f"{path}: must be {rule.words}")
        return float(value)

    def optional_number(self, key: str, rule: _Rule) -> float | None:
        return self.number(key, rule) if self.has(key) else None

    def missing(self, key: str, worst: float | None, words: str) -> tuple[float, bool]:
        """What a missing value scores: points at least `worst`, or "refer" (then the worst).

        Returns (points, refers). `worst` None means the item has no bound, so only "refer"
        covers it; `words` says what the worst known value is, for the error.
        """
        value, path = self._take(key)
        if value == REFER:
            return (0.0 if worst is None else worst), True
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise PolicyError(f'{path}: must be a number >= 0 or "{REFER}"')
        if worst is None:
            raise PolicyError(
                f"{path}: {_fmt(value)} cannot cover the worst known value ({words}): "
                f'set max_points, or "{REFER}"'
            )
        if value < worst:
            raise PolicyError(
                f"{path}: {_fmt(value)} is below the worst known value {_fmt(worst)} ({words})"
            )
        return float(value), False

    def integer(self, key: str, *, minimum: int) -> int:
        value, path = self._take(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise PolicyError(f"{path}: must be an integer >= {minimum}")
        return value

    def flag(self, key: str) -> bool:
        value, path = self._take(key)
        if not isinstance(value, bool):
            raise PolicyError(f"{path}: must be true or false")
        return value

    def text(self, key: str, *, choices: Sequence[str] | None = None) -> str:
        value, path = self._take(key)
        if not isinstance(value, str):
            raise PolicyError(f"{path}: must be a string")
        if choices is not None and value not in choices:
            raise PolicyError(f"{path}: must be one of {', '.join(map(repr, choices))}")
        return value

    def texts(
        self,
        key: str,
        *,
        choices: Sequence[str] | None = None,
        pattern: re.Pattern[str] | None = None,
        empty_ok: bool = False,
    ) -> tuple[str, ...]:
        value, path = self._take(key)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise PolicyError(f"{path}: must be a list of strings")
        if not value and not empty_ok:
            raise PolicyError(f"{path}: must not be empty")
        for i, item in enumerate(value):
            if choices is not None and item not in choices:
                raise PolicyError(f"{path}[{i}]: must be one of {', '.join(map(repr, choices))}")
            if pattern is not None and not pattern.match(item):
                raise PolicyError(f"{path}[{i}]: {item!r} is not lower_snake_case")
        if len(set(value)) != len(value):
            raise PolicyError(f"{path}: lists a value twice")
        return tuple(value)

    def bands(self, key: str, *, upper: float | None) -> Bands:
        """Bands that start at 0 and follow on without gap or overlap, up to `upper` or open."""
        value, path = self._take(key)
        if not isinstance(value, list) or not value:
            raise PolicyError(f"{path}: must be a non-empty list of bands {{lo, hi, points}}")
        bands: list[Band] = []
        expected_lo = 0.0
        for i, raw in enumerate(value):
            t = _Table.at(raw, f"{path}[{i}]")
            last = i == len(value) - 1
            lo = t.number("lo", _NON_NEGATIVE)
            if lo != expected_lo:
                where = "bands start at 0" if i == 0 else "bands follow on without gap or overlap"
                raise PolicyError(f"{t.path_of('lo')}: must be {_fmt(expected_lo)} ({where})")
            hi: float | None = None
            if t.has("hi"):
                hi = t.number("hi", _NON_NEGATIVE)
                if hi <= lo:
                    raise PolicyError(f"{t.path_of('hi')}: must be greater than lo ({_fmt(lo)})")
                if upper is not None and hi > upper:
                    raise PolicyError(f"{t.path_of('hi')}: must be at most {_fmt(upper)}")
                if last and upper is None:
                    raise PolicyError(
                        f"{t.path_of('hi')}: the last band is open-ended (leave out hi)"
                    )
            elif not last:
                raise PolicyError(f"{t.path_of('hi')}: missing (only the last band is open)")
            if last and upper is not None and hi != upper:
                raise PolicyError(
                    f"{t.path_of('hi')}: the last band must end at {_fmt(upper)} "
                    f"(the bands cover [0, {_fmt(upper)}])"
                )
            points = t.number("points", _NON_NEGATIVE)
            t.finish()
            bands.append(Band(lo, hi, points))
            if hi is not None:
                expected_lo = hi
        return Bands(tuple(bands), upper)

    def finish(self) -> None:
        unknown = sorted(set(self._values) - self._taken)
        if unknown:
            raise PolicyError(f"{self.path_of(unknown[0])}: unknown key")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))
