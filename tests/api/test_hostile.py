"""Hostile requests over real HTTP: nothing is parsed without a key, and nothing a client sends
costs more than its limits allow (sizes, depth, cost, aliases, rate, metric series)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import secrets
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from conftest import Api, lenient_policy, serving
from graphql import get_introspection_query

from api import app as api_app
from api.app import build_service
from api.guard import Limits
from api.limits import MAX_ALIASES, MAX_FIELDS, MAX_FIRST, MAX_REPEATS
from bench.harness import status_line
from graph.settings import load_settings
from graph.store import open_store
from notify.senders import LocalSender


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """`vouchgraph` as users run it, on the `api` fixture's graph."""
    env = {**os.environ, "VOUCHGRAPH_GRAPH_NAME": "api_tests"}
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def exponential_fragments(levels: int = 25) -> str:
    """About 1 KB whose expansion is 2**levels fields: each fragment spreads the next twice."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    fragments.append(f"fragment F{levels} on Query {{ __typename }}")
    return "query { ...F0 }\n" + "\n".join(fragments)


CLIENT = httpx.Client(timeout=30)  # keeps its connections alive: hundreds of requests go fast


def post(url: str, query: str, key: str | None = None, **variables: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"query": query, "variables": variables}
    return CLIENT.post(f"{url}/graphql", json=body, headers=headers)


def code(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["extensions"]["code"])


def healthy(url: str) -> bool:
    return httpx.get(f"{url}/healthz", timeout=5).json() == {"status": "ok"}


@contextlib.contextmanager
def raw(url: str, head: str) -> Iterator[socket.socket]:
    """A socket to the server that has sent `head` (request line and headers) and no body."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=10)
    try:
        sock.sendall(head.encode("latin-1") + b"\r\n")
        yield sock
    finally:
        sock.close()


def post_head(key: str, *headers: str) -> str:
    lines = ["POST /graphql HTTP/1.1", "Host: 127.0.0.1", f"Authorization: Bearer {key}"]
    lines += ["Content-Type: application/json", *headers]
    return "\r\n".join(lines) + "\r\n"


@pytest.fixture
def own_server(api: Api) -> Iterator[Callable[[Limits], str]]:
    """Starts servers over the `api` bank with limits of a test's choosing (low rates, short
    key ttl); stops them afterwards."""
    with contextlib.ExitStack() as stack:

        def start(limits: Limits) -> str:
            service = build_service(
                store=api.store,
                policy=lenient_policy(),
                sender=LocalSender(api.outbox_log),
                scorer=None,
                limits=limits,
            )
            return stack.enter_context(serving(service))

        yield start


def test_an_exponential_fragment_document_without_a_key_is_refused_unparsed(api: Api) -> None:
    parsed = len(api_app.PARSED)
    reply = post(api.url, exponential_fragments())
    assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"
    assert reply.json() == {
        "errors": [
            {
                "message": "a valid API key is required (Authorization: Bearer KEY)",
                "extensions": {"code": "UNAUTHENTICATED"},
            }
        ]
    }
    assert len(api_app.PARSED) == parsed  # the guard answered: nothing reached the parser
    assert healthy(api.url)


def test_an_exponential_fragment_document_with_a_key_is_refused_by_cost_while_health_answers(
    api: Api,
) -> None:
    replies: list[httpx.Response] = []

    def hostile() -> None:
        for _ in range(5):
            replies.append(post(api.url, exponential_fragments(), api.keys["kiosk"]))

    sender = threading.Thread(target=hostile)
    sender.start()
    health = []
    while sender.is_alive():
        health.append(healthy(api.url))
    sender.join()
    assert all(health) and healthy(api.url)
    assert [r.status_code for r in replies] == [200] * 5
    assert {code(r) for r in replies} == {"COST_LIMIT_EXCEEDED"}
    assert all(r.json().get("data") is None for r in replies)


def test_a_fragment_cycle_is_refused_not_followed(api: Api) -> None:
    cycle = "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }"
    reply = post(api.url, cycle, api.keys["kiosk"])
    assert (
        code(reply) == "FRAGMENT_CYCLE" and "spreads itself" in reply.json()["errors"][0]["message"]
    )


def test_too_many_aliases_are_refused(api: Api) -> None:
    many = "query { " + " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES + 1)) + " }"
    assert code(post(api.url, many, api.keys["kiosk"])) == "ALIAS_LIMIT_EXCEEDED"
    # a fragment's aliases count every time it is spread
    pairs = [f"fragment F{i} on Query {{ a{i}: __typename b{i}: __typename }}" for i in range(6)]
    fragments = " ".join(pairs)
    spread = fragments + " query { " + " ".join(f"...F{i} ...F{i}" for i in range(6)) + " }"
    assert code(post(api.url, spread, api.keys["kiosk"])) == "ALIAS_LIMIT_EXCEEDED"
    few = "query { " + " ".join(f"a{i}: __typename" for i in range(MAX_ALIASES)) + " }"
    assert "errors" not in post(api.url, few, api.keys["kiosk"]).json()


def test_a_field_repeated_in_one_selection_set_is_refused(api: Api) -> None:
    repeated = "query { " + "__typename " * (MAX_REPEATS + 1) + "}"
    reply = post(api.url, repeated, api.keys["kiosk"])
    assert code(reply) == "COST_LIMIT_EXCEEDED"
    assert "`__typename` is selected 11 times" in reply.json()["errors"][0]["message"]


def test_too_many_fields_are_refused_and_introspection_fits(api: Api) -> None:
    introspection = get_introspection_query()
    assert "errors" not in post(api.url, introspection, api.keys["analyst"]).json()
    fragments = introspection[introspection.index("fragment FullType") :]
    three = " ".join(f"s{i}: __schema {{ types {{ ...FullType }} }}" for i in range(3))
    reply = post(api.url, f"query {{ {three} }} {fragments}", api.keys["analyst"])
    assert code(reply) == "COST_LIMIT_EXCEEDED"
    assert f"the limit is {MAX_FIELDS}" in reply.json()["errors"][0]["message"]


def test_first_counts_the_variables_value_and_is_refused_out_of_range(api: Api) -> None:
    query = """query($n: Int) { candidateGuarantors(customerId: "B",
        business: CROSS_BORDER_TRANSFER, first: $n) { customerId } }"""
    # within range the document passes the limits (what the resolver then does is not theirs)
    within = post(api.url, query, api.keys["analyst"], n=2).json()
    refusals = {"BAD_USER_INPUT", "COST_LIMIT_EXCEEDED"}
    assert not refusals & {e["extensions"]["code"] for e in within.get("errors", [])}
    out_of_range = {0: "BAD_USER_INPUT", -3: "BAD_USER_INPUT", MAX_FIRST + 1: "COST_LIMIT_EXCEEDED"}
    for bad, expected in out_of_range.items():
        reply = post(api.url, query, api.keys["analyst"], n=bad)
        assert code(reply) == expected
        assert "argument `first` of `candidateGuarantors`" in reply.json()["errors"][0]["message"]
    # cost multiplies by the variable's value: 100 candidates of 10 fields each is over 1000
    nested = """query($n: Int) { a: candidateGuarantors(customerId: "B",
        business: CROSS_BORDER_TRANSFER, first: $n) { paths { type kind source direction
        } customerId displayName relationship eligible reasons } }"""
    assert code(post(api.url, nested, api.keys["analyst"], n=100)) == "COST_LIMIT_EXCEEDED"


def test_a_body_declared_as_20_mb_is_refused_before_it_is_sent(api: Api) -> None:
    head = post_head(api.keys["kiosk"], f"Content-Length: {20 * 1024 * 1024}")
    with raw(api.url, head) as sock:  # not one byte of the body is ever sent
        assert status_line(sock) == "HTTP/1.1 413 Request Entity Too Large"
    assert healthy(api.url)


def test_a_chunked_body_is_refused_once_it_passes_the_limit(api: Api) -> None:
    limit = api.service.limits.max_body_bytes
    chunk = b"x" * 16_384
    sent = 0
    with raw(api.url, post_head(api.keys["kiosk"], "Transfer-Encoding: chunked")) as sock:
        while sent < 20 * 1024 * 1024:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            if select.select([sock], [], [], 0.02)[0]:
                break  # the server has answered
        assert status_line(sock) == "HTTP/1.1 413 Request Entity Too Large"
    # the server stopped reading at the limit and answered at once: what was sent past it is
    # what the kernel's buffers took before the answer came back, nowhere near the 20 MB
    assert limit < sent < 4 * 1024 * 1024
    assert healthy(api.url)


def test_a_long_query_string_is_refused(api: Api) -> None:
    reply = httpx.get(
        f"{api.url}/graphql",
        params={"query": "{ __typename }", "pad": "x" * api.service.limits.max_query_string_bytes},
        headers={"Authorization": f"Bearer {api.keys['kiosk']}"},
    )
    assert reply.status_code == 414 and code(reply) == "QUERY_TOO_LONG"


def _series(url: str) -> set[str]:
    text = httpx.get(f"{url}/metrics").text
    return {line.rsplit(" ", 1)[0] for line in text.splitlines() if not line.startswith("#")}


def test_distinct_operation_names_add_no_metric_series(api: Api) -> None:
    post(api.url, "query Warm { __typename }", api.keys["analyst"])
    post(api.url, "query Warm { nope }", api.keys["analyst"])
    post(api.url, "query Warm { __typename }")
    before = _series(api.url)
    for i in range(200):
        post(api.url, f"query Op{i} {{ __typename }}", api.keys["analyst"])
        post(api.url, f"query Op{i} {{ field{i} }}", api.keys["analyst"])
        post(api.url, f"query Op{i} {{ __typename }}")  # no key
    assert _series(api.url) == before
    assert 'operation="other"' in "".join(before)


def test_introspection_needs_a_key(api: Api) -> None:
    introspect = "{ __schema { queryType { name } } }"
    assert post(api.url, introspect).status_code == 401
    with_key = post(api.url, introspect, api.keys["analyst"]).json()
    assert with_key["data"]["__schema"]["queryType"]["name"] == "Query"
    by_get = httpx.get(f"{api.url}/graphql", params={"query": introspect})
    assert by_get.status_code == 401 and code(by_get) == "UNAUTHENTICATED"
    page = httpx.get(f"{api.url}/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_a_malformed_key_is_refused_before_any_lookup(api: Api) -> None:
    for key in ("vg_short", "vg_" + "!" * 43, "xx_" + secrets.token_urlsafe(32)):
        reply = post(api.url, "{ __typename }", key)
        assert reply.status_code == 401 and code(reply) == "UNAUTHENTICATED"
        assert api.service.keys.cached(key) is None
    unknown = "vg_" + secrets.token_urlsafe(32)
    assert post(api.url, "{ __typename }", unknown).status_code == 401
    assert api.service.keys.cached(unknown) is not None  # a miss is remembered too


def test_a_burst_over_the_rate_is_429_with_retry_after(
    api: Api, own_server: Callable[[Limits], str]
) -> None:
    url = own_server(Limits(rate_per_s=0.5, rate_burst=3))
    codes = [post(url, "{ __typename }", api.keys["kiosk"]).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    limited = post(url, "{ __typename }", api.keys["kiosk"])
    assert limited.status_code == 429 and code(limited) == "RATE_LIMITED"
    assert int(limited.headers["retry-after"]) >= 1
    assert post(url, "{ __typename }", api.keys["analyst"]).status_code == 200  # per key


def test_unknown_keys_from_one_client_are_slowed_before_the_store(
    api: Api, own_server: Callable[[Limits], str]
) -> None:
    url = own_server(Limits(failed_lookups_per_s=0.1, failed_lookups_burst=3))
    guesses = [post(url, "{ __typename }", "vg_" + secrets.token_urlsafe(32)) for _ in range(4)]
    assert [g.status_code for g in guesses] == [401, 401, 401, 429]
    assert code(guesses[-1]) == "RATE_LIMITED" and int(guesses[-1].headers["retry-after"]) >= 1
    assert post(url, "{ __typename }", api.keys["kiosk"]).status_code == 429  # not yet known
    assert post(api.url, "{ __typename }", api.keys["kiosk"]).status_code == 200


def test_a_store_failure_during_the_key_lookup_is_503() -> None:
    # a store nothing answers on: the key cannot be checked, which is not "unknown key"
    settings = dataclasses.replace(
        load_settings(), graph_uri="bolt://127.0.0.1:9", neo4j_password="unused"
    )
    store = open_store(settings)
    service = build_service(store=store, policy=lenient_policy(), scorer=None)
    with serving(service) as url:
        reply = post(url, "{ __typename }", "vg_" + secrets.token_urlsafe(32))
        assert reply.status_code == 503 and code(reply) == "SERVICE_UNAVAILABLE"
        assert healthy(url)


def test_a_validation_error_is_not_logged_as_unexpected(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        reply = post(api.url, "query { nope }", api.keys["kiosk"])
        bad_syntax = post(api.url, "query { ", api.keys["kiosk"])
    assert reply.json()["errors"] and bad_syntax.json()["errors"]
    assert [r for r in caplog.records if "unexpected" in r.getMessage()] == []


def test_keys_list_and_revoke_through_the_cli(
    api: Api, own_server: Callable[[Limits], str]
) -> None:
    url = own_server(Limits(key_ttl_s=0.2))
    done = _cli("keys", "create", "--role", "mobile_banking", "--name", "app-backend", "--json")
    assert done.returncode == 0, done.stderr
    created = json.loads(done.stdout)
    assert post(url, "{ __typename }", created["key"]).status_code == 200
    listed = _cli("keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    mine = [k for k in json.loads(listed.stdout) if k["id"] == created["id"]]
    assert mine == [
        {
            "id": created["id"],
            "name": "app-backend",
            "role": "mobile_banking",
            "created_at": mine[0]["created_at"],
            "revoked": False,
        }
    ]
    assert created["key"] not in listed.stdout and "hash" not in listed.stdout
    revoked = _cli("keys", "revoke", created["id"])
    assert revoked.returncode == 0, revoked.stderr
    relisted = {k["id"]: k for k in json.loads(_cli("keys", "list", "--json").stdout)}
    assert relisted[created["id"]]["revoked"] is True
    time.sleep(0.3)  # the ttl of what the server remembers about the key
    assert post(url, "{ __typename }", created["key"]).status_code == 401
    plain = _cli("keys", "list")
    assert created["id"] in plain.stdout and "revoked" in plain.stdout
    unknown = _cli("keys", "revoke", "key_nosuchkey")
    assert unknown.returncode == 1 and unknown.stderr.count("\n") == 1
    assert "key_nosuchkey" in unknown.stderr


def test_a_wrong_variable_keeps_its_message_and_is_not_logged(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    query = """query($n: Int) { candidateGuarantors(customerId: "B",
        business: CROSS_BORDER_TRANSFER, first: $n) { customerId } }"""
    with caplog.at_level(logging.ERROR):
        reply = post(api.url, query, api.keys["analyst"], n="ten")
    message = reply.json()["errors"][0]["message"]
    assert "$n" in message and message != "internal error"
    assert [r for r in caplog.records if "unexpected" in r.getMessage()] == []


def test_an_int_past_the_json_digit_limit_is_400(api: Api) -> None:
    body = '{"query": "{ __typename }", "variables": {"n": ' + "9" * 5000 + "}}"
    reply = CLIENT.post(
        f"{api.url}/graphql",
        content=body,
        headers={
            "Authorization": f"Bearer {api.keys['kiosk']}",
            "Content-Type": "application/json",
        },
    )
    assert reply.status_code == 400
