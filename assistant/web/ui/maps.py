"""The argument maps in the Gradio app: the investor's card above the chat, the advisor's outline.

- **Investor tab**: one card per article, shown first. Folded, it is compact: the title, the
  article's date and age, its thesis and how many steps it takes. Unfolded: the steps in the
  article's order, each with its kind, its [n] citations (a click opens the passage with the
  supporting sentence marked, as an answer's sources panel does), its figures dated, and "ask
  about this step", which sends the step's question as a chat turn; beside them the
  counterpoints (the article's own bear case, the risks its disclosure names) or the plain notice
  that there are none. The disclosure sits under the card, outside the fold: never absent.
- **Advisor tab**: each map as an outline that "insert the outline" pulls into the draft
  (``advisor.Drafting.insert_outline``).

Maps come from the app's one ``ThesisService`` (``Services.thesis``, the one ``GET /api/thesis``
uses): a map is built once per article version and kept. Building one may ask the model, so the
page never waits for it: both places show "正在整理论证…" until a load event, run once the page
is up, fills them (``load``). The clicks are read by ``static/maps.js``, which sends the step's
or map's index (``trigger``), never text: the server looks the question up in the maps it showed.

The map's own words (claims, quotes) stay in the article's language; the labels around them and
the notices it states (offline, the source's age, the AI label) follow the interface's language. Every text goes through ``render.esc``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ...answer import Citation
from ...errors import AssistantError
from ...prompts import age_text, message
from ...thesis import ArgumentMap, Point, Step, ThesisService, render_outline
from ...thesis.model import say
from ...thesis.outline import date_label
from .render import cite_link, disclosure, esc, highlighted, lang_attr, said, source_meta
from .strings import Ui, base, in_script, t

log = logging.getLogger(__name__)

Shown = list[ArgumentMap] | None  # None: not loaded (yet, or it failed)
CARDS = 4  # the newest articles whose maps the page shows: compact, and one build each at most
SCRIPT = (Path(__file__).parent / "static" / "maps.js").read_text(encoding="utf-8")


def load(service: ThesisService, lang: Ui) -> tuple[str, Shown, str]:
    """Every article's map (built or kept): the investor's cards, the maps, the advisor's outlines."""
    try:
        shown = service.maps(channel="web", newest=CARDS)
    except AssistantError as error:  # translated once, here: a line where the map would be
        log.warning("argument maps not shown: %s", error)
        failed = f'<div class="thesis-maps failed"><p>{esc(t(lang, "map_failed"))}{esc(str(error))}</p></div>'
        return failed, None, failed
    return cards(shown, lang), shown, outlines(shown, lang)


def loading(lang: Ui) -> str:
    return (
        f'<div class="thesis-maps loading" role="status"><p class="map-loading">'
        f"{esc(t(lang, 'map_loading'))}</p></div>"
    )


def pick(shown: Shown, raw: object) -> tuple[ArgumentMap, int] | None:
    """The map and step a click names (``"i:k"``, or ``"i"`` for a map); None if it names none."""
    try:
        numbers = [int(part) for part in str(raw).split(":")]
    except ValueError:
        return None
    if not shown or not 1 <= len(numbers) <= 2 or not 0 <= numbers[0] < len(shown):
        return None
    chosen = shown[numbers[0]]
    step = numbers[1] if len(numbers) == 2 else -1
    if len(numbers) == 2 and not 0 <= step < len(chosen.steps):
        return None
    return chosen, step


def event_value(event: Any, name: str) -> object:
    """A value the page sent with a ``trigger`` (``gr.EventData`` reads it as an attribute)."""
    return getattr(event, name, None)


# -- the investor's cards ---------------------------------------------------------------------


def cards(shown: Shown, lang: Ui) -> str:
    if shown is None:
        return loading(lang)
    if not shown:
        return ""
    return (
        f'<section class="thesis-maps" aria-label="{esc(t(lang, "map_label"))}">'
        f'<h3 class="maps-heading">{esc(t(lang, "map_label"))}'
        f' <span class="hint">{esc(t(lang, "map_hint"))}</span></h3>'
        f"{''.join(card(m, i, lang) for i, m in enumerate(shown))}</section>"
    )


def _age(months: int | None, lang: Ui) -> str | None:
    if months is None:
        return None
    return t(lang, "map_age", age=in_script(lang, age_text(months, base(lang))))


def card(m: ArgumentMap, i: int, lang: Ui) -> str:
    key = f"map{i}"
    meta = " · ".join(
        said(p, lang)
        for p in (m.publisher, date_label(m.published, base(lang)), _age(m.age_months, lang))
        if p
    )
    thesis = ""
    if m.thesis:
        thesis = (
            f'<p class="map-thesis"><span class="map-thesis-label">'
            f"{esc(say_in(lang, 'heading_thesis'))}</span> {_cited(m.thesis.text, m.thesis, f'{key}-t', lang)}</p>"
        )
    counts = t(lang, "map_counts", steps=len(m.steps), counter=len(m.counterpoints))
    summary = (
        f'<summary><span class="map-title"{lang_attr(m.title, lang)}>《{esc(m.title)}》</span>'
        f' <span class="badge ai">{esc(t(lang, "badge_ai"))}</span>'
        f'<span class="map-meta">{meta}</span>{thesis}'
        f'<span class="map-counts">{esc(counts)}</span>'
        f' <span class="more">{esc(t(lang, "map_expand"))}</span></summary>'
    )
    thesis_sources = (
        _sources([(c.quote, c) for c in m.thesis.citations], f"{key}-t", lang) if m.thesis else ""
    )
    # A list with nothing in it is not written: a screen reader says "list, 0 items".
    steps = "".join(_step(step, i, k, m, lang) for k, step in enumerate(m.steps))
    if steps:
        steps = (
            f'<section class="map-steps"><h4>{esc(say_in(lang, "heading_steps"))}</h4>'
            f"<ol>{steps}</ol></section>"
        )
    hidden = _plain_notices(m)
    notices = "".join(
        f"<li{lang_attr(n, lang)}>{esc(n)}</li>" for n in notices_in(m, lang) if n not in hidden
    )
    return (
        f'<div class="map-card" data-key="{key}"><details class="map" data-key="{key}">{summary}'
        f'<div class="map-body">{thesis_sources}<div class="map-columns">'
        f"{steps}{_counter(m, key, lang)}</div>"
        f"{f'<ul class=notices>{notices}</ul>' if notices else ''}</div></details>"
        f"{disclosure(m.disclosure, lang, key)}</div>"
    )


def _cited(text: str, point: Point | Step, key: str, lang: Ui, named: str = "") -> str:
    """The text, escaped, followed by a footnote for each of its citations; ``named``: the
    text's own element has this id (what describes a control)."""
    links = "".join(cite_link(c.n, f"{key}-{j}", lang) for j, c in enumerate(point.citations))
    if named:
        return f'<span id="{named}"{lang_attr(text, lang)}>{esc(text)}</span>{links}'
    return f"{said(text, lang)}{links}"


def _sources(items: Sequence[tuple[str, Citation]], key: str, lang: Ui) -> str:
    """The passages behind a line's footnotes, each with its supporting sentence marked; folded
    away until its footnote is clicked (``maps.js``)."""
    if not items:
        return ""
    listed = "".join(
        f'<li class="source" id="{key}-{j}" hidden><div class="source-meta">'
        f'<span class="n">[{c.n}]</span> {said(source_meta(c, lang), lang)}</div>'
        f'<blockquote class="passage"{lang_attr(c.text, lang)}>{highlighted(c.text, quote)}'
        "</blockquote></li>"
        for j, (quote, c) in enumerate(items)
    )
    return f'<ol class="map-sources">{listed}</ol>'


def _step(step: Step, i: int, k: int, m: ArgumentMap, lang: Ui) -> str:
    key = f"map{i}-s{k}"
    passages = {c.n: c for c in m.citations()}  # an evidence line's [n]: its chunk's passage
    items: list[tuple[str, Citation]] = [(c.quote, c) for c in step.citations]
    evidence = ""
    for e in step.evidence:
        if (cited := passages.get(e.n)) is None:
            continue
        evidence += (
            f'<li class="evidence {esc(e.label)}">{said(e.text, lang)}'
            f"{cite_link(e.n, f'{key}-{len(items)}', lang)}</li>"
        )
        items.append((e.text, cited))
    if step.figures and (when := date_label(m.published, base(lang))):
        figures = "、".join(f.text for f in step.figures)
        evidence += (
            f'<li class="as-of">{said(figures, lang)}：{esc(say_in(lang, "as_of", date=when))}</li>'
        )
    return (
        f'<li class="step kind-{esc(step.kind)}"><div class="step-line">'
        f'<span class="kind">{esc(say_in(lang, f"kind_{step.kind}"))}</span>'
        f'<span class="claim">{_cited(step.claim, step, key, lang, f"{key}-claim")}</span></div>'
        f"{f'<ul class=evidence-list>{evidence}</ul>' if evidence else ''}"
        f"{_sources(items, key, lang)}"
        # Six buttons of one name tell a screen reader nothing: each is described by its step's
        # claim, read in the claim's own language (a name in two languages is read in one).
        f'<button type="button" class="ask-step" data-step="{i}:{k}" '
        f'aria-describedby="{key}-claim">{esc(t(lang, "map_ask"))}</button></li>'
    )


OWN_NOTICES = ("offline", "fallback", "replaced", "dropped_uncited", "dropped_rule", "ai_label")


def notices_in(m: ArgumentMap, lang: Ui) -> list[str]:
    """The map's notices in the reader's language: what the map says in its own voice and the
    source's age (a reader must be able to read both); any other as written."""
    if lang == m.lang:
        return list(m.notices)
    reader = base(lang)
    ours = {say(m.lang, key): say_in(lang, key) for key in OWN_NOTICES}
    when, theirs = date_label(m.published, m.lang), date_label(m.published, reader)
    if m.age_months is not None and when and theirs:
        age = message(m.lang, "source_date", date=when, age=age_text(m.age_months, m.lang))
        said = message(reader, "source_date", date=theirs, age=age_text(m.age_months, reader))
        ours[age] = in_script(lang, said)
    return [ours.get(n, n) for n in m.notices]


def say_in(lang: Ui, key: str, **values: str) -> str:
    """The thesis package's own words (headings, kinds, notices) in the interface's language
    and script; the values (a claim, a date) go in as given."""
    held = {name: "{" + name + "}" for name in values}
    return in_script(lang, say(base(lang), key, **held)).format(**values)


def _plain_notices(m: ArgumentMap) -> set[str]:
    """The notices that say the article argues nothing against itself: shown in the
    counterpoints column (in the interface's language), not again under the map."""
    return {say(m.lang, key) for key in ("no_counterpoints", "no_counterpoints_at_all")}


def _counter(m: ArgumentMap, key: str, lang: Ui) -> str:
    own = [p for p in m.counterpoints if p.source == "article"]
    plain = ""
    if not own:
        words = "no_counterpoints" if m.counterpoints else "no_counterpoints_at_all"
        plain = f'<p class="plain-notice">{esc(say_in(lang, words))}</p>'
    items = "".join(
        f'<li class="point from-{esc(p.source)}"><span class="point-source">'
        f"{esc(t(lang, f'map_from_{p.source}'))}</span> {_cited(p.text, p, f'{key}-c{j}', lang)}"
        f"{_sources([(c.quote, c) for c in p.citations], f'{key}-c{j}', lang)}</li>"
        for j, p in enumerate(m.counterpoints)
    )
    return (
        f'<section class="map-counter"><h4>{esc(say_in(lang, "heading_counter"))}</h4>'
        f"{plain}{f'<ul>{items}</ul>' if items else ''}</section>"
    )


# -- the advisor's outlines -------------------------------------------------------------------


def outlines(shown: Shown, lang: Ui) -> str:
    if shown is None:
        return loading(lang)
    items = "".join(
        f'<div class="outline-card"><div class="outline-head"><span class="outline-title">'
        f"{esc(t(lang, 'outline_title'))} · 《{said(m.title, lang)}》</span>"
        f'<button type="button" class="insert-outline" data-map="{i}">'
        f"{esc(t(lang, 'outline_insert'))}</button></div>"
        f'<details class="outline-preview"><summary>{esc(t(lang, "outline_preview"))}</summary>'
        f'<div class="outline-text"{lang_attr(text, lang)}>{esc(text)}</div></details></div>'
        for i, m in enumerate(shown)
        for text in [render_outline(m)]
    )
    return f'<div class="thesis-outlines">{items}</div>'
