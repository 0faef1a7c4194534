"""Deadlines on a connection's request, for a server that faces the open web.

uvicorn closes a kept-alive connection that stays idle after a response, but it gives a request
itself all the time in the world: a connection that sends nothing, headers trickled a byte at a
time, a body that never ends, or headers of any size. Each such connection holds a file
descriptor, and about a thousand of them from one client refuse every other (the fifth outside
tester's finding). ``Guarded`` is uvicorn's own protocol (httptools) with three limits:

- a request's head (the request line and headers) must arrive within ``HEAD_SECONDS`` of the
  connection opening, or of its first byte on a kept-alive connection;
- the whole request, body included, within ``REQUEST_SECONDS`` of its head;
- the head may not exceed ``HEAD_BYTES``.

Past a limit, before the app has begun its response, the connection is answered 408 (or 431)
and closed. Once the app answers, the app's own deadlines rule (an answer may stream for long).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

HEAD_SECONDS = 10.0
REQUEST_SECONDS = 60.0
HEAD_BYTES = 64 * 1024


class Guarded(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines on each request (module docstring)."""

    head_seconds = HEAD_SECONDS
    request_seconds = REQUEST_SECONDS
    head_bytes = HEAD_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._in_head = True  # between requests, or reading one's head
        self._head_seen = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.head_seconds, "its headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            if self._timer is None:  # a kept-alive connection's next request begins
                self._arm(self.head_seconds, "its headers")
            self._head_seen += len(data)
            if self._head_seen > self.head_bytes:
                self._refuse(431, f"The request's headers exceed {self.head_bytes // 1024} KB.")
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head, self._head_seen = False, 0
        self._arm(self.request_seconds, "the whole request")
        super().on_headers_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the connection is the WebSocket protocol's now
        super().handle_websocket_upgrade()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._in_head = True
        super().on_response_complete()

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        self._timer = self.loop.call_later(seconds, self._expired, seconds, what)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self, seconds: float, what: str) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self.cycle is not None and self.cycle.response_started:
            return  # the app is answering: its deadlines rule
        self._refuse(408, f"The request did not send {what} within {seconds:g} s.")

    def _refuse(self, status: int, why: str) -> None:
        reason = {408: "Request Timeout", 431: "Request Header Fields Too Large"}[status]
        body = f"{why} The connection is closed.\n".encode()
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        log.warning("%s: %d, %s", client, status, why)
        self.transport.write(
            f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
            + body
        )
        self._disarm()
        self.transport.close()
