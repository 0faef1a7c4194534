"""The chat model behind a small interface: ``ChatModel.stream`` yields the text of one answer.

``OpenAICompatibleChat`` talks to DeepSeek (or any OpenAI-compatible endpoint) through the
official ``openai`` client. Design decisions, each forced by how that API behaves:

Our own retries (the client gets ``max_retries=0``)
    The client's retries know nothing of the per-answer deadline: they would sleep a long
    ``Retry-After`` past it and stack their timeouts on top of ours. We retry 429, 5xx,
    connection failures and timeouts only before the first content delta (after that the caller
    already showed text and falls back instead), with exponential backoff and full jitter,
    honouring ``Retry-After`` (capped), never sleeping past the deadline. 400/401/402/403/404/422
    are not retried: sending the same request again cannot fix them.

A worker thread and a queue for the deadline
    Under load DeepSeek holds a waiting request open for up to 30 minutes with ``: keep-alive``
    SSE comments (blank lines when not streaming). Every read succeeds, so httpx's per-read
    timeout never fires. Each attempt therefore iterates the openai stream in a daemon thread
    that puts chunks on a queue; the caller waits on the queue for the smaller of the time left
    to the deadline and the idle timeout (seconds without a content or reasoning delta;
    keep-alives do not count). On expiry it closes the response, which ends the worker's read,
    and raises ``timeout``. When no byte arrives at all, the per-request read timeout (1 s past
    the smaller of the idle timeout and the time left) ends the worker: none outlives its
    attempt by more than that.

Finish reasons checked by hand
    A stream cut midway ends quietly in the openai client: no exception, no ``[DONE]``. Shown
    as it is, a half answer would pass for a whole one, so every answer must end with a finish
    reason, and its kind decides the error:

    ======================================  ==============  ===========================
    how the stream ended                    kind            retried (if no text yet)
    ======================================  ==============  ===========================
    ``stop`` with text                      (success)
    ``stop`` with no text (only reasoning)  ``empty``       no
    no finish reason (a quiet cut)          ``truncated``   yes
    a broken connection after some text     ``truncated``   (text was shown)
    ``length`` (token limit reached)        ``truncated``   no
    ``content_filter``                      ``filtered``    no
    ``insufficient_system_resource``        ``overloaded``  yes
    ======================================  ==============  ===========================

Reasoning (``reasoning_content``) is read only to reset the idle timer: it was never
compliance-checked, so it is neither yielded nor returned. The API key appears in no message
and no log line: messages are composed here, and server text is redacted before use.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessageParam

from assistant.config import Settings
from assistant.errors import ConfigurationError, ModelUnavailableError

RETIRED_MODELS = {"deepseek-chat": "2026-07-24", "deepseek-reasoner": "2026-07-24"}
STATUS_MESSAGES = {
    401: ("auth", "The API key was rejected (401): check DEEPSEEK_API_KEY."),
    402: (
        "balance",
        "The account has no balance (402): top up at the provider; requests are not retried.",
    ),
    403: ("auth", "The API key may not use this model (403): check DEEPSEEK_API_KEY."),
}
# DeepSeek adds the prompt-cache counts to the usual three (hits are billed at a lower rate).
USAGE_FIELDS = (
    *("prompt_tokens", "completion_tokens", "total_tokens"),
    *("prompt_cache_hit_tokens", "prompt_cache_miss_tokens"),
)


class ChatModel(ABC):
    """A chat model: one abstract method, ``stream``; ``complete`` is built on it."""

    name: str

    @abstractmethod
    def stream(self, messages: Sequence[BaseMessage], *, deadline: float) -> Iterator[str]:
        """Yield the content deltas of one answer; ``deadline`` is a ``time.monotonic()`` value.

        Raises ``ModelUnavailableError`` on any failure, also after some deltas were yielded
        (kinds ``truncated``, ``empty``, ``filtered``, ``timeout``, …: see the module docstring).
        """

    def complete(self, messages: Sequence[BaseMessage], *, deadline: float) -> str:
        """The whole answer as one string."""
        return "".join(self.stream(messages, deadline=deadline))


def to_openai_messages(messages: Sequence[BaseMessage]) -> list[ChatCompletionMessageParam]:
    """The project's langchain messages as chat-completions dicts (text only)."""
    converted: list[ChatCompletionMessageParam] = []
    for message in messages:
        text = str(message.text)
        if isinstance(message, SystemMessage):
            converted.append({"role": "system", "content": text})
        elif isinstance(message, HumanMessage):
            converted.append({"role": "user", "content": text})
        elif isinstance(message, AIMessage):
            converted.append({"role": "assistant", "content": text})
        else:
            raise TypeError(f"Cannot send a {type(message).__name__} to the chat model.")
    return converted


class _Retryable(Exception):
    """A failure that another attempt may cure; turned into ModelUnavailableError at the end."""

    def __init__(
        self, kind: str, detail: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status
        self.retry_after = retry_after


class _Attempt:
    """One request: a daemon thread iterating the openai stream into a queue."""

    def __init__(self, open_stream: Callable[[], openai.Stream[ChatCompletionChunk]]) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._stream: openai.Stream[ChatCompletionChunk] | None = None
        worker = threading.Thread(target=self._run, args=(open_stream,), name="llm-stream")
        worker.daemon = True
        worker.start()

    def _run(self, open_stream: Callable[[], openai.Stream[ChatCompletionChunk]]) -> None:
        try:
            stream = open_stream()
            with self._lock:
                self._stream = stream
            if self._closed.is_set():
                return
            for chunk in stream:
                if self._closed.is_set():
                    return
                self.events.put(("chunk", chunk))
            self.events.put(("end", None))
        except Exception as error:  # handed to the caller, who translates or re-raises it
            self.events.put(("error", error))
        finally:
            self.close()

    def close(self) -> None:
        """Stop the attempt: closing the response ends a read blocked on keep-alives."""
        self._closed.set()
        with self._lock:
            stream, self._stream = self._stream, None
        if stream is not None:
            with contextlib.suppress(Exception):
                stream.close()


class OpenAICompatibleChat(ChatModel):
    """DeepSeek, or any OpenAI-compatible chat-completions endpoint (a base URL plus a key)."""

    def __init__(
        self,
        settings: Settings,
        *,
        log: logging.Logger | None = None,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        retry_after_cap: float = 20.0,
        temperature: float = 0.3,
    ) -> None:
        if settings.api_key is None or not settings.api_key.get_secret_value():
            raise ConfigurationError(
                "The chat model needs a key: set DEEPSEEK_API_KEY, or leave it unset "
                "and do not build the model (offline excerpt mode)."
            )
        self.name = settings.model
        self.last_usage: dict[str, int] = {}
        self._key = settings.api_key.get_secret_value()
        self._base_url = settings.base_url
        self._thinking = settings.thinking
        self._idle = settings.stream_idle_timeout
        self._max_retries = settings.max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._retry_after_cap = retry_after_cap
        self._temperature = temperature
        self._log = log or logging.getLogger(__name__)
        self._client = openai.OpenAI(
            api_key=self._key,
            base_url=settings.base_url,
            max_retries=0,
            timeout=openai.Timeout(self._idle + 1.0, connect=5.0),
        )

    # --- answers

    def stream(self, messages: Sequence[BaseMessage], *, deadline: float) -> Iterator[str]:
        payload = to_openai_messages(messages)
        budget = max(0.0, deadline - time.monotonic())
        self.last_usage = {}
        failures = 0
        while True:
            attempt = _Attempt(self._opener(payload, deadline))
            started = False
            try:
                for delta in self._read(attempt, deadline, budget, failures + 1):
                    started = True
                    yield delta
                self._log.info("Model %s answered; usage %s.", self.name, self.last_usage)
                return
            except _Retryable as failure:
                if started:
                    raise self._cut_short(failure) from None
                failures += 1
                if failures > self._max_retries:
                    raise self._gave_up(failure, failures) from None
                delay = self._delay(failures - 1, failure.retry_after)
                if time.monotonic() + delay >= deadline:
                    raise self._gave_up(failure, failures, budget) from None
                self._log.warning(
                    "Model API attempt %d failed (%s); retrying in %.2f s.",
                    failures,
                    failure.detail,
                    delay,
                )
            finally:
                attempt.close()
            time.sleep(delay)

    def _opener(
        self, payload: list[ChatCompletionMessageParam], deadline: float
    ) -> Callable[[], openai.Stream[ChatCompletionChunk]]:
        thinking = {"type": "enabled" if self._thinking else "disabled"}
        # In thinking mode the API ignores temperature; not sending it keeps the request honest.
        temperature = openai.omit if self._thinking else self._temperature
        left = max(0.1, deadline - time.monotonic())
        # The read timeout only bounds a worker that gets no byte at all; the deadline and the
        # idle timeout proper are enforced by the caller (see the module docstring).
        timeout = openai.Timeout(min(self._idle, left) + 1.0, connect=min(5.0, left))

        def open_stream() -> openai.Stream[ChatCompletionChunk]:
            return self._client.chat.completions.create(
                model=self.name,
                messages=payload,
                stream=True,
                stream_options={"include_usage": True},
                temperature=temperature,
                extra_body={"thinking": thinking},
                timeout=timeout,
            )

        return open_stream

    def _read(
        self, attempt: _Attempt, deadline: float, budget: float, number: int
    ) -> Iterator[str]:
        """The content deltas of one attempt; raises at its end unless it finished with "stop"."""
        finish: str | None = None
        text = ""
        last_token = time.monotonic()
        while True:
            event, item = self._next_event(attempt, deadline, last_token, budget, number)
            if event == "error":
                raise self._translate(item)
            if event == "end":
                break
            chunk: ChatCompletionChunk = item
            if chunk.usage is not None:
                usage = chunk.usage.model_dump()
                self.last_usage = {
                    k: int(usage[k]) for k in USAGE_FIELDS if usage.get(k) is not None
                }
            for choice in chunk.choices[:1]:
                reasoning = (choice.delta.model_extra or {}).get("reasoning_content")
                content = choice.delta.content
                if content or reasoning:
                    last_token = time.monotonic()
                if content:
                    text += content
                    yield content
                    last_token = time.monotonic()  # the reader's own time is not idle time
                if choice.finish_reason:
                    finish = choice.finish_reason
        self._check_finish(finish, text)

    def _next_event(
        self, attempt: _Attempt, deadline: float, last_token: float, budget: float, number: int
    ) -> tuple[str, Any]:
        """The next event of the attempt; raises when the deadline or the idle timeout passes."""
        while True:
            with contextlib.suppress(queue.Empty):
                return attempt.events.get_nowait()  # what has arrived counts, however late
            now = time.monotonic()
            if now >= deadline:
                raise ModelUnavailableError(
                    "timeout",
                    f"The answer deadline of {budget:.1f} s (ASSISTANT_ANSWER_DEADLINE) passed "
                    f"on attempt {number} before the answer was complete: the model API is slow "
                    "or holding the request open; answers fall back to excerpts.",
                )
            if now - last_token >= self._idle:
                raise _Retryable(
                    "timeout",
                    f"no answer text for {self._idle:g} s (ASSISTANT_STREAM_IDLE_TIMEOUT)",
                )
            with contextlib.suppress(queue.Empty):
                return attempt.events.get(
                    timeout=min(deadline - now, last_token + self._idle - now)
                )

    @staticmethod
    def _check_finish(finish: str | None, text: str) -> None:
        if finish == "stop" and text.strip():
            return
        if finish == "stop":
            raise ModelUnavailableError(
                "empty",
                "The model finished without any answer text (it only reasoned): ask again; "
                "if it keeps happening, set DEEPSEEK_THINKING=false.",
            )
        if finish is None:
            raise _Retryable("truncated", "the stream ended without a finish reason")
        if finish == "insufficient_system_resource":
            raise _Retryable("overloaded", "the provider cut the answer for lack of capacity")
        if finish == "content_filter":
            raise ModelUnavailableError(
                "filtered",
                "The provider's content filter stopped the answer: show the excerpts instead; "
                "rephrasing the question may help.",
            )
        raise ModelUnavailableError(
            "truncated",
            f"The answer stopped early (finish reason {finish!r}): the partial text must not be "
            "shown as a whole answer; ask a narrower question.",
        )

    def _translate(self, error: Exception) -> Exception:
        """An exception from the worker as _Retryable, ModelUnavailableError, or itself (a bug)."""
        if isinstance(error, openai.APIStatusError):
            return self._status_error(error)
        if isinstance(error, openai.APITimeoutError):
            return _Retryable("timeout", "no response within the read timeout")
        if isinstance(error, openai.APIConnectionError):
            return _Retryable("connection", self._redact(f"{error} ({error.__cause__!r})"))
        if isinstance(error, openai.APIError):  # an error event in the middle of the stream
            return _Retryable("overloaded", self._redact(f"error event: {error.message}"))
        if isinstance(error, ValueError):  # not JSON, or not chat-completion chunks
            return ModelUnavailableError(
                "connection",
                f"The model API at {self._base_url} sent a response that is not a chat-completions "
                "stream: check DEEPSEEK_BASE_URL points at an OpenAI-compatible endpoint.",
            )
        return error

    def _status_error(self, error: openai.APIStatusError) -> Exception:
        status = error.status_code
        body = error.body if isinstance(error.body, dict) else {}
        server = self._redact(str(body.get("message") or error.message))
        if status in STATUS_MESSAGES:
            return ModelUnavailableError(*STATUS_MESSAGES[status], status)
        if status == 429 or status >= 500:
            kind = "rate_limited" if status == 429 else "overloaded"
            retry_after = _retry_after(error.response.headers.get("retry-after"))
            return _Retryable(kind, f"HTTP {status}", status, retry_after)
        return ModelUnavailableError(
            "bad_request",
            f"The model API refused the request ({status}: {server}): check DEEPSEEK_MODEL "
            "and DEEPSEEK_BASE_URL; if they are right, this is a bug to report. "
            "Not retried.",
            status,
        )

    def _gave_up(
        self, failure: _Retryable, attempts: int, budget: float | None = None
    ) -> ModelUnavailableError:
        tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
        messages = {
            "rate_limited": f"The model API kept rate-limiting us (429) after {tries}: "
            "lower the request rate or raise the account's concurrency limit; answers fall "
            "back to excerpts meanwhile.",
            "overloaded": f"The model API is overloaded or failing ({failure.detail}) after "
            f"{tries}: answers fall back to excerpts until it recovers; check the provider's "
            "status page if it persists.",
            "connection": f"Could not reach the model API at {self._base_url} after {tries} "
            f"({failure.detail}): check DEEPSEEK_BASE_URL and the network.",
            "timeout": f"The model API gave {failure.detail} after {tries}: it is overloaded; "
            "answers fall back to excerpts, and a longer ASSISTANT_STREAM_IDLE_TIMEOUT may help.",
            "truncated": f"The answer stream ended before any answer text after {tries} "
            f"({failure.detail}): ask again; answers fall back to excerpts meanwhile.",
        }
        message = messages[failure.kind]
        if budget is not None:
            message += (
                f" The answer deadline of {budget:.1f} s (ASSISTANT_ANSWER_DEADLINE) left no "
                "time for another attempt."
            )
        return ModelUnavailableError(failure.kind, message, failure.status)

    def _cut_short(self, failure: _Retryable) -> ModelUnavailableError:
        kind = "truncated" if failure.kind in ("connection", "truncated") else failure.kind
        return ModelUnavailableError(
            kind,
            f"The answer broke off after part of it had arrived ({failure.detail}): the partial "
            "text must not be shown as a whole answer; fall back to the excerpts and ask again.",
            failure.status,
        )

    def _delay(self, failures: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._retry_after_cap)
        return random.uniform(0.0, min(self._backoff_cap, self._backoff_base * 2**failures))

    def _redact(self, text: str) -> str:
        return text.replace(self._key, "[the API key]") if self._key else text

    # --- the model list

    def list_models(self, *, timeout: float = 5.0) -> list[str]:
        """The model names ``GET /models`` lists; raises ModelUnavailableError."""
        try:
            page = self._client.with_options(timeout=timeout).models.list()
        except openai.APIError as error:
            translated = self._translate(error)
            if isinstance(translated, _Retryable):
                translated = self._gave_up(translated, 1)
            raise translated from None
        return [model.id for model in page.data]

    def check_model(self, *, timeout: float = 5.0) -> str | None:
        """A warning sentence when the configured model is not listed or the list is unreachable."""
        try:
            names = self.list_models(timeout=timeout)
        except ModelUnavailableError as error:
            return (
                f"Could not check DEEPSEEK_MODEL={self.name} against {self._base_url}/models: "
                f"{error}"
            )
        if self.name in names:
            return None
        listed = ", ".join(names) or "none"
        if self.name in RETIRED_MODELS:
            return (
                f"DEEPSEEK_MODEL={self.name} was switched off by DeepSeek on "
                f"{RETIRED_MODELS[self.name]}: set DEEPSEEK_MODEL to one of {listed}."
            )
        return (
            f"DEEPSEEK_MODEL={self.name} is not among the models {self._base_url} lists: "
            f"set DEEPSEEK_MODEL to one of {listed}."
        )


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header; None when absent or a date (DeepSeek sends seconds)."""
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
