"""A chat-completions stream read lean: the raw SSE body in, the few fields we use out.

The ``openai`` client still makes the request (``with_streaming_response``: its headers,
retries off, status errors, timeouts), but its ``Stream`` builds a pydantic
``ChatCompletionChunk`` for every chunk, and a model streams a few characters a chunk: reading
one answer that way cost about 0.9 ms of CPU per chunk with a hundred answers streaming at once,
more than everything else the answer needs (``bench/llm_stream.py``). Here each chunk is one
``json.loads`` and a few dict look-ups, and the chunks one read of the socket brought come out
together (``bench/llm_stream.py``: 125 ms of CPU per streamed answer through ``Stream``, 34 ms
with this reader read in the answer's own thread).

What it keeps of the client's behaviour, which ``assistant.failures`` relies on:

- ``: keep-alive`` comments and blank lines between events are skipped;
- ``data: [DONE]`` ends the stream; a body that ends without it ends quietly (the finish
  reason, checked by the caller, tells a cut stream from a whole one);
- a ``data:`` payload that is not JSON, or not a chunk's shape, raises ``ValueError``;
- a payload carrying an ``error`` object raises ``openai.APIError`` with its message;
- a read that times out or a connection that breaks raise ``openai.APITimeoutError`` and
  ``openai.APIConnectionError``, as the client's own stream does.

After ``[DONE]`` the body is read to its end, so that the connection goes back to the client's
pool for the next request instead of being closed (the ``openai`` client's own stream stops at
``[DONE]`` and closes it: a new TCP connection, and against the real API a TLS handshake, for
every request). What may follow is the chunked body's last 5 bytes: at most ``DRAIN_BYTES`` are
read, for at most ``DRAIN_SECONDS`` (``cancel.after`` shuts the socket down under a read that
waits longer); past either bound, or on an error, the connection is closed as before and the
answer is complete all the same.

A streamed body is read from its socket every so often (``paced``), not as each chunk comes.
A model sends a few characters a chunk, a chunk every few tens of milliseconds; read as they
came, each chunk woke the answer's thread on its own, and with a couple of hundred answers
streaming the wake-ups and the interpreter lock they contend for cost more than the parsing.
Read every so often, one read brings the chunks that came meanwhile. How often follows how many
streams are being read (``pace``): all of them together at most ``READS_PER_SECOND`` times a
second, each one at most every ``FASTEST`` and at least every ``SLOWEST`` seconds. A reader sees
the text at most that much later (the gate shows whole sentences, a second or more apart), and
a cancel still ends the wait at once. A reply wanted whole (``unpaced``: the question's
rewrite, which the answer waits for) is read as it comes: pacing it would only delay the answer.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import openai

from assistant import cancel

DRAIN_BYTES = 4096  # what the body may still hold after [DONE] (its end is 5 bytes)
DRAIN_SECONDS = 0.25  # how long a read after [DONE] may wait for it
READS_PER_SECOND = 250  # reads of the streams' sockets a second, all of them together...
FASTEST = 0.1  # ...but each stream read at most every this many seconds...
SLOWEST = 0.5  # ...and at least every this many


@dataclass(slots=True)
class Chunk:
    """What one chunk says: its content delta, whether it carried reasoning, its finish reason,
    and the usage report (the last chunk's, with ``include_usage``)."""

    content: str = ""
    reasoning: bool = False
    finish: str | None = None
    usage: dict[str, Any] | None = None


class Done(Exception):
    """``data: [DONE]``: the stream is over."""


def parse(payload: bytes, request: httpx2.Request) -> Chunk:
    """One event's data as a ``Chunk``; raises ``Done``, ``ValueError`` or ``openai.APIError``."""
    if payload.startswith(b"[DONE]"):
        raise Done
    data = json.loads(payload)  # a JSONDecodeError is a ValueError
    if not isinstance(data, dict):
        raise ValueError("a stream chunk that is not a JSON object")
    error = data.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else None
        if not isinstance(message, str) or not message:
            message = "An error occurred during streaming"
        raise openai.APIError(message, request, body=error)
    chunk = Chunk()
    usage = data.get("usage")
    if usage is not None:
        if not isinstance(usage, dict):
            raise ValueError("a usage report that is not an object")
        chunk.usage = usage
    choices = data.get("choices")
    if choices is None:
        return chunk
    if not isinstance(choices, list):
        raise ValueError("choices that are not a list")
    if choices:
        choice = choices[0]
        delta = choice.get("delta") if isinstance(choice, dict) else None
        if not isinstance(delta, dict):
            raise ValueError("a choice without a delta object")
        content = delta.get("content")
        if content is not None and not isinstance(content, str):
            raise ValueError("content that is not a string")
        chunk.content = content or ""
        chunk.reasoning = bool(delta.get("reasoning_content"))
        finish = choice.get("finish_reason")
        chunk.finish = finish if isinstance(finish, str) else None
    return chunk


class Decoder:
    """Server-Sent Events, incrementally: bytes as they arrive in, chunks out.

    Lines end in LF, CRLF or CR; ``data:`` lines gather until a blank line ends the event (an
    event the body cuts off before its blank line is dropped, as the SSE standard says);
    comments and other fields are ignored.
    """

    def __init__(self, request: httpx2.Request) -> None:
        self._request = request
        self._rest = b""
        self._skip_lf = False
        self._data: list[bytes] = []
        self.done = False

    def feed(self, data: bytes) -> list[Chunk]:
        """The chunks completed by ``data``; after ``[DONE]``, ``done`` is set."""
        buffer = self._rest + data
        if self._skip_lf and buffer.startswith(b"\n"):
            buffer = buffer[1:]  # the LF of a CRLF that the last read split
        lines = buffer.splitlines(keepends=True)
        self._rest, self._skip_lf = b"", False
        if lines and not lines[-1].endswith((b"\n", b"\r")):
            self._rest = lines.pop()  # a line without its end waits for the next read
        elif lines and lines[-1].endswith(b"\r"):
            self._skip_lf = True
        chunks: list[Chunk] = []
        for line in lines:
            line = line.rstrip(b"\r\n")
            if not line:
                if self._data:
                    payload, self._data = b"\n".join(self._data), []
                    try:
                        chunks.append(parse(payload, self._request))
                    except Done:
                        self.done = True
                        return chunks
            elif line.startswith(b"data:"):
                value = line[5:]
                self._data.append(value[1:] if value.startswith(b" ") else value)
            # ":" comments (keep-alives), "event:", "id:", "retry:": nothing we use
        return chunks


def read(response: httpx2.Response) -> Iterator[list[Chunk]]:
    """The chunks of a streamed response, a list per HTTP chunk (empty when it brought only
    keep-alives or part of an event: the caller looks at its clocks then), until ``[DONE]`` or
    the end of the body; errors as the ``openai`` client's own stream raises them. The socket is
    read at the ``pace`` of the moment (``paced``). After ``[DONE]``, the rest of the body is
    read (bounded, unpaced) before the iterator ends."""
    decoder = Decoder(response.request)
    body = response.iter_bytes()
    try:
        with paced(response):
            for data in body:
                yield decoder.feed(data)
                if decoder.done:
                    break
    except httpx2.TimeoutException as error:
        raise openai.APITimeoutError(request=response.request) from error
    except httpx2.RequestError as error:
        raise openai.APIConnectionError(request=response.request) from error
    if decoder.done:
        _drain(body, wake(response))


def _drain(body: Iterator[bytes], stop: Callable[[], None]) -> None:
    """Read what follows ``[DONE]`` to the body's end, within the bounds above: at the end the
    client puts the connection back in its pool; otherwise its ``close`` drops it."""
    left = DRAIN_BYTES
    with contextlib.suppress(httpx2.HTTPError), cancel.after(DRAIN_SECONDS, stop):
        for data in body:
            left -= len(data)
            if left < 0:
                return


class _Streams:
    """How many streams are being read now, in every thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0

    @contextlib.contextmanager
    def one(self) -> Iterator[None]:
        with self._lock:
            self.count += 1
        try:
            yield
        finally:
            with self._lock:
                self.count -= 1


_streams = _Streams()


_pacing: contextvars.ContextVar[bool] = contextvars.ContextVar("llmstream_pacing", default=True)


@contextlib.contextmanager
def unpaced() -> Iterator[None]:
    """Within the block, streams are read as their chunks come (a reply wanted whole)."""
    token = _pacing.set(False)
    try:
        yield
    finally:
        _pacing.reset(token)


def pace() -> float:
    """Seconds between two reads of a stream's socket, for the streams being read now."""
    return min(SLOWEST, max(FASTEST, _streams.count / READS_PER_SECOND))


@contextlib.contextmanager
def paced(response: httpx2.Response) -> Iterator[None]:
    """Within the block, a read of the response's socket waits until ``pace()`` seconds have
    passed since the last one returned (``cancel.sleep``: a cancel ends the wait). What the
    socket holds by then comes in one read, and the HTTP chunks in it are handed out from the
    connection's buffer without waiting. The connection's own stream object is wrapped for the
    block only (httpcore reads it through ``network_stream``, the object the extension names),
    so a connection handed back to the pool reads as before."""
    stream = response.extensions.get("network_stream")
    if stream is None or not _pacing.get():
        yield
        return
    direct = stream.read
    last: float | None = None

    def read(max_bytes: int, timeout: float | None = None) -> bytes:
        nonlocal last
        if last is not None and (wait := last + pace() - time.monotonic()) > 0:
            cancel.sleep(wait)
        try:
            data: bytes = direct(max_bytes, timeout)
            return data
        finally:
            last = time.monotonic()

    stream.read = read
    try:
        with _streams.one():
            yield
    finally:
        del stream.read  # the class's own method again


def wake(response: httpx2.Response) -> Callable[[], None]:
    """What ends a read of ``response`` blocked in another thread: shutting its socket down
    (closing it would not wake the read)."""

    def shut() -> None:
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if isinstance(sock, socket.socket):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    return shut
