"""Lint: what a careful IG lead would flag in a pack that loads, each at its file:line.

Errors are rules that can never decide anything, overrides that can never apply, and legal
bases that do not fit the rule; warnings are agreements due for review or ending soon,
organisations no agreement names and obligations no rule uses. (Permits whose records
default to every record type while a statutory restriction exists are not checked yet: the
pack has no restrictions section.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from igengine.policy.load import SourceFile
from igengine.policy.model import AgreementSpec, RuleSpec
from igengine.policy.pack import PolicyPack
from igengine.policy.validate import checked_files, load_pack
from igengine.vocabulary import Effect

Severity = Literal["error", "warning"]
# The purposes that are individual care, where implied consent can be the common-law basis.
_CARE = {"direct_care", "emergency_care"}


@dataclass(frozen=True)
class Finding:
    file: str
    line: int
    check: str
    severity: Severity
    problem: str
    advice: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.check}: {self.problem}; {self.advice}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "check": self.check,
            "severity": self.severity,
            "problem": self.problem,
            "advice": self.advice,
        }


@dataclass(frozen=True)
class _Located:
    agreement: AgreementSpec
    spec: RuleSpec
    source: SourceFile
    position: int

    @property
    def id(self) -> str:
        return f"{self.agreement.id}/{self.spec.id}"

    def find(self, check: str, severity: Severity, problem: str, advice: str, *at: Any) -> Finding:
        issue = self.source.issue((*self.source.rule_path(self.position), *at), "")
        return Finding(issue.source, issue.line, check, severity, problem, advice)


def lint(directory: str | Path, today: date, soon_days: int = 90) -> list[Finding]:
    """Every finding for the pack at `directory` (which must load: PolicyError otherwise)."""
    root = Path(directory)
    pack = load_pack(root)
    loaded = checked_files(root)
    rules = [
        _Located(agreement, spec, source, i)
        for agreement, source in loaded.agreements
        for i, spec in enumerate(agreement.rules)
    ]
    findings: list[Finding] = []
    for rule in rules:
        findings += _never_matches(rule, pack)
        findings += _legal_basis(rule)
        findings += _overrides(rule, rules)
    findings += _shadowed(rules)
    for agreement, source in loaded.agreements:
        findings += _dates(agreement, source, today, soon_days)
    findings += _unused(pack, loaded)
    return sorted(findings, key=lambda f: (f.severity != "error", f.file, f.line))


# ---- rules that can never decide anything --------------------------------------------------


def _never_matches(rule: _Located, pack: PolicyPack) -> list[Finding]:
    spec, found = rule.spec, []
    when = spec.when
    if when.get("consent") == ["refused"] and when.get("objection") is False:
        found.append(
            rule.find(
                "contradictory-conditions",
                "error",
                f"{rule.id} needs consent refused and no objection, but a refusal is an objection",
                "remove one of the two conditions",
                "when",
            )
        )
    parties = [pack.organisations[c] for c in rule.agreement.parties]
    for side, selector in (("requester", spec.requester), ("holder", spec.holder)):
        orgs = selector.organisations or [o.code for o in parties]
        sectors = {pack.organisations[c].sector for c in orgs}
        if selector.sectors and not sectors & set(selector.sectors):
            found.append(
                rule.find(
                    "parties-cannot-occur",
                    "error",
                    f"{rule.id} needs a {side} in sector {', '.join(selector.sectors)}, but no "
                    f"{'organisation it names' if selector.organisations else 'party'} is one",
                    "correct the sectors or the organisations, or add the party",
                    side,
                )
            )
    return found


def _subsumes(wide: list[Any], narrow: list[Any]) -> bool:
    """Whether a selector list `wide` (empty: any) allows everything `narrow` allows."""
    return not wide or (bool(narrow) and set(narrow) <= set(wide))


def _when_implied(deny: RuleSpec, permit: RuleSpec) -> bool:
    """Whether every condition of `deny` holds whenever `permit`'s conditions hold."""
    given = permit.when.tested()
    for name, wanted in deny.when.tested().items():
        held = given.get(name)
        if isinstance(wanted, list):
            if not _subsumes(wanted, held or []):
                return False
        elif name.endswith("_under"):
            if held is None or held > wanted:
                return False
        elif name.endswith("_at_least"):
            if held is None or held < wanted:
                return False
        elif held != wanted:
            return False
    return True


def _covers(deny: _Located, permit: _Located) -> bool:
    d, p = deny.spec, permit.spec
    return (
        _subsumes(d.requester.roles, p.requester.roles)
        and _subsumes(d.requester.sectors, p.requester.sectors)
        and _subsumes(d.requester.organisations, p.requester.organisations)
        and _subsumes(d.holder.sectors, p.holder.sectors)
        and _subsumes(d.holder.organisations, p.holder.organisations)
        and _subsumes(d.records, p.records)
        and set(p.purposes or permit.agreement.purposes)
        <= set(d.purposes or deny.agreement.purposes)
        and set(permit.agreement.parties) <= set(deny.agreement.parties)
        and deny.agreement.start_date <= permit.agreement.start_date
        and deny.agreement.end_date >= permit.agreement.end_date
        and _when_implied(d, p)
    )


def _shadowed(rules: list[_Located]) -> list[Finding]:
    denies = [r for r in rules if r.spec.effect is Effect.DENY]
    found = []
    for permit in (r for r in rules if r.spec.effect is Effect.PERMIT):
        overridden = {_qualified(t, permit.agreement.id) for t in permit.spec.overrides}
        for deny in denies:
            if deny.id not in overridden and _covers(deny, permit):
                found.append(
                    permit.find(
                        "shadowed-rule",
                        "error",
                        f"{permit.id} can never permit: whenever it matches, the deny "
                        f"{deny.id} ({deny.source.display}) matches too and it does not "
                        "override it",
                        f"add `overrides: [{deny.id}]` if it should win, or remove the rule",
                    )
                )
                break
    return found


def _qualified(target: str, agreement: str) -> str:
    return target if "/" in target else f"{agreement}/{target}"


# ---- overrides that can never apply ----------------------------------------------------------


def _disjoint(first: list[Any] | None, second: list[Any] | None) -> bool:
    return bool(first) and bool(second) and not set(first or ()) & set(second or ())


def _never_together(permit: _Located, deny: _Located) -> str | None:
    """Why the two rules can never match one request, or None if they can."""
    p, d = permit.spec, deny.spec
    for what, first, second in (
        ("roles", p.requester.roles, d.requester.roles),
        ("records", p.records, d.records),
        (
            "purposes",
            p.purposes or permit.agreement.purposes,
            d.purposes or deny.agreement.purposes,
        ),
        *_choices(p, d),
    ):
        if _disjoint(first, second):
            return f"they have no {what.replace('_', ' ')} in common"
    mine_all, theirs_all = p.when.tested(), d.when.tested()
    for name, mine in mine_all.items():
        theirs = theirs_all.get(name)
        if isinstance(mine, bool) and theirs is not None and mine != theirs:
            return f"one needs {name} {mine} and the other {theirs}"
    if not set(permit.agreement.parties) & set(deny.agreement.parties):
        return "their agreements have no party in common"
    return None


def _choices(p: RuleSpec, d: RuleSpec) -> list[tuple[str, Any, Any]]:
    """Each choice condition (a list of codes) either rule tests, with both rules' values."""
    mine, theirs = p.when.tested(), d.when.tested()
    return [
        (name, mine.get(name), theirs.get(name))
        for name in {*mine, *theirs}
        if isinstance(mine.get(name, theirs.get(name)), list)
    ]


def _overrides(rule: _Located, rules: list[_Located]) -> list[Finding]:
    by_id = {r.id: r for r in rules}
    found = []
    for j, target in enumerate(rule.spec.overrides):
        deny = by_id.get(_qualified(target, rule.agreement.id))
        reason = _never_together(rule, deny) if deny is not None else None
        if reason is not None:
            found.append(
                rule.find(
                    "override-never-applies",
                    "error",
                    f"{rule.id} overrides {target}, but the two can never both match: {reason}",
                    "remove the override, or widen the rules so that it can apply",
                    "overrides",
                    j,
                )
            )
    return found


# ---- legal bases that do not fit the rule ------------------------------------------------------


def _legal_basis(rule: _Located) -> list[Finding]:
    spec = rule.spec
    if spec.effect is not Effect.PERMIT:
        return []
    basis, when = spec.legal_basis, spec.when
    purposes = set(spec.purposes or rule.agreement.purposes)
    checks: list[tuple[bool, str, str, str, Severity]] = [
        (
            basis.article_9 == "9(2)(j)" and purposes != {"research"},
            "article_9",
            "9(2)(j) (research) is cited for purposes other than research: "
            + ", ".join(sorted(purposes - {"research"})),
            "limit the rule to `purposes: [research]` or cite the basis that fits",
            "error",
        ),
        (
            basis.article_6 == "6(1)(c)"
            and not purposes & {"legal_obligation", "law_enforcement"}
            and not basis.statutes,
            "article_6",
            "6(1)(c) (legal obligation) is cited but the rule names no legal obligation, "
            "court order or statute",
            "cite the statute (`statutes:`) or limit it to `purposes: [legal_obligation]`",
            "error",
        ),
        (
            basis.common_law == "implied_consent" and not purposes <= _CARE,
            "common_law",
            "implied consent is cited outside individual care: "
            + ", ".join(sorted(purposes - _CARE)),
            "implied consent covers direct care only; cite explicit consent, s251 support, "
            "a legal requirement or the public interest",
            "error",
        ),
        (
            basis.common_law == "s251_support" and when.get("s251_support") is not True,
            "common_law",
            "section 251 support is cited as the common-law basis but the rule does not test it",
            "add `when: {s251_support: true}`",
            "error",
        ),
        (
            (when.get("objection") is True or "refused" in (when.get("consent") or ()))
            and not _reason_to_override(spec),
            "when",
            "the rule permits over the person's objection without a reason to override it",
            "test risk_of_serious_harm or justification_given, or cite a legal requirement "
            "or the public interest",
            "error",
        ),
    ]
    return [
        rule.find(
            "legal-basis-mismatch",
            severity,
            f"{rule.id}: {problem}",
            advice,
            "legal_basis" if field != "when" else "when",
            *((field,) if field != "when" else ()),
        )
        for failed, field, problem, advice, severity in checks
        if failed
    ]


def _reason_to_override(spec: RuleSpec) -> bool:
    when, basis = spec.when, spec.legal_basis
    return (
        when.get("risk_of_serious_harm") is True
        or when.justification_given is True
        or when.get("has_capacity") == ["false"]
        or basis.common_law in {"public_interest", "legal_requirement", "best_interests"}
    )


# ---- dates and things nothing uses -------------------------------------------------------------


def _dates(agreement: AgreementSpec, source: SourceFile, today: date, days: int) -> list[Finding]:
    found = []

    def add(field: str, check: str, problem: str, advice: str) -> None:
        issue = source.issue((field,), "")
        found.append(Finding(issue.source, issue.line, check, "warning", problem, advice))

    if agreement.review_date < today:
        add(
            "review_date",
            "past-review",
            f"agreement {agreement.id} was due for review on {agreement.review_date}",
            "review it with its parties and set the next review date",
        )
    if today <= agreement.end_date <= today + timedelta(days=days):
        add(
            "end_date",
            "ending-soon",
            f"agreement {agreement.id} ends on {agreement.end_date}, within {days} days",
            "renew it, or plan for the sharing it covers to stop",
        )
    return found


def _unused(pack: PolicyPack, loaded: Any) -> list[Finding]:
    named = {code for agreement in pack.agreements for code in agreement.parties}
    used = {code for rule in pack.rules for code in rule.spec.obligations}
    found = []
    for definitions, source in loaded.definitions:
        for i, org in enumerate(definitions.organisations):
            if org.code not in named:
                issue = source.issue(("organisations", i, "code"), "")
                found.append(
                    Finding(
                        issue.source,
                        issue.line,
                        "unused-organisation",
                        "warning",
                        f"{org.code} ({org.name}) is a party to no agreement",
                        "add it to an agreement's parties, or remove it",
                    )
                )
        for i, obligation in enumerate(definitions.obligations):
            code = obligation.code
            if code not in used:
                issue = source.issue(("obligations", i), "")
                found.append(
                    Finding(
                        issue.source,
                        issue.line,
                        "unused-obligation",
                        "warning",
                        f"obligation {code} is used by no rule",
                        "use it in a rule's obligations, or remove it",
                    )
                )
    return found
