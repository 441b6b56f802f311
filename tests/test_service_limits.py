"""Nobody unauthenticated can make a worker hold a huge request, or hold a connection open by
sending slowly: bodies on every route, request headers, and read deadlines."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from service_support import CALLER_KEY, FakeTrail, running_service, settings, sign_in

from service import create_app

MIB = 1 << 20


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    # An iterator body goes out chunked: no Content-Length for the server to check first.
    for _ in range(total // size):
        yield b"k" * size


# Every route that reads a body. The others never buffer one: uvicorn stops reading past
# 64 KiB until the app asks, and drops the rest once it has answered.
@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/login", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("/", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("/v1/decisions", {"X-API-Key": CALLER_KEY}),
        ("/access/v1/evaluation", {"X-API-Key": CALLER_KEY}),
    ],
)
def test_a_chunked_body_over_the_limit_is_refused_on_every_route(
    tmp_path: Path, path: str, headers: dict[str, str]
) -> None:
    client = TestClient(create_app(settings(tmp_path), trail=FakeTrail()))
    if path == "/":  # the page reads its form only for a signed-in user
        sign_in(client)
    response = client.post(path, content=_chunks(2 * MIB), headers=headers)
    assert response.status_code == 413, response.text
    assert "the request body is over" in response.json()["error"]


def test_a_declared_length_over_the_limit_is_refused_before_sign_in(tmp_path: Path) -> None:
    client = TestClient(create_app(settings(tmp_path), trail=FakeTrail()))
    response = client.post("/login", content=b"k" * (MIB + 1))
    assert response.status_code == 413


def _read_all(sock: socket.socket, limit: float) -> bytes:
    """What the server sends until it closes the connection (socket.timeout if it does not)."""
    sock.settimeout(limit)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass  # it closed with our unread bytes pending; what it sent first is kept
    return received


def _dribble(sock: socket.socket, piece: bytes, interval: float, for_seconds: float) -> None:
    """Send `piece` every `interval` seconds until the server answers or closes, or time is up."""
    started = time.monotonic()
    while time.monotonic() - started < for_seconds:
        readable, _, _ = select.select([sock], [], [], interval)
        if readable:
            return
        try:
            sock.sendall(piece)
        except OSError:
            return


def _connect(base: str) -> socket.socket:
    host, port = base.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    configured = settings(tmp_path, header_timeout=1, body_timeout=1)
    with running_service(configured, log=tmp_path / "service.log") as (base, _):
        yield base


def test_a_huge_request_header_is_refused(server: str) -> None:
    with _connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        _dribble(sock, b"a" * 16384, 0.01, 10)
        answer = _read_all(sock, 10)
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_headers_sent_slowly_are_timed_out(server: str) -> None:
    with _connect(server) as sock:
        sock.sendall(b"POST /login HTTP/1.1\r\nHost: x\r\n")
        # A header line every 0.2 s would go on for ever; the limit is 1 s.
        _dribble(sock, b"X-Slow: a\r\n", 0.2, 10)
        answer = _read_all(sock, 10)
    assert answer.startswith(b"HTTP/1.1 408 ")


@pytest.mark.parametrize("path", [b"/login", b"/v1/decisions"])
def test_a_body_sent_slowly_is_timed_out(server: str, path: bytes, tmp_path: Path) -> None:
    with _connect(server) as sock:
        sock.sendall(
            b"POST " + path + b" HTTP/1.1\r\nHost: x\r\nX-API-Key: " + CALLER_KEY.encode()
            + b"\r\nContent-Type: application/x-www-form-urlencoded"
            b"\r\nContent-Length: 1000\r\n\r\nkey="
        )  # fmt: skip
        _dribble(sock, b"a", 0.2, 10)
        answer = _read_all(sock, 10)
    assert answer.startswith(b"HTTP/1.1 408 ")
    # The handler left waiting for the rest of the body stops quietly.
    assert httpx.get(server + "/healthz", trust_env=False).status_code == 200
    assert "Traceback" not in (tmp_path / "service.log").read_text()


def test_a_connection_that_sends_nothing_is_closed(server: str) -> None:
    with _connect(server) as sock:
        assert _read_all(sock, 10) == b""
