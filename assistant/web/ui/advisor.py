"""The advisor tab: a draft for a client, its compliance check, and its export.

The advisor names the client's question or topic, the client's risk level (C1–C5 or not
assessed), tone, length and language; the engine writes the draft (``mode="advisor"``, channel
"advisor") and states suitability at its top where it must. The draft text is editable; "re-check"
lints the edited text (``compliance.lint``), checks its figures against the sources it cites
(``figures``, as answers are checked) and marks each finding's span. Export writes .docx or
.md (``export``) from the edited text plus the answer's sources and disclosure, and records the
text as exported through ``AnswerEngine.record_export``.

The topic may hold the client's particulars ("客户65岁，退休金50万，…", "退休了，身体不好"): the draft may not restate
them (``particulars``). The model's sentences that do never reach the editor (the engine withholds
them, and a notice says so); one the advisor types or keeps is a PRIVACY-002 finding, marked like
any other, and the draft is not exported while one stands: the status line says what to delete.
Nothing of them reaches the file or its audit row; the draft's turn keeps the topic as its question.

A topic the engine declines (the sources do not cover it, or it asks for personal advice to the
client: "要不要全部买588930？") makes no draft: its refusal is the assistant speaking to a reader
("我无法…请咨询持牌投资顾问"), not a text an adviser sends. Nothing of it goes into the editor
or can be exported; the advisor reads why in the status line, with the suitability statement the
engine made from the product the topic was matched to. The draft the advisor had stays, as it
does when a topic is refused before the engine sees it.

Each article's argument map is offered as a starting outline (``maps.outlines``): "insert the
outline" puts its steps, quotes and [n] into the editor, and its sources and disclosure become the
draft's (beside the editor, appended on export), so re-check and export treat it as any draft.
Inserted after a draft, its numbers follow the draft's and both sets of sources are kept. The
page keeps the maps it loaded: an outline whose article was changed or removed since is not
inserted (its passages are no longer the knowledge base's), and the advisor is asked to reload.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import weakref
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gradio as gr

from ... import particulars
from ...answer import Answer, AnswerEngine, Citation
from ...compliance import Finding, lint, make_finding
from ...errors import AssistantError
from ...figures import unsupported_by_citations
from ...prompts import ClientLevel, DraftOptions, Lang, Length, Tone, message
from ...text import traditional_in_place
from ...thesis import ArgumentMap, render_outline
from ...thesis.outline import shifted
from . import export, maps, render
from .admission import Admit, refused
from .render import Kept
from .strings import Ui, base, choices, t

LEVELS: tuple[ClientLevel, ...] = ("C1", "C2", "C3", "C4", "C5")
KEEP_EXPORTS = 3600  # seconds an exported file stays on the server (a client's draft)


@dataclass
class Drafted:
    """The session's current draft: the answer it came from, its language and the client's risk
    level it was written for (None: an outline alone). Not the topic asked, but the client's
    particulars it gave, which the draft must not restate (``particulars``); they stay in the
    session, and nothing of them goes into the exported file (``export``)."""

    answer: Answer
    lang: Lang
    level: ClientLevel | None = None
    told: particulars.Particulars = particulars.NONE


# The editor, its findings, its sources and disclosure, the status line, the draft behind them.
DraftOutputs = tuple[str | Kept, str | Kept, str | Kept, str, Drafted | Kept | None]


def draft_findings(
    text: str, answer: Answer | None, told: particulars.Particulars = particulars.NONE
) -> list[Finding]:
    """What the panel, re-check and export name: the rules' findings, each sentence restating
    the client's particulars ``told`` (PRIVACY-002), and each figure the sources the draft cites
    do not hold (FIGURE-001), as in the engine's answers. An advisor may delete the （未核实）
    mark or type a figure in; the draft goes to a client."""
    found = list(lint(text).findings)
    found.extend(make_finding("PRIVACY-002", text, s, e) for s, e in told.spans(text))
    if answer is None or not answer.citations:
        return sorted(found, key=lambda f: f.start)
    texts = [""] * max(c.n for c in answer.citations)
    for citation in answer.citations:
        texts[citation.n - 1] = citation.text
    # The sources' dates, and the suitability statement code wrote from their metadata.
    extra = [*(c.published or "" for c in answer.citations), export.opening_for_the_client(answer)]
    figures = unsupported_by_citations(text, texts, extra=[e for e in extra if e])
    found.extend(make_finding("FIGURE-001", text, f.start, f.end) for f in figures)
    return sorted(found, key=lambda f: f.start)


_LIVE = "element.setAttribute('role', 'status'); element.setAttribute('aria-live', 'polite');"


def _status(text: str, kind: str = "info") -> str:
    return f'<p class="advisor-status {kind}">{render.esc(text)}</p>' if text else ""


def declined(answer: Answer, lang: Lang, ui: Ui) -> str | None:
    """Why the engine made no draft of the topic, for the advisor (module docstring); None when
    it made one."""

    def says(key: str) -> bool:
        words = message(lang, key)
        return words in answer.answer or traditional_in_place(words) in answer.answer

    if answer.citations:  # a draft rests on its sources: an answer citing none was declined
        return None
    advice = says("personalised") or says("personalised_draft")
    said = [t(ui, "declined_advice" if advice else "declined_topic")]
    if statement := export.opening_statement(answer):
        said.append(statement)
    return ("" if base(ui) == "zh" else " ").join(said)


class Drafting:
    """The advisor tab's behaviour, independent of its components."""

    def __init__(self, engine: AnswerEngine, max_chars: int, admit: Admit) -> None:
        self.engine = engine
        self.max_chars = max_chars
        self.admit = admit
        self.folder = Path(tempfile.mkdtemp(prefix="assistant-exports-"))
        # Exports are client documents: none outlives the app (at exit, or when the tab's
        # Blocks are dropped), beside the hourly pruning while it runs.
        weakref.finalize(self, shutil.rmtree, self.folder, ignore_errors=True)

    def draft(
        self,
        topic: str,
        level: ClientLevel,
        tone: Tone,
        length: Length,
        language: Lang,
        lang: Ui,
        before: str | None,
        earlier: Drafted | None,
        request: gr.Request,
    ) -> Iterator[DraftOutputs]:
        """Stream the draft into the editor; then its findings, sources and disclosure. A topic
        declined makes no draft: the editor gets back ``before`` and ``earlier``, the draft the
        advisor had (as a refused topic leaves it)."""
        topic = (topic or "").strip()
        if not topic:
            refusal: str | None = t(lang, "need_topic")
        elif len(topic) > self.max_chars:
            refusal = t(lang, "too_long", n=len(topic), limit=self.max_chars)
        else:
            refusal = refused(self.admit, request, lang)
        if refusal is not None:  # no new draft: the one the advisor may have edited stays
            kept = gr.skip()
            yield kept, kept, kept, _status(refusal, "error"), kept
            return
        options = DraftOptions(client_level=level, tone=tone, length=length, language=language)
        text = ""
        try:
            events = self.engine.stream(
                topic, (), "advisor", channel="advisor", session=request.session_hash, draft=options
            )
            for event in events:
                if isinstance(event, Answer):
                    if (why := declined(event, language, lang)) is not None:
                        before = before or ""
                        yield (
                            before,
                            self.recheck(before, earlier, lang) if earlier else "",
                            render.draft_extras(earlier.answer if earlier else None, lang),
                            _status(why, "warn"),
                            earlier,
                        )
                        return
                    passages = self.engine.store.get([r.chunk_id for r in event.retrieved])
                    drafted = Drafted(event, language, level, particulars.of(topic, passages))
                    text, unsure = export.for_the_client(event.answer)
                    findings = draft_findings(text, event, drafted.told)
                    yield (
                        text,
                        render.findings_panel(text, findings, lang),
                        render.draft_extras(event, lang),
                        _status(t(lang, "draft_unsure"), "warn") if unsure else "",
                        drafted,
                    )
                    return
                text += event.text
                yield text, "", "", "", None
        except AssistantError as error:
            yield text, "", "", _status(f"{t(lang, 'error')}{error}", "error"), None

    def insert_outline(
        self,
        text: str,
        drafted: Drafted | None,
        shown: maps.Shown,
        lang: Ui,
        event: gr.EventData,
    ) -> DraftOutputs:
        """Put a map's outline into the editor (after what is there); its sources and disclosure
        join the draft's."""
        text = text or ""
        chosen = maps.pick(shown, maps.event_value(event, "map"))
        if chosen is None:
            extras = render.draft_extras(drafted.answer if drafted else None, lang)
            return text, self.recheck(text, drafted, lang), extras, "", drafted
        m = chosen[0]
        if not self._current(m):
            extras = render.draft_extras(drafted.answer if drafted else None, lang)
            gone = _status(t(lang, "outline_gone", title=m.title), "error")
            return text, self.recheck(text, drafted, lang), extras, gone, drafted
        earlier = drafted.answer if drafted is not None and text.strip() else None
        first = max((c.n for c in earlier.citations), default=0) if earlier else 0
        outline = render_outline(shifted(m, first), sources=False, tail=False)
        text = f"{text.rstrip()}\n\n{outline}" if text.strip() else outline
        answer = _with_map(earlier, shifted(m, first), text, lang)
        level = drafted.level if drafted is not None and earlier is not None else None
        told = drafted.told if drafted is not None and earlier is not None else particulars.NONE
        now = Drafted(answer, drafted.lang if drafted else m.lang, level, told)
        status = _status(t(lang, "outline_inserted", title=m.title), "ok")
        return text, self.recheck(text, now, lang), render.draft_extras(answer, lang), status, now

    def _current(self, m: ArgumentMap) -> bool:
        """Whether every passage the map cites is still in the knowledge base: the page keeps
        the maps it loaded, and an article may have been changed or removed since."""
        ids = list(dict.fromkeys(c.chunk_id for c in m.citations()))
        return len(self.engine.store.get(ids)) == len(ids)

    @staticmethod
    def recheck(text: str, drafted: Drafted | None, lang: Ui) -> str:
        answer, told = (drafted.answer, drafted.told) if drafted else (None, particulars.NONE)
        return render.findings_panel(text or "", draft_findings(text or "", answer, told), lang)

    def export(
        self, text: str, drafted: Drafted | None, fmt: export.Format, lang: Ui
    ) -> tuple[Any, str]:
        """Write the file and record it; returns (the download's update, status line)."""
        if drafted is None or not (text or "").strip():
            return gr.update(value=None, visible=False), _status(t(lang, "need_draft"), "error")
        remaining = draft_findings(text, drafted.answer, drafted.told)
        if restating := [f for f in remaining if f.rule == "PRIVACY-002"]:  # no file
            refusal = t(lang, "export_particulars", n=len(restating))
            # The attempt is recorded; the text, which holds the client's particulars, is not.
            self.engine.record_refused_export(drafted.answer, "particulars", refusal)
            return gr.update(value=None, visible=False), _status(refusal, "error")
        answer = drafted.answer
        cited = self.engine.store.get(list(dict.fromkeys(c.chunk_id for c in answer.citations)))
        about = export.subject(cited, answer)
        draft = export.make_draft(
            answer, about, text, drafted.lang, self.engine.today(), drafted.level
        )
        self._prune()
        # A folder per export: two advisors exporting the same topic the same day each get
        # their own file.
        path, exported = export.write(draft, fmt, Path(tempfile.mkdtemp(dir=self.folder)))
        figures = [f for f in remaining if f.rule == "FIGURE-001"]  # the rules run on the export
        self.engine.record_export(drafted.answer, exported, channel="advisor", also=figures)
        if remaining:
            said = [t(lang, "exported_with_findings", name=path.name, n=len(remaining))]
        else:
            said = [t(lang, "exported", name=path.name)]
        statement = export.opening_for_the_client(drafted.answer)
        if statement and statement not in text:  # make_draft put it back at the top
            said.append(t(lang, "suitability_restored"))
        kind = "warn" if remaining or len(said) > 1 else "ok"
        joined = ("" if base(lang) == "zh" else " ").join(said)  # Chinese sentences take no space
        return gr.update(value=str(path), visible=True), _status(joined, kind)

    def _prune(self) -> None:
        """Delete exports older than ``KEEP_EXPORTS`` (Gradio keeps its own copy as long)."""
        cutoff = time.time() - KEEP_EXPORTS
        for folder in self.folder.iterdir():
            if folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)


def _with_map(earlier: Answer | None, m: ArgumentMap, text: str, lang: Ui) -> Answer:
    """The draft's answer with the map's sources, notices (in the advisor's language) and
    disclosure added (the map's own answer when there is no draft yet: its audit row is the
    export's parent)."""
    notices = maps.notices_in(m, lang)
    cited: dict[int, Citation] = {}
    for c in m.citations():
        cited.setdefault(c.n, c)
    citations = [cited[n] for n in sorted(cited)]
    if earlier is None:
        return Answer(
            answer=text,
            citations=citations,
            retrieved=[],
            disclosure=m.disclosure,
            mode=m.mode,
            model=m.model,
            notices=notices,
            findings=list(m.findings),
            turn_id=m.turn_id,
        )
    disclosure = earlier.disclosure
    if m.disclosure.strip() and m.disclosure.strip() not in disclosure:
        disclosure = f"{disclosure.rstrip()}\n\n{m.disclosure}"
    return replace(
        earlier,
        citations=[*earlier.citations, *citations],
        disclosure=disclosure,
        notices=list(dict.fromkeys([*earlier.notices, *notices])),
    )


def _level_choices(lang: Ui) -> list[tuple[str, str]]:
    named = list(zip(choices(lang, "client_levels"), LEVELS, strict=True))
    return [(t(lang, "client_unknown"), "unknown"), *named]


def _tone_choices(lang: Ui) -> list[tuple[str, str]]:
    return [(t(lang, "tone_plain"), "plain"), (t(lang, "tone_formal"), "formal")]


def _length_choices(lang: Ui) -> list[tuple[str, str]]:
    return [(t(lang, f"length_{n}"), n) for n in ("short", "medium", "long")]


@dataclass
class AdvisorTab:
    tab: gr.Tab
    intro: gr.HTML
    outlines: gr.HTML
    topic: gr.Textbox
    level: gr.Dropdown
    tone: gr.Radio
    length: gr.Radio
    language: gr.Radio
    make: gr.Button
    draft: gr.Textbox
    recheck: gr.Button
    findings: gr.HTML
    extras: gr.HTML
    export_docx: gr.Button
    export_md: gr.Button
    file: gr.File
    drafted: gr.State
    answered: list[Any]  # the events that draft (the page follows them with more)

    @property
    def relabel_outputs(self) -> list[Any]:
        return [
            self.tab,
            self.intro,
            self.topic,
            self.level,
            self.tone,
            self.length,
            self.language,
            self.make,
            self.draft,
            self.recheck,
            self.findings,
            self.extras,
            self.export_docx,
            self.export_md,
            self.file,
        ]

    def relabel(self, lang: Ui, text: str, drafted: Drafted | None) -> list[Any]:
        return [
            gr.update(label=t(lang, "tab_advisor")),
            _intro(lang),
            gr.update(label=t(lang, "topic"), placeholder=t(lang, "topic_placeholder")),
            gr.update(label=t(lang, "client_level"), choices=_level_choices(lang)),
            gr.update(label=t(lang, "tone"), choices=_tone_choices(lang)),
            gr.update(label=t(lang, "length"), choices=_length_choices(lang)),
            gr.update(label=t(lang, "draft_language")),
            gr.update(value=t(lang, "make_draft")),
            gr.update(label=t(lang, "draft"), placeholder=t(lang, "draft_placeholder")),
            gr.update(value=t(lang, "recheck")),
            Drafting.recheck(text, drafted, lang) if drafted else "",
            render.draft_extras(drafted.answer if drafted else None, lang),
            gr.update(value=t(lang, "export_docx")),
            gr.update(value=t(lang, "export_md")),
            gr.update(label=t(lang, "export_file")),
        ]


def _intro(lang: Ui) -> str:
    return f'<p class="advisor-intro">{render.esc(t(lang, "advisor_intro"))}</p>'


def build(
    engine: AnswerEngine, lang: gr.State, shown: gr.State, max_chars: int, admit: Admit
) -> AdvisorTab:
    """The tab's components and events; ``shown`` holds the argument maps the page shows."""
    drafting = Drafting(engine, max_chars, admit)
    with gr.Tab(t("zh", "tab_advisor"), id="advisor", elem_id="tab-advisor") as tab:
        intro = gr.HTML(_intro("zh"))
        outlines = gr.HTML(
            maps.loading("zh"),
            elem_id="thesis-outlines",
            js_on_load=maps.SCRIPT,
            apply_default_css=False,
        )
        topic = gr.Textbox(
            label=t("zh", "topic"),
            placeholder=t("zh", "topic_placeholder"),
            elem_id="topic",
        )
        with gr.Row(elem_id="draft-options"):
            level = gr.Dropdown(
                _level_choices("zh"),
                value="unknown",
                label=t("zh", "client_level"),
                elem_id="client-level",
                min_width=160,
            )
            tone = gr.Radio(
                _tone_choices("zh"),
                value="plain",
                label=t("zh", "tone"),
                elem_id="tone",
                min_width=160,
            )
            length = gr.Radio(
                _length_choices("zh"),
                value="medium",
                label=t("zh", "length"),
                elem_id="length",
                min_width=200,
            )
            language = gr.Radio(
                [("中文", "zh"), ("English", "en")],
                value="zh",
                label=t("zh", "draft_language"),
                elem_id="draft-language",
                min_width=160,
            )
        make = gr.Button(t("zh", "make_draft"), variant="primary", elem_id="make-draft")
        # A live region from the moment the tab opens: what the status line says (a refusal,
        # an export's file, what to delete) is heard, not only seen.
        status = gr.HTML("", elem_id="advisor-status", js_on_load=_LIVE)
        with gr.Row(elem_id="draft-row"):
            with gr.Column(scale=3, min_width=300):
                draft = gr.Textbox(
                    label=t("zh", "draft"),
                    placeholder=t("zh", "draft_placeholder"),
                    lines=12,
                    max_lines=40,
                    elem_id="draft",
                )
                with gr.Row():
                    recheck = gr.Button(t("zh", "recheck"), elem_id="recheck", min_width=100)
                    export_docx = gr.Button(
                        t("zh", "export_docx"), elem_id="export-docx", min_width=100
                    )
                    export_md = gr.Button(t("zh", "export_md"), elem_id="export-md", min_width=100)
                file = gr.File(
                    label=t("zh", "export_file"),
                    elem_id="export-file",
                    interactive=False,
                    visible=False,
                    height=80,
                )
            with gr.Column(scale=2, min_width=280):
                findings = gr.HTML("", elem_id="findings")
                extras = gr.HTML("", elem_id="draft-extras")
        drafted = gr.State(None)

    private: dict[str, Any] = {"api_visibility": "private"}
    # A new draft is likely for the next client: the last client's file is no longer offered.
    make.click(lambda: gr.update(value=None, visible=False), None, file, **private)
    drafts = make.click(
        drafting.draft,
        [topic, level, tone, length, language, lang, draft, drafted],
        [draft, findings, extras, status, drafted],
        show_progress="minimal",
        **private,
    )
    # The page's language may have changed while the draft streamed: its panels take it.
    drafts.then(
        lambda text, d, lang: (
            Drafting.recheck(text, d, lang) if d else gr.skip(),
            render.draft_extras(d.answer, lang) if d else gr.skip(),
        ),
        [draft, drafted, lang],
        [findings, extras],
        show_progress="hidden",
        **private,
    )
    recheck.click(drafting.recheck, [draft, drafted, lang], findings, **private)
    outlines.click(
        drafting.insert_outline,
        [draft, drafted, shown, lang],
        [draft, findings, extras, status, drafted],
        **private,
    )
    export_docx.click(
        lambda text, d, lang: drafting.export(text, d, "docx", lang),
        [draft, drafted, lang],
        [file, status],
        **private,
    )
    export_md.click(
        lambda text, d, lang: drafting.export(text, d, "md", lang),
        [draft, drafted, lang],
        [file, status],
        **private,
    )
    return AdvisorTab(
        tab,
        intro,
        outlines,
        topic,
        level,
        tone,
        length,
        language,
        make,
        draft,
        recheck,
        findings,
        extras,
        export_docx,
        export_md,
        file,
        drafted,
        [drafts],
    )
