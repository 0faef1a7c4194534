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

Only words the corpus uses count (a word no passage has cannot tell passages apart). Pure
functions. A passage's sentence tokens come from the lexical index, which keeps them from when
it was built, so no question pays for jieba over its candidates; a passage the index does not
hold is tokenized here (cached by its text).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from .lexical import tokenize
from .text import split_sentences

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
