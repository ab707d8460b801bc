"""The whole GraphQL schema, fuzzed against a real server over real HTTP, on both backends.

hypothesis-graphql builds documents from the schema the server serves (read by introspection):
valid ones for every root field of Query and Mutation, and ones with a single schema violation;
the kiosk flow's operations also get variables of wrong types and hostile values. Each document
goes out with a key of every role in `api.keys.ROLES` and once without a key. Whatever comes in,
the server answers below 500, in JSON, never with an approval nor a masked unexpected exception,
and stays healthy. The strategies and checks live in bench/fuzz.py, which fuzzes the same way
at scale.

The bank's customer ids are random (`CUST-<hex>`), so no fuzzed id reaches a real customer: an
approval could only come from the server trusting input it should not. The number of examples
per root field is `VOUCHGRAPH_FUZZ_EXAMPLES` (default 75: a few hundred requests per field).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from conftest import build_service, lenient_policy, serving
from hypothesis import strategies as st
from hypothesis_graphql import Mode

from api import operations
from api.app import schema as app_schema
from api.keys import ROLES, create_key
from bench.fuzz import (
    FLOW_OPERATIONS,
    MASKED,
    REFUSALS,
    Answer,
    Fuzzer,
    documents,
    hostile_variables,
    live_schema,
    root_fields,
    run_examples,
    too_long_int_variables,
    ways,
)
from etl.load import Loader
from graph.store import open_store
from notify.senders import LocalSender

EXAMPLES = int(os.environ.get("VOUCHGRAPH_FUZZ_EXAMPLES", "75"))
Way = tuple[str | None, str]  # (Accept header, HTTP method)
NO_RATE_LIMIT = 1_000_000  # per key and second (the server's limits read the environment)
# collected from the code; the test below holds them to what the running server serves
FIELDS = root_fields(app_schema._schema)


def write_fuzz_bank(folder: Path) -> list[str]:
    """A few customers with unguessable ids, ties, transfers, credit and consents; their ids."""
    ids = [f"CUST-{secrets.token_hex(12)}" for _ in range(6)]
    rows = ["customer_id,name,id_number,gender,birth_date,address,city,opened_at,status"]
    rows += [
        f"{c},Person {i},ID-{secrets.token_hex(6)},F,1980-0{i + 1}-01,1 Road,Haidu,"
        "2010-01-01,active"
        for i, c in enumerate(ids)
    ]
    (folder / "customers.csv").write_text("\n".join(rows) + "\n")
    ties = [(0, 1, "KIN", "spouse"), (1, 2, "SOCIAL", "friend"), (3, 0, "KIN", "sibling")]
    (folder / "relations.csv").write_text(
        "src_id,dst_id,category,kind,source\n"
        + "".join(f"{ids[a]},{ids[b]},{cat},{kind},bank\n" for a, b, cat, kind in ties)
    )
    (folder / "transfers.csv").write_text(
        "transfer_id,src_id,dst_id,amount,ts\n"
        + "".join(
            f"T-{secrets.token_hex(6)},{ids[a]},{ids[b]},{100 + a}.5,2026-06-0{a + 1}T10:00:00Z\n"
            for a, b, *_ in ties
        )
    )
    (folder / "phones.csv").write_text(
        "customer_id,phone_number\n"
        + "".join(f"{c},+8613900000{i:03d}\n" for i, c in enumerate(ids))
    )
    (folder / "credit.csv").write_text(
        "customer_id,grade,score,as_of\n" + "".join(f"{c},AA,760,2026-01-01\n" for c in ids)
    )
    categories = ("basic_info", "face", "identity", "rejection_history", "transactions", "credit")
    (folder / "consents.csv").write_text(
        "consent_id,customer_id,category,granted,ts\n"
        + "".join(
            f"K-{secrets.token_hex(6)},{c},{cat},true,2025-01-01\n"
            for c in ids[:4]
            for cat in categories
        )
    )
    return ids


@dataclass
class FuzzTarget:
    """A running server on the fuzz bank, its schema as served, and a fuzzer with every key."""

    url: str
    client: httpx.Client
    schema: graphql.GraphQLSchema
    fuzzer: Fuzzer


@pytest.fixture(scope="module")
def target(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzTarget]:
    from store_fixtures import Neo4jOccupant, backend_settings

    store = open_store(backend_settings(backend, graph_name="api_fuzz"))
    Neo4jOccupant.take("api_fuzz")
    store.clear()
    folder = tmp_path_factory.mktemp("fuzz-bank")
    write_fuzz_bank(folder)
    report = Loader(store, progress=False).load(folder)
    assert report.rows_rejected == 0, [f.rejections for f in report.files]
    with pytest.MonkeyPatch.context() as env:  # the fuzz traffic is not to be rate limited
        env.setenv("VOUCHGRAPH_RATE_PER_S", str(NO_RATE_LIMIT))
        env.setenv("VOUCHGRAPH_RATE_BURST", str(NO_RATE_LIMIT))
        service = build_service(
            store=store,
            policy=lenient_policy(),
            sender=LocalSender(folder / "outbox.log"),
            scorer=None,
        )
    keys = {role: create_key(store, role, f"fuzz-{role}")[1] for role in ROLES}
    with serving(service) as url, httpx.Client(base_url=url, timeout=60) as client:
        schema = live_schema(client, keys["admin"])
        yield FuzzTarget(url, client, schema, Fuzzer(client, schema, keys))
    store.clear()


def _assert_sound(target: FuzzTarget, document: str, answers: list[Answer], variables: Any) -> None:
    failures = [a.describe(document, repr(variables)) for a in answers if a.problems]
    assert not failures, "\n\n".join(failures)
    health = target.fuzzer.healthy()
    assert health == 200, f"/healthz answered {health} after:\n{document}\n{variables!r}"


def _assert_reached_the_server(target: FuzzTarget, before: dict[int, int]) -> None:
    """Refusals (401/403/413/429) are answers, but fuzz traffic that is all refused by a rate
    limit tests nothing: most requests must get past it."""
    sent = {s: n - before.get(s, 0) for s, n in target.fuzzer.statuses.items()}
    total = sum(sent.values())
    assert total > 0
    assert sent.get(429, 0) < total / 2, f"the rate limit refused most fuzz requests: {sent}"
    assert set(sent) <= {200, 400} | REFUSALS, f"unexpected statuses: {sent}"


def test_the_fuzzed_fields_are_every_root_field_the_server_serves(target: FuzzTarget) -> None:
    assert sorted(root_fields(target.schema)) == sorted(FIELDS)


@pytest.mark.parametrize("field", FIELDS)
def test_valid_documents_for_a_root_field_never_break_the_server_or_approve(
    target: FuzzTarget, field: str
) -> None:
    before = dict(target.fuzzer.statuses)

    def one(drawn: tuple[str, Way]) -> None:
        document, way = drawn
        _assert_sound(target, document, target.fuzzer.send(document, None, way), None)

    strategy = st.tuples(documents(target.schema, field), ways())
    run_examples(strategy, EXAMPLES, one)
    _assert_reached_the_server(target, before)


@pytest.mark.parametrize("field", FIELDS)
def test_documents_with_a_schema_violation_are_refused_in_json(
    target: FuzzTarget, field: str
) -> None:
    before = dict(target.fuzzer.statuses)

    def one(drawn: tuple[str, Way]) -> None:
        document, way = drawn
        answers = target.fuzzer.send(document, None, way)
        _assert_sound(target, document, answers, None)
        for answer in answers:  # invalid: no data, an error saying why (or refused before)
            if answer.status not in REFUSALS:
                assert answer.body.get("errors"), answer.describe(document, None)
                assert not answer.body.get("data"), answer.describe(document, None)

    strategy = st.tuples(documents(target.schema, field, Mode.NEGATIVE), ways())
    run_examples(strategy, max(EXAMPLES // 4, 5), one)
    _assert_reached_the_server(target, before)


@pytest.mark.parametrize("field", [f for f in FLOW_OPERATIONS if f in FIELDS])
def test_hostile_variables_never_break_the_server_or_approve(
    target: FuzzTarget, field: str
) -> None:
    document = FLOW_OPERATIONS[field]
    before = dict(target.fuzzer.statuses)

    def one(drawn: tuple[dict[str, Any], Way]) -> None:
        variables, way = drawn
        _assert_sound(target, document, target.fuzzer.send(document, variables, way), variables)

    strategy = st.tuples(hostile_variables(target.schema, document), ways())
    run_examples(strategy, EXAMPLES, one)
    _assert_reached_the_server(target, before)


def test_an_int_longer_than_the_json_parser_takes_is_refused_not_a_server_error(
    target: FuzzTarget,
) -> None:
    # found by the hostile-variables fuzzing: Python's json.loads raises a plain ValueError
    # (not a JSONDecodeError) past 4300 digits, and the server answered 500
    variables = too_long_int_variables()
    answers = [
        answer
        for method in ("POST", "GET")
        for answer in target.fuzzer.send(operations.CANDIDATES, variables, (None, method))
    ]
    _assert_sound(target, operations.CANDIDATES, answers, "{first: 9 x 5000 digits}")
    assert {a.status for a in answers} <= {200, 400} | REFUSALS, [a.status for a in answers]


@pytest.mark.parametrize("variables", [{"id": False}, {"id": 1.5}, {"id": None}, {}])
def test_a_variable_of_the_wrong_type_is_answered_with_its_own_error_not_masked(
    target: FuzzTarget, variables: dict[str, Any]
) -> None:
    # found by the hostile-variables fuzzing: the coercion error says what is wrong with the
    # variable; a client must see it, and the server must not log it as an unexpected error
    answers = target.fuzzer.send(operations.DECIDE, variables)
    _assert_sound(target, operations.DECIDE, answers, variables)
    for answer in answers:
        if answer.status not in REFUSALS:
            messages = [e.get("message") for e in answer.body.get("errors") or []]
            assert messages, answer.describe(operations.DECIDE, repr(variables))
            assert MASKED not in messages, answer.describe(operations.DECIDE, repr(variables))
            assert any("$id" in m for m in messages), messages
