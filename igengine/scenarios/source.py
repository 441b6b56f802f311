""".feature files into runnable cases, with the file and line of every scenario and step.

Parsing is done by the official Gherkin parser (the one pytest-bdd uses), compiled to
"pickles": one case per Scenario, and one per Examples row of a Scenario Outline, with the
row's values already substituted and And/But steps given the kind of the step before them.
Problems (a file that is not valid Gherkin, a malformed table) are collected for every file,
each with its line and a hint, rather than stopping at the first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from gherkin.errors import CompositeParserException, ParserError, ParserException
from gherkin.parser import Parser
from gherkin.pickles.compiler import Compiler, GherkinDocumentWithURI, Pickle

from igengine.scenarios.phrases import StepKind

_KINDS = {"Context": StepKind.GIVEN, "Action": StepKind.WHEN, "Outcome": StepKind.THEN}


@dataclass(frozen=True)
class Problem:
    """Something wrong with a feature file or a step, where it is and what to do."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class Step:
    kind: StepKind | None  # None: a leading And/But/* with no Given, When or Then before it
    keyword: str
    text: str
    line: int
    table: list[list[str]] | None


@dataclass(frozen=True)
class Case:
    """One runnable scenario (an outline gives one case per Examples row)."""

    file: str
    feature: str
    name: str
    line: int
    tags: tuple[str, ...]
    steps: tuple[Step, ...]


def load_features(path: Path) -> tuple[list[Case], list[Problem]]:
    """Every case in a .feature file, or in every .feature file under a directory."""
    files = [path] if path.is_file() else sorted(path.rglob("*.feature"))
    if not files:
        return [], [Problem(str(path), 0, "no .feature files found here")]
    cases: list[Case] = []
    problems: list[Problem] = []
    for file in files:
        found, trouble = _load_file(file, _display(file, path))
        cases += found
        problems += trouble
    return cases, problems


def _display(file: Path, root: Path) -> str:
    if root.is_file():
        return str(root)
    return (Path(root.name) / file.relative_to(root)).as_posix()


def _load_file(file: Path, display: str) -> tuple[list[Case], list[Problem]]:
    try:
        document: Any = Parser().parse(file.read_text(encoding="utf-8"))
    except CompositeParserException as exc:
        return [], [_parser_problem(display, error) for error in exc.errors]
    except ParserError as exc:  # a single error the parser did not wrap
        return [], [Problem(display, _line_of(exc), _hint(str(exc)))]
    document["uri"] = display
    pickles = Compiler().compile(cast(GherkinDocumentWithURI, document))
    nodes = dict(_nodes(document))
    feature = str(document.get("feature", {}).get("name", ""))
    return [_case(pickle, nodes, display, feature) for pickle in pickles], []


def _parser_problem(display: str, error: ParserException) -> Problem:
    return Problem(display, _line_of(error), _hint(str(error)))


def _line_of(error: ParserError) -> int:
    location = getattr(error, "location", None) or {}
    return int(location.get("line", 0))


def _hint(message: str) -> str:
    """The parser's message without its (line:column) prefix, with what to do about it."""
    text = message.split("): ", 1)[1] if message.startswith("(") and "): " in message else message
    if "inconsistent cell count" in text:
        return (
            f"{text}: every row of a table needs the same number of cells, each between "
            "| bars, e.g. | risk of serious harm | true |"
        )
    if "got '" in text:
        return (
            f"{text}: each step line must start with Given, When, Then, And or But, and each "
            "scenario with 'Scenario:' or 'Scenario Outline:'"
        )
    return text


def _nodes(value: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every AST node with an id (steps, scenarios, table rows), keyed by that id."""
    if isinstance(value, dict):
        if "id" in value and "location" in value:
            yield str(value["id"]), value
        for child in value.values():
            yield from _nodes(child)
    elif isinstance(value, list):
        for item in value:
            yield from _nodes(item)


def _case(pickle: Pickle, nodes: dict[str, dict[str, Any]], display: str, feature: str) -> Case:
    name = pickle["name"]
    row_ids = pickle["astNodeIds"][1:]
    if row_ids and "<" not in _scenario_name(nodes, pickle):
        # An outline whose title names no column: tell its examples apart by their values.
        values = [cell["value"] for cell in nodes[row_ids[-1]].get("cells", [])]
        name = f"{name} [{', '.join(values)}]"
    return Case(
        file=display,
        feature=feature,
        name=name,
        line=int(pickle["location"]["line"]),
        tags=tuple(tag["name"] for tag in pickle["tags"]),
        steps=tuple(_step(step, nodes) for step in pickle["steps"]),
    )


def _scenario_name(nodes: dict[str, dict[str, Any]], pickle: Pickle) -> str:
    return str(nodes[pickle["astNodeIds"][0]].get("name", ""))


def _step(step: Any, nodes: dict[str, dict[str, Any]]) -> Step:
    node = nodes[step["astNodeIds"][0]]
    table = None
    argument = step.get("argument", {})
    if "dataTable" in argument:
        table = [[cell["value"] for cell in row["cells"]] for row in argument["dataTable"]["rows"]]
    return Step(
        kind=_KINDS.get(step["type"]),
        keyword=str(node.get("keyword", "")).strip(),
        text=step["text"],
        line=int(node["location"]["line"]),
        table=table,
    )
