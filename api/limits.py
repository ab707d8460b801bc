"""Query depth, cost and alias limits, measured in one linear pass before standard validation.

graphql-core's own rules (OverlappingFieldsCanBeMerged above all) are super-linear in the size
of a document once its fragments are expanded, so a 1 KB document whose fragments each spread
the next one twice would keep a worker busy for minutes. Here every fragment is measured once
(memoised, in dependency order, cycles refused rather than followed), and a document over a
limit is refused before those rules ever see it.

Depth counts every field, introspection included, with fragments expanded: the schema itself is
shallow (at most 5 levels), so the limit sits just above what GraphiQL's own introspection
query needs (15). Cost: each field costs 1; a field with a `first` argument multiplies the cost
of what it selects by that number, the variable's actual value when it is a variable. Fields:
every field as expanded, whatever `first` says; the overlap rule compares fields sharing a
response name pairwise, so this caps its work near MAX_FIELDS squared (GraphiQL's own
introspection query expands to about 220). Repeats: how often one response name is selected
in one selection set, fragments expanded; the same rule compares those pairwise, so a field
written 300 times in a row is refused though it fits the other limits. Aliases count every
aliased field as expanded.
Every definition in the document is measured, used or not, since the validator walks them all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    VariableNode,
)
from strawberry.extensions import SchemaExtension

from api.prepared import PREPARED

MAX_COST = 1000
MAX_DEPTH = 16
MAX_ALIASES = 20
MAX_FIELDS = 300
MAX_REPEATS = 10
MAX_FIRST = 100
DEFAULT_FIRST = 10
# Figures stop growing here: a document's cost is only ever compared with MAX_COST.
_CAP = 10**9


@dataclass(frozen=True)
class Measure:
    """How deep a selection goes, what it costs, how many fields and aliases it holds, and
    the most often one response name is selected in one of its selection sets (expanded)."""

    depth: int = 0
    cost: int = 0
    aliases: int = 0
    fields: int = 0
    repeats: tuple[int, str] = (0, "")
    names: Counter[str] = field(default_factory=Counter)  # response names at the top level


class _Refusal(Exception):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def _spreads(selection_set: SelectionSetNode | None) -> Iterator[str]:
    """The fragment names a selection set spreads, inline fragments and sub-fields included."""
    stack = [selection_set] if selection_set is not None else []
    while stack:
        for node in stack.pop().selections:
            if isinstance(node, FragmentSpreadNode):
                yield node.name.value
            elif isinstance(node, FieldNode | InlineFragmentNode) and node.selection_set:
                stack.append(node.selection_set)


def _fragment_order(fragments: Mapping[str, FragmentDefinitionNode]) -> list[str]:
    """Fragment names, each after every fragment it spreads; a cycle is refused (iterative, so
    a long chain of fragments cannot exhaust the stack)."""
    spreads = {
        name: list(dict.fromkeys(_spreads(f.selection_set))) for name, f in fragments.items()
    }
    order: list[str] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    for root in fragments:
        if state.get(root):
            continue
        state[root] = 1
        path: list[tuple[str, Iterator[str]]] = [(root, iter(spreads[root]))]
        while path:
            name, pending = path[-1]
            child = next(pending, None)
            if child is None:
                path.pop()
                state[name] = 2
                order.append(name)
            elif child not in fragments or state.get(child) == 2:
                continue  # an unknown fragment is the validator's to report
            elif state.get(child) == 1:
                raise _Refusal(f"fragment {child!r} spreads itself", "FRAGMENT_CYCLE")
            else:
                state[child] = 1
                path.append((child, iter(spreads[child])))
    return order


class _Meter:
    """Measures selection sets with the request's variables, fragments looked up once each."""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        self.variables = variables
        self.fragments: dict[str, Measure] = {}

    def first(self, field: FieldNode) -> int | None:
        for arg in field.arguments or ():
            if arg.name.value != "first":
                continue
            value: Any = None
            if isinstance(arg.value, IntValueNode):
                value = int(arg.value.value)
            elif isinstance(arg.value, VariableNode):
                value = self.variables.get(arg.value.name.value)
            if not isinstance(value, int) or isinstance(value, bool):
                return DEFAULT_FIRST  # null or not a number: coercion reports what is wrong
            where = f"argument `first` of `{field.name.value}`"
            if value < 1:
                raise _Refusal(f"{where} must be at least 1, not {value}", "BAD_USER_INPUT")
            if value > MAX_FIRST:
                raise _Refusal(
                    f"{where} is {value}, above the maximum of {MAX_FIRST}", "COST_LIMIT_EXCEEDED"
                )
            return value
        return None

    def measure(self, selection_set: SelectionSetNode | None) -> Measure:
        # Recursion follows the document's own nesting only (the parser caps it at 200).
        if selection_set is None:
            return Measure()
        depth = cost = aliases = fields = 0
        names: Counter[str] = Counter()
        repeats = (0, "")
        for node in selection_set.selections:
            if isinstance(node, FieldNode):
                inner = self.measure(node.selection_set)
                times = self.first(node) or 1
                depth = max(depth, 1 + inner.depth)
                cost += 1 + inner.cost * times
                aliases += inner.aliases + (node.alias is not None)
                fields += 1 + inner.fields
                names[(node.alias or node.name).value] += 1
            else:
                if isinstance(node, InlineFragmentNode):
                    inner = self.measure(node.selection_set)
                elif isinstance(node, FragmentSpreadNode):
                    inner = self.fragments.get(node.name.value, Measure())
                else:  # no other kind of selection exists
                    continue
                depth, cost = max(depth, inner.depth), cost + inner.cost
                aliases, fields = aliases + inner.aliases, fields + inner.fields
                names.update(inner.names)
            repeats = max(repeats, inner.repeats)
            cost, aliases, fields = min(cost, _CAP), min(aliases, _CAP), min(fields, _CAP)
        if names:
            name, count = names.most_common(1)[0]
            repeats = max(repeats, (count, name))
        return Measure(depth, cost, aliases, fields, repeats, names)


def _variables(document: DocumentNode, given: Mapping[str, Any] | None) -> dict[str, Any]:
    """The request's variables over the operations' declared defaults."""
    values: dict[str, Any] = {}
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            for var in definition.variable_definitions or ():
                default = var.default_value
                if isinstance(default, IntValueNode):
                    values.setdefault(var.variable.name.value, int(default.value))
    values.update(given or {})
    return values


def measure_document(document: DocumentNode, variables: Mapping[str, Any] | None) -> Measure:
    """The largest depth, cost and alias count of any definition in `document` (raises
    _Refusal for a fragment cycle or a `first` out of range)."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    meter = _Meter(_variables(document, variables))
    worst = Measure()
    for name in _fragment_order(fragments):
        meter.fragments[name] = meter.measure(fragments[name].selection_set)
    measures = list(meter.fragments.values())
    measures += [
        meter.measure(d.selection_set)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    ]
    for m in measures:
        worst = Measure(
            max(worst.depth, m.depth),
            max(worst.cost, m.cost),
            max(worst.aliases, m.aliases),
            max(worst.fields, m.fields),
            max(worst.repeats, m.repeats),
        )
    return worst


def limit_errors(document: DocumentNode, variables: Mapping[str, Any] | None) -> list[GraphQLError]:
    """Why `document` is refused (typed codes), or [] when it is within every limit."""
    try:
        worst = measure_document(document, variables)
    except _Refusal as refusal:
        return [GraphQLError(str(refusal), extensions={"code": refusal.code})]
    errors = []
    if worst.depth > MAX_DEPTH:
        message = f"query depth {worst.depth} is above the limit of {MAX_DEPTH}"
        errors.append(GraphQLError(message, extensions={"code": "DEPTH_LIMIT_EXCEEDED"}))
    if worst.cost > MAX_COST:
        cost = f"{worst.cost}" if worst.cost < _CAP else f"over {_CAP}"
        message = f"query cost {cost} is above the limit of {MAX_COST}"
        errors.append(GraphQLError(message, extensions={"code": "COST_LIMIT_EXCEEDED"}))
    elif worst.fields > MAX_FIELDS:  # the cost counts each field at least once
        fields = f"{worst.fields}" if worst.fields < _CAP else f"over {_CAP}"
        message = f"query selects {fields} fields, fragments expanded: the limit is {MAX_FIELDS}"
        errors.append(GraphQLError(message, extensions={"code": "COST_LIMIT_EXCEEDED"}))
    elif worst.repeats[0] > MAX_REPEATS:
        count, name = worst.repeats
        count_text = f"{count}" if count < _CAP else f"over {_CAP}"
        message = f"`{name}` is selected {count_text} times in one selection set: the limit is {MAX_REPEATS}"  # noqa: E501
        errors.append(GraphQLError(message, extensions={"code": "COST_LIMIT_EXCEEDED"}))
    if worst.aliases > MAX_ALIASES:
        message = f"{worst.aliases} aliases is above the limit of {MAX_ALIASES}"
        errors.append(GraphQLError(message, extensions={"code": "ALIAS_LIMIT_EXCEEDED"}))
    return errors


class QueryLimits(SchemaExtension):
    """Refuses a document over a limit before the standard validation rules run (it must come
    before any extension that validates in its own on_validate, such as a validation cache)."""

    def on_validate(self) -> Iterator[None]:
        ctx = self.execution_context
        if ctx.graphql_document is not None and ctx.pre_execution_errors is None:
            prepared = PREPARED.get()
            if prepared is not None and prepared.matches(ctx.query, ctx.variables):
                errors = [e for e in prepared.errors if (e.extensions or {}).get("code")]
            else:
                errors = limit_errors(ctx.graphql_document, ctx.variables)
            if errors:
                ctx.pre_execution_errors = errors  # the standard rules are then skipped
        yield
