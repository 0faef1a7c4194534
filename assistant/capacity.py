"""How many questions the engine answers at once: a count with a ceiling, refused beyond it.

An answer in flight mostly waits on the model (a streamed answer lasts seconds), so the ceiling
is set by memory and by how many new questions the CPU can prepare, not by threads. Past it a
question is refused at once with ``OverloadedError`` and a ``Retry-After``, rather than queued:
a queue in front of a full server only makes every answer late, and the client knows best
whether to wait. The web edge answers 503. The engine checks when a stream is asked for (a
refusal at the door, like a rate limit, is not a turn), then takes the slot before handing
the stream back: a question that loses the race for the last slot is refused there too, still
as a status, and its turn recorded as refused.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import OverloadedError

log = logging.getLogger(__name__)


class Capacity:
    def __init__(self, limit: int, retry_after: int = 5) -> None:
        self.limit = limit
        self.retry_after = retry_after
        self._busy = 0
        self._lock = threading.Lock()

    @property
    def busy(self) -> int:
        return self._busy

    def _refused(self) -> OverloadedError:
        log.warning("At capacity (%d answers in flight): a question was refused.", self.limit)
        return OverloadedError(
            f"The assistant is answering as many questions as it can ({self.limit}, "
            f"ASSISTANT_MAX_CONCURRENT_ANSWERS); please ask again in {self.retry_after} s.",
            self.retry_after,
        )

    def check(self) -> None:
        """Refuse now if no slot is free (so the caller starts nothing)."""
        if self._busy >= self.limit:
            raise self._refused()

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the slots for the length of an answer; refuse when none is free."""
        with self._lock:
            if self._busy >= self.limit:
                raise self._refused()
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
