"""The web app's HTML, built from the engine's ``Answer``: pure functions, every text escaped.

Text in another language than the interface's (a Chinese source quoted to an English reader,
an answer in the language it was asked in) carries its own ``lang`` (``lang_attr``, ``said``):
a screen reader reads it in a voice that speaks it, not Chinese spelled out in an English one.

Answers, questions, source passages and findings are text, never markup: an article or a
question that contains ``<img onerror=…>`` or ``<script>`` must show up literally. So every
piece of text goes through ``esc`` before it meets markup, and markup is only added around
escaped text ([n] footnotes, the highlighted quote, marked findings). ``esc`` also turns
``{ } $ `` ` into entities: Gradio's HTML component treats its template as a JS template
string and a Handlebars template, and text must not be able to reach either.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from ...answer import Answer, Citation
from ...compliance import Finding
from ...text import is_chinese, writes_traditional
from .strings import HTML_LANG, Ui, base, t

_TEMPLATE_CHARS = str.maketrans({"{": "&#123;", "}": "&#125;", "$": "&#36;", "`": "&#96;"})
_MARKER = re.compile(r"\[(\d+)\]")
# Thumb icons drawn inline: emoji need a colour emoji font many machines (and CI) lack.
_THUMB = (
    '<svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true"{flip}><path fill="none" '
    'stroke="currentColor" stroke-width="2" stroke-linejoin="round" d="M7 11v9H3v-9h4zm0 0 4-8'
    'c1.7 0 2.6 1.2 2.3 2.8L12.8 9H19a2 2 0 0 1 2 2.3l-1.2 7A2 2 0 0 1 17.8 20H7"/></svg>'
)
_THUMB_UP = _THUMB.format(flip="")
_THUMB_DOWN = _THUMB.format(flip=' style="transform: rotate(180deg)"')


def esc(text: str) -> str:
    return html.escape(text, quote=True).translate(_TEMPLATE_CHARS)


@lru_cache(maxsize=4096)  # the transcript is redrawn on every streamed sentence, sources and all
def lang_attr(text: str, ui: Ui) -> str:
    """`` lang="…"`` for a text written in another language (or Chinese script) than the
    interface's, else nothing: the text inherits the page's."""
    if is_chinese(text):
        own = "zh-Hant" if writes_traditional(text) else "zh-Hans"
    elif re.search("[A-Za-z]", text):
        own = "en"
    else:  # figures, punctuation: any voice reads them
        return ""
    return "" if own == HTML_LANG[ui] else f' lang="{own}"'


def said(text: str, ui: Ui) -> str:
    """``text`` escaped, in a ``<span lang>`` when it is in another language than the page."""
    attr = lang_attr(text, ui)
    return f"<span{attr}>{esc(text)}</span>" if attr else esc(text)


def original(texts: Sequence[str], lang: Ui, tag: str) -> str:
    """A note that the sources' words are quoted as written, in their own language, when any of
    ``texts`` is in the other language than the interface's: Chinese to an English reader."""
    if not any(is_chinese(text) != (base(lang) == "zh") for text in texts):
        return ""
    return f'<{tag} class="original">{esc(t(lang, "original_language"))}</{tag}>'


Kept = dict[str, Any]  # ``gr.skip()`` as a handler's output: that component stays as it was


@dataclass
class ChatTurn:
    """One exchange of the investor chat as the page shows it (streaming, done, or failed)."""

    question: str
    disclosure: str  # shown from the first moment; replaced by the answer's own when it is done
    partial: str = ""
    answer: Answer | None = None
    error: str | None = None
    key: str = field(default="")  # unique within the page: anchors for its footnotes


def status_line(lang: Ui, mode: str, model: str | None, documents: int) -> str:
    """Which model answers; or excerpt mode (offline, or the model unavailable) with its reason."""
    if mode == "llm":
        state, text = "online", esc(t(lang, "status_online", model=model))
    else:
        state = "offline"
        text = f"<b>{esc(t(lang, f'status_{mode}'))}</b> · {esc(t(lang, f'status_{mode}_reason', model=model))}"
    one = "status_document" if documents == 1 else "status_documents"
    docs = esc(t(lang, one, documents=documents))
    return (
        f'<div class="status-line {state}" role="status"><span class="dot"></span>'
        f'<span class="status-text">{text}</span><span class="docs">{docs}</span></div>'
    )


def header(lang: Ui) -> str:
    return (
        f'<div class="app-header"><h1>{esc(t(lang, "title"))}'
        f' <span class="badge ai">{esc(t(lang, "ai_badge"))}</span></h1>'
        f'<p class="subtitle">{esc(t(lang, "subtitle"))}</p></div>'
    )


def cite_link(n: int, target: str, lang: Ui) -> str:
    """Footnote [n], a link to the element ``target`` (a source with its quote marked)."""
    return (
        f'<a class="cite" href="#{esc(target)}" data-target="{esc(target)}" '
        f'aria-label="{esc(t(lang, "cite", n=n))}">[{n}]</a>'
    )


def paragraphs(text: str, lang: Ui, anchors: dict[int, str] | None = None) -> str:
    """Escaped paragraphs; [n] becomes a footnote link where ``anchors`` has a target for n."""

    def cite(match: re.Match[str]) -> str:
        n = int(match.group(1))
        target = (anchors or {}).get(n)
        if target is None:
            return f'<sup class="cite pending">[{n}]</sup>'
        return cite_link(n, target, lang)

    lines = [line for line in text.split("\n") if line.strip()]
    return "".join(
        f"<p{lang_attr(line, lang)}>{_MARKER.sub(cite, esc(line))}</p>" for line in lines
    )


def highlighted(passage: str, quote: str) -> str:
    """The passage, escaped, with the supporting quote marked (when it occurs in it)."""
    at = passage.find(quote) if quote else -1
    if at < 0:
        return esc(passage)
    end = at + len(quote)
    return f"{esc(passage[:at])}<mark>{esc(quote)}</mark>{esc(passage[end:])}"


def source_meta(citation: Citation, lang: Ui) -> str:
    """Title, publisher, date, section and page of a source, as plain text."""
    parts = [
        f"《{citation.title}》" if citation.title else None,
        citation.publisher,
        citation.published,
        citation.section,
        t(lang, "page", page=citation.page) if citation.page else None,
    ]
    return " · ".join(part for part in parts if part)


def sources(citations: Sequence[Citation], key: str, lang: Ui) -> str:
    if not citations:
        return ""
    items = "".join(
        f'<li class="source" id="src-{key}-{c.n}"><div class="source-meta">'
        f'<span class="n">[{c.n}]</span> {said(source_meta(c, lang), lang)}</div>'
        f'<blockquote class="passage"{lang_attr(c.text, lang)}>{highlighted(c.text, c.quote)}'
        "</blockquote></li>"
        for c in citations
    )
    note = original([c.text for c in citations], lang, "p")
    return (
        f'<section class="sources"><h4>{esc(t(lang, "sources"))}</h4>{note}<ol>{items}</ol>'
        "</section>"
    )


def _headline(disclosure: str) -> str:
    """The disclosure's warning sentence, shown even when the full text is folded away."""
    for sentence in re.split(r"(?<=[。！!.])", disclosure):
        if _warns(sentence):
            # "风险提示\n尊敬的投资者：投资有风险，…" → the warning itself, without the section's
            # heading (the fold's label says it) or the salutation
            line = [part for part in sentence.strip().splitlines() if _warns(part)][-1].strip()
            after = re.sub(r"^.*?[：:]", "", line)
            return after if _warns(after) else line
    return disclosure.strip().splitlines()[0] if disclosure.strip() else ""


def _warns(text: str) -> bool:
    return "投资有风险" in text or "risk" in text.lower()


def disclosure(text: str, lang: Ui, key: str) -> str:
    return (
        f'<details class="disclosure" data-key="{esc(key)}"><summary>'
        f'<span class="disclosure-label">{esc(t(lang, "disclosure"))}</span> '
        f"{original([text], lang, 'span')} "
        f'<span{lang_attr(text, lang)} class="disclosure-headline">{esc(_headline(text))}</span> '
        f'<span class="more">{esc(t(lang, "disclosure_more"))}</span></summary>'
        f'<div class="disclosure-text"{lang_attr(text, lang)}>{esc(text)}</div></details>'
    )


def _badges(answer: Answer, lang: Ui) -> str:
    badges = [f'<span class="badge ai">{esc(t(lang, "badge_ai"))}</span>']
    if answer.mode == "offline":
        badges.append(f'<span class="badge offline">{esc(t(lang, "badge_offline"))}</span>')
    elif answer.mode == "fallback":
        badges.append(f'<span class="badge fallback">{esc(t(lang, "badge_fallback"))}</span>')
    elif answer.model:
        badges.append(
            f'<span class="badge model">{esc(t(lang, "badge_model", model=answer.model))}</span>'
        )
    return f'<div class="badges">{"".join(badges)}</div>'


def plain_text(answer: Answer, lang: Ui) -> str:
    """What "copy answer" puts on the clipboard: the answer with its sources and disclosure."""
    lines = [answer.answer, ""]
    if answer.citations:
        lines += [t(lang, "sources")]
        lines += [f"[{c.n}] {source_meta(c, lang)}" for c in answer.citations]
        lines += [""]
    lines += [*answer.notices, "", answer.disclosure]
    return "\n".join(lines)


def _feedback(answer: Answer, lang: Ui) -> str:
    return (
        f'<div class="actions"><button type="button" class="copy" '
        f'data-done="{esc(t(lang, "copied"))}" data-failed="{esc(t(lang, "copy_failed"))}">'
        f"{esc(t(lang, 'copy'))}</button>"
        f'<div class="feedback" data-turn="{esc(answer.turn_id)}">'
        f'<span class="ask">{esc(t(lang, "helpful"))}</span>'
        f'<button type="button" class="thumb" data-rating="up" title="{esc(t(lang, "thumb_up"))}" '
        f'aria-label="{esc(t(lang, "thumb_up"))}">{_THUMB_UP}</button>'
        f'<button type="button" class="thumb" data-rating="down" '
        f'title="{esc(t(lang, "thumb_down"))}" aria-label="{esc(t(lang, "thumb_down"))}">'
        f"{_THUMB_DOWN}</button>"
        f'<div class="feedback-form" hidden><input type="text" class="comment" maxlength="2000" '
        f'placeholder="{esc(t(lang, "comment"))}"><button type="button" class="send-feedback">'
        f"{esc(t(lang, 'send_feedback'))}</button></div>"
        f'<span class="feedback-done" hidden data-thanks="{esc(t(lang, "feedback_thanks"))}" '
        f'data-failed="{esc(t(lang, "feedback_failed"))}"></span></div></div>'
        f'<textarea class="copy-source" hidden readonly>{esc(plain_text(answer, lang))}</textarea>'
    )


def turn(item: ChatTurn, lang: Ui) -> str:
    question = (
        f'<div class="question"><span class="who">{esc(t(lang, "you"))}</span>'
        f"<p{lang_attr(item.question, lang)}>{esc(item.question)}</p></div>"
    )
    answer = item.answer
    if item.error is not None:
        body = f'<div class="error">{esc(t(lang, "error"))}{esc(item.error)}</div>'
        tail = disclosure(item.disclosure, lang, item.key)
        return f'<article class="turn failed">{question}<div class="reply">{body}{tail}</div></article>'
    if answer is None:
        text = (
            paragraphs(item.partial, lang) or f'<p class="waiting">{esc(t(lang, "answering"))}</p>'
        )
        ai = f'<div class="badges"><span class="badge ai">{esc(t(lang, "badge_ai"))}</span></div>'
        return (
            f'<article class="turn streaming">{question}<div class="reply">{ai}'
            f'<div class="answer">{text}</div>{disclosure(item.disclosure, lang, item.key)}'
            "</div></article>"
        )
    anchors = {c.n: f"src-{item.key}-{c.n}" for c in answer.citations}
    notices = "".join(f"<li{lang_attr(n, lang)}>{esc(n)}</li>" for n in answer.notices)
    return (
        f'<article class="turn done mode-{answer.mode}" data-turn="{esc(answer.turn_id)}">'
        f'{question}<div class="reply">{_badges(answer, lang)}'
        f'<div class="answer">{paragraphs(answer.answer, lang, anchors)}</div>'
        f'<ul class="notices">{notices}</ul>'
        f"{sources(answer.citations, item.key, lang)}"
        f"{disclosure(answer.disclosure, lang, item.key)}"
        f"{_feedback(answer, lang)}</div></article>"
    )


def transcript(turns: Sequence[ChatTurn], lang: Ui) -> str:
    if not turns:
        return f'<div class="transcript empty"><p>{esc(t(lang, "empty_chat"))}</p></div>'
    return f'<div class="transcript">{"".join(turn(item, lang) for item in turns)}</div>'


def marked(text: str, findings: Sequence[Finding], lang: Ui = "zh") -> str:
    """The lines of the draft that hold findings, escaped, each finding's span marked and
    numbered as in the list (a span overlapping an earlier one is not marked twice)."""
    spans, reach = [], 0
    for n, finding in enumerate(findings, start=1):
        if finding.start >= reach:
            spans.append((finding.start, finding.end, n, finding))
            reach = finding.end
    lines, offset = [], 0
    for line in text.split("\n"):
        end = offset + len(line)
        inside = [span for span in spans if offset <= span[0] < end]
        if inside:
            out, cursor = [], offset
            for start, stop, n, finding in inside:
                stop = min(stop, end)
                out.append(esc(text[cursor:start]))
                out.append(
                    f'<mark class="finding {esc(finding.severity)}" title="{esc(finding.rule)}">'
                    f"{esc(text[start:stop])}<sup>{n}</sup></mark>"
                )
                cursor = stop
            out.append(esc(text[cursor:end]))
            lines.append(f"<p{lang_attr(line, lang)}>{''.join(out)}</p>")
        offset = end + 1
    return f'<div class="draft-marked">{"".join(lines)}</div>'


def findings_panel(text: str, findings: Sequence[Finding], lang: Ui) -> str:
    """The compliance check beside the draft: the marked text and, per finding, rule and fix."""
    if not text.strip():
        return ""
    if not findings:
        return f'<div class="findings ok"><p>✓ {esc(t(lang, "findings_none"))}</p></div>'
    items = "".join(
        f'<li class="{esc(f.severity)}"><q{lang_attr(f.text, lang)}>{esc(f.text)}</q> '
        f"<code>{esc(f.rule)}</code><dl><dt>{esc(t(lang, 'finding_basis'))}</dt>"
        f"<dd{lang_attr(f.basis, lang)}>{esc(f.basis)}</dd>"
        f"<dt>{esc(t(lang, 'finding_suggestion'))}</dt>"
        f"<dd{lang_attr(f.suggestion, lang)}>{esc(f.suggestion)}</dd></dl></li>"
        for f in findings
    )
    return (
        f'<div class="findings"><p class="count">{esc(t(lang, "findings_count", n=len(findings)))}</p>'
        f"{marked(text, findings, lang)}<ol>{items}</ol></div>"
    )


def draft_extras(answer: Answer | None, lang: Ui) -> str:
    """Beside the editable draft: its notices, its sources with dates, and the disclosure."""
    if answer is None:
        return ""
    # A section with nothing in it is left out (a screen reader announces "list, 0 items").
    notices = "".join(f"<li{lang_attr(n, lang)}>{esc(n)}</li>" for n in answer.notices)
    items = "".join(
        f'<li><span class="n">[{c.n}]</span> {said(source_meta(c, lang), lang)}</li>'
        for c in answer.citations
    )
    if notices:
        notices = f'<h4>{esc(t(lang, "draft_notices"))}</h4><ul class="notices">{notices}</ul>'
    if items:
        items = f'<h4>{esc(t(lang, "draft_sources"))}</h4><ol class="draft-sources">{items}</ol>'
    return (
        f'<div class="draft-extras">{notices}{items}'
        f"<h4>{esc(t(lang, 'draft_disclosure'))}</h4>"
        f'<div class="disclosure-text"{lang_attr(answer.disclosure, lang)}>'
        f"{esc(answer.disclosure)}</div></div>"
    )
