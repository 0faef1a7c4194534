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

The deadline and the idle timeout, read by read
    Under load DeepSeek holds a waiting request open for up to 30 minutes with ``: keep-alive``
    SSE comments (blank lines when not streaming). Every read succeeds, so httpx's per-read
    timeout never fires on its own. The answer's thread reads the response itself and, after
    every read (keep-alives included), looks at the cancel event, the deadline and the idle
    timeout (seconds without a content or reasoning delta; keep-alives do not count). When no
    byte comes at all, the read timeout, set to the smaller of the idle timeout and the time
    left, ends the read when one of them passes. (An earlier design read in a thread of its own
    per request and handed the chunks over: under load the thread switches, two per chunk, cost
    more than the reading.)

A lean stream reader (``assistant.llmstream``)
    The request goes through the ``openai`` client (``with_streaming_response``), but its body
    is parsed by ``llmstream``: one ``json.loads`` per chunk instead of a pydantic object, and
    the content of the chunks one read brought yielded as one delta. It raises what the
    client's own stream raises, so every failure below is told apart as before.

Finish reasons checked by hand
    A stream cut midway ends quietly in the openai client: no exception, no ``[DONE]``. Shown
    as it is, a half answer would pass for a whole one, so every answer must end with a finish
    reason. How each ending and each HTTP status becomes an error kind, and which are retried,
    is tabled in ``assistant.failures``.

A circuit breaker per endpoint (``assistant.breaker``)
    Requests that end in an outage (429/5xx/timeouts/connection failures after their retries,
    a stream cut midway, 401/402) count against the endpoint's breaker; once open, requests fail
    at once with kind ``circuit_open`` until a half-open probe succeeds. A question the
    provider refused on its merits (content filter, empty content, 400) does not count, and a
    request whose reader went away decides nothing.

Usage and the story of each request, per request
    ``stream(..., calls=list)`` appends a ``ModelCall`` the caller owns: attempts, each failed
    attempt, the token usage (DeepSeek's cache hit / miss counts included) and the outcome.
    Nothing about a request is kept on the model object, which every request shares.

A reader that goes away cancels the request
    Closing the stream (GeneratorExit at its ``yield``) closes the response upstream in
    ``_attempts``' ``finally``. A reader that leaves while the stream waits for a token or
    sleeps before a retry is noticed through ``assistant.cancel`` (see its docstring): after
    the next read, or at once where the cancel event is a ``Cancel``, which shuts the socket
    down under a read blocked on a silent stream. (While the request waits for the response's
    headers, a cancel is noticed when they come or the read timeout passes.)

Reasoning (``reasoning_content``) is read only to reset the idle timer: it was never
compliance-checked, so it is neither yielded nor returned. The API key appears in no message
and no log line: messages are composed here, and server text is redacted before use.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterator, Sequence
from typing import Any, Literal

import openai
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from openai.types.chat import ChatCompletionMessageParam

from assistant import cancel, llmstream
from assistant.breaker import CircuitBreaker
from assistant.config import Settings, client_url
from assistant.errors import ConfigurationError, ModelUnavailableError
from assistant.failures import Endpoint, Outage, Retryable, check_finish, cut_short, label
from assistant.modelcalls import ModelCall, Usage
from assistant.redact import redact_url

POOLS = 8  # clients, each with its own pool of connections (see ``__init__``)
RETIRED_MODELS = {"deepseek-chat": "2026-07-24", "deepseek-reasoner": "2026-07-24"}


def _close_all(clients: list[openai.OpenAI]) -> None:
    for client in clients:
        client.close()


def model_mode(chat: ChatModel | None) -> Literal["llm", "offline", "fallback"]:
    """How a question would be answered now: by the model; by excerpts for want of a key
    (offline); or by excerpts because every endpoint's circuit breaker is open (fallback)."""
    if chat is None:
        return "offline"
    return "llm" if chat.available() else "fallback"


class ChatModel(ABC):
    """A chat model: one abstract method, ``stream``; ``complete`` is built on it."""

    name: str

    @abstractmethod
    def stream(
        self,
        messages: Sequence[BaseMessage],
        *,
        deadline: float,
        calls: list[ModelCall] | None = None,
    ) -> Generator[str, None, None]:
        """Yield the content deltas of one answer; ``deadline`` is a ``time.monotonic()`` value.

        Raises ``ModelUnavailableError`` on any failure, also after some deltas were yielded
        (kinds ``truncated``, ``empty``, ``filtered``, ``timeout``, …: see the module docstring).
        Each endpoint the request reaches appends its ``ModelCall`` to ``calls``.
        """

    def available(self) -> bool:
        """Whether a request would be tried now (False while every endpoint's breaker is open)."""
        return True

    def complete(
        self,
        messages: Sequence[BaseMessage],
        *,
        deadline: float,
        calls: list[ModelCall] | None = None,
    ) -> str:
        """The whole answer as one string (read as it comes: nobody watches it grow)."""
        with llmstream.unpaced():
            return "".join(self.stream(messages, deadline=deadline, calls=calls))


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
        breaker: CircuitBreaker | None = None,
        endpoint: str = "primary",
    ) -> None:
        prefix = "DEEPSEEK_FALLBACK_" if endpoint == "fallback" else "DEEPSEEK_"
        if settings.api_key is None or not settings.api_key.get_secret_value():
            raise ConfigurationError(
                f"The chat model needs a key: set {prefix}API_KEY, or leave it unset "
                "and do not build the model (offline excerpt mode)."
            )
        self.name = settings.model
        self.endpoint = endpoint
        self.breaker = breaker
        self._key = settings.api_key.get_secret_value()
        # Messages name the endpoint by its URL without credentials: they reach logs.
        self._base_url = redact_url(settings.base_url)
        self._endpoint = Endpoint(self._base_url, self._key, prefix)
        self._thinking = settings.thinking
        self._idle = settings.stream_idle_timeout
        self._max_retries = settings.max_retries
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._retry_after_cap = retry_after_cap
        self._temperature = temperature
        self._log = log or logging.getLogger(__name__)
        # Several clients, each with its pool of connections, a thread always on the same one:
        # httpcore walks every connection of a pool, under the pool's lock, when a request
        # starts and when its response ends, and a streamed answer holds its connection for
        # its whole length (two hundred of them at 20 new answers a second). Each client is
        # made on its first request.
        # A gateway's version or token in the base URL's query goes with every request.
        self._base, self._query = client_url(settings.base_url)
        self._clients: list[openai.OpenAI] = []
        self._clients_lock = threading.Lock()
        self._pool_of = threading.local()
        self._next_pool = itertools.count()
        # Connections stay open between requests (``llmstream`` reads each body to its end): a
        # model that goes away closes them, before its clients and their sockets are collected.
        self.close = weakref.finalize(self, _close_all, self._clients)

    @property
    def _client(self) -> openai.OpenAI:
        """This thread's client (its connections are kept for its next request)."""
        client: openai.OpenAI | None = getattr(self._pool_of, "client", None)
        if client is None:
            with self._clients_lock:
                if len(self._clients) < POOLS:
                    client = openai.OpenAI(
                        api_key=self._key,
                        base_url=self._base,
                        default_query=self._query or None,
                        max_retries=0,
                        timeout=openai.Timeout(self._idle + 1.0, connect=5.0),
                    )
                    self._clients.append(client)
                else:
                    client = self._clients[next(self._next_pool) % POOLS]
            self._pool_of.client = client
        return client

    def available(self) -> bool:
        return self.breaker is None or self.breaker.state != "open"

    # --- answers

    def stream(
        self,
        messages: Sequence[BaseMessage],
        *,
        deadline: float,
        calls: list[ModelCall] | None = None,
    ) -> Generator[str, None, None]:
        call = ModelCall(self.name, self.endpoint)
        if calls is not None:
            calls.append(call)
        began = time.monotonic()
        token = self.breaker.acquire() if self.breaker else object()
        if token is None:
            call.outcome = "circuit_open"
            raise self._circuit_open()
        decided = False
        try:
            attempts = self._attempts(to_openai_messages(messages), deadline, call)
            with contextlib.closing(attempts):  # a reader that leaves closes the request now
                for delta in attempts:
                    if call.first_token_ms is None:
                        call.first_token_ms = round((time.monotonic() - began) * 1000, 1)
                    yield delta
            call.outcome, decided = "ok", True
            if self.breaker:
                self.breaker.success(token)
        except ModelUnavailableError as error:
            call.outcome, decided = error.kind, True
            if self.breaker:
                outage = isinstance(error, Outage)
                (self.breaker.failure if outage else self.breaker.success)(token)
            raise
        finally:
            call.elapsed_ms = round((time.monotonic() - began) * 1000, 1)
            if not decided:  # the reader stopped early (or a bug): nothing learnt
                call.outcome = "closed"
                if self.breaker:
                    self.breaker.release(token)

    def _attempts(
        self, payload: list[ChatCompletionMessageParam], deadline: float, call: ModelCall
    ) -> Generator[str, None, None]:
        """One request's attempts: retries before the first delta, within the deadline."""
        budget = max(0.0, deadline - time.monotonic())
        failures = 0
        while True:
            call.attempts += 1
            started = False
            response = None
            try:
                opened = time.monotonic()
                try:
                    response = self._open(payload, deadline)
                except Exception as error:
                    raise self._failed(error, deadline, opened, budget, failures + 1) from None
                reading = self._read(response, deadline, opened, budget, failures + 1, call)
                with cancel.on_cancel(llmstream.wake(response.http_response)):
                    for delta in reading:
                        started = True
                        yield delta
                self._log.info("Model %s answered; usage %s.", self.name, call.usage.as_dict())
                return
            except Retryable as failure:
                call.failures.append(failure.label)
                if started:
                    raise cut_short(failure) from None
                failures += 1
                if failures > self._max_retries:
                    raise self._endpoint.gave_up(failure, failures) from None
                delay = self._delay(failures - 1, failure.retry_after)
                if time.monotonic() + delay >= deadline:
                    raise self._endpoint.gave_up(failure, failures, budget) from None
                self._log.warning(
                    "Model API attempt %d failed (%s); retrying in %.2f s.",
                    failures,
                    failure.detail,
                    delay,
                )
            except ModelUnavailableError as error:
                call.failures.append(label(error))
                raise
            finally:
                if response is not None:
                    response.close()
            cancel.sleep(delay)

    def _circuit_open(self) -> ModelUnavailableError:
        assert self.breaker is not None
        return ModelUnavailableError(
            "circuit_open",
            f"The model API ({self.endpoint} endpoint, model {self.name}) failed "
            f"{self.breaker.threshold} requests in a row: it is skipped for "
            f"{self.breaker.retry_in():.0f} s more, then one request probes it "
            "(ASSISTANT_BREAKER_COOLDOWN). Answers fall back meanwhile.",
        )

    def _open(
        self, payload: list[ChatCompletionMessageParam], deadline: float
    ) -> openai.APIResponse[Any]:
        """The response of one attempt, its body unread (``llmstream`` parses it); the status
        errors are raised here as the client raises them."""
        thinking = {"type": "enabled" if self._thinking else "disabled"}
        # In thinking mode the API ignores temperature; not sending it keeps the request honest.
        temperature = openai.omit if self._thinking else self._temperature
        left = max(0.1, deadline - time.monotonic())
        # No byte for the idle timeout, or none before the deadline: the read times out then.
        # Keep-alives are bytes: the reader checks both times at each of them (``_read``).
        timeout = openai.Timeout(min(self._idle, left), connect=min(5.0, left))
        # The messages go in ``extra_body``, which the client sends as given: ``create`` walks its
        # own arguments against their TypedDicts (``maybe_transform``, about 1 ms of CPU for an
        # answer's prompt, a no-op on plain role/content strings). The body sent is the same.
        request = self._client.chat.completions.with_streaming_response.create(
            model=self.name,
            messages=(),
            stream=True,
            stream_options={"include_usage": True},
            temperature=temperature,
            extra_body={"messages": payload, "thinking": thinking},
            timeout=timeout,
        )
        return request.__enter__()  # closed by ``_attempts``

    def _read(
        self,
        response: openai.APIResponse[Any],
        deadline: float,
        opened: float,
        budget: float,
        number: int,
        call: ModelCall,
    ) -> Iterator[str]:
        """The content deltas of one attempt; raises at its end unless it finished with "stop".

        The content of the chunks one read brought is yielded as one delta. After each read,
        keep-alives included, the reader looks at the cancel event, the deadline and the idle
        timeout (seconds without a content or reasoning delta)."""
        finish: str | None = None
        text = ""
        last_token = opened
        reads = llmstream.read(response.http_response)
        while True:
            try:
                chunks = next(reads, None)
            except Exception as error:
                raise self._failed(error, deadline, last_token, budget, number) from None
            cancel.check()
            if chunks is None:
                break
            content = ""
            for chunk in chunks:
                if chunk.usage is not None:
                    call.usage.add(Usage.from_report(chunk.usage))
                if chunk.content or chunk.reasoning:
                    last_token = time.monotonic()
                content += chunk.content
                finish = chunk.finish or finish
            if content:
                text += content
                yield content
                last_token = time.monotonic()  # the reader's own time is not idle time
            if finish is None:
                self._check_time(deadline, last_token, budget, number)
        check_finish(finish, text)

    def _failed(
        self, error: Exception, deadline: float, last_token: float, budget: float, number: int
    ) -> Exception:
        """What a failed open or read means: a cancel, the deadline, the idle timeout, or the
        client's error translated (``assistant.failures``)."""
        cancel.check()  # a cancel shuts the socket down: the read fails, and that is all
        if isinstance(error, openai.APITimeoutError):
            self._check_time(deadline, last_token, budget, number)
        return self._endpoint.translate(error)

    def _check_time(self, deadline: float, last_token: float, budget: float, number: int) -> None:
        """Raise when the deadline or the idle timeout has passed."""
        now = time.monotonic()
        if now >= deadline:
            raise Outage(
                "timeout",
                f"The answer deadline of {budget:.1f} s (ASSISTANT_ANSWER_DEADLINE) passed "
                f"on attempt {number} before the answer was complete: the model API is slow "
                "or holding the request open; answers fall back to excerpts.",
            )
        if now - last_token >= self._idle:
            raise Retryable(
                "timeout",
                f"no answer text for {self._idle:g} s (ASSISTANT_STREAM_IDLE_TIMEOUT)",
            )

    def _delay(self, failures: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._retry_after_cap)
        return random.uniform(0.0, min(self._backoff_cap, self._backoff_base * 2**failures))

    # --- the model list

    def list_models(self, *, timeout: float = 5.0) -> list[str]:
        """The model names ``GET /models`` lists; raises ModelUnavailableError."""
        try:
            page = self._client.with_options(timeout=timeout).models.list()
        except openai.APIError as error:
            translated = self._endpoint.translate(error)
            if isinstance(translated, Retryable):
                translated = self._endpoint.gave_up(translated, 1)
            raise translated from None
        return [model.id for model in page.data]

    def check_model(self, *, timeout: float = 5.0) -> str | None:
        """A warning sentence when the configured model is not listed or the list is unreachable."""
        variable = f"{self._endpoint.prefix}MODEL"
        try:
            names = self.list_models(timeout=timeout)
        except ModelUnavailableError as error:
            return (
                f"Could not check {variable}={self.name} against {self._base_url}/models: {error}"
            )
        if self.name in names:
            return None
        listed = ", ".join(names) or "none"
        if self.name in RETIRED_MODELS:
            return (
                f"{variable}={self.name} was switched off by DeepSeek on "
                f"{RETIRED_MODELS[self.name]}: set {variable} to one of {listed}."
            )
        return (
            f"{variable}={self.name} is not among the models {self._base_url} lists: "
            f"set {variable} to one of {listed}."
        )
