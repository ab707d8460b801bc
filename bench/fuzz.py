"""Benchmark: fuzz the whole GraphQL schema against a running server, on a synthetic bank.

    python bench/fuzz.py [--requests 10000] [--customers 2000] [--out bench/results]

Sets up like bench/api.py: a temporary embedded graph server (VOUCHGRAPH_DATA_DIR, stopped at
the end), a synthetic bank (`etl.synth.generate`) bulk-loaded into it, an API key for every role
in `api.keys.ROLES`, the shipped policy with a missing graph model scored neutrally (no model is
trained here), and the API in a separate process (`bench/api.py --serve`).

The documents come from hypothesis-graphql over the schema the server serves (fetched by
introspection with the admin key): every root field of Query and Mutation gets valid documents
(`Mode.POSITIVE`) and documents with one schema violation (`Mode.NEGATIVE`), and the kiosk
flow's operations (`api.operations`) get variables of wrong types and hostile values (huge and
over-long ints, NaN and Infinity, very long strings, lone surrogates, control characters).
Each document goes out once with a key of every role and once without a key, from one client,
sequentially, keep-alive.

Counts the answers per status code, server errors (5xx), bodies that are not JSON, approvals
(a PROCEED assessment or an ALLOW decision anywhere in the data) and requests/s; checks
`/healthz` after each operation's batch and at the end. Prints the figures and writes them to
`<out>/fuzz.json`.

The helpers above `main` (the strategies, the approval check, the encoder) are what
tests/api/test_fuzz.py uses too, so the test and the benchmark fuzz the same way.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import graphql
import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from api import operations  # noqa: E402

# Outcomes that let a business go ahead: fuzzed input must never be answered with one.
APPROVALS = frozenset({"PROCEED", "ALLOW"})
# Refusals that are answers, not failures: no key, a role that may not, too big, too many.
REFUSALS = frozenset({401, 403, 413, 414, 429})
# What api.app's MaskErrors answers for an exception that is not one of ours (a crash).
MASKED = "internal error"
ACCEPTS = ("application/json", "application/graphql-response+json", None)
METHODS = ("POST", "GET")  # GET for queries only (a mutation by GET is sent by POST)
HEALTH_CHECKS = list(HealthCheck)
# The kiosk flow's operations, as a kiosk backend sends them (their variables get fuzzed).
FLOW_OPERATIONS = {
    "candidateGuarantors": operations.CANDIDATES,
    "assess": operations.ASSESS,
    "requestAssistedAuth": operations.REQUEST,
    "respondAssistedAuth": operations.RESPOND,
    "decide": operations.DECIDE,
    "recordOutcome": operations.RECORD,
}


# --- the schema the server serves -------------------------------------------------------------


def live_schema(client: httpx.Client, key: str) -> graphql.GraphQLSchema:
    """The server's schema, read by introspection with `key` (as any client of it would)."""
    response = client.post(
        "/graphql",
        json={"query": graphql.get_introspection_query(descriptions=False)},
        headers={"Authorization": f"Bearer {key}"},
    )
    response.raise_for_status()
    body = response.json()
    if body.get("errors") or not body.get("data"):
        raise RuntimeError(f"introspection refused: {body.get('errors')}")
    return graphql.build_client_schema(body["data"])


def root_fields(schema: graphql.GraphQLSchema) -> list[str]:
    """Every root field of Query and Mutation, in the schema's order."""
    names: list[str] = []
    for root in (schema.query_type, schema.mutation_type):
        if root is not None:
            names += [name for name in root.fields if not name.startswith("__")]
    return names


def documents(
    schema: graphql.GraphQLSchema, field: str, mode: Mode = Mode.POSITIVE
) -> st.SearchStrategy[str]:
    """Documents selecting the root field `field` (valid ones, or with one schema violation)."""
    return from_schema(schema, fields=[field], mode=mode)


def ways() -> st.SearchStrategy[tuple[str | None, str]]:
    """How a document goes out: (the Accept header or None, the HTTP method)."""
    return st.tuples(st.sampled_from(ACCEPTS), st.sampled_from(METHODS))


def is_query(document: str) -> bool:
    """Whether `document` parses to a query operation (which GraphQL-over-HTTP lets a GET run)."""
    try:
        definitions = graphql.parse(document).definitions
    except graphql.GraphQLError:
        return False
    return any(
        isinstance(d, graphql.OperationDefinitionNode)
        and d.operation == graphql.OperationType.QUERY
        for d in definitions
    )


# --- hostile variables ------------------------------------------------------------------------


class Raw(str):
    """A JSON token written as is: NaN, Infinity, an int too long for Python's parser."""


RAW_TOKENS = (
    "NaN",
    "Infinity",
    "-Infinity",
    "1e309",
    "-1e309",
    "1e-400",
    "-0",
    "0." + "0" * 5000 + "1",
)
# More digits than Python's int parser takes (4300): json.loads raises a ValueError that is not
# a JSONDecodeError. Found by this fuzzer (the server answered 500); sent by its own test and
# probe rather than drawn, so the strategies keep finding other faults.
TOO_LONG_INT = Raw("9" * 5000)
HOSTILE_TEXTS = (
    "",
    " ",
    "\x00",
    "\ud800",  # a lone surrogate: valid JSON escape, not encodable as UTF-8
    "\udfff\ud800",
    "\u202eevil",
    "💣" * 1000,
    "A" * 100_000,
    "' OR 1=1 //",
    '"}) MATCH (n) DETACH DELETE n //',
    "$id",
    "${jndi:ldap://x}",
    "PROCEED",
    "ALLOW",
    "C0000001",
)


def _hostile_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.sampled_from(RAW_TOKENS).map(Raw),
        st.integers(min_value=-(2**80), max_value=2**80),
        st.sampled_from([2**31, -(2**31) - 1, 2**53 + 1, 2**63, -(2**63) - 1, 2**64]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(HOSTILE_TEXTS),
        st.text(st.characters(codec=None), max_size=64),
        st.lists(st.integers(), max_size=3),
        st.dictionaries(st.text(max_size=8), st.integers(), max_size=3),
    )


def hostile_value(type_: graphql.GraphQLInputType) -> st.SearchStrategy[Any]:
    """A value for a variable of `type_`: often of the right shape with a hostile scalar
    inside, sometimes of the wrong type altogether."""
    wrong = _hostile_scalars()
    if isinstance(type_, graphql.GraphQLNonNull):
        return hostile_value(type_.of_type)
    if isinstance(type_, graphql.GraphQLList):
        return st.one_of(st.lists(hostile_value(type_.of_type), max_size=4), wrong)
    if isinstance(type_, graphql.GraphQLInputObjectType):
        fields = {name: hostile_value(f.type) for name, f in type_.fields.items()}
        shaped = st.fixed_dictionaries(
            {}, optional={**fields, "__proto__": wrong, "unknownField": wrong}
        )
        return st.one_of(st.fixed_dictionaries(fields), shaped, wrong)
    if isinstance(type_, graphql.GraphQLEnumType):
        names = sorted(type_.values)
        return st.one_of(st.sampled_from(names), st.sampled_from(names).map(str.lower), wrong)
    right: st.SearchStrategy[Any] = wrong
    name = getattr(type_, "name", "")
    if name == "Float":
        right = st.one_of(st.floats(0, 1), st.floats(), st.sampled_from(RAW_TOKENS[:6]).map(Raw))
    elif name == "Int":
        right = st.one_of(st.integers(-(2**31), 2**31 - 1), st.integers())
    elif name in ("String", "ID"):
        right = st.one_of(st.sampled_from(HOSTILE_TEXTS), st.text(st.characters(codec=None)))
    elif name == "Boolean":
        right = st.booleans()
    return st.one_of(right, wrong)


def hostile_variables(
    schema: graphql.GraphQLSchema, document: str
) -> st.SearchStrategy[dict[str, Any]]:
    """Variables for `document`, each one drawn by `hostile_value` for its declared type
    (read from the live schema; a type it no longer has gets any hostile value)."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for definition in graphql.parse(document).definitions:
        if isinstance(definition, graphql.OperationDefinitionNode):
            for variable in definition.variable_definitions or ():
                type_ = graphql.type_from_ast(schema, variable.type)
                strategy = hostile_value(type_) if type_ is not None else _hostile_scalars()
                fields[variable.variable.name.value] = strategy
    return st.fixed_dictionaries(fields)


def too_long_int_variables() -> dict[str, Any]:
    """Variables for `operations.CANDIDATES` whose `first` is `TOO_LONG_INT`."""
    return {"id": "CUST-none", "business": "CROSS_BORDER_TRANSFER", "first": TOO_LONG_INT}


def to_json(value: Any) -> str:
    """JSON text of `value`, with `Raw` tokens written as they are (no json.dumps would)."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{to_json(str(k))}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return json.dumps(value)


# --- what a response may not hold --------------------------------------------------------------


def approvals(schema: graphql.GraphQLSchema, document: str, data: Any) -> list[str]:
    """The paths in `data` (the answer to `document`) where an enum-typed field holds an
    approval. Typed by the schema, so a string that only echoes an input ("ALLOW" as a
    customer id) is not mistaken for one."""
    if not isinstance(data, dict):
        return []
    try:
        ast = graphql.parse(document)
    except graphql.GraphQLError:
        return []
    fragments = {
        d.name.value: d for d in ast.definitions if isinstance(d, graphql.FragmentDefinitionNode)
    }
    found: list[str] = []

    def walk(parent: Any, selection_set: Any, value: Any, path: str) -> None:
        if value is None or selection_set is None:
            return
        if isinstance(value, list):
            for i, item in enumerate(value):
                walk(parent, selection_set, item, f"{path}[{i}]")
            return
        if not isinstance(value, dict):
            return
        for node in selection_set.selections:
            if isinstance(node, graphql.InlineFragmentNode):
                cond = node.type_condition
                walk(schema.get_type(cond.name.value) if cond else parent, node.selection_set,
                     value, path)  # fmt: skip
            elif isinstance(node, graphql.FragmentSpreadNode):
                frag = fragments.get(node.name.value)
                if frag is not None:
                    typed = schema.get_type(frag.type_condition.name.value)
                    walk(typed, frag.selection_set, value, path)
            elif isinstance(node, graphql.FieldNode):
                key = (node.alias or node.name).value
                fields = getattr(parent, "fields", None) or {}
                field = fields.get(node.name.value)
                if key not in value or field is None:
                    continue
                named = graphql.get_named_type(field.type)
                if isinstance(named, graphql.GraphQLEnumType):
                    items = value[key] if isinstance(value[key], list) else [value[key]]
                    found.extend(f"{path}.{key}={v}" for v in items if v in APPROVALS)
                else:
                    walk(named, node.selection_set, value[key], f"{path}.{key}")

    for definition in ast.definitions:
        if isinstance(definition, graphql.OperationDefinitionNode):
            root = schema.get_root_type(definition.operation)
            walk(root, definition.selection_set, data, "data")
    return found


@dataclasses.dataclass
class Answer:
    """One request and what was wrong with its answer (nothing, for a good one)."""

    role: str | None
    status: int
    body: Any
    text: str
    problems: list[str]

    def describe(self, document: str, variables: str | None) -> str:
        return (
            f"role {self.role}, HTTP {self.status}: {'; '.join(self.problems)}\n"
            f"document:\n{document}\nvariables: {(variables or '{}')[:500]}\n"
            f"response: {self.text[:2000]}"
        )


def variable_locations(document: str) -> set[tuple[int, int]]:
    """Where the document declares its variables, as (line, column) of each `$name`."""
    try:
        ast = graphql.parse(document)
    except graphql.GraphQLError:
        return set()
    found = set()
    for definition in ast.definitions:
        if isinstance(definition, graphql.OperationDefinitionNode) and ast.loc is not None:
            for variable in definition.variable_definitions or ():
                if variable.loc is not None:
                    at = graphql.get_location(ast.loc.source, variable.loc.start)
                    found.add((at.line, at.column))
    return found


def masked_errors(document: str, body: Any) -> tuple[int, int]:
    """(masked errors at a variable's declaration, other masked errors) in a response body.
    The first are a variable of the wrong type, which api.app masks as "internal error"
    (graphql-core 3.3 sets original_error on them); the others are crashes."""
    errors = body.get("errors") if isinstance(body, dict) else None
    masked = [
        e for e in (errors if isinstance(errors, list) else ()) if isinstance(e, dict)
        and e.get("message") == MASKED
    ]  # fmt: skip
    if not masked:
        return 0, 0
    declared = variable_locations(document)
    at_variables = sum(
        1
        for e in masked
        if e.get("locations")
        and all((at.get("line"), at.get("column")) in declared for at in e["locations"])
    )
    return at_variables, len(masked) - at_variables


def check(schema: graphql.GraphQLSchema, document: str, response: httpx.Response) -> list[str]:
    """What is wrong with the answer to `document`: a 5xx, a body that is not JSON, an
    approval in its data, an unexpected exception (masked) in its errors."""
    problems = []
    if response.status_code >= 500:
        problems.append(f"server error {response.status_code}")
    try:
        body = json.loads(response.content)
    except ValueError:
        problems.append("the body is not JSON")
        return problems
    data = body.get("data") if isinstance(body, dict) else None
    problems += [f"approval {path}" for path in approvals(schema, document, data)]
    crashes = masked_errors(document, body)[1]
    if crashes:
        problems.append(f"{crashes} unexpected exception(s), masked as {MASKED!r}")
    return problems


class Fuzzer:
    """Sends each document with a key of every role and without one; keeps the counts."""

    def __init__(
        self, client: httpx.Client, schema: graphql.GraphQLSchema, keys: dict[str, str]
    ) -> None:
        self.client, self.schema, self.keys = client, schema, keys
        self.statuses: collections.Counter[int] = collections.Counter()
        self.failures: list[str] = []
        self.requests = 0
        self.masked_variable_errors = 0  # answers with one (see masked_errors)

    def send(
        self,
        document: str,
        variables: dict[str, Any] | None = None,
        way: tuple[str | None, str] = (None, "POST"),
    ) -> list[Answer]:
        """Send `document` once per role and once without a key; every answer, checked."""
        accept, method = way
        if method == "GET" and not is_query(document):
            method = "POST"
        text = '{"query":' + json.dumps(document)
        text += f',"variables":{to_json(variables)}}}' if variables is not None else "}"
        params = {"query": document}
        if variables is not None:
            params["variables"] = to_json(variables)
        answers = []
        for role in (*self.keys, None):
            headers = {"content-type": "application/json"} if method == "POST" else {}
            if role is not None:
                headers["authorization"] = f"Bearer {self.keys[role]}"
            if accept is not None:
                headers["accept"] = accept
            self.requests += 1
            try:
                response = self._request(method, text, params, headers)
            except httpx.HTTPError as exc:  # the server dropped the request unanswered
                self.statuses[0] += 1
                problem = f"no answer: {type(exc).__name__}: {exc}"
                answer = Answer(role, 0, None, "", [problem])
                self.failures.append(answer.describe(document, to_json(variables)))
                answers.append(answer)
                continue
            self.statuses[response.status_code] += 1
            problems = check(self.schema, document, response)
            try:
                parsed = response.json()
            except ValueError:
                parsed = None
            answer = Answer(role, response.status_code, parsed, response.text, problems)
            self.masked_variable_errors += masked_errors(document, parsed)[0] > 0
            if problems:
                variables_text = to_json(variables) if variables is not None else None
                self.failures.append(answer.describe(document, variables_text))
            answers.append(answer)
        return answers

    def _request(
        self, method: str, text: str, params: dict[str, str], headers: dict[str, str]
    ) -> httpx.Response:
        # After a 500 the server closes the kept-alive connection, which the next request may
        # find reset before it is sent: that one is sent again, on a new connection.
        for attempt in (1, 2):
            try:
                if method == "POST":
                    return self.client.post("/graphql", content=text, headers=headers)
                return self.client.get("/graphql", params=params, headers=headers)
            except (httpx.ReadError, httpx.RemoteProtocolError):
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def healthy(self) -> int:
        """The status of GET /healthz (0: no answer at all)."""
        try:
            return self.client.get("/healthz").status_code
        except httpx.HTTPError:
            return 0


def fuzz_settings(examples: int) -> settings:
    """Enough examples, no deadline (a shared machine), reproducible, no example database."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=HEALTH_CHECKS,
        phases=[Phase.explicit, Phase.generate],  # a failure is recorded, not shrunk
        print_blob=False,
    )


def run_examples(
    strategy: st.SearchStrategy[Any], examples: int, body: Callable[[Any], None]
) -> None:
    """Call `body` with `examples` values drawn from `strategy` (hypothesis drives it)."""

    @fuzz_settings(examples)
    @given(strategy)
    def run(value: Any) -> None:
        body(value)

    run()


# --- the benchmark ----------------------------------------------------------------------------


@contextlib.contextmanager
def bank_server(customers: int, work: Path, results: dict[str, Any]) -> Iterator[Any]:
    """A synthetic bank in a temporary embedded store, served by bench/api.py's server
    process; yields (url, store); stops both."""
    from bench.api import GRAPH, SEED, _store, server_process
    from bench.harness import scratch_store
    from etl.load import load_folder
    from etl.synth import generate
    from graph import embedded

    data_dir = scratch_store(work)
    for name in ("VOUCHGRAPH_RATE_PER_S", "VOUCHGRAPH_RATE_BURST"):  # fuzz, not rate limits
        os.environ[name] = "1000000"
    store = None
    try:
        started = time.perf_counter()
        generate(customers, SEED, work / "bank")
        store = _store(GRAPH)
        store.clear()
        report = load_folder(store, work / "bank", progress=False, bulk=True)
        results["bank"] = {
            "customers": customers,
            "nodes": report.nodes_written,
            "relationships": report.relationships_written,
            "seconds": round(time.perf_counter() - started, 2),
        }
        print(f"bank: {json.dumps(results['bank'])}", flush=True)
        with server_process(GRAPH, work / "outbox.log", work / "server.log") as (url, _pid):
            yield url, store
    finally:
        if store is not None:
            with contextlib.suppress(Exception):
                store.close()
        embedded.stop(data_dir)


def plan(fields: list[str], requests: int, per_document: int) -> list[tuple[str, str, int]]:
    """(kind, field, examples): about 70% valid documents over every root field, 15% with one
    schema violation, 15% hostile variables over the flow's operations."""
    documents_total = math.ceil(requests / per_document)
    flow = [f for f in FLOW_OPERATIONS if f in fields]
    out = []
    for kind, share, names in (
        ("positive", 0.70, fields),
        ("negative", 0.15, fields),
        ("hostile", 0.15, flow),
    ):
        each = max(1, round(documents_total * share / max(len(names), 1)))
        out += [(kind, name, each) for name in names]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--customers", type=int, default=2_000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = parser.parse_args()

    from api.keys import ROLES, create_key
    from bench.harness import provenance

    results: dict[str, Any] = {
        **provenance("fuzz"),
        "settings": {
            "policy": "shipped policy.toml, missing graph model neutral (0 points)",
            "server": "separate process (bench/api.py --serve), uvicorn",
            "client": "one, sequential, keep-alive; each document once per role and keyless",
            "roles": list(ROLES),
        },
    }
    work = Path(tempfile.mkdtemp(prefix="vouchgraph-bench-fuzz-"))
    try:
        with (
            bank_server(args.customers, work, results) as (url, store),
            httpx.Client(base_url=url, timeout=60) as client,
        ):
            keys = {role: create_key(store, role, f"fuzz-{role}")[1] for role in ROLES}
            schema = live_schema(client, keys["admin"])
            fields = root_fields(schema)
            fuzzer = Fuzzer(client, schema, keys)
            per_op: dict[str, dict[str, Any]] = {}
            health: list[int] = []
            started = time.perf_counter()
            for kind, field, examples in plan(fields, args.requests, len(keys) + 1):
                before, op_started = fuzzer.requests, time.perf_counter()
                if kind == "hostile":
                    doc = FLOW_OPERATIONS[field]
                    strategy: Any = st.tuples(st.just(doc), hostile_variables(schema, doc))
                else:
                    mode = Mode.POSITIVE if kind == "positive" else Mode.NEGATIVE
                    strategy = st.tuples(documents(schema, field, mode), st.none())
                run_examples(
                    st.tuples(strategy, ways()),
                    examples,
                    lambda drawn: fuzzer.send(drawn[0][0], drawn[0][1], drawn[1]),
                )
                health.append(fuzzer.healthy())
                per_op[f"{kind} {field}"] = {
                    "requests": fuzzer.requests - before,
                    "seconds": round(time.perf_counter() - op_started, 2),
                    "healthz": health[-1],
                }
                print(f"  {kind:<8} {field:<22} {per_op[f'{kind} {field}']}", flush=True)
            # the one known fault, probed on purpose (see TOO_LONG_INT)
            answers = fuzzer.send(operations.CANDIDATES, too_long_int_variables())
            results["probe_too_long_int"] = {str(a.role): a.status for a in answers}
            print(f"  probe: an int of 5000 digits: {results['probe_too_long_int']}", flush=True)
            wall = time.perf_counter() - started
            final_health = fuzzer.healthy()
        server_errors = sum(n for s, n in fuzzer.statuses.items() if s >= 500)
        results.update(
            {
                "root_fields": fields,
                "requests": fuzzer.requests,
                "seconds": round(wall, 2),
                "requests_per_s": round(fuzzer.requests / wall, 1),
                "statuses": {str(k): v for k, v in sorted(fuzzer.statuses.items())},
                "server_errors": server_errors,
                "not_json": sum("not JSON" in f for f in fuzzer.failures),
                "approvals": sum("approval" in f for f in fuzzer.failures),
                "masked_crashes": sum("unexpected exception" in f for f in fuzzer.failures),
                "masked_variable_errors": fuzzer.masked_variable_errors,
                "failures": fuzzer.failures[:20],
                "healthz_after_each_batch": sorted(set(health)),
                "healthz_after_run": final_health,
                "per_operation": per_op,
            }
        )
        results["machine"]["load_average_at_end"] = [round(v, 2) for v in os.getloadavg()]
        log_lines = (work / "server.log").read_text(errors="replace").splitlines()
        results["server_log_lines"] = len(log_lines)
        results["server_log_tail"] = log_lines[-10:]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{results['requests']} requests in {results['seconds']} s "
        f"({results['requests_per_s']} requests/s); statuses {results['statuses']}; "
        f"server errors {results['server_errors']}, not JSON {results['not_json']}, "
        f"approvals {results['approvals']}, masked crashes {results['masked_crashes']}; "
        f"answers with a variable's error masked as {MASKED!r}: "
        f"{results['masked_variable_errors']}; "
        f"/healthz after the run {results['healthz_after_run']}",
        flush=True,
    )
    for failure in results["failures"][:5]:
        print(f"FAILURE: {failure}", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "fuzz.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")
    return 1 if results["server_errors"] or results["approvals"] or final_health != 200 else 0


if __name__ == "__main__":
    sys.exit(main())
