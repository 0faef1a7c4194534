"""The web app's answers under the same per-address rate limit as ``/api``'s.

The page streams its answers through Gradio's queue (``/gradio_api/…``), which anyone can call
like the page does, with no key, so the limit is checked in the handlers themselves: the
investor's question and the advisor's draft each count once in the ``answers`` bucket of the
client's address (``security.RateLimits``: the same windows ``/api/chat`` and ``/v1`` use).
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr

from ..refusals import Refusal
from ..security import RateLimits
from .strings import Ui, t

Admit = Callable[[gr.Request], None]


def admission(limits: RateLimits) -> Admit:
    """Count one answer for the request's client, or raise the limit's 429 ``Refusal``."""

    def admit(request: gr.Request) -> None:
        peer = getattr(getattr(request, "client", None), "host", None)
        headers = dict(getattr(request, "headers", None) or {})
        forwarded = [headers["x-forwarded-for"]] if "x-forwarded-for" in headers else []
        limits.hit("answers", limits.address(peer, forwarded))

    return admit


def refused(admit: Admit, request: gr.Request, lang: Ui) -> str | None:
    """The reader's sentence when the limit refuses this answer (when to try again), else None."""
    try:
        admit(request)
    except Refusal as refusal:
        seconds = (refusal.headers or {}).get("Retry-After", "60")
        return t(lang, "rate_limited", seconds=seconds)
    return None
