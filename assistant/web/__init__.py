"""The product's faces, each a thin translation of the engine's ``Answer`` into its medium.

``create_app`` builds the one FastAPI application that ``python app.py`` serves on one port:

- ``api``: ``/healthz``, ``/api/chat`` (JSON and Server-Sent Events), ``/api/feedback``;

Routers are included first; a face mounted at ``/`` (the Gradio app) must come last, since a
mount at the root answers every path the routes before it did not.
"""

from __future__ import annotations

from fastapi import FastAPI

from ..config import Settings
from . import api
from .services import Services

__all__ = ["Services", "create_app"]


def create_app(settings: Settings, services: Services) -> FastAPI:
    app = FastAPI(title="Fund thesis assistant", docs_url=None, redoc_url=None)
    app.state.services = services
    app.include_router(api.build_router(settings, services))
    return app
