"""The embedding API: load → validate → compile once, then evaluate → combine → explain per call.

An Engine holds one immutable snapshot (pack + compiled matcher). `decide` reads the snapshot
reference once, so a reload that swaps it mid-flight can never give a decision half of each pack.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from igengine import explain, fhir
from igengine.combine import combine, effect
from igengine.compile import (
    CompiledPack,
    FactText,
    Pair,
    Selectors,
    changed_facts,
    compile_pack,
    group_index,
    party_index,
    person_facts,
)
from igengine.decision import AgreementRef, Decision, RuleRef
from igengine.durable_host import DurableMatcher
from igengine.policy.model import AgreementSpec
from igengine.policy.pack import PolicyPack, Rule
from igengine.policy.validate import load_pack
from igengine.request import (
    Request,
    RequestError,
    Subject,
    check_request,
    parse_request,
    raw_errors,
)
from igengine.vocabulary import Effect, suggest


class AuditSink(Protocol):
    """Where an Engine records its decisions, synchronously: `record` returns only once the
    entry is durable, and raises if it could not be made so (the engine then answers a
    fail-safe deny). Event-loop callers record at their own edge instead (see
    `Engine.decide_unrecorded` and `igengine.audit.AuditTrail.record_async`)."""

    def record(self, request: Request, decision: Decision) -> None: ...


@runtime_checkable
class BatchAuditSink(AuditSink, Protocol):
    """A sink that can record many decisions, each its own entry, in one transaction: all of
    them durable when it returns, or none (it raises)."""

    def record_many(self, entries: Sequence[tuple[Request, Decision]]) -> None: ...


# The most requests one `decide_many` call (one batch) may hold.
MAX_BATCH = 100


@dataclass(frozen=True)
class _Snapshot:
    pack: PolicyPack
    matcher: DurableMatcher
    groups: tuple[tuple[int, ...], ...]
    permit_conditions: dict[str, frozenset[str]]
    permits: dict[str, dict[int, tuple[tuple[int, Selectors], ...]]]
    sectors: dict[str, str]
    parties: dict[str, frozenset[int]]
    facts: FactText
    agreements: dict[str, AgreementRef]
    # Filled as decisions are made (see _within_reach); a lost race only computes twice.
    reach: dict[tuple[str, str, str, str], tuple[Rule, ...]] = field(default_factory=dict)


class Engine:
    """Decides sharing requests against one loaded policy pack. Safe to share between threads."""

    def __init__(self, pack: PolicyPack, *, audit: AuditSink | None = None) -> None:
        self._snapshot = _build(pack)
        self._audit = audit
        self._reload_lock = threading.Lock()

    @classmethod
    def from_directory(cls, directory: str | Path, *, audit: AuditSink | None = None) -> Engine:
        """Load, validate and compile a pack; raises PolicyError listing every problem."""
        return cls(load_pack(directory), audit=audit)

    @property
    def pack(self) -> PolicyPack:
        return self._snapshot.pack

    @property
    def policy_version(self) -> str:
        return self._snapshot.pack.version

    def reload(self, directory: str | Path | None = None) -> str:
        """Load a pack and swap it in atomically; on any error the current pack stays."""
        with self._reload_lock:
            new = _build(load_pack(directory or self._snapshot.pack.root))
            self._snapshot = new
            return new.pack.version

    def decide(self, request: Request | dict[str, Any]) -> Decision:
        """Decide one request. Raises RequestError (a ValueError) only for a malformed request;
        any failure inside the decision gives a fail-safe deny with `error` set."""
        snapshot = self._snapshot
        parsed, decision = _decided(snapshot, request)
        if self._audit is not None:
            try:
                self._audit.record(parsed, decision)
            except Exception as exc:
                # An unrecorded decision must not be acted on: fail closed.
                decision = _unrecorded(snapshot.pack, decision, exc)
        return decision

    def decide_unrecorded(self, request: Request | dict[str, Any]) -> tuple[Request, Decision]:
        """Decide one request without this engine's audit sink, for a caller that records
        decisions at its own edge (the service awaits its trail's `record_async`) and must
        not give out a decision before it is recorded. Returns the request as decided, which
        is what an audit entry holds (a FHIR Consent read into the subject, the raw resource
        dropped), and the decision. Raises RequestError only for a malformed request."""
        return _decided(self._snapshot, request)

    def decide_many(
        self,
        requests: Sequence[Request | dict[str, Any]],
        *,
        until: Callable[[Decision | RequestError], bool] | None = None,
    ) -> list[Decision | RequestError]:
        """Decide up to MAX_BATCH requests against one pack, answering each in its place: its
        Decision, or the RequestError saying what is wrong with that request (the others are
        still decided). Raises RequestError (field `requests`) only when the batch itself is not
        a list or is too long. Each decision is recorded as its own audit entry, all in one
        transaction where the sink has `record_many`; if recording fails every decision of the
        batch becomes a fail-safe deny.

        With `until`, the batch stops after the first answer for which it is true (AuthZEN's
        deny_on_first_deny, for one): the answers end there, and the requests after it are
        neither decided nor recorded."""
        snapshot = self._snapshot
        made = self._batch_answers(snapshot, requests, until)
        answers = [item if isinstance(item, RequestError) else item[1] for item in made]
        decided = [
            (index, *item) for index, item in enumerate(made) if not isinstance(item, RequestError)
        ]
        if self._audit is not None and decided:
            for index, decision in _record_batch(self._audit, snapshot.pack, decided):
                answers[index] = decision
        return answers

    def decide_many_unrecorded(
        self,
        requests: Sequence[Request | dict[str, Any]],
        *,
        until: Callable[[Decision | RequestError], bool] | None = None,
    ) -> list[tuple[Request, Decision] | RequestError]:
        """`decide_many` without this engine's audit sink, for a caller that records at its
        own edge (as `decide_unrecorded`): each answer is the (request as decided, decision)
        pair, or the RequestError saying what is wrong with that request."""
        return self._batch_answers(self._snapshot, requests, until)

    def _batch_answers(
        self,
        snapshot: _Snapshot,
        requests: Sequence[Request | dict[str, Any]],
        until: Callable[[Decision | RequestError], bool] | None,
    ) -> list[tuple[Request, Decision] | RequestError]:
        """Each batch item's (request, decision), not yet recorded, or its RequestError; stops
        after the first answer `until` is true of."""
        answers: list[tuple[Request, Decision] | RequestError] = []
        for item in _batch(requests):
            made = self._answer_in_batch(snapshot, item)
            answers.append(made)
            if until is not None and until(made if isinstance(made, RequestError) else made[1]):
                break
        return answers

    @staticmethod
    def _answer_in_batch(
        snapshot: _Snapshot, item: Request | dict[str, Any]
    ) -> tuple[Request, Decision] | RequestError:
        """One batch item's (request, decision), not yet recorded, or what is wrong with it."""
        try:
            return _decided(snapshot, item)
        except RequestError as exc:
            return exc

    def matching_rules(self, request: Request | dict[str, Any]) -> list[Rule]:
        """Every rule whose conditions the request meets, in any agreement, in pack order."""
        snapshot = self._snapshot
        parsed, _ = _checked(request, snapshot.pack)
        return _matching(snapshot, parsed)


def _decided(snapshot: _Snapshot, request: Request | dict[str, Any]) -> tuple[Request, Decision]:
    """The request as decided (consent read) and its decision, unrecorded."""
    parsed, consent_used = _checked(request, snapshot.pack)
    return parsed, _decide_safely(snapshot, parsed, consent_used)


def new_decision_id() -> str:
    """A random (version 4) UUID as 32 hex digits."""
    return uuid.uuid4().hex


def _checked(
    request: Request | dict[str, Any], pack: PolicyPack
) -> tuple[Request, dict[str, Any] | None]:
    """The request in the contract's shape, checked against the pack (its organisations and
    vocabulary), with any FHIR Consent read into its facts; RequestError names what is
    wrong."""
    try:
        parsed = parse_request(request)
    except RequestError as exc:
        # Name every problem at once: the pack's too, as far as the request can be read.
        found = [e for e in raw_errors(request, pack.vocabulary) if e not in exc.errors]
        found += _raw_organisation_errors(request, pack)
        raise RequestError([*exc.errors, *found]) from None
    errors: list[tuple[str, str]] = []
    try:
        _check_organisations(parsed, pack)
    except RequestError as exc:
        errors += exc.errors
    try:
        parsed = check_request(parsed, pack.vocabulary)
    except RequestError as exc:
        errors += exc.errors
    if errors:
        raise RequestError(errors)
    return _read_consent(parsed, pack)


def _raw_organisation_errors(request: Any, pack: PolicyPack) -> list[tuple[str, str]]:
    """The organisations a request that is not of the contract's shape names that the pack
    does not have."""
    if not isinstance(request, dict):
        return []
    named = []
    for side in ("requester", "holder"):
        part = request.get(side)
        code = part.get("organisation") if isinstance(part, dict) else None
        if isinstance(code, str):
            named.append((f"{side}.organisation", code))
    return _organisation_errors(named, pack)


def _build(pack: PolicyPack) -> _Snapshot:
    compiled: CompiledPack = compile_pack(pack)
    sectors = {code: org.sector for code, org in pack.organisations.items()}
    parties = party_index(pack)
    return _Snapshot(
        pack,
        DurableMatcher(compiled.rulesets),
        compiled.groups,
        compiled.permit_conditions,
        compiled.permits,
        sectors,
        parties,
        FactText(sectors, parties),
        {agreement.id: _agreement_ref(agreement) for agreement in pack.agreements},
    )


def _batch(requests: object) -> Sequence[Any]:
    """The batch's items, or RequestError when it is not a list or is too long."""
    if not isinstance(requests, list | tuple):
        found = type(requests).__name__
        raise RequestError([("requests", f"expected a list of requests, got {found}")])
    if len(requests) > MAX_BATCH:
        raise RequestError(
            [("requests", f"a batch holds at most {MAX_BATCH} requests, not {len(requests)}")]
        )
    return requests


def _read_consent(request: Request, pack: PolicyPack) -> tuple[Request, dict[str, Any] | None]:
    """The request with its subject's FHIR Consent read into the person's flags (the raw
    resource dropped, so it is neither matched on nor recorded), and the facts it gave; or the
    request unchanged and None when it carries no Consent."""
    resource = request.subject.fhir_consent
    if resource is None:
        return request, None
    if pack.fhir is None:
        message = "this policy pack has no `fhir:` section saying how Consent records are read"
        raise RequestError([("subject.fhir_consent", message)])
    try:
        facts = fhir.subject_from_consent(
            resource, purpose=str(request.purpose), fhir=pack.fhir, at=request.at
        )
    except RequestError as exc:
        raise RequestError(
            [(field.replace("Consent", "subject.fhir_consent", 1), m) for field, m in exc.errors]
        ) from None
    own = request.subject.model_dump(exclude_unset=True, exclude={"fhir_consent"})
    subject = Subject.model_validate(fhir.merge_subject(own, facts))
    return check_request(request.model_copy(update={"subject": subject}), pack.vocabulary), facts


def _decide_safely(
    snapshot: _Snapshot, request: Request, consent_used: dict[str, Any] | None = None
) -> Decision:
    """The decision, or a fail-safe deny naming whatever went wrong inside it."""
    decision_id = new_decision_id()
    now = datetime.now(UTC)
    at = request.at or now
    what_if = at is not now and explain.is_what_if(at, now)
    try:
        return _decide(snapshot, request, at, decision_id, what_if, consent_used)
    except Exception as exc:
        # A fail-safe deny answers for no time at all, so it is never marked a what-if.
        return _fail_safe(snapshot.pack, at, decision_id, f"{type(exc).__name__}: {exc}")


def _unrecorded(pack: PolicyPack, decision: Decision, exc: Exception) -> Decision:
    """The fail-safe deny that replaces a decision the audit trail did not take."""
    error = f"the audit trail could not be written ({type(exc).__name__}: {exc})"
    return _fail_safe(pack, decision.at, decision.decision_id, error)


def _record_batch(
    audit: AuditSink, pack: PolicyPack, decided: list[tuple[int, Request, Decision]]
) -> list[tuple[int, Decision]]:
    """Record a batch's decisions; returns each one (by its place) as it may be given out."""
    if isinstance(audit, BatchAuditSink):
        try:
            audit.record_many([(request, decision) for _, request, decision in decided])
        except Exception as exc:
            # Nothing of a failed transaction was recorded: none of it may be acted on.
            return [(index, _unrecorded(pack, decision, exc)) for index, _, decision in decided]
        return [(index, decision) for index, _, decision in decided]
    recorded: list[tuple[int, Decision]] = []
    for index, request, decision in decided:
        try:
            audit.record(request, decision)
        except Exception as exc:
            decision = _unrecorded(pack, decision, exc)
        recorded.append((index, decision))
    return recorded


def _check_organisations(request: Request, pack: PolicyPack) -> None:
    known = pack.organisations
    if request.requester.organisation in known and request.holder.organisation in known:
        return
    named = [
        ("requester.organisation", request.requester.organisation),
        ("holder.organisation", request.holder.organisation),
    ]
    raise RequestError(_organisation_errors(named, pack))


def _organisation_errors(named: list[tuple[str, str]], pack: PolicyPack) -> list[tuple[str, str]]:
    codes = sorted(pack.organisations)
    return [
        (
            field,
            f"'{code}' is not an organisation in the loaded pack; "
            f"{suggest(code, codes, list_all=True)}",
        )
        for field, code in named
        if code not in pack.organisations
    ]


def _matching(snapshot: _Snapshot, request: Request) -> list[Rule]:
    pair = snapshot.facts.pair(request.requester.organisation, request.holder.organisation)
    return _matched(
        snapshot, _shard(request), pair, person_facts(request, snapshot.pack.vocabulary)
    )


def _shard(request: Request) -> str:
    return CompiledPack.shard(request.record_type, request.purpose)


def _matched(snapshot: _Snapshot, shard: str, pair: Pair, person: dict[str, Any]) -> list[Rule]:
    """The rules the facts match, in pack order: those of the groups durable-rules matches
    (rules sharing conditions) whose agreement both organisations are parties to."""
    names = snapshot.matcher.matching(shard, snapshot.facts.members(pair, person))
    if not names:
        return []
    rules, groups, shared = snapshot.pack.rules, snapshot.groups, pair.shared
    found = {
        i for name in names for i in groups[group_index(name)] if rules[i].agreement_index in shared
    }
    return [rules[i] for i in sorted(found)]


# Bounds the per-engine cache of permits within reach; past it the cache simply starts again.
_MAX_REACH = 65_536


def _within_reach(snapshot: _Snapshot, shard: str, request: Request) -> tuple[Rule, ...]:
    """The permits of this shard that a change to the person's facts could make match: those
    of agreements both organisations are parties to whose conditions on who asks and who holds
    the request meets (the person's facts are what a change would alter). They depend only on
    the shard, the two organisations and the role, so they are cached per snapshot."""
    requester_org, holder_org = request.requester.organisation, request.holder.organisation
    role = request.requester.role
    key = (shard, requester_org, holder_org, role)
    found = snapshot.reach.get(key)
    if found is None:
        if len(snapshot.reach) >= _MAX_REACH:
            snapshot.reach.clear()
        found = snapshot.reach[key] = _reachable(snapshot, shard, requester_org, holder_org, role)
    return found


def _reachable(
    snapshot: _Snapshot, shard: str, requester_org: str, holder_org: str, role: str
) -> tuple[Rule, ...]:
    by_agreement = snapshot.permits.get(shard)
    if not by_agreement:
        return ()
    requester = (requester_org, snapshot.sectors[requester_org])
    holder = (holder_org, snapshot.sectors[holder_org])
    rules = snapshot.pack.rules
    return tuple(
        rules[i]
        for agreement in snapshot.parties[requester_org] & snapshot.parties[holder_org]
        for i, selectors in by_agreement.get(agreement, ())
        if selectors.admit(role, requester, holder)
    )


def _decide(
    snapshot: _Snapshot,
    request: Request,
    at: datetime,
    decision_id: str,
    what_if: bool = False,
    consent_used: dict[str, Any] | None = None,
) -> Decision:
    """The decision for `at`; `what_if` marks an answer for another time than now, and
    `consent_used` is what a FHIR Consent record contributed (both are said in the rationale)."""
    shard = _shard(request)
    pair = snapshot.facts.pair(request.requester.organisation, request.holder.organisation)
    vocabulary = snapshot.pack.vocabulary
    person = person_facts(request, vocabulary)
    on = at.date()
    matched = _matched(snapshot, shard, pair, person)
    outcome = combine(matched, on)
    changes: list[explain.Change] = []
    if outcome.effect is Effect.DENY:

        def effect_of(change: explain.Change) -> Effect:
            changed = changed_facts(person, change, vocabulary)
            return effect(_matched(snapshot, shard, pair, changed), on)

        # With no permit matched, a change can only permit through a permit within reach.
        any_permit = any(rule.effect is Effect.PERMIT for rule in matched)
        changes = explain.would_permit_if(
            request,
            vocabulary,
            snapshot.permit_conditions.get(shard, frozenset()),
            effect_of,
            within_reach=None if any_permit else _within_reach(snapshot, shard, request),
        )
    listed = [rule for rule, _ in outcome.roles]
    defaults = explain.assumed(request, vocabulary, listed, changes)
    decisive = outcome.decisive
    return Decision(
        effect=outcome.effect,
        rationale=explain.rationale(
            request, snapshot.pack, outcome, on, changes, what_if=what_if, consent=consent_used
        ),
        legal_basis=explain.legal_basis(outcome),
        obligations=explain.obligations(outcome),
        rules=[
            RuleRef(id=rule.id, effect=rule.effect, source=rule.source, role=role)
            for rule, role in outcome.roles
        ],
        # A restriction is no agreement: its deny names the restriction and its statute.
        agreement=snapshot.agreements[decisive.agreement.id]
        if decisive and decisive.restriction is None
        else None,
        would_permit_if=changes,
        policy_version=snapshot.pack.version,
        decision_id=decision_id,
        at=at,
        assumed=defaults,
        not_in_force=[snapshot.agreements[a.id] for a in outcome.not_in_force],
        what_if=what_if,
    )


def _fail_safe(pack: PolicyPack, at: datetime, decision_id: str, error: str) -> Decision:
    return Decision(
        effect=Effect.DENY,
        rationale=explain.fail_safe_rationale(),
        legal_basis=[],
        obligations=[],
        rules=[],
        agreement=None,
        would_permit_if=[],
        policy_version=pack.version,
        decision_id=decision_id,
        error=error,
        at=at,
    )


def _agreement_ref(agreement: AgreementSpec) -> AgreementRef:
    return AgreementRef(
        id=agreement.id,
        title=agreement.title,
        start_date=agreement.start_date,
        end_date=agreement.end_date,
        review_date=agreement.review_date,
    )
