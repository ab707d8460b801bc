"""Query depth and cost limits: validation rules that refuse documents asking for too much.

Depth counts every field, introspection included, with fragments expanded: the schema itself is
shallow (at most 5 levels), so the limit sits just above what GraphiQL's own introspection
query needs (15). Cost: each field costs 1; a field with a `first` argument multiplies the cost
of what it selects by that number. Aliases and tokens are limited by Strawberry's extensions.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
)

MAX_COST = 1000
MAX_DEPTH = 16
DEFAULT_FIRST = 10


def _first(field: FieldNode, variables: dict[str, Any]) -> int | None:
    for arg in field.arguments or ():
        if arg.name.value != "first":
            continue
        if isinstance(arg.value, IntValueNode):
            return int(arg.value.value)
        if isinstance(arg.value, VariableNode):
            value = variables.get(arg.value.name.value)
            return int(value) if isinstance(value, int) else DEFAULT_FIRST
    return None


def selection_cost(
    selection_set: SelectionSetNode | None,
    fragments: dict[str, FragmentDefinitionNode],
    variables: dict[str, Any],
    seen: frozenset[str] = frozenset(),
) -> int:
    """The cost of a selection set (fragment cycles are the validator's to report)."""
    if selection_set is None:
        return 0
    total = 0
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            inner = selection_cost(node.selection_set, fragments, variables, seen)
            first = _first(node, variables)
            total += 1 + inner * (first if first is not None else 1)
        elif isinstance(node, InlineFragmentNode):
            total += selection_cost(node.selection_set, fragments, variables, seen)
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            if name in fragments and name not in seen:
                total += selection_cost(
                    fragments[name].selection_set, fragments, variables, seen | {name}
                )
    return total


def selection_depth(selection_set: SelectionSetNode | None,
                    fragments: dict[str, FragmentDefinitionNode],
                    seen: frozenset[str] = frozenset()) -> int:  # fmt: skip
    """How many fields deep a selection set goes."""
    if selection_set is None:
        return 0
    deepest = 0
    for node in selection_set.selections:
        if isinstance(node, FieldNode):
            deepest = max(deepest, 1 + selection_depth(node.selection_set, fragments, seen))
        elif isinstance(node, InlineFragmentNode):
            deepest = max(deepest, selection_depth(node.selection_set, fragments, seen))
        elif isinstance(node, FragmentSpreadNode):
            name = node.name.value
            if name in fragments and name not in seen:
                deepest = max(deepest, selection_depth(fragments[name].selection_set, fragments,
                                                       seen | {name}))  # fmt: skip
    return deepest


class CostLimitRule(ValidationRule):
    """Refuses an operation deeper than MAX_DEPTH or costlier than MAX_COST (typed codes)."""

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        document = self.context.document
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        depth = selection_depth(node.selection_set, fragments)
        if depth > MAX_DEPTH:
            self.report_error(GraphQLError(
                f"query depth {depth} is above the limit of {MAX_DEPTH}", node,
                extensions={"code": "DEPTH_LIMIT_EXCEEDED"},
            ))  # fmt: skip
        cost = selection_cost(node.selection_set, fragments, {})
        if cost > MAX_COST:
            self.report_error(
                GraphQLError(
                    f"query cost {cost} is above the limit of {MAX_COST}",
                    node,
                    extensions={"code": "COST_LIMIT_EXCEEDED"},
                )
            )
