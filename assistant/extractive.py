"""The offline answer: the sentences of the retrieved chunks that best answer the question.

Used without an API key and whenever the model fails. Sentences are scored by the weighted
question words they contain (the same jieba tokens BM25 uses, less the words that ask, such as
哪一年 or 谁: ``questions.asks``), with a prior for the chunk's retrieval rank, and by their
sense: e5's cosine between the sentence and the question, which an English question over
Chinese text (no shared words but its dictionary renderings) leans on most. A word's weight is
its corpus IDF scaled by how rare it is among the sentences looked at: the article's subject,
named in every sentence, does not crowd out the one sentence with the question's other words.
A sentence holding the kind of answer asked for (a date, a figure with its unit, a cause:
``questions.answer_type``) or the words beside the question's wh-word gains a little. A
sentence that points back ("该法令…") is read with the one before it, which names what it
points at. Sentences that may not be shown (see ``quotable``), alone or in their
passage, are skipped.
Near-copies from overlapping chunks are skipped. The best sentence is quoted first, so a
reader meets the answer before its context; the others follow in reading order. A sentence that ends by selling the product ("…权重85%,或是把握…的有力工具") is
quoted up to that clause (``compliance.unsold``): a pitch answers no question.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from .citations import without_marks
from .compliance import asks_to_change_rules, blocked_sentences, check_text, unsold
from .documents import is_attribution
from .lexical import tokenize
from .questions import answer_type, asks, beside_wh
from .text import bigrams, near_duplicate, search_form, sentence_spans

if TYPE_CHECKING:  # a type only: no store behind the text work
    from .retrieval import Hit

# A short sentence can be the whole answer ("藩厅是尼崎城。", "前上颌骨齿2枚。").
_MIN_CHARS = 6
# Tuned on the tune halves of CMRC and XQuAD-zh (bench/quality.py --answers). Once words are
# weighted by their rarity among the sentences, the best sentences wherever they are beat
# quoting the best one's neighbour and one sentence per chunk (SPREAD, NEIGHBOUR, KEEP).
# Sentences an investor's offline answer quotes: four held a gold answer for more tune-half
# questions than three (XQuAD-zh 0.919 → 0.936, CMRC 0.913 → 0.915), at 234 characters, not 178.
LIMIT = 4
PRIOR = 0.3
SPREAD = False
KEEP = 0.0
NEIGHBOUR = False
TYPED = 0.1  # added for holding the answer type asked for
BESIDE = 0.4  # × the share of the character pairs beside the wh-word held
FOCUS = 1.5  # exponent of the within-sentences rarity that scales each word's IDF
# A question word of two characters or more counts as held when the sentence's text holds it,
# not only its jieba tokens: jieba cuts a name it does not know one way in the question and
# another in the passage ("李会晟的国籍" against "经济学家李会晟自").
AS_TEXT = True
# Every sentence of a chunk holds the words of the chunk's first sentence: an encyclopedia names
# its subject once ("黑尾前肛鳗，为…") and then says 本鱼, 牠们, 该地区, so the opening sentence
# no longer wins on the subject's name alone and the one with the asked-for detail comes first.
INHERIT = True
POSITION = 0.01  # taken off per sentence into the chunk
# × the sentence's e5 cosine with the question (``Retriever.likeness``): its sense beside its
# words. Chosen on the tune halves (bench/quality.py --answers, 0 to 32): XQuAD's English
# questions 0.782 → 0.860 of answers holding the gold, XQuAD-zh 0.936 → 0.945, CMRC 0.915 → 0.925.
MEANING = 8.0
# A sentence that opens by pointing back ("该法令废止了…", "这些设备有时被用来…", "这被称为抗原
# 变异") is read with the sentence before it, each holding the other's words: the name asked for
# sits in one ("枫丹白露法令", "氧气室") and the question's words in the other (sixth pass, tune
# halves: XQuAD-zh 0.908 → 0.914, CMRC 0.909 → 0.911). 此外, 其他 and the like do not point back.
ANTECEDENT = True
_POINTS_BACK = re.compile(
    r"^[\s“”\"'「（(]*(?!此外|其他|其它|其实|其余|那么)(?:该|这|此|其|它|他|她|上述|那)"
)
# × the share of the question's character pairs (less those beside the wh-word) a sentence
# holds: a paraphrase keeps characters where jieba's words differ (击败 / 打败 share 败).
PAIRS = 0.3


@dataclass(frozen=True)
class Excerpt:
    source: int  # 1-based position of the hit the sentence comes from
    position: int  # sentence index within that chunk
    text: str
    score: float


def select_sentences(
    question: str,
    hits: Sequence[Hit],
    idf: Callable[[str], float],
    *,
    limit: int = LIMIT,
    chunks: int = 3,
    prior: float = PRIOR,
    spread: bool = SPREAD,
    keep: float = KEEP,
    neighbour: bool = NEIGHBOUR,
    typed: float = TYPED,
    beside: float = BESIDE,
    focus: float = FOCUS,
    as_text: bool = AS_TEXT,
    inherit: bool = INHERIT,
    pairs: float = PAIRS,
    antecedent: bool = ANTECEDENT,
    likeness: Callable[[Sequence[str]], list[float]] | None = None,
    meaning: float = MEANING,
) -> list[Excerpt]:
    """Up to ``limit`` excerpts from the first ``chunks`` hits: the best first, then the
    others in reading order.

    ``question`` is the text searched (for an English question, with its Chinese renderings).
    Each sentence scores the weighted share of the question's words it holds (IDF ×
    rarity among these sentences to the power ``focus``), plus ``typed`` when it holds the
    answer type asked for, ``beside`` × its share of the pairs beside the wh-word, ``pairs`` ×
    its share of the question's other character pairs, and ``prior / rank`` of its chunk, less
    a little for lateness in the chunk, and ``meaning`` × its e5 cosine with the question
    (``likeness`` gives the cosines of a list of sentences). With ``inherit`` a sentence also
    holds the words of its chunk's first sentence (the subject an encyclopedia names once); with
    ``antecedent`` a sentence opening with 该, 这, 它… and the one before it hold each other's
    words. With ``spread``
    the best sentence of each chunk is taken before a second one from any chunk; sentences
    under ``keep`` × the best score are padding, not evidence. With ``neighbour`` the sentence
    after the best one comes next: an answer often follows the sentence that names its subject.
    """
    wanted = frozenset(token for token in tokenize(question) if not asks(token))
    charts = bool(_ABOUT_CHARTS.search(question))
    kind = answer_type(question)
    sources = (kind is not None and kind.name == "source") or bool(_ABOUT_SOURCES.search(question))
    near = beside_wh(question)
    # (hit rank, position, sentence, the question's words in it, its character pairs)
    sentences: list[tuple[int, int, str, frozenset[str], frozenset[str]]] = []
    for n, hit in enumerate(hits[:chunks], start=1):
        masked = _masked(hit.chunk.text)
        for position, (start, end) in enumerate(sentence_spans(hit.chunk.text)):
            # a source's footnote marks are not ours; a clause that sells is no answer's evidence
            sentence = unsold(without_marks(hit.chunk.text[start:end]).strip())
            if len(re.sub(r"\W", "", sentence)) < _MIN_CHARS or start in masked:
                continue
            if not quotable(sentence) or (not charts and _CAPTION.match(sentence)):
                continue
            if not sources and is_attribution(sentence):  # "(信息来源:德邦证券)" answers "whose?"
                continue
            if _LEAD_IN.search(sentence) or _SIGNPOST.match(sentence):  # only says what follows
                continue
            own = wanted.intersection(tokenize(sentence))
            if as_text:
                plain = search_form(sentence).lower()
                own |= {t for t in wanted if len(t) > 1 and t in plain}
            sentences.append((n, position, sentence, own, bigrams(sentence)))
    if inherit:
        opening: dict[int, frozenset[str]] = {}
        for n, _, _, own, _ in sentences:
            opening.setdefault(n, own)
        sentences = [(n, at, text, own | opening[n], ps) for n, at, text, own, ps in sentences]
    if antecedent:
        linked = [own for _, _, _, own, _ in sentences]
        for i, (here, then) in enumerate(itertools.pairwise(sentences)):
            if then[:2] == (here[0], here[1] + 1) and _POINTS_BACK.match(then[2]):
                linked[i] |= then[3]  # the next sentence of the same chunk points back here
                linked[i + 1] |= here[3]
        sentences = [
            (n, at, text, own, ps)
            for (n, at, text, _, ps), own in zip(sentences, linked, strict=True)
        ]
    # A word in every sentence (the article's subject) tells them apart less than a word in
    # one: each word's corpus IDF is scaled by its rarity among the sentences looked at.
    count = len(sentences)

    def local(seen: int) -> float:
        return math.log((count + 1) / (seen + 0.5)) ** focus if focus else 1.0

    weights = {t: idf(t) * local(sum(t in s[3] for s in sentences)) for t in wanted}
    total = sum(weights.values()) or 1.0
    asked_pairs = bigrams(question) - near if pairs else frozenset()
    sense = likeness([s[2] for s in sentences]) if likeness and meaning and sentences else None
    candidates: list[Excerpt] = []
    for i, (n, position, sentence, own, own_pairs) in enumerate(sentences):
        score = sum(weights[t] for t in own) / total + prior / n - POSITION * position
        if sense is not None:
            score += meaning * sense[i]
        if asked_pairs:
            score += pairs * len(asked_pairs & own_pairs) / len(asked_pairs)
        if kind is not None and kind.sentence.search(sentence):
            score += typed
        if near:
            score += beside * len(near & own_pairs) / len(near)
        candidates.append(Excerpt(n, position, sentence, score))

    chosen: list[Excerpt] = []
    ranked = sorted(candidates, key=lambda e: -e.score)
    if ranked:
        best = ranked[0]
        ranked = [e for e in ranked if e.score >= keep * best.score]
        after = [
            e for e in candidates if (e.source, e.position) == (best.source, best.position + 1)
        ]
        if neighbour and after and limit > 1:
            chosen = [best, after[0]]
    for per_chunk in (1, limit) if spread else (limit,):
        for excerpt in ranked:
            if len(chosen) == limit:
                break
            if excerpt in chosen or sum(c.source == excerpt.source for c in chosen) >= per_chunk:
                continue
            if any(near_duplicate(excerpt.text, other.text, 0.8) for other in chosen):
                continue
            chosen.append(excerpt)
    # The best sentence first, the rest in reading order: in reading order the first quoted
    # sentence held a gold answer for 0.40 of the held CMRC and XQuAD-zh questions, 0.32 of the
    # English ones; best first, 0.81, 0.81 and 0.70 (the gold anywhere: 0.94, 0.96, 0.90).
    return chosen[:1] + sorted(chosen[1:], key=lambda e: (e.source, e.position))


# A chart's caption names what the chart shows, in the words of the question that asks for its
# figures ("图:2020-2024年全球IT支出情况"), and answers nothing: quoted only when a chart is asked about.
_CAPTION = re.compile(
    r"(?:图表?|表)\s*[0-9一二三四五六七八九十]*\s*[:：]|(?:figure|fig\.|chart|table|exhibit)\s*\d*\s*[:.：]",
    re.IGNORECASE,
)
# A sentence that only announces the list after it. Not every sentence ending in a colon: "1998年，
# 他发表声明：" holds its year (on the tune halves, dropping them all cost three gold answers).
_LEAD_IN = re.compile(
    r"(?:如下|以下|下列|the following|as follows)[^。.!?！？]{0,12}[:：]$", re.IGNORECASE
)
# A line that only names where a passage comes from ((信息来源:德邦证券)) answers "whose figures?",
# and nothing else.
_ABOUT_SOURCES = re.compile(r"来源|出处|出自|\bsources?\b|\baccording to\b", re.IGNORECASE)
# A sentence in which the article announces what it does next ("本文为大家一一梳理。").
_SIGNPOST = re.compile(
    r"^(?:本文|下文|下面|接下来|以下)[^。！？!?]{0,10}(?:梳理|分析|介绍|解读|探讨|说明|回顾)(?:一下|一番)?[。.！!]?$"
    r"|^(?:in )?this (?:article|piece|note) (?:will )?(?:reviews?|explains?|discuss(?:es)?|looks? at)\b[^.]{0,20}\.?$",
    re.IGNORECASE,
)
_ABOUT_CHARTS = re.compile(r"图|表格|\b(?:charts?|figures?|graphs?|tables?)\b", re.IGNORECASE)


@lru_cache(maxsize=4096)
def quotable(sentence: str) -> bool:
    """Whether a source sentence may be quoted to an investor.

    A quote is still something shown: a source sentence that breaks a marketing rule, or that
    reads as an instruction to the assistant (a poisoned document), is never excerpted. Cached:
    the same chunks come back question after question, and the rules and the model are fixed
    for the process.
    """
    if any(f.severity == "block" for f in check_text(sentence)):
        return False
    return not asks_to_change_rules(sentence)


@lru_cache(maxsize=1024)
def _masked(text: str) -> frozenset[int]:
    """Where the sentences of a passage that the sources panel masks start (``mask_blocked``):
    a quote never shows what the passage beside it hides. A sentence is judged there with its
    neighbours (a superlative beside a fund's name), and alone by ``quotable`` (a conditional
    claim without the source its neighbour gives): a quote must pass both."""
    return frozenset(start for start, _ in blocked_sentences(text))


def render(excerpts: Sequence[Excerpt]) -> tuple[str, list[int]]:
    """The excerpts as quoted lines, each followed by its marker, numbered 1, 2… in order of
    first use; and, for each number, the hit (1-based) it stands for.

    The markers are built here, from the excerpts, never parsed back out of the text: the
    quoted sentences are source text, which may hold bracketed numbers of its own.
    """
    numbers: dict[int, int] = {}
    for excerpt in excerpts:
        numbers.setdefault(excerpt.source, len(numbers) + 1)
    text = "\n".join(f"“{e.text}”[{numbers[e.source]}]" for e in excerpts)
    return text, list(numbers)
