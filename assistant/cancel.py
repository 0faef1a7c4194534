"""Cancelling a model request when its reader goes away (a web client that disconnected).

Closing a generator (GeneratorExit at its ``yield``) already ends the model request: the chat
model's ``finally`` closes the response upstream. But the thread that drives an answer spends
most of its time *inside* the generators, waiting for the next token or sleeping before a
retry, and a running generator cannot be closed. ``cancel_on(event)`` covers that wait: within
the block, setting ``event`` from any thread makes the waits below end within ``POLL`` seconds
with ``StreamCancelled``, a GeneratorExit, so every layer above sees exactly what it would see
if its generator had been closed (and never mistakes it for an outage to fall back from).

A read blocked on a silent socket looks at nothing until a byte or its timeout comes: a
``Cancel`` event (the web edge's) also runs what ``on_cancel`` registered for the block, which
shuts that socket down, so the read ends at once.

A context variable carries the event because the answer engine sits between the web edge,
which knows about the disconnect, and the chat model, which holds the request; it is set only
around one step of one answer, in the thread that runs that step.

``after(seconds, callback)`` bounds a blocking read by time alone (the rest of a model's body
after ``[DONE]``): one thread for the whole process calls ``callback`` if the block is still
running when the time comes. Nothing is called once the block has ended.
"""

from __future__ import annotations

import contextlib
import contextvars
import heapq
import itertools
import threading
import time
from collections.abc import Callable, Iterator

POLL = 0.1  # seconds: how often a wait looks at the cancel event

_event: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "assistant_cancel", default=None
)


class StreamCancelled(GeneratorExit):
    """The reader went away: the request upstream was closed and no answer is coming."""


class Cancel(threading.Event):
    """A cancel event that, when set, also calls what ``on_cancel`` registered meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self._guard = threading.Lock()
        self._callbacks: list[Callable[[], None]] = []

    def set(self) -> None:
        super().set()
        with self._guard:
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            with contextlib.suppress(Exception):  # a wake-up that fails leaves the poll to it
                callback()

    def add(self, callback: Callable[[], None]) -> None:
        with self._guard:
            self._callbacks.append(callback)

    def discard(self, callback: Callable[[], None]) -> None:
        with self._guard, contextlib.suppress(ValueError):
            self._callbacks.remove(callback)


@contextlib.contextmanager
def cancel_on(event: threading.Event) -> Iterator[None]:
    """Within the block, setting ``event`` (from any thread) cancels the model request."""
    token = _event.set(event)
    try:
        yield
    finally:
        _event.reset(token)


@contextlib.contextmanager
def on_cancel(callback: Callable[[], None]) -> Iterator[None]:
    """Within the block, a cancel of the current answer also calls ``callback`` (in the
    cancelling thread) when its event is a ``Cancel``: for a wait that cannot look at the event,
    such as a blocking read. A plain event is noticed when the wait next returns."""
    event = _event.get()
    if not isinstance(event, Cancel):
        yield
        return
    event.add(callback)
    if event.is_set():  # set before the callback was there: it would never be called
        event.discard(callback)
        callback()
    try:
        yield
    finally:
        event.discard(callback)


def check() -> None:
    """Raise ``StreamCancelled`` when the current answer has been cancelled."""
    event = _event.get()
    if event is not None and event.is_set():
        raise StreamCancelled


def bounded(wait: float) -> float:
    """``wait``, shortened so that a cancellable wait looks at the event often enough."""
    return wait if _event.get() is None else min(wait, POLL)


def sleep(seconds: float) -> None:
    """``time.sleep``, cut short by a cancel."""
    event = _event.get()
    if event is None:
        time.sleep(seconds)
    elif event.wait(seconds):
        raise StreamCancelled


class _Alarms:
    """One daemon thread, started on first use, that calls each callback whose time has come.

    A callback runs with the lock held, so once ``cancel`` has returned it has either run
    whole or will never run. Cancelled entries stay in the heap until their time (a wake-up
    each, no more)."""

    def __init__(self) -> None:
        self._due = threading.Condition()
        self._heap: list[tuple[float, int, list[Callable[[], None] | None]]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, seconds: float, callback: Callable[[], None]) -> list[Callable[[], None] | None]:
        entry: list[Callable[[], None] | None] = [callback]
        with self._due:
            heapq.heappush(self._heap, (time.monotonic() + seconds, next(self._order), entry))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="alarms", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is entry:
                self._due.notify()
        return entry

    def cancel(self, entry: list[Callable[[], None] | None]) -> None:
        with self._due:
            entry[0] = None

    def _run(self) -> None:
        with self._due:
            while True:
                if not self._heap:
                    self._due.wait()
                    continue
                when, _, entry = self._heap[0]
                wait = when - time.monotonic()
                if wait > 0:
                    self._due.wait(wait)
                    continue
                heapq.heappop(self._heap)
                callback, entry[0] = entry[0], None
                if callback is not None:
                    with contextlib.suppress(Exception):  # a wake-up that fails changes nothing
                        callback()


_alarms = _Alarms()


@contextlib.contextmanager
def after(seconds: float, callback: Callable[[], None]) -> Iterator[None]:
    """Within the block, ``callback`` is called (in another thread) once ``seconds`` have
    passed: for a blocking read that must not outlast a bound of its own."""
    entry = _alarms.add(seconds, callback)
    try:
        yield
    finally:
        _alarms.cancel(entry)
