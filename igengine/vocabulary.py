"""The codes a request and the shipped pack speak. The classes below are the one list of
them; an error naming a bad code lists the valid ones.

Each enum's values are the vocabulary codes themselves, so JSON, YAML and Python agree.
`label` gives the plain-English words the rationale uses.
"""

from __future__ import annotations

import difflib
from enum import StrEnum


class _Labelled(StrEnum):
    """A vocabulary code with a plain-English label for rationales and the page."""

    @property
    def label(self) -> str:
        # Members are str, so they look themselves up (`.value` is a slow descriptor).
        return _LABELS.get(self) or self.replace("_", " ")


class Sector(_Labelled):
    ACUTE = "acute"
    COMMUNITY = "community"
    GP = "gp"
    SOCIAL_CARE = "social_care"
    MENTAL_HEALTH = "mental_health"
    POLICE = "police"
    RESEARCH = "research"
    COMMISSIONER = "commissioner"


class Role(_Labelled):
    CONSULTANT = "consultant"
    WARD_NURSE = "ward_nurse"
    DISCHARGE_COORDINATOR = "discharge_coordinator"
    HOSPITAL_PHARMACIST = "hospital_pharmacist"
    DISTRICT_NURSE = "district_nurse"
    COMMUNITY_MATRON = "community_matron"
    THERAPIST = "therapist"
    MENTAL_HEALTH_NURSE = "mental_health_nurse"
    GP = "gp"
    PRACTICE_NURSE = "practice_nurse"
    RECEPTIONIST = "receptionist"
    SOCIAL_WORKER = "social_worker"
    CARE_COORDINATOR = "care_coordinator"
    HOME_CARE_WORKER = "home_care_worker"
    SAFEGUARDING_LEAD = "safeguarding_lead"
    CALDICOTT_GUARDIAN = "caldicott_guardian"
    ANALYST = "analyst"
    RESEARCHER = "researcher"
    POLICE_OFFICER = "police_officer"


class Purpose(_Labelled):
    DIRECT_CARE = "direct_care"
    EMERGENCY_CARE = "emergency_care"
    SAFEGUARDING = "safeguarding"
    STAFF_SAFETY = "staff_safety"
    SERVICE_PLANNING = "service_planning"
    RESEARCH = "research"
    LAW_ENFORCEMENT = "law_enforcement"
    LEGAL_OBLIGATION = "legal_obligation"


class RecordType(_Labelled):
    CAPACITY_ASSESSMENT = "capacity_assessment"
    BEST_INTERESTS_DECISION = "best_interests_decision"
    DISCHARGE_SUMMARY = "discharge_summary"
    CARE_PLAN = "care_plan"
    SOCIAL_CARE_ASSESSMENT = "social_care_assessment"
    GP_SUMMARY = "gp_summary"
    MEDICATION_LIST = "medication_list"
    TEST_RESULTS = "test_results"
    MENTAL_HEALTH_RECORD = "mental_health_record"
    RISK_ASSESSMENT = "risk_assessment"
    SAFEGUARDING_REFERRAL = "safeguarding_referral"
    SEXUAL_HEALTH_RECORD = "sexual_health_record"
    GENDER_HISTORY = "gender_history"
    FERTILITY_TREATMENT = "fertility_treatment"
    ADOPTION_RECORD = "adoption_record"


class Relationship(_Labelled):
    CARE_TEAM = "care_team"
    NONE = "none"


class Consent(_Labelled):
    EXPLICIT = "explicit"
    REFUSED = "refused"
    NONE = "none"


class Capacity(_Labelled):
    TRUE = "true"
    FALSE = "false"
    UNKNOWN = "unknown"


class Effect(StrEnum):
    PERMIT = "permit"
    DENY = "deny"


class RuleRole(StrEnum):
    DECISIVE = "decisive"
    OVERRIDDEN = "overridden"
    INFORMATIVE = "informative"


# Obligations: stable codes and the instruction the page and rationale show for each.
OBLIGATIONS: dict[str, str] = {
    "share_minimum_necessary": "Share only the minimum information needed for this purpose "
    "(Caldicott principle 3).",
    "record_disclosure": "Record what you shared, with whom and why.",
    "inform_subject": "Tell the person their information was shared, unless that would "
    "increase the risk to them or others.",
    "consult_caldicott_guardian": "Consult your Caldicott Guardian before anything is disclosed.",
    "retrospective_review": "This is a break-glass access: it will be reviewed afterwards, so "
    "make sure your reasons are on the record.",
    "record_justification": "Write down your justification for sharing, including why it "
    "overrides any objection.",
    "verify_requester_identity": "Confirm the identity and role of the person asking before "
    "you send anything.",
    "secure_transfer": "Send it securely (NHSmail or an equivalent secure route), never by "
    "ordinary email.",
}

_LABELS: dict[str, str] = {
    "gp": "GP",
    "acute": "acute hospital",
    "social_care": "social care",
    "mental_health": "mental health",
    "discharge_coordinator": "discharge coordinator",
    "safeguarding_lead": "safeguarding lead",
    "caldicott_guardian": "Caldicott Guardian",
    "direct_care": "direct care",
    "emergency_care": "emergency care (break glass)",
    "staff_safety": "staff safety on a home visit",
    "service_planning": "service planning",
    "law_enforcement": "law enforcement",
    "legal_obligation": "a legal obligation (court order or statute)",
    "gp_summary": "GP summary",
    "care_team": "in the person's care team",
    "none": "none",
}


def suggest(value: str, choices: list[str], *, list_all: bool = False) -> str:
    """A 'did you mean' hint for a misspelt code, and the valid codes when none is close
    (or always, with `list_all`)."""
    close = difflib.get_close_matches(value, choices, n=1, cutoff=0.6)
    listing = "valid values: " + ", ".join(choices)
    if close:
        return (
            f"did you mean '{close[0]}'? ({listing})" if list_all else f"did you mean '{close[0]}'?"
        )
    return listing
