"""A policy reload reaches every worker of `igengine serve` before it is answered."""

from __future__ import annotations

import json
import shutil
import socket
import threading
from pathlib import Path

import httpx
import pytest
from service_support import ADMIN_KEY, CALLER_KEY, POLICIES, capacity_request, running_service
from service_support import settings as base_settings

from service.reload import ReloadCoordinator

# Each call on a new connection, so the kernel spreads them over both workers.
CALLS = 40


def _versions_served(base: str) -> set[str]:
    seen = set()
    for _ in range(CALLS):
        headers = {"X-API-Key": CALLER_KEY}
        listed = httpx.get(base + "/v1/policies", headers=headers, trust_env=False)
        seen.add(listed.json()["version"])
        decided = httpx.post(
            base + "/v1/decisions", json=capacity_request(), headers=headers, trust_env=False
        )
        seen.add(decided.json()["policy_version"])
    return seen


def _reload(base: str) -> httpx.Response:
    return httpx.post(
        base + "/v1/policies/reload", headers={"X-API-Key": ADMIN_KEY}, timeout=60, trust_env=False
    )


def test_a_reload_reaches_both_workers_and_a_broken_pack_changes_none(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(POLICIES, policies)
    configured = base_settings(tmp_path, policies=policies)
    with running_service(configured, workers=2, log=tmp_path / "service.log") as (base, _):
        [before] = _versions_served(base)
        organisations = policies / "organisations.yaml"
        organisations.write_text(organisations.read_text() + "# edited for the reload test\n")

        reloaded = _reload(base)
        assert reloaded.status_code == 200, reloaded.text
        answer = reloaded.json()
        assert answer["previous_version"] == before != answer["policy_version"]
        assert _versions_served(base) == {answer["policy_version"]}
        assert answer["changed"] and answer["workers"] == 2

        organisations.write_text("organisations: [")  # not YAML any more
        refused = _reload(base)
        assert refused.status_code == 422
        assert refused.json()["policy_version"] == answer["policy_version"]
        assert refused.json()["problems"]
        assert _versions_served(base) == {answer["policy_version"]}


class _FakeWorker:
    """A subscriber that answers `prepare` as told and records what it was asked."""

    def __init__(self, path: Path, version: str, prepared: dict[str, object]) -> None:
        self.asked: list[str] = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.connect(str(path))
        self._file = self._sock.makefile("rb")
        self._send({"op": "subscribe", "version": version})
        assert json.loads(self._file.readline())["ok"]
        self._prepared = prepared
        threading.Thread(target=self._follow, daemon=True).start()

    def _send(self, message: dict[str, object]) -> None:
        self._sock.sendall(json.dumps(message).encode() + b"\n")

    def _follow(self) -> None:
        while line := self._file.readline():
            op = json.loads(line)["op"]
            self.asked.append(op)
            self._send(self._prepared if op == "prepare" else {"ok": True})


def _ask_reload(path: Path) -> dict[str, object]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(str(path))
        sock.sendall(b'{"op": "reload"}\n')
        answer: dict[str, object] = json.loads(sock.makefile("rb").readline())
        return answer


@pytest.mark.parametrize(
    ("second", "expected"),
    [
        ({"ok": False, "problems": ["agreements/x.yaml: bad"]}, "problems"),
        ({"ok": False, "error": "MemoryError: "}, "error"),
        ({"ok": True, "version": "sha256:other"}, "error"),
    ],
    ids=["a worker finds problems", "a worker fails to load", "workers load different packs"],
)
def test_when_any_worker_cannot_take_the_new_pack_none_does(
    second: dict[str, object], expected: str
) -> None:
    with ReloadCoordinator.started() as coordinator:
        one = _FakeWorker(coordinator.path, "sha256:old", {"ok": True, "version": "sha256:new"})
        two = _FakeWorker(coordinator.path, "sha256:old", second)
        answer = _ask_reload(coordinator.path)
        assert answer["ok"] is False and expected in answer
        assert answer["version"] == "sha256:old"
        assert one.asked == ["prepare", "abort"] and two.asked[0] == "prepare"
        assert "commit" not in two.asked


def test_all_workers_commit_when_all_load_the_same_pack() -> None:
    with ReloadCoordinator.started() as coordinator:
        new = {"ok": True, "version": "sha256:new"}
        workers = [_FakeWorker(coordinator.path, "sha256:old", new) for _ in range(3)]
        answer = _ask_reload(coordinator.path)
        assert answer == {"ok": True, "version": "sha256:new", "workers": 3}
        assert all(worker.asked == ["prepare", "commit"] for worker in workers)
