"""The shared vocabulary: each word once, with the strings that sit in files and the graph."""

from __future__ import annotations

import ast
from pathlib import Path

from graph import vocab

ROOT = Path(__file__).resolve().parents[2]


def test_members_are_the_stored_strings() -> None:
    assert vocab.Channel.SMS == "SMS"
    assert vocab.ConsentCategory.BASIC_INFO == "basic_info"
    assert vocab.AccountStatus.CLOSED == "closed"
    assert f"{vocab.IdCheck.CHIP_MISMATCH}" == "CHIP_MISMATCH"


def test_names_gives_plain_strings_in_order() -> None:
    grades = vocab.names(vocab.CREDIT_GRADES)
    assert grades == ("AAA", "AA", "A", "BBB", "BB", "B", "C", "D")
    assert all(type(g) is str for g in grades)


def test_kin_and_social_kinds_split_every_relation_kind_once() -> None:
    assert set(vocab.KIN_KINDS) | set(vocab.SOCIAL_KINDS) == set(vocab.RelationKind)
    assert not set(vocab.KIN_KINDS) & set(vocab.SOCIAL_KINDS)


def test_a_day_is_86_400_000_ms_and_a_year_is_gregorian() -> None:
    assert vocab.DAY_MS == 86_400_000
    assert vocab.DAYS_PER_YEAR == 365.2425


def test_graph_vocab_imports_nothing_of_ours() -> None:
    tree = ast.parse((ROOT / "graph" / "vocab.py").read_text(encoding="utf-8"))
    imported = {
        (node.module or "").split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
    } | {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert not imported & {"graph", "etl", "ml", "risk", "notify", "api", "cli"}
