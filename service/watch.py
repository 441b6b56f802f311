"""`igengine serve --watch`: the policy pack is reloaded in every worker when its files change.

A thread in `serve`'s own process watches the pack's folder (watchfiles, which waits for a
burst of saves to settle before reporting it) and asks the reload coordinator for the same
two-step reload an admin's `POST /v1/policies/reload` gets: every worker loads the new pack
beside the old one and all switch together, or none does. A pack that does not check (a file
saved half-edited) is not loaded: its problems are logged and the previous pack stays in use
until the next change fixes them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import watchfiles

log = logging.getLogger("igengine.service.watch")

# Milliseconds the files must stay unchanged before a reload: an editor's save (write a
# temporary file, rename it over the old one) or a `git checkout` is one change, not several.
SETTLE_MS = 400

Reload = Callable[[], dict[str, Any]]


class PackWatcher:
    """Watches `policies` and calls `reload` (the coordinator's) after each settled change."""

    def __init__(self, policies: Path, reload: Reload) -> None:
        self._policies = policies
        self._reload = reload
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="igengine-watch", daemon=True)

    @classmethod
    @contextmanager
    def started(cls, policies: Path, reload: Reload) -> Iterator[PackWatcher]:
        watcher = cls(policies, reload)
        watcher._thread.start()
        try:
            yield watcher
        finally:
            watcher._stop.set()
            watcher._thread.join(timeout=10)

    def _run(self) -> None:
        log.info(
            "watching %s: the policy pack is reloaded when its files change",
            self._policies,
            extra={"event": "watch", "policies": str(self._policies)},
        )
        changes = watchfiles.watch(
            self._policies, stop_event=self._stop, debounce=SETTLE_MS, raise_interrupt=False
        )
        for changed in changes:
            files = sorted({Path(path).name for _, path in changed})
            log_outcome(self._reload(), trigger="watch", files=files)


def log_outcome(outcome: dict[str, Any], *, trigger: str, files: list[str]) -> None:
    """One log line for a reload's outcome (the coordinator's answer)."""
    fields: dict[str, Any] = {"event": "reload", "trigger": trigger, "files": files}
    if outcome.get("ok"):
        log.info(
            "the policy pack changed (%s): version %s is in use on %d worker(s)",
            ", ".join(files),
            outcome["version"],
            outcome["workers"],
            extra={
                **fields,
                "result": "ok",
                "policy_version": outcome["version"],
                "workers": outcome["workers"],
            },
        )
        return
    served = outcome.get("version")
    problems = [str(p) for p in outcome.get("problems") or []]
    error = outcome.get("error")
    reason = f"{len(problems)} problem(s):\n  " + "\n  ".join(problems) if problems else str(error)
    log.error(
        "the policy pack changed (%s) but was not loaded; version %s is still in use: %s",
        ", ".join(files),
        served,
        reason,
        extra={
            **fields,
            "result": "failed",
            "policy_version": served,
            # All of them (the coordinator already bounds the list): the one that explains the
            # others may come last.
            "problems": problems,
            "problem_count": len(problems),
            "error": error,
        },
    )
