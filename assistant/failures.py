"""How a chat-completions API fails, and what we call each failure (for ``assistant.llm``).

Every way a request can end badly becomes one of two things:

- ``Retryable``: another attempt may cure it (429, 5xx, a timeout, a broken connection, a stream
  cut before any text, a chunk that is not JSON). The model retries it within the deadline and,
  when it gives up, turns it into an ``Outage`` with a sentence for the operator.
- ``ModelUnavailableError``: sending the same request again cannot help. Its subclass
  ``Outage`` marks a failure of the endpoint rather than of this question (every question would
  fail the same way: 401, 402, retries exhausted, the deadline passed, a stream cut midway);
  the circuit breaker counts only those.

How a stream ended decides the error (a stream cut midway ends quietly in the ``openai`` client,
so the finish reason is checked by hand):

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
a chunk that is not JSON                ``malformed``   yes
======================================  ==============  ===========================

Messages name the settings of the endpoint that failed (``DEEPSEEK_API_KEY`` for the main one,
``DEEPSEEK_FALLBACK_API_KEY`` for the second), and never its key: server text is redacted.
"""

from __future__ import annotations

from dataclasses import dataclass

import openai

from .errors import ModelUnavailableError


class Retryable(Exception):
    """A failure that another attempt may cure; turned into an ``Outage`` at the end."""

    def __init__(
        self, kind: str, detail: str, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status
        self.retry_after = retry_after

    @property
    def label(self) -> str:
        """How the audit trail names this failed attempt: ``"429 rate_limited"``, ``"timeout"``."""
        return f"{self.status} {self.kind}" if self.status else self.kind


class Outage(ModelUnavailableError):
    """A failure of the endpoint rather than of this question: the circuit breaker counts it."""


def label(error: ModelUnavailableError) -> str:
    return f"{error.status} {error.kind}" if error.status else error.kind


@dataclass(frozen=True)
class Endpoint:
    """What failure messages need to know about an endpoint (the key only to redact it)."""

    base_url: str
    key: str
    prefix: str = "DEEPSEEK_"  # the settings that configure it: DEEPSEEK_API_KEY, …

    def redact(self, text: str) -> str:
        return text.replace(self.key, "[the API key]") if self.key else text

    def translate(self, error: Exception) -> Exception:
        """An exception from the client as Retryable, ModelUnavailableError, or itself (a bug)."""
        if isinstance(error, openai.APIStatusError):
            return self.status_error(error)
        if isinstance(error, openai.APITimeoutError):
            return Retryable("timeout", "no response within the read timeout")
        if isinstance(error, openai.APIConnectionError):
            return Retryable("connection", self.redact(f"{error} ({error.__cause__!r})"))
        if isinstance(error, openai.APIError):  # an error event in the middle of the stream
            return Retryable("overloaded", self.redact(f"error event: {error.message}"))
        if isinstance(error, ValueError):  # a chunk that is not JSON, or not a completion chunk
            return Retryable("malformed", "a stream chunk that is not valid JSON")
        return error

    def status_error(self, error: openai.APIStatusError) -> Exception:
        status = error.status_code
        body = error.body if isinstance(error.body, dict) else {}
        server = self.redact(str(body.get("message") or error.message))
        key = f"{self.prefix}API_KEY"
        if status == 401:  # these need the operator: an outage for every question
            return Outage("auth", f"The API key was rejected (401): check {key}.", status)
        if status == 402:
            return Outage(
                "balance",
                "The account has no balance (402): top up at the provider; requests are not "
                "retried.",
                status,
            )
        if status == 403:
            return Outage("auth", f"The API key may not use this model (403): check {key}.", status)
        if status == 429 or status >= 500:
            kind = "rate_limited" if status == 429 else "overloaded"
            return Retryable(kind, f"HTTP {status}", status, retry_after(error))
        return ModelUnavailableError(
            "bad_request",
            f"The model API refused the request ({status}: {server}): check {self.prefix}MODEL "
            f"and {self.prefix}BASE_URL; if they are right, this is a bug to report. "
            "Not retried.",
            status,
        )

    def gave_up(
        self, failure: Retryable, attempts: int, budget: float | None = None
    ) -> ModelUnavailableError:
        tries = f"{attempts} attempt{'s' if attempts > 1 else ''}"
        url = f"{self.prefix}BASE_URL"
        messages = {
            "rate_limited": f"The model API kept rate-limiting us (429) after {tries}: "
            "lower the request rate or raise the account's concurrency limit; answers fall "
            "back meanwhile.",
            "overloaded": f"The model API is overloaded or failing ({failure.detail}) after "
            f"{tries}: answers fall back until it recovers; check the provider's "
            "status page if it persists.",
            "connection": f"Could not reach the model API at {self.base_url} after {tries} "
            f"({failure.detail}): check {url} and the network.",
            "timeout": f"The model API gave {failure.detail} after {tries}: it is overloaded; "
            "answers fall back, and a longer ASSISTANT_STREAM_IDLE_TIMEOUT may help.",
            "truncated": f"The answer stream ended before any answer text after {tries} "
            f"({failure.detail}): ask again; answers fall back meanwhile.",
            "malformed": f"The model API at {self.base_url} sent {failure.detail} after "
            f"{tries}: if it persists, check {url} points at an OpenAI-compatible endpoint; "
            "answers fall back meanwhile.",
        }
        message = messages[failure.kind]
        if budget is not None:
            message += (
                f" The answer deadline of {budget:.1f} s (ASSISTANT_ANSWER_DEADLINE) left no "
                "time for another attempt."
            )
        return Outage(failure.kind, message, failure.status)


def cut_short(failure: Retryable) -> ModelUnavailableError:
    """A failure after text was shown: the text must be replaced, not retried."""
    kind = "truncated" if failure.kind in ("connection", "truncated") else failure.kind
    return Outage(
        kind,
        f"The answer broke off after part of it had arrived ({failure.detail}): the partial "
        "text must not be shown as a whole answer; fall back and ask again.",
        failure.status,
    )


def check_finish(finish: str | None, text: str) -> None:
    """Raise unless the stream ended with "stop" after some text (see the table above)."""
    if finish == "stop" and text.strip():
        return
    if finish == "stop":
        raise ModelUnavailableError(
            "empty",
            "The model finished without any answer text (it only reasoned): ask again; "
            "if it keeps happening, set DEEPSEEK_THINKING=false.",
        )
    if finish is None:
        raise Retryable("truncated", "the stream ended without a finish reason")
    if finish == "insufficient_system_resource":
        raise Retryable("overloaded", "the provider cut the answer for lack of capacity")
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


def retry_after(error: openai.APIStatusError) -> float | None:
    """Seconds from a Retry-After header; None when absent or a date (DeepSeek sends seconds)."""
    value = error.response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
