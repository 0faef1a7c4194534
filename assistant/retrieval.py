"""Hybrid retrieval: dense (e5 in Chroma) and lexical (BM25 over jieba), fused by score.

Each side's candidate scores are standardised (z-scores within the question's candidates),
then mixed: ``(1 - a) * dense + a * lexical`` with ``a = 0.5 × coverage``, where coverage is
the IDF-weighted share of the question's tokens that occur in the corpus at all.

Why not plain reciprocal-rank fusion: ranks throw away how sure each side is. Measured on
1,000 CMRC questions, RRF gave hit@1 0.968 against 0.984 for this fusion. And an English
question over Chinese text gives BM25 almost nothing to match, so its ranking is noise; with
coverage near zero the lexical side drops out and the question ranks as dense alone would
(cross-lingual XQuAD hit@1: dense 0.733, this fusion 0.733, coverage-weighted RRF 0.698).
A Chinese question gets the full mix; an English one that names things the corpus contains
verbatim (DeepSeek, 588930, ETF) gets a little of it.

A second stage (``evidence``) looks again at the best fused candidates: how much of the
question's rarer vocabulary a passage holds, in one sentence and overall, and its numbers and
names. Near-copies (overlapping chunks, the same passage in two articles, reposts) are skipped
after it, so of two near-copies the one with more evidence is kept and the chosen chunks say
different things. An English question's names that no dictionary renders count too, found in a
passage by their sound (``transliteration``: 特斯拉 for Tesla). The same evidence feeds the
answer-or-decline decision (``relevant``), with what the best passages' text holds of every
naming word of the question (``evidence.reach``). The
constants live in ``resources/retrieval.toml``, fitted by ``bench/quality.py`` on one half of
every question set.
"""

from __future__ import annotations

import copy
import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from .bilingual import renderings
from .embeddings import Embedder, VectorCache
from .evidence import Evidence, Question, Reach, Wording, evidence, reach
from .lexical import tokenize
from .store import ChunkReader, StoredChunk
from .text import is_chinese, near_duplicate, normal_form, search_form, to_simplified
from .transliteration import names, share

_DATA = Path(__file__).parent / "resources"
# Sentence vectors kept for the offline answer's sense of a sentence (``likeness``): about 30 MB.
SENTENCES = 20_000


@cache
def tuning() -> dict[str, dict[str, Any]]:
    """The tuned constants (``resources/retrieval.toml``: how and on what they were tuned)."""
    with (_DATA / "retrieval.toml").open("rb") as handle:
        loaded: dict[str, dict[str, Any]] = tomllib.load(handle)
    return loaded


@dataclass(frozen=True)
class Hit:
    chunk: StoredChunk
    score: float  # final score (higher is better; comparable within one query only)
    dense: float  # cosine similarity of the question to the chunk (0 when not a dense candidate)
    lexical: float  # BM25 score (0 when not a lexical candidate)
    evidence: Evidence = field(default_factory=Evidence)  # the second stage's measurements
    names: float = 0.0  # share of an English question's unrendered names it holds (by sound)


@dataclass(frozen=True, order=True)
class Verdict:
    """The answer-or-decline decision's score for one question, and the cuts it is read at."""

    score: float
    online_cut: float = 0.5
    sure_cut: float = 0.5
    # Some word or term of the question is in a passage: without one, only the cosine speaks
    # for the passages, and the score extrapolates ("How do I set up a Python virtual
    # environment?" scored 0.92 against the seed article with no word of it there).
    grounded: bool = True

    @property
    def answers(self) -> bool:
        """The passages answer it: excerpts may be shown without a model reading them."""
        return self.score >= 0.5

    @property
    def sure(self) -> bool:
        """They answer it for sure: excerpts need no note that they may not."""
        return self.grounded and self.score >= max(0.5, self.sure_cut)

    @property
    def for_model(self) -> bool:
        """Not clearly off-topic: a model reading the passages may answer, or decline."""
        return self.score >= min(0.5, self.online_cut)


def standardise(pairs: Sequence[tuple[str, float]]) -> dict[str, float]:
    """Scores as z-scores within this candidate list (a list of one scores 0)."""
    if not pairs:
        return {}
    values = [score for _, score in pairs]
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) or 1.0
    return {chunk_id: (score - mean) / spread for chunk_id, score in pairs}


def fuse(
    dense: Sequence[tuple[str, float]], lexical: Sequence[tuple[str, float]], share: float
) -> dict[str, float]:
    """``(1 - share) * dense + share * lexical`` on standardised scores.

    A candidate only one side returned ranks below everything that side returned (it fell
    outside that side's top list): half a standard deviation under its lowest score.
    """
    dz, lz = standardise(dense), standardise(lexical)
    floor_d = min(dz.values(), default=0.0) - 0.5
    floor_l = min(lz.values(), default=0.0) - 0.5
    share = share if lz else 0.0
    return {
        chunk_id: (1 - share) * dz.get(chunk_id, floor_d) + share * lz.get(chunk_id, floor_l)
        for chunk_id in dz.keys() | lz.keys()
    }


def second_stage(fused: float, found: Evidence, weights: dict[str, float]) -> float:
    """The fused score plus what the passage's sentences, words and named facts add."""
    return (
        fused
        + weights["coverage"] * found.coverage
        + weights["support"] * found.support
        + weights["entities"] * found.entities
    )


def _in_chinese(query: str, translation: str | None, known: Callable[[str], bool]) -> str:
    """The translation if any; else the question in simplified characters, followed, when it
    is not Chinese, by the glossary's renderings and the dictionary's that ``known`` accepts."""
    if translation:
        return search_form(translation)
    query = search_form(query)
    if is_chinese(query):
        return query
    return f"{query} {' '.join(renderings(query, known))}".strip()


DECISION = (
    "dense", "support", "coverage", "entities", "corpus", "margin", "known", "gap",
    "reach", "reach_support", "missing", "corpus_terms", "found",
    "run_share", "lacking_best", "rarest", "dense_margin", "run", "lacking",
)  # fmt: skip


def decision_features(
    top: Evidence,
    scores: Sequence[float],
    dense: Sequence[float],
    floor: float,
    corpus: float,
    reached: Reach,
) -> dict[str, float]:
    """What the answer-or-decline decision weighs (``Retriever.relevant``), from the best
    passage's evidence, the hits' final and dense scores (best first), the language's cosine
    floor, the question's corpus coverage (``lexical_weight``) and the best passages' reach."""
    margin = scores[0] - scores[1] if len(scores) > 1 else 1.0
    best = max(dense)
    cosines = sorted(dense, reverse=True)
    return {
        "dense": best - floor,
        "support": top.support,
        "coverage": top.coverage,
        "entities": top.entities,
        "corpus": corpus,
        "margin": min(margin, 2.0),
        "known": top.coverage * corpus,  # the question's words in the passage, of all of them
        "gap": best - float(np.median(dense)),  # how far the best cosine stands out
        "reach": reached.cover,  # every naming word, in the passages' text (``evidence.reach``)
        "reach_support": reached.support,
        "missing": reached.missing,  # the rarest word the best-reaching passage lacks
        "corpus_terms": reached.known,  # how much of the question the corpus knows at all
        "found": reached.found,  # an English question's terms found in a passage
        "run_share": reached.run_share,  # its own wording, not scattered words, in a passage
        "lacking_best": float(reached.lacking_best),  # rare words the best passage lacks
        "rarest": reached.rarest,  # its rarest word in a passage
        "dense_margin": cosines[0] - cosines[1] if len(cosines) > 1 else 0.0,
        "run": float(reached.run),
        "lacking": float(reached.lacking),
    }


def decision_score(features: dict[str, float], weights: dict[str, Any]) -> float:
    """The decision's logit: a bias, a weight per feature and one per pair of features (the
    upper triangle of their products, row by row, squares included): a word missing weighs
    differently when the cosine stands out than when it does not. A language's model reads the
    features its table names (``features``, of ``DECISION``), in that order."""
    linear = np.asarray(weights["linear"])
    x = np.array([features[k] for k in weights["features"]])
    rows, cols = _pairs(len(x))
    pairs = np.asarray(weights["pairs"])
    return float(weights["bias"] + linear @ x + pairs @ (x[rows] * x[cols]))


@cache
def _pairs(n: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.triu_indices(n)
    return rows, cols


def _logistic(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


class Retriever:
    def __init__(self, store: ChunkReader, embedder: Embedder, *, candidates: int = 30) -> None:
        self.store = store
        self.embedder = embedder
        self.candidates = candidates
        # What BM25 searches for, by question: only in a view (``on``), whose store is one
        # snapshot that never changes; search and the decision read it about ten times.
        self._searched: dict[tuple[str, str | None], str] | None = None
        # The passages' sentences the offline answer weighed, by text (every view shares them).
        self.sentences = VectorCache(SENTENCES)

    def on(self, store: ChunkReader) -> Retriever:
        """This retriever reading ``store`` instead (a question's snapshot of the store)."""
        view = copy.copy(self)
        view.store = store
        view._searched = {}
        return view

    def query_vector(self, text: str) -> list[float]:
        """The e5 query vector; a non-Chinese question is moved by the embedder's language shift."""
        text = normal_form(text)  # look-alikes typed or pasted match the stored text
        vector = self.embedder.embed_query(text)
        shift = self.embedder.query_shift
        if shift is None or is_chinese(text):
            return vector
        moved = np.asarray(vector, dtype=np.float32) + shift
        unit: list[float] = (moved / np.linalg.norm(moved)).tolist()
        return unit

    def likeness(self, question: str) -> Callable[[Sequence[str]], list[float]]:
        """The cosine of each of a list of sentences with ``question``, by e5 (its query vector,
        as search uses it; each sentence as a passage, embedded once and kept): what the
        offline answer knows of a sentence's sense beside its words, which an English question
        shares none of with a Chinese sentence."""
        asked = np.asarray(self.query_vector(self.dense_text(question)), dtype=np.float32)

        def cosines(sentences: Sequence[str]) -> list[float]:
            distinct = list(dict.fromkeys(sentences))
            found = {s: v for s in distinct if (v := self.sentences.array(s)) is not None}
            missing = [s for s in distinct if s not in found]
            for text, vector in zip(
                missing, self.embedder.embed_batch(missing, is_query=False), strict=True
            ):
                self.sentences.put(text, vector)
                found[text] = np.asarray(vector, dtype=np.float32)
            return [float(found[s] @ asked) for s in sentences]

        return cosines

    def known(self, word: str) -> bool:
        """Whether the corpus uses ``word`` (every BM25 token of it occurs in some chunk)."""
        index = self.store.lexical()
        tokens = tokenize(word)
        return bool(tokens) and all(index.document_frequency(t) for t in tokens)

    def lexical_weight(self, query: str) -> float:
        """How far BM25 can be trusted for this query: IDF-weighted share of known tokens."""
        tokens = tokenize(query)
        index = self.store.lexical()
        if not tokens or not index.ids:
            return 0.0
        known = total = 0.0
        for token in tokens:
            weight = index.idf(token)
            total += weight
            known += weight if index.document_frequency(token) else 0.0
        return known / total if total else 0.0

    def question(self, query: str, lexical_query: str | None = None) -> Question:
        """The question's weighted words and named facts, as the second stage reads them."""
        index = self.store.lexical()
        return Question.of(
            self.searched_text(query, lexical_query),
            query,
            index.idf,
            lambda token: index.document_frequency(token) > 0,
        )

    def searched_text(self, query: str, lexical_query: str | None = None) -> str:
        """What BM25 searches for: the model's translation when there is one; else the question
        in simplified characters, with Chinese renderings of its words when it is not Chinese
        (``bilingual``: the domain glossary, then CC-CEDICT words the corpus uses)."""
        if self._searched is None:
            return _in_chinese(query, lexical_query, self.known)
        key = (query, lexical_query)
        if key not in self._searched:
            self._searched[key] = _in_chinese(query, lexical_query, self.known)
        return self._searched[key]

    @staticmethod
    def dense_text(query: str, lexical_query: str | None = None) -> str:
        """What e5 embeds: the translation, or the simplified question with the glossary's
        terms (the dictionary's many renderings blur a short question's vector)."""
        return _in_chinese(query, lexical_query, lambda word: False)

    def relevant(
        self,
        query: str,
        hits: list[Hit],
        *,
        floor: float,
        floor_other: float,
        strict: bool = True,
    ) -> bool:
        """Whether the hits answer the question at all, or are merely the least unrelated
        (``verdict``). ``strict=False`` is for a model that reads the passages and can still
        say they do not cover the question: only what is clearly off-topic is refused."""
        verdict = self.verdict(query, hits, floor=floor, floor_other=floor_other)
        return verdict.answers if strict else verdict.for_model

    def verdict(self, query: str, hits: list[Hit], *, floor: float, floor_other: float) -> Verdict:
        """How surely the hits answer the question.

        One cosine is not enough: e5's scores sit in a narrow band whose level depends on the
        language pair and the question's length. The decision weighs the best cosine (less
        the language's floor) with what the second stage measured on the best passage: how
        much of the question's rarer vocabulary it covers, in one sentence and overall, its
        named facts, how much of the question the corpus knows at all, and the margin to the
        next passage. The weights (``resources/retrieval.toml``) were fitted on half of each
        answerable and unanswerable set; the README reports the other half.
        """
        weights = tuning()["decision_zh" if is_chinese(to_simplified(query)) else "decision_other"]
        score, features = self._decision(query, hits, floor=floor, floor_other=floor_other)
        return Verdict(
            score, weights["online_cut"], weights["sure_cut"], grounded=features["found"] > 0
        )

    def relevance(self, query: str, hits: list[Hit], *, floor: float, floor_other: float) -> float:
        """The probability-like score a ``Verdict`` reads."""
        return self._decision(query, hits, floor=floor, floor_other=floor_other)[0]

    def _decision(
        self, query: str, hits: list[Hit], *, floor: float, floor_other: float
    ) -> tuple[float, dict[str, float]]:
        if not hits:
            return 0.0, {"found": 0.0}
        chinese = is_chinese(to_simplified(query))
        weights = tuning()["decision_zh" if chinese else "decision_other"]
        features = decision_features(
            hits[0].evidence,
            [hit.score for hit in hits],
            [hit.dense for hit in hits],
            floor if chinese else floor_other,
            self.lexical_weight(self.searched_text(query)),
            reach(self.wording(query), [hit.chunk.text for hit in hits]),
        )
        return _logistic(decision_score(features, weights)), features

    def wording(self, query: str) -> Wording:
        """The question as the answer-or-decline decision reads it (``evidence.Wording``)."""
        index = self.store.lexical()
        return Wording.of(
            self.searched_text(query),
            search_form(query),
            is_chinese(to_simplified(query)),
            index.idf,
            index.document_frequency,
            index.idf(""),  # the IDF of a word no chunk has
        )

    def search(self, query: str, k: int = 5, *, lexical_query: str | None = None) -> list[Hit]:
        """The ``k`` best chunks for ``query``, best first, without near-copies.

        ``lexical_query`` is a version of the question in the corpus's language (a model's
        translation); both sides search with it. The best fused candidates then get a second
        look (``evidence``): the one whose sentences hold the question's words and facts
        comes first, and of near-copies the one with more evidence is kept.
        """
        n = max(self.candidates, k * 3)
        lexical_text = self.searched_text(query, lexical_query)
        dense = self.store.dense_search(self.query_vector(self.dense_text(query, lexical_query)), n)
        lexical = self.store.lexical().search(lexical_text, n)
        weight = self.lexical_weight(lexical_text) if lexical else 0.0

        settings = tuning()
        fused = fuse(dense, lexical, settings["fusion"]["lexical_share"] * weight)
        dense_score = dict(dense)
        lexical_score = dict(lexical)
        order = sorted(fused, key=lambda cid: (-fused[cid], -dense_score.get(cid, 0.0)))

        depth = max(int(settings["second_stage"]["depth"]), k * 3)
        chinese = is_chinese(lexical_text)
        weights = settings["second_stage_zh" if chinese else "second_stage_other"]
        question = self.question(query, lexical_query)
        # An English question's names the dictionary lacks, met by their sound (特斯拉: Tesla).
        named = [] if chinese else names(search_form(query), self.known)
        by_name = settings["second_stage_names"]["other"] if named else 0.0
        index = self.store.lexical()
        scored = []
        for chunk in self.store.get(order[:depth]):
            found = evidence(question, chunk.text, index.sentences(chunk.chunk_id))
            held = share(named, chunk.text) if named else 0.0
            score = second_stage(fused[chunk.chunk_id], found, weights) + by_name * held
            scored.append(
                Hit(
                    chunk,
                    score,
                    dense_score.get(chunk.chunk_id, 0.0),
                    lexical_score.get(chunk.chunk_id, 0.0),
                    found,
                    held,
                )
            )
        scored.sort(key=lambda hit: -hit.score)

        chosen: list[Hit] = []
        for hit in scored:
            if any(near_duplicate(hit.chunk.text, other.chunk.text) for other in chosen):
                continue
            chosen.append(hit)
            if len(chosen) == k:
                break
        return chosen
