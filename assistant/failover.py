"""A second model or endpoint that takes over before the excerpts.

When the main model fails before it has shown any text (an outage, its circuit breaker open, a
rejected key), ``FailoverChat`` asks the second one (``DEEPSEEK_FALLBACK_*``) within the same
answer deadline; only when both fail does the engine quote excerpts. The main model gets two
thirds of the time left, so that a main model holding the request open until the deadline
still leaves the second one time to answer (once the main one's breaker is open, it fails at
once and the second one has nearly all of it).

A failure after text was shown is not handed over: the reader has seen part of one model's
answer, and the engine replaces it with excerpts instead of splicing in another model's.
Which model answered is in the ``ModelCall`` records each endpoint appends to ``calls``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Generator, Sequence

from langchain_core.messages import BaseMessage

from .errors import ModelUnavailableError
from .llm import ChatModel
from .modelcalls import ModelCall

log = logging.getLogger(__name__)


class FailoverChat(ChatModel):
    def __init__(self, primary: ChatModel, fallback: ChatModel, *, share: float = 2 / 3) -> None:
        self.primary = primary
        self.fallback = fallback
        self.name = primary.name
        self._share = share

    def available(self) -> bool:
        return self.primary.available() or self.fallback.available()

    def stream(
        self,
        messages: Sequence[BaseMessage],
        *,
        deadline: float,
        calls: list[ModelCall] | None = None,
    ) -> Generator[str, None, None]:
        now = time.monotonic()
        first = now + max(0.0, deadline - now) * self._share
        shown = False
        try:
            deltas = self.primary.stream(messages, deadline=first, calls=calls)
            with contextlib.closing(deltas):
                for delta in deltas:
                    shown = True
                    yield delta
            return
        except ModelUnavailableError as error:
            if shown:
                raise
            log.warning(
                "Model %s failed (%s); the fallback model %s takes over.",
                self.primary.name,
                error.kind,
                self.fallback.name,
            )
        deltas = self.fallback.stream(messages, deadline=deadline, calls=calls)
        with contextlib.closing(deltas):
            yield from deltas
