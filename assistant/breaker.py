"""A circuit breaker per model endpoint: during a long outage, fail at once instead of waiting.

Without it every user waits out the whole retry budget (up to ``ASSISTANT_ANSWER_DEADLINE``)
before getting the excerpts, one after another, for as long as the outage lasts. With it:

- **closed**: requests go through; ``failures`` consecutive failed requests (each after its own
  retries) open it;
- **open**: requests fail at once (kind ``circuit_open``) for ``cooldown`` seconds;
- **half-open**: after the cooldown one request, the probe, goes through while the others still
  fail at once; its success closes the breaker, its failure opens it for another cooldown. A
  probe whose reader went away before it ended (a client disconnect) decides nothing and lets
  the next request probe.

What counts as a failure is the caller's decision (the chat model counts outages, not a
question the content filter stopped). The clock is injectable for tests.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        *,
        failures: int = 3,
        cooldown: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
        log: logging.Logger | None = None,
    ) -> None:
        self.name = name
        self.threshold = failures
        self.cooldown = cooldown
        self._clock = clock
        self._log = log or logging.getLogger(__name__)
        self._lock = threading.Lock()
        self._state: State = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probe: object | None = None  # the token of the request now probing

    @property
    def state(self) -> State:
        with self._lock:
            if self._state == "open" and self._clock() - self._opened_at >= self.cooldown:
                return "half_open"
            return self._state

    def retry_in(self) -> float:
        """Seconds until the next probe may go (0 when closed)."""
        with self._lock:
            if self._state == "closed":
                return 0.0
            return max(0.0, self.cooldown - (self._clock() - self._opened_at))

    def acquire(self) -> object | None:
        """A token to make a request with, or None when it must fail at once."""
        token = object()
        with self._lock:
            if self._state == "closed":
                return token
            if self._clock() - self._opened_at < self.cooldown or self._probe is not None:
                return None
            self._state = "half_open"
            self._probe = token
        self._log.info("Model endpoint %s: cooldown over, sending one probe request.", self.name)
        return token

    def success(self, token: object) -> None:
        with self._lock:
            recovered = self._state != "closed" and token is self._probe
            if self._state != "closed" and not recovered:
                return  # a request from before the opening: the probe decides
            self._state, self._failures, self._probe = "closed", 0, None
        if recovered:
            self._log.warning("Model endpoint %s recovered: the circuit is closed.", self.name)

    def failure(self, token: object) -> None:
        with self._lock:
            if self._state == "closed":
                self._failures += 1
                if self._failures < self.threshold:
                    return
                cause = f"{self._failures} failed requests in a row"
            elif token is self._probe:
                cause = "its probe failed"
            else:
                return  # a request from before the opening: the probe decides
            self._state, self._opened_at, self._probe = "open", self._clock(), None
        self._log.error(
            "Model endpoint %s: the circuit is OPEN (%s); answers skip it for %.0f s, then one "
            "request probes it.",
            self.name,
            cause,
            self.cooldown,
        )

    def release(self, token: object) -> None:
        """The request ended undecided (its reader left): let another request probe."""
        with self._lock:
            if token is self._probe:
                self._probe = None
                self._state = "open"  # still past its cooldown: the next acquire probes
