"""Validate: cross-check the loaded files (codes, references, dates, legal bases) into a pack.

Every problem is collected; a pack with any problem is never returned, so a broken pack never
loads half-way.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from igengine import legal
from igengine.legal import LegalBasis
from igengine.policy.errors import PolicyError, PolicyIssue
from igengine.policy.load import LoadedFiles, SourceFile, load_directory
from igengine.policy.model import (
    AgreementSpec,
    ExceptionSpec,
    FhirSpec,
    LegalBasisSpec,
    Organisation,
    RestrictionSpec,
    RuleSpec,
)
from igengine.policy.pack import RESTRICTION_PREFIX, RESTRICTIONS_INDEX, PolicyPack, Rule
from igengine.policy.vocabcheck import CodeCheck, vocabulary
from igengine.policy.yamlsource import Path as YPath
from igengine.policy.yamlsource import line_of
from igengine.vocabulary import Effect, suggest


def load_pack(directory: str | Path) -> PolicyPack:
    """Load and validate a pack directory, or raise PolicyError listing every problem."""
    return _load_pack(Path(directory))


def checked_files(directory: str | Path) -> LoadedFiles:
    """The pack's files as loaded, each rule's `when:` in its checked form (choices as lists of
    codes), for tools that read rules where they are written (lint). Problems are not raised:
    load_pack reports them."""
    loaded = load_directory(Path(directory))
    _check_agreement_codes(loaded, CodeCheck(vocabulary(loaded, []), loaded, []))
    return loaded


def _load_pack(root: Path) -> PolicyPack:
    if not root.is_dir():
        raise PolicyError([PolicyIssue(str(root), 0, "(pack)", "is not a directory")])
    loaded = load_directory(root)
    issues = list(loaded.issues)
    check = CodeCheck(vocabulary(loaded, issues), loaded, issues)
    organisations = _organisations(loaded, check, issues)
    obligations = {code: o.text for code, o in check.vocabulary.obligations.items()}
    _check_agreement_codes(loaded, check)
    restrictions = _restrictions(loaded, check, issues)
    rules = _restriction_rules(restrictions, organisations, check.vocabulary.codes("purposes"))
    rules = _rules(loaded, organisations, check, rules, restrictions, issues)
    fhir = _fhir(loaded, check, issues)
    if issues:
        raise PolicyError(issues)
    return PolicyPack(
        root=str(root),
        version=loaded.version,
        organisations=organisations,
        agreements=tuple(agreement for agreement, _ in loaded.agreements),
        rules=tuple(rules),
        obligations=obligations,
        restrictions=tuple(r for r, _, _ in restrictions),
        warnings=tuple(_open_records_warnings(loaded, restrictions)),
        fhir=fhir,
        vocabulary=check.vocabulary,
    )


def _organisations(
    loaded: LoadedFiles, check: CodeCheck, issues: list[PolicyIssue]
) -> dict[str, Organisation]:
    found: dict[str, Organisation] = {}
    for definitions, source in loaded.definitions:
        for i, org in enumerate(definitions.organisations):
            if org.code in found:
                issues.append(
                    source.issue(("organisations", i, "code"), f"'{org.code}' is defined twice")
                )
            check.code("sectors", org.sector, ("organisations", i, "sector"), source)
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


def _check_agreement_codes(loaded: LoadedFiles, check: CodeCheck) -> None:
    """Every code an agreement and its rules write must be in the vocabulary; each rule's
    `when:` is replaced by its checked form (choices as lists of codes)."""
    for index, (agreement, source) in enumerate(loaded.agreements):
        check.codes("purposes", agreement.purposes, ("purposes",), source)
        specs = []
        for i, spec in enumerate(agreement.rules):
            at = source.rule_path(i)
            check.codes("roles", spec.requester.roles, (*at, "requester", "roles"), source)
            check.codes("sectors", spec.requester.sectors, (*at, "requester", "sectors"), source)
            check.codes("sectors", spec.holder.sectors, (*at, "holder", "sectors"), source)
            check.codes("purposes", spec.purposes, (*at, "purposes"), source)
            check.codes("record_types", spec.records, (*at, "records"), source)
            check.codes("obligations", spec.obligations, (*at, "obligations"), source)
            when = check.conditions(spec.when, (*at, "when"), source)
            specs.append(spec.model_copy(update={"when": when}))
        loaded.agreements[index] = (agreement.model_copy(update={"rules": specs}), source)


# A restriction as found: the spec, its file and its position in that file's list.
Located = tuple[RestrictionSpec, SourceFile, int]


def _restrictions(
    loaded: LoadedFiles, check: CodeCheck, issues: list[PolicyIssue]
) -> list[Located]:
    """Every pack-wide restriction, each checked: a unique id, unique exception ids, codes of
    the vocabulary, and legal bases that cite what imposes the restriction and what makes each
    exception."""
    found: list[Located] = []
    seen: dict[str, str] = {}
    for definitions, source in loaded.definitions:
        for i, restriction in enumerate(definitions.restrictions):
            at: YPath = ("restrictions", i)
            restriction = _checked_restriction(restriction, at, check, source)
            if restriction.id in seen:
                issues.append(
                    source.issue(
                        (*at, "id"),
                        f"restriction id '{restriction.id}' is already used in "
                        f"{seen[restriction.id]}; choose another",
                    )
                )
            seen[restriction.id] = source.display
            issues.extend(_restriction_issues(restriction, at, source))
            found.append((restriction, source, i))
    return found


def _checked_restriction(
    restriction: RestrictionSpec, at: YPath, check: CodeCheck, source: SourceFile
) -> RestrictionSpec:
    check.codes("record_types", restriction.records, (*at, "records"), source)
    check.codes("purposes", restriction.purposes, (*at, "purposes"), source)
    exceptions = []
    for j, exception in enumerate(restriction.exceptions):
        here = (*at, "exceptions", j)
        check.codes("roles", exception.requester.roles, (*here, "requester", "roles"), source)
        check.codes("sectors", exception.requester.sectors, (*here, "requester", "sectors"), source)
        check.codes("purposes", exception.purposes, (*here, "purposes"), source)
        when = check.conditions(exception.when, (*here, "when"), source)
        exceptions.append(exception.model_copy(update={"when": when}))
    when = check.conditions(restriction.when, (*at, "when"), source)
    return restriction.model_copy(update={"when": when, "exceptions": exceptions})


def _restriction_issues(
    restriction: RestrictionSpec, at: YPath, source: SourceFile
) -> list[PolicyIssue]:
    found = _basis_code_issues(restriction.legal_basis, (*at, "legal_basis"), source)
    if not restriction.legal_basis.statutes:
        found.append(
            source.issue(
                (*at, "legal_basis"),
                "a restriction must cite what imposes it: add `statutes:` naming the statute "
                "or the local policy (by code, or written out as framework, provision and "
                "summary)",
            )
        )
    exception_ids: set[str] = set()
    for j, exception in enumerate(restriction.exceptions):
        here = (*at, "exceptions", j)
        if exception.id in exception_ids:
            found.append(
                source.issue(
                    (*here, "id"),
                    f"exception id '{exception.id}' is used twice in this restriction",
                )
            )
        exception_ids.add(exception.id)
        found.extend(_basis_code_issues(exception.legal_basis, (*here, "legal_basis"), source))
        if exception.legal_basis.is_empty():
            found.append(
                source.issue(
                    (*here, "legal_basis"),
                    "an exception must cite the provision that makes it, e.g. `statutes:` "
                    "with the section and subsection",
                )
            )
    return found


def _restriction_rules(
    restrictions: list[Located], organisations: dict[str, Organisation], purposes: list[str]
) -> list[Rule]:
    """Each restriction as a deny rule, ahead of every agreement's rules (so that where a
    restriction and an agreement's deny both refuse, the decision names the restriction).
    Their agreement is a stand-in that every organisation is party to and that is always in
    force: a statute binds whoever signed what."""
    stand_in = AgreementSpec.model_construct(
        id="(restrictions)",
        title="Pack-wide restrictions",
        owner="the law and the pack's local policies",
        summary=None,
        parties=sorted(organisations),
        purposes=purposes,
        start_date=date.min,
        end_date=date.max,
        review_date=date.max,
        rules=[],
    )
    rules: list[Rule] = []
    for restriction, source, i in restrictions:
        spec = RuleSpec.model_construct(
            id=restriction.id,
            effect=Effect.DENY,
            because=restriction.because,
            requester=RuleSpec.model_fields["requester"].get_default(call_default_factory=True),
            holder=RuleSpec.model_fields["holder"].get_default(call_default_factory=True),
            purposes=list(restriction.purposes),
            records=list(restriction.records),
            when=restriction.when,
            legal_basis=restriction.legal_basis,
            obligations=[],
            overrides=[],
            lifts=[],
        )
        line = line_of(source.lines, ("restrictions", i))
        rules.append(
            Rule(
                index=len(rules),
                agreement_index=RESTRICTIONS_INDEX,
                id=RESTRICTION_PREFIX + restriction.id,
                spec=spec,
                agreement=stand_in,
                source=f"{source.display}:{line}",
                purposes=frozenset(restriction.purposes or purposes),
                parties=frozenset(organisations),
                overrides=frozenset(),
                legal_basis=tuple(_cited(spec.legal_basis)),
                restriction=restriction,
            )
        )
    return rules


def _fhir(loaded: LoadedFiles, check: CodeCheck, issues: list[PolicyIssue]) -> FhirSpec | None:
    """The pack's one `fhir:` section (how FHIR Consent records are read), if it has one."""
    found: FhirSpec | None = None
    for definitions, source in loaded.definitions:
        if definitions.fhir is None:
            continue
        for code, purposes in definitions.fhir.purpose_of_use.items():
            check.codes("purposes", purposes, ("fhir", "purpose_of_use", code), source)
        check.codes(
            "purposes", definitions.fhir.opt_out_purposes, ("fhir", "opt_out_purposes"), source
        )
        if found is not None:
            issues.append(source.issue(("fhir",), "is defined in more than one file"))
        found = definitions.fhir
    return found


def _rules(
    loaded: LoadedFiles,
    organisations: dict[str, Organisation],
    check: CodeCheck,
    rules: list[Rule],
    restrictions: list[Located],
    issues: list[PolicyIssue],
) -> list[Rule]:
    """The agreements' rules after the restriction rules already in `rules`."""
    seen_agreements: dict[str, str] = {}
    by_restriction = {r.id: r for r, _, _ in restrictions}
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
        _check_agreement(agreement, source, organisations, check)
        for i, spec in enumerate(agreement.rules):
            _check_rule(agreement, spec, i, source, organisations, check, issues)
            issues.extend(
                _lifts_issues(agreement, spec, source.rule_path(i), source, by_restriction)
            )
            line = line_of(source.lines, source.rule_path(i))
            rule = _resolve(
                len(rules),
                agreement_index,
                agreement,
                spec,
                f"{source.display}:{line}",
                by_restriction,
            )
            rules.append(rule)
            located.append((rule, source, i))
    _check_overrides(rules, located, by_restriction, issues)
    return rules


def _check_agreement(
    agreement: AgreementSpec,
    source: SourceFile,
    organisations: dict[str, Organisation],
    check: CodeCheck,
) -> None:
    issues = check.issues
    for i, code in enumerate(agreement.parties):
        if code not in organisations:
            check.report(
                source.issue(("parties", i), _unknown_org(code, organisations)),
                "organisations",
                code,
            )
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
    check: CodeCheck,
    issues: list[PolicyIssue],
) -> None:
    at = source.rule_path(i)
    for side, codes in (
        ("requester", spec.requester.organisations),
        ("holder", spec.holder.organisations),
    ):
        for j, code in enumerate(codes):
            if code not in organisations:
                check.report(
                    source.issue(
                        (*at, side, "organisations", j), _unknown_org(code, organisations)
                    ),
                    "organisations",
                    code,
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
    issues.extend(_legal_basis_issues(spec, at, source))
    if spec.overrides and spec.effect is not Effect.PERMIT:
        issues.append(
            source.issue((*at, "overrides"), "only a permit rule can override deny rules")
        )


def _legal_basis_issues(
    spec: RuleSpec, at: tuple[str | int, ...], source: SourceFile
) -> list[PolicyIssue]:
    here = (*at, "legal_basis")
    found = _basis_code_issues(spec.legal_basis, here, source)
    if spec.effect is Effect.PERMIT:
        found.extend(_permit_basis_issues(spec, here, source))
    return found


def _basis_code_issues(
    basis: LegalBasisSpec, here: tuple[str | int, ...], source: SourceFile
) -> list[PolicyIssue]:
    """Every code in a legal basis must be one igengine knows (or be written out)."""
    found: list[PolicyIssue] = []
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
    if spec.when.get("anonymised"):
        # Anonymised data is outside the duty of confidence: the one basis to cite says so.
        if basis.common_law is None:
            return [
                source.issue(
                    here,
                    "a permit for anonymised data must say the duty of confidence does not "
                    "apply; add `common_law: not_confidential`",
                )
            ]
        return []
    needed = ["article_6", "article_9", "common_law"]
    return [
        source.issue(here, f"a permit must cite {name}; add `{name}:` (e.g. {_EXAMPLES[name]})")
        for name in needed
        if getattr(basis, name) is None
    ]


_EXAMPLES = {"article_6": "6(1)(e)", "article_9": "9(2)(h)", "common_law": "implied_consent"}


def _check_overrides(
    rules: list[Rule],
    located: list[tuple[Rule, SourceFile, int]],
    by_restriction: dict[str, RestrictionSpec],
    issues: list[PolicyIssue],
) -> None:
    by_id = {rule.id: rule for rule in rules}
    for rule, source, i in located:
        for j, target in enumerate(rule.spec.overrides):
            at = (*source.rule_path(i), "overrides", j)
            named = target.removeprefix(RESTRICTION_PREFIX)
            qualified = target if "/" in target else f"{rule.agreement.id}/{target}"
            if target.startswith(RESTRICTION_PREFIX) or (
                named in by_restriction and qualified not in by_id
            ):
                issues.append(source.issue(at, _cannot_override(named, by_restriction)))
            elif qualified not in by_id:
                issues.append(
                    source.issue(
                        at,
                        f"'{target}' names no rule in the pack; {suggest(qualified, list(by_id))}",
                    )
                )
            elif by_id[qualified].effect is not Effect.DENY:
                issues.append(
                    source.issue(
                        at, f"'{target}' is a permit rule; only deny rules can be overridden"
                    )
                )


def _cannot_override(name: str, by_restriction: dict[str, RestrictionSpec]) -> str:
    restriction = by_restriction.get(name)
    if restriction is None:
        return (
            f"'{name}' names no restriction in the pack; a restriction cannot be overridden "
            f"anyway, only lifted by one of its exceptions in `lifts:`"
        )
    return (
        f"'{name}' is a restriction ({restriction.title}); a rule cannot override a "
        f"restriction. Lift it in `lifts:` by one of its exceptions: {_exceptions(restriction)}"
    )


def _exceptions(restriction: RestrictionSpec) -> str:
    names = [f"{restriction.id}/{e.id}" for e in restriction.exceptions]
    return ", ".join(names) if names else "it has none, so no rule can open it"


def _lifts_issues(
    agreement: AgreementSpec,
    spec: RuleSpec,
    at: YPath,
    source: SourceFile,
    by_restriction: dict[str, RestrictionSpec],
) -> list[PolicyIssue]:
    """Each `lifts:` entry must name an exception the restriction itself has, on a permit no
    wider than that exception."""
    found: list[PolicyIssue] = []
    for j, ref in enumerate(spec.lifts):
        here = (*at, "lifts", j)
        if spec.effect is not Effect.PERMIT:
            found.append(source.issue(here, "only a permit rule can lift a restriction"))
            continue
        name, _, exception_id = ref.partition("/")
        restriction = by_restriction.get(name)
        if restriction is None:
            found.append(
                source.issue(
                    here,
                    f"'{name}' is not a restriction in this pack; "
                    f"{suggest(name, sorted(by_restriction))} "
                    "(write `<restriction>/<exception>`)",
                )
            )
            continue
        exception = next((e for e in restriction.exceptions if e.id == exception_id), None)
        if exception is None:
            found.append(
                source.issue(
                    here,
                    f"'{ref}': restriction '{name}' has no exception '{exception_id}'; "
                    f"its exceptions are: {_exceptions(restriction)}",
                )
            )
            continue
        wider = _wider_than(agreement, spec, exception)
        if wider:
            found.append(
                source.issue(
                    here,
                    f"this permit is wider than the exception '{ref}' allows: "
                    + "; ".join(wider)
                    + ". Narrow the rule to the exception's terms",
                )
            )
    return found


def _wider_than(agreement: AgreementSpec, spec: RuleSpec, exception: ExceptionSpec) -> list[str]:
    """How a permit reaches beyond an exception: each of the exception's terms the permit
    does not also require."""
    wider: list[str] = []
    for field in ("roles", "sectors", "organisations"):
        allowed: list[str] = getattr(exception.requester, field)
        given: list[str] = getattr(spec.requester, field)
        if allowed and not (given and set(given) <= set(allowed)):
            wider.append(f"requester {field} must be among {', '.join(allowed)}")
    purposes = spec.purposes or agreement.purposes
    if exception.purposes and not set(purposes) <= set(exception.purposes):
        wider.append(f"purposes must be among {', '.join(exception.purposes)}")
    held = spec.when.tested()
    for name, wanted in exception.when.tested().items():
        if not _implies(name, held.get(name), wanted):
            wider.append(f"`when: {name}` must be {_shown(wanted)}")
    return wider


def _implies(name: str, given: Any, wanted: Any) -> bool:
    """Whether a permit's condition on a fact (None: not tested) is at least as narrow as the
    exception's."""
    if given is None:
        return False
    if isinstance(wanted, list):
        return set(given) <= set(wanted)
    if name.endswith("_under"):
        return bool(given <= wanted)
    if name.endswith("_at_least"):
        return bool(given >= wanted)
    return bool(given == wanted)


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return " or ".join(str(v) for v in value)
    return str(value).lower() if isinstance(value, bool) else str(value)


def _open_records_warnings(loaded: LoadedFiles, restrictions: list[Located]) -> list[PolicyIssue]:
    """A permit that leaves out `records:` covers every record type; where a restriction
    exists, the author should see that the restriction, not their rule, keeps its records
    closed."""
    if not restrictions:
        return []
    found: list[PolicyIssue] = []
    for agreement, source in loaded.agreements:
        for i, spec in enumerate(agreement.rules):
            if spec.effect is not Effect.PERMIT or spec.records:
                continue
            purposes = set(spec.purposes or agreement.purposes)
            lifted = {ref.partition("/")[0] for ref in spec.lifts}
            closing = [
                r
                for r, _, _ in restrictions
                if r.id not in lifted
                and (not r.purposes or purposes & set(r.purposes))
                and not _disjoint(spec.when.tested(), r.when.tested())
            ]
            if closing:
                found.append(
                    source.issue(
                        (*source.rule_path(i), "id"),
                        "`records:` is left out, so this permit covers every record type; "
                        + "; ".join(
                            f"restriction '{r.id}' ({_statutes(r)}) keeps "
                            f"{', '.join(r.records)} closed"
                            for r in closing
                        )
                        + ". List the records this permit is for",
                    )
                )
    return found


def _disjoint(ours: dict[str, Any], theirs: dict[str, Any]) -> bool:
    """Whether no request can meet both sets of conditions (an anonymised-data permit and a
    restriction on identifiable data, say); a number's bounds are not compared."""
    for name, wanted in theirs.items():
        given = ours.get(name)
        if given is None or not isinstance(wanted, list | bool):
            continue
        if isinstance(wanted, list) and not set(given) & set(wanted):
            return True
        if not isinstance(wanted, list) and given != wanted:
            return True
    return False


def _statutes(restriction: RestrictionSpec) -> str:
    return "; ".join(f"{b.framework} {b.provision}" for b in _cited(restriction.legal_basis))


def _resolve(
    index: int,
    agreement_index: int,
    agreement: AgreementSpec,
    spec: RuleSpec,
    source: str,
    by_restriction: dict[str, RestrictionSpec],
) -> Rule:
    lifts = tuple(
        _lifted(ref, by_restriction) for ref in spec.lifts if spec.effect is Effect.PERMIT
    )
    overrides = {t if "/" in t else f"{agreement.id}/{t}" for t in spec.overrides}
    return Rule(
        index=index,
        agreement_index=agreement_index,
        id=f"{agreement.id}/{spec.id}",
        spec=spec,
        agreement=agreement,
        source=source,
        purposes=frozenset(spec.purposes or agreement.purposes),
        parties=frozenset(agreement.parties),
        overrides=frozenset(overrides | {restriction for restriction, _, _ in lifts}),
        legal_basis=tuple(_cited(spec.legal_basis)),
        lifts=lifts,
    )


def _lifted(
    ref: str, by_restriction: dict[str, RestrictionSpec]
) -> tuple[str, str, tuple[LegalBasis, ...]]:
    """A `lifts:` entry as (restriction rule id, exception id, the exception's legal basis);
    an entry naming nothing (reported above) lifts nothing."""
    name, _, exception_id = ref.partition("/")
    restriction = by_restriction.get(name)
    exception = next(
        (e for e in (restriction.exceptions if restriction else []) if e.id == exception_id),
        None,
    )
    if exception is None:
        return ("", exception_id, ())
    return (RESTRICTION_PREFIX + name, exception_id, tuple(_cited(exception.legal_basis)))


def _cited(basis: LegalBasisSpec) -> list[LegalBasis]:
    """A legal basis spelt out; unknown codes are skipped (they are reported above)."""
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
