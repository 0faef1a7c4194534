"""The Gradio app at ``/``: investor chat (``investor``) and advisor drafting (``advisor``).

``mount`` puts it into the FastAPI application that serves the API, last (a mount at the root
answers every path the routes before it did not): one process, one port.

It works with no internet. Gradio's telemetry and version check are off (``analytics_enabled``),
the theme names only fonts installed on the reader's machine (Gradio's default themes fetch
theirs), and the page loads no script or style from another host. Chinese is the first language;
the switch at the top relabels the interface (answers keep the language they were written in).

The argument maps (``maps``) come from the app's one ``ThesisService``, the one ``GET /api/thesis``
serves from; a load event fills them once the page is up, so a map being built never holds it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI
from starlette.routing import Mount
from starlette.types import ASGIApp

from ...answer import AnswerEngine
from ...llm import model_mode
from ...prompts import Lang
from ..root import Beside
from ..services import Services
from . import advisor, investor, maps, render
from .admission import Admit, admission
from .strings import HTML_LANG, LANG_CHOICES, Ui, preferred, t

__all__ = ["build_blocks", "built", "mount"]

_STATIC = Path(__file__).parent / "static"
# System fonts only: the CJK ones first so Chinese never falls back to a font without it.
FONTS = ["Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "system-ui", "sans-serif"]
MONO = ["Noto Sans Mono CJK SC", "ui-monospace", "monospace"]
# Gradio's text sizes (``sizes.text_md``) in rem rather than px: the same at the browser's
# default 16 px, and they follow a reader who sets a larger one (24 px for older eyes), which
# px ignore. The answer stayed at 14 px while the notes under it, sized in rem, grew.
TEXT_SIZE = gr.themes.Size(
    name="text_md_rem",
    xxs="0.5625rem",
    xs="0.625rem",
    sm="0.75rem",
    md="0.875rem",
    lg="1rem",
    xl="1.375rem",
    xxl="1.625rem",
)
CONCURRENCY = 8  # answers streamed at once; each holds a worker thread while the model writes


def theme() -> gr.themes.Base:
    # Secondary text (the subtitle, hints, the article count) and the accent (the selected tab,
    # the send button) a shade darker than the theme's slate-400 and blue-500, which are 2.6:1
    # and 3.7:1 against white: WCAG AA asks 4.5:1 of text this small.
    return gr.themes.Base(
        primary_hue="blue",
        neutral_hue="slate",
        radius_size="sm",
        text_size=TEXT_SIZE,
        font=FONTS,
        font_mono=MONO,
    ).set(
        body_text_color_subdued="*neutral_600",
        color_accent="*primary_600",
        button_primary_background_fill="*primary_600",
        button_primary_background_fill_hover="*primary_700",
    )


def _status(engine: AnswerEngine, lang: Ui) -> str:
    model = engine.chat.name if engine.chat is not None else None
    return render.status_line(lang, model_mode(engine.chat), model, engine.store.documents())


# The ``lang`` attribute of the page for an interface ``Ui`` (a JS expression in the %s), and
# of what is in its own language whatever the page's: the switch's names (简体, English) and
# the example questions, Chinese ones in the interface's script (Gradio's components take no
# attributes of ours, so the page sets them).
_HTML_LANG = (
    f"const langs = {json.dumps(HTML_LANG)}, shown = %s;"
    " document.documentElement.lang = langs[shown];"
    " document.querySelectorAll('#language input').forEach((input) =>"
    " input.closest('label').lang = langs[input.value]);"
    " document.querySelectorAll('#examples button').forEach((button) =>"
    " button.lang = /[\\u3400-\\u9fff]/.test(button.textContent)"
    " ? langs[shown === 'zh-Hant' ? shown : 'zh'] : 'en');"
)


def _opening(request: gr.Request) -> tuple[Ui, Ui]:
    """The interface a page opens in (the switch's value and the page's language)."""
    ui = preferred(request.query_params.get("lang"), request.headers.get("accept-language"))
    return ui, ui


def build_blocks(services: Services, max_question_chars: int, admit: Admit) -> gr.Blocks:
    engine, thesis = services.engine, services.thesis
    # Exported drafts are client documents: Gradio's copies go after an hour, like ours.
    blocks = gr.Blocks(
        analytics_enabled=False,
        title=t("zh", "page_title"),
        delete_cache=(advisor.KEEP_EXPORTS, advisor.KEEP_EXPORTS),
    )
    with blocks:
        lang = gr.State("zh")
        shown = gr.State(None)  # the argument maps this page shows: ``maps.Shown``
        with gr.Row(elem_id="top-bar", equal_height=True):
            header = gr.HTML(render.header("zh"), elem_id="app-header", scale=4, min_width=320)
            switch = gr.Radio(
                LANG_CHOICES,
                value="zh",
                label="语言 · 語言 · Language",  # what a screen reader calls the group
                show_label=False,
                container=False,
                elem_id="language",
                scale=1,
                min_width=150,
            )
        status = gr.HTML(_status(engine, "zh"), elem_id="status")
        with gr.Tabs(elem_id="tabs"):
            chat = investor.build(engine, lang, shown, max_question_chars, admit)
            drafts = advisor.build(engine, lang, shown, max_question_chars, admit)

        def relabel(
            new: Lang,
            turns: list[render.ChatTurn],
            text: str,
            drafted: advisor.Drafted | None,
            showing: maps.Shown,
        ) -> list[Any]:
            return [
                new,
                render.header(new),
                _status(engine, new),
                *chat.relabel(new, turns),
                *drafts.relabel(new, text, drafted),
                # Maps not loaded yet: their load, which reads the new language, fills them.
                maps.cards(showing, new) if showing is not None else gr.skip(),
                maps.outlines(showing, new) if showing is not None else gr.skip(),
            ]

        # After each answer the status line says how the next would be answered: a model that
        # failed and opened its circuit breaker shows as excerpt mode until it is back.
        for event in [*chat.answered, *drafts.answered]:
            event.then(
                lambda lang: _status(engine, lang),
                [lang],
                status,
                api_visibility="private",
                show_progress="hidden",
            )
        map_views = [chat.thesis_map, drafts.outlines]
        switch.change(
            relabel,
            [switch, chat.turns, drafts.draft, drafts.drafted, shown],
            [lang, header, status, *chat.relabel_outputs, *drafts.relabel_outputs, *map_views],
            api_visibility="private",
            show_progress="hidden",
        )
        # The page's language, for screen readers' voices and the browser's fonts (Gradio's
        # page says "en"): set in the browser, no round trip.
        blocks.load(None, None, None, js=f"() => {{ {_HTML_LANG % repr('zh')} }}")
        switch.change(None, [switch], None, js=f"(ui) => {{ {_HTML_LANG % 'ui'} }}")
        # The page opens in the interface the reader asked for (?lang=zh-Hant) or their browser
        # prefers (zh-TW, zh-HK): the switch's change relabels it. Then, in that language, the
        # model and the article count, which can change while the app runs (a sync, a restart
        # of the store), and the argument maps.
        opened = blocks.load(
            _opening, None, [switch, lang], api_visibility="private", show_progress="hidden"
        )
        opened.then(lambda lang: _status(engine, lang), [lang], status, api_visibility="private")
        opened.then(
            lambda lang: maps.load(thesis, lang),
            [lang],
            [map_views[0], shown, map_views[1]],
            api_visibility="private",
            show_progress="hidden",
        )
    blocks.queue(default_concurrency_limit=CONCURRENCY)
    return blocks


def mount(
    app: FastAPI, services: Services, *, max_question_chars: int, reserved: frozenset[str]
) -> FastAPI:
    """Mount the Gradio app at ``/`` of ``app`` (call after every other route is included),
    leaving every path whose first segment is in ``reserved`` ("api", "v1"…) to the routes.
    It starts with the server (``gradio.mount_gradio_app`` wraps the app's lifespan)."""
    app.router.routes.append(Beside(_gradio(app, services, max_question_chars), reserved))
    return app


def built(app: FastAPI, services: Services, *, max_question_chars: int) -> ASGIApp:
    """The Gradio app for ``app``, built but not started, for ``root.mount_later`` to start on
    a server that already runs (whose start-up, which Gradio would wrap, has passed)."""
    lifespan = app.router.lifespan_context
    gradio = _gradio(app, services, max_question_chars)
    app.router.lifespan_context = lifespan
    return gradio


def _gradio(app: FastAPI, services: Services, max_question_chars: int) -> ASGIApp:
    gr.mount_gradio_app(
        app,
        build_blocks(services, max_question_chars, admission(app.state.limits)),
        path="/",
        theme=theme(),
        css_paths=[_STATIC / "ui.css"],
        footer_links=[],
        run_history=False,
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
    )
    # Taken back out: ``Beside`` puts it at the root without the routes' paths.
    mounted = app.router.routes.pop()
    assert isinstance(mounted, Mount) and mounted.path == ""
    return mounted.app
