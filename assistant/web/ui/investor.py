"""The investor tab: a streamed, cited answer per question, with its sources and disclosure.

The conversation is the list of ``ChatTurn`` in the session's state; the transcript is rendered
from it (``render.transcript``) on every streamed sentence. Follow-up questions send the last
``HISTORY_TURNS`` exchanges to the engine; the page keeps the last ``MAX_TURNS``.

Clicks inside the transcript (a footnote, copy, thumbs, a feedback comment) are handled by
``static/transcript.js``, attached to the transcript component; feedback reaches
``AuditLog.add_feedback`` through the component's server function ``feedback``.

Above the chat, shown first, the articles' argument maps (``maps``): filled after the page is up;
"ask about this step" sends the step's question through ``Chat.ask``, as any other question.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ...answer import Answer, AnswerEngine
from ...errors import AssistantError
from ...prompts import Turn, message
from . import maps, render
from .admission import Admit, refused
from .render import ChatTurn, Kept
from .strings import Ui, base, examples, in_script, t

log = logging.getLogger(__name__)

HISTORY_TURNS = 3  # earlier exchanges a follow-up question is read with
MAX_TURNS = 20  # exchanges the page keeps
_SCRIPT = (Path(__file__).parent / "static" / "transcript.js").read_text(encoding="utf-8")

# The transcript, the conversation and the question box's value (each may be left as it was).
Outputs = tuple[str | Kept, list[ChatTurn] | Kept, str | Kept]


def history(turns: list[ChatTurn]) -> list[Turn]:
    """The last answered exchanges, as the engine takes them."""
    done = [item for item in turns if item.answer is not None][-HISTORY_TURNS:]
    out: list[Turn] = []
    for item in done:
        assert item.answer is not None
        out += [Turn("user", item.question), Turn("assistant", item.answer.answer)]
    return out


class Chat:
    """The investor tab's behaviour, independent of its components (so tests can drive it)."""

    def __init__(self, engine: AnswerEngine, max_chars: int, admit: Admit) -> None:
        self.engine = engine
        self.max_chars = max_chars
        self.admit = admit
        # The pages (Gradio sessions) with an answer streaming. The send button only looks
        # inert meanwhile, and the box's Enter, an example or a map's step are events of their
        # own: each would ask at once, beside the answer in flight and without it as history.
        self._answering: set[str] = set()

    def ask(
        self,
        question: str,
        turns: list[ChatTurn],
        lang: Ui,
        request: gr.Request,
        *,
        taken: Any = "",
        meanwhile: Any = "",
    ) -> Iterator[Outputs]:
        """Stream one answer into the conversation: each yield is the whole transcript.

        The third output is the question box: ``taken`` when the question is taken, ``meanwhile``
        while the answer streams. The page passes ``gr.skip()`` for ``meanwhile``, so that the
        next question the reader types as the answer grows stays in the box (Gradio's API, which
        has no box, gets "" throughout). The page's session (Gradio's random id for this page
        load) is the audit's session.
        """
        session = request.session_hash
        if session in self._answering:  # asked again when this answer ends (kept in the box)
            yield gr.skip(), gr.skip(), gr.skip()
            return
        question = (question or "").strip()
        if not question:
            gr.Warning(t(lang, "empty_question"))
            yield render.transcript(turns, lang), turns, taken
            return
        if too_long := self.engine.overlong(question):  # kept in the box, to be shortened
            n, limit = too_long.chars, too_long.limit
            gr.Warning(
                in_script(lang, message(base(lang), "pasted_too_long", n=n, limit=limit))
                if too_long.pasted
                else t(lang, "too_long", n=n, limit=limit)
            )
            yield render.transcript(turns, lang), turns, gr.skip()
            return
        if (wait := refused(self.admit, request, lang)) is not None:  # kept in the box, to resend
            gr.Warning(wait)
            yield render.transcript(turns, lang), turns, gr.skip()
            return
        item = ChatTurn(question, self.engine.default_disclosure(), key=uuid.uuid4().hex[:8])
        earlier = history(turns)
        turns = [*turns, item][-MAX_TURNS:]
        if session:
            self._answering.add(session)
        try:
            yield render.transcript(turns, lang), turns, taken
            events = self.engine.stream(
                question, earlier, "investor", channel="web", session=session
            )
            for event in events:
                if isinstance(event, Answer):
                    item.answer = event
                    self._answering.discard(session or "")  # the next may ask once this shows
                else:
                    item.partial += event.text
                yield render.transcript(turns, lang), turns, meanwhile
        except AssistantError as error:  # translated once, here: a message in the chat
            item.error = str(error)
            self._answering.discard(session or "")
            yield render.transcript(turns, lang), turns, meanwhile
        finally:  # however it ends, the client gone included (the generator is closed)
            self._answering.discard(session or "")

    def ask_step(
        self,
        turns: list[ChatTurn],
        lang: Ui,
        shown: maps.Shown,
        event: gr.EventData,
        request: gr.Request,
    ) -> Iterator[Outputs]:
        """ "Ask about this step" on a map card: the step's question, asked as any other."""
        chosen = maps.pick(shown, maps.event_value(event, "step"))
        if chosen is None:
            yield render.transcript(turns, lang), turns, gr.skip()
            return
        m, k = chosen
        step = m.steps[k]
        # Asked in the reader's language (the claim stays as the article wrote it), so the
        # answer's own words come in it too.
        question = step.ask if lang == m.lang else maps.say_in(lang, "ask", claim=step.claim)
        # Not typed in the box: what the reader may be typing there stays.
        yield from self.ask(question, turns, lang, request, taken=gr.skip(), meanwhile=gr.skip())

    def feedback(self, args: list[Any]) -> bool:
        """``server.feedback(turn_id, rating, comment)`` from the page; False if not kept."""
        turn_id, rating, comment = [*args, "", "", ""][:3]
        if rating not in ("up", "down") or self.engine.audit is None:
            return False
        return self.engine.audit.add_feedback(str(turn_id), str(rating), str(comment)[:2000])


@dataclass
class InvestorTab:
    tab: gr.Tab
    top: gr.Column
    thesis_map: gr.HTML
    transcript: gr.HTML
    question: gr.Textbox
    send: gr.Button
    new: gr.Button
    examples_label: gr.HTML
    turns: gr.State
    examples: list[gr.Button]
    questions: list[str]  # the examples' questions: the site's (``site``), else ours
    answered: list[Any]  # the events that answer a question (the page follows them with more)

    def relabel(self, lang: Ui, turns: list[ChatTurn]) -> list[Any]:
        """Updates for ``relabel_outputs`` in ``lang``."""
        return [
            gr.update(label=t(lang, "tab_investor")),
            render.transcript(turns, lang),
            gr.update(label=t(lang, "question"), placeholder=t(lang, "question_placeholder")),
            gr.update(value=t(lang, "send")),
            gr.update(value=t(lang, "new_chat")),
            _examples_label(lang),
            *(gr.update(value=in_script(lang, q)) for q in self.questions),
        ]

    @property
    def relabel_outputs(self) -> list[Any]:
        labels = [
            self.tab,
            self.transcript,
            self.question,
            self.send,
            self.new,
            self.examples_label,
        ]
        return [*labels, *self.examples]


def _examples_label(lang: Ui) -> str:
    return f'<p class="examples-label">{render.esc(t(lang, "examples"))}</p>'


def build(
    engine: AnswerEngine, lang: gr.State, shown: gr.State, max_chars: int, admit: Admit
) -> InvestorTab:
    """The tab's components and events (inside a ``gr.Blocks`` context); ``shown`` holds the
    argument maps the page shows (filled by the app's load event)."""
    chat = Chat(engine, max_chars, admit)
    with gr.Tab(t("zh", "tab_investor"), id="investor", elem_id="tab-investor") as tab:
        with gr.Column(elem_id="investor-top") as top:
            thesis_map = gr.HTML(
                maps.loading("zh"),
                elem_id="thesis-map",
                js_on_load=maps.SCRIPT,
                apply_default_css=False,
            )
        turns = gr.State([])
        transcript = gr.HTML(
            render.transcript([], "zh"),
            elem_id="transcript",
            js_on_load=_SCRIPT,
            server_functions=[_server_function(chat)],
            apply_default_css=False,
        )
        with gr.Row(elem_id="ask-row", equal_height=True):
            question = gr.Textbox(
                label=t("zh", "question"),
                show_label=False,
                container=False,
                placeholder=t("zh", "question_placeholder"),
                lines=1,
                max_lines=4,
                scale=5,
                min_width=200,
                elem_id="question",
            )
            send = gr.Button(
                t("zh", "send"), variant="primary", scale=1, min_width=80, elem_id="send"
            )
        examples_label = gr.HTML(_examples_label("zh"), elem_id="examples-label")
        questions = list(engine.site.examples) or examples()
        with gr.Row(elem_id="examples"):
            buttons = [
                gr.Button(
                    q, size="sm", variant="secondary", elem_classes=["example"], min_width=120
                )
                for q in questions
            ]
        new = gr.Button(t("zh", "new_chat"), size="sm", variant="secondary", elem_id="new-chat")
        # Gradio's API (``/ask``, for gradio_client) on a button the page never shows.
        api = gr.Button(visible=False, elem_id="ask-api")

    outputs = [transcript, turns, question]
    options: dict[str, Any] = {"show_progress": "hidden"}
    # While an answer streams, a send does nothing ("once"), but the box keeps what was typed.
    # ("always_last" would ask it when the answer ends, but also turn a double click on send
    # into a second, empty question.)
    typed: dict[str, Any] = {**options, "api_visibility": "private"}
    answered: list[Any] = [
        send.click(_typing(chat), [question, turns, lang], outputs, **typed),
        question.submit(_typing(chat), [question, turns, lang], outputs, **typed),
        api.click(chat.ask, [question, turns, lang], outputs, api_name="ask", **options),
        *(
            button.click(
                _asking(chat, text), [turns, lang], outputs, api_visibility="private", **options
            )
            for button, text in zip(buttons, questions, strict=True)
        ),
        thesis_map.click(
            chat.ask_step, [turns, lang, shown], outputs, api_visibility="private", **options
        ),
    ]
    # Each yield draws the answer in the language it was asked in; the page's may have changed
    # meanwhile, and the finished answer takes it.
    for event in answered:
        event.then(
            render.transcript,
            [turns, lang],
            transcript,
            api_visibility="private",
            show_progress="hidden",
        )
    # A new chat ends the answer in flight: streaming on, it wrote the old turn back.
    new.click(
        lambda lang: (render.transcript([], lang), [], ""),
        [lang],
        outputs,
        api_visibility="private",
        show_progress="hidden",
        cancels=answered,
    )
    return InvestorTab(
        tab,
        top,
        thesis_map,
        transcript,
        question,
        send,
        new,
        examples_label,
        turns,
        buttons,
        questions,
        answered,
    )


def _server_function(chat: Chat) -> Callable[[list[Any]], bool]:
    """``chat.feedback`` as a plain function: Gradio marks server functions with an attribute,
    which a bound method cannot take; the page calls it by this name."""

    def feedback(args: list[Any]) -> bool:
        return chat.feedback(args)

    return feedback


def _typing(
    chat: Chat,
) -> Callable[[str, list[ChatTurn], Ui, gr.Request], Iterator[Outputs]]:
    """``chat.ask`` for the question box: emptied when the question is taken, then left alone."""

    def run(
        question: str, turns: list[ChatTurn], lang: Ui, request: gr.Request
    ) -> Iterator[Outputs]:
        yield from chat.ask(question, turns, lang, request, meanwhile=gr.skip())

    return run


def _asking(
    chat: Chat, question: str
) -> Callable[[list[ChatTurn], Ui, gr.Request], Iterator[Outputs]]:
    def run(turns: list[ChatTurn], lang: Ui, request: gr.Request) -> Iterator[Outputs]:
        # Asked as its button reads: in traditional characters the answer's framing is too.
        asked = in_script(lang, question)
        yield from chat.ask(asked, turns, lang, request, taken=gr.skip(), meanwhile=gr.skip())

    return run
