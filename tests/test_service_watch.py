"""`igengine serve --watch`: the pack is reloaded in every worker when its files change, and a
pack broken mid-edit is not loaded (its problems logged) while the previous one is served."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from service_support import CALLER_KEY, POLICIES, capacity_request, running_service
from service_support import settings as base_settings

from service.reload import ReloadCoordinator
from service.watch import PackWatcher

HEADERS = {"X-API-Key": CALLER_KEY}
# Each call on a new connection, so that the kernel spreads them over both workers.
CALLS = 30


def _versions_served(base: str) -> set[str]:
    seen = set()
    for _ in range(CALLS):
        listed = httpx.get(base + "/v1/policies", headers=HEADERS, trust_env=False)
        seen.add(listed.json()["version"])
    return seen


def _until(check: Callable[[], bool], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def _log_lines(log: Path) -> list[dict[str, object]]:
    lines = log.read_text(errors="replace").splitlines()
    return [json.loads(line) for line in lines if line.startswith("{")]


def test_serve_watch_reloads_every_worker_and_keeps_the_old_pack_when_the_new_is_broken(
    tmp_path: Path,
) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    configured = base_settings(tmp_path, policies=policies)
    log = tmp_path / "service.log"
    options = ("--watch", "--log-format", "json", "--log-level", "info")
    with running_service(configured, workers=2, log=log, options=options) as (base, _):
        [before] = _versions_served(base)
        organisations = policies / "organisations.yaml"
        good = organisations.read_text()

        organisations.write_text(good + "# edited while the service runs\n")
        assert _until(lambda: _versions_served(base) - {before} != set()), "no reload happened"
        [after] = _versions_served(base)  # every worker at once, never a mix
        assert after != before

        # Saved half-way through an edit: not a pack any more.
        organisations.write_text(good.replace("sector:", "sectr:", 1))
        broken = lambda: any(line.get("result") == "failed" for line in _log_lines(log))  # noqa: E731
        assert _until(broken), log.read_text()
        assert _versions_served(base) == {after}
        decided = httpx.post(
            base + "/v1/decisions", json=capacity_request(), headers=HEADERS, trust_env=False
        )
        assert decided.status_code == 200 and decided.json()["policy_version"] == after

        organisations.write_text(good)  # the edit finished
        assert _until(lambda: _versions_served(base) == {before}), log.read_text()

    reloads = [line for line in _log_lines(log) if line.get("event") == "reload"]
    assert [line["result"] for line in reloads] == ["ok", "failed", "ok"]
    failed = reloads[1]
    assert failed["policy_version"] == after and failed["files"] == ["organisations.yaml"]
    assert any("sectr" in str(problem) for problem in failed["problems"])  # type: ignore[union-attr]
    assert reloads[0]["workers"] == 2


def test_a_watcher_reloads_through_the_coordinator_only_when_files_change(
    tmp_path: Path,
) -> None:
    """The watcher with a real coordinator and no workers: each settled change asks for one
    reload (which, with nobody connected, reports that no worker was reached)."""
    asked: list[dict[str, object]] = []
    with ReloadCoordinator.started() as coordinator:

        def reload() -> dict[str, object]:
            outcome = coordinator.reload()
            asked.append(outcome)
            return outcome

        with PackWatcher.started(tmp_path, reload):
            time.sleep(0.5)
            assert asked == []
            (tmp_path / "agreement.yaml").write_text("agreements: []\n")
            assert _until(lambda: len(asked) == 1, 10)
    assert asked[0] == {"ok": False, "version": "", "error": "no worker is connected"}
