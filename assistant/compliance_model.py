"""A meaning-level check beside the rules: one logistic regression per category.

The rules are phrase lists; on sentences written by people who had not read them they catch
0.55–0.75 of the violations, because a new wording of a promise ("the downside is covered by our
firm") shares no phrase with the listed ones. This model scores a sentence on what it is made of
instead: character 1–3-grams of its Chinese, word 1–2-grams (and 5-letter stems) of its English,
and a few structural facts (a figure, a named source, a period, a benchmark, a negation, a future,
a first or second person, a promise word). Those last are what separate "returned 12% against
9.8% for its benchmark (source: annual report)" from "returned 42% last year!".

It is cheap on purpose: every streamed sentence of every answer passes through it. Features are
strings looked up in a vocabulary (only what the training sentences contained, so no hashing
collisions and a small file), the weights are one float32 row per feature, and a sentence costs a
few dictionary look-ups and one small sum. ``scripts/train_compliance_model.py`` writes
``resources/compliance_model.npz`` deterministically from the tune halves only; the per-category
thresholds in the file were fitted on out-of-fold scores of those halves.

The rules stay the explanation: a finding from the model alone names its category, the legal
basis of that category's first rule in ``compliance_rules.toml``, and says it is a likely
finding, so a reviewer sees why. See ``assistant.compliance`` for how the two are combined.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from io import BytesIO
from itertools import pairwise
from operator import add

import numpy as np

from .once import once
from .text import HAN, simplified_in_place

__all__ = ["Model", "features", "load_model", "model"]

_LATIN_WORD = re.compile(r"[a-z]+(?:['’][a-z]+)?|\d+(?:[.,]\d+)*")
_HAN_RUN = re.compile(f"[{HAN}0]+")
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
# Structural facts: each a feature of its own, so the model can weigh "a figure with a period and a
# source" against "a figure alone" whatever words carry them. Each is two patterns: one always
# searched, one (English, lower case, searched in the lowered sentence: cheaper than a
# case-insensitive search) only in a sentence with Latin letters; a fact holds when either does.
_FACTS: dict[str, tuple[re.Pattern[str], re.Pattern[str] | None]] = {
    name: (re.compile(always), re.compile(latin) if latin else None)
    for name, (always, latin) in {
        "figure": (r"\d|[一二两三四五六七八九十百千万亿]+(?:成|倍|个点|个百分点)|百分之", ""),
        "percent": (r"[%％]|百分之|个百分点|[一二两三四五六七八九十]成", ""),
        "source": (
            r"来源|据.{1,12}(?:统计|数据|显示)|晨星|银河证券|定期报告|年度报告|年报|招募说明书",
            r"wind|\bsource\b|according to|morningstar|lipper|annual report|prospectus",
        ),
        "period": (
            r"截至|截止|\d{4}\s*年|年度|近[一二三五十\d]+个?[年月周]|成立以来|\b(?:19|20)\d\d\b",
            r"as of|year to|since inception|over the (?:past|last) \w+ years",
        ),
        "benchmark": (r"基准|同类平均|同期", r"benchmark|index|peer[- ]group|category average"),
        "negation": (r"不|未|没|无|非|勿|别", r"\bnot?\b|\bnever\b|n['’]t\b|\bneither\b|\bnor\b"),
        "future": (
            r"将|会|预计|预期|明年|未来|有望|今后",
            r"\bwill\b|\bexpect|going to|\bshould\b|\bnext\b|forecast|project",
        ),
        "person": (r"我|您|你|咱", r"\byou|\bwe\b|\bour\b|\bi\b|\bmy\b|\bus\b"),
        "promise": (
            r"保证|承诺|一定|肯定|绝对|必|确保|保本|保底",
            r"guarantee|promise|assur|certain|\bsure\b|\bnever lose",
        ),
        "exclaim": (r"[!！]", ""),
    }.items()
}
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_RESOURCE = "resources/compliance_model.npz"
_MEMORY = 20_000  # sentences whose verdicts are kept (a few MB)
# Negation scope: from a cue to the end of its clause, n-grams and words carry a "~" mark, so
# "不承诺收益" and "No guarantee of capital" do not look like "承诺收益" and "guarantee of capital".
# The cues are the rules' (不 but not 不仅/不断/不同…, 没, 无, 未 but not 未来, 非 but not 非常…).
_NEGATION = re.compile(
    r"不(?![仅但断错少同久过管妨论停愧住赔亏跌败足])|没|无(?!论)|未(?!来)|非(?![常凡])|勿|别(?![的家人])|"
    r"\b(?:not?|never|without|cannot|nor)\b|n['’]t\b"
)
_CLAUSE_END = re.compile(r"[，。；：！？,;:!?()（）]")


def features(sentence: str) -> list[str]:
    """The feature strings of one sentence (a set's worth: order does not matter, repeats do not
    count twice). Shared by training and checking, so the two never drift apart. Traditional
    characters are read as simplified ones (``simplified_in_place``), as the rules read them."""
    sentence = simplified_in_place(sentence)
    lowered = _DIGITS.sub("0", sentence.lower())
    latin = _ASCII_LETTER.search(sentence) is not None
    found = {
        f"#{name}"
        for name, (always, english) in _FACTS.items()
        if always.search(sentence) or (latin and english and english.search(lowered))
    }
    for plain, negated in _scopes(lowered):
        mark = "~" if negated else ""
        for run in _HAN_RUN.findall(plain):
            # 1-, 2- and 3-grams, built by map over shifted copies (C speed, not a Python loop).
            pairs = list(map(add, run, run[1:]))
            grams = [*run, *pairs, *map(add, pairs, run[2:])]
            found.update(grams if not mark else [mark + gram for gram in grams])
        words = _LATIN_WORD.findall(plain)
        if words:
            found.add("#latin")
            found.update(f"{mark}w:{word}" for word in words)
            found.update(f"{mark}s:{word[:5]}" for word in words if len(word) > 5)
            found.update(f"{mark}b:{a} {b}" for a, b in pairwise(words))
    return list(found)


def _scopes(text: str) -> list[tuple[str, bool]]:
    """``text`` cut into pieces outside and inside a negation's scope (cue to clause end)."""
    pieces: list[tuple[str, bool]] = []
    cursor = 0
    for cue in _NEGATION.finditer(text):
        if cue.start() < cursor:
            continue
        end = _CLAUSE_END.search(text, cue.end())
        stop = end.start() if end else len(text)
        pieces.append((text[cursor : cue.start()], False))
        pieces.append((text[cue.start() : stop], True))
        cursor = stop
    pieces.append((text[cursor:], False))
    return [piece for piece in pieces if piece[0]]


@dataclass(frozen=True)
class Model:
    """The shipped weights: ``vocabulary`` maps a feature to its row of ``weights`` (one column
    per category), ``thresholds`` the probability above which a category is a likely finding."""

    categories: tuple[str, ...]
    vocabulary: dict[str, int]
    weights: np.ndarray  # (features, categories), float32
    bias: np.ndarray  # (categories,)
    thresholds: np.ndarray  # (categories,)
    memory: dict[str, tuple[tuple[str, float], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def scores(self, sentences: Sequence[str]) -> np.ndarray:
        """Each category's probability for each sentence: (sentences, categories).

        One gather and one segment sum for all the sentences of an answer, not one per sentence.
        """
        rows: list[int] = []
        starts: list[int] = []
        norms: list[float] = []
        padding = len(self.vocabulary)  # an all-zero row, so every segment is non-empty
        for sentence in sentences:
            found = features(sentence)
            starts.append(len(rows))
            rows.append(padding)
            rows.extend(i for f in found if (i := self.vocabulary.get(f)) is not None)
            # Inputs are binary and L2-normalised over every feature the sentence has (seen or
            # not), as in training, so a long sentence does not outvote a short one.
            norms.append(max(1, len(found)) ** 0.5)
        if not sentences:
            return np.zeros((0, len(self.categories)), dtype=np.float32)
        sums = np.add.reduceat(self.weights[rows], starts, axis=0)
        logits = sums / np.array(norms, dtype=np.float32)[:, None] + self.bias
        return np.asarray(1.0 / (1.0 + np.exp(-logits)))

    def likely(self, sentences: Sequence[str]) -> list[list[tuple[str, float]]]:
        """Per sentence, the categories whose probability passes their threshold, best first.

        Verdicts are remembered by sentence: the gate checks each streamed sentence and the
        finished answer is checked again whole, so each sentence is scored once, not twice.
        """
        memory = self.memory
        unseen = list(dict.fromkeys(s for s in sentences if s not in memory))
        if len(memory) + len(unseen) > _MEMORY:
            memory.clear()  # crude, but bounded and lock-free (dict operations are atomic)
        for sentence, probabilities in zip(unseen, self.scores(unseen), strict=True):
            hits = [
                (self.categories[i], float(p))
                for i, p in enumerate(probabilities)
                if p >= self.thresholds[i]
            ]
            memory[sentence] = tuple(sorted(hits, key=lambda hit: -hit[1]))
        return [list(memory[s]) if s in memory else self.likely([s])[0] for s in sentences]


def load_model(data: bytes) -> Model:
    """A model from the bytes of a ``.npz`` written by ``scripts/train_compliance_model.py``."""
    with np.load(BytesIO(data), allow_pickle=False) as arrays:
        vocabulary = [str(f) for f in arrays["vocabulary"]]
        return Model(
            categories=tuple(str(c) for c in arrays["categories"]),
            vocabulary={feature: index for index, feature in enumerate(vocabulary)},
            # One zero row at the end: Model.scores' padding.
            weights=np.vstack(
                [arrays["weights"].astype(np.float32), np.zeros((1, len(arrays["bias"])))]
            ).astype(np.float32),
            bias=arrays["bias"].astype(np.float32),
            thresholds=arrays["thresholds"].astype(np.float32),
        )


@once
def model() -> Model:
    """The shipped model, loaded once per process."""
    return load_model(resources.files("assistant").joinpath(_RESOURCE).read_bytes())
