"""Start the service under uvicorn (what `igengine serve` does), and make API keys.

Each uvicorn worker builds its own app from IGENGINE_* variables, so the settings are put in
the environment before uvicorn starts, together with anything made up for this run (a one-off
admin key when no keys file is given, the session secret every worker must share).
"""

from __future__ import annotations

import atexit
import logging
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from igengine import packsign
from igengine.audit.url import redact_url
from igengine.audit.writer import READY, URL_VARIABLE
from igengine.policy.validate import load_pack
from service import logs
from service.auth import Access, KeyStore, digest, key_entry, new_key
from service.reload import ReloadCoordinator
from service.settings import Settings, SettingsError
from service.watch import PackWatcher

log = logging.getLogger("igengine.service")


def prepare(settings: Settings) -> Settings:
    """Check what can be checked before any worker starts, and fill in run-time secrets.

    Raises PolicyError, PackSignatureError or SettingsError with a message naming the problem."""
    pack = load_pack(settings.policies)
    if settings.pack_public_key is not None:
        packsign.verify(settings.policies, settings.pack_public_key, pack.version)
    keys = KeyStore.load(settings.keys_file, settings.extra_admin_hashes)
    if len(keys) == 0 and settings.jwt_public_key is None:
        one_off = new_key()
        settings = settings.with_changes(extra_admin_hashes=(digest(one_off),))
        print(_show_one_off_key(one_off), file=sys.stderr)
    if not settings.session_secret:
        settings = settings.with_changes(session_secret=secrets.token_hex(32))
    return settings


def _show_one_off_key(key: str) -> str:
    """Where the one-off admin key can be read, as a message for the start-up output: on a
    terminal, the key itself (shown there only); otherwise, where the output likely goes to a
    log, the path of a file only this user can read, removed when the service stops."""
    advice = (
        "it works until the service stops; for anything but a trial, make lasting keys with "
        "`igengine api-key` and start with --keys-file"
    )
    if sys.stderr.isatty():
        return (
            f"No --keys-file given, so this run has a one-off admin key, shown on this "
            f"terminal only ({advice}):\n\n    {key}\n"
        )
    folder = Path(tempfile.mkdtemp(prefix="igengine-admin-key-"))
    atexit.register(shutil.rmtree, folder, True)
    path = folder / "admin.key"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(key + "\n")
    return (
        f"No --keys-file given, so this run has a one-off admin key. It is not printed here "
        f"(this output may be kept in a log): read it from {path}, readable by you only ("
        f"{advice})"
    )


def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    workers: int,
    log_level: str,
    watch: bool = False,
) -> None:
    """Run until interrupted. Several workers share one audit trail (through one writer
    process) and one metrics view. With `watch`, the pack is reloaded in every worker when
    its files change (service/watch.py).

    Raises SettingsError if the audit trail cannot be opened, or for an unknown log format."""
    settings = settings.with_changes(log_level=log_level)
    logs.configure(settings.log_format, log_level)
    with ExitStack() as stack:
        if settings.audit_url is not None:
            writer = stack.enter_context(AuditWriter.started(settings))
            settings = settings.with_changes(audit_writer=writer.path)
        # Policy reloads go through here, so that they reach every worker.
        coordinator = stack.enter_context(ReloadCoordinator.started())
        settings = settings.with_changes(reload_socket=coordinator.path)
        if watch:
            stack.enter_context(PackWatcher.started(settings.policies, coordinator.reload))
        if settings.session_store is None:
            # The page's sessions, shared by every worker and ended with this run.
            folder = stack.enter_context(_private_folder("igengine-sessions-"))
            settings = settings.with_changes(session_store=folder / "sessions.db")
        _run_uvicorn(settings, host=host, port=port, workers=workers, log_level=log_level)


@contextmanager
def _private_folder(prefix: str) -> Iterator[Path]:
    # mkdtemp makes it readable by this user only.
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run_uvicorn(settings: Settings, *, host: str, port: int, workers: int, log_level: str) -> None:
    os.environ.update(settings.to_env())
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        shared = tempfile.mkdtemp(prefix="igengine-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = shared
        atexit.register(shutil.rmtree, shared, True)
    print(startup_line(settings, host, port), file=sys.stderr)
    log_config = logs.uvicorn_config(settings.log_format) or LOGGING_CONFIG
    uvicorn.run(
        "service.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        # Per-request access lines cost more than a decision; the audit trail is the record.
        access_log=False,
        server_header=False,
        # httptools, plus a bound on header size and deadlines for slow requests.
        http="service.protocol:GuardedHttpToolsProtocol",
        log_config=log_config,
    )


def startup_line(settings: Settings, host: str, port: int) -> str:
    """What `serve` prints at start; the audit store's URL without its password."""
    audit = redact_url(settings.audit_url) if settings.audit_url else "OFF"
    return (
        f"igengine: the page is at http://{host}:{port}/ and the API at "
        f"http://{host}:{port}/v1/decisions (policies: {settings.policies}, audit: {audit})"
    )


def add_key(keys_file: Path, name: str, access: Access) -> str:
    """Make a key, append its digest to `keys_file`, and return the key (shown only once)."""
    existing = KeyStore.load(keys_file) if keys_file.exists() else KeyStore([])
    if name in existing.names():
        raise SettingsError(f"{keys_file}: there is already a key named '{name}'")
    key = new_key()
    entry = key_entry(name, access, digest(key))
    header = (
        ""
        if keys_file.exists()
        else "# igengine API keys: only SHA-256 digests are kept here, never the keys.\n"
    )
    keys_file.parent.mkdir(parents=True, exist_ok=True)
    # Readable by its owner only, like the audit key files: the digests are not the keys,
    # but they say who may call and who is an admin.
    descriptor = os.open(keys_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a") as handle:
        handle.write(header + entry)
    return key


class AuditWriter:
    """The audit writer process (igengine.audit.writer) for one run of the service.

    This process owns the listening socket, so workers can connect from the start and across
    a restart of the writer; a watchdog thread restarts a writer that dies (until then its
    workers answer 503). Stopped after the workers, so their last entries are written."""

    def __init__(self, settings: Settings, folder: Path) -> None:
        self._settings = settings
        self.path = folder / "writer.sock"
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(str(self.path))
        self._listener.listen(128)
        self._stopping = threading.Event()
        # Held while the process is replaced, so `stop` never misses a newly started one.
        self._replacing = threading.Lock()
        self._process = self._start()
        self._watchdog = threading.Thread(target=self._watch, name="igengine-writer-watch")
        self._watchdog.daemon = True
        self._watchdog.start()

    @classmethod
    @contextmanager
    def started(cls, settings: Settings) -> Iterator[AuditWriter]:
        # A private folder: only this user may connect to the socket and write entries.
        folder = Path(tempfile.mkdtemp(prefix="igengine-audit-"))
        try:
            writer = cls(settings, folder)
            try:
                yield writer
            finally:
                writer.stop()
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _start(self) -> subprocess.Popen[bytes]:
        settings = self._settings
        assert settings.audit_url is not None
        fd = self._listener.fileno()
        command = [
            sys.executable, "-m", "igengine.audit.writer", "--fd", str(fd),
            "--hmac-key", str(settings.hmac_key),
            "--checkpoint-every", str(settings.checkpoint_every),
            "--sign-every", str(settings.sign_every),
            *(["--signing-key", str(settings.signing_key)] if settings.signing_key else []),
            *(["--witness", str(settings.audit_witness)] if settings.audit_witness else []),
        ]  # fmt: skip
        # The URL may hold the database password: passed in the environment, which other
        # users cannot read, never on the command line, which `ps` shows to everyone.
        env = {**os.environ, URL_VARIABLE: settings.audit_url}
        process = subprocess.Popen(command, pass_fds=(fd,), stdout=subprocess.PIPE, env=env)
        assert process.stdout is not None
        ready = process.stdout.readline()
        process.stdout.close()
        if ready != READY:
            process.wait()
            raise SettingsError(
                "the audit trail could not be opened (the audit writer exited with code "
                f"{process.returncode}; its message is above)"
            )
        return process

    def _watch(self) -> None:
        while not self._stopping.is_set():
            code = self._process.wait()
            if self._stopping.wait(1.0):
                return
            log.warning(
                "the audit writer stopped (exit code %s); decisions get 503 until it is "
                "back; restarting it",
                code,
                extra={"event": "audit_writer_restart", "exit_code": code},
            )
            with self._replacing:
                if self._stopping.is_set():
                    return
                try:
                    self._process = self._start()
                except SettingsError as exc:
                    log.error(
                        "%s; trying again",
                        exc,
                        extra={"event": "audit_writer_restart_failed", "error": str(exc)},
                    )

    def stop(self) -> None:
        """Stop the writer (it signs a final checkpoint) and close the socket."""
        with self._replacing:
            self._stopping.set()
        self._process.terminate()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._listener.close()
