"""The documents a newcomer reads stay true to the code."""

from __future__ import annotations

import re
from pathlib import Path

from cli.main import build_parser
from etl.sources import SOURCES

ROOT = Path(__file__).resolve().parent.parent


def test_data_format_documents_every_source_and_column() -> None:
    text = (ROOT / "docs" / "data-format.md").read_text()
    for source in SOURCES:
        section = text.split(f"### `{source.name}`", 1)
        assert len(section) == 2, source.name
        body = section[1].split("### ", 1)[0]
        for field in source.fields:
            assert f"| `{field.name}` | {field.kind} |" in body, (source.name, field.name)


def test_graph_model_documents_every_label_and_relationship_type_the_queries_use() -> None:
    from graph import queries as q

    text = (ROOT / "docs" / "graph-model.md").read_text()
    names: set[str] = set()
    for query in q.ALL:
        for group in re.findall(r"\[\w*:([A-Z_|]+)", query.text):
            names.update(group.split("|"))
        names.update(re.findall(r"\(\w*:([A-Z]\w+)", query.text))
    assert "VOUCHED_FOR" in names and "Customer" in names
    for name in sorted(names):
        assert f"`{name}`" in text, name


def test_readme_lists_every_cli_command_and_the_two_make_targets() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in commands:
        assert f"vouchgraph {name}" in readme, name


def test_docker_and_the_pom_pin_the_neo4j_version_the_tests_run() -> None:
    from graph.neo4j_local import NEO4J_VERSION

    pom = (ROOT / "graph" / "neo4j-pom.xml").read_text()
    assert f"<neo4j.version>{NEO4J_VERSION}</neo4j.version>" in pom
    assert (ROOT / "tools" / "neo4j" / "pom.xml").read_text() == pom
    compose = (ROOT / "docker" / "compose.yaml").read_text()
    assert f"image: neo4j:{NEO4J_VERSION}-community" in compose


def test_the_threat_model_names_only_tests_that_exist() -> None:
    """docs/security.md maps each attack to the tests that attack it: each must exist."""
    text = (ROOT / "docs" / "security.md").read_text()
    named = 0
    for cell in re.findall(r"`(tests/[\w/]+\.py)((?:::\w+)?)`((?:, `::\w+`)*)", text):
        path, first, more = cell
        source = (ROOT / path).read_text()
        for test in [first, *re.findall(r"::\w+", more)]:
            if test:
                named += 1
                assert f"def {test[2:]}(" in source, f"{path}{test}"
    assert named >= 20
