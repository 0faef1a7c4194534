"""``GET /api/thesis``: the argument maps, as ``python -m assistant thesis --json`` prints them.

Each map carries the disclosure and the article's age as of the request. A map the model has
not drafted yet for this article version costs one model request, so the route is rate limited
like answers (its own bucket). Refusals go through ``refusals``: an unknown article → 404, an
empty store → 503, both as ``{"error", "disclosure"}``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from ..config import Settings
from ..errors import InputError
from .answering import Answering
from .refusals import Disclosure, Refusal
from .security import RateLimits
from .services import Services


def build_router(
    settings: Settings,
    services: Services,
    *,
    answering: Answering,
    limits: RateLimits,
    disclosure: Disclosure,
) -> APIRouter:
    router = APIRouter()

    # A plain ``def``: FastAPI runs it in a worker thread, so a map being drafted by the model
    # never holds up the event loop.
    @router.get("/api/thesis", dependencies=[Depends(limits.dependency("maps"))])
    def thesis(
        path: str | None = Query(
            None, max_length=1000, description="only this article (the path a map names)"
        ),
    ) -> dict[str, object]:
        try:
            maps = services.thesis.maps(channel="api", path=path)
        except InputError as error:
            raise Refusal(404, str(error)) from error
        return {"maps": [m.to_dict() for m in maps]}

    return router
