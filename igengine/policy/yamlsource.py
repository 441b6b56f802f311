"""YAML with the line of every value remembered, so errors can point at file:line."""

from __future__ import annotations

from typing import Any

import yaml

Path = tuple[str | int, ...]

_STR = "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
# First characters after which YAML 1.1 could read a plain scalar as something other than a
# string (bool, null, number, date, merge key); anything else is a string, without the regexes.
_MAYBE_TYPED = set("yYnNtTfFoO~0123456789+-.<=")


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """PyYAML's safe loader with a fast path for the plain strings that fill a policy pack."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0] and value and value[0] not in _MAYBE_TYPED:
            return _STR
        return super().resolve(kind, value, implicit)


class YamlProblem(Exception):
    def __init__(self, line: int, message: str) -> None:
        self.line = line
        super().__init__(message)


def load_with_lines(text: str) -> tuple[Any, dict[Path, int]]:
    """Parse one YAML document; return the data and a map from each value's path to its line.

    Raises YamlProblem (with the line) for syntax errors and duplicate keys, which plain
    PyYAML would accept silently by keeping the last value.
    """
    # The C parser (when PyYAML has libyaml) composes large packs several times faster.
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        lines: dict[Path, int] = {}
        data = _convert(loader, node, (), lines) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlProblem(line, f"not valid YAML: {exc.problem or exc}") from None
    finally:
        loader.dispose()
    return data, lines


def _convert(loader: Any, node: yaml.Node, path: Path, lines: dict[Path, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if key_node.tag == _STR else loader.construct_object(key_node)
            if key in result:
                raise YamlProblem(
                    key_node.start_mark.line + 1,
                    f"'{key}' appears twice in the same block; keep one",
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _convert(loader, value_node, (*path, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(loader, item, (*path, index), lines) for index, item in enumerate(node.value)
        ]
    if node.tag == _STR:
        return node.value
    return loader.construct_object(node, deep=True)


def line_of(lines: dict[Path, int], path: Path) -> int:
    """The line of the longest known prefix of `path` (a missing field points at its parent)."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1
