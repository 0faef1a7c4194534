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

from fastapi import FastAPI

from ..config import Settings
from . import api, openai_compat, refusals, security, thesis, widget
from .answering import Answering
from .services import Services
from .ui import mount

__all__ = ["Services", "create_app"]


def create_app(settings: Settings, services: Services) -> FastAPI:
    app = FastAPI(title="Fund thesis assistant", docs_url=None, redoc_url=None)
    app.state.services = services
    disclosure = refusals.Disclosure(services.engine.default_disclosure)
    refusals.install(app, disclosure)
    limits = security.install(app, settings, disclosure)
    answering = Answering(settings.answer_threads, settings.sse_keepalive)
    routers = [
        face.build_router(
            settings, services, answering=answering, limits=limits, disclosure=disclosure
        )
        for face in (api, openai_compat, widget, thesis)
    ]
    for router in routers:
        app.include_router(router)
    paths = (getattr(route, "path", "") for router in routers for route in router.routes)
    return mount(
        app,
        services,
        max_question_chars=settings.max_question_chars,
        reserved=frozenset(path.split("/")[1] for path in paths if path.startswith("/")) - {""},
    )
