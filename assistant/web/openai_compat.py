"""``POST /v1/chat/completions`` and ``GET /v1/models``: the assistant as a "model" that the
official ``openai`` client and chat front-ends (Open WebUI, LobeChat) can use.

Two models, one per mode: ``fund-thesis-assistant`` (investors) and
``fund-thesis-assistant-advisor`` (advisors' drafts). A chat front-end renders only the message
content, so the content carries everything an answer must show: the answer with its [n]
markers, then after a rule (``APPENDIX``) the numbered sources with their quotes, the notices
and the full disclosure. The response adds ``citations`` (the Answer's), ``turn_id`` (for
``/api/feedback``) and ``mode``. ``usage`` is estimated from the text the client sent and
received (``text.estimate_tokens``): the model calls behind an answer are the operator's cost,
not the caller's.

What the request may say, and what is done with it:

- the last message is the question and must be the user's;
- earlier user and assistant messages are the history: front-ends send whole conversations, so
  only the latest ``ASSISTANT_MAX_HISTORY_TURNS`` are kept, each cut to
  ``ASSISTANT_MAX_TURN_CHARS``, and our own assistant messages lose their appendix (the model
  needs the answer, not the disclosure again);
- ``system`` and ``developer`` messages are ignored: the product's rules are not the caller's
  to change (front-ends send their own system prompt with every request);
- ``user`` (the caller's id for its end user) is the audit trail's session id;
- what a caller needs and this model cannot give is refused with 400, not ignored: ``n`` above
  1 (one answer a request), a tool call required (``tool_choice`` "required" or a named
  function) and structured output (``response_format`` other than text); tools offered with
  ``tool_choice`` "auto" or "none" are a model's to decline, and it does;
- every other OpenAI parameter (temperature, max_tokens, …) is accepted and ignored.

Streams follow OpenAI's framing (``data: {chunk}`` … ``data: [DONE]``, ``: keep-alive``
comments while waiting). A stream can only add text: when the final answer is not the text
already streamed (the model broke off, or its answer was set aside, and excerpts replace it),
the final answer follows under a note saying the text above is withdrawn (``unshown``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from openai.types import CompletionUsage, Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import ChoiceDelta
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from ..answer import Answer, Citation, Delta, Event
from ..config import Settings
from ..conversation import pasted
from ..errors import AssistantError
from ..prompts import Mode, Turn
from ..prompts import message as engine_message
from ..text import (
    estimate_tokens,
    reading_language,
    traditional_in_place,
    writes_traditional,
)
from . import refusals
from .answering import FIRST_WAIT, Answering, AnswerRun, Signal, until_answered
from .api import CLIENT_GONE, SSE_HEADERS
from .refusals import Disclosure, Refusal
from .security import RateLimits
from .services import Services
from .strings import Lang, web_strings

MODELS: dict[str, Mode] = {
    "fund-thesis-assistant": "investor",
    "fund-thesis-assistant-advisor": "advisor",
}
APPENDIX = "\n\n---\n"  # between the answer and its sources, notices and disclosure
MAX_MESSAGES = 1000  # a conversation longer than this is not a chat; the body limit binds first
CREATED = int(time.time())


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(max_length=50)
    text: str | None = None


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    include_usage: bool | None = False


class CompletionRequest(BaseModel):
    """What is read of an OpenAI chat-completions request; other fields are ignored."""

    model: str = Field(max_length=200, description="One of the names GET /v1/models lists.")
    messages: list[Message] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: StrictBool | None = False  # "yes" is no answer to "stream or not?"
    stream_options: StreamOptions | None = None
    user: str | None = Field(
        None, max_length=128, description="The caller's id for its end user: the audit session."
    )
    n: int | None = None
    tool_choice: str | dict[str, object] | None = None
    response_format: dict[str, object] | None = None

    def unmet(self) -> str | None:
        """What the request needs that this model cannot give (a sentence), or None."""
        if self.n is not None and self.n != 1:
            return f"n is {self.n}: this model gives one answer a request; send n=1 or none."
        if self.tool_choice not in (None, "auto", "none"):
            return "This model never calls tools: tool_choice may only be 'auto' or 'none'."
        kind = (self.response_format or {}).get("type", "text")
        if kind != "text":
            return (
                f"response_format {kind!r}: this model answers in prose with its sources and "
                "disclosure; send type 'text' or none."
            )
        return None


def _text(message: Message, index: int) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    parts = []
    for part in message.content:
        if part.type != "text" or part.text is None:
            raise Refusal(
                400,
                f"messages[{index}] has a {part.type!r} part: this model reads text only.",
            )
        parts.append(part.text)
    return "".join(parts)


def conversation(
    messages: Sequence[Message], max_turns: int, max_chars: int, max_pasted: int = 0
) -> tuple[str, list[Turn]]:
    """The question and the history the engine gets (see the module docstring); a reader's
    turn that pasted a text is kept to ``max_pasted`` characters, its question at its end."""
    last = messages[-1]
    if last.role != "user":
        raise Refusal(
            400,
            f"The last message must be the user's question (role 'user'), not {last.role!r}.",
        )
    history = []
    for index, message in enumerate(messages[:-1]):
        if message.role not in ("user", "assistant"):
            continue
        text = _text(message, index)
        if message.role == "assistant":
            text = text.split(APPENDIX, 1)[0]
        paste = message.role == "user" and pasted(text) is not None
        limit = max(max_chars, max_pasted) if paste else max_chars
        if text.strip():  # an assistant turn that only called tools says nothing to go on
            history.append(Turn(message.role, text[:limit]))
    return _text(last, len(messages) - 1), history[-max_turns:] if max_turns else []


def _source_line(citation: Citation, strings: dict[str, str]) -> str:
    page = strings["page"].format(page=citation.page) if citation.page else None
    where = [citation.publisher, citation.published, citation.section, page]
    line = f"[{citation.n}] 《{citation.title}》 " + " · ".join(w for w in where if w)
    quote = "\n".join(f"> {part}" for part in citation.quote.splitlines() if part.strip())
    return f"{line.rstrip()} ({citation.path})" + (f"\n{quote}" if quote else "")


def appendix(answer: Answer, lang: Lang, traditional: bool = False) -> str:
    """Sources, notices and disclosure, as they follow the answer in the content; the labels in
    traditional characters for a reader who asks in them (the quotes and disclosure verbatim)."""
    plain = web_strings(lang)
    strings = {k: traditional_in_place(v) for k, v in plain.items()} if traditional else plain
    blocks = []
    if answer.citations:
        # A blank line after each quote, or Markdown would run the next source into it.
        lines = "\n\n".join(_source_line(c, strings) for c in answer.citations)
        blocks.append(f"**{strings['sources']}**\n{lines}")
    if answer.notices:
        blocks.append(f"**{strings['notices']}**\n" + "\n".join(f"- {n}" for n in answer.notices))
    titled = answer.disclosure.partition("\n")[0].strip() == plain["disclosure"]
    # verbatim; under our title unless it opens with that title itself ("风险提示\n…")
    blocks.append(
        answer.disclosure if titled else f"**{strings['disclosure']}**\n{answer.disclosure}"
    )
    return APPENDIX + "\n\n".join(blocks)


def unshown(shown: str, final: str, lang: Lang) -> str:
    """What of ``final`` the reader has not seen after ``shown`` was streamed.

    Whitespace aside, the streamed text is the final answer's start, or its end (the engine
    leads some answers with a notice that also comes among the notices). The figure check reads
    the whole answer, so a streamed sentence may lack the (unverified) mark its figure has in
    the final one: the marked answer follows under a note that says so. Otherwise the stream
    broke off and the complete answer follows under a note.
    """
    seen = "".join(shown.split())
    if not seen:
        return final
    whole = "".join(final.split())
    unmarked = final
    for marks_in in ("zh", "en"):
        unmarked = unmarked.replace(engine_message(marks_in, "unverified_figure"), "")
    if unmarked != final and "".join(unmarked.split()).startswith(seen):
        return f"\n\n{web_strings(lang)['checked']}\n\n{final}"
    if whole.startswith(seen):
        count = 0
        for position, char in enumerate(final):
            count += not char.isspace()
            if count == len(seen):
                return final[position + 1 :]
    if whole.endswith(seen):
        return ""
    return f"\n\n{web_strings(lang)['replaced']}\n\n{final}"


def _usage(prompt: int, content: str) -> CompletionUsage:
    completion = estimate_tokens(content)
    return CompletionUsage(
        prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
    )


def _json(completion: ChatCompletion | ChatCompletionChunk, answer: Answer) -> str:
    """The completion as JSON, with what we add to OpenAI's shape: the answer's citations, its
    turn id (for /api/feedback) and its mode."""
    data = completion.model_dump(mode="json", exclude_unset=True)
    data["citations"] = [asdict(c) for c in answer.citations]
    data["turn_id"] = answer.turn_id
    data["mode"] = answer.mode
    return json.dumps(data, ensure_ascii=False)


def _chunk(ident: str, model: str, delta: ChoiceDelta, finish: bool = False) -> str:
    chunk = ChatCompletionChunk(
        id=ident,
        created=int(time.time()),
        model=model,
        object="chat.completion.chunk",
        choices=[ChunkChoice(index=0, delta=delta, finish_reason="stop" if finish else None)],
    )
    return f"data: {chunk.model_dump_json(exclude_unset=True)}\n\n"


class _Stream:
    """The chunks of one streamed completion."""

    def __init__(
        self,
        run: AnswerRun,
        model: str,
        lang: Lang,
        prompt: int,
        usage: bool,
        traditional: bool = False,
    ) -> None:
        self.run, self.model, self.lang, self.prompt, self.usage = run, model, lang, prompt, usage
        self.traditional = traditional
        self.ident = f"chatcmpl-{uuid.uuid4().hex}"
        self.shown = ""

    async def frames(
        self, first: Event | Signal | None, disclosure: Disclosure
    ) -> AsyncIterator[str]:
        try:
            yield _chunk(self.ident, self.model, ChoiceDelta(role="assistant", content=""))
            if first is not None:
                yield self._frame(first)
            async for event in self.run.events():
                yield self._frame(event)
        except Exception as error:
            # In a stream, OpenAI's own error shape: the openai client raises it with its message.
            if isinstance(error, AssistantError):
                sentence = str(error)
            else:  # a bug: logged whole, the client gets a sentence
                refusals.log.error("the completion stream failed", exc_info=error)
                sentence = refusals.BUG
            body = {
                "error": {"message": sentence, "type": "assistant_error", "code": None},
                "disclosure": await disclosure.aget(),
            }
            yield f"data: {json.dumps(body, ensure_ascii=False)}\n\n"
        finally:
            self.run.close()

    def _frame(self, event: Event | Signal) -> str:
        if isinstance(event, Signal):
            return ": keep-alive\n\n"
        if isinstance(event, Delta):
            self.shown += event.text
            return _chunk(self.ident, self.model, ChoiceDelta(content=event.text))
        rest = unshown(self.shown, event.answer, self.lang) + appendix(
            event, self.lang, self.traditional
        )
        self.shown += rest
        final = ChatCompletionChunk(
            id=self.ident,
            created=int(time.time()),
            model=self.model,
            object="chat.completion.chunk",
            choices=[ChunkChoice(index=0, delta=ChoiceDelta(content=rest), finish_reason="stop")],
        )
        frames = f"data: {_json(final, event)}\n\n"
        if self.usage:
            usage = ChatCompletionChunk(
                id=self.ident,
                created=int(time.time()),
                model=self.model,
                object="chat.completion.chunk",
                choices=[],
                usage=_usage(self.prompt, self.shown),
            )
            frames += f"data: {usage.model_dump_json(exclude_unset=True)}\n\n"
        return frames + "data: [DONE]\n\n"


def build_router(
    settings: Settings,
    services: Services,
    *,
    answering: Answering,
    limits: RateLimits,
    disclosure: Disclosure,
) -> APIRouter:
    router = APIRouter(prefix="/v1")
    engine = services.engine

    def listed(name: str) -> Model:
        return Model(id=name, created=CREATED, object="model", owned_by="fund-thesis-assistant")

    @router.get("/models")
    def models() -> dict[str, object]:
        return {"object": "list", "data": [listed(name).model_dump() for name in MODELS]}

    @router.get("/models/{name}")
    def model(name: str) -> dict[str, object]:
        if name not in MODELS:
            raise Refusal(404, _unknown(name))
        return listed(name).model_dump()

    @router.post(
        "/chat/completions",
        response_model=None,
        dependencies=[Depends(limits.dependency("answers"))],
    )
    async def completions(body: CompletionRequest, request: Request) -> Response:
        mode = MODELS.get(body.model)
        if mode is None:
            raise Refusal(404, _unknown(body.model))
        if (unmet := body.unmet()) is not None:
            raise Refusal(400, unmet)
        question, history = conversation(
            body.messages,
            settings.max_history_turns,
            settings.max_turn_chars,
            settings.max_pasted_chars,
        )
        lang: Lang = reading_language(question, [t.content for t in history if t.role == "user"])
        traditional = lang == "zh" and writes_traditional(question)
        prompt = sum(estimate_tokens(_text(m, i)) for i, m in enumerate(body.messages))
        session = body.user
        run = answering.start(
            lambda: engine.stream(question, history, mode, channel="openai", session=session)
        )
        if not body.stream:
            answer = await until_answered(run, request.receive)
            if answer is None:
                return Response(status_code=CLIENT_GONE)
            content = answer.answer + appendix(answer, lang, traditional)
            completion = ChatCompletion(
                id=f"chatcmpl-{uuid.uuid4().hex}",
                created=int(time.time()),
                model=body.model,
                object="chat.completion",
                choices=[
                    Choice(
                        index=0,
                        finish_reason="stop",
                        message=ChatCompletionMessage(role="assistant", content=content),
                    )
                ],
                usage=_usage(prompt, content),
            )
            return JSONResponse(json.loads(_json(completion, answer)))
        try:
            first = await run.next(FIRST_WAIT)
        except AssistantError:
            run.close()
            raise
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        stream = _Stream(run, body.model, lang, prompt, include_usage, traditional)
        return StreamingResponse(
            stream.frames(first, disclosure), media_type="text/event-stream", headers=SSE_HEADERS
        )

    return router


def _unknown(name: str) -> str:
    return (
        f"The model {name[:200]!r} does not exist here: use one of "
        f"{', '.join(MODELS)} (GET /v1/models)."
    )
