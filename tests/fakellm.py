"""A fake DeepSeek: a real local HTTP server that speaks OpenAI chat completions.

This is the project's only fake. The product points ``DEEPSEEK_BASE_URL`` at ``FakeLLM.base_url``
and talks to it through the real ``openai`` client, so retries, deadlines, SSE parsing and
connection handling are exercised for real. It serves ``POST /chat/completions`` and
``GET /models`` (also under ``/v1``), JSON and SSE, on 127.0.0.1 with an ephemeral port, one
thread per connection (stdlib ``ThreadingHTTPServer``: full control over the bytes on the wire,
which the keep-alive and cut-stream faults need).

The answer ("ok")
    Composed from the request, never canned: the numbered sources in the last message that has
    any (blocks starting ``[n]`` at a line start, up to the next ``[n]`` or the end of that
    message) give the first sentence of ``[1]`` and ``[2]``, each followed by its marker:
    ``DeepSeek V3版本的训练成本为600万美元[1]。……[2]。``. Without sources it says, in the
    language of the last user message, that the documents do not cover the question.

Script: faults on demand
    ``fake.script(*steps)`` appends steps; each chat request takes the next one (FIFO); with the
    script empty, a request gets "ok". Steps:

    ``"ok"``                       the composed answer (streamed when the request says ``stream``)
    ``429`` (any int)              shorthand for ``{"status": 429}``
    ``{"status": 503, "retry_after": 1, "message": "..."}``
                                   an error in DeepSeek's JSON shape
                                   ``{"error": {"message", "type", "code"}}``; optional
                                   ``Retry-After`` header
    ``{"text": "exact content"}``  reply with exactly this content
    ``{"keepalive": 1.5, "then": step}``
                                   streaming: ``: keep-alive`` SSE comments every 0.2 s for that
                                   long; non-streaming: blank lines; then ``then`` (default "ok")
    ``{"slow": 2, "then": step}``  accept, send nothing for that long, then ``then`` (default "ok")
                                   (``{"keepalive": 1, "text": "x"}`` = keep-alives, then the rest)
    ``"cut"``                      stream a few content deltas, then end the body cleanly with no
                                   finish_reason and no ``[DONE]`` (the openai client ends quietly)
    ``"drop"``                     stream a few content deltas, then close the socket mid-body
                                   (the client sees a broken connection)
    ``"malformed"``                stream two content deltas, then a ``data:`` line that is not
                                   valid JSON, then the rest as usual (``{"malformed": 0}``: the
                                   broken line comes first); non-streaming: a body that is not JSON
    ``"empty"``                    finish_reason "stop", empty content, reasoning_content present
    ``"reasoning"``                reasoning_content deltas first, then the ok answer in content
    ``"restate"``                  the last assistant message of the request, as it was sent (a
                                   model asked to "总结一下" restates its last turn, markers
                                   and all)
    ``{"finish_reason": "length"}`` the ok answer (or ``text``) ending with this finish reason
    ``{"pace": 0.3}``              the ok answer (or ``text``) with this many seconds between
                                   content deltas (a reader can watch the answer grow)
    ``{"linger": 5}``              the ok answer (or ``text``), then after ``data: [DONE]`` the
                                   body stays open that long before it ends

    Dict steps combine: ``{"text": "x", "reasoning": "why", "finish_reason": "length"}``.

Recording and control
    ``fake.requests``: every API request (not the ``/_fake`` ones) as a dict with ``method``,
    ``path``, ``headers`` (all of them, Authorization included, so tests can check it is sent),
    ``body`` (parsed JSON or None), ``at`` (``time.monotonic()`` on arrival) and ``port`` (the
    client's port: requests that share it came on one kept-alive connection); a chat request
    also gets ``ended`` (when its reply ended) and ``outcome``: "sent" (all of it), "client
    closed" (the client hung up first, e.g. a cancelled answer) or "reset" (by the fake).
    ``fake.chat_requests``: the chat ones only.
    ``fake.models``: the names ``GET /models`` lists (settable).
    Over HTTP, for the CLI run in a subprocess: ``POST /_fake/script`` (JSON list of steps),
    ``POST /_fake/models`` (JSON list of names), ``POST /_fake/reset``, ``GET /_fake/requests``.

Pacing (for the load bench)
    ``FakeLLM(pace=40)`` streams every content reply at about 40 characters a second, in pieces
    of ``piece`` characters, as a model does (the default, no pace, sends four pieces at once);
    ``sources_used=5`` makes the "ok" answer quote the first sentence of five sources, about as
    long as a real answer. Each recorded request carries ``at`` and ``ended``
    (``time.monotonic()``, one clock for every process on the machine). Standalone, in its
    own process: ``python -m tests.fakellm --port 8001 --pace 40`` prints its base URL.

Fixtures: ``fake_llm_server`` (session: one server per run) and ``fake_llm`` (per test: the same
server, reset before the test). A reset also ends any slow or keep-alive reply still running,
so one test's fault never leaks into the next; ``stop()`` ends them all at session end.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Step = str | int | dict[str, Any]

DEFAULT_MODELS = ("deepseek-flash", "deepseek-v4-pro")
KEEPALIVE_EVERY = 0.2
MAX_WAIT = 60.0  # no fault holds a connection longer, whatever the script says

_ERRORS = {
    400: ("invalid_request_error", "Invalid request: the request body is malformed."),
    401: ("authentication_error", "Authentication Fails, Your api key is invalid."),
    402: ("insufficient_balance", "Insufficient Balance."),
    422: ("invalid_request_error", "Invalid Parameters."),
    429: ("rate_limit_error", "Rate Limit Reached."),
    500: ("server_error", "Server Error."),
    503: ("server_error", "Server Overloaded."),
}

_SOURCE_START = re.compile(r"^\[(\d+)\][ \t]*", re.MULTILINE)
_SENTENCE = re.compile(r".+?(?:[。！？!?]|\.(?=\s|$))", re.DOTALL)
_CJK = re.compile(r"[\u4e00-\u9fff]")


# --- the composed answer: small pure functions ------------------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part.get("text", "") if isinstance(part, dict) else str(part) for part in content
        )
    return ""


def parse_sources(text: str) -> dict[int, str]:
    """Numbered source blocks of one message: ``{1: "text of [1]", 2: ...}``."""
    starts = list(_SOURCE_START.finditer(text))
    sources: dict[int, str] = {}
    ends = [match.start() for match in starts[1:]] + [len(text)]
    for here, end in zip(starts, ends, strict=False):
        body = " ".join(text[here.end() : end].split())
        if body:
            sources.setdefault(int(here.group(1)), body)
    return sources


def first_sentence(text: str) -> tuple[str, str]:
    """The first sentence of ``text`` split from its closing punctuation (``。`` if it had none)."""
    match = _SENTENCE.match(text)
    sentence = match.group(0).strip() if match else text.strip()
    if sentence and sentence[-1] in "。！？!?.":
        return sentence[:-1], sentence[-1]
    return sentence, "。"


def compose_answer(messages: list[dict[str, Any]], sources_used: int = 2) -> str:
    """The fake's "ok" answer: the first sentences of sources [1] and [2] (or of the first
    ``sources_used``), each with its marker; to a question in English, quoted in English words,
    as a model answers an English reader from Chinese sources."""
    sources: dict[int, str] = {}
    for message in messages:
        found = parse_sources(_text_of(message.get("content")))
        if found:
            sources = found
    users = [m for m in messages if m.get("role") == "user"]
    question = _text_of(users[-1].get("content")) if users else ""
    asked_in = " ".join(_text_of(m.get("content")) for m in messages if m.get("role") == "system")
    english = "write the draft in English" in asked_in or (
        not _CJK.search(question) and re.search(r"[A-Za-z]", question) is not None
    )
    if not sources:
        if english:
            return "Sorry, the documents provided do not cover this question."
        return "抱歉，所提供的文档没有涉及这个问题。"
    parts = []
    for number in sorted(sources)[:sources_used]:
        sentence, stop = first_sentence(sources[number])
        if english:
            parts.append(f"Source {number} says “{sentence}{stop}”[{number}]. ")
        else:
            parts.append(f"{sentence}[{number}]{stop}")
    return "".join(parts).strip()


def _pieces(text: str, count: int = 4) -> list[str]:
    """Split ``text`` into about ``count`` non-empty deltas."""
    size = max(1, -(-len(text) // count))
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


# --- steps ---------------------------------------------------------------------------------------


@dataclass
class Plan:
    """One normalised script step."""

    status: int | None = None
    retry_after: float | None = None
    message: str | None = None
    text: str | None = None
    reasoning: str | None = None
    finish_reason: str | None = "stop"
    keepalive: float = 0.0
    slow: float = 0.0
    cut: str | None = None  # "clean" or "drop"
    malformed: int | None = None  # content deltas before a chunk that is not JSON
    pace: float = 0.0  # seconds between streamed content deltas
    linger: float = 0.0  # seconds the body stays open after [DONE]
    restate: bool = False  # the request's last assistant message is the answer
    then: Plan | None = None


def to_plan(step: Step) -> Plan:
    if isinstance(step, bool):
        raise ValueError(f"Unknown fake step {step!r}.")
    if isinstance(step, int):
        return Plan(status=step)
    if isinstance(step, str):
        shorthands: dict[str, dict[str, Any]] = {
            "ok": {},
            "cut": {"cut": "clean"},
            "drop": {"cut": "drop"},
            "malformed": {"malformed": 2},
            "empty": {"text": "", "reasoning": "The question is covered by the documents."},
            "reasoning": {"reasoning": "Let me think about which source answers this best."},
        }
        if step == "restate":
            return Plan(restate=True)
        if step not in shorthands:
            raise ValueError(f"Unknown fake step {step!r}; see tests/fakellm.py for the list.")
        return to_plan(shorthands[step])
    known = {"status", "retry_after", "message", "text", "reasoning", "finish_reason"}
    known |= {"keepalive", "slow", "then", "cut", "malformed", "pace", "linger"}
    unknown = set(step) - known
    if unknown:
        raise ValueError(f"Unknown keys {sorted(unknown)} in fake step {step!r}.")
    plan = Plan(
        status=step.get("status"),
        retry_after=step.get("retry_after"),
        message=step.get("message"),
        text=step.get("text"),
        reasoning=step.get("reasoning"),
        finish_reason=step.get("finish_reason", "stop"),
        cut=step.get("cut"),
        malformed=step.get("malformed"),
        pace=float(step.get("pace", 0.0)),
        linger=float(step.get("linger", 0.0)),
    )
    if "keepalive" in step or "slow" in step:
        # {"keepalive": 1, "text": "x"} means keep-alives, then {"text": "x"}.
        rest = {k: v for k, v in step.items() if k not in ("keepalive", "slow", "then")}
        if rest and "then" in step:
            raise ValueError(f"Fake step {step!r} has both 'then' and reply keys.")
        plan = Plan(
            keepalive=float(step.get("keepalive", 0.0)),
            slow=float(step.get("slow", 0.0)),
            then=to_plan(step.get("then", rest or "ok")),
        )
    return plan


# --- the server ----------------------------------------------------------------------------------


class _Aborted(Exception):
    """The client went away, or the fake was reset or stopped: stop writing."""


@dataclass
class _State:
    script: deque[Plan] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    seen_prefixes: set[str] = field(default_factory=set)
    generation: threading.Event = field(default_factory=threading.Event)


class FakeLLM:
    """A chat-completions server in a background thread; see the module docstring."""

    def __init__(
        self, *, pace: float | None = None, piece: int = 3, sources_used: int = 2, port: int = 0
    ) -> None:
        self.pace = pace  # characters per second of streamed content (None: all at once)
        self.piece = piece  # characters per delta when paced
        self.sources_used = sources_used  # how many sources the "ok" answer quotes
        self._lock = threading.Lock()
        self._state = _State()
        self._crashes: list[str] = []
        self._server = _Server(("127.0.0.1", port), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeLLM:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._state.generation.set()  # ends slow and keep-alive replies now
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # The in-process control API.
    def script(self, *steps: Step) -> None:
        plans = [to_plan(step) for step in steps]
        with self._lock:
            self._state.script.extend(plans)

    def reset(self) -> None:
        with self._lock:
            self._state.generation.set()
            self._state = _State()

    @property
    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._state.requests)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    @property
    def pending(self) -> int:
        """Script steps not used yet."""
        with self._lock:
            return len(self._state.script)

    @property
    def models(self) -> list[str]:
        with self._lock:
            return list(self._state.models)

    @models.setter
    def models(self, names: list[str]) -> None:
        with self._lock:
            self._state.models = list(names)

    @property
    def crashes(self) -> list[str]:
        """Exceptions raised inside the fake's handlers (a bug in the fake or a test)."""
        with self._lock:
            return list(self._crashes)

    # Used by the handler.
    def _crashed(self, description: str) -> None:
        with self._lock:
            self._crashes.append(description)

    def _record(self, request: dict[str, Any]) -> None:
        with self._lock:
            self._state.requests.append(request)

    def _next(self, body: dict[str, Any]) -> tuple[Plan, threading.Event, int]:
        """The next step, the event that aborts it, and how many prompt tokens are cached."""
        with self._lock:
            plan = self._state.script.popleft() if self._state.script else Plan()
            messages = body.get("messages") or []
            prefix = json.dumps(messages[:1], ensure_ascii=False) if messages else ""
            cached = prefix in self._state.seen_prefixes
            self._state.seen_prefixes.add(prefix)
            return plan, self._state.generation, _tokens(prefix) if cached else 0


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler still holding a connection never blocks shutdown
    request_queue_size = 1024  # the listen backlog: a burst of questions is not refused

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up (a closed stream, a timed-out attempt) are normal here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _tokens(text: str) -> int:
    return max(1, len(text) // 2)


def _handler_for(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = fake

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 120  # an idle kept-alive connection is closed after this
    # TCP_NODELAY, as servers in front of real APIs set it: with Nagle's algorithm each small
    # write on a kept-alive connection waits for the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True
    owner: FakeLLM

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: pytest shows what tests assert, not an access log

    # --- routing

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/_fake/requests":
            self._json(200, self.owner.requests)
        elif path in ("/models", "/v1/models"):
            self._record(None)
            data = [
                {"id": name, "object": "model", "owned_by": "deepseek"}
                for name in self.owner.models
            ]
            self._json(200, {"object": "list", "data": data})
        else:
            self._json(404, {"error": {"message": f"No route {path}.", "type": "not_found"}})

    def do_POST(self) -> None:
        path = self.path.split("?")[0]
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if path == "/_fake/script":
            self.owner.script(*(body or []))
            self._json(200, {"pending": self.owner.pending})
        elif path == "/_fake/models":
            self.owner.models = list(body or [])
            self._json(200, {"models": self.owner.models})
        elif path == "/_fake/reset":
            self.owner.reset()
            self._json(200, {"reset": True})
        elif path in ("/chat/completions", "/v1/chat/completions"):
            record = self._record(body)
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                self._error(Plan(status=400, message="Request body must have a messages list."))
                return
            plan, abort, cached = self.owner._next(body)
            try:
                self._chat(plan, body, abort, cached)
                record["outcome"] = "sent"
            except (_Aborted, OSError) as error:
                self.close_connection = True
                record["outcome"] = "reset" if isinstance(error, _Aborted) else "client closed"
            except Exception as error:  # a bug in the fake: fail the test, not just this reply
                self.owner._crashed(f"{type(error).__name__}: {error}")
                self.close_connection = True
                raise
            finally:
                record["ended"] = time.monotonic()
        else:  # recorded too: a test can see where a request went astray
            self._record(body)
            self._json(404, {"error": {"message": f"No route {path}.", "type": "not_found"}})

    def _record(self, body: Any) -> dict[str, Any]:
        record = {
            "method": self.command,
            "path": self.path,
            "headers": dict(self.headers.items()),
            "body": body,
            "at": time.monotonic(),
            "port": self.client_address[1],
        }
        self.owner._record(record)
        return record

    # --- chat completions

    def _chat(self, plan: Plan, body: dict[str, Any], abort: threading.Event, cached: int) -> None:
        stream = bool(body.get("stream"))
        chunked = False
        while plan.then is not None:  # slow and keep-alive phases, then the reply
            if plan.slow:
                self._quiet(plan.slow, abort)
            if plan.keepalive:
                if not chunked:
                    self._start(200, "text/event-stream" if stream else "application/json")
                    chunked = True
                self._keepalive(plan.keepalive, stream, abort)
            plan = plan.then
        if plan.status is not None:
            if chunked:  # headers are gone: DeepSeek then sends the error as the body
                self._chunk(json.dumps(_error_body(plan)).encode())
                self._chunk(b"")
            else:
                self._error(plan)
            return
        composed = compose_answer(body["messages"], self.owner.sources_used)
        if plan.restate:
            said = [m for m in body["messages"] if m.get("role") == "assistant"]
            composed = _text_of(said[-1].get("content")) if said else composed
        content = composed if plan.text is None else plan.text
        usage = _usage(body, content, plan.reasoning, cached)
        model = str(body.get("model", "deepseek-flash"))
        if not stream:
            if not chunked:
                self._start(200, "application/json")
            reply = json.dumps(_completion(model, content, plan, usage))
            self._chunk(
                (reply[: len(reply) // 2] if plan.malformed is not None else reply).encode()
            )
            self._chunk(b"")
            return
        if not chunked:
            self._start(200, "text/event-stream")
        self._stream(model, content, plan, usage, body, abort)

    def _stream(
        self,
        model: str,
        content: str,
        plan: Plan,
        usage: dict[str, Any],
        body: dict[str, Any],
        abort: threading.Event,
    ) -> None:
        ident = f"chatcmpl-{uuid.uuid4().hex[:12]}"

        def send(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = _chunk_body(ident, model, [_choice(delta, finish)])
            self._chunk(b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + b"\n\n")
            if abort.is_set():
                raise _Aborted

        send({"role": "assistant", "content": ""})
        if plan.reasoning:
            for piece in _pieces(plan.reasoning, 3):
                send({"content": None, "reasoning_content": piece})
        pieces = _pieces(content) if content else []
        if plan.cut:
            for piece in pieces[: max(1, len(pieces) // 2)]:
                send({"content": piece})
            if plan.cut == "clean":
                self._chunk(b"")
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if self.owner.pace and content:  # a model's pace: a few characters at a time
            step = max(1, self.owner.piece)
            pieces = [content[i : i + step] for i in range(0, len(content), step)]
        for number, piece in enumerate(pieces):
            if self.owner.pace and abort.wait(len(piece) / self.owner.pace):
                raise _Aborted
            if number == plan.malformed:
                self._chunk(
                    b'data: {"id": "' + ident.encode() + b'", "choices": [{"delta": {"co\n\n'
                )
            send({"content": piece})
            if plan.pace and abort.wait(plan.pace):
                raise _Aborted
        send({}, plan.finish_reason)
        if (body.get("stream_options") or {}).get("include_usage"):
            chunk = _chunk_body(ident, model, [])
            chunk["usage"] = usage
            self._chunk(b"data: " + json.dumps(chunk).encode() + b"\n\n")
        self._chunk(b"data: [DONE]\n\n")
        if plan.linger and abort.wait(plan.linger):
            raise _Aborted
        self._chunk(b"")

    # --- the wire

    def _keepalive(self, seconds: float, stream: bool, abort: threading.Event) -> None:
        filler = b": keep-alive\n\n" if stream else b"\n"
        ends = time.monotonic() + min(seconds, MAX_WAIT)
        while time.monotonic() < ends:
            self._chunk(filler)
            if abort.wait(min(KEEPALIVE_EVERY, max(0.0, ends - time.monotonic()))):
                raise _Aborted

    def _quiet(self, seconds: float, abort: threading.Event) -> None:
        """Send nothing for ``seconds``, but notice a client that hangs up or a reset."""
        ends = time.monotonic() + min(seconds, MAX_WAIT)
        while time.monotonic() < ends:
            if abort.wait(0.05):
                raise _Aborted
            try:
                self.connection.setblocking(False)
                if self.connection.recv(1, socket.MSG_PEEK) == b"":
                    raise _Aborted
            except BlockingIOError:
                pass
            finally:
                self.connection.setblocking(True)
                self.connection.settimeout(self.timeout)

    def _start(self, status: int, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Cache-Control", "no-cache")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        """One HTTP/1.1 chunk; empty ``data`` ends the body."""
        self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _json(self, status: int, payload: Any) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, plan: Plan) -> None:
        status = plan.status or 500
        data = json.dumps(_error_body(plan)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if plan.retry_after is not None:
            self.send_header("Retry-After", f"{plan.retry_after:g}")
        self.end_headers()
        self.wfile.write(data)


def _error_body(plan: Plan) -> dict[str, Any]:
    status = plan.status or 500
    kind, message = _ERRORS.get(status, ("api_error", f"Error {status}."))
    return {"error": {"message": plan.message or message, "type": kind, "code": str(status)}}


def _choice(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
    return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}


def _chunk_body(ident: str, model: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": choices,
    }


def _completion(model: str, content: str, plan: Plan, usage: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if plan.reasoning:
        message["reasoning_content"] = plan.reasoning
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": plan.finish_reason}
        ],
        "usage": usage,
    }


def _usage(
    body: dict[str, Any], content: str, reasoning: str | None, cached: int
) -> dict[str, Any]:
    prompt = _tokens(json.dumps(body.get("messages"), ensure_ascii=False))
    cached = min(cached, prompt)
    thought = _tokens(reasoning) if reasoning else 0
    completion = _tokens(content) + thought if content else thought
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_cache_hit_tokens": cached,
        "prompt_cache_miss_tokens": prompt - cached,
        "completion_tokens_details": {"reasoning_tokens": thought},
    }


# --- fixtures ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLLM]:
    fake = FakeLLM().start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture
def fake_llm(fake_llm_server: FakeLLM) -> Iterator[FakeLLM]:
    fake_llm_server.reset()
    before = len(fake_llm_server.crashes)
    yield fake_llm_server
    crashes = fake_llm_server.crashes[before:]
    assert not crashes, f"The fake LLM server crashed: {crashes}"


def main(argv: list[str] | None = None) -> int:
    """Serve the fake on its own (the load bench runs it in a process of its own)."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.fakellm")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--pace", type=float, help="characters per second of streamed content")
    parser.add_argument("--piece", type=int, default=3, help="characters per delta when paced")
    parser.add_argument("--sources", type=int, default=2, help="sources the answer quotes")
    args = parser.parse_args(argv)
    fake = FakeLLM(
        pace=args.pace, piece=args.piece, sources_used=args.sources, port=args.port
    ).start()
    print(fake.base_url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
