"""Citations you can trust: marker repair, supporting quotes and the figure check.

Pure functions over strings. The model is asked to put [n] after each claim; what it actually
writes varies (【1】, [1,2], [^1], markers past the last source), so markers are normalised,
out-of-range ones dropped, and the rest renumbered in order of first use. Each kept marker's
quote is the sentence of its chunk that shares the most with the claim it follows.

Figures (reading and comparing them) live in ``figures``; a quote prefers the sentence that
states the claim's figures.
"""

from __future__ import annotations

import re

from .figures import find_figures

from .text import bigrams, sentence_spans

_MARKER = re.compile(r"\s?(?:\[\^?|【)(\d{1,2}(?:\s*[,，、]\s*\d{1,2})*)(?:\]|】)")


def sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) of an answer or a source: ``text.sentence_spans``."""
    return sentence_spans(text)


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


def normalise_markers(text: str, n_sources: int) -> str:
    """[1,2] → [1][2], 【1】 → [1], [^1] → [1]; markers that point to no source are dropped."""

    def replace(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.split(r"\s*[,，、]\s*", match.group(1))]
        kept = [n for n in numbers if 1 <= n <= n_sources]
        return "".join(f"[{n}]" for n in dict.fromkeys(kept))

    cleaned = _MARKER.sub(replace, text)
    return re.sub(r"[ \t]+([。，；！？.,;!?])", r"\1", cleaned)


def renumber(text: str) -> tuple[str, dict[int, int]]:
    """Renumber [n] markers 1, 2, 3… in order of first use; returns text and {new: old}."""
    mapping: dict[int, int] = {}
    reverse: dict[int, int] = {}

    def replace(match: re.Match[str]) -> str:
        old = int(match.group(1))
        if old not in reverse:
            reverse[old] = len(reverse) + 1
            mapping[reverse[old]] = old
        return f"[{reverse[old]}]"

    return re.sub(r"\[(\d+)\]", replace, text), mapping


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
    candidates = split_sentences(chunk_text) or [chunk_text.strip()]
    wanted = bigrams(claim)
    claim_figures = {f.value for f in find_figures(claim)}

    def score(sentence: str) -> float:
        shared = len(wanted & bigrams(sentence)) / (len(wanted) or 1)
        figures = {f.value for f in find_figures(sentence)}
        return shared + 0.5 * len(claim_figures & figures)

    return max(candidates, key=score)
