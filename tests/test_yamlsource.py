"""The fast YAML path (values built from parser events) gives exactly what the node-tree path
gives: the same values and the same line for every path, on real packs and on YAML's corners."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from igengine.policy import yamlsource
from igengine.policy.yamlsource import YamlProblem, load_with_lines

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
import packgen  # noqa: E402


def node_path(text: str) -> tuple[Any, dict[Any, int]]:
    """The reference: compose the whole node tree, then convert it."""
    loader = yamlsource._Loader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Any, int] = {}
        data = yamlsource._convert(loader, node, (), lines) if node is not None else None
        return data, lines
    finally:
        loader.dispose()


def test_shipped_and_generated_packs_load_the_same_both_ways(tmp_path: Path) -> None:
    generated = packgen.write_pack(tmp_path, 300)
    files = [*sorted((ROOT / "policies").rglob("*.yaml")), *sorted(generated.rglob("*.yaml"))]
    assert len(files) > 5
    for path in files:
        text = path.read_text()
        assert load_with_lines(text) == node_path(text), path


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a: 1\nb: [1, 2.5, yes, no, null, ~, '3', 2026-01-01, -7, +3]\n",
        "a: |\n  block text\n  second line\nb: >\n  folded\n",
        "a: !!str 5\nb: !!int '6'\nc: ''\nd:\n",
        "- 1\n- - nested\n  - list\n- {k: v, 'q': \"x\"}\n",
        "x: &shared {k: 1}\ny: *shared\n",  # anchors and aliases take the node-tree path
        "rules:\n  - id: one\n    when:\n      objection: true\n  - id: two\n",
    ],
)
def test_yaml_corners_load_the_same_both_ways(text: str) -> None:
    assert load_with_lines(text) == node_path(text)


@pytest.mark.parametrize("depth", [0, 1, 2, 3])
def test_a_depth_limit_maps_the_shallow_lines_alike_and_keeps_every_value(
    tmp_path: Path, depth: int
) -> None:
    generated = packgen.write_pack(tmp_path, 150)
    for path in [*sorted((ROOT / "policies").rglob("*.yaml")), *generated.rglob("*.yaml")]:
        text = path.read_text()
        full_data, full_lines = load_with_lines(text)
        data, lines = load_with_lines(text, depth=depth)
        assert data == full_data, path
        shallow = {p: line for p, line in full_lines.items() if len(p) <= depth}
        assert lines == shallow, path


def test_duplicate_key_and_second_document_name_their_line() -> None:
    with pytest.raises(YamlProblem, match="appears twice") as dup:
        load_with_lines("a: 1\nb:\n  c: 2\n  c: 3\n")
    assert dup.value.line == 4
    with pytest.raises(YamlProblem, match="second document") as second:
        load_with_lines("a: 1\n---\nb: 2\n")
    assert second.value.line == 2


def test_a_complex_key_is_a_problem_with_its_line_not_a_crash() -> None:
    with pytest.raises(YamlProblem, match="plain name") as problem:
        load_with_lines("a: 1\n? [complex, key]\n: 1\n")
    assert problem.value.line == 2
