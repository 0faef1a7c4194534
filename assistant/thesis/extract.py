"""The extractive argument map: an article's own structure, quoted, as a chain of steps.

Used offline and whenever the model's draft fails. Nothing is written here that the article does
not say: every claim is a heading or a sentence of the article, verbatim (a heading that asks
"为什么X?" gives the claim X, its own words), and every quote is a sentence of the chunk it cites.

- **Steps**, in the article's order: each headed section gives one step (its claim is the heading
  when the heading states something, else the section's first sentence; its quote is the section
  sentence that shares most with the claim). A paragraph that sums up (整体而言…) is a step of its
  own. Figures, chart captions with their attribution and the products the article names are
  kept beside the step as evidence, and every figure is marked with the article's date.
- **Statements, not selling**: a step and its evidence rest on what the article states, never on
  how it sells its product (a regulator reads the map as the fund's marketing). A clause that
  sells (…,或是把握…的有力工具) is cut off, as a trailing question is; a sentence the compliance
  rules read as selling is not used; a section with nothing else gives no step.
- **Thesis**: the lead's sentence that draws a consequence (因此…), before any heading.
- **Counterpoints**, from the sources only: the consequence a bear-case section draws (a heading
  that names the case against: 利空, 唱衰, 警惕…), a sentence anywhere that reports the case
  against (部分投资者担忧…, "Some argue…"), and the risks the article's disclosure names. An
  article that argues nothing (a notice: facts only) gets a map that says so.

The words that decide all this are data: ``resources/thesis.toml``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import pairwise, takewhile
from pathlib import Path
from typing import Literal

from ..answer import Citation, shown_path
from ..citations import best_quote, split_sentences
from ..compliance import check_text, mask_blocked, unsold
from ..documents import is_attribution, is_caption, strip_numbering
from ..extractive import quotable
from ..figures import find_figures, trailing_unit_end
from ..prompts import Lang, message
from ..store import StoredChunk
from ..text import bigrams, has_han
from .model import Evidence, FigureMark, Kind, Point, Step, markers, say, setting

Role = Literal["text", "caption", "attribution"]
EvidenceLabel = Literal["figure", "chart", "product"]
_YEARS = re.compile(r"^(?:19|20)\d\d(?:\s*[-–~至到]\s*(?:19|20)\d\d)?$")  # 2024, 2020-2024


@dataclass(frozen=True)
class Sentence:
    chunk: StoredChunk
    text: str
    paragraph: int  # index of the paragraph within its section
    role: Role = "text"


@dataclass
class Section:
    heading: str | None  # the heading path (" > "), None before the first heading
    kind: str  # "body" or "disclosure"
    sentences: list[Sentence] = field(default_factory=list)

    def paragraphs(self, role: Role = "text") -> list[list[Sentence]]:
        grouped: dict[int, list[Sentence]] = {}
        for s in self.sentences:
            if s.role == role:
                grouped.setdefault(s.paragraph, []).append(s)
        return list(grouped.values())


@dataclass(frozen=True)
class Extracted:
    thesis: Point | None
    steps: list[Step]
    counterpoints: list[Point]  # what the article says against its thesis
    risks: list[Point]  # what its disclosure names


class Citer:
    """Numbers the chunks a map cites, in order of first use (one number per chunk).

    A cited passage is shown, so it is masked as an answer's is: a source sentence with a
    blocking finding is replaced by a note, and quotes come only from what stands."""

    def __init__(self, lang: Lang, knowledge_dir: Path) -> None:
        self._numbers: dict[str, int] = {}
        self._note = message(lang, "masked_source")
        self._knowledge_dir = knowledge_dir

    def number(self, chunk: StoredChunk) -> int:
        return self._numbers.setdefault(chunk.chunk_id, len(self._numbers) + 1)

    def standing(self, chunk: StoredChunk) -> str:
        """The sentences of the chunk a quote may be taken from."""
        return mask_blocked(chunk.text, self._note)[1]

    def cite(self, chunk: StoredChunk, quote: str) -> Citation:
        shown, _ = mask_blocked(chunk.text, self._note)
        path = shown_path(chunk.path, self._knowledge_dir)
        return Citation.of(self.number(chunk), chunk, quote, text=shown, path=path)


# -- small facts ----------------------------------------------------------------------------------


def _has(text: str, group: str, name: str) -> bool:
    lowered = f" {text.lower()} "
    return any(word in lowered for word in markers(group, name))


def _substantial(text: str) -> bool:
    """Long enough to state something (a heading like 今日指数 only labels what follows)."""
    return (
        len(re.findall(r"[\u4e00-\u9fff]", text)) >= 6 if has_han(text) else len(text.split()) >= 4
    )


def classify(claim: str, quote: str = "") -> Kind:
    """Forecast, reported fact, the author's view, figure or fact (in that order of precedence)."""
    both = f"{claim} {quote}"
    if _has(both, "kinds", "forecast"):
        return "forecast"
    if _has(claim, "kinds", "reported"):
        return "fact"
    if _has(both, "kinds", "view"):
        return "view"
    if any(_unit(f.text) for f in find_figures(both)):
        return "figure"
    return "fact"


def _unit(figure: str) -> bool:
    """Whether a figure carries a unit (万, 亿, %, 倍…), not a bare count, year or code."""
    return bool(re.search(r"[^\d.,\s]", figure))


def figure_marks(texts: Iterable[str], as_of: str | None) -> list[FigureMark]:
    """The figures of ``texts`` worth dating: amounts, shares, counts; not years or codes."""
    marks: dict[str, FigureMark] = {}
    for text in texts:
        for figure in find_figures(text):
            year = _YEARS.match(figure.text) is not None
            code = not _unit(figure.text) and len(figure.text.replace(",", "")) >= 6
            if not (year or code):
                written = text[figure.start : trailing_unit_end(text, figure.end)]
                marks.setdefault(written, FigureMark(written, as_of))
    return list(marks.values())


def heading_claim(section: str | None) -> str | None:
    """The claim a heading states, in its own words, or None for a label or a bare question."""
    if not section:
        return None
    leaf = strip_numbering(section.split(" > ")[-1])
    question = leaf.rstrip().endswith(("?", "？"))
    words = leaf.strip().rstrip("?？:：。.!！ ")
    for word in markers("markers", "question_words"):
        if words.lower().startswith(word):
            words, question = words[len(word) :].strip(), False
            break
        # 需求为何仍然强劲: a question all the same, with no claim to take from it.
        question = question or word.strip() in words.lower()
    if question or not _substantial(words):
        return None
    return words


def _statement(sentence: str) -> str | None:
    """A sentence as a statement: a trailing question clause (…,底层逻辑如何?) is cut off."""
    if not sentence.endswith(("?", "？")):
        return sentence
    cut = max(sentence.rfind(","), sentence.rfind("，"))
    return sentence[:cut].strip() if cut > 0 else None


@lru_cache(maxsize=1024)
def _plain(sentence: str) -> str | None:
    """A sentence as the statement it makes, without selling: from the first clause that sells
    (``compliance.unsold``) on, it is cut off; None when what is left states
    nothing, or when the compliance rules find it selling (``selling``: praise, an endorsement, an
    inducement…), even as a reviewer's warning: a step's sentence is what the map rests on, and
    a map is read as the fund's marketing."""
    text = unsold(sentence)
    if text != sentence and not _substantial(text):
        return None
    selling = markers("markers", "selling")
    return None if any(f.category in selling for f in check_text(text)) else text


def plain_quote(claim: str, passage: str) -> str | None:
    """The statement of ``passage`` that shares most with ``claim`` (``_plain``: a sentence's
    sales clause cut off, a sentence that only sells left out); None when it states nothing."""
    stated = [text for s in split_sentences(passage) if (text := _plain(s))]
    return best_quote(claim, "\n".join(stated)) if stated else None


def sells(claim: str) -> bool:
    """Whether a claim (a model's step) sells rather than states: ``_plain`` would change it."""
    return _plain(claim) != claim


# -- the article as sections of sentences ---------------------------------------------------------


def sections(chunks: Sequence[StoredChunk]) -> list[Section]:
    """The article's sections in reading order, each sentence once (chunks overlap)."""
    out: list[Section] = []
    seen: set[str] = set()
    for chunk in sorted(chunks, key=lambda c: int(c.meta("ordinal") or 0)):
        heading, kind = chunk.meta("section"), chunk.meta("kind") or "body"
        if not out or (out[-1].heading, out[-1].kind) != (heading, kind):
            out.append(Section(heading, kind))
            seen = set()
        section = out[-1]
        paragraph = max((s.paragraph for s in section.sentences), default=-1)
        for k, line in enumerate(chunk.text.split("\n")):
            line = line.strip()
            if not line:
                continue
            role: Role = (
                "caption" if is_caption(line) else "attribution" if is_attribution(line) else "text"
            )
            pieces = [line] if role != "text" else split_sentences(line)
            fresh = [p for p in pieces if p not in seen]
            if not fresh:
                continue
            # An overlap repeats the end of the last paragraph: a line that starts with
            # repeated sentences continues it; any other line is a new paragraph.
            if not (k == 0 and len(fresh) < len(pieces)):
                paragraph += 1
            for piece in fresh:
                seen.add(piece)
                section.sentences.append(Sentence(chunk, piece, paragraph, role))
    return out


# -- the map --------------------------------------------------------------------------------------


def extract(chunks: Sequence[StoredChunk], lang: Lang, citer: Citer) -> Extracted:
    """The extractive map of one article (pure: see the module docstring)."""
    parts = sections(chunks)
    published = chunks[0].meta("published") if chunks else None
    products = _products(chunks)
    body = [s for s in parts if s.kind != "disclosure"]
    _charts_to_what_they_show(body)
    headed = [s for s in body if s.heading]

    thesis = None
    steps: list[Step] = []
    counter: list[Point] = []
    for section in body:
        if section.heading is None and headed:
            if thesis is None and (thesis := _thesis(section, citer)) is not None:
                steps.extend(_premise(section, thesis, citer, lang, published))
            continue
        bear = bool(section.heading) and _has(section.heading or "", "markers", "bear_case")
        against = _bear_counterpoints(section, citer) if bear else _worries(section, citer)
        counter.extend(against)
        excluded = {c.quote for p in against for c in p.citations}
        steps.extend(_steps(section, excluded, citer, lang, published, products))

    risks = _risks((s for s in parts if s.kind == "disclosure"), citer)
    return Extracted(thesis, steps, counter, risks)


def _charts_to_what_they_show(body: Sequence[Section]) -> None:
    """A chart that closes a section goes to the next one when it shows what that one says.

    An article places a chart where the page has room, often after the paragraph before the
    one it illustrates ("图:人工智能基本原理:大模型的训练与应用" closes the Jevons paradox's
    section and shows the next one's training and inference). Its caption's character pairs
    decide: shared more with the next section's text than with its own, it moves there (with
    its attribution), opening that section."""
    for here, after in pairwise(body):
        if not after.heading or here.kind != after.kind:
            continue
        tail: list[Sentence] = []
        for sentence in reversed(here.sentences):
            if sentence.role == "text":
                break
            tail.insert(0, sentence)
        captions = [s for s in tail if s.role == "caption"]
        if not captions:
            continue
        pairs = bigrams("".join(s.text for s in captions))
        if _shared(pairs, after) > _shared(pairs, here):
            del here.sentences[len(here.sentences) - len(tail) :]
            first = min((s.paragraph for s in after.sentences), default=0)
            moved = [replace(s, paragraph=first - len(tail) + k) for k, s in enumerate(tail)]
            after.sentences[:0] = moved


def _shared(pairs: frozenset[str], section: Section) -> float:
    """The share of ``pairs`` the section's own text holds."""
    text = "".join(s.text for s in section.sentences if s.role == "text")
    return len(pairs & bigrams(text)) / (len(pairs) or 1)


def counterpoint_notice(
    counterpoints: Sequence[Point], risks: Sequence[Point], lang: Lang
) -> str | None:
    """What the map says plainly when the article argues nothing against its own thesis."""
    if counterpoints:
        return None
    return say(lang, "no_counterpoints" if risks else "no_counterpoints_at_all")


def _products(chunks: Sequence[StoredChunk]) -> list[str]:
    """The names and codes of the products the article's metadata lists."""
    listed = (chunks[0].meta("products") or "") if chunks else ""
    words = [w for item in listed.split("；") for w in item.split() if len(w) >= 4]
    return list(dict.fromkeys(words))


def _quotable(sentences: Iterable[Sentence]) -> list[Sentence]:
    return [s for s in sentences if len(re.sub(r"\W", "", s.text)) >= 6 and quotable(s.text)]


def _thesis(lead: Section, citer: Citer) -> Point | None:
    for sentence in _quotable(lead.sentences):
        drawn = _has(sentence.text, "markers", "consequence")  # drawn, never sold:
        if drawn and _plain(sentence.text) == sentence.text and (text := _statement(sentence.text)):
            return Point(text, [citer.cite(sentence.chunk, sentence.text)])
    return None


def _premise(
    lead: Section, thesis: Point, citer: Citer, lang: Lang, published: str | None
) -> list[Step]:
    """What a thesis drawn as a consequence (因此…) follows from: the lead's first statement
    before it, as the map's first step. "2月6日晚间,DeepSeek暂停了API服务充值" is the event
    the seed article's thesis rests on; without it the map opened on a bare 因此."""
    quote = thesis.citations[0].quote
    before: list[Sentence] = []
    for sentence in _quotable(s for s in lead.sentences if s.role == "text"):
        if sentence.text == quote:
            break
        before.append(sentence)
    else:
        return []
    first = next(
        (s for s in before if _substantial(s.text) and _statement(s.text) and _plain(s.text)), None
    )
    step = _step(None, [first], [], citer, lang, published, None) if first else None
    return [step] if step else []


def _bear_counterpoints(section: Section, citer: Citer) -> list[Point]:
    """What a bear-case section concludes (its 因此… sentences and those that report a worry,
    else its last sentence)."""
    text = _quotable(s for s in section.sentences if s.role == "text")
    chosen = [
        s
        for s in text
        if _has(s.text, "markers", "consequence") or _has(s.text, "markers", "worry")
    ] or text[-1:]
    return [Point(s.text, [citer.cite(s.chunk, s.text)]) for s in chosen]


def _worries(section: Section, citer: Citer) -> list[Point]:
    """The sentences of any other section that report the case against (部分投资者担忧…)."""
    text = _quotable(s for s in section.sentences if s.role == "text")
    chosen = [s for s in text if _has(s.text, "markers", "worry") and _plain(s.text) == s.text]
    return [Point(s.text, [citer.cite(s.chunk, s.text)]) for s in chosen]


def argues(extracted: Extracted) -> bool:
    """Whether the article argues anything: a thesis, a view or forecast among its steps, or a
    counterpoint. A notice (基金经理变更公告) only states facts, and its map says so."""
    return (
        extracted.thesis is not None
        or bool(extracted.counterpoints)
        or any(step.kind in ("view", "forecast") for step in extracted.steps)
    )


def _is_conclusion(paragraph: Sequence[Sentence]) -> bool:
    return bool(paragraph) and any(
        paragraph[0].text.lower().startswith(w) for w in markers("markers", "conclusion")
    )


def _steps(
    section: Section,
    excluded: set[str],
    citer: Citer,
    lang: Lang,
    published: str | None,
    products: Sequence[str],
) -> list[Step]:
    paragraphs = section.paragraphs()
    if not section.heading:  # an article without headings: each paragraph is a step
        return [
            step
            for paragraph in paragraphs
            if (step := _step(None, paragraph, [], citer, lang, published, None))
        ]
    # A summing-up paragraph after the section's first is a step of its own.
    main = [p for k, p in enumerate(paragraphs) if not (k and _is_conclusion(p))]
    wrap_ups = [p for k, p in enumerate(paragraphs) if k and _is_conclusion(p)]
    candidates = [s for p in main for s in p if s.text not in excluded]
    extras = _evidence(section, candidates, products)
    out = []
    if step := _step(
        heading_claim(section.heading), candidates, extras, citer, lang, published, section.heading
    ):
        out.append(step)
    for paragraph in wrap_ups:
        if step := _step(None, paragraph, [], citer, lang, published, section.heading, whole=True):
            out.append(step)
    return out


def _step(
    claim: str | None,
    sentences: Sequence[Sentence],
    extras: Sequence[tuple[Sentence, EvidenceLabel, str]],
    citer: Citer,
    lang: Lang,
    published: str | None,
    section: str | None,
    *,
    whole: bool = False,
) -> Step | None:
    quotable = _quotable(sentences)
    usable = [replace(s, text=text) for s in quotable if (text := _plain(s.text))]
    if not usable:
        return None
    if whole:  # a summing-up paragraph is claimed as written, its sentences up to one that sells
        if len(quotable) != len(sentences):
            return None
        stated = list(takewhile(lambda s: _plain(s.text) == s.text, quotable))
        if not stated:
            return None
        text = "".join(s.text for s in stated)
        chosen, claim = stated[0], text
        quote = text
    elif claim is None:
        chosen = usable[0]
        claim = quote = chosen.text
    else:
        quote = best_quote(claim, "\n".join(s.text for s in usable))
        chosen = next(s for s in usable if s.text == quote)
    citations = [citer.cite(chosen.chunk, quote)]
    evidence: list[Evidence] = []
    for sentence, label, text in extras:
        if quote in (sentence.text, text) or len(evidence) == 3:
            continue
        if all(c.chunk_id != sentence.chunk.chunk_id for c in citations):
            citations.append(citer.cite(sentence.chunk, text))
        evidence.append(Evidence(text, label, citer.number(sentence.chunk)))
    return Step(
        claim=claim,
        kind=classify(claim, quote),
        citations=citations,
        section=section,
        evidence=evidence,
        figures=figure_marks(
            [claim, quote, *(e.text for e in evidence if e.label != "product")], published
        ),
        ask=say(lang, "ask", claim=claim),
    )


def _evidence(
    section: Section, candidates: Sequence[Sentence], products: Sequence[str]
) -> list[tuple[Sentence, EvidenceLabel, str]]:
    """Figures, charts (caption with its attribution) and named products of a section, each as
    the statement it makes (``_plain``)."""
    out: list[tuple[Sentence, EvidenceLabel, str]] = []
    for sentence in _quotable(candidates):
        if (text := _plain(sentence.text)) is None:
            continue
        if any(p in text for p in products):
            out.append((sentence, "product", text))
        elif any(_unit(f.text) for f in find_figures(text)):
            out.append((sentence, "figure", text))
    for caption in (s for s in section.sentences if s.role == "caption"):
        attribution = next(
            (
                s.text
                for s in section.sentences
                if s.role == "attribution" and s.paragraph == caption.paragraph + 1
            ),
            "",
        )
        out.append((caption, "chart", caption.text + attribution))
    order = {id(s): k for k, s in enumerate(section.sentences)}
    return sorted(out, key=lambda item: order.get(id(item[0]), 0))


def _risks(sections: Iterable[Section], citer: Citer) -> list[Point]:
    """One disclosure sentence per risk marker, by the markers' priority, in reading order."""
    words = markers("markers", "risk")
    sentences = [s for section in sections for s in _quotable(section.sentences)]
    chosen: list[int] = []
    for word in words:
        if len(chosen) == setting("risk_limit"):
            break
        hit = next(
            (k for k, s in enumerate(sentences) if word in s.text.lower() and k not in chosen),
            None,
        )
        if hit is not None:
            chosen.append(hit)
    return [
        Point(sentences[k].text, [citer.cite(sentences[k].chunk, sentences[k].text)], "disclosure")
        for k in sorted(chosen)
    ]
