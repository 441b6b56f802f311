"""YAML with the line of every value remembered, so errors can point at file:line."""

from __future__ import annotations

from collections.abc import Callable
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


def load_with_lines(text: str, depth: int | None = None) -> tuple[Any, dict[Path, int]]:
    """Parse one YAML document; return the data and a map from each value's path to its line.
    With `depth`, only paths of at most that many steps are mapped: building a path and a map
    entry for every value was a third of the parsing time of a large pack, and most lines are
    only ever needed to word a problem (see load.SourceFile).

    Raises YamlProblem (with the line) for syntax errors and duplicate keys, which plain
    PyYAML would accept silently by keeping the last value.
    """
    # The C parser (when PyYAML has libyaml) is several times faster on large packs. Values are
    # built straight from its events, which is about twice as fast as composing a node tree
    # first; the rare file with anchors, aliases or complex keys takes the node-tree path.
    loader: Any = None
    try:
        loader = _Loader(text)
        lines: dict[Path, int] = {}
        try:
            data = _document(loader, lines, _UNLIMITED if depth is None else depth)
        except _NeedsNodes:
            loader.dispose()
            loader = _Loader(text)
            node = loader.get_single_node()
            lines = {}
            data = _convert(loader, node, (), lines) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlProblem(line, plain_yaml_problem(exc)) from None
    except yaml.reader.ReaderError as exc:
        raise _unreadable(text, exc) from None
    except RecursionError:
        raise YamlProblem(1, "not valid YAML: values are nested too deeply") from None
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines


# What PyYAML's parsers (libyaml's words first, then the pure-Python ones) say, and the same in
# words an IG officer can act on. Each is the usual slip behind that message in a hand-written
# pack file; the first that matches is used.
_PLAIN: list[tuple[str, str]] = [
    (
        "expected '-' indicator",
        "this line does not line up with the list it is in: start each `- ` item of one list "
        "in the same column",
    ),
    (
        "expected key",
        "this line does not line up with the lines above it: fields of one entry start in the "
        "same column, and each is written `name: value`",
    ),
    (
        "expected <block end>",
        "this line does not line up with the lines above it: fields of one entry start in the "
        "same column, and each is written `name: value`",
    ),
    (
        "mapping values are not allowed",
        "a ': ' appears where YAML cannot take one: put the text in quotes if it contains "
        "': ', or check that `name:` starts its own line",
    ),
    (
        "expected ',' or ']'",
        "a list written in [ ] is not closed or is missing a comma: write it as [a, b, c]",
    ),
    (
        "expected ',' or '}'",
        "a mapping written in { } is not closed or is missing a comma: write it as {a: 1, b: 2}",
    ),
    ("tab", "a tab is used to indent: YAML indents with spaces only"),
    (
        "cannot start any token",
        "a value starts with a character YAML reserves (such as a tab, @ "
        "or `): indent with spaces, and put a value starting with @ or ` in quotes",
    ),
    (
        "unexpected end of stream",
        "a quote opened here is never closed: end the text with the same quote mark",
    ),
    ("undefined alias", "`*name` refers to an anchor `&name` that is not defined above it"),
]


def plain_yaml_problem(exc: yaml.MarkedYAMLError) -> str:
    """The parser's complaint as a sentence saying what to change, ending with its own words
    for anyone who knows YAML."""
    said = str(exc.problem or exc)
    scanning = str(exc.context or "")
    for clue, sentence in _PLAIN:
        if clue in said or clue in scanning:
            return f"not valid YAML: {sentence} (the YAML reader said: {said})"
    return f"not valid YAML: the YAML reader stopped here: {said}; check the indentation and quotes"


def _unreadable(text: str, exc: yaml.reader.ReaderError) -> YamlProblem:
    """A character YAML does not allow (a control character), at its line."""
    line = text.count("\n", 0, exc.position) + 1
    code = exc.character if isinstance(exc.character, int) else ord(exc.character)
    return YamlProblem(
        line,
        f"not valid YAML: {exc.reason} (character U+{code:04X} here); remove it",
    )


class _NeedsNodes(Exception):
    """The document uses anchors, aliases or complex keys: build it from the node tree."""


_UNLIMITED = 1 << 30


def _document(loader: Any, lines: dict[Path, int], depth: int) -> Any:
    next_event = loader.get_event
    next_event()  # stream start
    event = next_event()
    if type(event) is yaml.StreamEndEvent:
        return None
    root = next_event()
    lines[()] = _line(root)
    data = _value(loader, next_event, root, (), lines, depth)
    next_event()  # document end
    extra = next_event()
    if type(extra) is not yaml.StreamEndEvent:
        raise YamlProblem(
            _line(extra),
            "not valid YAML: a second document starts here; keep one document per file",
        )
    return data


def _value(
    loader: Any,
    next_event: Callable[[], Any],
    event: Any,
    path: Path,
    lines: dict[Path, int],
    depth: int,
) -> Any:
    # Runs once per value of a pack (hundreds of thousands for a large one): one parser call
    # per event, and type tests by identity. Below `depth` steps, no paths are built.
    kind = type(event)
    if kind is yaml.AliasEvent or event.anchor is not None:
        raise _NeedsNodes
    if kind is yaml.ScalarEvent:
        return _scalar(loader, event)
    mapped = depth > 0
    if kind is yaml.SequenceStartEvent:
        items: list[Any] = []
        while type(item := next_event()) is not yaml.SequenceEndEvent:
            child = (*path, len(items)) if mapped else path
            if mapped:
                lines[child] = _line(item)
            items.append(_value(loader, next_event, item, child, lines, depth - 1))
        return items
    result: dict[Any, Any] = {}
    while type(key_event := next_event()) is not yaml.MappingEndEvent:
        if type(key_event) is not yaml.ScalarEvent or key_event.anchor is not None:
            raise _NeedsNodes
        key = _scalar(loader, key_event)
        if key in result:
            raise _twice(key, key_event)
        child = (*path, key) if mapped else path
        if mapped:
            lines[child] = _line(key_event)
        result[key] = _value(loader, next_event, next_event(), child, lines, depth - 1)
    return result


def _scalar(loader: Any, event: Any) -> Any:
    tag, value = event.tag, event.value
    if tag is None or tag == "!":
        if not event.implicit[0] or (value and value[0] not in _MAYBE_TYPED):
            return value  # quoted, block, or plain text that cannot be anything but a string
        tag = loader.resolve(yaml.ScalarNode, value, event.implicit)
    if tag == _STR:
        return value
    node = yaml.ScalarNode(tag, value, event.start_mark, event.end_mark, event.style)
    return _construct(loader, node)


def _construct(loader: Any, node: yaml.Node) -> Any:
    """A typed scalar (date, number, ...); one that looks typed but is not valid, such as the
    date 2026-13-45, is a problem at its line, not an exception from deep inside PyYAML."""
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:
        raise YamlProblem(_line(node), f"'{node.value}' cannot be read: {exc}") from None


# Aliases (`*name`) a file may use, and the values they may repeat in all: a policy file
# rarely needs any, and unbounded ones expand exponentially (an alias bomb took gigabytes).
MAX_ALIASES = 100
MAX_COPIED_VALUES = 10_000


class _Copies:
    """What the aliases of one file have repeated so far (see MAX_ALIASES)."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self.aliases = 0
        self.values = 0
        # The line of the alias being copied.
        self.line = 1

    def visit(self, node: yaml.Node, inside_copy: bool, where: Callable[[], int]) -> bool:
        """Note a node about to be converted; True if it is a copy made by an alias. The
        composer gives an alias the very node its anchor names, so a node seen before is one.
        `where` gives the line of an alias (the node's own line is its anchor's)."""
        if id(node) not in self.seen:
            self.seen.add(id(node))
            return inside_copy
        if not inside_copy:
            self.aliases += 1
            self.line = where()
            if self.aliases > MAX_ALIASES:
                raise YamlProblem(
                    self.line,
                    f"more than {MAX_ALIASES} aliases (*name) in one file; write the values out",
                )
        self.values += 1
        if self.values > MAX_COPIED_VALUES:
            raise YamlProblem(
                self.line,
                f"aliases (*name) repeat more than {MAX_COPIED_VALUES} values in this file; "
                "write the values out",
            )
        return True


def _convert(
    loader: Any,
    node: yaml.Node,
    path: Path,
    lines: dict[Path, int],
    copies: _Copies | None = None,
    inside_copy: bool = False,
) -> Any:
    if copies is None:
        copies = _Copies()
    inside_copy = copies.visit(node, inside_copy, lambda: line_of(lines, path))
    lines.setdefault(path, _line(node))
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise YamlProblem(
                    _line(key_node),
                    "a key must be a plain name followed by a colon, such as `id:`",
                )
            key = key_node.value if key_node.tag == _STR else _construct(loader, key_node)
            if key in result:
                raise _twice(key, key_node)
            lines[(*path, key)] = _line(key_node)
            result[key] = _convert(loader, value_node, (*path, key), lines, copies, inside_copy)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(loader, item, (*path, index), lines, copies, inside_copy)
            for index, item in enumerate(node.value)
        ]
    if node.tag == _STR:
        return node.value
    return _construct(loader, node)


def _twice(key: Any, where: yaml.Node | yaml.Event) -> YamlProblem:
    """The problem for a key repeated in one mapping (PyYAML would keep the last silently)."""
    return YamlProblem(_line(where), f"'{key}' appears twice in the same block; keep one")


def _line(item: yaml.Node | yaml.Event) -> int:
    """The 1-based line where a node or parser event starts."""
    return item.start_mark.line + 1 if item.start_mark else 1


def line_of(lines: dict[Path, int], path: Path) -> int:
    """The line of the longest known prefix of `path` (a missing field points at its parent)."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return 1
