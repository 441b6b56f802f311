"""Validate: cross-check the loaded files (codes, references, dates, legal bases) into a pack.

Every problem is collected; a pack with any problem is never returned, so a broken pack never
loads half-way.
"""

from __future__ import annotations

from pathlib import Path

from igengine import legal
from igengine.legal import LegalBasis
from igengine.policy.errors import PolicyError, PolicyIssue
from igengine.policy.load import LoadedFiles, SourceFile, load_directory
from igengine.policy.model import AgreementSpec, FhirSpec, Organisation, RuleSpec
from igengine.policy.pack import PolicyPack, Rule
from igengine.policy.yamlsource import line_of
from igengine.vocabulary import OBLIGATIONS, Effect, suggest


def load_pack(directory: str | Path) -> PolicyPack:
    """Load and validate a pack directory, or raise PolicyError listing every problem."""
    return _load_pack(Path(directory))


def _load_pack(root: Path) -> PolicyPack:
    if not root.is_dir():
        raise PolicyError([PolicyIssue(str(root), 0, "(pack)", "is not a directory")])
    loaded = load_directory(root)
    issues = list(loaded.issues)
    organisations = _organisations(loaded, issues)
    obligations = _obligations(loaded)
    rules = _rules(loaded, organisations, obligations, issues)
    fhir = _fhir(loaded, issues)
    if issues:
        raise PolicyError(issues)
    return PolicyPack(
        root=str(root),
        version=loaded.version,
        organisations=organisations,
        agreements=tuple(agreement for agreement, _ in loaded.agreements),
        rules=tuple(rules),
        obligations=obligations,
        fhir=fhir,
    )


def _organisations(loaded: LoadedFiles, issues: list[PolicyIssue]) -> dict[str, Organisation]:
    found: dict[str, Organisation] = {}
    for definitions, source in loaded.definitions:
        for i, org in enumerate(definitions.organisations):
            if org.code in found:
                issues.append(
                    source.issue(("organisations", i, "code"), f"'{org.code}' is defined twice")
                )
            found[org.code] = org
    if not found:
        issues.append(
            PolicyIssue(
                "(pack)",
                0,
                "organisations",
                "no organisations defined; add a file such as organisations.yaml with "
                "`organisations:` listing code, name and sector",
            )
        )
    return found


def _obligations(loaded: LoadedFiles) -> dict[str, str]:
    merged = dict(OBLIGATIONS)
    for definitions, _ in loaded.definitions:
        merged.update(definitions.obligations)
    return merged


def _fhir(loaded: LoadedFiles, issues: list[PolicyIssue]) -> FhirSpec | None:
    """The pack's one `fhir:` section (how FHIR Consent records are read), if it has one."""
    found: FhirSpec | None = None
    for definitions, source in loaded.definitions:
        if definitions.fhir is None:
            continue
        if found is not None:
            issues.append(source.issue(("fhir",), "is defined in more than one file"))
        found = definitions.fhir
    return found


def _rules(
    loaded: LoadedFiles,
    organisations: dict[str, Organisation],
    obligations: dict[str, str],
    issues: list[PolicyIssue],
) -> list[Rule]:
    seen_agreements: dict[str, str] = {}
    rules: list[Rule] = []
    located: list[tuple[Rule, SourceFile, int]] = []
    for agreement_index, (agreement, source) in enumerate(loaded.agreements):
        if agreement.id in seen_agreements:
            issues.append(
                source.issue(
                    ("id",),
                    f"agreement id '{agreement.id}' is already used in "
                    f"{seen_agreements[agreement.id]}; choose another",
                )
            )
        seen_agreements[agreement.id] = source.display
        _check_agreement(agreement, source, organisations, issues)
        for i, spec in enumerate(agreement.rules):
            _check_rule(agreement, spec, i, source, organisations, obligations, issues)
            line = line_of(source.lines, source.rule_path(i))
            rule = _resolve(
                len(rules), agreement_index, agreement, spec, f"{source.display}:{line}"
            )
            rules.append(rule)
            located.append((rule, source, i))
    _check_overrides(rules, located, issues)
    return rules


def _check_agreement(
    agreement: AgreementSpec,
    source: SourceFile,
    organisations: dict[str, Organisation],
    issues: list[PolicyIssue],
) -> None:
    for i, code in enumerate(agreement.parties):
        if code not in organisations:
            issues.append(source.issue(("parties", i), _unknown_org(code, organisations)))
    if agreement.end_date < agreement.start_date:
        issues.append(
            source.issue(
                ("end_date",),
                f"the end date {agreement.end_date} is before the start date "
                f"{agreement.start_date}; an agreement must end after it starts",
            )
        )
    if not agreement.start_date <= agreement.review_date <= agreement.end_date:
        issues.append(
            source.issue(
                ("review_date",),
                f"the review date {agreement.review_date} should fall between the start date "
                f"{agreement.start_date} and the end date {agreement.end_date}",
            )
        )


def _check_rule(
    agreement: AgreementSpec,
    spec: RuleSpec,
    i: int,
    source: SourceFile,
    organisations: dict[str, Organisation],
    obligations: dict[str, str],
    issues: list[PolicyIssue],
) -> None:
    at = source.rule_path(i)
    for side, codes in (
        ("requester", spec.requester.organisations),
        ("holder", spec.holder.organisations),
    ):
        for j, code in enumerate(codes):
            if code not in organisations:
                issues.append(
                    source.issue((*at, side, "organisations", j), _unknown_org(code, organisations))
                )
            elif code not in agreement.parties:
                issues.append(
                    source.issue(
                        (*at, side, "organisations", j),
                        f"'{code}' is not a party to agreement '{agreement.id}'; add it to "
                        "`parties:` or remove it here",
                    )
                )
    for j, purpose in enumerate(spec.purposes):
        if purpose not in agreement.purposes:
            issues.append(
                source.issue(
                    (*at, "purposes", j),
                    f"'{purpose}' is not one of this agreement's purposes "
                    f"({', '.join(agreement.purposes)}); add it to the agreement's `purposes:`",
                )
            )
    for j, code in enumerate(spec.obligations):
        if code not in obligations:
            issues.append(
                source.issue(
                    (*at, "obligations", j),
                    f"'{code}' is not a known obligation; {suggest(code, sorted(obligations))}",
                )
            )
    when = spec.when
    if (
        when.age_under is not None
        and when.age_at_least is not None
        and when.age_at_least >= when.age_under
    ):
        issues.append(
            source.issue(
                (*at, "when", "age_at_least"),
                "age_at_least must be below age_under, or no one matches",
            )
        )
    issues.extend(_legal_basis_issues(spec, at, source))
    if spec.overrides and spec.effect is not Effect.PERMIT:
        issues.append(
            source.issue((*at, "overrides"), "only a permit rule can override deny rules")
        )


def _legal_basis_issues(
    spec: RuleSpec, at: tuple[str | int, ...], source: SourceFile
) -> list[PolicyIssue]:
    basis = spec.legal_basis
    found: list[PolicyIssue] = []
    here = (*at, "legal_basis")
    checks = (
        ("article_6", basis.article_6, legal.ARTICLE_6),
        ("article_9", basis.article_9, legal.ARTICLE_9),
        ("common_law", basis.common_law, legal.COMMON_LAW_BASES),
    )
    for name, value, known in checks:
        if value is not None and value not in known:
            found.append(
                source.issue(
                    (*here, name), f"'{value}' is not known; {suggest(value, list(known))}"
                )
            )
    for j, statute in enumerate(basis.statutes):
        if isinstance(statute, str) and statute not in legal.STATUTES:
            found.append(
                source.issue(
                    (*here, "statutes", j),
                    f"'{statute}' is not a known provision; "
                    f"{suggest(statute, list(legal.STATUTES))} "
                    "(or write it out as framework, provision and summary)",
                )
            )
    for j, number in enumerate(basis.caldicott):
        if number not in legal.CALDICOTT_PRINCIPLES:
            found.append(
                source.issue(
                    (*here, "caldicott", j), f"{number} is not a Caldicott principle; use 1 to 8"
                )
            )
    if spec.effect is Effect.PERMIT:
        found.extend(_permit_basis_issues(spec, here, source))
    return found


def _permit_basis_issues(
    spec: RuleSpec, here: tuple[str | int, ...], source: SourceFile
) -> list[PolicyIssue]:
    """A permit needs Article 6, Article 9 and a common-law basis; anonymised data needs only
    the common-law note, since it is outside data protection law."""
    basis = spec.legal_basis
    if basis.is_empty():
        return [
            source.issue(
                here,
                "a permit must cite its legal basis; add `legal_basis:` with "
                "article_6, article_9 and common_law",
            )
        ]
    needed = ["common_law"] if spec.when.anonymised else ["article_6", "article_9", "common_law"]
    return [
        source.issue(here, f"a permit must cite {name}; add `{name}:` (e.g. {_EXAMPLES[name]})")
        for name in needed
        if getattr(basis, name) is None
    ]


_EXAMPLES = {"article_6": "6(1)(e)", "article_9": "9(2)(h)", "common_law": "implied_consent"}


def _check_overrides(
    rules: list[Rule], located: list[tuple[Rule, SourceFile, int]], issues: list[PolicyIssue]
) -> None:
    by_id = {rule.id: rule for rule in rules}
    for rule, source, i in located:
        for j, target in enumerate(rule.spec.overrides):
            qualified = target if "/" in target else f"{rule.agreement.id}/{target}"
            if qualified not in by_id:
                issues.append(
                    source.issue(
                        (*source.rule_path(i), "overrides", j),
                        f"'{target}' names no rule in the pack; {suggest(qualified, list(by_id))}",
                    )
                )
            elif by_id[qualified].effect is not Effect.DENY:
                issues.append(
                    source.issue(
                        (*source.rule_path(i), "overrides", j),
                        f"'{target}' is a permit rule; only deny rules can be overridden",
                    )
                )


def _resolve(
    index: int, agreement_index: int, agreement: AgreementSpec, spec: RuleSpec, source: str
) -> Rule:
    return Rule(
        index=index,
        agreement_index=agreement_index,
        id=f"{agreement.id}/{spec.id}",
        spec=spec,
        agreement=agreement,
        source=source,
        purposes=frozenset(spec.purposes or agreement.purposes),
        parties=frozenset(agreement.parties),
        overrides=frozenset(t if "/" in t else f"{agreement.id}/{t}" for t in spec.overrides),
        legal_basis=tuple(_cited(spec)),
    )


def _cited(spec: RuleSpec) -> list[LegalBasis]:
    """The rule's legal basis spelt out; unknown codes are skipped (they are reported above)."""
    basis = spec.legal_basis
    cited: list[LegalBasis] = []
    if basis.article_6 in legal.ARTICLE_6:
        cited.append(legal.article_6(basis.article_6))
    if basis.article_9 in legal.ARTICLE_9:
        cited.append(legal.article_9(basis.article_9))
    if basis.common_law in legal.COMMON_LAW_BASES:
        cited.append(legal.common_law(basis.common_law))
    for statute in basis.statutes:
        if isinstance(statute, LegalBasis):
            cited.append(statute)
        elif statute in legal.STATUTES:
            cited.append(legal.STATUTES[statute])
    cited.extend(legal.caldicott(n) for n in basis.caldicott if n in legal.CALDICOTT_PRINCIPLES)
    return cited


def _unknown_org(code: str, organisations: dict[str, Organisation]) -> str:
    return f"'{code}' is not an organisation in this pack; {suggest(code, sorted(organisations))}"
