"""usable_consents: the rule that gates every read of personal data."""

from __future__ import annotations

from typing import Any

from risk.flows.consents import usable_consents

NOW = 1_800_000_000_000


def record(cid: str, category: str, ts: int, granted: bool = True, **more: Any) -> dict[str, Any]:
    return {"id": cid, "category": category, "ts": ts, "granted": granted, **more}


def test_a_granted_unexpired_record_allows_its_category() -> None:
    usable, ids = usable_consents([record("K1", "credit", NOW - 10)], (), NOW)
    assert usable == {"credit"} and ids == ["K1"]


def test_nothing_recorded_and_nothing_given_allows_nothing() -> None:
    assert usable_consents([], (), NOW) == (set(), [])


def test_a_newer_withdrawal_overrides_an_older_grant() -> None:
    records = [record("K1", "credit", NOW - 20), record("K2", "credit", NOW - 10, False)]
    assert usable_consents(records, (), NOW) == (set(), [])
    # whatever order the store returns them in
    assert usable_consents(list(reversed(records)), (), NOW) == (set(), [])


def test_a_newer_grant_overrides_an_older_withdrawal() -> None:
    records = [record("K1", "credit", NOW - 20, False), record("K2", "credit", NOW - 10)]
    assert usable_consents(records, (), NOW) == ({"credit"}, ["K2"])


def test_an_expired_grant_allows_nothing_and_one_expiring_later_does() -> None:
    expired = record("K1", "credit", NOW - 20, expires_at=NOW)
    assert usable_consents([expired], (), NOW) == (set(), [])
    live = record("K2", "transactions", NOW - 20, expires_at=NOW + 1)
    assert usable_consents([live], (), NOW) == ({"transactions"}, ["K2"])


def test_consent_given_at_the_kiosk_allows_its_category_without_a_record() -> None:
    usable, ids = usable_consents([], ("face", "identity"), NOW)
    assert usable == {"face", "identity"} and ids == []


def test_a_kiosk_consent_does_not_revive_a_withdrawn_category_beyond_this_request() -> None:
    # given now, for this request: readable now; the record says nothing more
    records = [record("K1", "credit", NOW - 10, False)]
    usable, ids = usable_consents(records, ("credit",), NOW)
    assert usable == {"credit"} and ids == []


def test_a_record_without_a_category_is_ignored() -> None:
    assert usable_consents([{"id": "K9", "ts": NOW, "granted": True}], (), NOW) == (set(), [])
