"""The embeddable widget: ``GET /widget.js`` for other sites' pages, and the ``/embed`` page
it opens in an iframe (with its script and style, and ``POST /embed/chat``, its own door to
the engine, channel "widget").

A site owner pastes one line::

    <script src="https://assistant.example.com/widget.js" data-lang="zh"
            data-title="…" data-color="#0a66c2" async></script>

``data-lang`` is ``zh``, ``zh-Hant`` (the labels in traditional characters) or ``en``.
``widget.js`` knows the allowed origins, as SHA-256 hashes (the file is public; the list of
partner sites is not), and draws nothing on other sites (a console warning says why).
Elsewhere it draws a button in a shadow root (the host page's styles cannot reach in, ours
cannot leak out) that opens ``/embed`` in an iframe; the page talks to this server only.
Which sites may frame ``/embed`` is the CSP ``frame-ancestors`` of its response: this server
and ``ASSISTANT_ALLOWED_ORIGINS``; the browser refuses every other framing. The page's CSP also
allows only its own script and style and requests to this server, so even a bug that put
markup into the page could not run a script (all text is set with ``textContent`` anyway).

Everything is small files read once at start: no framework, no third-party requests, no
Gradio assets (``bench/edge.py`` measures the bytes).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response

from ..config import Settings
from ..text import traditional_in_place
from .answering import Answering
from .api import chat_handler
from .refusals import Disclosure
from .security import WIDGET_DOOR, RateLimits
from .services import Services
from .strings import web_strings

_STATIC = Path(__file__).parent / "static"
_COLOR = re.compile(r"#[0-9a-fA-F]{3}(?:[0-9a-fA-F]{3})?")
DEFAULT_COLOR = "#0969da"
MAX_TITLE = 60
WIDGET_KEYS = ("title", "open", "close")  # what widget.js needs of the strings
# The widget's language (``data-lang``): Chinese in simplified or traditional characters (a
# site in Hong Kong or Taiwan), or English. Traditional words are the simplified ones through
# the project's one conversion; what an answer quotes and its disclosure are never converted.
Face = Literal["zh", "zh-Hant", "en"]
FACES: dict[str, Face] = {"zh": "zh", "zh-Hant": "zh-Hant", "en": "en"}
HTML_LANG: dict[Face, str] = {"zh": "zh-CN", "zh-Hant": "zh-Hant", "en": "en"}


def hashed_origins(origins: Sequence[str]) -> list[str]:
    """What ``widget.js`` compares the page's origin with: each allowed origin's SHA-256 (hex),
    and ``*`` as itself."""
    return [o if o == "*" else hashlib.sha256(o.encode()).hexdigest() for o in origins]


def face_strings(face: Face) -> dict[str, str]:
    if face == "zh-Hant":
        return {key: traditional_in_place(text) for key, text in web_strings("zh").items()}
    return web_strings(face)


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, media_type: str) -> Asset:
        return cls(body, media_type, f'"{hashlib.sha256(body).hexdigest()[:16]}"')

    def response(self, request: Request, headers: dict[str, str]) -> Response:
        """The asset, or 304 when the browser holds this version already."""
        headers = {**headers, "ETag": self.etag, "Cache-Control": "public, max-age=300"}
        if request.headers.get("if-none-match") == self.etag:
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type=self.media_type, headers=headers)


def script_json(value: object) -> str:
    """JSON that is safe inside a <script> element (no '<', '>' or '&' to end or open a tag)."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def frame_ancestors(origins: tuple[str, ...]) -> str:
    return "*" if "*" in origins else " ".join(["'self'", *origins])


def embed_csp(origins: tuple[str, ...]) -> str:
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self'; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {frame_ancestors(origins)}"
    )


def page_config(
    settings: Settings, lang: Face, title: str | None, color: str | None
) -> dict[str, object]:
    strings = face_strings(lang)
    shown = " ".join((title or "").split())[:MAX_TITLE] or strings["title"]
    return {
        "lang": lang,
        "title": shown,
        "color": color if color and _COLOR.fullmatch(color) else DEFAULT_COLOR,
        "strings": strings,
        "limits": {
            "question": settings.max_message_chars,  # a pasted article too: the server judges
            "turns": settings.max_history_turns,
            "turnChars": settings.max_turn_chars,
        },
    }


def build_router(
    settings: Settings,
    services: Services,
    *,
    answering: Answering,
    limits: RateLimits,
    disclosure: Disclosure,
) -> APIRouter:
    router = APIRouter()
    strings = {face: {k: face_strings(face)[k] for k in WIDGET_KEYS} for face in FACES.values()}
    widget_js = Asset.of(
        (_STATIC / "widget.js")
        .read_text(encoding="utf-8")
        .replace("/*STRINGS*/ {}", script_json(strings))
        .replace("/*ALLOWED*/ []", script_json(hashed_origins(settings.origins)))
        .encode(),
        "text/javascript; charset=utf-8",
    )
    app_js = Asset.of((_STATIC / "embed.js").read_bytes(), "text/javascript; charset=utf-8")
    app_css = Asset.of((_STATIC / "embed.css").read_bytes(), "text/css; charset=utf-8")
    template = (_STATIC / "embed.html").read_text(encoding="utf-8")
    plain = {"X-Content-Type-Options": "nosniff"}
    csp = embed_csp(settings.origins)

    @router.get("/widget.js", include_in_schema=False)
    def widget(request: Request) -> Response:
        # Loaded by other sites' pages: allowed even where they isolate their resources.
        return widget_js.response(
            request, {**plain, "Cross-Origin-Resource-Policy": "cross-origin"}
        )

    @router.get("/embed/app.js", include_in_schema=False)
    def embed_script(request: Request) -> Response:
        return app_js.response(request, plain)

    @router.get("/embed/app.css", include_in_schema=False)
    def embed_style(request: Request) -> Response:
        return app_css.response(request, plain)

    @router.get("/embed", include_in_schema=False)
    def embed(lang: str = "zh", title: str | None = None, color: str | None = None) -> Response:
        chosen = FACES.get(lang, "zh")
        config = page_config(settings, chosen, title, color)
        page = (
            template.replace("{{lang}}", HTML_LANG[chosen])
            .replace("{{title}}", html.escape(str(config["title"])))
            .replace("{{config}}", script_json(config))
        )
        headers = {
            **plain,
            "Content-Security-Policy": csp,
            "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-cache",
        }
        return Response(page, media_type="text/html; charset=utf-8", headers=headers)

    router.add_api_route(
        WIDGET_DOOR,
        chat_handler(settings, services.engine, answering, disclosure, "widget"),
        methods=["POST"],
        response_model=None,
        dependencies=[Depends(limits.dependency("answers"))],
        include_in_schema=False,
    )
    return router
