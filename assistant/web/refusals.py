"""Every refusal the web edge gives, in one shape: ``{"error": sentence, "disclosure": text}``.

On ``/v1/`` the shape is OpenAI's, ``{"error": {"message": sentence, "type", "param", "code"},
"disclosure": text}``: the ``openai`` client and chat front-ends show ``error.message`` and
nothing else, so a sentence anywhere else would never reach the developer.

A refusal is something an investor may see (in the widget, or in a developer's app), so it
carries the risk disclosure like every answer does. The statuses:

    400  malformed (not JSON; a question the engine cannot use; a Host header not allowed)
    401  an API key is required or wrong            403  an origin that may not call or embed
    404  no such route or model                     413  too large (body, question, history)
    422  the body does not match the request model  429  too many requests (with Retry-After)
    503  nothing to answer from (run ingest), or the engine is at capacity (with Retry-After)

Anything else is a bug: it is logged with its traceback, and the client gets a 500 in the same
shape with a sentence, never the traceback.

The disclosure comes from the store (the default disclosure of the articles). Refusals can come
in floods (a client over its rate limit), so the text is cached for ``DISCLOSURE_TTL`` seconds
instead of asking the store each time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import AssistantError, InputError, NoSourcesError, OverloadedError

log = logging.getLogger(__name__)
DISCLOSURE_TTL = 30.0
BUG = "Something went wrong on our side and has been logged; please try again later."

_OPENAI_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "server_error",
    503: "server_error",
}

# The setting that bounds a field, named in the sentence of a refusal that hits the bound.
_BOUND_BY = {
    "message": "ASSISTANT_MAX_QUESTION_CHARS",
    "history": "ASSISTANT_MAX_HISTORY_TURNS",
    "content": "ASSISTANT_MAX_TURN_CHARS",
}


class Refusal(StarletteHTTPException):
    """A request the edge refuses: a status and a whole sentence that says what to do."""

    def __init__(self, status: int, sentence: str, headers: Mapping[str, str] | None = None):
        super().__init__(status, sentence, dict(headers) if headers else None)
        self.sentence = sentence


class Disclosure:
    """The default disclosure, fetched from the store at most every ``ttl`` seconds."""

    def __init__(self, fetch: Callable[[], str], ttl: float = DISCLOSURE_TTL) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._lock = threading.Lock()
        self._text = ""
        self._at = -float("inf")

    def get(self) -> str:
        with self._lock:
            if time.monotonic() - self._at < self._ttl:
                return self._text
        text = self._fetch()
        with self._lock:
            self._text, self._at = text, time.monotonic()
        return text

    async def aget(self) -> str:
        """``get`` for async code: a store read, when one is due, runs in a worker thread."""
        with self._lock:
            if time.monotonic() - self._at < self._ttl:
                return self._text
        return await run_in_threadpool(self.get)


def body(sentence: str, disclosure: str) -> dict[str, str]:
    return {"error": sentence, "disclosure": disclosure}


def openai_body(status: int, sentence: str, disclosure: str) -> dict[str, object]:
    """OpenAI's error shape, which its clients read the message from, and the disclosure."""
    kind = _OPENAI_TYPES.get(status, "invalid_request_error")
    return {
        "error": {"message": sentence, "type": kind, "param": None, "code": str(status)},
        "disclosure": disclosure,
    }


def response(
    status: int,
    sentence: str,
    disclosure: str,
    headers: Mapping[str, str] | None = None,
    *,
    path: str = "",
) -> JSONResponse:
    """A refusal; on ``/v1/`` in OpenAI's error shape (see the module docstring)."""
    content = (
        openai_body(status, sentence, disclosure)
        if path.startswith("/v1/")
        else body(sentence, disclosure)
    )
    return JSONResponse(content, status_code=status, headers=headers)


def status_of(error: AssistantError) -> int:
    """The HTTP status of an engine error that ends a request before any answer."""
    if isinstance(error, NoSourcesError):
        return 503
    if isinstance(error, InputError):
        return 413 if "limit is" in str(error) else 400
    return 503


def _where(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    text = ""
    for part in parts:
        text += f"[{part}]" if part.isdigit() else (f".{part}" if text else part)
    return text or "the request body"


def validation_refusal(errors: Sequence[Any]) -> tuple[int, str]:
    """The status and sentence for a body that does not match its request model."""
    first: dict[str, Any] = dict(errors[0]) if errors else {"msg": "invalid"}
    kind, loc, ctx = first.get("type"), tuple(first.get("loc", ())), first.get("ctx") or {}
    where = _where(loc)
    field = next((str(p) for p in reversed(loc) if not str(p).isdigit()), "")
    setting = f" ({_BOUND_BY[field]})" if field in _BOUND_BY else ""
    if kind == "json_invalid":
        return 400, (
            f"The request body is not valid JSON ({ctx.get('error', 'parse error')}): "
            "send a JSON object."
        )
    if kind == "string_too_long":
        size = len(first.get("input") or "")
        return 413, (
            f"{where} is {size} characters long; the limit is {ctx.get('max_length')}{setting}. "
            "Please shorten it."
        )
    if kind == "too_long":
        return 413, (
            f"{where} has {ctx.get('actual_length')} items; the limit is "
            f"{ctx.get('max_length')}{setting}: send only the most recent ones."
        )
    if loc == ("body",) and kind == "missing":
        return 422, "The request has no body: send a JSON object (see the README for its fields)."
    if loc == ("body",):
        return 422, (
            "The request body is not a JSON object: send one, with Content-Type: application/json."
        )
    problems = "; ".join(
        f"{_where(tuple(e.get('loc', ())))}: {str(e.get('msg', 'invalid')).rstrip('.')}"
        for e in map(dict, (errors or [first])[:3])
    )
    more = f" and {len(errors) - 3} more" if len(errors) > 3 else ""
    return 422, f"{problems}{more}. Correct the request and send it again."


def install(app: FastAPI, disclosure: Disclosure) -> None:
    """Exception handlers that turn every refusal, and any bug, into the one JSON shape."""

    async def refused(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        sentence = exc.sentence if isinstance(exc, Refusal) else _http_sentence(exc)
        return response(
            exc.status_code, sentence, await disclosure.aget(), exc.headers, path=_path(request)
        )

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        status, sentence = validation_refusal(exc.errors())
        return response(status, sentence, await disclosure.aget(), path=_path(request))

    async def engine_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AssistantError)
        retry = {"Retry-After": str(exc.retry_after)} if isinstance(exc, OverloadedError) else None
        return response(
            status_of(exc), str(exc), await disclosure.aget(), retry, path=_path(request)
        )

    async def bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return response(500, BUG, await disclosure.aget(), path=_path(request))

    app.add_exception_handler(StarletteHTTPException, refused)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(AssistantError, engine_error)
    app.add_exception_handler(Exception, bug)


NOT_FOUND = "There is no such page or route here: see the README for the HTTP routes."
NOT_SERVED = "This file is not served here: the web app serves its own files and nothing else."
NOT_ALLOWED = "This route does not accept that method: see the README for the HTTP routes."


def _path(request: Request) -> str:
    return request.url.path


def _http_sentence(exc: StarletteHTTPException) -> str:
    if exc.status_code == 404:
        return NOT_FOUND
    if exc.status_code == 405:
        return NOT_ALLOWED
    detail = str(exc.detail).rstrip(".")
    return f"The request was refused ({exc.status_code}: {detail})."
