"""The engine's own HTTP routes: ``GET /healthz``, ``POST /api/chat`` (JSON or Server-Sent
Events), ``POST /api/feedback`` and a plain page at ``/``.

Errors are translated here, once: a question the user must change → 400 (413 when too long),
an empty store → 503, both as ``{"error": sentence}``; in a stream, ``event: error``. Model
outages are not errors at this edge: the engine answers in fallback mode.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from ..answer import Answer, Delta, parse_history
from ..config import Settings
from ..errors import AssistantError, InputError, NoSourcesError
from .services import Services

_STATIC = Path(__file__).parent / "static"


class ChatRequest(BaseModel):
    message: str = Field(description="The question, in Chinese or English.")
    history: list[dict[str, Any]] = Field(default_factory=list)
    mode: Literal["investor", "advisor"] = "investor"
    stream: bool = False


class FeedbackRequest(BaseModel):
    turn_id: str = Field(description="The turn_id of the answer the feedback is about.")
    rating: Literal["up", "down"]
    comment: str = Field("", max_length=2000)


def _status(error: AssistantError) -> int:
    if isinstance(error, NoSourcesError):
        return 503
    if isinstance(error, InputError):
        return 413 if "limit is" in str(error) else 400
    return 500


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def build_router(settings: Settings, services: Services) -> APIRouter:
    app = APIRouter()
    engine = services.engine

    def _error(error: AssistantError) -> dict[str, str]:
        # Even an error is something shown to an investor: it carries the disclosure too.
        return {"error": str(error), "disclosure": engine.default_disclosure()}

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        return {
            "status": "ok",
            "mode": "llm" if engine.chat is not None else "offline",
            "documents": engine.store.documents(),
            "chunks": engine.store.count(),
        }

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(_STATIC / "index.html", media_type="text/html; charset=utf-8")

    @app.post("/api/chat", response_model=None)
    def chat(request: ChatRequest) -> JSONResponse | StreamingResponse:
        try:
            history = parse_history(request.history, settings.max_question_chars)
            if not request.stream:
                answer = engine.ask(request.message, history, request.mode, channel="api")
                return JSONResponse(answer.to_dict())
            events = engine.stream(request.message, history, request.mode, channel="api")
            first = next(events)  # errors in the question surface here, as a status
        except AssistantError as error:
            return JSONResponse(_error(error), status_code=_status(error))

        def body() -> Iterator[str]:
            try:
                for event in _chain(first, events):
                    if isinstance(event, Delta):
                        yield _sse("delta", {"text": event.text})
                    else:
                        yield _sse("done", event.to_dict())
            except AssistantError as error:
                yield _sse("error", _error(error))

        return StreamingResponse(
            body(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @app.post("/api/feedback", status_code=204, response_model=None)
    def feedback(request: FeedbackRequest) -> Response | JSONResponse:
        audit = engine.audit
        if audit is None or not audit.add_feedback(
            request.turn_id, request.rating, request.comment
        ):
            return JSONResponse({"error": f"No answer has the turn id {request.turn_id!r}."}, 404)
        return Response(status_code=204)

    return app


def _chain(first: Delta | Answer, rest: Iterator[Delta | Answer]) -> Iterator[Delta | Answer]:
    yield first
    yield from rest
