"""The legal provisions a rule may cite, by the short codes policy files use.

A policy says `article_6: 6(1)(e)` or `statutes: [hsca_2012_s251b]`; the decision spells each one
out as framework, provision and summary so that a nurse and an auditor read the same thing.
A pack may also cite a provision not listed here by writing it out in full.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

UK_GDPR = "UK GDPR"
COMMON_LAW = "Common law duty of confidentiality"
CALDICOTT = "Caldicott Principles (2020)"


class LegalBasis(BaseModel):
    """One cited provision, as the decision contract shows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    framework: str
    provision: str
    summary: str | None = None


ARTICLE_6: dict[str, str] = {
    "6(1)(a)": "consent",
    "6(1)(c)": "legal obligation",
    "6(1)(d)": "vital interests",
    "6(1)(e)": "public task",
    "6(1)(f)": "legitimate interests",
}

ARTICLE_9: dict[str, str] = {
    "9(2)(a)": "explicit consent",
    "9(2)(c)": "vital interests of a person physically or legally incapable of consenting",
    "9(2)(f)": "legal claims and the courts",
    "9(2)(g)": "substantial public interest (Data Protection Act 2018 Schedule 1 Part 2)",
    "9(2)(h)": "health or social care",
    "9(2)(i)": "public health",
    "9(2)(j)": "archiving, research and statistics",
}

COMMON_LAW_BASES: dict[str, str] = {
    "implied_consent": "implied consent for individual care",
    "explicit_consent": "explicit consent",
    "public_interest": "overriding public interest",
    "legal_requirement": "legal requirement (statute or court order)",
    "s251_support": "section 251 support (NHS Act 2006)",
    # A person who lacks capacity can neither consent nor imply consent; sharing for their care
    # rests on their best interests (Mental Capacity Act 2005 s4), not on a fiction of consent.
    "best_interests": "best interests of a person who lacks capacity (Mental Capacity Act 2005)",
    "not_confidential": "does not apply: the information is anonymised",
}

STATUTES: dict[str, LegalBasis] = {
    code: LegalBasis(framework=framework, provision=provision, summary=summary)
    for code, (framework, provision, summary) in {
        "dpa_2018_s11": (
            "Data Protection Act 2018",
            "section 11(1)",
            "care by or under a professional who owes a duty of confidentiality",
        ),
        "dpa_2018_sch1_para4": (
            "Data Protection Act 2018",
            "Schedule 1 Part 1 paragraph 4",
            "research and statistics",
        ),
        "dpa_2018_sch1_para10": (
            "Data Protection Act 2018",
            "Schedule 1 Part 2 paragraph 10",
            "preventing or detecting unlawful acts",
        ),
        "dpa_2018_sch1_para18": (
            "Data Protection Act 2018",
            "Schedule 1 Part 2 paragraph 18",
            "safeguarding of children and of individuals at risk",
        ),
        "hsca_2012_s251b": (
            "Health and Social Care Act 2012",
            "section 251B",
            "duty to share information for a person's individual care",
        ),
        "nhs_act_2006_s251": (
            "NHS Act 2006",
            "section 251",
            "Confidentiality Advisory Group support for use without consent",
        ),
        "mca_2005_s4": ("Mental Capacity Act 2005", "section 4", "best interests"),
        "mca_2005_s35": (
            "Mental Capacity Act 2005",
            "section 35(6)",
            "an IMCA may examine and copy relevant records",
        ),
        "care_act_2014_s42": ("Care Act 2014", "section 42", "safeguarding enquiries"),
        "care_act_2014_s45": (
            "Care Act 2014",
            "section 45",
            "a Safeguarding Adults Board may require information",
        ),
        "children_act_1989_s47": (
            "Children Act 1989",
            "section 47",
            "enquiries where a child may be suffering significant harm",
        ),
        "children_act_2004_s11": (
            "Children Act 2004",
            "section 11",
            "arrangements to safeguard and promote the welfare of children",
        ),
        "working_together_2023": (
            "Working Together to Safeguard Children",
            "2023 statutory guidance",
            "share information to protect children; consent is not needed to do so",
        ),
        "gra_2004_s22": (
            "Gender Recognition Act 2004",
            "section 22",
            "disclosing protected information about gender history is an offence",
        ),
        "si_2005_916": (
            "Gender Recognition (Disclosure of Information) Order 2005",
            "SI 2005/916",
            "medical purposes exception for disclosure to a health professional",
        ),
        "hfea_1990_s33a": (
            "Human Fertilisation and Embryology Act 1990",
            "section 33A",
            "identifying fertility treatment information may be disclosed only as listed",
        ),
        "aar_2005_regs_41_42": (
            "Adoption Agencies Regulations 2005",
            "regulations 41 and 42",
            "adoption case records are disclosed only as the regulations list",
        ),
        "sexual_health_guidance": (
            "NHS England guidance",
            "sexual health records",
            "kept within the service unless the person consents or treatment needs it",
        ),
        "national_data_opt_out": (
            "NHS England national data opt-out operational policy",
            "national data opt-out",
            "the person's choice that their data is not used beyond their individual care",
        ),
        "crime_and_disorder_act_1998_s115": (
            "Crime and Disorder Act 1998",
            "section 115",
            "a power, not a duty, to disclose to the police",
        ),
        "duaa_2025": (
            "Data (Use and Access) Act 2025",
            "recognised legitimate interests",
            "including safeguarding vulnerable individuals",
        ),
    }.items()
}

CALDICOTT_PRINCIPLES: dict[int, str] = {
    1: "justify the purpose",
    2: "use confidential information only when necessary",
    3: "use the minimum necessary",
    4: "access on a strict need-to-know basis",
    5: "everyone must understand their responsibilities",
    6: "comply with the law",
    7: "the duty to share for individual care is as important as the duty to protect "
    "confidentiality",
    8: "inform patients and service users how their information is used",
}


def article_6(code: str) -> LegalBasis:
    return LegalBasis(framework=UK_GDPR, provision=f"Article {code}", summary=ARTICLE_6[code])


def article_9(code: str) -> LegalBasis:
    return LegalBasis(framework=UK_GDPR, provision=f"Article {code}", summary=ARTICLE_9[code])


def common_law(code: str) -> LegalBasis:
    return LegalBasis(framework=COMMON_LAW, provision=COMMON_LAW_BASES[code])


def caldicott(number: int) -> LegalBasis:
    return LegalBasis(
        framework=CALDICOTT, provision=f"Principle {number}", summary=CALDICOTT_PRINCIPLES[number]
    )
