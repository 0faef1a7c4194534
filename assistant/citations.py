"""Citations you can trust: marker repair, supporting quotes and the figure check.

Pure functions over strings. The model is asked to put [n] after each claim; what it actually
writes varies (【1】, ［1］, [1,2], [^1], markers past the last source), so markers are
normalised, out-of-range ones dropped, and the rest renumbered in order of first use. Each kept
marker's quote is the sentence of its chunk that shares the most with the claim it follows.

Source text has bracketed numbers of its own: encyclopedia footnotes ("…坠机事故[4]"), research
reports' references (【1】). They are never our markers. ``without_marks`` takes them out of
whatever we quote or send to the model, so a number in brackets in an answer is always one we
put there (or one the model wrote, which ``normalise_markers`` checks against the sources).

Figures (reading and comparing them) live in ``figures``; a quote prefers the sentence that
states the claim's figures.
"""

from __future__ import annotations

import functools
import re

from .compliance import unsold
from .figures import find_figures
from .text import bigrams, sentence_spans

# Bracketed numbers, whoever wrote them. ``numbers`` is set for the forms the model may use as a
# citation ([1], [1, 2], [^1], 【1】, ［1］); the rest are footnote and reference marks that only
# sources use ([3-5], [注1], [note 2], 〔1〕, [citation needed], [来源请求]). Numbers up to four
# digits are read, so that "[2024]" is dropped as out of range, never renumbered.
_MARK = re.compile(
    r"\s?(?:"
    r"[\[【［]\s*\^?\s*(?P<numbers>\d{1,4}(?:\s*[,，、]\s*\d{1,4})*)\s*[\]】］]"
    r"|[\[【［〔]\s*\^?\s*\d{1,4}(?:\s*[,，、–—-]\s*\d{1,4})*\s*[\]】］〕]"
    r"|\[\s*(?:(?:注|註|note)\s*\d{0,3}|citation needed|来源请求|來源請求|需要更多来源|需要來源)\s*\]"
    r")",
    re.IGNORECASE,
)


def sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) of an answer or a source: ``text.sentence_spans``."""
    return sentence_spans(text)


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def without_marks(text: str) -> str:
    """Source text without its footnote and reference marks (they are never our markers)."""
    return _MARK.sub("", text)


def normalise_markers(text: str, n_sources: int) -> str:
    """[1,2] → [1][2], 【1】/［1］ → [1], [^1] → [1]; markers that point to no source, and
    footnote-style marks a model copied ([2024], 〔1〕, [注1]), are dropped."""

    def replace(match: re.Match[str]) -> str:
        if not match.group("numbers"):
            return ""
        numbers = [int(n) for n in re.split(r"\s*[,，、]\s*", match.group("numbers"))]
        kept = [n for n in numbers if 1 <= n <= n_sources]
        return "".join(f"[{n}]" for n in dict.fromkeys(kept))

    cleaned = _MARK.sub(replace, text)
    return re.sub(r"[ \t]+([。，；！？.,;!?])", r"\1", cleaned)


def markers_by_sentence(text: str) -> list[tuple[str, list[int]]]:
    """Each sentence of an answer (markers stripped) with the markers that follow it."""
    out: list[tuple[str, list[int]]] = []
    for start, end in sentences(text):
        piece = text[start:end]
        # Markers right after a terminator belong to the sentence before it.
        leading = re.match(r"\s*((?:\[\d+\])+)", piece)
        if leading and out:
            out[-1][1].extend(int(n) for n in re.findall(r"\d+", leading.group(1)))
            piece = piece[leading.end() :]
        numbers = [int(n) for n in re.findall(r"\[(\d+)\]", piece)]
        claim = re.sub(r"\[\d+\]", "", piece).strip()
        if claim:
            out.append((claim, numbers))
    return out


def best_quote(claim: str, chunk_text: str) -> str:
    """The sentence of ``chunk_text`` that shares the most with ``claim``."""
    wanted = bigrams(claim)
    claim_figures = {f.value for f in find_figures(claim)}

    def score(candidate: tuple[str, frozenset[str], frozenset[float]]) -> float:
        _, grams, figures = candidate
        return len(wanted & grams) / (len(wanted) or 1) + 0.5 * len(claim_figures & figures)

    return max(_quotable(chunk_text), key=score)[0]


# The same passages are quoted answer after answer (about five an answer, each read for its
# figures sentence by sentence): what a quote is scored on is worked out once per passage. A
# passage's bigrams take tens of KB: 512 passages bound the cache to a few tens of MB.
@functools.lru_cache(maxsize=512)
def _quotable(chunk_text: str) -> tuple[tuple[str, frozenset[str], frozenset[float]], ...]:
    """Each candidate sentence of a passage with its bigrams and the values of its figures."""
    # A sentence's sales clause is no claim's support (``compliance.unsold``): quoted up to it.
    candidates = [q for s in split_sentences(chunk_text) if (q := unsold(without_marks(s)))]
    candidates = candidates or [chunk_text.strip()]
    return tuple((s, bigrams(s), frozenset(f.value for f in find_figures(s))) for s in candidates)
