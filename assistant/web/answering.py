"""Running the engine's answer for an HTTP request: off the event loop, with keep-alives, and
stopped when the client leaves.

``AnswerEngine.stream`` is a blocking generator (retrieval, then the model's tokens). Each step
of it runs in a pool of ``ASSISTANT_ANSWER_THREADS`` threads of its own, not in the event loop
and not in the thread pool the cheap routes share, so a crowd of answers never makes
``/healthz`` wait. The async side waits for each step with a timeout: while nothing new has
come for ``ASSISTANT_SSE_KEEPALIVE`` seconds it hands out ``KEEPALIVE`` so a stream can send a
comment, which keeps proxies and clients from hanging up on a slow model.

``close()`` is called when the response ends for any reason, a client that disconnected
included. It sets the cancel event the step runs under (``assistant.cancel``): a step waiting
for the model ends within a tenth of a second and the request upstream is closed. Then the
engine's generator is closed, in a pool thread, so GeneratorExit reaches the engine as soon as
it is suspended again, and nobody pays for tokens nobody reads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from enum import Enum

from starlette.types import Receive

from ..answer import Answer, Event
from ..cancel import Cancel, cancel_on

FIRST_WAIT = 0.5  # seconds: a request's failure before this is a status, after it an event


class Signal(Enum):
    KEEPALIVE = "keep-alive"  # nothing new for a while: send a comment
    PENDING = "pending"  # the first event has not come within FIRST_WAIT


class Answering:
    """The answer threads of one app."""

    def __init__(self, threads: int, keepalive: float) -> None:
        self.keepalive = keepalive
        self._pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="answer")

    def start(self, make: Callable[[], Iterator[Event]]) -> AnswerRun:
        return AnswerRun(make(), self._pool, self.keepalive)


class AnswerRun:
    """One answer in progress: its events, awaited one step at a time."""

    def __init__(
        self,
        events: Iterator[Event],
        pool: concurrent.futures.ThreadPoolExecutor,
        keepalive: float,
    ) -> None:
        self._events = events
        self._pool = pool
        self._keepalive = keepalive
        self._stop = Cancel()  # also shuts down a model read blocked on a silent socket
        self._pending: concurrent.futures.Future[Event | None] | None = None
        self._closed = False

    def _step(self) -> Event | None:
        with cancel_on(self._stop):
            return next(self._events, None)

    async def next(self, wait: float) -> Event | Signal | None:
        """The next event; ``None`` at the end; ``Signal.PENDING`` when ``wait`` passed first.
        Errors of the engine (``AssistantError``) are raised here."""
        if self._pending is None:
            self._pending = self._pool.submit(self._step)
        waiting = asyncio.wrap_future(self._pending)
        # The engine's exception is retrieved here or by close(): never left "unretrieved".
        waiting.add_done_callback(_quiet)
        try:
            event = await asyncio.wait_for(asyncio.shield(waiting), wait)
        except TimeoutError:
            return Signal.PENDING
        self._pending = None
        return event

    async def events(self) -> AsyncIterator[Event | Signal]:
        """Every event to the end, with ``Signal.KEEPALIVE`` for each quiet interval."""
        while (event := await self.next(self._keepalive)) is not None:
            yield Signal.KEEPALIVE if event is Signal.PENDING else event

    async def answer(self) -> Answer:
        """The final Answer (the deltas before it are skipped)."""
        async for event in self.events():
            if isinstance(event, Answer):
                return event
        raise RuntimeError("the engine's stream ended without an Answer")

    def close(self) -> None:
        """Stop: cancel the model request, then close the engine's generator (see above)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()

        events = self._events
        if not isinstance(events, Generator):
            return

        def close_events(_: object = None) -> None:
            try:
                self._pool.submit(events.close)
            except RuntimeError:  # the pool is shut down (the app is stopping)
                events.close()

        if self._pending is not None:
            self._pending.add_done_callback(close_events)  # once the running step has ended
        else:
            close_events()


def _quiet(future: asyncio.Future[Event | None]) -> None:
    if not future.cancelled():
        future.exception()


async def disconnected(receive: Receive) -> None:
    """Return when the client has gone (for a plain response, whose body is already read)."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def until_answered(run: AnswerRun, receive: Receive) -> Answer | None:
    """The run's Answer, or None when the client left first (the run is then closed)."""
    answer = asyncio.ensure_future(run.answer())
    gone = asyncio.ensure_future(disconnected(receive))
    try:
        await asyncio.wait({answer, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        gone.cancel()
        if not answer.done():
            answer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await answer
        run.close()
    return answer.result() if not answer.cancelled() else None
