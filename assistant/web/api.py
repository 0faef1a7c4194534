"""The engine's own HTTP routes: ``GET /healthz``, ``POST /api/chat`` (JSON or Server-Sent
Events) and ``POST /api/feedback``; the chat handler also serves the widget's ``/embed/chat``.

Requests are typed and bounded (``chat_request_model``): the number and size of history turns
(a reader's turn that pasted a text at the paste's bound), the question's length by the engine
(a question's, or a pasted text's: ``conversation.overlong``); the body's size is bounded before
it is read (``security``). Refusals
are translated once, in ``refusals``.

A stream is ``event: delta`` (``{"text"}``) as sentences pass the checks, then ``event: done``
(the Answer object) or ``event: error`` (``{"error", "disclosure"}``), with ``: keep-alive``
comments while the next sentence is pending. A failure within the first half second (an
empty question, an empty store) is an HTTP status instead of a stream.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from ..answer import AnswerEngine, Delta, Event
from ..config import Settings
from ..conversation import pasted
from ..errors import AssistantError
from ..llm import model_mode
from ..prompts import Turn
from . import refusals
from .answering import FIRST_WAIT, Answering, AnswerRun, Signal, until_answered
from .refusals import Disclosure
from .security import RateLimits
from .services import Services

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
CLIENT_GONE = 499  # nginx's "client closed request": nobody reads this response


class HistoryTurn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class FeedbackRequest(BaseModel):
    turn_id: str = Field(max_length=64, description="The turn_id of the answer it is about.")
    rating: Literal["up", "down"]
    comment: str = Field("", max_length=2000)


def chat_request_model(settings: Settings) -> type[BaseModel]:
    """The body of ``POST /api/chat``, bounded by the settings."""

    class BoundedTurn(HistoryTurn):
        content: str

        @field_validator("content")
        @classmethod
        def _bounded(cls, content: str, info: ValidationInfo) -> str:
            # A reader's turn that pasted a text was answered at its own bound: the turns
            # after it carry it whole (``conversation.overlong``).
            limit = settings.max_turn_chars
            if info.data.get("role") == "user":
                limit = max(limit, settings.max_pasted_chars if pasted(content) else 0)
            if len(content) > limit:
                raise PydanticCustomError(
                    "string_too_long",
                    "String should have at most {max_length} characters",
                    {"max_length": settings.max_turn_chars},
                )
            return content

    class ChatRequest(BaseModel):
        # Judged by the engine, as on every path: a question, or a pasted text with its own
        # bound (``conversation.overlong``); the body's size bounds it before it is read.
        message: str = Field(
            description="The question, in Chinese or English, or a pasted text with a question "
            f"about it (at most {settings.max_question_chars} characters for a question, "
            f"{settings.max_pasted_chars} for a paste)."
        )
        history: list[BoundedTurn] = Field(
            default_factory=list,
            max_length=settings.max_history_turns,
            description="The conversation so far, oldest first.",
        )
        mode: Literal["investor", "advisor"] = "investor"
        stream: bool = False
        session: str | None = Field(
            None,
            max_length=64,
            pattern=r"^[A-Za-z0-9_.:-]+$",
            description="An anonymous id that groups one visitor's turns in the audit trail.",
        )

    return ChatRequest


def sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def chat_handler(
    settings: Settings,
    engine: AnswerEngine,
    answering: Answering,
    disclosure: Disclosure,
    channel: str,
) -> Callable[..., Awaitable[Response]]:
    """The endpoint that answers a chat request (for ``/api/chat`` and ``/embed/chat``)."""
    ChatRequest = chat_request_model(settings)

    async def chat(body: BaseModel, request: Request) -> Response:
        message, mode, stream = body.message, body.mode, body.stream  # type: ignore[attr-defined]
        history = [Turn(t.role, t.content) for t in body.history]  # type: ignore[attr-defined]
        session = body.session  # type: ignore[attr-defined]
        run = answering.start(
            lambda: engine.stream(message, history, mode, channel=channel, session=session)
        )
        if not stream:
            answer = await until_answered(run, request.receive)
            if answer is None:
                return Response(status_code=CLIENT_GONE)
            return JSONResponse(answer.to_dict())
        try:
            first = await run.next(FIRST_WAIT)
        except AssistantError:
            run.close()
            raise  # a status, through refusals' handler
        return StreamingResponse(
            _frames(run, first, disclosure), media_type="text/event-stream", headers=SSE_HEADERS
        )

    # The body's model is built from the settings, so FastAPI is told it here.
    chat.__annotations__["body"] = ChatRequest
    return chat


async def _frames(
    run: AnswerRun, first: Event | Signal | None, disclosure: Disclosure
) -> AsyncIterator[str]:
    try:
        if first is not None:
            yield _frame(first)
        async for event in run.events():
            yield _frame(event)
    except AssistantError as error:
        yield sse("error", refusals.body(str(error), await disclosure.aget()))
    except Exception as error:  # a bug: logged whole, and the stream still ends in its contract
        refusals.log.error("the answer stream failed", exc_info=error)
        yield sse("error", refusals.body(refusals.BUG, await disclosure.aget()))
    finally:
        run.close()  # also when the client disconnected: the task is cancelled into here


def _frame(event: Event | Signal) -> str:
    if isinstance(event, Signal):
        return ": keep-alive\n\n"
    if isinstance(event, Delta):
        return sse("delta", {"text": event.text})
    return sse("done", event.to_dict())


def build_router(
    settings: Settings,
    services: Services,
    *,
    answering: Answering,
    limits: RateLimits,
    disclosure: Disclosure,
) -> APIRouter:
    app = APIRouter()
    engine = services.engine

    def problems(chunks: int) -> tuple[list[str], bool]:
        """What an operator must hear about, and whether the app can answer at all."""
        found, ready = [], True
        if not chunks:
            found.append(
                "The knowledge store is empty: questions get 503 until `python ingest.py`."
            )
            ready = False
        audit = engine.audit
        if audit is not None and audit.failing:
            found.append(
                "Audit writes are failing: answers are still given, and their records wait in "
                "the spill file for `python -m assistant audit replay` (see the ERROR log)."
            )
        elif audit is not None and (waiting := audit.unwritten()):
            records = "1 audit record waits" if waiting == 1 else f"{waiting} audit records wait"
            found.append(f"{records} in the spill file: run `python -m assistant audit replay`.")
        return found, ready

    @app.get("/healthz")
    def healthz() -> dict[str, object]:
        """The process answers (liveness), with what an operator must hear about."""
        chunks = engine.store.count()
        return {
            "status": "ok",
            "mode": model_mode(engine.chat),
            "documents": engine.store.documents(),
            "chunks": chunks,
            "problems": problems(chunks)[0],
        }

    @app.get("/readyz", response_model=None)
    def readyz() -> JSONResponse:
        """Whether questions can be answered (readiness): 503 while the store is empty."""
        found, ready = problems(engine.store.count())
        body = {"status": "ready" if ready else "not ready", "problems": found}
        return JSONResponse(body, status_code=200 if ready else 503)

    app.add_api_route(
        "/api/chat",
        chat_handler(settings, engine, answering, disclosure, "api"),
        methods=["POST"],
        response_model=None,
        dependencies=[Depends(limits.dependency("answers"))],
        summary="Answer a question (JSON, or Server-Sent Events with stream: true)",
    )

    @app.post(
        "/api/feedback",
        status_code=204,
        response_model=None,
        dependencies=[Depends(limits.dependency("feedback"))],
    )
    def feedback(request: FeedbackRequest) -> Response | JSONResponse:
        audit = engine.audit
        if audit is None or not audit.add_feedback(
            request.turn_id, request.rating, request.comment
        ):
            return refusals.response(
                404,
                f"No answer has the turn id {request.turn_id!r}.",
                disclosure.get(),
            )
        return Response(status_code=204)

    return app
