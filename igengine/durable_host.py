"""The only module that knows durable-rules exists.

durable-rules' defaults are unsafe for a decision service (measured on 2.0.28): the module-level
host is process-global and unlocked; `post` fires only the first matching rule; per-`sid` state
and unretracted facts accumulate; its Host starts timer threads that run actions on other
threads. So each engine creates its own rulesets straight through durable-rules' native API
(no Host, so no timer threads and no shared state), guarded by a lock; every match asserts one
fact (which fires every matching rule) and always retracts it, on one fixed `sid`, so nothing
is left behind between decisions.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import weakref
from collections.abc import Mapping, Sequence

import durable_rules_engine as _dre

_SID = "0"
# Every fact is asserted on the one fixed sid, and retracted before the lock is released.
_FACT_OPEN = '{"sid":"' + _SID + '",'
_names = itertools.count()


class MatchError(RuntimeError):
    """durable-rules failed while matching; the caller must fail closed."""


class DurableMatcher:
    """A compiled pack loaded into durable-rules, one native ruleset per shard. Thread-safe."""

    def __init__(self, rulesets: Mapping[str, Sequence[Mapping[str, str]]]) -> None:
        """`rulesets`: for each shard, its parts (each one ruleset: rule names and their
        definitions as JSON text; see compile.CompiledPack)."""
        prefix = f"ig{next(_names)}"
        self._lock = threading.Lock()
        self._handles: dict[str, tuple[int, ...]] = {}
        created: list[int] = []
        try:
            for shard, parts in rulesets.items():
                handles = []
                for number, rules in enumerate(parts):
                    text = ",".join(
                        f"{json.dumps(name)}:{definition}" for name, definition in rules.items()
                    )
                    handles.append(
                        _dre.create_ruleset(f"{prefix}.{shard}.{number}", "{" + text + "}")
                    )
                    created.append(handles[-1])
                self._handles[shard] = tuple(handles)
        except Exception as exc:
            _release(created)
            raise MatchError(f"durable-rules could not compile the pack: {exc}") from exc
        # Free the native rulesets once no decision holds this matcher any more.
        weakref.finalize(self, _release, created)

    def matching(self, shard: str, members: str) -> list[str]:
        """Names of every rule in `shard` whose conditions the facts satisfy. `members` is the
        text of a non-empty JSON object after its opening brace (`"role":"gp",...}`), without
        `sid` (see compile.FactText)."""
        handles = self._handles.get(shard)
        if handles is None:
            return []
        fact = _FACT_OPEN + members
        with self._lock:
            try:
                if len(handles) == 1:
                    return _assert_and_retract(handles[0], fact)
                return [name for handle in handles for name in _assert_and_retract(handle, fact)]
            except Exception as exc:
                raise MatchError(f"durable-rules failed while matching: {exc}") from exc

    def live_facts(self) -> int:
        """Facts left in any ruleset (always 0 between decisions; the benchmark checks it)."""
        with self._lock:
            return sum(_facts_in(h) for handles in self._handles.values() for h in handles)


def _facts_in(handle: int) -> int:
    try:
        return len(json.loads(_dre.get_facts(handle, _SID)))
    except _dre.error as exc:
        if "309" in str(exc):  # no state yet: this shard has never been asked
            return 0
        raise


def _assert_and_retract(handle: int, fact: str) -> list[str]:
    names: list[str] = []
    try:
        code, state = _dre.assert_fact(handle, fact)
        if code == 2:
            # Already present: an earlier failure left it behind. Clear it and match again.
            _dre.retract_fact(handle, fact)
            code, state = _dre.assert_fact(handle, fact)
        if code == 0:
            started = _dre.start_action_for_state(handle, state)
            message: str | None = started[1] if started else None
            while message:
                # The action message is {"<rule name>": {...}}; only the name is needed.
                names.append(message[2 : message.index('"', 2)])
                message = _dre.complete_and_start_action(handle, state)
    finally:
        _dre.retract_fact(handle, fact)
    return names


def _release(handles: list[int]) -> None:
    for handle in handles:
        # Freeing memory (often at interpreter shutdown) must never raise.
        with contextlib.suppress(Exception):
            _dre.delete_ruleset(handle)
