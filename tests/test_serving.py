"""Deadlines on a connection's request (assistant/web/serving.py), against a real uvicorn server
speaking through the raw socket a slow or hostile client would use."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from assistant.web.serving import Guarded
from tests.conftest import free_port


class Quick(Guarded):
    head_seconds = 0.5
    request_seconds = 1.0
    head_bytes = 4096


async def echo(request: Request) -> PlainTextResponse:
    body = await request.body()
    return PlainTextResponse(f"got {len(body)}")


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    port = free_port()
    app = Starlette(routes=[Route("/", echo, methods=["GET", "POST"])])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=Quick, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.02)
    yield port
    running.should_exit = True
    thread.join(timeout=5)


def talk(port: int, *parts: bytes, pause: float = 0.0, wait: float = 3.0) -> tuple[bytes, float]:
    """Send ``parts`` with ``pause`` between them; what came back and when the server closed."""
    began = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        for part in parts:
            try:
                sock.sendall(part)
            except OSError:
                break  # closed on us mid-way
            time.sleep(pause)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received, time.monotonic() - began


GET = b"GET / HTTP/1.1\r\nhost: x\r\n\r\n"


def test_a_plain_request_and_a_kept_alive_one_are_answered(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=3) as sock:
        for _ in range(2):
            sock.sendall(GET)
            answer = sock.recv(65536)
            assert b"200 OK" in answer and b"got 0" in answer
            time.sleep(0.3)  # idle between requests, under uvicorn's keep-alive


def test_a_connection_that_sends_nothing_is_closed_with_408(server: int) -> None:
    received, took = talk(server)
    assert received.startswith(b"HTTP/1.1 408") and b"within 0.5 s" in received
    assert took < 2.5


def test_headers_trickled_past_the_deadline_are_refused(server: int) -> None:
    trickle = [bytes([b]) for b in b"GET / HTTP/1.1\r\nhost: x\r\nx-slow: 1234567890\r\n"]
    received, took = talk(server, *trickle, pause=0.05)
    assert received.startswith(b"HTTP/1.1 408") and b"its headers" in received
    assert took < 2.5


def test_a_body_that_never_ends_is_refused(server: int) -> None:
    head = b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1000\r\n\r\n"
    received, _ = talk(server, head, b"a" * 10, pause=0.1)
    assert b"408 Request Timeout" in received and b"the whole request" in received


def test_headers_over_the_limit_get_431(server: int) -> None:
    big = b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 8000 + b"\r\n\r\n"
    received, _ = talk(server, big)
    assert received.startswith(b"HTTP/1.1 431")
