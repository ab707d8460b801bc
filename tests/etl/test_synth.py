"""Specification of the synthetic bank (etl/synth.py), read from the files it writes.

The files are read as plain CSV text, the way a loader sees them, and checked against the
Field rules of etl/sources.py. Planted structure is checked against the ground truth that
`plan_bank` returns for the same (customers, seed).
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from etl import synth
from etl.sources import KIN_KINDS, LABEL_KINDS, SOCIAL_KINDS, SOURCES, Field

CUSTOMERS = 3000
SEED = 11
REFERENCE = datetime.fromisoformat("2026-06-30T00:00:00+00:00")
TIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}Z)?$")
BAD_OUTCOMES = {"FRAUD_REPORTED", "DEFAULTED"}


def read(folder: Path, source: str) -> list[dict[str, str]]:
    with open(folder / f"{source}.csv", newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def ts(value: str) -> datetime:
    if "T" not in value:
        value += "T00:00:00Z"
    return datetime.fromisoformat(value)


@dataclass
class Written:
    folder: Path
    summary: dict
    progress: list[tuple[str, int, int]]


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> Written:
    folder = tmp_path_factory.mktemp("bank")
    calls: list[tuple[str, int, int]] = []
    summary = synth.generate(CUSTOMERS, SEED, folder, progress=lambda *a: calls.append(a))
    return Written(folder, summary, calls)


@pytest.fixture(scope="module")
def out(written: Written) -> Path:
    return written.folder


@pytest.fixture(scope="module")
def bank() -> synth.Bank:
    return synth.plan_bank(CUSTOMERS, SEED)


@pytest.fixture(scope="module")
def data(out: Path) -> dict[str, list[dict[str, str]]]:
    return {s.name: read(out, s.name) for s in SOURCES}


@pytest.fixture(scope="module")
def big_plan() -> synth.Bank:
    """A larger bank, planned but not written, for checking rates."""
    return synth.plan_bank(50_000, 5)


# -- files and values --------------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files(out: Path, tmp_path: Path) -> None:
    synth.generate(CUSTOMERS, SEED, tmp_path)
    for source in SOURCES:
        name = f"{source.name}.csv"
        assert (out / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_different_seed_gives_a_different_bank(out: Path, tmp_path: Path) -> None:
    synth.generate(CUSTOMERS, SEED + 1, tmp_path)
    for name in ("customers.csv", "relations.csv", "transfers.csv"):
        assert (out / name).read_bytes() != (tmp_path / name).read_bytes()


def test_every_source_has_a_file_with_the_exact_header(out: Path) -> None:
    for source in SOURCES:
        with open(out / f"{source.name}.csv", newline="") as f:
            header = next(csv.reader(f))
        assert header == [fld.name for fld in source.fields]


def check_value(fld: Field, value: str) -> str | None:
    """Why `value` breaks the Field's rule, or None when it is valid."""
    if value == "":
        return "required value missing" if fld.required else None
    if len(value) > fld.max_length:
        return "too long"
    if fld.kind == "enum" and value not in fld.choices:
        return f"not one of {fld.choices}"
    if fld.kind == "bool" and value not in ("true", "false"):
        return "not true/false"
    if fld.kind == "time":
        if not TIME_RE.match(value):
            return "not an ISO 8601 date or UTC time"
        (datetime if "T" in value else date).fromisoformat(value)
    if fld.kind in ("int", "float"):
        number = int(value) if fld.kind == "int" else float(value)
        if fld.min_value is not None and number < fld.min_value:
            return "below min"
        if fld.max_value is not None and number > fld.max_value:
            return "above max"
    return None


def test_every_value_is_valid_for_its_field(data) -> None:
    for source in SOURCES:
        rows = data[source.name]
        for fld in source.fields:
            bad = Counter()
            for row in rows:
                why = check_value(fld, row[fld.name])
                if why:
                    bad[why] += 1
            assert not bad, f"{source.name}.{fld.name}: {dict(bad)}"


def test_key_columns_identify_each_row(data) -> None:
    for source in SOURCES:
        keys = [tuple(row[k] for k in source.key) for row in data[source.name]]
        assert len(keys) == len(set(keys)), source.name


def test_no_reference_dangles(data) -> None:
    customers = {r["customer_id"] for r in data["customers"]}
    refs = {
        "relations": ("src_id", "dst_id"),
        "transfers": ("src_id", "dst_id"),
        "phones": ("customer_id",),
        "devices": ("customer_id",),
        "rejections": ("customer_id",),
        "credit": ("customer_id",),
        "consents": ("customer_id",),
        "vouches": ("guarantor_id", "customer_id"),
        "labels": ("customer_id",),
        "blacklist": ("customer_id",),
    }
    for source, columns in refs.items():
        for col in columns:
            values = {r[col] for r in data[source]} - {""}
            assert values <= customers, f"{source}.{col}"
    devices = {r["device_id"] for r in data["devices"]}
    assert {r["device_id"] for r in data["apps"]} <= devices
    apps = {r["app_id"] for r in data["apps"]}
    assert len(apps) > 100  # a few hundred app ids in use
    assert len({r["app_id"] for r in data["abnormal_apps"]}) >= 4


def test_no_customer_relates_to_transfers_to_or_vouches_for_themself(data) -> None:
    assert all(r["src_id"] != r["dst_id"] for r in data["relations"])
    assert all(r["src_id"] != r["dst_id"] for r in data["transfers"])
    assert all(r["guarantor_id"] != r["customer_id"] for r in data["vouches"])
    assert all(r["phone_number"] != r["counterpart_number"] for r in data["calls"])


def test_every_customer_has_exactly_one_label(data) -> None:
    labelled = [r["customer_id"] for r in data["labels"]]
    assert sorted(labelled) == sorted(r["customer_id"] for r in data["customers"])
    for r in data["labels"]:
        assert (r["label"] == "0") == (r["kind"] == "none")


def test_identifiers_look_like_a_bank(data) -> None:
    ids = [r["customer_id"] for r in data["customers"]]
    assert ids[0] == "C0000001" and all(re.fullmatch(r"C\d{7}", i) for i in ids)
    numbers = [r["id_number"] for r in data["customers"]]
    assert len(set(numbers)) == len(numbers)
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    for number, row in zip(numbers, data["customers"], strict=True):
        assert re.fullmatch(r"\d{17}[\dX]", number)
        check = "10X98765432"[
            sum(int(d) * w for d, w in zip(number[:17], weights, strict=True)) % 11
        ]
        assert number[17] == check
        assert number[6:14] == row["birth_date"].replace("-", "")
    phones = [r["phone_number"] for r in data["phones"]]
    assert all(re.fullmatch(r"\+86 1[3-9]\d{9}", p) for p in phones)


def test_times_are_ordered_and_not_after_the_reference_date(data) -> None:
    future_ok = {("consents", "expires_at")}
    for source in SOURCES:
        for fld in source.fields:
            if fld.kind != "time" or (source.name, fld.name) in future_ok:
                continue
            for row in data[source.name]:
                if row[fld.name]:
                    assert ts(row[fld.name]) <= REFERENCE, (source.name, fld.name)
    for r in data["calls"]:
        assert r["first_ts"] <= r["last_ts"]
        assert (r["count"] == "1") <= (r["first_ts"] == r["last_ts"])
    for r in data["devices"]:
        if r["first_seen"]:
            assert r["first_seen"] <= r["last_seen"]
    for r in data["vouches"]:
        assert (r["outcome"] == "PENDING") == (r["outcome_ts"] == "")
        assert r["outcome_ts"] == "" or r["outcome_ts"] > r["ts"]
    opened = {r["customer_id"]: r["opened_at"] for r in data["customers"]}
    for r in data["transfers"]:
        assert r["ts"] >= max(opened[r["src_id"]], opened[r["dst_id"]])


def test_relation_kind_says_what_src_is_to_dst(data) -> None:
    born = {r["customer_id"]: ts(r["birth_date"]) for r in data["customers"]}
    years = {"parent": 12, "grandparent": 30, "child": -12, "grandchild": -30}
    seen = Counter()
    for r in data["relations"]:
        gap = (born[r["dst_id"]] - born[r["src_id"]]).days / 365.25  # src older: gap > 0
        need = years.get(r["kind"])
        if need is not None:
            assert gap >= need if need > 0 else gap <= need, r
        seen[r["kind"]] += 1
        assert r["category"] == ("KIN" if r["kind"] in KIN_KINDS else "SOCIAL")
    assert all(seen[k] > 0 for k in KIN_KINDS + SOCIAL_KINDS)


def test_symmetric_kinds_are_written_once_with_the_smaller_id_first(data) -> None:
    directed = {"parent", "child", "grandparent", "grandchild", "emergency_contact"}
    pairs = Counter()
    for r in data["relations"]:
        if r["kind"] not in directed:
            assert r["src_id"] < r["dst_id"]
        if r["category"] == "KIN":
            pairs[(min(r["src_id"], r["dst_id"]), max(r["src_id"], r["dst_id"]), r["source"])] += 1
    assert max(pairs.values()) == 1  # one kin row per pair and source


def test_relation_sources_are_mostly_the_bank(data) -> None:
    sources = Counter(r["source"] for r in data["relations"])
    total = sum(sources.values())
    assert sources["bank"] / total > 0.4
    assert sources["household_registry"] / total > 0.05
    assert sources["customer_declared"] / total > 0.1


def test_background_looks_like_a_bank(data) -> None:
    n = len(data["customers"])
    phones = Counter(r["customer_id"] for r in data["phones"])
    assert sum(1 for c in phones.values() if c == 1) / n > 0.8  # mostly one number each
    sharing = Counter(r["phone_number"] for r in data["phones"])
    assert any(c > 1 for c in sharing.values())  # some numbers are shared
    grades = Counter(r["grade"] for r in data["credit"])
    good = sum(grades[g] for g in ("AAA", "AA", "A", "BBB"))
    assert good / sum(grades.values()) > 0.6
    consents = Counter(r["customer_id"] for r in data["consents"] if r["granted"] == "true")
    assert np.mean([consents[r["customer_id"]] for r in data["customers"]]) > 5.5
    assert any(r["granted"] == "false" for r in data["consents"])
    expired = [r for r in data["consents"] if r["expires_at"] and ts(r["expires_at"]) < REFERENCE]
    assert 0 < len(expired) < 0.05 * len(data["consents"])
    amounts = np.array([float(r["amount"]) for r in data["transfers"]])
    assert np.percentile(amounts, 99) > 10 * np.median(amounts)  # heavy-tailed
    assert amounts.max() > 100 * np.median(amounts)
    outcomes = Counter(r["outcome"] for r in data["vouches"])
    assert outcomes["NO_ISSUE"] > outcomes["FRAUD_REPORTED"] + outcomes["DEFAULTED"]
    assert outcomes["PENDING"] > 0
    reasons = {r["reason_code"] for r in data["rejections"]}
    assert {"FACE_MISMATCH", "INSUFFICIENT_DOCS", "LIMIT_EXCEEDED"} <= reasons
    listed = data["blacklist"]
    assert any(r["customer_id"] and r["id_number"] for r in listed)
    assert any(not r["customer_id"] for r in listed)  # some by ID number only


def test_abnormal_numbers_are_not_customers_numbers(data) -> None:
    abnormal = {r["phone_number"] for r in data["abnormal_numbers"]}
    assert abnormal and not abnormal & {r["phone_number"] for r in data["phones"]}


def test_parquet_output_has_the_same_columns_and_rows(data, tmp_path: Path) -> None:
    summary = synth.generate(CUSTOMERS, SEED, tmp_path, fmt="parquet")
    for source in SOURCES:
        table = pq.read_table(tmp_path / f"{source.name}.parquet")
        assert table.column_names == [f.name for f in source.fields]
        assert table.num_rows == len(data[source.name]) == summary["rows"][source.name]
    ids = pq.read_table(tmp_path / "customers.parquet").column("customer_id").to_pylist()
    assert ids == [r["customer_id"] for r in data["customers"]]
    granted = pq.read_table(tmp_path / "consents.parquet").column("granted").to_pylist()
    assert granted == [r["granted"] == "true" for r in data["consents"]]
    assert not list(tmp_path.glob("*.csv"))


def test_writing_one_format_replaces_the_other(tmp_path: Path) -> None:
    synth.generate(1000, 1, tmp_path, fmt="parquet")
    synth.generate(1000, 1, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{s.name}.csv" for s in SOURCES)


def test_summary_and_progress(written: Written, data) -> None:
    summary = written.summary
    assert set(summary) >= {"rows", "planted", "labels", "label_rate", "seconds"}
    json.dumps(summary)  # the CLI prints it as JSON
    assert summary["rows"] == {s.name: len(data[s.name]) for s in SOURCES}
    assert summary["label_rate"] == sum(r["label"] == "1" for r in data["labels"]) / CUSTOMERS
    assert set(summary["planted"]) >= {"mule", "collusion", "telecom_victim", "fraud"}
    finished = {stage for stage, done, total in written.progress if done == total}
    assert finished >= {s.name for s in SOURCES} | {"plan"}


def test_bad_arguments_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        synth.generate(10, 1, tmp_path)
    with pytest.raises(ValueError):
        synth.generate(1000, 1, tmp_path, fmt="json")


# -- planted risk ------------------------------------------------------------------------------


def test_labels_carry_the_planted_kinds(bank: synth.Bank, data) -> None:
    label = {r["customer_id"]: r for r in data["labels"]}
    for kind in ("mule", "collusion", "telecom_victim", "fraud"):
        members = bank.ids(np.flatnonzero(bank.true_kind == LABEL_KINDS.index(kind)))
        assert members
        shown = Counter(label[c]["kind"] for c in members)
        assert set(shown) <= {kind, "none"}
        assert shown[kind] >= len(members) / 2  # the rest is label noise (checked below)


def test_positive_rate_and_label_noise_are_realistic(big_plan: synth.Bank) -> None:
    n = big_plan.n
    rate = big_plan.label.mean()
    assert synth.POSITIVE_RATE_BOUNDS[0] <= rate <= synth.POSITIVE_RATE_BOUNDS[1]
    truth = big_plan.true_kind > 0
    missed = (truth & (big_plan.label == 0)).sum() / truth.sum()
    assert 0.5 * synth.LABEL_MISS_RATE <= missed <= 1.5 * synth.LABEL_MISS_RATE
    wrong = (~truth & (big_plan.label == 1)).sum() / (~truth).sum()
    assert 0.3 * synth.LABEL_FALSE_POSITIVE_RATE <= wrong <= 2 * synth.LABEL_FALSE_POSITIVE_RATE
    counts = big_plan.planted_counts()
    for kind, rate in (
        ("mule", synth.MULE_RATE),
        ("collusion", synth.COLLUSION_RATE),
        ("telecom_victim", synth.TELECOM_VICTIM_RATE),
        ("fraud", synth.FRAUD_RATE),
    ):
        assert 0.7 * rate * n <= counts[kind] <= 1.3 * rate * n, kind


def test_mule_rings_have_4_to_12_young_accounts(bank: synth.Bank, data) -> None:
    opened = {r["customer_id"]: ts(r["opened_at"]) for r in data["customers"]}
    low, high = synth.MULE_RING_SIZE
    assert bank.rings
    for ring in bank.rings:
        assert low <= len(ring) <= high
        for c in bank.ids(ring):
            assert (REFERENCE - opened[c]).days < 365
    everyone = np.median([(REFERENCE - t).days for t in opened.values()])
    assert everyone > 3 * 365


def test_mule_rings_move_money_densely_among_members(bank: synth.Bank, data) -> None:
    pairs = {(r["src_id"], r["dst_id"]) for r in data["transfers"]}
    densities = []
    for ring in bank.rings:
        ids = bank.ids(ring)
        ordered = [(a, b) for a in ids for b in ids if a != b]
        densities.append(sum(p in pairs for p in ordered) / len(ordered))
    assert min(densities) >= 0.25 and np.mean(densities) >= 0.35
    # The same number of random customers barely transfer among themselves.
    rng = np.random.default_rng(0)
    ids = bank.ids(rng.choice(bank.n, 10, replace=False))
    assert sum((a, b) in pairs for a in ids for b in ids if a != b) <= 2


def test_mule_rings_share_devices(bank: synth.Bank, data) -> None:
    users = defaultdict(set)
    for r in data["devices"]:
        users[r["device_id"]].add(r["customer_id"])
    shared_mules = 0
    for ring in bank.rings:
        ids = set(bank.ids(ring))
        shared = [u & ids for u in users.values() if len(u & ids) >= 2]
        assert shared, "every ring shares at least one handset"
        shared_mules += len(set().union(*shared))
    assert shared_mules >= 0.7 * sum(len(r) for r in bank.rings)


def test_mule_rings_share_a_phone_number(bank: synth.Bank, data) -> None:
    holders = defaultdict(set)
    for r in data["phones"]:
        holders[r["phone_number"]].add(r["customer_id"])
    for ring in bank.rings:
        ids = set(bank.ids(ring))
        assert any(len(h & ids) >= synth.MULE_RING_PHONE_SHARERS[0] for h in holders.values())


def test_victim_money_fans_into_a_ring_and_out_within_a_day(bank: synth.Bank, data) -> None:
    mules = set(bank.ids(np.concatenate(bank.rings)))
    victims = set(bank.ids(bank.victims))
    outgoing = defaultdict(list)
    for r in data["transfers"]:
        outgoing[r["src_id"]].append(r)
    for v in victims:
        # Victims may also pay a mule small sums in ordinary life; the fraud is the large ones.
        paid = [
            r
            for r in outgoing[v]
            if r["dst_id"] in mules and float(r["amount"]) >= synth.VICTIM_MIN_AMOUNT
        ]
        assert paid
        for p in paid:
            onward = [
                r
                for r in outgoing[p["dst_id"]]
                if r["dst_id"] in mules and 0 < (ts(r["ts"]) - ts(p["ts"])).total_seconds() < 86400
            ]
            assert onward, "the mule passes the money on within hours"


def test_telecom_victims_hear_from_an_abnormal_number_before_paying_a_mule(
    bank: synth.Bank, data
) -> None:
    abnormal = {r["phone_number"] for r in data["abnormal_numbers"]}
    mules = set(bank.ids(np.concatenate(bank.rings)))
    numbers = defaultdict(set)
    for r in data["phones"]:
        numbers[r["customer_id"]].add(r["phone_number"])
    contacts = defaultdict(list)  # customer number -> first times of abnormal contact
    for r in data["calls"]:
        if r["phone_number"] in abnormal:
            contacts[r["counterpart_number"]].append(ts(r["first_ts"]))
        elif r["counterpart_number"] in abnormal:
            contacts[r["phone_number"]].append(ts(r["first_ts"]))
    high = synth.VICTIM_CONTACT_WINDOW[1]
    for v in bank.ids(bank.victims):
        seen = [t for n in numbers[v] for t in contacts[n]]
        pays = [
            ts(r["ts"])
            for r in data["transfers"]
            if r["src_id"] == v
            and r["dst_id"] in mules
            and float(r["amount"]) >= synth.VICTIM_MIN_AMOUNT
        ]
        first_pay = min(pays)
        assert any(0 < (first_pay - t).total_seconds() <= high for t in seen), v
    # An abnormal call alone does not make a victim: others were called and never paid.
    victims = set(bank.ids(bank.victims))
    called = {c for c, ns in numbers.items() if any(contacts[n] for n in ns)}
    assert called - victims


def test_collusive_guarantors_vouch_for_each_other_and_it_ends_badly(
    bank: synth.Bank, data
) -> None:
    social = {
        frozenset((r["src_id"], r["dst_id"]))
        for r in data["relations"]
        if r["category"] == "SOCIAL"
    }
    bad = total = 0
    for group in bank.collusion_groups:
        ids = set(bank.ids(group))
        inside = [
            r for r in data["vouches"] if r["guarantor_id"] in ids and r["customer_id"] in ids
        ]
        assert inside
        for r in inside:
            assert frozenset((r["guarantor_id"], r["customer_id"])) in social
        group_bad = sum(r["outcome"] in BAD_OUTCOMES for r in inside)
        assert group_bad >= 1
        bad, total = bad + group_bad, total + len(inside)
    assert bad / total >= 0.6
    everyone = Counter(r["outcome"] for r in data["vouches"])
    assert (everyone["FRAUD_REPORTED"] + everyone["DEFAULTED"]) / sum(
        everyone.values()
    ) < bad / total


def test_collusive_guarantors_are_individually_unremarkable(bank: synth.Bank, data) -> None:
    members = set(bank.ids(np.concatenate(bank.collusion_groups)))
    opened = {r["customer_id"]: ts(r["opened_at"]) for r in data["customers"]}
    assert all((REFERENCE - opened[c]).days > 2 * 365 for c in members)
    listed = {r["customer_id"] for r in data["blacklist"]}
    assert len(members & listed) <= 1
