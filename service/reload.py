"""One policy pack in every worker: a reload reaches all of `igengine serve`'s workers before
it is answered.

`serve` (the parent process) runs a `ReloadCoordinator` on a private Unix socket. Each worker
subscribes to it when it starts. An admin reload, whichever worker receives it, asks the
coordinator, which does a two-step change over all subscribed workers:

1. prepare: every worker loads and compiles the pack from disk, beside the one it serves;
2. if every worker loaded the same version, commit: each puts it in use; otherwise abort:
   each drops what it prepared, so the old pack stays in use everywhere.

The answer names the version now served by every worker, or says why nothing changed.
A service run without `serve` (one process, tests) reloads in its own process the same way.
Messages are JSON objects, one a line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool

from igengine import Engine, PolicyError, packsign
from igengine.packsign import PackSignatureError
from service import heap
from service.settings import SettingsError
from service.state import ServiceState

log = logging.getLogger("igengine.service")

# Loading a large pack takes seconds; a worker silent for this long is not answering.
PREPARE_TIMEOUT = 120.0
# Commit and abort are a pointer swap.
STEP_TIMEOUT = 10.0
# A worker waits this long at start to join; without it, reloads would not reach it.
SUBSCRIBE_TIMEOUT = 10.0
MAX_LINE = 1 << 20
# More problems than this in one answer help nobody; the count says how many there were.
MAX_PROBLEMS = 200

Message = dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    """What a reload did. `version` is the pack now served by every worker."""

    version: str
    changed_workers: int = 0
    problems: list[str] | None = None
    error: str | None = None


# ---- the worker's side ------------------------------------------------------------------


class Staging:
    """One worker's pack being prepared, then put in use or dropped."""

    def __init__(self, state: ServiceState) -> None:
        self._state = state
        self._staged: Engine | None = None

    async def handle(self, message: Message) -> Message:
        op = message.get("op")
        if op == "prepare":
            return await self.prepare()
        if op == "commit":
            return self.commit()
        if op == "abort":
            self._staged = None
            return {"ok": True}
        return {"ok": False, "error": f"unknown operation {op!r}"}

    async def prepare(self) -> Message:
        state = self._state
        try:
            engine = await run_in_threadpool(_load, state)
        except PackSignatureError as exc:
            return {"ok": False, "problems": [str(exc)]}
        except PolicyError as exc:
            problems = exc.lines()
            if len(problems) > MAX_PROBLEMS:
                more = len(problems) - MAX_PROBLEMS
                problems = [*problems[:MAX_PROBLEMS], f"... and {more} more"]
            return {"ok": False, "problems": problems}
        except Exception as exc:  # any failure to load leaves the served pack alone
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        self._staged = engine
        return {"ok": True, "version": engine.pack.version}

    def commit(self) -> Message:
        staged, self._staged = self._staged, None
        if staged is None:
            return {"ok": False, "error": "no pack was prepared"}
        state = self._state
        state.engine = staged
        state.metrics.rules_loaded.set(len(staged.pack.rules))
        heap.settle()
        return {"ok": True, "version": staged.pack.version}


def _load(state: ServiceState) -> Engine:
    engine = Engine.from_directory(state.settings.policies)
    key = state.settings.pack_public_key
    if key is not None:
        # Checked against the version loaded, so a file changed while loading shows too.
        packsign.verify(state.settings.policies, key, engine.pack.version)
    return engine


async def reload_here(state: ServiceState) -> Outcome:
    """The reload of a service running as one process (no coordinator)."""
    staging = Staging(state)
    prepared = await staging.prepare()
    if not prepared["ok"]:
        return _failed(state.engine.pack.version, prepared)
    staging.commit()
    return Outcome(version=state.engine.pack.version, changed_workers=1)


async def reload_everywhere(state: ServiceState) -> Outcome:
    """Reload every worker of this service (see the module's description)."""
    path = state.settings.reload_socket
    if path is None:
        return await reload_here(state)
    current = state.engine.pack.version
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=MAX_LINE)
    except OSError as exc:
        return Outcome(version=current, error=f"the reload coordinator is not reachable: {exc}")
    try:
        await _send(writer, {"op": "reload"})
        reply = await asyncio.wait_for(_receive(reader), PREPARE_TIMEOUT + 4 * STEP_TIMEOUT)
    except (OSError, TimeoutError, ValueError) as exc:
        return Outcome(version=current, error=f"the reload coordinator did not answer: {exc}")
    finally:
        writer.close()
    if reply is None:
        return Outcome(version=current, error="the reload coordinator closed the connection")
    if not reply.get("ok"):
        return _failed(str(reply.get("version", current)), reply)
    return Outcome(version=str(reply["version"]), changed_workers=int(reply["workers"]))


def _failed(version: str, reply: Message) -> Outcome:
    problems = reply.get("problems")
    if isinstance(problems, list):
        return Outcome(version=version, problems=[str(p) for p in problems])
    return Outcome(version=version, error=str(reply.get("error", "the reload failed")))


async def subscribe(state: ServiceState, joined: asyncio.Event) -> None:
    """Follow the coordinator's instructions for this worker's life; `joined` is set once
    the coordinator knows this worker. Reconnects if the connection drops (a worker cut
    off for not answering in time)."""
    path = state.settings.reload_socket
    assert path is not None
    staging = Staging(state)
    while True:
        try:
            reader, writer = await asyncio.open_unix_connection(str(path), limit=MAX_LINE)
        except OSError:
            await asyncio.sleep(0.5)
            continue
        try:
            await _follow(state, staging, reader, writer, joined)
        except (OSError, ValueError) as exc:
            log.warning("lost the reload coordinator (%s); joining again", exc)
        finally:
            writer.close()
        await asyncio.sleep(0.5)


async def _follow(
    state: ServiceState,
    staging: Staging,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    joined: asyncio.Event,
) -> None:
    await _send(writer, {"op": "subscribe", "version": state.engine.pack.version})
    welcome = await _receive(reader)
    if welcome is None:
        return
    served = welcome.get("served")
    if served is not None and served != state.engine.pack.version:
        # A reload happened between this worker loading its pack and joining.
        await reload_here(state)
        if state.engine.pack.version != served:
            log.error(
                "this worker serves policy version %s but the others serve %s; reload "
                "the policies to bring every worker to one pack",
                state.engine.pack.version,
                served,
            )
    joined.set()
    while (message := await _receive(reader)) is not None:
        await _send(writer, await staging.handle(message))


async def _send(writer: asyncio.StreamWriter, message: Message) -> None:
    writer.write(json.dumps(message).encode() + b"\n")
    await writer.drain()


async def _receive(reader: asyncio.StreamReader) -> Message | None:
    line = await reader.readline()
    if not line:
        return None
    message = json.loads(line)
    if not isinstance(message, dict):
        raise ValueError("expected a JSON object")
    return message


async def joined_coordinator(state: ServiceState) -> asyncio.Task[None] | None:
    """Start following the coordinator (if `serve` runs one) and wait until joined.

    Raises SettingsError if it cannot be joined: a worker that reloads would not reach must
    not serve."""
    if state.settings.reload_socket is None:
        return None
    joined = asyncio.Event()
    task = asyncio.create_task(subscribe(state, joined))
    try:
        await asyncio.wait_for(joined.wait(), SUBSCRIBE_TIMEOUT)
    except TimeoutError:
        task.cancel()
        raise SettingsError(
            f"could not join the reload coordinator at {state.settings.reload_socket}"
        ) from None
    return task


# ---- the coordinator (in `serve`'s own process) -----------------------------------------


class _Peer:
    """One connection to the coordinator, read and written with blocking calls."""

    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn
        self._file = conn.makefile("rb")

    def send(self, message: Message) -> None:
        self.conn.sendall(json.dumps(message).encode() + b"\n")

    def receive(self, timeout: float) -> Message | None:
        """The next message; None if the peer closed. Raises OSError/TimeoutError/ValueError."""
        self.conn.settimeout(max(timeout, 0.001))
        line = self._file.readline(MAX_LINE)
        if not line:
            return None
        message = json.loads(line)
        if not isinstance(message, dict):
            raise ValueError("expected a JSON object")
        return message

    def close(self) -> None:
        with suppress(OSError):
            self._file.close()
            self.conn.close()


class ReloadCoordinator:
    """Runs in `serve`'s process: knows every worker, and changes their pack together."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "reload.sock"
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.path))
        self._listener.listen(64)
        # Held for a whole reload and while a worker joins, so a joining worker is either
        # in a reload or sees its result.
        self._lock = threading.Lock()
        self._workers: list[_Peer] = []
        self._served: str | None = None
        thread = threading.Thread(target=self._accept, name="igengine-reload", daemon=True)
        thread.start()

    @classmethod
    @contextmanager
    def started(cls) -> Iterator[ReloadCoordinator]:
        # A private folder: only this user may connect and ask for a reload.
        folder = Path(tempfile.mkdtemp(prefix="igengine-reload-"))
        try:
            coordinator = cls(folder)
            try:
                yield coordinator
            finally:
                coordinator.close()
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def close(self) -> None:
        with suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        with self._lock:
            for peer in self._workers:
                peer.close()
            self._workers = []

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._greet, args=(_Peer(conn),), daemon=True).start()

    def _greet(self, peer: _Peer) -> None:
        try:
            first = peer.receive(STEP_TIMEOUT)
            op = first.get("op") if first else None
            if op == "subscribe" and first is not None:
                self._join(peer, str(first.get("version")))
                return
            if op == "reload":
                peer.send(self.reload())
        except (OSError, ValueError) as exc:
            log.warning("reload coordinator: a connection failed: %s", exc)
        peer.close()

    def reload(self) -> Message:
        """Reload every worker now, as an admin's reload does; the outcome: `ok`, `version`
        (served by every worker after it) and `workers`, or `problems` or `error`."""
        with self._lock:
            return self._reload()

    def _join(self, peer: _Peer, version: str) -> None:
        with self._lock:
            if self._served is None:
                self._served = version
            peer.send({"ok": True, "served": self._served})
            self._workers.append(peer)

    def _reload(self) -> Message:
        """Prepare on every worker, then commit if all agree, else abort."""
        served = self._served or ""
        answered, failure = self._prepare_all()
        versions = {str(reply.get("version")) for reply in answered.values()}
        if failure is None and not answered:
            failure = {"error": "no worker is connected"}
        if failure is None and len(versions) != 1:
            failure = {
                "error": "the workers loaded different versions ("
                + ", ".join(sorted(versions))
                + "): the files changed during the reload; try again"
            }
        if failure is not None:
            self._step_all(list(answered), {"op": "abort"})
            return {"ok": False, "version": served, **failure}
        [version] = versions
        committed = self._step_all(list(answered), {"op": "commit"})
        if committed < len(answered):
            return {
                "ok": False,
                "version": served,
                "error": f"version {version} was put in use by {committed} of {len(answered)} "
                "workers; the others stopped answering (a restarted worker loads the pack "
                "from disk)",
            }
        self._served = version
        return {"ok": True, "version": version, "workers": committed}

    def _prepare_all(self) -> tuple[dict[_Peer, Message], Message | None]:
        """Each worker's answer to prepare (all at once: they load in parallel), and the
        first reason to abort. Workers gone are forgotten; one too slow is cut off (it
        joins again) and the reload aborted."""
        sent = [peer for peer in self._workers if self._told(peer, {"op": "prepare"})]
        answered: dict[_Peer, Message] = {}
        failure: Message | None = None
        deadline = time.monotonic() + PREPARE_TIMEOUT
        for peer in sent:
            try:
                reply = peer.receive(deadline - time.monotonic())
            except (OSError, ValueError) as exc:
                peer.close()
                failure = failure or {"error": f"a worker did not answer in time ({exc})"}
                continue
            if reply is None:
                peer.close()  # that worker has stopped; it does not serve anything
                continue
            answered[peer] = reply
            if not reply.get("ok") and failure is None:
                failure = {k: reply[k] for k in ("problems", "error") if k in reply}
        self._workers = list(answered)
        return answered, failure

    def _told(self, peer: _Peer, message: Message) -> bool:
        try:
            peer.send(message)
        except OSError:
            peer.close()
            return False
        return True

    def _step_all(self, peers: list[_Peer], message: Message) -> int:
        """Send commit or abort to every peer; how many acknowledged it."""
        done = 0
        for peer in [p for p in peers if self._told(p, message)]:
            try:
                reply = peer.receive(STEP_TIMEOUT)
            except (OSError, ValueError):
                reply = None
            if reply is None:
                peer.close()
                self._workers = [w for w in self._workers if w is not peer]
            elif reply.get("ok"):
                done += 1
        return done
