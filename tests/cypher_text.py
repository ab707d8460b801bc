"""What the tests read from a query's text."""

from __future__ import annotations

import re

from graph import queries as q


def returned_names(query: q.Query) -> list[str]:
    """The names a query's last RETURN gives its columns (`expr AS name`, or a bare name)."""
    clause = query.text[query.text.rindex("RETURN ") + len("RETURN ") :]
    clause = re.split(r"\b(?:ORDER BY|LIMIT|SKIP)\b", clause)[0]
    parts, depth, current = [], 0, ""
    for char in clause:
        depth += char in "([{"
        depth -= char in ")]}"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    names = []
    for part in parts:
        alias = re.search(r"\bAS\s+(\w+)\s*$", part.strip())
        names.append(alias.group(1) if alias else part.strip().split(".")[-1])
    return names


CLAUSE = re.compile(
    r"\b(?:WITH|CREATE|MATCH|OPTIONAL|RETURN|FOREACH|MERGE|REMOVE|WHERE|UNWIND|ON)\b"
)


def written(query: q.Query, var: str, label: str) -> set[str]:
    """The properties a query gives the node: the keys of a created or merged
    `(var:Label {...})` and every `var.name = ...` of a SET clause (not of a WHERE)."""
    names: set[str] = set()
    for created in re.finditer(
        rf"\b(?:CREATE|MERGE)\s+(?:\(\w*\)-\[[^\]]*\]->)?\({var}:{label}\s*\{{(.*?)\}}\)",
        query.text,
        re.S,
    ):
        names |= {key.split(":")[0].strip() for key in created.group(1).split(",")}
    for clause in re.split(r"\bSET\b", query.text)[1:]:
        assignments = CLAUSE.split(clause)[0]
        names |= set(re.findall(rf"\b{var}\.(\w+)\s*=", assignments))
    return names
