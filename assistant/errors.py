"""The project's exceptions: one base, a subclass per cause, translated once at each edge.

    AssistantError
    ├── ConfigurationError         a setting is missing or wrong; names the variable to set
    │   └── EmbedderMismatchError  the store was built by another embedder; run ingest --rebuild
    ├── IngestError                one file could not be ingested; the rest go on
    ├── InputError                 a question or request the user must change (empty, too long)
    ├── ModelUnavailableError      the chat-completions API failed (after retries where they help)
    ├── NoSourcesError             the store holds nothing to answer from; run ingest
    ├── OverloadedError            the server is answering as many questions as it may; retry later
    └── StoreBusyError             another process has the embedded store open

The CLI turns these into a message and an exit code, HTTP into a status and JSON, the UI into a
chat message. Anything else is a bug and is allowed to propagate.
"""

from __future__ import annotations


class AssistantError(Exception):
    """Base class: ``str(error)`` is a whole sentence that says what to do next."""


class ConfigurationError(AssistantError):
    """A setting is missing or invalid."""


class EmbedderMismatchError(ConfigurationError):
    """The collection was built by a different embedder than the one configured."""


class IngestError(AssistantError):
    """One file could not be ingested; ``reason`` says why in one sentence."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class InputError(AssistantError):
    """The user's input cannot be used as it is (empty, too long, malformed history)."""


class ModelUnavailableError(AssistantError):
    """The chat model could not produce an answer.

    ``kind`` is one of: ``auth`` (401), ``balance`` (402), ``bad_request`` (400/422),
    ``rate_limited`` (429), ``overloaded`` (500/503), ``timeout``, ``connection``,
    ``empty`` (finish_reason stop with no content), ``truncated`` (stream cut midway),
    ``filtered`` (the provider's content filter stopped the answer), ``malformed`` (a stream
    chunk that is not JSON), ``circuit_open`` (the endpoint failed repeatedly and is skipped
    until its breaker's probe), ``not_configured``. ``status`` is the HTTP status when there
    was one.
    """

    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


class NoSourcesError(AssistantError):
    """There is nothing in the store to answer from."""


class OverloadedError(AssistantError):
    """The engine is answering as many questions as it is allowed to; ``retry_after`` seconds.

    The web edge answers 503 with ``Retry-After`` (the server is full; 429 stays the per-client
    rate limit), the CLI exits with the sentence.
    """

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreBusyError(AssistantError):
    """The embedded Chroma store is open in another process (only one may open it at a time)."""
