"""What the engine tracks during one turn, and the audit record built from it and the Answer.

A ``TurnTrace`` lives for one call of ``AnswerEngine.stream``: the engine notes in it the
question retrieval used, the hits, each delta shown, each model request (``ModelCall``s the
model fills in, so usage is this turn's own) and how long each stage took. However the turn
ends, ``record`` turns it into one typed ``AuditRecord``, from the final ``Answer`` when there
is one.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from .audit.log import now
from .audit.record import (
    AuditRecord,
    CallRef,
    CitationRef,
    DisclosureRef,
    Outcome,
    RecordRef,
    RetrievedRef,
)
from .modelcalls import ModelCall
from .text import disclosure_id

if TYPE_CHECKING:
    from .answer import Answer
    from .retrieval import Hit
    from .store import StoredChunk

SESSION_CHARS = 128  # an anonymous id, not a place to store text


@dataclass
class TurnTrace:
    channel: str
    session: str | None
    question: str
    audience: str
    history_turns: int
    turn_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    began: float = field(default_factory=time.monotonic)
    standalone: str | None = None
    lexical_query: str | None = None
    hits: Sequence[Hit] = ()
    streamed: list[str] = field(default_factory=list)
    written: list[str] = field(default_factory=list)  # the model's deltas, before the gate
    calls: dict[str, list[ModelCall]] = field(default_factory=dict)
    latency_ms: dict[str, float] = field(default_factory=dict)
    intents: tuple[str, ...] = ()
    conversation: str | None = None  # recap, counterpoints, pasted (``AuditRecord``)
    mode: str | None = None  # the mode the turn is answering in, once chosen
    why: str | None = None
    record_of: StoredChunk | None = None  # the passage whose article's record was stated

    def calls_for(self, stage: str) -> list[ModelCall]:
        """The list a model appends this stage's requests to (rewrite, answer)."""
        return self.calls.setdefault(stage, [])

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            self.latency_ms[stage] = _ms(time.monotonic() - began)

    def shown(self, text: str) -> None:
        if not self.streamed:
            self.latency_ms["first_shown"] = _ms(time.monotonic() - self.began)
        self.streamed.append(text)

    def wrote(self, text: str) -> None:
        """Note what the model wrote for the answer, before any check (the audit keeps both)."""
        self.written.append(text)

    def answered_by(self) -> ModelCall | None:
        """The request whose text became the answer (the second model's, after a failover)."""
        done = [c for c in self.calls.get("answer", []) if c.ok]
        return done[-1] if done else None

    def record(
        self, answer: Answer | None, outcome: Outcome, why: str | None = None
    ) -> AuditRecord:
        self.latency_ms["total"] = _ms(time.monotonic() - self.began)
        known = {key for h in self.hits if (key := h.chunk.meta("disclosure_id"))}
        return AuditRecord(
            turn_id=self.turn_id,
            at=now(),
            kind="turn",
            channel=self.channel,
            session=self.session[:SESSION_CHARS] if self.session else None,
            outcome=outcome,
            mode=answer.mode if answer else self.mode,
            why=why or self.why,
            model=answer.model if answer else _streaming_model(self),
            audience=self.audience,
            question=_storable(self.question),
            history_turns=self.history_turns,
            standalone=self.standalone,
            lexical_query=self.lexical_query,
            retrieved=tuple(
                RetrievedRef(
                    rank,
                    h.chunk.chunk_id,
                    h.chunk.path,
                    h.chunk.meta("doc_hash"),
                    round(h.score, 6),
                )
                for rank, h in enumerate(self.hits, start=1)
            ),
            streamed=tuple(self.streamed),
            model_text="".join(self.written) if self.written else None,
            answer=answer.answer if answer else None,
            citations=_citations(
                answer, {h.chunk.chunk_id: h.chunk.meta("doc_hash") for h in self.hits}
            ),
            record_of=_record_ref(self.record_of),
            notices=tuple(answer.notices) if answer else (),
            findings=tuple(answer.findings) if answer else (),
            disclosures=disclosure_refs(answer.disclosure, known) if answer else (),
            calls=tuple(
                CallRef.of(stage, call) for stage, calls in self.calls.items() for call in calls
            ),
            latency_ms=dict(self.latency_ms),
            intents=self.intents,
            conversation=self.conversation,
        )


def export_record(
    answer: Answer,
    *,
    channel: str,
    parent: str,
    known: set[str],
    versions: Mapping[str, str | None],
    session: str | None = None,
) -> AuditRecord:
    """The row of an advisor draft as exported: ``answer`` is the exported copy (its text is
    the text that left the app), ``parent`` the turn it was drafted in, ``versions`` each cited
    chunk's article version in the store as it was exported."""
    return AuditRecord(
        turn_id=uuid.uuid4().hex,
        at=now(),
        kind="export",
        channel=channel,
        session=session[:SESSION_CHARS] if session else None,
        outcome="exported",
        mode=answer.mode,
        why=None,
        model=answer.model,
        audience="advisor",
        question="",
        history_turns=0,
        answer=_storable(answer.answer),
        citations=_citations(answer, versions),
        notices=tuple(answer.notices),
        findings=tuple(answer.findings),
        disclosures=disclosure_refs(answer.disclosure, known),
        parent_turn=parent or None,
    )


def refused_export_record(
    answer: Answer, *, channel: str, parent: str, why: str, said: str
) -> AuditRecord:
    """The row of an export the desk refused (``why``; ``said``: what the advisor was told).
    No text left the app, and the text is what made it refused (a client's particulars): none
    is kept, only that the attempt was made, on which turn's draft, and why."""
    withheld = replace(answer, answer="", citations=[], notices=[said], findings=[])
    row = export_record(withheld, channel=channel, parent=parent, known=set(), versions={})
    return replace(row, outcome="refused", why=why, disclosures=())


def disclosure_refs(text: str, known: set[str]) -> tuple[DisclosureRef, ...]:
    """The disclosure shown as the store's versions: one text is one version; several joined
    by blank lines (articles with different disclosures) are split back into the known ones.
    A text the store does not know (the built-in fallback) is kept under its own id."""
    whole = (DisclosureRef(disclosure_id(text), text),)
    if whole[0].id in known or not known:
        return whole
    ends = [i for i in range(len(text)) if text.startswith("\n\n", i)] + [len(text)]
    parts: list[DisclosureRef] = []
    start = 0
    while start < len(text):
        piece = next(
            (ref for end in ends if end > start and (ref := _ref(text[start:end])).id in known),
            None,
        )
        if piece is None:
            return whole
        parts.append(piece)
        start += len(piece.text) + 2
    return tuple(parts)


def _ref(text: str) -> DisclosureRef:
    return DisclosureRef(disclosure_id(text), text)


def _citations(
    answer: Answer | None, versions: Mapping[str, str | None]
) -> tuple[CitationRef, ...]:
    """The answer's citations, each with the article version its passage came from."""
    if answer is None:
        return ()
    return tuple(
        CitationRef(c.n, c.chunk_id, c.quote, versions.get(c.chunk_id)) for c in answer.citations
    )


def _record_ref(chunk: StoredChunk | None) -> RecordRef | None:
    """The article of ``chunk``, as the row names it (the path as ``retrieved`` gives it)."""
    if chunk is None:
        return None
    return RecordRef(chunk.chunk_id, chunk.path, chunk.title, chunk.meta("doc_hash"))


def _streaming_model(trace: TurnTrace) -> str | None:
    calls = trace.calls.get("answer", [])
    return calls[-1].model if calls and trace.streamed else None


def _storable(text: str) -> str:
    return text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 1)
