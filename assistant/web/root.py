"""What answers at ``/``: the Gradio app, beside the routes, and a starting page until it is built.

The Gradio app is mounted at the root, so it would answer every path the routes before it do
not: a wrong method or an unknown path under ``/api`` or ``/v1`` would get Gradio's 404 instead
of the edge's refusal (405, or 404 with the disclosure). ``Beside`` keeps it to its own paths.

``python app.py`` serves before the Gradio app exists (``mount_later``): importing Gradio and
building the Blocks take several seconds of CPU, and the API, the widget and ``/healthz`` need
neither. Until the app is ready, ``/`` is a small page that reloads itself each second and
Gradio's own paths answer 503 with ``Retry-After``; then the app takes the page's place, and
its queue starts on the server's event loop, as ``gradio.mount_gradio_app`` would at start-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from .refusals import Refusal

log = logging.getLogger(__name__)

_STARTING = Path(__file__).parent / "static" / "starting.html"


def first_segments(paths: list[str]) -> frozenset[str]:
    """The first path segment of each route ("api", "v1", "healthz"…)."""
    return frozenset(p.split("/")[1] for p in paths if p.startswith("/")) - {""}


class Beside(Mount):
    """An app at ``/`` that answers no path whose first segment belongs to the routes."""

    def __init__(self, app: ASGIApp, reserved: frozenset[str]) -> None:
        super().__init__("/", app=app)
        self.reserved = reserved

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] in ("http", "websocket"):
            first = scope["path"].split("/")[1] if scope["path"].startswith("/") else ""
            if first in self.reserved:
                return Match.NONE, {}
        return super().matches(scope)


@functools.cache
def _starting_page() -> str:
    return _STARTING.read_text(encoding="utf-8")


async def _starting(scope: Scope, receive: Receive, send: Send) -> None:
    """``/`` while the Gradio app is being built; anything else of Gradio's is not there yet."""
    if scope["type"] != "http":
        return  # a websocket before the app exists: closed unanswered, the client retries
    request = Request(scope, receive)
    if request.url.path != "/" or request.method not in ("GET", "HEAD"):
        # Raised, not answered: the edge's handler gives it the disclosure, as every refusal.
        raise Refusal(503, "The web app is starting; try again in a second.", {"Retry-After": "1"})
    response = HTMLResponse(_starting_page(), 200)
    response.headers["Cache-Control"] = "no-store"
    await response(scope, receive, send)


def mount_later(app: FastAPI, build: Callable[[], ASGIApp], reserved: frozenset[str]) -> FastAPI:
    """Serve the starting page at ``/`` now; build the Gradio app on a thread once the server
    runs (``build`` returns it, not yet started) and put it in the page's place."""
    placeholder = Beside(_starting, reserved)
    app.router.routes.append(placeholder)
    outer = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(parent: Any) -> AsyncIterator[Any]:
        async with outer(parent) as state, contextlib.AsyncExitStack() as running:
            task = asyncio.create_task(_swap(app, placeholder, build, running))
            try:
                yield state
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = lifespan
    return app


async def _swap(
    app: FastAPI,
    placeholder: Beside,
    build: Callable[[], ASGIApp],
    running: contextlib.AsyncExitStack,
) -> None:
    try:
        gradio: Any = await asyncio.to_thread(build)
        await running.enter_async_context(gradio.router.lifespan_context(gradio))
        blocks = gradio.get_blocks()
        blocks.run_startup_events()
        await blocks.run_extra_startup_events()
    except Exception:
        log.exception("The web app could not be built; the API goes on serving without it.")
        gradio = _failed
    routes = app.router.routes
    routes[routes.index(placeholder)] = Beside(gradio, placeholder.reserved)
    if gradio is not _failed:
        log.info("The web app is ready at /")


async def _failed(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        message = "The web app failed to start; the server's log says why. The API still answers."
        raise Refusal(503, message)
