"""The product's faces, each a thin translation of the engine's ``Answer`` into its medium.

``create_app`` builds the one FastAPI application that ``python app.py`` serves on one port:

- ``api``: ``/healthz``, ``/api/chat`` (JSON and Server-Sent Events), ``/api/feedback``;
- ``openai_compat``: ``/v1/chat/completions`` and ``/v1/models`` for OpenAI clients;
- ``widget``: ``/widget.js`` for other sites' pages and the ``/embed`` page it opens;
- ``thesis``: ``/api/thesis``, the argument maps;
- ``ui``: the Gradio app at ``/`` (investor chat, advisor drafting), mounted last;
- around them, ``security`` (hosts, origins, keys, body size, rate limits) and ``refusals``
  (every refusal as ``{"error", "disclosure"}``); ``answering`` runs answers off the event loop.

Routers are included first; a face mounted at ``/`` (the Gradio app) must come last, since a
mount at the root answers every path the routes before it did not.
"""

from __future__ import annotations

from typing import Literal

from fastapi import FastAPI
from starlette.types import ASGIApp

from ..config import Settings
from . import api, openai_compat, refusals, root, security, thesis, widget
from .answering import Answering
from .services import Services

__all__ = ["Services", "create_app"]


def create_app(
    settings: Settings, services: Services, *, ui: Literal["now", "later", "none"] = "now"
) -> FastAPI:
    """The application, with the Gradio app mounted ``now``, or built ``later``, once the server
    runs, while a starting page holds ``/`` (``root.mount_later``: how ``python app.py``
    serves), or ``none`` (the routes alone)."""
    app = FastAPI(title="Fund thesis assistant", docs_url=None, redoc_url=None)
    app.state.services = services
    disclosure = refusals.Disclosure(services.engine.default_disclosure)
    refusals.install(app, disclosure)
    limits = app.state.limits = security.install(app, settings, disclosure)
    answering = Answering(settings.answer_threads, settings.sse_keepalive)
    routers = [
        face.build_router(
            settings, services, answering=answering, limits=limits, disclosure=disclosure
        )
        for face in (api, openai_compat, widget, thesis)
    ]
    for router in routers:
        app.include_router(router)
    paths = [getattr(route, "path", "") for router in routers for route in router.routes]
    reserved = root.first_segments(paths)
    # Gradio is imported only here, not with this package, so that a server can start first.
    limit = settings.max_question_chars
    if ui == "none":
        return app
    if ui == "later":

        def build() -> ASGIApp:
            from .ui import built

            return built(app, services, max_question_chars=limit)

        return root.mount_later(app, build, reserved)
    from .ui import mount

    return mount(app, services, max_question_chars=limit, reserved=reserved)
