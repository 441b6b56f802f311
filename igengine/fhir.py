"""A person's HL7 FHIR R4 Consent record, read into the person facts of a sharing request.

The resource is validated with `fhir.resources`' R4B models (the package's R4B Consent has the
same structure as R4's; its default models are R5, whose Consent differs). How it is read:

- Only an `active` Consent says anything; any other status gives no facts.
- Every provision (the root and each nested one) whose `period` covers the request's time
  applies to the purposes its `purpose` codes name (through the pack's `fhir.purpose_of_use`
  table), or to its parent's purposes when it names none; the root, naming none, to all.
- A `deny` covering the request's purpose: `objection` and `consent: refused`.
- A `deny` covering any of the pack's `fhir.opt_out_purposes`: `national_data_opt_out`.
- A `permit` that names the request's purpose, with no deny covering it: `consent: explicit`.
- A deny wins over a permit for the same purpose, whichever is nested in which (the more
  protective reading of an ambiguous record).

`merge_subject` combines these with the request's own flags: a refusal, an objection or an
opt-out from either source stands; otherwise a flag either source sets is taken.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from pydantic import ValidationError

from igengine.policy.model import FhirSpec
from igengine.request import RequestError

PURPOSE_OF_USE = "http://terminology.hl7.org/CodeSystem/v3-ActReason"


@dataclass(frozen=True)
class _Provision:
    path: str
    kind: str
    purposes: frozenset[str] | None  # None: every purpose


def subject_from_consent(
    resource: Mapping[str, Any], *, purpose: str, fhir: FhirSpec, at: datetime | None = None
) -> dict[str, Any]:
    """The person facts a Consent gives for a request with this pack purpose at `at` (now if
    None). Raises RequestError naming the FHIR path (`Consent.provision.provision[0].type`)
    when the resource is not a valid FHIR Consent."""
    consent = _validated(resource)
    if consent.status != "active":
        return {}
    moment = at or datetime.now(UTC)
    provisions = list(_provisions(consent.provision, "Consent.provision", None, fhir, moment))
    denied = [p for p in provisions if p.kind == "deny"]
    facts: dict[str, Any] = {}
    if any(_covers(p, {purpose}) for p in denied):
        facts.update(objection=True, consent="refused")
    elif any(p.kind == "permit" and p.purposes and purpose in p.purposes for p in provisions):
        facts["consent"] = "explicit"
    if any(_covers(p, {str(code) for code in fhir.opt_out_purposes}) for p in denied):
        facts["national_data_opt_out"] = True
    return facts


def merge_subject(own: Mapping[str, Any], from_consent: Mapping[str, Any]) -> dict[str, Any]:
    """The request's subject with the Consent's facts; where they conflict, the more protective
    wins (a refusal beats an explicit consent; an objection or opt-out from either stands)."""
    merged = dict(own)
    for flag in ("objection", "national_data_opt_out"):
        if from_consent.get(flag):
            merged[flag] = True
    theirs = from_consent.get("consent")
    if theirs == "refused" or (theirs == "explicit" and merged.get("consent") != "refused"):
        merged["consent"] = theirs
    return merged


def _validated(resource: Mapping[str, Any]) -> Any:
    # Imported on first use: the models take a fifth of a second to load, and most requests
    # carry no Consent.
    from fhir.resources.R4B.consent import Consent

    if not isinstance(resource, Mapping):
        found = type(resource).__name__
        raise RequestError([("Consent", f"expected a FHIR resource (a JSON object), got {found}")])
    kind = resource.get("resourceType")
    if kind != "Consent":
        raise RequestError([("Consent.resourceType", f"expected 'Consent', got {kind!r}")])
    try:
        return Consent.model_validate(dict(resource))
    except ValidationError as exc:
        raise RequestError([_described(err) for err in exc.errors()]) from None


def _described(err: Any) -> tuple[str, str]:
    path = "Consent"
    for part in err["loc"]:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path, str(err["msg"])


def _provisions(
    provision: Any, path: str, inherited: frozenset[str] | None, fhir: FhirSpec, at: datetime
) -> Iterator[_Provision]:
    """Each provision in force at `at`, with the purposes it applies to."""
    if provision is None or not _in_period(provision.period, at):
        return
    purposes = _purposes(provision.purpose or [], path, fhir) or inherited
    if provision.type is not None:
        if provision.type not in ("deny", "permit"):
            raise RequestError(
                [(f"{path}.type", f"expected 'deny' or 'permit', got {provision.type!r}")]
            )
        yield _Provision(path, provision.type, purposes)
    elif path != "Consent.provision":
        raise RequestError([(f"{path}.type", "a nested provision needs 'deny' or 'permit'")])
    for i, nested in enumerate(provision.provision or []):
        yield from _provisions(nested, f"{path}.provision[{i}]", purposes, fhir, at)


def _purposes(codings: list[Any], path: str, fhir: FhirSpec) -> frozenset[str] | None:
    """The pack purposes a provision's PurposeOfUse codings stand for (None if it names none)."""
    if not codings:
        return None
    found: set[str] = set()
    for i, coding in enumerate(codings):
        where = f"{path}.purpose[{i}]"
        if coding.system not in (None, PURPOSE_OF_USE):
            raise RequestError([(f"{where}.system", f"expected {PURPOSE_OF_USE}")])
        mapped = fhir.purpose_of_use.get(coding.code or "")
        if mapped is None:
            known = ", ".join(sorted(fhir.purpose_of_use))
            message = f"{coding.code!r} is not a PurposeOfUse code this pack maps; known: {known}"
            raise RequestError([(f"{where}.code", message)])
        found.update(str(purpose) for purpose in mapped)
    return frozenset(found)


def _covers(provision: _Provision, purposes: set[str]) -> bool:
    return provision.purposes is None or bool(provision.purposes & purposes)


def _in_period(period: Any, at: datetime) -> bool:
    if period is None:
        return True
    start, end = _moment(period.start, at, end=False), _moment(period.end, at, end=True)
    return (start is None or start <= at) and (end is None or at <= end)


def _moment(value: date | datetime | None, at: datetime, *, end: bool) -> datetime | None:
    """A period bound as a time comparable with `at` (a bare date covers its whole day)."""
    if value is None or isinstance(value, datetime):
        return value if value is None or value.tzinfo else value.replace(tzinfo=at.tzinfo)
    day = datetime(value.year, value.month, value.day, tzinfo=at.tzinfo)
    return day.replace(hour=23, minute=59, second=59, microsecond=999999) if end else day
