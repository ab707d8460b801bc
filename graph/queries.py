"""Every Cypher query the project runs, in one place, parameters only.

Each query is a named `Query` with example parameter values: the Cypher lint
(`python -m graph.cypherlint`) declares those parameters to Neo4j's own Cypher front end and fails
on any error, and the test suite runs the same text against the embedded FalkorDB server. Keep
to the subset both engines share (ARCHITECTURE.md): no EXISTS {}, COUNT {}, elementId(),
shortestPath, =~, APOC or GDS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Query:
    """A named Cypher statement, its example parameters, and whether it writes."""

    name: str
    text: str
    params: Mapping[str, Any] = field(default_factory=dict)
    write: bool = False


ALL: list[Query] = []


def _q(name: str, text: str, params: Mapping[str, Any] | None = None, write: bool = False) -> Query:
    query = Query(name, " ".join(text.split()), dict(params or {}), write)
    ALL.append(query)
    return query


T = 1_700_000_000_000  # an example epoch-milliseconds time for the lint's parameter values

# --- schema: the same statements parse in Neo4j 5 and run in FalkorDB ----------------------
# (Neo4j gets named `IF NOT EXISTS` forms in graph/backends/neo4j_driver.py; both are linted.)

NODE_KEYS: tuple[tuple[str, str, bool], ...] = (
    # (label, property, unique)
    ("Customer", "id", True),
    ("Customer", "id_number", False),
    ("Phone", "number", True),
    ("Device", "id", True),
    ("App", "id", True),
    ("BlacklistEntry", "id", True),
    ("BlacklistEntry", "id_number", False),
    ("Rejection", "id", True),
    ("Consent", "id", True),
    ("Attribute", "name", True),
    ("Assessment", "id", True),
    ("AssistRequest", "id", True),
    ("Decision", "id", True),
    ("Decision", "assessment_id", True),
    ("OutboxMessage", "id", True),
    ("AuditEvent", "id", True),
    ("AuditEvent", "subject_id", False),
    ("OutboxMessage", "status", False),
    ("ApiKey", "hash", True),
    ("Alert", "id", True),
)
RELATIONSHIP_KEYS: tuple[tuple[str, str], ...] = (("VOUCHED_FOR", "id"),)

FALKOR_SCHEMA: list[Query] = [
    _q(f"index_{label}_{prop}", f"CREATE INDEX FOR (n:{label}) ON (n.{prop})", write=True)
    for label, prop, _unique in NODE_KEYS
] + [
    _q(f"index_{rel}_{prop}", f"CREATE INDEX FOR ()-[r:{rel}]-() ON (r.{prop})", write=True)
    for rel, prop in RELATIONSHIP_KEYS
]

NEO4J_SCHEMA: list[Query] = [
    _q(
        f"neo4j_{label}_{prop}",
        f"CREATE CONSTRAINT {label.lower()}_{prop}_unique IF NOT EXISTS "
        f"FOR (n:{label}) REQUIRE n.{prop} IS UNIQUE"
        if unique
        else f"CREATE INDEX {label.lower()}_{prop} IF NOT EXISTS FOR (n:{label}) ON (n.{prop})",
        write=True,
    )
    for label, prop, unique in NODE_KEYS
] + [
    _q(
        f"neo4j_{rel}_{prop}",
        f"CREATE INDEX {rel.lower()}_{prop} IF NOT EXISTS FOR ()-[r:{rel}]-() ON (r.{prop})",
        write=True,
    )
    for rel, prop in RELATIONSHIP_KEYS
]

FALKOR_CONSTRAINTS = _q(
    "falkor_constraints",
    "CALL db.constraints() YIELD type, label, properties, entitytype, status "
    "RETURN type, label, properties, entitytype AS entity, status",
)

# Neo4j's side of FALKOR_CONSTRAINTS (type UNIQUENESS; a constraint is online once created).
NEO4J_CONSTRAINTS = _q(
    "neo4j_constraints",
    "SHOW CONSTRAINTS YIELD type, labelsOrTypes, properties, entityType "
    "RETURN type, labelsOrTypes[0] AS label, properties, entityType AS entity",
)
# The server's own name for its version (benchmarks record it).
NEO4J_COMPONENTS = _q(
    "neo4j_components",
    "CALL dbms.components() YIELD name, versions, edition RETURN name, versions, edition",
)
BACKEND_ONLY = {
    FALKOR_CONSTRAINTS.name: "falkordb",
    NEO4J_CONSTRAINTS.name: "neo4j",
    NEO4J_COMPONENTS.name: "neo4j",
}

ANY_NODE = _q("any_node", "MATCH (n) RETURN 1 AS one LIMIT 1")
# The cheapest statement: benchmarks' same-process baseline for a round trip.
ROUND_TRIP = _q("round_trip", "RETURN 1 AS one")

# --- ETL: one idempotent statement per source batch ----------------------------------------

EXISTING_CUSTOMERS = _q(
    "existing_customers",
    "UNWIND $ids AS id MATCH (c:Customer {id: id}) RETURN c.id AS id",
    {"ids": ["C1"]},
)
EXISTING_DEVICES = _q(
    "existing_devices",
    "UNWIND $ids AS id MATCH (d:Device {id: id}) RETURN d.id AS id",
    {"ids": ["D1"]},
)
UPSERT_CUSTOMERS = _q(
    "upsert_customers",
    """
    UNWIND $rows AS r
    MERGE (c:Customer {id: r.customer_id})
    SET c.name = r.name, c.id_number = r.id_number, c.gender = r.gender,
        c.birth_date = r.birth_date, c.address = r.address, c.city = r.city,
        c.occupation = r.occupation, c.opened_at = r.opened_at, c.status = r.status
    """,
    {
        "rows": [
            {
                "customer_id": "C1",
                "name": "n",
                "id_number": "x",
                "gender": "F",
                "birth_date": T,
                "address": None,
                "city": None,
                "occupation": None,
                "opened_at": T,
                "status": "active",
            }
        ]
    },
    write=True,
)

_RELATION = """
    UNWIND $rows AS r
    MATCH (a:Customer {{id: r.src_id}})
    MATCH (b:Customer {{id: r.dst_id}})
    MERGE (a)-[k:{rel} {{kind: r.kind, source: r.source}}]->(b)
    SET k.since = r.since
"""
_RELATION_PARAMS = {
    "rows": [{"src_id": "C1", "dst_id": "C2", "kind": "spouse", "source": "bank", "since": T}]
}
UPSERT_KIN = _q("upsert_kin", _RELATION.format(rel="KIN"), _RELATION_PARAMS, write=True)
UPSERT_SOCIAL = _q("upsert_social", _RELATION.format(rel="SOCIAL"), _RELATION_PARAMS, write=True)

# A pair's aggregate remembers which source batches (file digests) it has absorbed, so loading
# the same file again, or re-running a killed load, adds nothing twice.
UPSERT_TRANSFERRED = _q(
    "upsert_transferred",
    """
    UNWIND $rows AS r
    MATCH (a:Customer {id: r.src_id})
    MATCH (b:Customer {id: r.dst_id})
    MERGE (a)-[t:TRANSFERRED]->(b)
    WITH t, r
    WHERE NOT r.batch IN coalesce(t.batches, [])
    SET t.count = coalesce(t.count, 0) + r.count,
        t.total = coalesce(t.total, 0.0) + r.total,
        t.max_amount = CASE WHEN t.max_amount IS NULL OR r.max_amount > t.max_amount
                            THEN r.max_amount ELSE t.max_amount END,
        t.first_ts = CASE WHEN t.first_ts IS NULL OR r.first_ts < t.first_ts
                          THEN r.first_ts ELSE t.first_ts END,
        t.last_ts = CASE WHEN t.last_ts IS NULL OR r.last_ts > t.last_ts
                         THEN r.last_ts ELSE t.last_ts END,
        t.batches = coalesce(t.batches, []) + r.batch
    """,
    {
        "rows": [
            {
                "src_id": "C1",
                "dst_id": "C2",
                "count": 2,
                "total": 10.5,
                "max_amount": 9.0,
                "first_ts": T,
                "last_ts": T,
                "batch": "abc",
            }
        ]
    },
    write=True,
)

SET_MOVEMENT = _q(
    "set_movement",
    """
    UNWIND $rows AS r
    MATCH (c:Customer {id: r.customer_id})
    WHERE c.movement_as_of IS NULL OR c.movement_as_of <= r.as_of
    SET c.movement_as_of = r.as_of, c.out_count_180d = r.out_count, c.out_total_180d = r.out_total,
        c.in_count_180d = r.in_count, c.in_total_180d = r.in_total,
        c.max_out_180d = r.max_out, c.counterparties_180d = r.counterparties,
        c.out_count_30d = r.out_count_30d, c.out_total_30d = r.out_total_30d
    """,
    {
        "rows": [
            {
                "customer_id": "C1",
                "as_of": T,
                "out_count": 1,
                "out_total": 1.0,
                "in_count": 0,
                "in_total": 0.0,
                "max_out": 1.0,
                "counterparties": 1,
                "out_count_30d": 1,
                "out_total_30d": 1.0,
            }
        ]
    },
    write=True,
)

UPSERT_PHONES = _q(
    "upsert_phones",
    """
    UNWIND $rows AS r
    MATCH (c:Customer {id: r.customer_id})
    MERGE (p:Phone {number: r.phone_number})
    MERGE (c)-[u:USES_PHONE]->(p)
    SET u.since = r.since
    """,
    {"rows": [{"customer_id": "C1", "phone_number": "+8613800000000", "since": T}]},
    write=True,
)

UPSERT_CALLS = _q(
    "upsert_calls",
    """
    UNWIND $rows AS r
    MERGE (a:Phone {number: r.phone_number})
    MERGE (b:Phone {number: r.counterpart_number})
    MERGE (a)-[x:CONTACTED {kind: r.kind}]->(b)
    SET x.count = r.count, x.first_ts = r.first_ts, x.last_ts = r.last_ts
    """,
    {
        "rows": [
            {
                "phone_number": "+861",
                "counterpart_number": "+862",
                "kind": "CALL",
                "count": 3,
                "first_ts": T,
                "last_ts": T,
            }
        ]
    },
    write=True,
)

UPSERT_DEVICES = _q(
    "upsert_devices",
    """
    UNWIND $rows AS r
    MATCH (c:Customer {id: r.customer_id})
    MERGE (d:Device {id: r.device_id})
    SET d.model = coalesce(r.model, d.model)
    MERGE (c)-[u:USES_DEVICE]->(d)
    SET u.first_seen = r.first_seen, u.last_seen = r.last_seen
    """,
    {
        "rows": [
            {"customer_id": "C1", "device_id": "D1", "model": "m", "first_seen": T, "last_seen": T}
        ]
    },
    write=True,
)

UPSERT_APPS = _q(
    "upsert_apps",
    """
    UNWIND $rows AS r
    MATCH (d:Device {id: r.device_id})
    MERGE (a:App {id: r.app_id})
    SET a.name = coalesce(r.app_name, a.name)
    MERGE (d)-[h:HAS_APP]->(a)
    SET h.installed_at = r.installed_at
    """,
    {"rows": [{"device_id": "D1", "app_id": "A1", "app_name": "x", "installed_at": T}]},
    write=True,
)

UPSERT_ABNORMAL_NUMBERS = _q(
    "upsert_abnormal_numbers",
    """
    UNWIND $rows AS r
    MERGE (p:Phone {number: r.phone_number})
    SET p.abnormal = true, p.abnormal_category = r.category, p.abnormal_listed_at = r.listed_at
    """,
    {"rows": [{"phone_number": "+861", "category": "telecom_fraud", "listed_at": T}]},
    write=True,
)

UPSERT_ABNORMAL_APPS = _q(
    "upsert_abnormal_apps",
    """
    UNWIND $rows AS r
    MERGE (a:App {id: r.app_id})
    SET a.abnormal = true, a.abnormal_category = r.category, a.abnormal_listed_at = r.listed_at
    """,
    {"rows": [{"app_id": "A1", "category": "fake_investment", "listed_at": T}]},
    write=True,
)

# An entry names a customer, an ID number, or both; it is linked to every customer it names.
UPSERT_BLACKLIST = _q(
    "upsert_blacklist",
    """
    UNWIND $rows AS r
    MERGE (b:BlacklistEntry {id: r.entry_id})
    SET b.customer_id = r.customer_id, b.id_number = r.id_number, b.reason = r.reason,
        b.listed_at = r.listed_at
    WITH b, r
    OPTIONAL MATCH (c:Customer {id: coalesce(r.customer_id, '')})
    OPTIONAL MATCH (d:Customer {id_number: coalesce(r.id_number, '')})
    WITH b, [x IN collect(DISTINCT c) + collect(DISTINCT d) WHERE x IS NOT NULL] AS named
    FOREACH (x IN named | MERGE (x)-[:BLACKLISTED_AS]->(b))
    """,
    {
        "rows": [
            {
                "entry_id": "B1",
                "customer_id": "C1",
                "id_number": None,
                "reason": "fraud",
                "listed_at": T,
            }
        ]
    },
    write=True,
)

UPSERT_REJECTIONS = _q(
    "upsert_rejections",
    """
    UNWIND $rows AS r
    MATCH (c:Customer {id: r.customer_id})
    MERGE (j:Rejection {id: r.rejection_id})
    SET j.business = r.business, j.reason_code = r.reason_code, j.ts = r.ts
    MERGE (c)-[:WAS_REJECTED]->(j)
    """,
    {
        "rows": [
            {
                "customer_id": "C1",
                "rejection_id": "R1",
                "business": "INSURANCE_PURCHASE",
                "reason_code": "FACE_MISMATCH",
                "ts": T,
            }
        ]
    },
    write=True,
)

SET_CREDIT = _q(
    "set_credit",
    """
    UNWIND $rows AS r
    MATCH (c:Customer {id: r.customer_id})
    WHERE c.credit_as_of IS NULL OR c.credit_as_of <= r.as_of
    SET c.credit_grade = r.grade, c.credit_score = r.score, c.credit_as_of = r.as_of
    """,
    {"rows": [{"customer_id": "C1", "grade": "A", "score": 700, "as_of": T}]},
    write=True,
)

UPSERT_CONSENTS = _q(
    "upsert_consents",
    """
    UNWIND $rows AS r
    MATCH (c:Customer {id: r.customer_id})
    MERGE (k:Consent {id: r.consent_id})
    SET k.category = r.category, k.granted = r.granted, k.ts = r.ts, k.expires_at = r.expires_at
    MERGE (c)-[:GAVE_CONSENT]->(k)
    """,
    {
        "rows": [
            {
                "customer_id": "C1",
                "consent_id": "K1",
                "category": "credit",
                "granted": True,
                "ts": T,
                "expires_at": None,
            }
        ]
    },
    write=True,
)

UPSERT_VOUCHES = _q(
    "upsert_vouches",
    """
    UNWIND $rows AS r
    MATCH (g:Customer {id: r.guarantor_id})
    MATCH (c:Customer {id: r.customer_id})
    MERGE (g)-[v:VOUCHED_FOR {id: r.vouch_id}]->(c)
    SET v.business = r.business, v.ts = r.ts, v.outcome = r.outcome, v.outcome_ts = r.outcome_ts
    """,
    {
        "rows": [
            {
                "vouch_id": "V1",
                "guarantor_id": "C1",
                "customer_id": "C2",
                "business": "CROSS_BORDER_TRANSFER",
                "ts": T,
                "outcome": "NO_ISSUE",
                "outcome_ts": T,
            }
        ]
    },
    write=True,
)

SET_LABELS = _q(
    "set_labels",
    """
    UNWIND $rows AS r
    MATCH (c:Customer {id: r.customer_id})
    SET c.fraud_label = r.label, c.fraud_kind = r.kind, c.label_ts = r.ts
    """,
    {"rows": [{"customer_id": "C1", "label": 1, "kind": "mule", "ts": T}]},
    write=True,
)

# One rating per ordered pair: a newer one replaces it, an older one (a file loaded late) does not.
UPSERT_RATINGS = _q(
    "upsert_ratings",
    """
    UNWIND $rows AS r
    MATCH (a:Customer {id: r.src_id})
    MATCH (b:Customer {id: r.dst_id})
    MERGE (a)-[x:RATED]->(b)
    WITH x, r
    WHERE x.ts IS NULL OR x.ts <= r.ts
    SET x.score = r.score, x.ts = r.ts
    """,
    {"rows": [{"src_id": "C1", "dst_id": "C2", "score": -0.5, "ts": T}]},
    write=True,
)

UPSERT_ATTRIBUTES = _q(
    "upsert_attributes",
    """
    UNWIND $rows AS r
    MATCH (c:Customer {id: r.customer_id})
    MERGE (t:Attribute {name: r.name})
    MERGE (c)-[a:HAS_ATTRIBUTE]->(t)
    SET a.value = r.value, a.as_of = r.as_of
    """,
    {"rows": [{"customer_id": "C1", "name": "approved_rate", "value": 0.8, "as_of": T}]},
    write=True,
)

# --- reads -------------------------------------------------------------------------------

NODE_COUNTS = _q(
    "node_counts",
    "MATCH (n) UNWIND labels(n) AS label RETURN label, count(*) AS count ORDER BY label",
)
RELATIONSHIP_COUNTS = _q(
    "relationship_counts",
    "MATCH ()-[r]->() RETURN type(r) AS type, count(*) AS count ORDER BY type",
)
# The totals a GRAPH.BULK load is checked against (the command only echoes declared counts).
NODE_TOTAL = _q("node_total", "MATCH (n) RETURN count(n) AS count")
RELATIONSHIP_TOTAL = _q("relationship_total", "MATCH ()-[r]->() RETURN count(r) AS count")

SAMPLE_CUSTOMER = _q(
    "sample_customer",
    """
    MATCH (c:Customer)-[:KIN]-(:Customer)
    WITH c LIMIT 1
    RETURN c.id AS id
    """,
)

CUSTOMER_RELATIONS = _q(
    "customer_relations",
    """
    MATCH (c:Customer {id: $id})-[r:KIN|SOCIAL|TRANSFERRED|VOUCHED_FOR]-(o:Customer)
    RETURN type(r) AS type, r.kind AS kind, r.source AS source, startNode(r) = c AS outgoing,
           o.id AS other, r.count AS count, r.total AS total, r.outcome AS outcome
    ORDER BY type, other
    LIMIT $limit
    """,
    {"id": "C1", "limit": 50},
)

CUSTOMER_PROFILE = _q(
    "customer_profile",
    """
    MATCH (c:Customer {id: $id})
    OPTIONAL MATCH (c)-[:USES_PHONE]->(p:Phone)
    OPTIONAL MATCH (c)-[:USES_DEVICE]->(d:Device)
    RETURN c.id AS id, c.status AS status, c.opened_at AS opened_at,
           c.credit_grade AS credit_grade, c.out_count_180d AS out_count_180d,
           c.out_total_180d AS out_total_180d, c.fraud_label AS fraud_label,
           count(DISTINCT p) AS phones, count(DISTINCT d) AS devices
    """,
    {"id": "C1"},
)

# Fan-out is capped at each hop so that a hub (a merchant paid by thousands, a big family)
# cannot make a neighbourhood read unbounded: at most $fanout first-hop neighbours, and at most
# $fanout * $fanout second-hop rows in all (the engine stops reading once the budget is met).
NEIGHBOURHOOD_1HOP = _q(
    "neighbourhood_1hop",
    """
    MATCH (c:Customer {id: $id})-[r:KIN|SOCIAL|TRANSFERRED|VOUCHED_FOR]-(n:Customer)
    RETURN n.id AS id, type(r) AS type
    LIMIT $fanout
    """,
    {"id": "C1", "fanout": 25},
)

# A first-hop neighbour whose stored degree is above $hub_degree is returned (hub: true) but not
# expanded: reading a hub's thousands of ties only to keep $budget of them is what made the
# 2-hop read slow at 1M customers. A customer without a stored degree is expanded.
NEIGHBOURHOOD_2HOP = _q(
    "neighbourhood_2hop",
    """
    MATCH (c:Customer {id: $id})-[:KIN|SOCIAL|TRANSFERRED|VOUCHED_FOR]-(n1:Customer)
    WITH DISTINCT c, n1 LIMIT $fanout
    OPTIONAL MATCH (n1)-[:KIN|SOCIAL|TRANSFERRED|VOUCHED_FOR]-(n2:Customer)
    WHERE coalesce(n1.degree, 0) <= $hub_degree AND n2 <> c
    WITH n1, n2 LIMIT $budget
    RETURN n1.id AS id, coalesce(n1.degree, 0) > $hub_degree AS hub,
           collect(DISTINCT n2.id) AS second
    """,
    {"id": "C1", "fanout": 25, "budget": 625, "hub_degree": 500},
)

# Each customer's number of ties (kin, social, transfer, vouch), written after every load for
# the customers it touched: the neighbourhood reads use it to step around hubs.
SET_DEGREES = _q(
    "set_degrees",
    """
    UNWIND $ids AS id
    MATCH (c:Customer {id: id})
    OPTIONAL MATCH (c)-[r:KIN|SOCIAL|TRANSFERRED|VOUCHED_FOR]-(:Customer)
    WITH c, count(r) AS degree
    SET c.degree = degree
    """,
    {"ids": ["C1"]},
    write=True,
)
CUSTOMER_DEGREES = _q(
    "customer_degrees",
    "UNWIND $ids AS id MATCH (c:Customer {id: id}) RETURN c.id AS id, c.degree AS degree",
    {"ids": ["C1"]},
)

RANDOM_CUSTOMER_IDS = _q(
    "customer_ids_page",
    "MATCH (c:Customer) RETURN c.id AS id SKIP $skip LIMIT $limit",
    {"skip": 0, "limit": 1000},
)

# --- kiosk decisions (Flow A): evidence reads ------------------------------------------

CUSTOMER_CONSENTS = _q(
    "customer_consents",
    """
    MATCH (c:Customer {id: $id})
    OPTIONAL MATCH (c)-[:GAVE_CONSENT]->(k:Consent)
    RETURN c.id AS id, collect(properties(k)) AS consents
    """,
    {"id": "C1"},
)

# What the scorecards read about one person, each category only when its flag (its consent)
# is set: a category without consent is not even read from the store. The blacklist is the
# bank's own list and is always checked, by link and by ID number.
PERSON_EVIDENCE = _q(
    "person_evidence",
    """
    MATCH (c:Customer {id: $id})
    OPTIONAL MATCH (c)-[:WAS_REJECTED]->(j:Rejection)
    WHERE $rejection_history
    WITH c, collect(properties(j)) AS rejections
    OPTIONAL MATCH (c)-[:BLACKLISTED_AS]->(b:BlacklistEntry)
    WITH c, rejections, count(b) AS linked_entries
    OPTIONAL MATCH (e:BlacklistEntry {id_number: coalesce(c.id_number, '')})
    WITH c, rejections, linked_entries, count(e) AS id_entries
    OPTIONAL MATCH (c)-[v:VOUCHED_FOR]-(:Customer)
    WHERE $vouching_history
    WITH c, rejections, linked_entries + id_entries AS blacklist_entries,
         collect({given: startNode(v) = c, vouch: properties(v)}) AS vouches
    RETURN c.status AS status,
           CASE WHEN $basic_info THEN c.birth_date END AS birth_date,
           CASE WHEN $basic_info THEN c.opened_at END AS opened_at,
           CASE WHEN $basic_info THEN c.address IS NOT NULL END AS address_present,
           CASE WHEN $transactions THEN c.movement_as_of END AS movement_as_of,
           CASE WHEN $transactions THEN c.out_total_180d END AS out_total,
           CASE WHEN $transactions THEN c.out_count_180d END AS out_count,
           CASE WHEN $transactions THEN c.counterparties_180d END AS counterparties,
           CASE WHEN $transactions THEN c.max_out_180d END AS max_out,
           CASE WHEN $transactions THEN c.out_count_30d END AS out_count_30d,
           CASE WHEN $credit THEN c.credit_grade END AS credit_grade,
           rejections, blacklist_entries, vouches
    """,
    {"id": "C1", "basic_info": True, "rejection_history": True, "transactions": True,
     "credit": True, "vouching_history": True},
)  # fmt: skip

# Step 4: customers related to the applicant by kinship or social ties, one row per related
# customer with every tie as evidence, and the facts eligibility needs. What an applicant could
# use to stand behind their own guarantor is read too: phones and devices the two share (a
# request is never sent on those); a third customer who shares a phone or device with the
# applicant and another one with the candidate (a household device cluster); a cycle of
# transfers through a third customer that holds both (a transfer ring: c -> g -> x -> c,
# c -> x -> g -> c or c -> x -> g -> y -> c; money simply going both ways between relatives is not
# one); and whether the "relative" is the applicant under a second customer record (the same ID
# number). The applicant's own devices, linked customers and two-hop transfer neighbours are
# read once, before the candidates, so a candidate costs only their own neighbourhood.
RELATED_CUSTOMERS = _q(
    "related_customers",
    """
    MATCH (c:Customer {id: $id})
    OPTIONAL MATCH (c)-[:USES_DEVICE|USES_PHONE]->(m)
    WITH c, collect(DISTINCT m) AS mine
    OPTIONAL MATCH (c)-[:USES_DEVICE|USES_PHONE]->()<-[:USES_DEVICE|USES_PHONE]-(x:Customer)
    WHERE x.id <> c.id
    WITH c, mine, collect(DISTINCT x.id) AS linked
    OPTIONAL MATCH (c)-[:TRANSFERRED]->(o1:Customer)
    WITH c, mine, linked, collect(DISTINCT o1.id) AS out1
    OPTIONAL MATCH (c)-[:TRANSFERRED]->(:Customer)-[:TRANSFERRED]->(o2:Customer)
    WITH c, mine, linked, out1, collect(DISTINCT o2.id) AS out2
    OPTIONAL MATCH (i1:Customer)-[:TRANSFERRED]->(c)
    WITH c, mine, linked, out1, out2, collect(DISTINCT i1.id) AS in1
    OPTIONAL MATCH (i2:Customer)-[:TRANSFERRED]->(:Customer)-[:TRANSFERRED]->(c)
    WITH c, mine, linked, out1, out2, in1, collect(DISTINCT i2.id) AS in2
    MATCH (c)-[r:KIN|SOCIAL]-(g:Customer)
    WHERE g.id <> c.id
    WITH c, mine, linked, g,
         (g.id IN out1 AND g.id IN in2) OR (g.id IN out2 AND (g.id IN in1 OR g.id IN in2))
           AS transfer_ring,
         collect({type: type(r), kind: r.kind, source: r.source,
                  candidate_is_src: startNode(r) = g}) AS ties
    LIMIT $limit
    OPTIONAL MATCH (g)-[:BLACKLISTED_AS]->(b:BlacklistEntry)
    WITH c, mine, linked, g, transfer_ring, ties, count(b) AS blacklist_entries
    OPTIONAL MATCH (g)-[v:VOUCHED_FOR]-(:Customer)
    WITH c, mine, linked, g, transfer_ring, ties, blacklist_entries,
         collect({given: startNode(v) = g, vouch: properties(v)}) AS vouches
    OPTIONAL MATCH (g)-[:USES_PHONE]->(p:Phone)
    WITH c, mine, linked, g, transfer_ring, ties, blacklist_entries, vouches,
         count(DISTINCT p) AS phones,
         count(DISTINCT CASE WHEN p IN mine THEN p END) AS shared_phones
    OPTIONAL MATCH (g)-[:USES_DEVICE]->(d:Device)
    WITH c, mine, linked, g, transfer_ring, ties, blacklist_entries, vouches, phones,
         shared_phones, count(DISTINCT d) AS devices,
         count(DISTINCT CASE WHEN d IN mine THEN d END) AS shared_devices
    OPTIONAL MATCH (g)-[:USES_DEVICE|USES_PHONE]->(m1)<-[:USES_DEVICE|USES_PHONE]-(y:Customer)
    WHERE y.id IN linked AND y.id <> g.id AND NOT m1 IN mine
    WITH c, g, transfer_ring, ties, blacklist_entries, vouches, phones, shared_phones, devices,
         shared_devices, count(y) AS cluster_links
    RETURN g.id AS id, g.name AS name, g.status AS status, g.opened_at AS opened_at,
           g.credit_grade AS credit_grade, g.graph_risk AS graph_risk, ties,
           blacklist_entries, vouches, phones, shared_phones, devices, shared_devices,
           cluster_links > 0 AS device_cluster, transfer_ring,
           g.id_number IS NOT NULL AND g.id_number = c.id_number AS same_person
    """,
    {"id": "C1", "limit": 50},
)

# The kinship and social ties between an applicant and one guarantor.
TIES_BETWEEN = _q(
    "ties_between",
    """
    MATCH (c:Customer {id: $customer_id})-[r:KIN|SOCIAL]-(g:Customer {id: $guarantor_id})
    RETURN type(r) AS type, r.kind AS kind, r.source AS source,
           startNode(r) = g AS candidate_is_src
    """,
    {"customer_id": "C1", "guarantor_id": "C2"},
)

# --- kiosk decisions: workflow state (all of it in the store, so any replica serves any step) -

CREATE_ASSESSMENT = _q(
    "create_assessment",
    """
    MATCH (c:Customer {id: $customer_id})
    CREATE (a:Assessment {id: $id, customer_id: $customer_id, business: $business,
                          kiosk_id: $kiosk_id, outcome: $outcome, score: $score,
                          threshold: $threshold, items: $items, reasons: $reasons,
                          candidates: $candidates, policy_version: $policy_version,
                          model_version: $model_version, created_at: $now,
                          expires_at: $expires_at, face_similarity: $face_similarity,
                          id_check: $id_check, owner_key: $owner_key,
                          candidate_view: $candidate_view, kiosk_consents: $kiosk_consents})
    CREATE (c)-[:REQUESTED]->(a)
    CREATE (e:AuditEvent {id: $audit_id, ts: $now, actor: $actor, action: 'ASSESS',
                          subject_id: $customer_id, categories: $categories,
                          consent_ids: $consent_ids, reference: $id})
    FOREACH (cid IN $candidates |
        CREATE (:AuditEvent {id: $audit_id + ':' + cid, ts: $now, actor: $actor,
                             action: 'READ_CANDIDATE', subject_id: cid,
                             categories: ['relationships'], consent_ids: [], reference: $id}))
    FOREACH (sid IN $model_reads |
        CREATE (:AuditEvent {id: $audit_id + ':model:' + sid, ts: $now, actor: $actor,
                             action: 'GRAPH_MODEL_READ', subject_id: sid,
                             categories: ['graph_model'], consent_ids: [], reference: $id}))
    RETURN a.id AS id
    """,
    {"customer_id": "C1", "id": "A1", "business": "INSURANCE_PURCHASE", "kiosk_id": "K1",
     "outcome": "PROCEED", "score": 10.0, "threshold": 40.0, "items": "[]", "reasons": [],
     "candidates": [], "policy_version": "v1", "model_version": None, "now": T,
     "expires_at": T, "audit_id": "E1", "actor": "kiosk-1", "categories": ["basic_info"],
     "consent_ids": ["K1"], "face_similarity": 0.9, "id_check": "MATCH", "owner_key": "key_1",
     "candidate_view": "[]", "kiosk_consents": ["face"], "model_reads": ["C1"]},
    write=True,
)  # fmt: skip

# An outcome for an applicant the graph does not know (ID unknown to the bank) still leaves a
# record: the refusal is audited like any other.
CREATE_ORPHAN_ASSESSMENT = _q(
    "create_orphan_assessment",
    """
    CREATE (a:Assessment {id: $id, customer_id: $customer_id, business: $business,
                          kiosk_id: $kiosk_id, outcome: $outcome, score: $score,
                          threshold: $threshold, items: $items, reasons: $reasons,
                          candidates: [], policy_version: $policy_version, created_at: $now,
                          expires_at: $now, owner_key: $owner_key, candidate_view: '[]',
                          kiosk_consents: []})
    CREATE (e:AuditEvent {id: $audit_id, ts: $now, actor: $actor, action: 'ASSESS',
                          subject_id: $customer_id, categories: [], consent_ids: [],
                          reference: $id})
    RETURN a.id AS id
    """,
    {"customer_id": "C1", "id": "A1", "business": "INSURANCE_PURCHASE", "kiosk_id": "K1",
     "outcome": "REFUSED", "score": 0.0, "threshold": 40.0, "items": "[]", "reasons": [],
     "policy_version": "v1", "now": T, "audit_id": "E1", "actor": "kiosk-1",
     "owner_key": "key_1"},
    write=True,
)  # fmt: skip

GET_ASSESSMENT = _q(
    "get_assessment",
    """
    MATCH (a:Assessment {id: $id})
    OPTIONAL MATCH (a)-[:ASKED]->(q:AssistRequest)
    OPTIONAL MATCH (a)-[:DECIDED]->(d:Decision)
    RETURN properties(a) AS assessment, collect(properties(q)) AS requests,
           properties(d) AS decision
    """,
    {"id": "A1"},
)

# One statement creates every request of a pick and its outbox message: all or nothing. It
# locks the assessment first (compare-and-set, see CLAIM_OUTBOX) and counts the requests already
# made under that lock, so concurrent picks never exceed the business's guarantor limit nor ask
# one guarantor twice; it returns no row when the pick does not fit.
CREATE_ASSIST_REQUESTS = _q(
    "create_assist_requests",
    """
    MATCH (a:Assessment {id: $assessment_id})
    SET a._lock = true REMOVE a._lock
    WITH a
    OPTIONAL MATCH (a)-[:ASKED]->(old:AssistRequest)
    WHERE old.status <> 'EXPIRED'
    WITH a, count(old) AS asked, collect(old.guarantor_id) AS asked_ids
    WHERE asked + size($requests) <= $max_guarantors
      AND none(r IN $requests WHERE r.guarantor_id IN asked_ids)
    CREATE (:AuditEvent {id: $audit_id, ts: $now, actor: $actor, action: 'REQUEST_ASSIST',
                         subject_id: a.customer_id, categories: ['relationships'],
                         consent_ids: [], reference: $assessment_id})
    WITH a
    UNWIND $requests AS r
    MATCH (g:Customer {id: r.guarantor_id})
    CREATE (q:AssistRequest {id: r.id, assessment_id: $assessment_id,
                             guarantor_id: r.guarantor_id, handle: r.handle,
                             channel: r.channel, status: 'PENDING', token_hash: r.token_hash,
                             token_failures: 0, created_at: $now, expires_at: r.expires_at})
    CREATE (a)-[:ASKED]->(q)
    CREATE (q)-[:TO]->(g)
    CREATE (m:OutboxMessage {id: r.message_id, request_id: r.id, guarantor_id: r.guarantor_id,
                             channel: r.channel, link: r.link, text: r.text,
                             status: 'QUEUED', attempts: 0, created_at: $now,
                             expires_at: r.expires_at})
    CREATE (q)-[:NOTIFIED_BY]->(m)
    RETURN q.id AS id
    """,
    {"assessment_id": "A1", "now": T, "max_guarantors": 2, "audit_id": "E1", "actor": "k",
     "requests": [{"id": "R1", "guarantor_id": "C2", "channel": "SMS", "token_hash": "h",
                   "handle": "cand_1", "expires_at": T, "message_id": "M1",
                   "link": "https://x/t", "text": "t"}]},
    write=True,
)  # fmt: skip

# The outbox keeps a message's link (it carries the one-time token) only until the message is
# finished: every outcome below removes the link and the text, whatever the sender.
MARK_OUTBOX = _q(
    "mark_outbox",
    """
    MATCH (m:OutboxMessage {id: $id})
    SET m._lock = true REMOVE m._lock
    WITH m WHERE m.status = 'SENDING' AND m.claimed_by = $worker AND m.claimed_at = $claimed_at
    SET m.status = $status, m.attempts = coalesce(m.attempts, 0) + $attempts,
        m.detail = $detail, m.sent_at = $now, m.lease_until = null, m.link = null,
        m.text = null
    RETURN m.id AS id
    """,
    {"id": "M1", "worker": "w1", "claimed_at": T, "status": "DELIVERED", "attempts": 1,
     "detail": "", "now": T},
    write=True,
)  # fmt: skip

# Compare-and-set, on both engines: a step that must win once sets and removes a dummy property
# before it reads its condition. On Neo4j that write takes the node's exclusive lock, so a
# concurrent attempt waits and then reads the committed status; a plain `MATCH ... WHERE
# status = ... SET` is not atomic there (tests/graph/test_compare_and_set.py: 24 of 24
# simultaneous attempts won without it). FalkorDB runs writes one at a time anyway.
# A dispatcher claims a message before sending it, so two replicas never send it twice; the
# claim is a lease: a message left SENDING by a process that died is claimable again once
# `lease_until` has passed (MARK_OUTBOX then only accepts the newest claim's outcome).
CLAIM_OUTBOX = _q(
    "claim_outbox",
    """
    MATCH (m:OutboxMessage {id: $id})
    SET m._lock = true REMOVE m._lock
    WITH m WHERE m.expires_at > $now
              AND (m.status = 'QUEUED'
                   OR (m.status = 'SENDING' AND coalesce(m.lease_until, 0) <= $now))
    SET m.status = 'SENDING', m.claimed_by = $worker, m.claimed_at = $now,
        m.lease_until = $lease_until, m.claims = coalesce(m.claims, 0) + 1
    RETURN properties(m) AS message
    """,
    {"id": "M1", "worker": "w1", "now": T, "lease_until": T + 60_000},
    write=True,
)

# A message whose link expired before it was sent is finished without a send (attempts
# unchanged, link removed); the same claimable condition as CLAIM_OUTBOX.
EXPIRE_OUTBOX = _q(
    "expire_outbox",
    """
    MATCH (m:OutboxMessage {id: $id})
    SET m._lock = true REMOVE m._lock
    WITH m WHERE m.expires_at <= $now
              AND (m.status = 'QUEUED'
                   OR (m.status = 'SENDING' AND coalesce(m.lease_until, 0) <= $now))
    SET m.status = 'FAILED', m.attempts = coalesce(m.attempts, 0),
        m.detail = 'link expired before delivery', m.sent_at = $now, m.lease_until = null,
        m.link = null, m.text = null
    RETURN m.channel AS channel
    """,
    {"id": "M1", "now": T},
    write=True,
)

# What a dispatcher may claim (or expire) now, oldest first: ids only, never the link.
QUEUED_OUTBOX = _q(
    "queued_outbox",
    """
    MATCH (m:OutboxMessage)
    WHERE m.status = 'QUEUED' OR (m.status = 'SENDING' AND coalesce(m.lease_until, 0) <= $now)
    RETURN m.id AS id, m.channel AS channel, m.expires_at AS expires_at
    ORDER BY m.created_at
    LIMIT $limit
    """,
    {"now": T, "limit": 100},
)

# For operators: every field but the link (its token) and the text.
LIST_OUTBOX = _q(
    "list_outbox",
    """
    MATCH (m:OutboxMessage)
    WITH m ORDER BY m.created_at DESC LIMIT $limit
    RETURN {id: m.id, request_id: m.request_id, guarantor_id: m.guarantor_id,
            channel: m.channel, status: m.status, attempts: m.attempts, detail: m.detail,
            created_at: m.created_at, expires_at: m.expires_at, sent_at: m.sent_at,
            claimed_by: m.claimed_by, claimed_at: m.claimed_at, lease_until: m.lease_until,
            claims: m.claims} AS message
    """,
    {"limit": 100},
)  # fmt: skip

# Compare-and-set: only a PENDING, unexpired request whose token hash matches moves on.
RESPOND_ASSIST = _q(
    "respond_assist",
    """
    MATCH (q:AssistRequest {id: $id})
    SET q._lock = true REMOVE q._lock
    WITH q WHERE q.status = 'PENDING' AND q.token_hash = $token_hash AND q.expires_at > $now
      AND q.guarantor_id = $guarantor_id
    SET q.status = $status, q.responded_at = $now, q.verification = $verification,
        q.consent_categories = $consent_categories, q.responded_by = $actor
    CREATE (:AuditEvent {id: $audit_id, ts: $now, actor: $actor, action: 'RESPOND_ASSIST',
                         subject_id: q.guarantor_id, categories: $consent_categories,
                         consent_ids: ['assist:' + q.id], reference: q.id})
    RETURN properties(q) AS request
    """,
    {"id": "R1", "token_hash": "h", "now": T, "status": "CONFIRMED", "verification": "{}",
     "consent_categories": ["credit"], "guarantor_id": "C2", "actor": "mb-1",
     "audit_id": "E1"},
    write=True,
)  # fmt: skip

# A wrong token or guarantor counts against the request; after `$max_failures` it is LOCKED
# (compare-and-set, so concurrent guesses cannot slip past the count).
FAIL_ASSIST_TOKEN = _q(
    "fail_assist_token",
    """
    MATCH (q:AssistRequest {id: $id})
    SET q._lock = true REMOVE q._lock
    WITH q WHERE q.status = 'PENDING'
    WITH q, coalesce(q.token_failures, 0) + 1 AS failures
    SET q.token_failures = failures,
        q.status = CASE WHEN failures >= $max_failures THEN 'LOCKED' ELSE q.status END
    CREATE (:AuditEvent {id: $audit_id, ts: $now, actor: $actor, action: 'RESPOND_REJECTED',
                         subject_id: q.guarantor_id, categories: [], consent_ids: [],
                         reference: q.id})
    RETURN q.status AS status, q.token_failures AS failures
    """,
    {"id": "R1", "max_failures": 3, "audit_id": "E1", "actor": "mb-1", "now": T},
    write=True,
)

GET_ASSIST_REQUEST = _q(
    "get_assist_request",
    """
    MATCH (q:AssistRequest {id: $id})
    OPTIONAL MATCH (a:Assessment)-[:ASKED]->(q)
    OPTIONAL MATCH (c:Customer {id: a.customer_id})
    RETURN properties(q) AS request, a.business AS business, a.customer_id AS applicant_id,
           c.name AS applicant_name, a.candidate_view AS candidate_view
    """,
    {"id": "R1"},
)

EXPIRE_ASSIST = _q(
    "expire_assist",
    """
    MATCH (q:AssistRequest {id: $id})
    SET q._lock = true REMOVE q._lock
    WITH q WHERE q.status = 'PENDING' AND q.expires_at <= $now
    SET q.status = 'EXPIRED'
    RETURN q.id AS id
    """,
    {"id": "R1", "now": T},
    write=True,
)

# The decision, its audit record, and a PENDING vouch per confirmed guarantor of an allowed
# business, in one statement; MERGE on the assessment makes a repeated `decide` return the
# first decision and add nothing.
CREATE_DECISION = _q(
    "create_decision",
    """
    MATCH (a:Assessment {id: $assessment_id})
    SET a._lock = true REMOVE a._lock
    WITH a
    MATCH (c:Customer {id: $customer_id})
    OPTIONAL MATCH (g:Customer)
    WHERE g.id IN $vouch_ids
    WITH a, c, collect(g) AS vouchers
    MERGE (a)-[:DECIDED]->(d:Decision {assessment_id: $assessment_id})
    ON CREATE SET d.id = $id, d.customer_id = a.customer_id, d.business = a.business,
                  d.outcome = $outcome, d.score = $score, d.threshold = $threshold,
                  d.items = $items, d.reasons = $reasons, d.guarantor_ids = $guarantor_ids,
                  d.policy_version = $policy_version, d.model_version = $model_version,
                  d.created_at = $now, d.owner_key = a.owner_key,
                  d.guarantor_handles = $guarantor_handles
    FOREACH (x IN vouchers |
        MERGE (x)-[v:VOUCHED_FOR {id: d.id + ':' + x.id}]->(c)
        ON CREATE SET v.business = d.business, v.ts = d.created_at, v.outcome = 'PENDING')
    CREATE (e:AuditEvent {id: $audit_id, ts: $now, actor: $actor, action: 'DECIDE',
                          subject_id: a.customer_id, categories: $categories,
                          consent_ids: $consent_ids, reference: d.id})
    FOREACH (r IN $guarantor_reads |
        CREATE (:AuditEvent {id: $audit_id + ':' + r.guarantor_id, ts: $now, actor: $actor,
                             action: 'READ_GUARANTOR', subject_id: r.guarantor_id,
                             categories: r.categories, consent_ids: [r.consent],
                             reference: d.id}))
    FOREACH (sid IN $model_reads |
        CREATE (:AuditEvent {id: $audit_id + ':model:' + sid, ts: $now, actor: $actor,
                             action: 'GRAPH_MODEL_READ', subject_id: sid,
                             categories: ['graph_model'], consent_ids: [], reference: d.id}))
    RETURN properties(d) AS decision
    """,
    {"assessment_id": "A1", "customer_id": "C1", "id": "D1", "outcome": "ALLOW", "score": 10.0,
     "threshold": 60.0,
     "items": "[]", "reasons": [], "guarantor_ids": ["C2"], "vouch_ids": ["C2"],
     "policy_version": "v1", "model_version": None, "now": T, "audit_id": "E1",
     "actor": "kiosk-1", "categories": ["credit"], "consent_ids": ["K1"],
     "guarantor_reads": [{"guarantor_id": "C2", "categories": ["credit"],
                          "consent": "assist:R1"}],
     "guarantor_handles": ["cand_1"], "model_reads": ["C1", "C2"]},
    write=True,
)  # fmt: skip

GET_DECISION = _q(
    "get_decision",
    "MATCH (d:Decision {id: $id}) RETURN properties(d) AS decision",
    {"id": "D1"},
)

# Step 9's aftermath: the outcome becomes the guarantors' vouching history and a label. Once
# per decision (compare-and-set): no row when an outcome is already recorded.
RECORD_OUTCOME = _q(
    "record_outcome",
    """
    MATCH (d:Decision {id: $id})
    SET d._lock = true REMOVE d._lock
    WITH d WHERE d.reported_outcome IS NULL
    SET d.reported_outcome = $outcome, d.reported_at = $now, d.reported_by = $actor
    CREATE (:AuditEvent {id: $audit_id, ts: $now, actor: $actor, action: 'RECORD_OUTCOME',
                         subject_id: d.customer_id, categories: [], consent_ids: [],
                         reference: d.id})
    WITH d
    OPTIONAL MATCH (:Customer)-[v:VOUCHED_FOR]->(:Customer {id: d.customer_id})
    WHERE v.id STARTS WITH (d.id + ':')
    WITH d, collect(v) AS vouches
    FOREACH (x IN vouches | SET x.outcome = $outcome, x.outcome_ts = $now)
    RETURN properties(d) AS decision, size(vouches) AS vouches
    """,
    {"id": "D1", "outcome": "FRAUD_REPORTED", "now": T, "actor": "analyst-1",
     "audit_id": "E1"},
    write=True,
)  # fmt: skip

AUDIT_READ = _q(
    "audit_read",
    """
    CREATE (e:AuditEvent {id: $id, ts: $now, actor: $actor, action: $action,
                          subject_id: $subject_id, categories: $categories,
                          consent_ids: $consent_ids, reference: $reference})
    RETURN e.id AS id
    """,
    {"id": "E1", "now": T, "actor": "analyst-1", "action": "READ_CUSTOMER",
     "subject_id": "C1", "categories": ["basic_info"], "consent_ids": [], "reference": None},
    write=True,
)  # fmt: skip

AUDIT_READS = _q(
    "audit_reads",
    """
    UNWIND $events AS r
    CREATE (e:AuditEvent {id: r.id, ts: $now, actor: $actor, action: $action,
                          subject_id: r.subject_id, categories: $categories,
                          consent_ids: [], reference: null})
    RETURN count(e) AS events
    """,
    {"events": [{"id": "E1", "subject_id": "C1"}], "now": T, "actor": "analyst-1",
     "action": "READ_CUSTOMER", "categories": ["basic_info"]},
    write=True,
)  # fmt: skip

# An analyst's risk summary of customers (batched per request by a DataLoader).
CUSTOMER_SUMMARIES = _q(
    "customer_summaries",
    """
    UNWIND $ids AS id
    MATCH (c:Customer {id: id})
    OPTIONAL MATCH (c)-[r:KIN|SOCIAL]-(:Customer)
    WITH c, count(r) AS relations
    OPTIONAL MATCH (c)-[:WAS_REJECTED]->(j:Rejection)
    WITH c, relations, count(j) AS rejections
    OPTIONAL MATCH (c)-[g:VOUCHED_FOR]->(:Customer)
    WITH c, relations, rejections, count(g) AS given,
         sum(CASE WHEN g.outcome IN ['FRAUD_REPORTED', 'DEFAULTED'] THEN 1 ELSE 0 END) AS bad_g
    OPTIONAL MATCH (c)<-[v:VOUCHED_FOR]-(:Customer)
    WITH c, relations, rejections, given, bad_g, count(v) AS received,
         sum(CASE WHEN v.outcome IN ['FRAUD_REPORTED', 'DEFAULTED'] THEN 1 ELSE 0 END) AS bad_r
    OPTIONAL MATCH (c)-[:BLACKLISTED_AS]->(b:BlacklistEntry)
    WITH c, relations, rejections, given, received, bad_g + bad_r AS bad, count(b) AS entries
    RETURN c.id AS id, c.name AS name, c.status AS status, c.credit_grade AS credit_grade,
           c.graph_risk AS graph_risk, c.graph_band AS graph_band, c.graph_model AS graph_model,
           entries > 0 AS blacklisted, relations, rejections,
           given AS vouches_given, received AS vouches_received, bad AS bad_vouch_outcomes
    """,
    {"ids": ["C1"]},
)

AUDIT_TRAIL = _q(
    "audit_trail",
    """
    MATCH (e:AuditEvent)
    WHERE e.subject_id = $subject_id
    RETURN properties(e) AS event
    ORDER BY e.ts
    LIMIT $limit
    """,
    {"subject_id": "C1", "limit": 100},
)

# --- API keys (only a hash is kept) ---------------------------------------------------------

CREATE_API_KEY = _q(
    "create_api_key",
    """
    CREATE (k:ApiKey {id: $id, name: $name, role: $role, hash: $hash, created_at: $now,
                      revoked: false})
    RETURN k.id AS id
    """,
    {"id": "K1", "name": "kiosk-1", "role": "kiosk", "hash": "h", "now": T},
    write=True,
)

API_KEY_BY_HASH = _q(
    "api_key_by_hash",
    """
    MATCH (k:ApiKey {hash: $hash})
    WHERE k.revoked = false
    RETURN k.id AS id, k.name AS name, k.role AS role
    """,
    {"hash": "h"},
)

LIST_API_KEYS = _q(
    "list_api_keys",
    """
    MATCH (k:ApiKey)
    RETURN k.id AS id, k.name AS name, k.role AS role, k.created_at AS created_at,
           k.revoked AS revoked, k.revoked_at AS revoked_at
    ORDER BY k.created_at, k.id
    """,
)

REVOKE_API_KEY = _q(
    "revoke_api_key",
    """
    MATCH (k:ApiKey {id: $id})
    SET k.revoked = true, k.revoked_at = coalesce(k.revoked_at, $now)
    RETURN k.id AS id
    """,
    {"id": "K1", "now": T},
    write=True,
)

# Whole-graph dumps, for comparing two small graphs (tests) and exporting small ones.
ALL_NODES = _q("all_nodes", "MATCH (n) RETURN labels(n) AS labels, properties(n) AS props")
ALL_RELATIONSHIPS = _q(
    "all_relationships",
    """
    MATCH (a)-[r]->(b)
    RETURN type(r) AS type, properties(r) AS props,
           coalesce(a.id, a.number, a.name) AS src, coalesce(b.id, b.number, b.name) AS dst
    """,
)

# Neo4j has no GRAPH.DELETE: remove everything in bounded chunks.
# Neo4j counts a transaction's memory: relationships go first, in chunks, so that deleting a
# hub's nodes never holds all its relationships in one transaction.
DELETE_RELATIONSHIP_CHUNK = _q(
    "delete_relationship_chunk",
    "MATCH ()-[r]->() WITH r LIMIT $limit DELETE r RETURN count(*) AS deleted",
    {"limit": 5000},
    write=True,
)
DELETE_CHUNK = _q(
    "delete_chunk",
    "MATCH (n) WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS deleted",
    {"limit": 10000},
    write=True,
)

# --- the graph model (ml/): features and relations, time-aware -------------------------
# Every read takes $as_of (epoch ms): a fact stamped after it is not seen, so a model evaluated
# at time t sees only what was known before t. A fact without a time counts as always known.
# Reads go by batches of customer ids (UNWIND), so the whole-graph export and the online
# neighbourhood fetch share them; $fanout caps each customer's list per relation and direction
# (a hub cannot make an online read unbounded; the export passes a cap above any degree).

CUSTOMER_IDS_PAGE = _q(
    "customer_ids_after",
    """
    MATCH (c:Customer) WHERE c.id > $after
    RETURN c.id AS id ORDER BY id LIMIT $limit
    """,
    {"after": "", "limit": 100000},
)

# A customer's own properties the model reads (credit and movement only once known).
_MODEL_PROPERTIES = """c.birth_date AS birth_date, c.opened_at AS opened_at, c.status AS status,
           CASE WHEN coalesce(c.credit_as_of, 0) <= $as_of THEN c.credit_grade END
             AS credit_grade,
           CASE WHEN coalesce(c.credit_as_of, 0) <= $as_of THEN c.credit_score END
             AS credit_score,
           CASE WHEN coalesce(c.movement_as_of, 0) <= $as_of
             THEN [c.out_count_180d, c.out_total_180d, c.in_count_180d, c.in_total_180d,
                   c.max_out_180d, c.counterparties_180d, c.out_count_30d, c.out_total_30d]
           END AS movement,
           c.fraud_label AS label, c.fraud_kind AS label_kind, c.label_ts AS label_ts"""

MODEL_CUSTOMER_FEATURES = _q(
    "model_customer_features",
    f"""
    UNWIND $ids AS id
    MATCH (c:Customer {{id: id}})
    OPTIONAL MATCH (c)-[:WAS_REJECTED]->(j:Rejection) WHERE j.ts <= $as_of
    WITH id, c, count(j) AS rejections
    OPTIONAL MATCH (c)-[:BLACKLISTED_AS]->(b:BlacklistEntry)
    WHERE coalesce(b.listed_at, 0) <= $as_of
    WITH id, c, rejections, count(b) AS blacklisted
    OPTIONAL MATCH (c)-[a:HAS_ATTRIBUTE]->(t:Attribute) WHERE coalesce(a.as_of, 0) <= $as_of
    RETURN id, {_MODEL_PROPERTIES},
           rejections, blacklisted, collect([t.name, a.value]) AS attributes
    """,
    {"ids": ["C1"], "as_of": T},
)

# Customer-to-customer relations: (relationship type, the time a fact counts from, the
# properties read). Amounts and outcomes stamped after $as_of are withheld by ml/export.py.
MODEL_RELATION_TYPES: dict[str, tuple[str, str, str]] = {
    "kin": ("KIN", "coalesce(r.since, 0)", ""),
    "social": ("SOCIAL", "coalesce(r.since, 0)", ""),
    "transferred": ("TRANSFERRED", "r.first_ts", ", r.count, r.total, r.max_amount, r.last_ts"),
    "vouched": ("VOUCHED_FOR", "r.ts", ", r.outcome, r.outcome_ts"),
    "rated": ("RATED", "r.ts", ", r.score"),
}


def _model_relation(name: str, outgoing: bool, capped: bool) -> str:
    rel, since, props = MODEL_RELATION_TYPES[name]
    pattern = f"-[r:{rel}]->" if outgoing else f"<-[r:{rel}]-"
    if capped:  # online: at most $fanout neighbours per customer
        tail = f"WITH id, collect([n.id{props}])[..$fanout] AS rows UNWIND rows AS row"
        tail += f" RETURN id, '{name}' AS relation, {str(outgoing).lower()} AS outgoing, row"
    else:  # the export: every relationship once (read from its start)
        tail = f"RETURN id, [n.id{props}] AS row"
    return f"""
        UNWIND $ids AS id
        MATCH (c:Customer {{id: id}}){pattern}(n:Customer)
        WHERE {since} <= $as_of
        {tail}
        """


MODEL_RELATIONS_EXPORT: dict[str, Query] = {
    name: _q(f"model_{name}_out", _model_relation(name, True, False), {"ids": ["C1"], "as_of": T})
    for name in MODEL_RELATION_TYPES
}
# The whole-graph export reads customers' own properties by batch and the rarer facts (and
# phones' and devices' facts) in one pass each: the same values `MODEL_CUSTOMER_FEATURES` and
# `MODEL_NEIGHBOURS` give a few customers at a time.
MODEL_CUSTOMER_PROPERTIES = _q(
    "model_customer_properties",
    f"""
    UNWIND $ids AS id
    MATCH (c:Customer {{id: id}})
    RETURN id, {_MODEL_PROPERTIES}
    """,
    {"ids": ["C1"], "as_of": T},
)
MODEL_ALL_REJECTIONS = _q(
    "model_all_rejections",
    """
    MATCH (c:Customer)-[:WAS_REJECTED]->(j:Rejection) WHERE j.ts <= $as_of
    RETURN c.id AS id, count(j) AS rejections
    """,
    {"as_of": T},
)
MODEL_ALL_BLACKLISTED = _q(
    "model_all_blacklisted",
    """
    MATCH (c:Customer)-[:BLACKLISTED_AS]->(b:BlacklistEntry)
    WHERE coalesce(b.listed_at, 0) <= $as_of
    RETURN c.id AS id, count(b) AS blacklisted
    """,
    {"as_of": T},
)
MODEL_ALL_ATTRIBUTES = _q(
    "model_all_attributes",
    """
    MATCH (c:Customer)-[a:HAS_ATTRIBUTE]->(t:Attribute) WHERE coalesce(a.as_of, 0) <= $as_of
    RETURN c.id AS id, collect([t.name, a.value]) AS attributes
    """,
    {"as_of": T},
)
MODEL_PHONE_LINKS = _q(
    "model_phone_links",
    """
    UNWIND $ids AS id
    MATCH (c:Customer {id: id})-[u:USES_PHONE]->(p:Phone)
    WHERE coalesce(u.since, 0) <= $as_of
    RETURN id, p.number AS key,
           CASE WHEN p.abnormal AND coalesce(p.abnormal_listed_at, 0) <= $as_of
                THEN 1 ELSE 0 END AS abnormal
    """,
    {"ids": ["C1"], "as_of": T},
)
MODEL_DEVICE_LINKS = _q(
    "model_device_links",
    """
    UNWIND $ids AS id
    MATCH (c:Customer {id: id})-[u:USES_DEVICE]->(d:Device)
    WHERE coalesce(u.first_seen, 0) <= $as_of
    RETURN id, d.id AS key
    """,
    {"ids": ["C1"], "as_of": T},
)
MODEL_ALL_ABNORMAL_CONTACTS = _q(
    "model_all_abnormal_contacts",
    """
    MATCH (q:Phone) WHERE q.abnormal = true AND coalesce(q.abnormal_listed_at, 0) <= $as_of
    MATCH (q)-[k:CONTACTED]-(p:Phone) WHERE k.first_ts <= $as_of
    RETURN p.number AS key, count(k) AS abnormal_contacts
    """,
    {"as_of": T},
)
MODEL_ALL_ABNORMAL_APPS = _q(
    "model_all_abnormal_apps",
    """
    MATCH (a:App) WHERE a.abnormal = true AND coalesce(a.abnormal_listed_at, 0) <= $as_of
    MATCH (d:Device)-[h:HAS_APP]->(a) WHERE coalesce(h.installed_at, 0) <= $as_of
    RETURN d.id AS key, count(a) AS abnormal_apps
    """,
    {"as_of": T},
)

# A customer's phones and devices with what the model reads about each, and (at most
# $fanout of) the other customers using them. A phone is keyed by its number: personal data,
# kept in memory as a key, never written or logged.
_MODEL_PHONES = """
    UNWIND $ids AS id
    MATCH (c:Customer {id: id})-[u:USES_PHONE]->(p:Phone)
    WHERE coalesce(u.since, 0) <= $as_of
    OPTIONAL MATCH (p)-[k:CONTACTED]-(q:Phone)
    WHERE q.abnormal = true AND coalesce(q.abnormal_listed_at, 0) <= $as_of
      AND k.first_ts <= $as_of
    WITH id, p, count(k) AS abnormal_contacts
    OPTIONAL MATCH (p)<-[v:USES_PHONE]-(o:Customer) WHERE coalesce(v.since, 0) <= $as_of
    WITH id, p, abnormal_contacts, count(o) AS users, collect(o.id)[..$fanout] AS user_ids
    RETURN id, 'uses_phone' AS relation, true AS outgoing,
           [p.number,
            CASE WHEN p.abnormal AND coalesce(p.abnormal_listed_at, 0) <= $as_of
                 THEN 1 ELSE 0 END,
            abnormal_contacts, users, user_ids] AS row
"""
_MODEL_DEVICES = """
    UNWIND $ids AS id
    MATCH (c:Customer {id: id})-[u:USES_DEVICE]->(d:Device)
    WHERE coalesce(u.first_seen, 0) <= $as_of
    OPTIONAL MATCH (d)-[h:HAS_APP]->(a:App)
    WHERE a.abnormal = true AND coalesce(a.abnormal_listed_at, 0) <= $as_of
      AND coalesce(h.installed_at, 0) <= $as_of
    WITH id, d, count(a) AS abnormal_apps
    OPTIONAL MATCH (d)<-[v:USES_DEVICE]-(o:Customer) WHERE coalesce(v.first_seen, 0) <= $as_of
    WITH id, d, abnormal_apps, count(o) AS users, collect(o.id)[..$fanout] AS user_ids
    RETURN id, 'uses_device' AS relation, true AS outgoing,
           [d.id, abnormal_apps, users, user_ids] AS row
"""
# Online, one statement reads every relation both ways, phones and devices: one round trip
# per hop.
MODEL_NEIGHBOURS = _q(
    "model_neighbours",
    " UNION ALL ".join(
        [
            *(
                _model_relation(name, outgoing, True)
                for name in MODEL_RELATION_TYPES
                for outgoing in (True, False)
            ),
            _MODEL_PHONES,
            _MODEL_DEVICES,
        ]
    ),
    {"ids": ["C1"], "as_of": T, "fanout": 25},
)

# Batch scoring writes each customer's score, band and model version back.
SET_GRAPH_RISK = _q(
    "set_graph_risk",
    """
    UNWIND $rows AS r
    MATCH (c:Customer {id: r.id})
    SET c.graph_risk = r.risk, c.graph_band = r.band, c.graph_model = $model,
        c.graph_scored_at = $now
    """,
    {"rows": [{"id": "C1", "risk": 0.1, "band": "LOW"}], "model": "m1", "now": T},
    write=True,
)
# The highest batch scores first (analysts' worklist; tests read scores back with it).
SCORED_CUSTOMERS = _q(
    "scored_customers",
    """
    MATCH (c:Customer) WHERE c.graph_risk IS NOT NULL
    RETURN c.id AS id, c.graph_risk AS risk, c.graph_band AS band, c.graph_model AS model,
           c.graph_scored_at AS scored_at
    ORDER BY risk DESC LIMIT $limit
    """,
    {"limit": 100},
)
LATEST_FACT_TIME = _q(
    "latest_fact_time",
    """
    MATCH (c:Customer)
    RETURN max(c.label_ts) AS labels, max(c.movement_as_of) AS movement,
           max(c.opened_at) AS opened
    """,
)


# --- the analyst workbench: exploration and cases ----------------------------------------------
# Times are epoch ms; `$since` / `$until` may be null (no bound). A tie without a time is kept.
# Transfers are per-pair aggregates: one is kept when its [first_ts, last_ts] meets the range.


def _in_range(t: str) -> str:
    return (
        f"(($since IS NULL OR {t} IS NULL OR {t} >= $since) "
        f"AND ($until IS NULL OR {t} IS NULL OR {t} <= $until))"
    )


_TRANSFER_IN_RANGE = (
    "(($since IS NULL OR r.last_ts IS NULL OR r.last_ts >= $since) "
    "AND ($until IS NULL OR r.first_ts IS NULL OR r.first_ts <= $until))"
)
_OUT = "sum(CASE WHEN startNode(r) = c THEN 1 ELSE 0 END)"
_IN = "sum(CASE WHEN startNode(r) = c THEN 0 ELSE 1 END)"
# Per workbench relation type: (pattern from c to n, time filter, aggregates over one neighbour
# as kinds, at, amount, count, outgoing, incoming). Shared phones and devices name nothing of
# the phone or device: only how many are shared and when the other customer's use began.
WORKBENCH_TIES: dict[str, tuple[str, str, str]] = {
    "KIN": (
        "-[r:KIN]-(n:Customer)",
        _in_range("r.since"),
        f"collect(DISTINCT r.kind) AS kinds, max(r.since) AS at, null AS amount, "
        f"count(r) AS count, {_OUT} AS outgoing, {_IN} AS incoming",
    ),
    "SOCIAL": (
        "-[r:SOCIAL]-(n:Customer)",
        _in_range("r.since"),
        f"collect(DISTINCT r.kind) AS kinds, max(r.since) AS at, null AS amount, "
        f"count(r) AS count, {_OUT} AS outgoing, {_IN} AS incoming",
    ),
    "TRANSFER": (
        "-[r:TRANSFERRED]-(n:Customer)",
        _TRANSFER_IN_RANGE,
        f"[] AS kinds, max(r.last_ts) AS at, sum(r.total) AS amount, sum(r.count) AS count, "
        f"{_OUT} AS outgoing, {_IN} AS incoming",
    ),
    "VOUCH": (
        "-[r:VOUCHED_FOR]-(n:Customer)",
        _in_range("r.ts"),
        f"collect(DISTINCT r.business) AS kinds, max(r.ts) AS at, null AS amount, "
        f"count(r) AS count, {_OUT} AS outgoing, {_IN} AS incoming",
    ),
    "SHARED_PHONE": (
        "-[:USES_PHONE]->(p:Phone)<-[w:USES_PHONE]-(n:Customer)",
        _in_range("w.since"),
        "[] AS kinds, max(w.since) AS at, null AS amount, count(DISTINCT p) AS count, "
        "0 AS outgoing, 0 AS incoming",
    ),
    "SHARED_DEVICE": (
        "-[:USES_DEVICE]->(d:Device)<-[w:USES_DEVICE]-(n:Customer)",
        _in_range("w.first_seen"),
        "[] AS kinds, max(w.first_seen) AS at, null AS amount, count(DISTINCT d) AS count, "
        "0 AS outgoing, 0 AS incoming",
    ),
}
_RANGE = {"since": T - 365 * 86_400_000, "until": T}

# True counts of distinct neighbours per type, counted by the store (nothing is fetched): one
# row per type for a known customer, none for an unknown one.
WB_NEIGHBOUR_COUNTS = _q(
    "wb_neighbour_counts",
    " UNION ALL ".join(
        f"MATCH (c:Customer {{id: $id}}) OPTIONAL MATCH (c){pattern} WHERE n <> c AND {where} "
        f"RETURN '{name}' AS type, count(DISTINCT n) AS total"
        for name, (pattern, where, _agg) in WORKBENCH_TIES.items()
    ),
    {"id": "C1", **_RANGE},
)
# One page of neighbours: each type's slice ordered by neighbour id (stable across pages), the
# slices chosen by the caller from the counts (`$skip_<type>`, `$limit_<type>`; 0 reads none).
WB_NEIGHBOUR_PAGE = _q(
    "wb_neighbour_page",
    " UNION ALL ".join(
        f"""
        MATCH (c:Customer {{id: $id}}){pattern}
        WHERE $limit_{name.lower()} > 0 AND n <> c AND {where}
        WITH n.id AS id, {agg}
        ORDER BY id SKIP $skip_{name.lower()} LIMIT $limit_{name.lower()}
        RETURN '{name}' AS type, id, kinds, at, amount, count, outgoing, incoming
        """
        for name, (pattern, where, agg) in WORKBENCH_TIES.items()
    ),
    {
        "id": "C1",
        **{f"skip_{name.lower()}": 0 for name in WORKBENCH_TIES},
        **{f"limit_{name.lower()}": 20 for name in WORKBENCH_TIES},
        **_RANGE,
    },
)


def _ties_of_many() -> str:
    return " UNION ALL ".join(
        f"""
        UNWIND $ids AS id
        MATCH (c:Customer {{id: id}}){pattern}
        WHERE '{name}' IN $types AND n <> c AND {where}
              AND ($within IS NULL OR n.id IN $within)
        WITH id, n.id AS other, {agg}
        ORDER BY other
        WITH id, collect([other, amount, count])[..$fanout] AS rows
        UNWIND rows AS row
        RETURN id, '{name}' AS type, row[0] AS other, row[1] AS amount, row[2] AS count
        """
        for name, (pattern, where, agg) in WORKBENCH_TIES.items()
    )


# One breadth-first step (a path search, a ring search): at most $fanout ties of each customer
# per type, of the `$types` asked; `$within` keeps only ties inside a set of customers (the
# last read of a ring search: every tie among its customers).
WB_TIES = _q(
    "wb_ties",
    _ties_of_many(),
    {"ids": ["C1"], "types": list(WORKBENCH_TIES), "fanout": 50, "within": None, **_RANGE},
)

# What the workbench shows of customers: masked later (the name never leaves the service).
WB_NODES = _q(
    "wb_nodes",
    """
    UNWIND $ids AS id
    MATCH (c:Customer {id: id})
    OPTIONAL MATCH (c)<-[v:VOUCHED_FOR]-(:Customer) WHERE v.outcome = $fraud
    WITH c, count(v) AS reported
    RETURN c.id AS id, c.name AS name, c.status AS status, c.opened_at AS opened_at,
           c.graph_risk AS graph_risk, c.graph_band AS graph_band, c.graph_model AS graph_model,
           coalesce(c.fraud_label, 0) = 1 OR reported > 0 AS known_fraud
    """,
    {"ids": ["C1"], "fraud": "FRAUD_REPORTED"},
)
WB_SEARCH = _q(
    "wb_search",
    """
    MATCH (c:Customer) WHERE c.id STARTS WITH $prefix
    RETURN c.id AS id ORDER BY id LIMIT $limit
    """,
    {"prefix": "C", "limit": 10},
)
WB_VOUCHES = _q(
    "wb_vouches",
    """
    MATCH (c:Customer {id: $id})-[v:VOUCHED_FOR]-(:Customer)
    RETURN startNode(v).id AS voucher_id, endNode(v).id AS vouchee_id, v.id AS id,
           v.business AS business, v.ts AS ts, v.outcome AS outcome
    ORDER BY ts DESC, id LIMIT $limit
    """,
    {"id": "C1", "limit": 100},
)
WB_CUSTOMER_CASES = _q(
    "wb_customer_cases",
    """
    MATCH (c:Customer {id: $id})-[:REQUESTED]->(a:Assessment)
    OPTIONAL MATCH (a)-[:DECIDED]->(d:Decision)
    WITH a, d ORDER BY a.created_at DESC, a.id LIMIT $limit
    RETURN properties(a) AS assessment, properties(d) AS decision
    """,
    {"id": "C1", "limit": 50},
)

# --- the alert feed: what a scan reads, and the Alert nodes ---

WB_SCAN_HIGH_RISK = _q(
    "wb_scan_high_risk",
    """
    MATCH (c:Customer) WHERE c.graph_risk >= $threshold
    RETURN c.id AS customer_id, c.graph_risk AS risk, c.graph_model AS model
    ORDER BY risk DESC, customer_id LIMIT $limit
    """,
    {"threshold": 0.8, "limit": 500},
)
WB_SCAN_FRAUD_VOUCHES = _q(
    "wb_scan_fraud_vouches",
    """
    MATCH (g:Customer)-[v:VOUCHED_FOR]->(c:Customer) WHERE v.outcome = $fraud
    RETURN v.id AS vouch_id, g.id AS guarantor_id, c.id AS customer_id,
           v.business AS business, v.outcome_ts AS at
    ORDER BY at DESC, vouch_id LIMIT $limit
    """,
    {"fraud": "FRAUD_REPORTED", "limit": 500},
)
# Refusals with a hard reason: at assessment, and at decision.
WB_SCAN_HARD_REFUSALS = _q(
    "wb_scan_hard_refusals",
    """
    MATCH (c:Customer)-[:REQUESTED]->(a:Assessment)
    WHERE a.outcome = $refused AND any(x IN a.reasons WHERE x STARTS WITH $prefix)
    WITH a.id AS subject, c.id AS customer_id, a.reasons AS reasons, a.business AS business,
         a.created_at AS at
    ORDER BY at DESC, subject LIMIT $limit
    RETURN subject, customer_id, reasons, business, at
    UNION ALL
    MATCH (c:Customer)-[:REQUESTED]->(:Assessment)-[:DECIDED]->(d:Decision)
    WHERE d.outcome = $refuse AND any(x IN d.reasons WHERE x STARTS WITH $prefix)
    WITH d.id AS subject, c.id AS customer_id, d.reasons AS reasons, d.business AS business,
         d.created_at AS at
    ORDER BY at DESC, subject LIMIT $limit
    RETURN subject, customer_id, reasons, business, at
    """,
    {"refused": "REFUSED", "refuse": "REFUSE", "prefix": "HARD_", "limit": 500},
)
WB_FRAUD_SEEDS = _q(
    "wb_fraud_seeds",
    """
    MATCH (c:Customer) WHERE c.fraud_label = 1
    RETURN c.id AS id, coalesce(c.label_ts, 0) AS at
    ORDER BY at DESC, id LIMIT $limit
    """,
    {"limit": 50},
)
# One alert per (kind, subject): the id is derived from both, so a scan run twice (or by two
# replicas at once) makes each alert once. `created` counts those this scan made.
WB_MERGE_ALERTS = _q(
    "wb_merge_alerts",
    """
    UNWIND $rows AS r
    MERGE (a:Alert {id: r.id})
    ON CREATE SET a.kind = r.kind, a.subject = r.subject, a.customer_id = r.customer_id,
                  a.decision_id = r.decision_id, a.summary = r.summary,
                  a.evidence = r.evidence, a.state = $open, a.created_at = $now,
                  a.updated_at = $now, a.notes = [], a.scan = $scan
    RETURN sum(CASE WHEN a.scan = $scan THEN 1 ELSE 0 END) AS created
    """,
    {"rows": [{"id": "alr_1", "kind": "HIGH_GRAPH_RISK", "subject": "C1", "customer_id": "C1",
               "decision_id": None, "summary": "s", "evidence": "{}"}],
     "open": "OPEN", "now": T, "scan": "scan_1"},
    write=True,
)  # fmt: skip
WB_ALERTS = _q(
    "wb_alerts",
    """
    MATCH (a:Alert) WHERE $state IS NULL OR a.state = $state
    WITH a ORDER BY a.created_at DESC, a.id SKIP $offset LIMIT $limit
    RETURN properties(a) AS alert
    """,
    {"state": "OPEN", "offset": 0, "limit": 50},
)
WB_ALERT_TOTAL = _q(
    "wb_alert_total",
    "MATCH (a:Alert) WHERE $state IS NULL OR a.state = $state RETURN count(a) AS total",
    {"state": "OPEN"},
)
WB_GET_ALERT = _q(
    "wb_get_alert",
    "MATCH (a:Alert {id: $id}) RETURN properties(a) AS alert",
    {"id": "alr_1"},
)
# Compare-and-set under the alert's lock: no row when the alert is closed (or absent).
WB_UPDATE_ALERT = _q(
    "wb_update_alert",
    """
    MATCH (a:Alert {id: $id})
    SET a._lock = true REMOVE a._lock
    WITH a WHERE a.state <> $closed
    SET a.state = coalesce($state, a.state), a.assignee = coalesce($assignee, a.assignee),
        a.notes = CASE WHEN $note IS NULL THEN a.notes ELSE coalesce(a.notes, []) + [$note] END,
        a.updated_at = $now
    CREATE (:AuditEvent {id: $audit_id, ts: $now, actor: $actor, action: 'UPDATE_ALERT',
                         subject_id: a.customer_id, categories: [], consent_ids: [],
                         reference: a.id})
    RETURN properties(a) AS alert
    """,
    {"id": "alr_1", "state": "IN_PROGRESS", "assignee": "analyst-1", "note": "{}",
     "closed": "CLOSED", "now": T, "actor": "analyst-1", "audit_id": "E1"},
    write=True,
)  # fmt: skip
# Closing wins once. FRAUD_CONFIRMED labels the customer (as the ETL's SET_LABELS does) and, for
# an alert about an allowed decision with no outcome yet, records FRAUD_REPORTED on it and its
# vouches (as RECORD_OUTCOME does).
WB_CLOSE_ALERT = _q(
    "wb_close_alert",
    """
    MATCH (a:Alert {id: $id})
    SET a._lock = true REMOVE a._lock
    WITH a WHERE a.state <> $closed
    SET a.state = $closed, a.outcome = $outcome, a.notes = coalesce(a.notes, []) + [$note],
        a.updated_at = $now, a.closed_at = $now, a.closed_by = $actor
    CREATE (:AuditEvent {id: $audit_id, ts: $now, actor: $actor, action: 'CLOSE_ALERT',
                         subject_id: a.customer_id, categories: [], consent_ids: [],
                         reference: a.id})
    WITH a
    OPTIONAL MATCH (c:Customer {id: a.customer_id})
    FOREACH (x IN CASE WHEN $confirmed AND c IS NOT NULL THEN [c] ELSE [] END |
             SET x.fraud_label = 1, x.fraud_kind = $label_kind, x.label_ts = $now)
    WITH a
    OPTIONAL MATCH (d:Decision {id: a.decision_id})
    WHERE $confirmed AND d.outcome = $allow AND d.reported_outcome IS NULL
    FOREACH (x IN CASE WHEN d IS NULL THEN [] ELSE [d] END |
             SET x.reported_outcome = $fraud, x.reported_at = $now, x.reported_by = $actor)
    WITH a, d
    OPTIONAL MATCH (:Customer)-[v:VOUCHED_FOR]->(:Customer {id: a.customer_id})
    WHERE d IS NOT NULL AND v.id STARTS WITH (d.id + ':')
    WITH a, d, collect(v) AS vouches
    FOREACH (x IN vouches | SET x.outcome = $fraud, x.outcome_ts = $now)
    RETURN properties(a) AS alert, d IS NOT NULL AS reported
    """,
    {"id": "alr_1", "outcome": "FRAUD_CONFIRMED", "note": "{}", "closed": "CLOSED",
     "now": T, "actor": "analyst-1", "audit_id": "E1", "confirmed": True,
     "label_kind": "fraud", "allow": "ALLOW", "fraud": "FRAUD_REPORTED"},
    write=True,
)  # fmt: skip


BY_NAME: dict[str, Query] = {q.name: q for q in ALL}
