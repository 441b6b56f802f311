"""The engine is safe to share between threads, leaks no state, and reloads atomically."""

from __future__ import annotations

import itertools
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import packs

from igengine import Engine

SHIPPED = Engine.from_directory("policies")
ORGS = sorted(SHIPPED.pack.organisations)


def varied_requests(count: int) -> list[dict[str, Any]]:
    """Deterministic, varied requests against the shipped pack (permits and denies alike)."""
    combos = itertools.cycle(
        itertools.product(
            packs.codes("roles")[::3],
            ORGS[::2],
            packs.codes("purposes"),
            packs.codes("record_types")[::2],
            packs.choices("relationship"),
            packs.choices("consent"),
            [False, True],
        )
    )
    requests = []
    for role, org, purpose, record, relationship, consent, objection in itertools.islice(
        combos, count
    ):
        requests.append(
            {
                "requester": {"role": role, "organisation": org},
                "holder": {"organisation": "RNG"},
                "purpose": purpose,
                "record_type": record,
                "subject": {
                    "relationship": relationship,
                    "consent": consent,
                    "objection": objection,
                    "age": 40,
                },
                "justification": "patient unconscious" if objection else None,
                "at": "2026-06-01T12:00:00Z",
            }
        )
    return requests


def answer(decision: Any) -> tuple[Any, ...]:
    return (
        decision.effect,
        tuple((r.id, r.role) for r in decision.rules),
        tuple(map(str, decision.would_permit_if)),
        decision.error,
    )


def test_eight_threads_get_the_same_answers_as_one() -> None:
    requests = varied_requests(4000)
    expected = [answer(SHIPPED.decide(r)) for r in requests]
    assert {e[0] for e in expected} == {"permit", "deny"}
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda r: answer(SHIPPED.decide(r)), requests))
    assert got == expected
    assert all(e[3] is None for e in got)


def test_decision_ids_from_eight_threads_are_distinct_version_4_uuids() -> None:
    # Each is the key of an audit entry: a repeat would make two decisions one.
    requests = varied_requests(2000)
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda r: SHIPPED.decide(r).decision_id, requests))
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(hex=i).version == 4 and len(i) == 32 for i in ids)


def test_no_state_left_behind_after_many_distinct_requests() -> None:
    # durable-rules allows 1,024 live states per ruleset and keeps unretracted facts: neither
    # may build up, whatever the requests.
    for request in varied_requests(3000):
        assert SHIPPED.decide(request).error is None
    assert SHIPPED._snapshot.matcher.live_facts() == 0


def test_reload_while_deciding_gives_one_pack_or_the_other(tmp_path: Path) -> None:
    directory = packs.write(tmp_path, packs.agreement([packs.deny("no", when={})]))
    engine = Engine.from_directory(directory)
    old = engine.policy_version
    stop = threading.Event()
    seen: list[tuple[str, str]] = []

    def ask() -> None:
        while not stop.is_set():
            decision = engine.decide(packs.request())
            seen.append((decision.policy_version, decision.effect))

    workers = [threading.Thread(target=ask) for _ in range(4)]
    for worker in workers:
        worker.start()
    packs.write(tmp_path, packs.agreement([packs.permit("share")]))
    new = engine.reload()
    for _ in range(200):
        engine.decide(packs.request())
    stop.set()
    for worker in workers:
        worker.join()
    # Every answer is consistent with the pack version it names: never a mix.
    assert set(seen) <= {(old, "deny"), (new, "permit")}
    assert (new, "permit") in seen


def test_a_forked_process_makes_decision_ids_of_its_own() -> None:
    # Decision ids come from a buffer of random bytes; a child forked after the parent has
    # drawn some must not repeat the ids the parent goes on to make.
    SHIPPED.decide(varied_requests(1)[0])
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write its next id and leave at once
        os.write(write, SHIPPED.decide(varied_requests(1)[0]).decision_id.encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    parent = SHIPPED.decide(varied_requests(1)[0]).decision_id
    assert len(child) == 32 and child != parent
