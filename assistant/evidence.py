"""How much a passage supports a question, beyond one cosine: the second look at candidates.

The fused dense + BM25 score ranks passages by topic. Near-duplicates (reposts of one story,
overlapping chunks, a disclosure repeated in every article) share the topic and differ in
whether they hold the answer, and the answer usually sits in one sentence that carries the
question's rarer words. So for each of the best candidates we measure, with the BM25 tokens
and their IDF:

- ``coverage``: the IDF-weighted share of the question's words that occur in the passage;
- ``support``: the same share within the passage's best sentence (with its neighbour, since an
  answer often follows the sentence that names the subject);
- ``entities``: the share of the question's numbers and Latin-script names in the passage
  (fund codes, years, DeepSeek, ETF): the facts an embedding of a short question blurs.

Only words the corpus uses count (a word no passage has cannot tell passages apart).

The answer-or-decline decision reads the question differently (``Wording``, ``reach``): there
a word no passage has is the strongest evidence of all, since a question about something the
corpus never names is not answered by it. So every naming word counts, weighted by its rarity
(a word the corpus lacks weighs most), and it is looked for in the best passages' text itself,
not among their jieba tokens: jieba cuts a name it does not know differently in a question and
in a passage ("李会晟的国籍" against "经济学家李会晟自"). An English question is read as its
terms (``bilingual.terms``), each found when the word or one of its Chinese renderings is in a
passage. A word that names the kind of answer asked for ("代码" in "ETF代码是多少") is held by
a passage holding such an answer (588930: ``questions.stands_in``). Pure functions. A
passage's sentence tokens come from the lexical index, which keeps them from when it was built,
so no question pays for jieba over its candidates; a passage the index does not hold is
tokenized here (cached by its text).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .bilingual import terms
from .lexical import tokenize
from .questions import asks, stands_in
from .text import search_form, split_sentences

_ENTITY = re.compile(r"[A-Za-z][A-Za-z0-9.+-]*[A-Za-z0-9]|\d+(?:\.\d+)?")
_COMMON_LATIN = frozenset(
    [
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "does",
        "do",
        "did",
        "is",
        "are",
        "was",
        "were",
        "the",
        "a",
        "an",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "by",
        "with",
        "as",
        "at",
        "it",
        "its",
        "this",
        "that",
        "from",
        "about",
        "into",
        "than",
        "then",
        "there",
        "their",
        "they",
        "be",
        "been",
        "being",
        "can",
        "could",
        "would",
        "should",
        "will",
        "may",
        "might",
        "must",
        "has",
        "have",
        "had",
        "not",
        "no",
    ]
)


@dataclass(frozen=True)
class Question:
    """The question as the second stage reads it: weighted words and named facts."""

    weights: dict[str, float]  # token → IDF, for the tokens the corpus uses
    entities: frozenset[str]  # numbers and Latin-script words, lower-cased

    @classmethod
    def of(
        cls, searched: str, asked: str, idf: Callable[[str], float], known: Callable[[str], bool]
    ) -> Question:
        weights = {t: idf(t) for t in dict.fromkeys(tokenize(searched)) if known(t)}
        entities = frozenset(
            e.lower() for e in _ENTITY.findall(asked) if e.lower() not in _COMMON_LATIN
        )
        return cls(weights, entities)


@dataclass(frozen=True)
class Evidence:
    coverage: float = 0.0
    support: float = 0.0
    entities: float = 0.0


@lru_cache(maxsize=4096)
def _sentence_tokens(text: str) -> tuple[frozenset[str], ...]:
    return tuple(frozenset(tokenize(s)) for s in split_sentences(text)) or (frozenset(),)


def _share(weights: dict[str, float], tokens: frozenset[str], total: float) -> float:
    return sum(w for t, w in weights.items() if t in tokens) / total


def evidence(
    question: Question, text: str, sentences: Sequence[frozenset[str]] | None = None
) -> Evidence:
    """What ``text`` offers ``question`` (see the module docstring); ``sentences`` are its
    sentences' tokens when the lexical index has them."""
    total = sum(question.weights.values())
    entities = 0.0
    if question.entities:
        lowered = text.lower()
        entities = sum(e in lowered for e in question.entities) / len(question.entities)
    if not total:
        return Evidence(entities=entities)
    sentences = sentences or _sentence_tokens(text)
    whole = frozenset().union(*sentences)
    windows = [a | b for a, b in zip(sentences, [*sentences[1:], frozenset()], strict=True)]
    support = max(_share(question.weights, w, total) for w in windows)
    return Evidence(_share(question.weights, whole, total), support, entities)


# -- what the answer-or-decline decision reads -------------------------------------------------

READ = 3  # the best passages whose text the decision reads
STRONG = 0.75  # a naming word this rare (IDF over the highest) is one the answer must hold
_LETTERS = re.compile(r"[\u3400-\u9fffA-Za-z0-9]+")


@dataclass(frozen=True)
class Wording:
    """The question as the decision reads it (module docstring)."""

    words: dict[str, float]  # naming token → IDF over the corpus's highest (unknown words: 1)
    terms: tuple[tuple[str, ...], ...]  # English terms: the word, then its Chinese renderings
    known: float  # share of the question the corpus knows at all (words, or terms if English)
    letters: str = ""  # a Chinese question's characters, punctuation and spaces left out
    # The words naming the kind of answer asked for, and what a text holding one matches.
    named: frozenset[str] = frozenset()
    kind: re.Pattern[str] | None = None

    def held(self, word: str, text: str) -> bool:
        """Whether ``text`` holds ``word``, or the kind of answer it names (``stands_in``)."""
        return word in text or (
            word in self.named and self.kind is not None and bool(self.kind.search(text))
        )

    @classmethod
    def of(
        cls,
        searched: str,
        asked: str,
        chinese: bool,
        idf: Callable[[str], float],
        frequency: Callable[[str], int],
        top_idf: float,
    ) -> Wording:
        """``searched`` is what BM25 searched (an English question with its renderings);
        ``frequency`` a token's document frequency; ``top_idf`` the IDF of a word no chunk has."""
        tokens = [t for t in dict.fromkeys(tokenize(searched)) if not asks(t)]
        if not chinese:  # the English words themselves count through ``terms`` only
            tokens = [t for t in tokens if not t.isascii() or frequency(t)]
        words = {t: idf(t) / (top_idf or 1.0) for t in tokens}
        named, kind = stands_in(asked) or (frozenset(), None)
        if chinese:
            total = sum(words.values())
            known = sum(w for t, w in words.items() if frequency(t)) / total if total else 0.0
            letters = "".join(_LETTERS.findall(asked.lower()))
            return cls(words, (), known, letters, named, kind)

        def used(word: str) -> bool:
            parts = tokenize(word)
            return bool(parts) and all(frequency(t) for t in parts)

        found = tuple(
            (term, *chinese_words)
            for term, chinese_words in terms(asked, used)
            if term not in _COMMON_LATIN
        )
        known = sum(len(t) > 1 or used(t[0]) for t in found) / len(found) if found else 0.0
        return cls(words, found, known, "", named, kind)


@dataclass(frozen=True)
class Reach:
    """How far the best passages reach the question's words (``reach``)."""

    cover: float = 0.0  # weighted share of its words in one passage's text (the best of them)
    support: float = 0.0  # the same in one sentence and the next (the best of them)
    missing: float = 1.0  # weight of the rarest word a passage lacks (the least of them)
    known: float = 0.0  # ``Wording.known``
    found: float = 0.0  # share of its terms (English) or words (else) some passage holds
    run: int = 0  # longest stretch of a Chinese question's characters found in one passage
    run_share: float = 0.0  # the same, over the question's length
    lacking: int = 0  # rare naming words (``STRONG``) a passage lacks (the least of them)
    lacking_best: int = 0  # the same in the best passage
    rarest: float = 0.0  # 1 when the question's rarest word is in one of the passages


def _longest_run(letters: str, text: str) -> int:
    """The longest stretch of ``letters`` that occurs in ``text`` as it is."""
    best = 0
    for start in range(len(letters)):
        while start + best < len(letters) and letters[start : start + best + 1] in text:
            best += 1
    return best


def reach(wording: Wording, texts: Sequence[str]) -> Reach:
    """What the ``texts`` (the best passages, best first) hold of ``wording``."""
    passages = [search_form(t).lower() for t in texts[:READ]]
    if not passages:
        return Reach(known=wording.known)
    words = wording.words
    total = sum(words.values()) or 1.0

    held = wording.held

    def share(text: str) -> float:
        return sum(w for t, w in words.items() if held(t, text)) / total

    cover = support = found = 0.0
    missing = 1.0
    for text in passages:
        cover = max(cover, share(text))
        sentences = split_sentences(text) or [text]
        pairs = [a + b for a, b in zip(sentences, [*sentences[1:], ""], strict=True)]
        support = max(support, *(share(pair) for pair in pairs))
        missing = min(missing, max((w for t, w in words.items() if not held(t, text)), default=0.0))
    if wording.terms:
        found = sum(any(held(f, p) for f in t for p in passages) for t in wording.terms)
        found /= len(wording.terms)
    else:
        found = cover
    # A question about something the passages only touch on (a topic the corpus shares, not
    # the thing named) shares scattered words with them, not a stretch of its own wording,
    # and lacks one of its rare words in every passage (tune halves, docs/measurements.md "Fourth pass").
    run = max(_longest_run(wording.letters, text) for text in passages)
    strong = [t for t, w in words.items() if w >= STRONG]
    lacking = [sum(not held(t, text) for t in strong) for text in passages]
    rarest = max(words, key=lambda t: words[t]) if words else None
    return Reach(
        cover,
        support,
        missing,
        wording.known,
        found,
        run,
        run / max(1, len(wording.letters)),
        min(lacking),
        lacking[0],
        float(rarest is not None and any(held(rarest, text) for text in passages)),
    )
