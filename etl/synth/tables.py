"""Tables: per source, a row count and a function formatting the columns of rows [a, b).

Strings are formatted only here, chunk by chunk, from the bank's numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl.sources import (
    CONSENT_CATEGORIES,
    CREDIT_GRADES,
    LABEL_KINDS,
    RELATION_SOURCES,
    VOUCH_OUTCOMES,
)
from etl.synth.bank import Bank, filled
from etl.synth.codes import N_KIN, RELATION_KINDS
from etl.synth.formatting import choice_strings, dates, id_strings, int_strings, strings, times
from etl.synth.vocabulary import (
    ABNORMAL_APP_CATEGORIES,
    ABNORMAL_NUMBER_CATEGORIES,
    APP_COUNT,
    APP_SUFFIX,
    BLACKLIST_REASONS,
    BUSINESSES,
    CITIES,
    CURRENCIES,
    DISTRICTS,
    GIVEN,
    MODELS,
    OCCUPATIONS,
    REJECTION_REASONS,
    STREET_SUFFIX,
    STREETS,
    SURNAMES,
)
from graph.vocab import AccountStatus, ContactKind, Gender, RelationType, names

Columns = Callable[[int, int], dict[str, pa.Array]]


def source_tables(bank: Bank) -> dict[str, tuple[int, Columns]]:
    """Every source's row count and column builder."""
    t = bank.tables
    return {
        "customers": (bank.n, _customers(bank)),
        "relations": (len(bank.relations.src), _relations(bank)),
        "transfers": (len(t["transfers"]["src"]), _transfers(bank)),
        "phones": (len(t["phones"]["customer"]), _phones(bank)),
        "calls": (len(t["calls"]["from"]), _calls(bank)),
        "devices": (len(t["devices"]["customer"]), _devices(bank)),
        "apps": (len(t["apps"]["device"]), _apps(bank)),
        "abnormal_numbers": (len(t["abnormal_numbers"]["number"]), _abnormal_numbers(bank)),
        "abnormal_apps": (len(t["abnormal_apps"]["app"]), _abnormal_apps(bank)),
        "blacklist": (len(t["blacklist"]["customer"]), _blacklist(bank)),
        "rejections": (len(t["rejections"]["customer"]), _rejections(bank)),
        "credit": (len(t["credit"]["customer"]), _credit(bank)),
        "consents": (len(t["consents"]["customer"]), _consents(bank)),
        "vouches": (len(t["vouches"]["guarantor"]), _vouches(bank)),
        "labels": (bank.n, _labels(bank)),
        # The synthetic bank has no peer ratings and no feature-store attributes: their files
        # are written with the header only.
        "ratings": (0, _no_rows),
        "attributes": (0, _no_rows),
    }


def _no_rows(a: int, b: int) -> dict[str, pa.Array]:
    raise AssertionError("a source without rows has no columns to build")


def _take(arr: pa.Array, idx: np.ndarray) -> pa.Array:
    """arr at idx; a negative index is null."""
    if idx.size and idx.min() < 0:
        return arr.take(pa.array(idx, mask=idx < 0))
    return arr.take(pa.array(idx))


def _app_ids() -> pa.Array:
    return pa.array([f"APP{i:04d}" for i in range(APP_COUNT)])


def _app_names() -> pa.Array:
    caps = [s.capitalize() for s in GIVEN]
    return pa.array(
        [
            f"{caps[(i * 7) % len(caps)]}{GIVEN[(i * 13 + 5) % len(GIVEN)]} "
            f"{APP_SUFFIX[(i * 3) % len(APP_SUFFIX)]}"
            for i in range(APP_COUNT)
        ]
    )


def _customers(bank: Bank) -> Columns:
    p, cid, by_rank = bank.people, bank.customer_ids, bank.people["by_rank"]
    ids = bank.tables["_id"]["chars"]
    given_cap = pa.array([s.capitalize() for s in GIVEN])
    given_low = pa.array([*GIVEN, ""])
    street_names = pa.array([f"{s} {x}" for s in STREETS for x in STREET_SUFFIX])

    def customers(a: int, b: int) -> dict[str, pa.Array]:
        c = by_rank[a:b]
        g2 = np.where(p["given2"][c] < 0, len(GIVEN), p["given2"][c])
        given = pc.binary_join_element_wise(given_cap.take(p["given1"][c]), given_low.take(g2), "")
        name = pc.binary_join_element_wise(choice_strings(SURNAMES, p["surname"][c]), given, " ")
        addr = pc.binary_join_element_wise(
            int_strings(p["house"][c]),
            street_names.take(p["street"][c]),
            pa.array(["Apt"] * len(c)),
            int_strings(p["apt"][c]),
            choice_strings(tuple(DISTRICTS), p["district"][c]),
            pa.array(["District"] * len(c)),
            choice_strings(CITIES, p["city"][c]),
            " ",
        )
        addr = pc.if_else(pa.array(p["address_known"][c]), addr, pa.nulls(len(c), pa.string()))
        return {
            "customer_id": cid.take(c),
            "name": name,
            "id_number": strings(ids[c]),
            "gender": choice_strings(names(Gender), p["gender"][c]),
            "birth_date": dates(p["birth"][c]),
            "address": addr,
            "city": choice_strings(CITIES, p["city"][c]),
            "occupation": choice_strings(OCCUPATIONS, p["occupation"][c]),
            "opened_at": times(p["opened"][c]),
            "status": choice_strings(names(AccountStatus), p["status"][c]),
        }

    return customers


def _relations(bank: Bank) -> Columns:
    cid, rel = bank.customer_ids, bank.relations

    def relations(a: int, b: int) -> dict[str, pa.Array]:
        k = rel.kind[a:b]
        return {
            "src_id": cid.take(rel.src[a:b]),
            "dst_id": cid.take(rel.dst[a:b]),
            "category": choice_strings(names(RelationType), (k >= N_KIN).astype(np.int64)),
            "kind": choice_strings(RELATION_KINDS, k),
            "source": choice_strings(RELATION_SOURCES, rel.source[a:b]),
            "since": times(rel.since[a:b]),
        }

    return relations


def _transfers(bank: Bank) -> Columns:
    cid, tr = bank.customer_ids, bank.tables["transfers"]

    def transfers(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "transfer_id": id_strings("T", np.arange(a, b) + 1, 10),
            "src_id": cid.take(tr["src"][a:b]),
            "dst_id": cid.take(tr["dst"][a:b]),
            "amount": pa.array(tr["amount"][a:b]),
            "currency": choice_strings(CURRENCIES, tr["currency"][a:b]),
            "ts": times(tr["ts"][a:b]),
        }

    return transfers


def _phones(bank: Bank) -> Columns:
    cid, ph, phones = (
        bank.customer_ids,
        bank.tables["phones"],
        filled(bank.phone_numbers, "phone_numbers"),
    )

    def phones_(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "customer_id": cid.take(ph["customer"][a:b]),
            "phone_number": phones.take(ph["number"][a:b]),
            "since": times(ph["since"][a:b]),
        }

    return phones_


def _calls(bank: Bank) -> Columns:
    ca, phones = bank.tables["calls"], filled(bank.phone_numbers, "phone_numbers")

    def calls(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "phone_number": phones.take(ca["from"][a:b]),
            "counterpart_number": phones.take(ca["to"][a:b]),
            "kind": choice_strings(names(ContactKind), ca["kind"][a:b]),
            "count": pa.array(ca["count"][a:b]),
            "first_ts": times(ca["first"][a:b]),
            "last_ts": times(ca["last"][a:b]),
        }

    return calls


def _devices(bank: Bank) -> Columns:
    cid, dv, devs = bank.customer_ids, bank.tables["devices"], filled(bank.device_ids, "device_ids")

    def devices(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "customer_id": cid.take(dv["customer"][a:b]),
            "device_id": devs.take(dv["device"][a:b]),
            "model": choice_strings(MODELS, dv["model"][a:b]),
            "first_seen": times(dv["first"][a:b]),
            "last_seen": times(dv["last"][a:b]),
        }

    return devices


def _apps(bank: Bank) -> Columns:
    ap, devs = bank.tables["apps"], filled(bank.device_ids, "device_ids")
    app_ids, app_names = _app_ids(), _app_names()

    def apps(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "device_id": devs.take(ap["device"][a:b]),
            "app_id": app_ids.take(ap["app"][a:b]),
            "app_name": app_names.take(ap["app"][a:b]),
            "installed_at": times(ap["at"][a:b]),
        }

    return apps


def _abnormal_numbers(bank: Bank) -> Columns:
    an, phones = bank.tables["abnormal_numbers"], filled(bank.phone_numbers, "phone_numbers")

    def abnormal_numbers(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "phone_number": phones.take(an["number"][a:b]),
            "category": choice_strings(ABNORMAL_NUMBER_CATEGORIES, an["category"][a:b]),
            "listed_at": times(an["listed"][a:b]),
        }

    return abnormal_numbers


def _abnormal_apps(bank: Bank) -> Columns:
    aa, app_ids = bank.tables["abnormal_apps"], _app_ids()

    def abnormal_apps(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "app_id": app_ids.take(aa["app"][a:b]),
            "category": choice_strings(ABNORMAL_APP_CATEGORIES, aa["category"][a:b]),
            "listed_at": times(aa["listed"][a:b]),
        }

    return abnormal_apps


def _blacklist(bank: Bank) -> Columns:
    cid, bl, ids = (bank.customer_ids, bank.tables["blacklist"], bank.tables["_id"]["chars"])

    def blacklist(a: int, b: int) -> dict[str, pa.Array]:
        row = bl["id_row"][a:b]
        return {
            "entry_id": id_strings("B", np.arange(a, b) + 1, 7),
            "customer_id": _take(cid, bl["customer"][a:b]),
            "id_number": strings(ids[np.maximum(row, 0)], row >= 0),
            "reason": choice_strings(BLACKLIST_REASONS, bl["reason"][a:b]),
            "listed_at": times(bl["listed"][a:b]),
        }

    return blacklist


def _rejections(bank: Bank) -> Columns:
    cid, rj = bank.customer_ids, bank.tables["rejections"]

    def rejections(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "rejection_id": id_strings("R", np.arange(a, b) + 1, 9),
            "customer_id": cid.take(rj["customer"][a:b]),
            "business": choice_strings(BUSINESSES, rj["business"][a:b]),
            "reason_code": choice_strings(REJECTION_REASONS, rj["reason"][a:b]),
            "ts": times(rj["ts"][a:b]),
        }

    return rejections


def _credit(bank: Bank) -> Columns:
    cid, cr = bank.customer_ids, bank.tables["credit"]

    def credit(a: int, b: int) -> dict[str, pa.Array]:
        score = cr["score"][a:b]
        return {
            "customer_id": cid.take(cr["customer"][a:b]),
            "grade": choice_strings(CREDIT_GRADES, cr["grade"][a:b]),
            "score": pa.array(score, mask=score < 0),
            "as_of": dates(cr["as_of"][a:b]),
        }

    return credit


def _consents(bank: Bank) -> Columns:
    cid, co = bank.customer_ids, bank.tables["consents"]

    def consents(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "consent_id": id_strings("K", np.arange(a, b) + 1, 10),
            "customer_id": cid.take(co["customer"][a:b]),
            "category": choice_strings(CONSENT_CATEGORIES, co["category"][a:b]),
            "granted": pa.array(co["granted"][a:b]),
            "ts": times(co["ts"][a:b]),
            "expires_at": times(co["expires"][a:b]),
        }

    return consents


def _vouches(bank: Bank) -> Columns:
    cid, vo = bank.customer_ids, bank.tables["vouches"]

    def vouches(a: int, b: int) -> dict[str, pa.Array]:
        return {
            "vouch_id": id_strings("V", np.arange(a, b) + 1, 9),
            "guarantor_id": cid.take(vo["guarantor"][a:b]),
            "customer_id": cid.take(vo["customer"][a:b]),
            "business": choice_strings(BUSINESSES, vo["business"][a:b]),
            "ts": times(vo["ts"][a:b]),
            "outcome": choice_strings(VOUCH_OUTCOMES, vo["outcome"][a:b]),
            "outcome_ts": times(vo["outcome_ts"][a:b]),
        }

    return vouches


def _labels(bank: Bank) -> Columns:
    cid, lb, by_rank = bank.customer_ids, bank.tables["labels"], bank.people["by_rank"]

    def labels(a: int, b: int) -> dict[str, pa.Array]:
        c = by_rank[a:b]
        return {
            "customer_id": cid.take(c),
            "label": pa.array(lb["label"][c]),
            "kind": choice_strings(LABEL_KINDS, lb["kind"][c]),
            "ts": times(lb["ts"][c]),
        }

    return labels
