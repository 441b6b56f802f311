"""Load: the YAML files of a pack directory into pydantic models, with file:line for each value."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from igengine.policy.errors import PolicyIssue
from igengine.policy.model import FIELD_NAMES, AgreementSpec, PackFile, RuleSpec, places_of
from igengine.policy.yamlsource import Path as YPath
from igengine.policy.yamlsource import YamlProblem, line_of, load_with_lines
from igengine.vocabulary import suggest

# Paths down to each rule (`rules`, i): all a pack that loads needs lines for.
_MAPPED_DEPTH = 2


@dataclass
class SourceFile:
    """One parsed file: its display name, its text, and the lines of its top-level fields and
    rules. A problem deeper down is located by parsing the text again for every value's line,
    so a pack that loads cleanly never pays for those."""

    display: str
    lines: dict[YPath, int]
    text: str
    # The path as the command that loaded the pack was given it, so a problem's location opens
    # from where that command was run; `display` (the pack's own name for the file) is what
    # decisions cite, and must not depend on that.
    shown: str = ""
    # For each rule kept in the agreement, its position in the file (rules with shape errors
    # are left out, so later checks still run on the rest and point at the right lines).
    rule_positions: list[int] = field(default_factory=list)
    _every_line: dict[YPath, int] | None = None

    def rule_path(self, kept_index: int) -> YPath:
        return ("rules", self.rule_positions[kept_index])

    def issue(self, path: YPath, message: str) -> PolicyIssue:
        line = line_of(self._lines_for(path), path)
        return PolicyIssue(self.shown or self.display, line, _dotted(path), message)

    def _lines_for(self, path: YPath) -> dict[YPath, int]:
        if len(path) <= _MAPPED_DEPTH:
            return self.lines
        if self._every_line is None:
            # The text parsed once already, so it parses again.
            self._every_line = load_with_lines(self.text)[1]
        return self._every_line


@dataclass
class LoadedFiles:
    agreements: list[tuple[AgreementSpec, SourceFile]] = field(default_factory=list)
    definitions: list[tuple[PackFile, SourceFile]] = field(default_factory=list)
    issues: list[PolicyIssue] = field(default_factory=list)
    version: str = ""
    # For each kind of definition (`organisations`, `roles`, `person` ...), the codes of
    # entries that could not be read, each with the problem that lost it: references to them
    # are consequences of that problem, not problems of their own.
    lost: dict[str, dict[str, PolicyIssue]] = field(default_factory=dict)
    # Problems with whole files (unreadable, not YAML): when a kind has no definitions at all,
    # the first of these is the likely cause.
    file_problems: list[PolicyIssue] = field(default_factory=list)


def load_directory(root: Path) -> LoadedFiles:
    """Parse every .yaml/.yml file under `root`, collecting every problem rather than stopping."""
    result = LoadedFiles()
    files = pack_files(root)
    digest = hashlib.sha256()
    if not files:
        result.issues.append(
            PolicyIssue(str(root), 0, "(pack)", "no .yaml policy files found in this directory")
        )
    inside = root.resolve()
    parsed: list[tuple[dict[str, Any], SourceFile]] = []
    for path in files:
        relative = path.relative_to(root).as_posix()
        shown = path.as_posix()
        before = len(result.issues)
        raw = _read_inside(path, inside, shown, result.issues)
        if raw is not None:
            digest.update(relative.encode() + b"\0" + raw + b"\0")
            text = raw.decode("utf-8", errors="replace")
            found = _parse_file(text, f"{root.name}/{relative}", shown, result)
            if found is not None:
                parsed.append(found)
        result.file_problems.extend(result.issues[before:])
    # Definitions first: an agreement's misplaced field is worded with the vocabulary's facts.
    for data, source in parsed:
        if not _is_agreement(data):
            _definitions(data, source, result)
    conditions = {
        name
        for definitions, _ in result.definitions
        for fact in definitions.person
        for name in _condition_names(fact.name, fact.type)
    }
    for data, source in parsed:
        if _is_agreement(data):
            agreement = _agreement(data, source, result.issues, conditions)
            if agreement is not None:
                result.agreements.append((agreement, source))
    result.version = "sha256:" + digest.hexdigest()
    return result


def _condition_names(name: str, kind: str) -> list[str]:
    return [f"{name}_under", f"{name}_at_least"] if kind == "number" else [name]


def _is_agreement(data: dict[str, Any]) -> bool:
    return "rules" in data or "id" in data


def pack_files(root: Path) -> list[Path]:
    """The files a pack consists of, in the order its version hashes them: every .yaml and
    .yml file under `root` (anything else, such as a signature file, is not part of it)."""
    return sorted(p for p in root.rglob("*") if p.suffix in {".yaml", ".yml"} and p.is_file())


def _read_inside(path: Path, inside: Path, shown: str, issues: list[PolicyIssue]) -> bytes | None:
    """The file's bytes, or None with an issue: a link that leads out of the pack is refused
    unread (a pack is what its directory holds, and the target's content must not reach an
    error message), and so is a file that cannot be read."""
    if not path.resolve().is_relative_to(inside):
        issues.append(
            PolicyIssue(
                shown,
                1,
                "(file)",
                "is a link to a file outside the pack directory, which is not read; "
                "copy the file into the pack instead",
            )
        )
        return None
    try:
        return path.read_bytes()
    except OSError as exc:
        issues.append(PolicyIssue(shown, 1, "(file)", f"cannot be read: {exc.strerror}"))
        return None


def _parse_file(
    text: str, display: str, shown: str, into: LoadedFiles
) -> tuple[dict[str, Any], SourceFile] | None:
    try:
        data, lines = load_with_lines(text, depth=_MAPPED_DEPTH)
    except YamlProblem as exc:
        into.issues.append(PolicyIssue(shown, exc.line, "(file)", str(exc)))
        return None
    source = SourceFile(display, lines, text, shown)
    if not isinstance(data, dict):
        into.issues.append(
            source.issue(
                (),
                "expected a YAML mapping: an agreement (id, title, parties, rules ...) "
                "or shared definitions (vocabulary, organisations, obligations, restrictions)",
            )
        )
        return None
    return data, source


# The lists of a definitions file whose entries are checked one by one, so one malformed
# entry loses only itself (and references to it are reported as following from it), and the
# key that names each entry.
_ENTRY_LISTS: dict[str, str] = {
    "organisations": "code",
    "sectors": "code",
    "roles": "code",
    "record_types": "code",
    "purposes": "code",
    "obligations": "code",
    "person": "name",
}


def _definitions(data: dict[str, Any], source: SourceFile, into: LoadedFiles) -> None:
    kept = dict(data)
    local = data.get("obligations")
    if isinstance(local, dict):
        # The older form, `obligations: {code: text}`, still works: it reads as the list form.
        data = {**data, "obligations": [{"code": c, "text": t} for c, t in local.items()]}
    for key, naming in _ENTRY_LISTS.items():
        entries = data.get(key)
        if not isinstance(entries, list):
            if key in data:
                kept[key] = entries
            continue
        good: list[Any] = []
        for position, entry in enumerate(entries):
            problems: list[PolicyIssue] = []
            one = _validated(PackFile, {key: [entry]}, source, problems)
            problems = [_at_position(p, key, position, source) for p in problems]
            if one is None or problems:
                into.issues.extend(problems)
                code = entry.get(naming) if isinstance(entry, dict) else None
                if isinstance(code, str | bool | int) and problems:
                    into.lost.setdefault(key, {}).setdefault(str(code), problems[0])
                continue
            good.append(entry)
        kept[key] = good
    definitions = _validated(PackFile, kept, source, into.issues)
    if definitions is not None:
        into.definitions.append((definitions, source))


def _at_position(issue: PolicyIssue, key: str, position: int, source: SourceFile) -> PolicyIssue:
    """An issue found validating one entry alone (as entry 0) placed at the entry's real
    position in the file."""
    prefix = f"{key}[0]"
    if not issue.field.startswith(prefix):
        return issue
    rest = issue.field[len(prefix) :]
    path: list[str | int] = [key, position]
    for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", rest):
        path.append(part[0] if part[0] else int(part[1]))
    return source.issue(tuple(path), issue.message)


M = TypeVar("M", bound=BaseModel)


def _validated(
    model: type[M],
    data: dict[str, Any],
    source: SourceFile,
    issues: list[PolicyIssue],
    prefix: YPath = (),
    conditions: set[str] | frozenset[str] = frozenset(),
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            issues.append(source.issue((*prefix, *err["loc"]), _message(err, conditions)))
        return None


def _agreement(
    data: dict[str, Any],
    source: SourceFile,
    issues: list[PolicyIssue],
    conditions: set[str] | frozenset[str] = frozenset(),
) -> AgreementSpec | None:
    """Validate each rule on its own, so one malformed rule does not hide the problems that
    the cross-checks would find in the others."""
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        return _validated(AgreementSpec, data, source, issues)
    kept: list[RuleSpec] = []
    seen_ids: set[Any] = set()
    for position, raw in enumerate(raw_rules):
        rule_id = raw.get("id") if isinstance(raw, dict) else None
        if rule_id is not None and rule_id in seen_ids:
            issues.append(
                source.issue(
                    ("rules", position, "id"),
                    f"rule id '{rule_id}' is used twice in this agreement; rule ids must be unique",
                )
            )
        seen_ids.add(rule_id)
        rule_issues: list[PolicyIssue] = []
        rule = _validated(
            RuleSpec,
            raw if isinstance(raw, dict) else {},
            source,
            rule_issues,
            prefix=("rules", position),
            conditions=conditions,
        )
        if not isinstance(raw, dict):
            rule_issues = [
                source.issue(
                    ("rules", position), "each rule must be a mapping starting with `- id:`"
                )
            ]
        issues.extend(rule_issues)
        if rule is not None and not rule_issues:
            kept.append(rule)
            source.rule_positions.append(position)
    header = {**data, "rules": kept or raw_rules}
    header_issues: list[PolicyIssue] = []
    agreement = _validated(AgreementSpec, header, source, header_issues)
    # Rule problems were reported above; when no rule survived, don't report them twice.
    issues.extend(i for i in header_issues if kept or not i.field.startswith("rules"))
    return agreement if kept else None


def _message(err: Any, conditions: set[str] | frozenset[str] = frozenset()) -> str:
    kind, value = err["type"], err.get("input")
    if kind == "enum":
        choices = re.findall(r"'([^']+)'", err.get("ctx", {}).get("expected", ""))
        return f"'{value}' is not a known code; {suggest(str(value), choices)}"
    if kind == "missing":
        return f"is required; add `{err['loc'][-1]}:` here"
    if kind == "extra_forbidden":
        return _misplaced(str(err["loc"][-1]), conditions)
    if kind.startswith("date"):
        return f"'{value}' is not a date; write it as YYYY-MM-DD, e.g. 2026-04-01"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        return f"'{value}' is not allowed here; write {expected}"
    if kind == "string_pattern_mismatch":
        return f"'{value}' is not a valid id; use lower-case letters, digits, '-' and '_'"
    return str(err["msg"])


def _misplaced(name: str, conditions: set[str] | frozenset[str] = frozenset()) -> str:
    """A field the model does not have here: where it belongs if it is a real field (usually
    an indentation slip), otherwise the closest field name. Never 'did you mean' the very word
    written."""
    places = places_of(name, conditions)
    if places:
        where = " or ".join(places)
        return f"'{name}' is not a field here; it belongs {where} (check its indentation)"
    return f"'{name}' is not a field here; {suggest(name, sorted(FIELD_NAMES | conditions))}"


def _dotted(path: YPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(file)"
