"""Asking the questions: the retriever's ranking and latency, and what else a probe measures."""

from __future__ import annotations

import re
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config import Settings
from ..store import ChunkReader, StoredChunk
from .datasets import Case

if TYPE_CHECKING:  # the engine side is imported when an evaluation runs, not at parse time
    from ..answer import AnswerEngine
    from ..retrieval import Hit, Retriever

K = 5
_WARMUP = "warm-up query 预热"


@dataclass(frozen=True)
class Outcome:
    case: Case
    rank: int | None  # 1-based rank of the first relevant chunk in the top K; None = missed
    latency_ms: float
    best_dense: float  # what the engine compares with its relevance floor
    lexical_weight: float  # the lexical side's coverage for the text searched
    answered: bool | None = None  # the offline answer holds a gold answer (None = not checked)
    declined: bool | None = None  # the engine answered "not in the documents"
    accepted: bool | None = None  # the retriever's relevance rule let the question through
    ranks: dict[str, int | None] = field(default_factory=dict)  # per component (dense, lexical)


def first_relevant(case: Case, chunks: Iterable[StoredChunk]) -> int | None:
    return next((n for n, chunk in enumerate(chunks, start=1) if case.relevant(chunk)), None)


def normalise(text: str) -> str:
    """For answer matching: full-width forms folded (NFKC), whitespace dropped, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def holds_answer(text: str, answers: Sequence[str]) -> bool:
    body = normalise(text)
    return any(normalise(a) in body for a in answers if normalise(a))


def _distinct(store: ChunkReader, ids: Sequence[str], k: int) -> list[StoredChunk]:
    """The first ``k`` chunks of ``ids`` without near-copies, as the retriever picks them."""
    from ..text import near_duplicate

    chosen: list[StoredChunk] = []
    for chunk in store.get(list(ids[: k * 3])):
        if not any(near_duplicate(chunk.text, other.text) for other in chosen):
            chosen.append(chunk)
        if len(chosen) == k:
            break
    return chosen


def component_ranks(retriever: Retriever, case: Case) -> dict[str, int | None]:
    """Rank of the first relevant chunk by dense retrieval alone and by BM25 alone."""
    store = retriever.store
    n = max(retriever.candidates, K * 3)
    text = retriever.searched_text(case.question)
    dense = store.dense_search(retriever.query_vector(retriever.dense_text(case.question)), n)
    lexical = store.lexical().search(text, n)
    return {
        "dense": first_relevant(case, _distinct(store, [cid for cid, _ in dense], K)),
        "lexical": first_relevant(case, _distinct(store, [cid for cid, _ in lexical], K)),
    }


def _answer_checks(engine: AnswerEngine, case: Case) -> tuple[bool | None, bool]:
    answer = engine.ask(case.question, channel="eval")
    declined = not answer.citations
    return (holds_answer(answer.answer, case.answers) if case.answers else None), declined


Gate = Callable[[str, list["Hit"]], bool]


def engine_gate(retriever: Retriever, settings: Settings) -> Gate:
    """The engine's relevance rule with its configured floors."""

    def gate(question: str, hits: list[Hit]) -> bool:
        return retriever.relevant(
            question,
            hits,
            floor=settings.relevance_floor,
            floor_other=settings.relevance_floor_other,
        )

    return gate


@dataclass(frozen=True)
class Probes:
    """What to measure besides the retriever's ranking and latency."""

    engine: AnswerEngine | None = None  # ask it for the offline answer
    components: bool = False  # rank by dense and by BM25 alone too
    gate: Gate | None = None  # apply the engine's relevance rule


def run_case(retriever: Retriever, case: Case, probes: Probes = Probes()) -> Outcome:
    started = time.perf_counter()
    hits = retriever.search(case.question, K)
    latency = (time.perf_counter() - started) * 1000
    engine = probes.engine
    answered, declined = _answer_checks(engine, case) if engine else (None, None)
    return Outcome(
        case=case,
        rank=first_relevant(case, (h.chunk for h in hits)),
        latency_ms=latency,
        best_dense=max((h.dense for h in hits), default=0.0),
        lexical_weight=retriever.lexical_weight(retriever.searched_text(case.question)),
        answered=answered,
        declined=declined,
        ranks=component_ranks(retriever, case) if probes.components else {},
        accepted=probes.gate(case.question, hits) if probes.gate else None,
    )


def run_cases(
    retriever: Retriever, cases: Sequence[Case], probes: Probes = Probes()
) -> list[Outcome]:
    """Every case through the retriever (after one untimed warm-up query)."""
    from tqdm import tqdm

    retriever.search(_WARMUP, K)
    return [
        run_case(retriever, case, probes)
        for case in tqdm(cases, desc="questions", disable=None, file=sys.stderr)
    ]
