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
    for path in files:
        relative = path.relative_to(root).as_posix()
        shown = path.as_posix()
        raw = _read_inside(path, inside, shown, result.issues)
        if raw is None:
            continue
        digest.update(relative.encode() + b"\0" + raw + b"\0")
        text = raw.decode("utf-8", errors="replace")
        _load_file(text, f"{root.name}/{relative}", shown, result)
    result.version = "sha256:" + digest.hexdigest()
    return result


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


def _load_file(text: str, display: str, shown: str, into: LoadedFiles) -> None:
    try:
        data, lines = load_with_lines(text, depth=_MAPPED_DEPTH)
    except YamlProblem as exc:
        into.issues.append(PolicyIssue(shown, exc.line, "(file)", str(exc)))
        return
    source = SourceFile(display, lines, text, shown)
    if not isinstance(data, dict):
        into.issues.append(
            source.issue(
                (),
                "expected a YAML mapping: an agreement (id, title, parties, rules ...) "
                "or shared definitions (organisations, obligations, restrictions)",
            )
        )
        return
    if "rules" in data or "id" in data:
        agreement = _agreement(data, source, into.issues)
        if agreement is not None:
            into.agreements.append((agreement, source))
    else:
        definitions = _validated(PackFile, data, source, into.issues)
        if definitions is not None:
            into.definitions.append((definitions, source))


M = TypeVar("M", bound=BaseModel)


def _validated(
    model: type[M],
    data: dict[str, Any],
    source: SourceFile,
    issues: list[PolicyIssue],
    prefix: YPath = (),
) -> M | None:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        for err in exc.errors():
            issues.append(source.issue((*prefix, *err["loc"]), _message(err)))
        return None


def _agreement(
    data: dict[str, Any], source: SourceFile, issues: list[PolicyIssue]
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


def _message(err: Any) -> str:
    kind, value = err["type"], err.get("input")
    if kind == "enum":
        choices = re.findall(r"'([^']+)'", err.get("ctx", {}).get("expected", ""))
        return f"'{value}' is not a known code; {suggest(str(value), choices)}"
    if kind == "missing":
        return f"is required; add `{err['loc'][-1]}:` here"
    if kind == "extra_forbidden":
        return _misplaced(str(err["loc"][-1]))
    if kind.startswith("date"):
        return f"'{value}' is not a date; write it as YYYY-MM-DD, e.g. 2026-04-01"
    if kind == "string_pattern_mismatch":
        return f"'{value}' is not a valid id; use lower-case letters, digits, '-' and '_'"
    return str(err["msg"])


def _misplaced(name: str) -> str:
    """A field the model does not have here: where it belongs if it is a real field (usually
    an indentation slip), otherwise the closest field name. Never 'did you mean' the very word
    written."""
    places = places_of(name)
    if places:
        where = " or ".join(places)
        return f"'{name}' is not a field here; it belongs {where} (check its indentation)"
    return f"'{name}' is not a field here; {suggest(name, sorted(FIELD_NAMES))}"


def _dotted(path: YPath) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(file)"
