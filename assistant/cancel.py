"""Cancelling a model request when its reader goes away (a web client that disconnected).

Closing a generator (GeneratorExit at its ``yield``) already ends the model request: the chat
model's ``finally`` closes the response upstream. But the thread that drives an answer spends
most of its time *inside* the generators, waiting for the next token or sleeping before a
retry, and a running generator cannot be closed. ``cancel_on(event)`` covers that wait: within
the block, setting ``event`` from any thread makes the waits below end within ``POLL`` seconds
with ``StreamCancelled``, a GeneratorExit, so every layer above sees exactly what it would see
if its generator had been closed (and never mistakes it for an outage to fall back from).

A context variable carries the event because the answer engine sits between the web edge,
which knows about the disconnect, and the chat model, which holds the request; it is set only
around one step of one answer, in the thread that runs that step.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator

POLL = 0.1  # seconds: how often a wait looks at the cancel event

_event: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "assistant_cancel", default=None
)


class StreamCancelled(GeneratorExit):
    """The reader went away: the request upstream was closed and no answer is coming."""


@contextlib.contextmanager
def cancel_on(event: threading.Event) -> Iterator[None]:
    """Within the block, setting ``event`` (from any thread) cancels the model request."""
    token = _event.set(event)
    try:
        yield
    finally:
        _event.reset(token)


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
