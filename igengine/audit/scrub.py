"""Keep identifiers out of the free text stored in the trail (a request's justification).

Staff quote the person's identifier in what they type, in whatever form they write it: an NHS
number as "9434765919", "943 476 5919" or "943-476-5919". Each written form of the subject's
identifier is replaced by the person's pseudonym, and so is any NHS number (ten digits with a
valid check digit), whoever it belongs to. Only whole tokens are replaced: a short identifier
such as "D" is not the "D" of "ED".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

Pseudonym = Callable[[str], str]

# A run of ASCII digit groups, separated by spaces or a dash, standing as a whole token.
_DIGIT_RUN = re.compile(r"(?<!\w)[0-9]+(?:(?:[ \t]*-[ \t]*|[ \t]+)[0-9]+)*(?!\w)")
_GROUP = re.compile(r"[0-9]+")
_ANY_DIGIT = re.compile(r"[0-9]")
# How NHS numbers are written: all ten digits together, or in groups of 3, 3 and 4.
_NHS_GROUPINGS = ((10,), (3, 3, 4))
_NHS_WEIGHTS = range(10, 1, -1)


def is_nhs_number(digits: str) -> bool:
    """Ten ASCII digits whose last is the modulus 11 check digit of the first nine."""
    if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
        return False
    remainder = sum(int(d) * w for d, w in zip(digits, _NHS_WEIGHTS, strict=False)) % 11
    check = (11 - remainder) % 11
    return check != 10 and check == int(digits[9])


def scrub(
    text: str, identifier: str | None, pseudonym: Pseudonym | None, person: str | None = None
) -> str:
    """`text` with every written form of `identifier` replaced by the person's pseudonym
    (`person`, when the caller has it already), and every other NHS number by its own
    pseudonym ("[NHS number]" without a pseudonymiser)."""
    # The common case, checked first and cheaply: no number in the text, and the id (as
    # written, or without its spaces) nowhere in it either.
    if _ANY_DIGIT.search(text) is None and not _may_hold(text, identifier):
        return text
    subject = _Subject.of(identifier, pseudonym, person)
    if subject is not None and subject.appears_in(text):
        text = subject.words().sub(subject.label, text)
    if _ANY_DIGIT.search(text) is None:
        return text
    return _DIGIT_RUN.sub(lambda run: _scrub_run(run.group(), subject, pseudonym), text)


def _may_hold(text: str, identifier: str | None) -> bool:
    if identifier is None:
        return False
    return identifier.strip() in text or "".join(identifier.split()) in text


@dataclass(frozen=True, slots=True)
class _Subject:
    """The subject's identifier as it may be written: its digits, when it is a number (any
    spacing or dashes), else its exact text as a whole token."""

    label: str
    digits: str | None
    forms: tuple[str, ...]

    @classmethod
    def of(
        cls, identifier: str | None, pseudonym: Pseudonym | None, person: str | None
    ) -> _Subject | None:
        if identifier is None or pseudonym is None:
            return None
        compact = "".join(identifier.split())
        if not compact:
            return None
        label = f"[person {(person or pseudonym(identifier))[:12]}]"
        digits = compact.replace("-", "")
        if digits.isascii() and digits.isdigit():
            return cls(label, digits, ())
        # Longest first, so the whole of a spaced form is taken before its parts.
        forms = tuple(sorted({identifier.strip(), compact}, key=len, reverse=True))
        return cls(label, None, forms)

    def appears_in(self, text: str) -> bool:
        return any(form in text for form in self.forms)

    def words(self) -> re.Pattern[str]:
        """The written forms as whole tokens (compiled only once one of them is seen)."""
        alternatives = "|".join(re.escape(form) for form in self.forms)
        return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")


def _scrub_run(run: str, subject: _Subject | None, pseudonym: Pseudonym | None) -> str:
    """Replace, within one run of digit groups, each stretch of whole groups that spells the
    subject's number or an NHS number; other groups are left as written."""
    groups = [(match.start(), match.end()) for match in _GROUP.finditer(run)]
    pieces: list[str] = []
    written = 0
    index = 0
    while index < len(groups):
        found = _match_at(run, groups, index, subject, pseudonym)
        if found is None:
            index += 1
            continue
        last, label = found
        pieces += [run[written : groups[index][0]], label]
        written = groups[last][1]
        index = last + 1
    return "".join(pieces) + run[written:]


def _match_at(
    run: str,
    groups: list[tuple[int, int]],
    first: int,
    subject: _Subject | None,
    pseudonym: Pseudonym | None,
) -> tuple[int, str] | None:
    """The last group and the replacement of the longest identifier starting at `first`."""
    digits = ""
    found: tuple[int, str] | None = None
    longest = max(10, len(subject.digits or "")) if subject is not None else 10
    for last in range(first, len(groups)):
        digits += run[groups[last][0] : groups[last][1]]
        if subject is not None and digits == subject.digits:
            found = (last, subject.label)
        elif _nhs_grouping(groups[first : last + 1]) and is_nhs_number(digits):
            label = f"[person {pseudonym(digits)[:12]}]" if pseudonym else "[NHS number]"
            found = (last, label)
        if len(digits) >= longest:
            break
    return found


def _nhs_grouping(groups: list[tuple[int, int]]) -> bool:
    return tuple(end - start for start, end in groups) in _NHS_GROUPINGS
