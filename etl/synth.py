"""Synthetic bank: writes a source folder (the format of `etl/sources.py`) with planted risk.

`generate` is what `vouchgraph synth` calls. It builds a whole bank in memory as compact numpy
arrays (customers in households, kinship and social ties, transfers, phones, devices, apps,
calls, credit, consents, vouching history, ...) from one `np.random.default_rng(seed)`, plants
labelled risk that shows in the graph more than in any one customer's row (mule rings,
collusive guarantors, telecom-fraud victims, plus plain individual fraud), and writes one file
per source in chunks, formatting strings only chunk by chunk so memory stays low.

`plan_bank` returns the same bank without writing it, with the planted ground truth (ring
members, collusion groups, victims, true labels before label noise) that the files do not
carry; the tests and evaluation notebooks use it.

Everything is a function of (customers, seed): the reference "now" is the fixed
`REFERENCE_TIME`, never the wall clock, so the same arguments give byte-identical files.
docs/synthetic-bank.md describes what is generated and the conventions.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from etl.sources import (
    BUSINESSES,
    CONSENT_CATEGORIES,
    CREDIT_GRADES,
    KIN_KINDS,
    LABEL_KINDS,
    RELATION_SOURCES,
    SOCIAL_KINDS,
    SOURCES,
    VOUCH_OUTCOMES,
    Source,
)

# --------------------------------------------------------------------------------------------
# Time frame. All times are epoch seconds (UTC) until they are written.

DAY = 86_400
HOUR = 3_600
YEAR = 31_557_600  # 365.25 days
REFERENCE_TIME = 1_782_777_600  # 2026-06-30T00:00:00Z: the generated bank's "now"
HISTORY_DAYS = 548  # about 18 months of transfers, calls and vouches before REFERENCE_TIME
HISTORY_START = REFERENCE_TIME - HISTORY_DAYS * DAY

# --------------------------------------------------------------------------------------------
# Planted risk. Rates are fractions of all customers; tests check the files against them.

MULE_RATE = 0.005  # customers in mule rings
MULE_RING_SIZE = (4, 12)  # inclusive bounds on members per ring
MULE_RING_PAIR_P = 0.45  # chance that an ordered member pair of a ring moves money directly
MULE_RING_PHONE_SHARERS = (2, 4)  # members sharing the ring's burner number
COLLUSION_RATE = 0.003  # customers in collusive-guarantor groups
COLLUSION_GROUP_SIZE = (3, 6)
COLLUSION_BAD_OUTCOME_P = 0.8  # vouches inside a group ending FRAUD_REPORTED or DEFAULTED
TELECOM_VICTIM_RATE = 0.004
VICTIM_MIN_AMOUNT = 8_000.0  # the victim's outbound transfer to a mule is at least this
VICTIM_CONTACT_WINDOW = (HOUR // 4, 7 * DAY)  # abnormal contact this long before the transfer
FRAUD_RATE = 0.003  # plain individual fraud
LABEL_MISS_RATE = 0.05  # planted positives labelled 0 (fraud not (yet) discovered)
LABEL_FALSE_POSITIVE_RATE = 0.0005  # other customers labelled 1 (kind "fraud") by mistake
POSITIVE_RATE_BOUNDS = (0.01, 0.03)  # expected labelled-positive rate for >= 1,000 customers
MIN_CUSTOMERS = 50

# Background rates (also fractions of customers unless said otherwise).
ABNORMAL_CONTACT_RATE = 0.006  # non-victims called by an abnormal number (failed attempts)
BLACKLIST_RATE = 0.003
REJECTION_RATE = 0.04
VOUCH_RATE = 0.05  # background vouches per customer

CHUNK_ROWS = 500_000  # rows formatted and written at a time
_NO_TIME = -(2**62)  # an unknown optional time (written empty); births before 1970 are < 0

# --------------------------------------------------------------------------------------------
# Vocabulary. Small syllable lists: names are synthetic combinations, not real people.


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_SURNAMES = _words(
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Gao Luo "
    "Zheng Liang Xie Song Tang Han Feng Deng Cao Peng Zeng Xiao Tian Dong Pan Yuan Cai Jiang "
    "Yu Du"
)
_GIVEN = _words(
    "an bao bin bo chao chen cheng dan di dong fang fei feng gang hao hong hua hui jia jian "
    "jie jing jun kai lan lei li lin ling long mei min ming na ning peng ping qian qiang qing "
    "rong rui shan tao ting wei wen xia xin xiu yan yang yi ying yong yu yun zhen zhi"
)
_CITY_HEADS = _words("Hai Jin Nan Bei Dong Xi Lin Qing Shan Yun Long Feng")
_CITY_TAILS = _words("cheng zhou an ning yang du")
_CITIES = tuple(h + t for h in _CITY_HEADS for t in _CITY_TAILS)[:36]
_DISTRICTS = _words("Central East West North South New Harbour Hi-Tech Riverside Old-Town")
_STREETS = _words(
    "Lianhua Heping Jiefang Renmin Zhongshan Xinhua Changjiang Huaihai Yanan Chaoyang Jianshe "
    "Minzhu Wenhua Binhe Guangming Xingfu Dongfeng Yingbin Qingnian Taoyuan"
)
_STREET_SUFFIX = ("Road", "Street", "Lane", "Avenue")
_OCCUPATIONS = (
    "teacher",
    "engineer",
    "nurse",
    "driver",
    "farmer",
    "clerk",
    "sales",
    "student",
    "retired",
    "self-employed",
    "civil servant",
    "doctor",
    "accountant",
    "factory worker",
    "chef",
    "programmer",
    "designer",
    "shop owner",
    "courier",
    "lawyer",
    "manager",
    "technician",
    "security guard",
    "homemaker",
    "unemployed",
)
_OCC_STUDENT = _OCCUPATIONS.index("student")
_OCC_RETIRED = _OCCUPATIONS.index("retired")
_BRANDS = ("Xenon", "Polar", "Lumi", "Orbit", "Kite", "Nimbus")
_MODELS = tuple(f"{b} {m}" for b in _BRANDS for m in ("A10", "A20", "Pro 5", "Max 7", "Lite 3"))
_APP_COUNT = 300
_APP_SUFFIX = ("Pay", "Mall", "Chat", "Video", "Maps", "News", "Music", "Games", "Taxi", "Food")
_ABNORMAL_APP_COUNT = 8
_ABNORMAL_APP_CATEGORIES = ("fake_investment", "fake_loan", "remote_control", "gambling")
_ABNORMAL_NUMBER_CATEGORIES = ("telecom_fraud", "spoofing", "phishing_sms", "harassment")
_ABNORMAL_NUMBER_P = (0.6, 0.15, 0.15, 0.1)
REJECTION_REASONS = (
    "INSUFFICIENT_DOCS",
    "LIMIT_EXCEEDED",
    "FACE_MISMATCH",
    "ID_CHIP_MISMATCH",
    "SUSPECTED_FRAUD",
    "ID_EXPIRED",
    "RISK_SCORE_TOO_HIGH",
)
_REJECTION_P_NORMAL = (0.34, 0.24, 0.12, 0.04, 0.04, 0.12, 0.10)
_REJECTION_P_FRAUD = (0.10, 0.08, 0.25, 0.17, 0.30, 0.02, 0.08)
BLACKLIST_REASONS = (
    "FRAUD_CONVICTION",
    "MONEY_MULE",
    "IDENTITY_THEFT",
    "COURT_ENFORCEMENT",
    "BAD_DEBT",
    "SANCTIONS",
)
_CURRENCIES = ("CNY", "USD", "HKD", "EUR")
_CONSENT_P = (0.99, 0.9, 0.97, 0.8, 0.85, 0.7, 0.8, 0.6, 0.4)  # per CONSENT_CATEGORIES
_GRADE_P = (0.10, 0.20, 0.28, 0.20, 0.10, 0.06, 0.04, 0.02)  # skewed good
_GRADE_SCORE = np.array(
    [[900, 1000], [820, 900], [740, 820], [660, 740], [580, 660], [500, 580], [350, 500], [0, 350]]
)
_QUARTER_ENDS = np.array(
    ["2025-03-31", "2025-06-30", "2025-09-30", "2025-12-31", "2026-03-31"], dtype="M8[s]"
).astype(np.int64)
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2])
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)

# Relation kinds: one code space over KIN_KINDS + SOCIAL_KINDS.
_KINDS = KIN_KINDS + SOCIAL_KINDS
_K = {k: i for i, k in enumerate(_KINDS)}
_NKIN = len(KIN_KINDS)
_INVERSE = np.arange(len(_KINDS))
_INVERSE[[_K["parent"], _K["child"], _K["grandparent"], _K["grandchild"]]] = [
    _K["child"],
    _K["parent"],
    _K["grandchild"],
    _K["grandparent"],
]
# Kinds where "src is <kind> of dst" reads the same both ways; their rows have src < dst.
_SYMMETRIC = np.ones(len(_KINDS), dtype=bool)
_SYMMETRIC[[_K["parent"], _K["child"], _K["grandparent"], _K["grandchild"]]] = False
_SYMMETRIC[_K["emergency_contact"]] = False
_BANK, _REGISTRY, _DECLARED = (RELATION_SOURCES.index(s) for s in RELATION_SOURCES)
_VO = {o: i for i, o in enumerate(VOUCH_OUTCOMES)}
_LK = {k: i for i, k in enumerate(LABEL_KINDS)}

# Household templates: member roles and kin pairs (i, j, kind) read as "member i is <kind> of
# member j". Roles: A head, S spouse, C child, G the head's parent.
_A, _S, _C, _G = 0, 1, 2, 3
_TEMPLATES: tuple[tuple[tuple[int, ...], tuple[tuple[int, int, str], ...]], ...] = (
    ((_A,), ()),
    ((_A, _S), ((0, 1, "spouse"),)),
    ((_A, _C), ((0, 1, "parent"),)),
    ((_A, _S, _C), ((0, 1, "spouse"), (0, 2, "parent"), (1, 2, "parent"))),
    ((_A, _S, _G), ((0, 1, "spouse"), (2, 0, "parent"), (2, 1, "other_kin"))),
    (
        (_A, _S, _C, _C),
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
        (_G, _A, _S, _C, _C),
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
_HOUSEHOLD_SIZE_P = (0.30, 0.25, 0.20, 0.17, 0.08)  # households of 1..5 members
_ROLE_TABLE = np.full((len(_TEMPLATES), 5), -1)
for _t, (_roles, _pairs) in enumerate(_TEMPLATES):
    _ROLE_TABLE[_t, : len(_roles)] = _roles
_FIRST_CHILD = np.array(
    [[r for r in roles].index(_C) if _C in roles else 0 for roles, _ in _TEMPLATES]
)


# --------------------------------------------------------------------------------------------
# The bank in memory.


@dataclass
class Relations:
    """Kinship and social ties, one row per (src, dst, kind, source); since may be _NO_TIME."""

    src: np.ndarray
    dst: np.ndarray
    kind: np.ndarray  # index into KIN_KINDS + SOCIAL_KINDS
    source: np.ndarray  # index into RELATION_SOURCES
    since: np.ndarray


@dataclass
class Bank:
    """A generated bank: customer-indexed numpy arrays plus one array group per source.

    Customer index i is written as the id `customer_ids[i]`; ids run in account-opening
    order. The planted ground truth (`true_kind`, `rings`, `collusion_groups`, ...) is what
    the labels would say without label noise.
    """

    n: int
    seed: int
    customer_ids: pa.Array
    people: dict[str, np.ndarray]
    relations: Relations
    tables: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    phone_numbers: pa.Array | None = None
    device_ids: pa.Array | None = None
    true_kind: np.ndarray | None = None  # index into LABEL_KINDS, before label noise
    label: np.ndarray | None = None
    rings: list[np.ndarray] = field(default_factory=list)
    ring_windows: np.ndarray | None = None  # (rings, 2) start and end of each ring's activity
    collusion_groups: list[np.ndarray] = field(default_factory=list)
    victims: np.ndarray | None = None
    victim_ring: np.ndarray | None = None
    victim_time: np.ndarray | None = None  # when each victim paid the mule
    abnormal_phone_index: np.ndarray | None = None  # rows of phone_numbers that are abnormal
    ring_devices: list[np.ndarray] = field(default_factory=list)  # handsets each ring shares

    def ids(self, idx: np.ndarray) -> list[str]:
        """The customer ids (as written) of customer indices."""
        return self.customer_ids.take(pa.array(np.asarray(idx, np.int64))).to_pylist()

    def planted_counts(self) -> dict[str, int]:
        """Planted (true) customers per risk kind, and the number of rings and groups."""
        counts = np.bincount(self.true_kind, minlength=len(LABEL_KINDS))
        out = {k: int(counts[i]) for i, k in enumerate(LABEL_KINDS) if k != "none"}
        out["mule_rings"] = len(self.rings)
        out["collusion_groups"] = len(self.collusion_groups)
        return out


# --------------------------------------------------------------------------------------------
# Small numeric helpers.


def _zipf_p(k: int, a: float = 1.0) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** a
    return w / w.sum()


def _unique_ints(rng: np.random.Generator, n: int, high: int) -> np.ndarray:
    """n distinct random ints in [0, high), in draw order (deterministic for the rng)."""
    k = n + n // 8 + 16
    while True:
        x = rng.integers(0, high, size=k)
        _, first = np.unique(x, return_index=True)
        if len(first) >= n:
            first.sort()
            return x[first[:n]]
        k *= 2


def _weighted_sample(rng: np.random.Generator, pool: np.ndarray, w: np.ndarray, k: int):
    """k distinct items of pool, chosen with probability proportional to w (Efraimidis)."""
    k = min(k, len(pool))
    if k == 0:
        return pool[:0]
    keys = np.log(rng.random(len(pool))) / w
    pick = np.argpartition(-keys, k - 1)[:k]
    return pool[np.sort(pick)]


def _others_in_group(rng, start: np.ndarray, size: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Another member index of a group of `size` starting at `start` than member k (size>1)."""
    return start + (k + rng.integers(1, size)) % size


# --------------------------------------------------------------------------------------------
# String formatting: numpy digits into fixed-width Arrow strings (much faster than strftime).


def _strings(chars: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    n, w = chars.shape
    offsets = np.arange(n + 1, dtype=np.int64) * w
    if offsets[-1] >= 2**31:
        raise ValueError("string column too large for one chunk")
    bitmap, nulls = None, 0
    if valid is not None and not valid.all():
        bitmap = pa.py_buffer(np.packbits(valid, bitorder="little"))
        nulls = int(n - np.count_nonzero(valid))
    data = pa.py_buffer(np.ascontiguousarray(chars).reshape(-1))
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets.astype(np.int32)), data, bitmap, nulls
    )


def _put_digits(out: np.ndarray, start: int, width: int, values: np.ndarray) -> None:
    v = values.astype(np.int64, copy=True)
    for k in range(start + width - 1, start - 1, -1):
        out[:, k] = v % 10 + 48
        v //= 10


def _put_text(out: np.ndarray, start: int, text: str) -> None:
    raw = np.frombuffer(text.encode(), dtype=np.uint8)
    out[:, start : start + len(raw)] = raw


def _id_strings(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    out = np.empty((len(numbers), len(prefix) + width), dtype=np.uint8)
    _put_text(out, 0, prefix)
    _put_digits(out, len(prefix), width, numbers)
    return _strings(out)


def _civil(sec: np.ndarray) -> tuple[np.ndarray, ...]:
    """(year, month, day, seconds of day) of epoch seconds (proleptic Gregorian, UTC)."""
    days = sec // DAY
    sod = sec - days * DAY
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = np.where(mp < 10, mp + 3, mp - 9)
    y = yoe + era * 400 + (m <= 2)
    return y, m, d, sod


def _date_chars(sec: np.ndarray, width: int = 10) -> np.ndarray:
    y, m, d, sod = _civil(sec)
    out = np.empty((len(sec), width), dtype=np.uint8)
    _put_digits(out, 0, 4, y)
    out[:, 4] = out[:, 7] = ord("-")
    _put_digits(out, 5, 2, m)
    _put_digits(out, 8, 2, d)
    if width == 20:
        out[:, 10] = ord("T")
        _put_digits(out, 11, 2, sod // HOUR)
        out[:, 13] = out[:, 16] = ord(":")
        _put_digits(out, 14, 2, sod // 60 % 60)
        _put_digits(out, 17, 2, sod % 60)
        out[:, 19] = ord("Z")
    return out


def _times(sec: np.ndarray) -> pa.Array:
    """ISO 8601 UTC times like 2025-03-01T12:30:00Z; _NO_TIME is unknown (null)."""
    valid = sec != _NO_TIME if sec.size and sec.min() == _NO_TIME else None
    # Unknown times still need some digits under the null bit; REFERENCE_TIME is as good as any.
    safe = np.where(valid, sec, REFERENCE_TIME) if valid is not None else sec
    return _strings(_date_chars(safe.astype(np.int64), 20), valid)


def _dates(sec: np.ndarray) -> pa.Array:
    return _strings(_date_chars(sec.astype(np.int64), 10))


def _choice_strings(words: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    """The words at codes; a negative code is null."""
    arr = pa.array(words, type=pa.string())
    if codes.size and codes.min() < 0:
        return arr.take(pa.array(codes, mask=codes < 0))
    return arr.take(pa.array(codes))


def _int_strings(values: np.ndarray) -> pa.Array:
    return pa.array(values).cast(pa.string())


# --------------------------------------------------------------------------------------------
# People: households, ages, names, places, accounts.


def _people(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    sizes = rng.choice(5, size=n // 2 + 10, p=_HOUSEHOLD_SIZE_P) + 1
    cs = np.cumsum(sizes)
    k = int(np.searchsorted(cs, n))
    if k >= len(sizes):  # never for these rates, but keep the sum exact anyway
        sizes, cs, k = np.append(sizes, n - cs[-1]), np.append(cs, n), len(sizes)
    sizes = sizes[: k + 1].copy()
    sizes[-1] -= cs[k] - n
    nh = len(sizes)
    h_start = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    r = rng.random(nh)
    tpl = np.select(
        [
            sizes == 1,
            (sizes == 2) & (r < 0.7),
            sizes == 2,
            (sizes == 3) & (r < 0.75),
            sizes == 3,
            sizes == 4,
        ],
        [0, 1, 2, 3, 4, 5],
        6,
    )
    has_child = np.isin(tpl, (2, 3, 5, 6))
    cmax = np.where(np.isin(tpl, (5, 6)), rng.uniform(20, 42, nh), rng.uniform(18, 42, nh))
    head_age = np.where(
        has_child,
        cmax + rng.uniform(22, 36, nh),
        np.where(tpl == 4, rng.uniform(28, 60, nh), 18 + rng.gamma(2.0, 11.0, nh)),
    )
    head_age = np.minimum(head_age, np.where(tpl == 6, 70.0, 95.0))
    h_surname = rng.choice(len(_SURNAMES), size=nh, p=_zipf_p(len(_SURNAMES), 0.8))
    h_city = rng.choice(len(_CITIES), size=nh, p=_zipf_p(len(_CITIES), 0.9))
    h_district = rng.integers(0, len(_DISTRICTS), nh)
    h_street = rng.integers(0, len(_STREETS) * len(_STREET_SUFFIX), nh)
    h_house = rng.integers(1, 400, nh)
    h_apt = rng.integers(1, 33, nh) * 100 + rng.integers(1, 9, nh)

    # Position p in household order; customer index = order[p] so households are scattered.
    order = rng.permutation(n)
    hh_p = np.repeat(np.arange(nh), sizes)
    pos_p = np.arange(n) - h_start[hh_p]
    t_p = tpl[hh_p]
    role_p = _ROLE_TABLE[t_p, pos_p]
    ha = head_age[hh_p]
    age_p = np.select(
        [role_p == _A, role_p == _S, role_p == _C],
        [
            ha,
            np.clip(ha + np.clip(rng.normal(0, 3.5, n), -8, 8), 18, 99),
            np.maximum(18.0, cmax[hh_p] - (pos_p - _FIRST_CHILD[t_p]) * rng.uniform(1.5, 6, n)),
        ],
        np.minimum(ha + rng.uniform(20, 30, n), 99),
    )
    head_gender = rng.integers(0, 2, nh)
    gender_p = np.where(
        (role_p == _S) & (rng.random(n) < 0.96), 1 - head_gender[hh_p], rng.integers(0, 2, n)
    )
    gender_p = np.where(role_p == _A, head_gender[hh_p], gender_p)
    gender_p[rng.random(n) < 0.001] = 2
    own_surname = rng.choice(len(_SURNAMES), size=n, p=_zipf_p(len(_SURNAMES), 0.8))
    keep_family = (role_p == _A) | (role_p == _C) | ((role_p == _G) & (rng.random(n) < 0.6))
    surname_p = np.where(keep_family, h_surname[hh_p], own_surname)

    def by_customer(a: np.ndarray) -> np.ndarray:
        out = np.empty_like(a)
        out[order] = a
        return out

    age = by_customer(age_p)
    birth = (REFERENCE_TIME - age * YEAR - rng.uniform(0, DAY, n)).astype(np.int64)
    tenure = rng.exponential(7.0, n)
    tenure = np.where(tenure > 28.0, rng.uniform(15.0, 28.0, n), tenure)  # no pile-up at a cap
    tenure = np.clip(np.minimum(tenure, age - 18.0), 0.03, None)
    opened = (REFERENCE_TIME - tenure * YEAR).astype(np.int64)
    opened -= opened % DAY - (8 * HOUR + rng.integers(0, 10 * HOUR, n))  # business hours
    occupation = rng.integers(0, len(_OCCUPATIONS), n)
    occupation = np.where((age >= 60) & (rng.random(n) < 0.8), _OCC_RETIRED, occupation)
    occupation = np.where((age < 23) & (rng.random(n) < 0.6), _OCC_STUDENT, occupation)
    occupation = np.where(
        (occupation == _OCC_RETIRED) & (age < 50), rng.integers(0, 5, n), occupation
    )
    occupation[rng.random(n) < 0.08] = -1
    status = rng.choice(3, size=n, p=(0.87, 0.11, 0.02))
    hh = by_customer(hh_p)
    return {
        "order": order,
        "hh": hh,
        "h_start": h_start,
        "h_size": sizes,
        "size": sizes[hh],
        "pos": by_customer(pos_p),
        "role": by_customer(role_p),
        "tpl": tpl,
        "age": age,
        "birth": birth,
        "gender": by_customer(gender_p),
        "surname": by_customer(surname_p),
        "given1": rng.integers(0, len(_GIVEN), n),
        "given2": np.where(rng.random(n) < 0.7, rng.integers(0, len(_GIVEN), n), -1),
        "city": h_city[hh],
        "district": h_district[hh],
        "street": h_street[hh],
        "house": h_house[hh],
        "apt": h_apt[hh],
        "occupation": occupation,
        "opened": opened,
        "status": status,
        "activity": rng.lognormal(0.0, 0.8, n) * np.array([1.0, 0.05, 0.02])[status],
        "address_known": rng.random(n) < 0.97,
    }


def _household_member(rng, people: dict[str, np.ndarray], c: np.ndarray) -> np.ndarray:
    """A random other member of each customer's household (customers in households of 2+)."""
    hh = people["hh"][c]
    p = _others_in_group(rng, people["h_start"][hh], people["h_size"][hh], people["pos"][c])
    return people["order"][p]


# --------------------------------------------------------------------------------------------
# Relations.


class _RelationBuffer:
    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, ...]] = []

    def add(self, src, dst, kind, source, since) -> None:
        n = len(src)
        self.parts.append(
            (
                np.asarray(src, np.int64),
                np.asarray(dst, np.int64),
                np.broadcast_to(np.asarray(kind, np.int64), (n,)),
                np.broadcast_to(np.asarray(source, np.int64), (n,)),
                np.broadcast_to(np.asarray(since, np.int64), (n,)),
            )
        )

    def build(self, rank: np.ndarray) -> Relations:
        """Deduplicated rows, symmetric kinds with src before dst, in (src, dst) id order."""
        n = len(rank)
        src, dst, kind, source, since = (np.concatenate(c) for c in zip(*self.parts, strict=True))
        swap = _SYMMETRIC[kind] & (rank[src] > rank[dst])
        src, dst = np.where(swap, dst, src), np.where(swap, src, dst)
        keep = src != dst
        src, dst, kind, source, since = src[keep], dst[keep], kind[keep], source[keep], since[keep]
        code = ((rank[src] * n + rank[dst]) * len(_KINDS) + kind) * len(RELATION_SOURCES) + source
        _, first = np.unique(code, return_index=True)  # sorted by (src, dst, kind, source)
        since = np.minimum(since[first], REFERENCE_TIME - DAY)
        return Relations(src[first], dst[first], kind[first], source[first], since)


def _sources(rng, n: int, p: tuple[float, float, float]) -> np.ndarray:
    return rng.choice(3, size=n, p=p)


def _since_after(rng, people, a, b, min_age: float, null_p: float) -> np.ndarray:
    """A time after both were `min_age` (and in the last 20 years), or _NO_TIME (unknown)."""
    lo = np.maximum(
        np.maximum(people["birth"][a], people["birth"][b]) + int(min_age * YEAR),
        REFERENCE_TIME - 20 * YEAR,
    )
    lo = np.minimum(lo, REFERENCE_TIME - 30 * DAY)
    t = lo + (rng.random(len(a)) * (REFERENCE_TIME - 7 * DAY - lo)).astype(np.int64)
    return np.where(rng.random(len(a)) < null_p, _NO_TIME, t)


def _window_pairs(rng, order: np.ndarray, mean: float, window: int) -> tuple[np.ndarray, ...]:
    """Pairs of nearby entries of `order` (a locality sort): about `mean` partners each."""
    # Sociability varies a lot between people: a heavy-tailed rate gives a few hubs.
    k = rng.poisson(mean * rng.lognormal(-0.5, 1.0, len(order)))
    i = np.repeat(np.arange(len(order)), k)
    off = rng.integers(1, window + 1, len(i)) * np.where(rng.random(len(i)) < 0.5, -1, 1)
    j = i + off
    ok = (j >= 0) & (j < len(order))
    return order[i[ok]], order[j[ok]]


def _relations(rng, people: dict[str, np.ndarray], buf: _RelationBuffer) -> None:
    n = len(people["age"])
    order, h_start, tpl = people["order"], people["h_start"], people["tpl"]
    birth = people["birth"]

    # Kinship inside households, one row per pair; the recorded direction is random and the
    # kind is flipped with it (parent <-> child, grandparent <-> grandchild).
    for t, (_roles, pairs) in enumerate(_TEMPLATES):
        hs = np.flatnonzero(tpl == t)
        hs = hs[people["h_size"][hs] == len(_roles)]
        for i, j, kind in pairs:
            a, b = order[h_start[hs] + i], order[h_start[hs] + j]
            k = np.full(len(hs), _K[kind])
            flip = rng.random(len(hs)) < 0.5
            a, b, k = np.where(flip, b, a), np.where(flip, a, b), np.where(flip, _INVERSE[k], k)
            since = np.maximum(birth[a], birth[b])
            if kind == "spouse":
                since = np.minimum(
                    since + (rng.uniform(20, 32, len(hs)) * YEAR).astype(np.int64),
                    REFERENCE_TIME - 60 * DAY,
                )
            elif kind == "other_kin":
                since = np.full(len(hs), _NO_TIME)
            since = np.where(rng.random(len(hs)) < 0.15, _NO_TIME, since)
            src = _sources(rng, len(hs), (0.62, 0.28, 0.10))
            buf.add(a, b, k, src, since)
            # Some pairs the bank or the customer recorded are corroborated by the registry.
            dup = (src != _REGISTRY) & (rng.random(len(hs)) < 0.1)
            buf.add(a[dup], b[dup], k[dup], _REGISTRY, since[dup])

    # Relatives in other households: heads of the same surname in the same city.
    heads = np.flatnonzero(people["role"] == _A)
    heads = heads[rng.random(len(heads)) < 0.25]
    heads = heads[
        np.lexsort((rng.random(len(heads)), people["surname"][heads], people["city"][heads]))
    ]
    a, b = heads[0:-1:2], heads[1::2]
    same = (people["surname"][a] == people["surname"][b]) & (people["city"][a] == people["city"][b])
    a, b = a[same], b[same]
    kind = np.where(rng.random(len(a)) < 0.5, _K["sibling"], _K["other_kin"])
    buf.add(a, b, kind, _sources(rng, len(a), (0.3, 0.3, 0.4)), _NO_TIME)

    # Colleagues: workers grouped into employers within a city, each knows 1-2 colleagues.
    age, city = people["age"], people["city"]
    workers = np.flatnonzero((age >= 22) & (age <= 62) & (rng.random(n) < 0.8))
    workers = workers[np.lexsort((rng.random(len(workers)), city[workers]))]
    emp = np.minimum(2 + (rng.pareto(1.2, len(workers) // 4 + 2) * 5).astype(np.int64), 400)
    cs = np.cumsum(emp)
    k = int(np.searchsorted(cs, len(workers)))
    emp = emp[: k + 1]
    emp[-1] -= cs[k] - len(workers) if k < len(cs) else 0
    if emp.sum() < len(workers):
        emp = np.append(emp, len(workers) - emp.sum())
    emp = emp[emp > 0]
    emp_start = np.concatenate(([0], np.cumsum(emp)[:-1]))
    emp_of = np.repeat(np.arange(len(emp)), emp)
    cnt = 1 + (rng.random(len(workers)) < 0.4)
    i = np.repeat(np.arange(len(workers)), cnt)
    j = emp_start[emp_of[i]] + rng.integers(0, emp[emp_of[i]])
    a, b = workers[i], workers[j]
    buf.add(
        a,
        b,
        _K["colleague"],
        _sources(rng, len(a), (0.8, 0.0, 0.2)),
        _since_after(rng, people, a, b, 22, 0.3),
    )

    # Friends: people of a city and a similar age.
    loc = np.lexsort((rng.random(n), (age // 6).astype(np.int64), city))
    a, b = _window_pairs(rng, loc, 0.9, 60)
    ok = city[a] == city[b]
    a, b = a[ok], b[ok]
    buf.add(
        a,
        b,
        _K["friend"],
        _sources(rng, len(a), (0.35, 0.0, 0.65)),
        _since_after(rng, people, a, b, 12, 0.35),
    )

    # Classmates: same city, born within about a year of each other.
    young = np.flatnonzero(age <= 40)
    yloc = young[np.lexsort((rng.random(len(young)), birth[young] // YEAR, city[young]))]
    a, b = _window_pairs(rng, yloc, 0.4, 25)
    ok = (city[a] == city[b]) & (np.abs(age[a] - age[b]) < 1.5)
    a, b = a[ok], b[ok]
    buf.add(
        a,
        b,
        _K["classmate"],
        _sources(rng, len(a), (0.3, 0.0, 0.7)),
        _since_after(rng, people, a, b, 6, 0.3),
    )

    # Neighbours: heads of households on the same street of a district.
    heads = np.flatnonzero(people["role"] == _A)
    hloc = heads[
        np.lexsort(
            (
                rng.random(len(heads)),
                people["street"][heads],
                people["district"][heads],
                city[heads],
            )
        )
    ]
    a, b = hloc[:-1], hloc[1:]
    ok = (
        (city[a] == city[b])
        & (people["district"][a] == people["district"][b])
        & (rng.random(len(a)) < 0.35)
    )
    a, b = a[ok], b[ok]
    buf.add(
        a,
        b,
        _K["neighbour"],
        _sources(rng, len(a), (0.5, 0.2, 0.3)),
        _since_after(rng, people, a, b, 18, 0.4),
    )

    # Emergency contacts (src is dst's emergency contact): mostly a household member.
    named = np.flatnonzero(rng.random(n) < 0.35)
    in_hh = (people["size"][named] > 1) & (rng.random(len(named)) < 0.75)
    c_hh = named[in_hh]
    contact = _household_member(rng, people, c_hh)
    buf.add(
        contact,
        c_hh,
        _K["emergency_contact"],
        _sources(rng, len(c_hh), (0.4, 0.0, 0.6)),
        _since_after(rng, people, contact, c_hh, 18, 0.2),
    )
    at = np.empty(n, np.int64)  # position in the friends' locality order
    at[loc] = np.arange(n)
    c_far = named[~in_hh]
    j = np.clip(at[c_far] + rng.integers(1, 40, len(c_far)), 0, n - 1)
    contact = loc[j]
    buf.add(
        contact,
        c_far,
        _K["emergency_contact"],
        _sources(rng, len(c_far), (0.4, 0.0, 0.6)),
        _since_after(rng, people, contact, c_far, 18, 0.2),
    )

    # Flatmates: pairs of single-person households in one city share an address.
    singles = np.flatnonzero(people["size"] == 1)
    singles = singles[np.lexsort((rng.random(len(singles)), city[singles]))]
    a, b = singles[0:-1:2], singles[1::2]
    ok = (city[a] == city[b]) & (rng.random(len(a)) < 0.06)
    a, b = a[ok], b[ok]
    for col in ("district", "street", "house", "apt"):
        people[col][b] = people[col][a]
    buf.add(
        a,
        b,
        _K["shared_address"],
        _sources(rng, len(a), (0.55, 0.45, 0.0)),
        _since_after(rng, people, a, b, 18, 0.2),
    )


# --------------------------------------------------------------------------------------------
# Planted risk: who is who.


def _plant(rng, bank: Bank) -> None:
    people, n = bank.people, bank.n
    age, opened = people["age"], people["opened"]
    kind = np.zeros(n, np.int64)

    def free(mask: np.ndarray) -> np.ndarray:
        return np.flatnonzero(mask & (kind == 0))

    # Mule rings: young people recruited into rings; their accounts are opened for it.
    n_rings = max(1, round(n * MULE_RATE / np.mean(MULE_RING_SIZE)))
    sizes = rng.integers(MULE_RING_SIZE[0], MULE_RING_SIZE[1] + 1, n_rings)
    pool = free((age >= 19.5) & (age <= 32))  # adults before the ring starts
    if len(pool) < sizes.sum():
        pool = free(np.ones(n, bool))
    mules = rng.permutation(pool)[: sizes.sum()]
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), len(mules), side="right")]
    mules = mules[: sizes.sum()]
    bank.rings = np.split(mules, np.cumsum(sizes)[:-1]) if len(sizes) else []
    start = (
        REFERENCE_TIME - rng.integers(25, 200, len(sizes)) * DAY - rng.integers(0, DAY, len(sizes))
    )
    end = np.minimum(start + rng.integers(7, 45, len(sizes)) * DAY, REFERENCE_TIME - 10 * DAY)
    bank.ring_windows = np.stack([start, end], axis=1)
    ring_start_of = np.repeat(start, sizes)
    opened[mules] = (
        ring_start_of - rng.integers(5, 120, len(mules)) * DAY - rng.integers(0, DAY, len(mules))
    )
    opened[mules] = np.maximum(opened[mules], people["birth"][mules] + 18 * YEAR)
    people["status"][mules] = 0
    people["activity"][mules] = rng.lognormal(0, 0.5, len(mules))
    kind[mules] = _LK["mule"]

    # Telecom-fraud victims: settled customers, older ones more often; each pays one ring.
    n_victims = max(3, round(n * TELECOM_VICTIM_RATE))
    pool = free((age >= 25) & (opened < REFERENCE_TIME - YEAR))
    w = np.where(age[pool] >= 55, 2.5, 1.0)
    bank.victims = rng.permutation(_weighted_sample(rng, pool, w, n_victims))
    kind[bank.victims] = _LK["telecom_victim"]
    nv = len(bank.victims)
    bank.victim_ring = rng.choice(len(sizes), size=nv, p=sizes / sizes.sum())
    s, e = start[bank.victim_ring], end[bank.victim_ring]
    bank.victim_time = s + (rng.random(nv) * (e - s)).astype(np.int64)

    # Collusive guarantors: ordinary, long-standing customers of working age.
    n_groups = max(1, round(n * COLLUSION_RATE / np.mean(COLLUSION_GROUP_SIZE)))
    gsizes = rng.integers(COLLUSION_GROUP_SIZE[0], COLLUSION_GROUP_SIZE[1] + 1, n_groups)
    pool = free((age >= 28) & (age <= 60) & (opened < REFERENCE_TIME - 2 * YEAR))
    members = rng.permutation(pool)[: gsizes.sum()]
    gsizes = gsizes[: np.searchsorted(np.cumsum(gsizes), len(members), side="right")]
    members = members[: gsizes.sum()]
    bank.collusion_groups = np.split(members, np.cumsum(gsizes)[:-1]) if len(gsizes) else []
    kind[members] = _LK["collusion"]

    # Plain individual fraud: anyone.
    n_fraud = max(2, round(n * FRAUD_RATE))
    fraud = rng.permutation(free(np.ones(n, bool)))[:n_fraud]
    kind[fraud] = _LK["fraud"]
    bank.true_kind = kind


def _plant_relations(rng, bank: Bank, buf: _RelationBuffer) -> list[tuple[np.ndarray, ...]]:
    """Social ties inside rings and collusion groups; returns each group's tied pairs."""
    people = bank.people
    for ring in bank.rings:
        a, b = np.triu_indices(len(ring), 1)
        ok = rng.random(len(a)) < 0.25
        a, b = ring[a[ok]], ring[b[ok]]
        kind = np.where(rng.random(len(a)) < 0.5, _K["friend"], _K["classmate"])
        buf.add(
            a,
            b,
            kind,
            _sources(rng, len(a), (0.3, 0.0, 0.7)),
            _since_after(rng, people, a, b, 14, 0.3),
        )
    tied = []
    social = np.array([_K["friend"], _K["colleague"], _K["classmate"]])
    for group in bank.collusion_groups:
        a, b = np.triu_indices(len(group), 1)
        chain = b == a + 1  # a path through the group keeps it connected
        ok = chain | (rng.random(len(a)) < 0.6)
        a, b = group[a[ok]], group[b[ok]]
        kind = social[rng.integers(0, 3, len(a))]
        buf.add(
            a,
            b,
            kind,
            _sources(rng, len(a), (0.5, 0.0, 0.5)),
            _since_after(rng, people, a, b, 20, 0.2),
        )
        tied.append((a, b))
    return tied


# --------------------------------------------------------------------------------------------
# Phones, devices, apps.


def _phones(rng, bank: Bank) -> tuple[np.ndarray, int, int]:
    """Phone rows and the number pool: customers' numbers, then external, then abnormal."""
    people, n = bank.people, bank.n
    second = np.flatnonzero(rng.random(n) < 0.08)
    n_burner = len(bank.rings)
    n_external = n // 5 + 100
    n_abnormal = max(30, n // 250)
    n_own = n + len(second) + n_burner
    total = n_own + n_external + n_abnormal
    values = _unique_ints(rng, total, 7_000_000_000)
    chars = np.empty((total, 15), dtype=np.uint8)
    _put_text(chars, 0, "+86 ")
    _put_digits(chars, 4, 11, values + 13_000_000_000)
    bank.phone_numbers = _strings(chars)
    bank.abnormal_phone_index = np.arange(n_own + n_external, total)

    # Primary number: own, except some non-head household members who use the head's phone.
    primary = np.arange(n)
    share = np.flatnonzero((people["size"] > 1) & (people["role"] != _A) & (rng.random(n) < 0.03))
    share = share[bank.true_kind[share] == 0]
    head = people["order"][
        people["h_start"][people["hh"][share]] + (people["tpl"][people["hh"][share]] == 6)
    ]
    primary[share] = head
    people["phone"] = primary
    cust = [np.arange(n), second]
    num = [primary, n + np.arange(len(second))]
    for r, ring in enumerate(bank.rings):
        k = min(len(ring), rng.integers(MULE_RING_PHONE_SHARERS[0], MULE_RING_PHONE_SHARERS[1] + 1))
        cust.append(ring[:k])
        num.append(np.full(k, n + len(second) + r))
    cust, num = np.concatenate(cust), np.concatenate(num)
    # Known to the bank since opening, or since a later change of number (skewed early).
    lo = np.maximum(people["opened"][cust], people["birth"][cust] + 16 * YEAR)
    lo = np.minimum(lo, REFERENCE_TIME - DAY)
    since = lo + (rng.random(len(cust)) ** 3 * (REFERENCE_TIME - lo)).astype(np.int64)
    burner = num >= n + len(second)
    ring_of = np.clip(num - n - len(second), 0, max(0, n_burner - 1))
    if n_burner:
        since = np.where(
            burner, bank.ring_windows[ring_of, 0] - rng.integers(1, 20, len(cust)) * DAY, since
        )
    since = np.where(rng.random(len(cust)) < 0.1, _NO_TIME, since)
    code = people["rank"][cust] * total + num  # rows in customer id order
    _, first = np.unique(code, return_index=True)
    bank.tables["phones"] = {"customer": cust[first], "number": num[first], "since": since[first]}
    return primary, n_own, n_external


def _devices(rng, bank: Bank) -> None:
    people, n = bank.people, bank.n
    per = 1 + (rng.random(n) < 0.10) + (rng.random(n) < 0.02)
    cust = np.repeat(np.arange(n), per)
    dev = np.arange(len(cust))
    n_dev = len(cust)
    # A household tablet used by two members.
    fam = np.flatnonzero((people["role"] == _A) & (people["size"] > 1) & (rng.random(n) < 0.04))
    other = _household_member(rng, people, fam)
    tablets = n_dev + np.arange(len(fam))
    n_dev += len(fam)
    cust_parts, dev_parts = [cust, fam, other], [dev, tablets, tablets]
    # Mule rings share one to three handsets; every member uses one, the first two share one.
    ring_devs = []
    for ring in bank.rings:
        k = 1 + len(ring) // 5
        use = np.concatenate(([0, 0], np.arange(1, k), rng.integers(0, k, len(ring) - k - 1)))
        ring_devs.append(n_dev + np.arange(k))
        cust_parts.append(ring)
        dev_parts.append(n_dev + use)
        n_dev += k
    cust, dev = np.concatenate(cust_parts), np.concatenate(dev_parts)
    # The device's own activation, then when each customer first and last used it.
    activated = REFERENCE_TIME - (rng.random(n_dev) * 4 * YEAR).astype(np.int64)
    for r, devs in enumerate(ring_devs):
        activated[devs] = bank.ring_windows[r, 0] - rng.integers(1, 40, len(devs)) * DAY
    lo = np.maximum(activated[dev], people["opened"][cust])
    lo = np.minimum(lo, REFERENCE_TIME - DAY)
    first = lo + (rng.random(len(cust)) ** 2 * (REFERENCE_TIME - lo) * 0.5).astype(np.int64)
    last = REFERENCE_TIME - (rng.random(len(cust)) ** 3 * (REFERENCE_TIME - first)).astype(np.int64)
    unknown = rng.random(len(cust)) < 0.03
    model = rng.choice(len(_MODELS), size=n_dev, p=_zipf_p(len(_MODELS), 0.7))
    model = np.where(rng.random(n_dev) < 0.05, -1, model)
    code = people["rank"][cust] * n_dev + dev  # rows in customer id order
    _, keep = np.unique(code, return_index=True)
    bank.tables["devices"] = {
        "customer": cust[keep],
        "device": dev[keep],
        "model": model[dev[keep]],
        "first": np.where(unknown, _NO_TIME, first)[keep],
        "last": np.where(unknown, _NO_TIME, last)[keep],
    }
    bank.tables["_device"] = {"activated": activated}
    bank.device_ids = _id_strings("D", _unique_ints(rng, n_dev, 1_000_000_000), 9)
    # Each customer's main device (their first row), for planting apps.
    main = np.full(n, -1)
    owner, row = np.unique(cust, return_index=True)
    main[owner] = dev[row]
    people["device"] = main
    bank.ring_devices = ring_devs


def _apps(rng, bank: Bank) -> None:
    activated = bank.tables["_device"]["activated"]
    n_dev = len(activated)
    abnormal = np.sort(rng.choice(np.arange(40, _APP_COUNT), _ABNORMAL_APP_COUNT, replace=False))
    normal = np.setdiff1d(np.arange(_APP_COUNT), abnormal)
    per = 1 + rng.poisson(3.0, n_dev)
    dev = np.repeat(np.arange(n_dev), per)
    app = normal[rng.choice(len(normal), size=len(dev), p=_zipf_p(len(normal), 1.0))]
    at = activated[dev] + (rng.random(len(dev)) * (REFERENCE_TIME - activated[dev])).astype(
        np.int64
    )
    # Background: a few devices carry an abnormal app.
    bg = np.flatnonzero(rng.random(n_dev) < 0.003)
    bg_at = activated[bg] + (rng.random(len(bg)) * (REFERENCE_TIME - activated[bg])).astype(
        np.int64
    )
    # Victims were talked into installing one (remote control, fake investment) before paying.
    main = bank.people["device"]
    v = np.flatnonzero(rng.random(len(bank.victims)) < 0.35)
    v_dev = main[bank.victims[v]]
    v_at = bank.victim_time[v] - rng.integers(HOUR, 3 * DAY, len(v))
    mules = np.concatenate(bank.rings) if bank.rings else np.zeros(0, np.int64)
    m = mules[rng.random(len(mules)) < 0.15]
    m_dev = main[m]
    m_at = np.maximum(activated[m_dev], REFERENCE_TIME - 200 * DAY)
    ab_dev = np.concatenate([bg, v_dev, m_dev])
    ab_app = abnormal[rng.integers(0, len(abnormal), len(ab_dev))]
    dev = np.concatenate([dev, ab_dev])
    app = np.concatenate([app, ab_app])
    at = np.concatenate([at, bg_at, v_at, m_at])
    at = np.where(rng.random(len(at)) < 0.05, _NO_TIME, at)
    code = dev * _APP_COUNT + app
    _, keep = np.unique(code, return_index=True)
    bank.tables["apps"] = {"device": dev[keep], "app": app[keep], "at": at[keep]}
    bank.tables["abnormal_apps"] = {
        "app": abnormal,
        "category": rng.integers(0, len(_ABNORMAL_APP_CATEGORIES), len(abnormal)),
        "listed": REFERENCE_TIME - rng.integers(30, 900, len(abnormal)) * DAY,
    }


# --------------------------------------------------------------------------------------------
# Transfers.


def _transfers(rng, bank: Bank) -> None:
    people, n, rel = bank.people, bank.n, bank.relations
    # Pairs that move money: some relatives and friends, and strangers (often a merchant).
    kin = rel.kind < _NKIN
    take = rng.random(len(rel.src)) < np.where(kin, 0.40, 0.18)
    a, b, typ = rel.src[take], rel.dst[take], np.where(kin[take], 0, 1)
    flip = rng.random(len(a)) < 0.5
    a, b = np.where(flip, b, a), np.where(flip, a, b)
    back = rng.random(len(a)) < 0.25
    a, b, typ = (
        np.concatenate([a, b[back]]),
        np.concatenate([b, a[back]]),
        np.concatenate([typ, typ[back]]),
    )
    n_st = int(n * 0.9)
    act = people["activity"]
    s_src = rng.choice(n, size=n_st, p=act / act.sum())
    hubs = rng.permutation(n)[: max(5, n // 50)]  # shops and landlords paid by many
    to_hub = rng.random(n_st) < 0.4
    s_dst = np.where(
        to_hub,
        hubs[rng.choice(len(hubs), size=n_st, p=_zipf_p(len(hubs), 1.0))],
        rng.integers(0, n, n_st),
    )
    a = np.concatenate([a, s_src])
    b = np.concatenate([b, s_dst])
    typ = np.concatenate([typ, np.where(to_hub, 3, 2)])
    ok = a != b
    a, b, typ = a[ok], b[ok], typ[ok]
    npair = len(a)

    # Per pair: how many transfers, when (monthly or in bursts) and how much.
    mean = np.array([3.5, 1.8, 1.3, 1.6])[typ]
    count = rng.geometric(1.0 / mean)
    tail = rng.random(npair) < 0.02
    count[tail] += np.minimum(rng.pareto(1.3, tail.sum()) * 6, 120).astype(np.int64)
    monthly = rng.random(npair) < np.array([0.3, 0.05, 0.03, 0.08])[typ]
    scale = np.where(monthly, 30.4 * DAY, np.exp(rng.normal(np.log(3 * DAY), 1.4, npair)))
    start = HISTORY_START + (rng.random(npair) * HISTORY_DAYS * DAY).astype(np.int64)
    base = rng.lognormal(np.log(np.array([600.0, 250.0, 180.0, 90.0])[typ]), 1.0)
    pair = np.repeat(np.arange(npair), count)
    gaps = np.where(
        monthly[pair],
        scale[pair] + rng.normal(0, 1.5 * DAY, len(pair)),
        rng.exponential(1.0, len(pair)) * scale[pair],
    )
    first = np.concatenate(([0], np.cumsum(count)[:-1]))
    gaps[first] = 0
    cs = np.cumsum(gaps)
    ts = start[pair] + (cs - cs[first][pair]).astype(np.int64)
    amount = base[pair] * rng.lognormal(0.0, 0.35, len(pair))
    big = rng.random(len(pair)) < 0.005
    amount[big] *= 1 + rng.pareto(1.2, big.sum()) * 20
    src, dst = a[pair], b[pair]
    ok = (ts <= REFERENCE_TIME) & (ts >= np.maximum(people["opened"][src], people["opened"][dst]))
    parts = [(src[ok], dst[ok], amount[ok], ts[ok])]

    # Mule rings: dense money movement among members while the ring is active.
    for r, ring in enumerate(bank.rings):
        s0, s1 = bank.ring_windows[r]
        i, j = np.nonzero(~np.eye(len(ring), dtype=bool))
        ok = rng.random(len(i)) < MULE_RING_PAIR_P
        i, j = i[ok], j[ok]
        c = rng.integers(1, 4, len(i))
        i, j = np.repeat(i, c), np.repeat(j, c)
        t = s0 + (rng.random(len(i)) * (s1 - s0)).astype(np.int64)
        parts.append((ring[i], ring[j], rng.lognormal(np.log(2500), 0.9, len(i)), t))

    # Victims pay one member (once or twice), who passes the money on within hours to another
    # member, who passes it to the ring's collector.
    v, t0 = bank.victims, bank.victim_time
    sizes = np.array([len(r) for r in bank.rings])
    offs = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    flat = np.concatenate(bank.rings)
    rv = bank.victim_ring
    k_e = rng.integers(0, sizes[rv])
    entry = flat[offs[rv] + k_e]
    pay1 = rng.lognormal(np.log(50_000), 0.8, len(v)) + VICTIM_MIN_AMOUNT
    twice = rng.random(len(v)) < 0.4
    t_pay2 = t0 + rng.integers(600, 4 * HOUR, len(v))
    pay2 = rng.lognormal(np.log(30_000), 0.7, len(v)) + VICTIM_MIN_AMOUNT
    parts.append((v, entry, pay1, t0))
    parts.append((v[twice], entry[twice], pay2[twice], t_pay2[twice]))
    total = pay1 + np.where(twice, pay2, 0)
    k_m = (k_e + rng.integers(1, sizes[rv])) % sizes[rv]
    t1 = t_pay2 + rng.integers(HOUR // 3, 6 * HOUR, len(v))
    fwd1 = total * rng.uniform(0.9, 0.99, len(v))
    parts.append((entry, flat[offs[rv] + k_m], fwd1, t1))
    collector = rng.integers(0, sizes)  # one collector per ring
    k_c = collector[rv]
    k_c = np.where(k_c == k_m, (k_m + 1) % sizes[rv], k_c)
    parts.append(
        (
            flat[offs[rv] + k_m],
            flat[offs[rv] + k_c],
            fwd1 * rng.uniform(0.9, 0.99, len(v)),
            t1 + rng.integers(HOUR // 3, 8 * HOUR, len(v)),
        )
    )

    src, dst, amount, ts = (np.concatenate(c) for c in zip(*parts, strict=True))
    amount = np.round(np.clip(amount, 0.01, 5e7), 2)
    ts = np.minimum(ts, REFERENCE_TIME - 60)
    o = np.argsort(ts, kind="stable")  # transfer ids run in time order
    cur = np.zeros(len(o), np.int64)
    foreign = rng.random(len(o)) < 0.02
    cur[foreign] = rng.integers(1, len(_CURRENCIES), foreign.sum())
    bank.tables["transfers"] = {
        "src": src[o],
        "dst": dst[o],
        "amount": amount[o],
        "ts": ts[o],
        "currency": cur,
    }


# --------------------------------------------------------------------------------------------
# Calls and SMS between numbers; abnormal numbers.


def _calls(rng, bank: Bank, n_own: int, n_external: int) -> None:
    people, n, rel = bank.people, bank.n, bank.relations
    phone = people["phone"]
    abn = bank.abnormal_phone_index
    kin = rel.kind < _NKIN
    take = rng.random(len(rel.src)) < np.where(kin, 0.6, 0.25)
    a, b = rel.src[take], rel.dst[take]
    flip = rng.random(len(a)) < 0.5
    a, b = np.where(flip, b, a), np.where(flip, a, b)
    back = rng.random(len(a)) < 0.4
    frm = np.concatenate([phone[a], phone[b[back]]])
    to = np.concatenate([phone[b], phone[a[back]]])
    # Hotlines, shops, friends outside the bank: a few popular numbers and a long tail.
    k = rng.poisson(0.8, n)
    c = np.repeat(np.arange(n), k)
    ext = n_own + rng.choice(n_external, size=len(c), p=_zipf_p(n_external, 0.9))
    inbound = rng.random(len(c)) < 0.5
    frm = np.concatenate([frm, np.where(inbound, ext, phone[c])])
    to = np.concatenate([to, np.where(inbound, phone[c], ext)])
    kind = (rng.random(len(frm)) < 0.25).astype(np.int64)  # 0 CALL, 1 SMS
    count = 1 + np.minimum(rng.lognormal(1.2, 1.2, len(frm)), 5000).astype(np.int64)
    t_first = HISTORY_START + (rng.random(len(frm)) * HISTORY_DAYS * DAY * 0.9).astype(np.int64)
    t_last = t_first + (rng.random(len(frm)) * (REFERENCE_TIME - t_first)).astype(np.int64)
    parts = [(frm, to, kind, count, t_first, np.where(count == 1, t_first, t_last))]

    # Failed attempts: abnormal numbers also call or text customers who do not fall for it.
    targets = np.flatnonzero((rng.random(n) < ABNORMAL_CONTACT_RATE) & (bank.true_kind == 0))
    t = HISTORY_START + (rng.random(len(targets)) * (HISTORY_DAYS - 2) * DAY).astype(np.int64)
    src_abn = abn[rng.integers(0, len(abn), len(targets))]
    cnt = rng.integers(1, 3, len(targets))
    parts.append(
        (
            src_abn,
            phone[targets],
            (rng.random(len(targets)) < 0.4).astype(np.int64),
            cnt,
            t,
            t + (cnt - 1) * rng.integers(60, DAY, len(targets)),
        )
    )

    # Victims: the ring's gang numbers call or text them in the hours or days before they pay;
    # about half call back.
    gang = [abn[rng.choice(len(abn), size=rng.integers(1, 4), replace=False)] for _ in bank.rings]
    v, t0 = bank.victims, bank.victim_time
    caller = np.array(
        [g[rng.integers(0, len(g))] for g in (gang[r] for r in bank.victim_ring)], dtype=np.int64
    ).reshape(-1)
    last = t0 - rng.integers(VICTIM_CONTACT_WINDOW[0], 2 * DAY, len(v))
    first = np.maximum(last - rng.integers(0, 5 * DAY, len(v)), t0 - VICTIM_CONTACT_WINDOW[1])
    cnt = rng.integers(1, 7, len(v))
    first = np.where(cnt == 1, last, first)
    sms = (rng.random(len(v)) < 0.3).astype(np.int64)
    parts.append((caller, phone[v], sms, cnt, first, last))
    cb = rng.random(len(v)) < 0.5
    cb_t = first[cb] + (rng.random(cb.sum()) * (t0[cb] - first[cb])).astype(np.int64)
    parts.append(
        (
            phone[v[cb]],
            caller[cb],
            np.zeros(cb.sum(), np.int64),
            np.ones(cb.sum(), np.int64),
            cb_t,
            cb_t,
        )
    )

    frm, to, kind, count, t_first, t_last = (np.concatenate(c) for c in zip(*parts, strict=True))
    ok = frm != to
    total = len(bank.phone_numbers)
    code = (frm * total + to) * 2 + kind
    code = np.where(ok, code, -1)
    _, keep = np.unique(code, return_index=True)
    keep = keep[ok[keep]]
    bank.tables["calls"] = {
        "from": frm[keep],
        "to": to[keep],
        "kind": kind[keep],
        "count": count[keep],
        "first": t_first[keep],
        "last": t_last[keep],
    }
    bank.tables["abnormal_numbers"] = {
        "number": abn,
        "category": rng.choice(
            len(_ABNORMAL_NUMBER_CATEGORIES), size=len(abn), p=_ABNORMAL_NUMBER_P
        ),
        "listed": REFERENCE_TIME - (rng.random(len(abn)) * 3 * YEAR).astype(np.int64),
    }


# --------------------------------------------------------------------------------------------
# Vouches, rejections, credit, consents, blacklist, labels.


def _vouches(rng, bank: Bank, tied: list[tuple[np.ndarray, ...]]) -> np.ndarray:
    """Vouching history; returns, per collusion group, when its first settled vouch was made."""
    people, n, rel = bank.people, bank.n, bank.relations
    kin = rel.kind < _NKIN
    p = np.where(kin, 0.7, 0.3)
    p = p / p.sum() * n * VOUCH_RATE
    take = rng.random(len(rel.src)) < np.minimum(p, 1.0)
    a, b = rel.src[take], rel.dst[take]
    flip = rng.random(len(a)) < 0.5
    g, c = np.where(flip, b, a), np.where(flip, a, b)
    ts = REFERENCE_TIME - (rng.random(len(g)) * 365 * DAY).astype(np.int64)
    ts = np.maximum(ts, np.maximum(people["opened"][g], people["opened"][c]) + DAY)
    business = rng.choice(3, size=len(g), p=(0.25, 0.45, 0.30))
    recent = ts > REFERENCE_TIME - 30 * DAY
    outcome = np.where(
        recent & (rng.random(len(g)) < 0.85),
        _VO["PENDING"],
        rng.choice(4, size=len(g), p=(0.94, 0.025, 0.025, 0.01)),
    )
    parts = [(g, c, business, ts, outcome)]

    # Some victims were vouched for by a relative minutes before paying the mule; the payee
    # was later reported as a fraud.
    v = bank.victims
    has = (people["size"][v] > 1) & (rng.random(len(v)) < 0.3)
    vv, vt = v[has], bank.victim_time[has]
    parts.append(
        (
            _household_member(rng, people, vv),
            vv,
            np.where(rng.random(len(vv)) < 0.7, 1, 0),
            vt - rng.integers(300, 3600, len(vv)),
            np.full(len(vv), _VO["FRAUD_REPORTED"]),
        )
    )

    # Collusive guarantors vouch for each other along their ties; most of it ends badly.
    group_first_bad = []
    for a, b in tied:
        vouch = rng.random(len(a)) < 0.85
        vouch[0] = True
        a, b = a[vouch], b[vouch]
        twice = rng.random(len(a)) < 0.3
        a, b = np.concatenate([a, b[twice]]), np.concatenate([b, a[twice]])
        flip = rng.random(len(a)) < 0.5
        gg, cc = np.where(flip, b, a), np.where(flip, a, b)
        t = REFERENCE_TIME - rng.integers(60, 360, len(gg)) * DAY - rng.integers(0, DAY, len(gg))
        r = rng.random(len(gg))
        bad = np.where(rng.random(len(gg)) < 0.45, _VO["FRAUD_REPORTED"], _VO["DEFAULTED"])
        o = np.where(
            r < COLLUSION_BAD_OUTCOME_P,
            bad,
            np.where(r < COLLUSION_BAD_OUTCOME_P + 0.1, _VO["NO_ISSUE"], _VO["PENDING"]),
        )
        o[0] = bad[0]  # every group has at least one bad outcome
        t = np.where(o == _VO["PENDING"], REFERENCE_TIME - rng.integers(1, 25, len(gg)) * DAY, t)
        parts.append((gg, cc, rng.choice(3, size=len(gg), p=(0.3, 0.4, 0.3)), t, o))
        group_first_bad.append(t[o != _VO["PENDING"]].min())

    g, c, business, ts, outcome = (np.concatenate(x) for x in zip(*parts, strict=True))
    o_ts = ts + rng.integers(3, 90, len(ts)) * DAY
    o_ts = np.minimum(o_ts, REFERENCE_TIME - HOUR)
    o_ts = np.where(outcome == _VO["PENDING"], _NO_TIME, np.maximum(o_ts, ts + 60))
    o = np.argsort(ts, kind="stable")
    bank.tables["vouches"] = {
        "guarantor": g[o],
        "customer": c[o],
        "business": business[o],
        "ts": ts[o],
        "outcome": outcome[o],
        "outcome_ts": o_ts[o],
    }
    return np.array(group_first_bad, dtype=np.int64)


def _labels(rng, bank: Bank, collusion_known: np.ndarray) -> None:
    n, kind = bank.n, bank.true_kind
    ts = REFERENCE_TIME - rng.integers(0, 90, n) * DAY - rng.integers(0, DAY, n)  # last review
    for r, ring in enumerate(bank.rings):
        ts[ring] = bank.ring_windows[r, 1] + rng.integers(2, 30, len(ring)) * DAY
    ts[bank.victims] = bank.victim_time + rng.integers(HOUR, 10 * DAY, len(bank.victims))
    for g, group in enumerate(bank.collusion_groups):
        ts[group] = collusion_known[g] + rng.integers(30, 90, len(group)) * DAY
    fraud = np.flatnonzero(kind == _LK["fraud"])
    ts[fraud] = REFERENCE_TIME - rng.integers(10, 420, len(fraud)) * DAY
    ts = np.minimum(ts, REFERENCE_TIME - 60)
    label = (kind > 0).astype(np.int64)
    shown = kind.copy()
    missed = np.flatnonzero((kind > 0) & (rng.random(n) < LABEL_MISS_RATE))
    label[missed], shown[missed] = 0, 0
    wrong = np.flatnonzero((kind == 0) & (rng.random(n) < LABEL_FALSE_POSITIVE_RATE))
    label[wrong], shown[wrong] = 1, _LK["fraud"]
    ts[missed] = (
        REFERENCE_TIME - rng.integers(0, 90, len(missed)) * DAY - rng.integers(60, DAY, len(missed))
    )
    bank.label = label
    bank.tables["labels"] = {
        "label": label,
        "kind": shown,
        "ts": ts,
        "missed": missed,
        "wrong": wrong,
    }


def _rejections(rng, bank: Bank) -> None:
    people, n, kind = bank.people, bank.n, bank.true_kind
    p = np.select(
        [kind == _LK["fraud"], kind == _LK["mule"], kind == _LK["telecom_victim"]],
        [0.5, 0.15, 0.25],
        REJECTION_RATE,
    )
    who = np.flatnonzero(rng.random(n) < p)
    fraudish = (kind[who] == _LK["fraud"]) | (kind[who] == _LK["mule"])
    per = np.where(fraudish, rng.integers(1, 4, len(who)), 1 + (rng.random(len(who)) < 0.2))
    c = np.repeat(who, per)
    bad = np.repeat(fraudish, per)
    reason = np.where(
        bad,
        rng.choice(7, size=len(c), p=_REJECTION_P_FRAUD),
        rng.choice(7, size=len(c), p=_REJECTION_P_NORMAL),
    )
    lo = np.maximum(people["opened"][c], HISTORY_START)
    ts = lo + (rng.random(len(c)) * (REFERENCE_TIME - lo)).astype(np.int64)
    # A victim's bank often stopped one attempt shortly before the payment that went through.
    vic = kind[c] == _LK["telecom_victim"]
    victim_time = np.zeros(n, np.int64)
    victim_time[bank.victims] = bank.victim_time
    ts = np.where(vic, victim_time[c] - rng.integers(600, 2 * DAY, len(c)), ts)
    reason = np.where(vic, np.where(rng.random(len(c)) < 0.6, 1, 4), reason)
    business = np.where(vic, 1, rng.choice(3, size=len(c), p=(0.3, 0.5, 0.2)))
    o = np.argsort(ts, kind="stable")
    bank.tables["rejections"] = {
        "customer": c[o],
        "business": business[o],
        "reason": reason[o],
        "ts": ts[o],
    }


def _credit(rng, bank: Bank) -> None:
    people, n, kind = bank.people, bank.n, bank.true_kind
    grade = rng.choice(8, size=n, p=_GRADE_P)
    grade = np.where(kind == _LK["fraud"], np.minimum(grade + rng.integers(1, 4, n), 7), grade)
    has = rng.random(n) < np.where(kind == _LK["mule"], 0.4, 0.95)
    per = np.where(has, rng.integers(1, 4, n), 0)
    per = per[people["by_rank"]]
    c = np.repeat(people["by_rank"], per)  # rows in customer id order
    k = np.arange(len(c)) - np.repeat(np.cumsum(per) - per, per)  # 0 = the newest
    q = len(_QUARTER_ENDS) - 1 - k
    as_of = _QUARTER_ENDS[q]
    ok = as_of >= people["opened"][c]
    newest = np.flatnonzero(k == 0)
    ok[newest] = True  # everyone with a file has at least the newest as_of
    c, k, as_of = c[ok], k[ok], as_of[ok]
    g = grade[c] + np.where(k > 0, rng.choice([-1, 0, 1], size=len(c), p=(0.1, 0.8, 0.1)), 0)
    g = np.clip(g, 0, 7)
    lo, hi = _GRADE_SCORE[g, 0], _GRADE_SCORE[g, 1]
    score = lo + (rng.random(len(c)) * (hi - lo)).astype(np.int64)
    score = np.where(rng.random(len(c)) < 0.08, -1, score)
    bank.tables["credit"] = {"customer": c, "grade": g, "score": score, "as_of": as_of}


def _consents(rng, bank: Bank) -> None:
    people, n = bank.people, bank.n
    ncat = len(CONSENT_CATEGORIES)
    has = rng.random((n, ncat)) < np.array(_CONSENT_P)
    r, cat = np.nonzero(has)
    c = people["by_rank"][r]  # rows in customer id order
    opened = people["opened"][c]
    at_opening = opened + rng.integers(60, 3600, len(c))
    later = opened + (rng.random(len(c)) * (REFERENCE_TIME - opened)).astype(np.int64)
    ts = np.where(cat <= 2, at_opening, np.where(rng.random(len(c)) < 0.5, at_opening, later))
    expires = np.where(
        rng.random(len(c)) < 0.5, REFERENCE_TIME + rng.integers(30, 1500, len(c)) * DAY, _NO_TIME
    )
    expired = (expires > 0) & (rng.random(len(c)) < 0.04)
    expires = np.where(expired, REFERENCE_TIME - rng.integers(1, 300, len(c)) * DAY, expires)
    ts = np.where(expires > 0, np.minimum(ts, expires - 180 * DAY), ts)
    ts = np.maximum(ts, opened)
    expires = np.where((expires > 0) & (expires <= ts), ts + 90 * DAY, expires)
    ts = np.minimum(ts, REFERENCE_TIME - HOUR)
    # A few consents were later withdrawn: a second record, granted=false.
    w = np.flatnonzero(rng.random(len(c)) < 0.02)
    w_ts = ts[w] + (rng.random(len(w)) * (REFERENCE_TIME - ts[w])).astype(np.int64)
    bank.tables["consents"] = {
        "customer": np.concatenate([c, c[w]]),
        "category": np.concatenate([cat, cat[w]]),
        "granted": np.concatenate([np.ones(len(c), bool), np.zeros(len(w), bool)]),
        "ts": np.concatenate([ts, w_ts]),
        "expires": np.concatenate([expires, np.full(len(w), _NO_TIME)]),
    }


def _blacklist(rng, bank: Bank, id_extra: int) -> None:
    n, kind = bank.n, bank.true_kind
    label_ts = bank.tables["labels"]["ts"]
    known = bank.label == 1
    p = np.select(
        [known & (kind == _LK["fraud"]), known & (kind == _LK["mule"])], [0.3, 0.1], BLACKLIST_RATE
    )
    who = np.flatnonzero(rng.random(n) < p)
    bad = known[who]
    reason = np.where(
        bad,
        np.where(kind[who] == _LK["mule"], 1, rng.choice([0, 2], size=len(who))),
        rng.choice([3, 4, 5], size=len(who), p=(0.45, 0.5, 0.05)),
    )
    lo = np.where(bad, label_ts[who], REFERENCE_TIME - 4 * YEAR)
    listed = lo + (rng.random(len(who)) * (REFERENCE_TIME - lo)).astype(np.int64)
    form = rng.choice(3, size=len(who), p=(0.5, 0.2, 0.3))  # both / customer id / id number
    # People who are not customers, named by ID number only.
    ext = n + np.arange(id_extra)
    bank.tables["blacklist"] = {
        "customer": np.concatenate([np.where(form == 2, -1, who), np.full(id_extra, -1)]),
        "id_row": np.concatenate([np.where(form == 1, -1, who), ext]),
        "reason": np.concatenate([reason, rng.choice([0, 2, 3, 5], size=id_extra)]),
        "listed": np.concatenate(
            [listed, REFERENCE_TIME - (rng.random(id_extra) * 5 * YEAR).astype(np.int64)]
        ),
    }


def _id_numbers(rng, bank: Bank, extra: int) -> None:
    """18-character national-ID-like numbers: region, birth date, sequence (odd for men),
    ISO 7064 check character; unique. Rows after the customers are non-customers."""
    people, n = bank.people, bank.n
    total = n + extra
    region = 110_000 + people["city"] * 1_000 + people["district"] * 100 + 1
    region = np.concatenate([region, rng.integers(110_000, 660_000, extra)])
    birth = np.concatenate([people["birth"], REFERENCE_TIME - rng.integers(20, 70, extra) * YEAR])
    male = np.concatenate([people["gender"] == 1, rng.random(extra) < 0.5])
    y, m, d, _ = _civil(birth)
    ymd = y * 10_000 + m * 100 + d
    seq = rng.integers(0, 500, total) * 2 + male
    for _ in range(50):  # re-draw the few collisions
        code = (region * 100_000_000 + ymd) * 1_000 + seq
        _, inv, cnt = np.unique(code, return_inverse=True, return_counts=True)
        first = np.zeros(len(code), bool)
        first[np.unique(inv, return_index=True)[1]] = True
        dup = (cnt[inv] > 1) & ~first
        if not dup.any():
            break
        seq[dup] = rng.integers(0, 500, dup.sum()) * 2 + male[dup]
    chars = np.empty((total, 18), dtype=np.uint8)
    _put_digits(chars, 0, 6, region)
    _put_digits(chars, 6, 8, ymd)
    _put_digits(chars, 14, 3, seq)
    check = ((chars[:, :17].astype(np.int64) - 48) * _ID_WEIGHTS).sum(axis=1) % 11
    chars[:, 17] = _ID_CHECK[check]
    bank.tables["_id"] = {"chars": chars}


# --------------------------------------------------------------------------------------------
# Building the bank.


def plan_bank(
    customers: int, seed: int, progress: Callable[[str, int, int], None] | None = None
) -> Bank:
    """Build the whole synthetic bank in memory (without writing it) for (customers, seed)."""
    if customers < MIN_CUSTOMERS:
        raise ValueError(f"customers must be at least {MIN_CUSTOMERS}")
    rng = np.random.default_rng(seed)
    steps = 9

    def step(k: int) -> None:
        if progress is not None:
            progress("plan", k, steps)

    step(0)
    people = _people(rng, customers)
    bank = Bank(customers, seed, pa.array([], pa.string()), people, Relations(*[np.zeros(0)] * 5))
    _plant(rng, bank)
    # Customer ids follow account opening (the oldest account is C0000001); files list rows in
    # customer id order.
    rank = np.empty(customers, np.int64)
    rank[np.argsort(people["opened"], kind="stable")] = np.arange(customers)
    people["rank"] = rank
    people["by_rank"] = np.argsort(rank)
    bank.customer_ids = _id_strings("C", rank + 1, max(7, len(str(customers))))
    step(1)
    buf = _RelationBuffer()
    _relations(rng, people, buf)
    tied = _plant_relations(rng, bank, buf)
    bank.relations = buf.build(people["rank"])
    step(2)
    _, n_own, n_external = _phones(rng, bank)
    _devices(rng, bank)
    _apps(rng, bank)
    step(3)
    _transfers(rng, bank)
    step(4)
    _calls(rng, bank, n_own, n_external)
    step(5)
    collusion_known = _vouches(rng, bank, tied)
    _labels(rng, bank, collusion_known)
    step(6)
    _rejections(rng, bank)
    _credit(rng, bank)
    step(7)
    _consents(rng, bank)
    step(8)
    id_extra = max(5, customers // 1000)
    _blacklist(rng, bank, id_extra)
    _id_numbers(rng, bank, id_extra)
    step(steps)
    return bank


# --------------------------------------------------------------------------------------------
# Tables: per source, a row count and a function formatting the columns of rows [a, b).


Columns = Callable[[int, int], dict[str, pa.Array]]


def _tables(bank: Bank) -> dict[str, tuple[int, Columns]]:
    p, t, cid = bank.people, bank.tables, bank.customer_ids
    phones, devs = bank.phone_numbers, bank.device_ids
    by_rank = p["by_rank"]
    app_ids = pa.array([f"APP{i:04d}" for i in range(_APP_COUNT)])
    caps = [s.capitalize() for s in _GIVEN]
    app_names = pa.array(
        [
            f"{caps[(i * 7) % len(caps)]}{_GIVEN[(i * 13 + 5) % len(_GIVEN)]} "
            f"{_APP_SUFFIX[(i * 3) % len(_APP_SUFFIX)]}"
            for i in range(_APP_COUNT)
        ]
    )
    given_cap = pa.array(caps)
    given_low = pa.array([*_GIVEN, ""])
    street_names = pa.array([f"{s} {x}" for s in _STREETS for x in _STREET_SUFFIX])
    ids = t["_id"]["chars"]

    def take(arr: pa.Array, idx: np.ndarray) -> pa.Array:
        if idx.size and idx.min() < 0:
            return arr.take(pa.array(idx, mask=idx < 0))
        return arr.take(pa.array(idx))

    def customers(a: int, b: int) -> dict[str, pa.Array]:
        c = by_rank[a:b]
        g2 = np.where(p["given2"][c] < 0, len(_GIVEN), p["given2"][c])
        given = pc.binary_join_element_wise(given_cap.take(p["given1"][c]), given_low.take(g2), "")
        name = pc.binary_join_element_wise(_choice_strings(_SURNAMES, p["surname"][c]), given, " ")
        addr = pc.binary_join_element_wise(
            _int_strings(p["house"][c]),
            street_names.take(p["street"][c]),
            pa.array(["Apt"] * len(c)),
            _int_strings(p["apt"][c]),
            _choice_strings(tuple(_DISTRICTS), p["district"][c]),
            pa.array(["District"] * len(c)),
            _choice_strings(_CITIES, p["city"][c]),
            " ",
        )
        addr = pc.if_else(pa.array(p["address_known"][c]), addr, pa.nulls(len(c), pa.string()))
        return {
            "customer_id": cid.take(c),
            "name": name,
            "id_number": _strings(ids[c]),
            "gender": _choice_strings(("F", "M", "X"), p["gender"][c]),
            "birth_date": _dates(p["birth"][c]),
            "address": addr,
            "city": _choice_strings(_CITIES, p["city"][c]),
            "occupation": _choice_strings(_OCCUPATIONS, p["occupation"][c]),
            "opened_at": _times(p["opened"][c]),
            "status": _choice_strings(("active", "dormant", "closed"), p["status"][c]),
        }

    rel = bank.relations

    def relations(a: int, b: int) -> dict[str, pa.Array]:
        k = rel.kind[a:b]
        return {
            "src_id": cid.take(rel.src[a:b]),
            "dst_id": cid.take(rel.dst[a:b]),
            "category": _choice_strings(("KIN", "SOCIAL"), (k >= _NKIN).astype(np.int64)),
            "kind": _choice_strings(_KINDS, k),
            "source": _choice_strings(RELATION_SOURCES, rel.source[a:b]),
            "since": _times(rel.since[a:b]),
        }

    tr = t["transfers"]

    def transfers(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "transfer_id": _id_strings("T", np.arange(a, b) + 1, 10),
            "src_id": cid.take(tr["src"][a:b]),
            "dst_id": cid.take(tr["dst"][a:b]),
            "amount": pa.array(tr["amount"][a:b]),
            "currency": _choice_strings(_CURRENCIES, tr["currency"][a:b]),
            "ts": _times(tr["ts"][a:b]),
        }

    ph = t["phones"]

    def phones_(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "customer_id": cid.take(ph["customer"][a:b]),
            "phone_number": phones.take(ph["number"][a:b]),
            "since": _times(ph["since"][a:b]),
        }

    ca = t["calls"]

    def calls(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "phone_number": phones.take(ca["from"][a:b]),
            "counterpart_number": phones.take(ca["to"][a:b]),
            "kind": _choice_strings(("CALL", "SMS"), ca["kind"][a:b]),
            "count": pa.array(ca["count"][a:b]),
            "first_ts": _times(ca["first"][a:b]),
            "last_ts": _times(ca["last"][a:b]),
        }

    dv = t["devices"]

    def devices(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "customer_id": cid.take(dv["customer"][a:b]),
            "device_id": devs.take(dv["device"][a:b]),
            "model": _choice_strings(_MODELS, dv["model"][a:b]),
            "first_seen": _times(dv["first"][a:b]),
            "last_seen": _times(dv["last"][a:b]),
        }

    ap = t["apps"]

    def apps(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "device_id": devs.take(ap["device"][a:b]),
            "app_id": app_ids.take(ap["app"][a:b]),
            "app_name": app_names.take(ap["app"][a:b]),
            "installed_at": _times(ap["at"][a:b]),
        }

    an = t["abnormal_numbers"]

    def abnormal_numbers(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "phone_number": phones.take(an["number"][a:b]),
            "category": _choice_strings(_ABNORMAL_NUMBER_CATEGORIES, an["category"][a:b]),
            "listed_at": _times(an["listed"][a:b]),
        }

    aa = t["abnormal_apps"]

    def abnormal_apps(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "app_id": app_ids.take(aa["app"][a:b]),
            "category": _choice_strings(_ABNORMAL_APP_CATEGORIES, aa["category"][a:b]),
            "listed_at": _times(aa["listed"][a:b]),
        }

    bl = t["blacklist"]

    def blacklist(a: int, b: int) -> dict[str, pa.Array]:
        row = bl["id_row"][a:b]
        return {
            "entry_id": _id_strings("B", np.arange(a, b) + 1, 7),
            "customer_id": take(cid, bl["customer"][a:b]),
            "id_number": _strings(ids[np.maximum(row, 0)], row >= 0),
            "reason": _choice_strings(BLACKLIST_REASONS, bl["reason"][a:b]),
            "listed_at": _times(bl["listed"][a:b]),
        }

    rj = t["rejections"]

    def rejections(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "rejection_id": _id_strings("R", np.arange(a, b) + 1, 9),
            "customer_id": cid.take(rj["customer"][a:b]),
            "business": _choice_strings(BUSINESSES, rj["business"][a:b]),
            "reason_code": _choice_strings(REJECTION_REASONS, rj["reason"][a:b]),
            "ts": _times(rj["ts"][a:b]),
        }

    cr = t["credit"]

    def credit(a: int, b: int) -> dict[str, pa.Array]:
        score = cr["score"][a:b]
        return {
            "customer_id": cid.take(cr["customer"][a:b]),
            "grade": _choice_strings(CREDIT_GRADES, cr["grade"][a:b]),
            "score": pa.array(score, mask=score < 0),
            "as_of": _dates(cr["as_of"][a:b]),
        }

    co = t["consents"]

    def consents(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "consent_id": _id_strings("K", np.arange(a, b) + 1, 10),
            "customer_id": cid.take(co["customer"][a:b]),
            "category": _choice_strings(CONSENT_CATEGORIES, co["category"][a:b]),
            "granted": pa.array(co["granted"][a:b]),
            "ts": _times(co["ts"][a:b]),
            "expires_at": _times(co["expires"][a:b]),
        }

    vo = t["vouches"]

    def vouches(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "vouch_id": _id_strings("V", np.arange(a, b) + 1, 9),
            "guarantor_id": cid.take(vo["guarantor"][a:b]),
            "customer_id": cid.take(vo["customer"][a:b]),
            "business": _choice_strings(BUSINESSES, vo["business"][a:b]),
            "ts": _times(vo["ts"][a:b]),
            "outcome": _choice_strings(VOUCH_OUTCOMES, vo["outcome"][a:b]),
            "outcome_ts": _times(vo["outcome_ts"][a:b]),
        }

    lb = t["labels"]

    def labels(a: int, b: int) -> dict[str, pa.Array]:
        c = by_rank[a:b]
        return {
            "customer_id": cid.take(c),
            "label": pa.array(lb["label"][c]),
            "kind": _choice_strings(LABEL_KINDS, lb["kind"][c]),
            "ts": _times(lb["ts"][c]),
        }

    return {
        "customers": (bank.n, customers),
        "relations": (len(rel.src), relations),
        "transfers": (len(tr["src"]), transfers),
        "phones": (len(ph["customer"]), phones_),
        "calls": (len(ca["from"]), calls),
        "devices": (len(dv["customer"]), devices),
        "apps": (len(ap["device"]), apps),
        "abnormal_numbers": (len(an["number"]), abnormal_numbers),
        "abnormal_apps": (len(aa["app"]), abnormal_apps),
        "blacklist": (len(bl["customer"]), blacklist),
        "rejections": (len(rj["customer"]), rejections),
        "credit": (len(cr["customer"]), credit),
        "consents": (len(co["customer"]), consents),
        "vouches": (len(vo["guarantor"]), vouches),
        "labels": (bank.n, labels),
        # The synthetic bank has no peer ratings and no feature-store attributes: their files
        # are written with the header only.
        "ratings": (0, _no_rows),
        "attributes": (0, _no_rows),
    }


def _no_rows(a: int, b: int) -> dict[str, pa.Array]:
    raise AssertionError("a source without rows has no columns to build")


# --------------------------------------------------------------------------------------------
# Writing.

_ARROW_TYPES = {
    "str": pa.string(),
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "time": pa.string(),
    "enum": pa.string(),
}


def source_schema(source: Source) -> pa.Schema:
    """The Arrow schema `generate` writes for a source: times and enums are strings."""
    return pa.schema(
        [pa.field(f.name, _ARROW_TYPES[f.kind], nullable=not f.required) for f in source.fields]
    )


def _write(
    source: Source,
    rows: int,
    columns: Columns,
    path: Path,
    fmt: str,
    progress: Callable[[str, int, int], None] | None,
) -> None:
    schema = source_schema(source)
    # Quoting "none" keeps files small; pyarrow refuses (rather than corrupts) a value with a
    # comma, quote or newline, and no generated value has one.
    tmp = path.with_name(path.name + ".tmp")
    if fmt == "csv":
        writer = pacsv.CSVWriter(
            str(tmp), schema, write_options=pacsv.WriteOptions(quoting_style="none")
        )
    else:
        writer = pq.ParquetWriter(str(tmp), schema, compression="zstd")
    try:
        for a in range(0, rows, CHUNK_ROWS):
            b = min(rows, a + CHUNK_ROWS)
            cols = columns(a, b)
            writer.write_batch(
                pa.record_batch([cols[f.name] for f in source.fields], schema=schema)
            )
            if progress is not None:
                progress(source.name, b, rows)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    writer.close()
    tmp.replace(path)  # a reader never sees a half-written file under the real name
    if rows == 0 and progress is not None:
        progress(source.name, 0, 0)


def generate(
    customers: int,
    seed: int,
    out_dir: Path,
    fmt: str = "csv",
    progress: Callable[[str, int, int], None] | None = None,
) -> dict:
    """Write a synthetic bank of `customers` customers to `out_dir`, one file per source.

    Files are `<source>.csv` or `<source>.parquet` (fmt="parquet") with the columns of
    `etl.sources`; the same (customers, seed) gives byte-identical files. A file of the same
    source in the other format is removed, so the folder holds one bank. `progress(stage,
    done, total)` is called after each planning step ("plan") and each chunk of each file.
    Returns a summary: rows and bytes per file, planted counts per risk kind, label counts,
    label rate and seconds taken.
    """
    if fmt not in ("csv", "parquet"):
        raise ValueError("fmt must be 'csv' or 'parquet'")
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    bank = plan_bank(customers, seed, progress)
    tables = _tables(bank)
    rows: dict[str, int] = {}
    sizes: dict[str, int] = {}
    other = "parquet" if fmt == "csv" else "csv"
    for source in SOURCES:
        count, columns = tables[source.name]
        path = out_dir / f"{source.name}.{fmt}"
        _write(source, count, columns, path, fmt, progress)
        # A folder holding both formats of a source is ambiguous to the loader: this bank
        # replaces an earlier one written in the other format.
        out_dir.joinpath(f"{source.name}.{other}").unlink(missing_ok=True)
        rows[source.name] = count
        sizes[source.name] = path.stat().st_size
    labels = bank.tables["labels"]
    positives = int(bank.label.sum())
    return {
        "customers": customers,
        "seed": seed,
        "format": fmt,
        "out_dir": str(out_dir),
        "reference_time": "2026-06-30T00:00:00Z",
        "rows": rows,
        "bytes": sizes,
        "planted": bank.planted_counts(),
        "labels": {
            "positive": positives,
            "negative": customers - positives,
            "missed_positives": len(labels["missed"]),
            "false_positives": len(labels["wrong"]),
        },
        "label_rate": positives / customers,
        "seconds": round(time.perf_counter() - started, 3),
    }
