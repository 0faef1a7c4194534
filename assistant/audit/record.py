"""The audit record of one turn: typed, built by the engine from the Answer and what it tracked.

Every field says what a regulator or an operator will ask about that turn; ``AuditLog`` stores
the ones people filter on as columns and the rest as one JSON document, all under the hash chain.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any, Literal

from ..modelcalls import ModelCall, Usage

# thesis: an article's argument map as built (assistant/thesis), one row per article version.
Kind = Literal["turn", "export", "thesis"]
# complete: the final answer was delivered; interrupted: the reader left before it (a client
# disconnect), so only ``streamed`` was seen; refused: the question was not answered (invalid,
# or the documents do not cover it); error: the turn failed (an empty store, a bug);
# exported: an advisor exported an answer's draft (``answer`` is the text as exported).
Outcome = Literal["complete", "interrupted", "refused", "error", "exported"]


def plain(value: Any) -> Any:
    """``dataclasses.asdict`` without its deep copies: dataclasses become dicts and lists, tuples
    and dicts are rebuilt, but the values in them (strings, numbers) are shared, not copied one
    by one (``asdict`` calls ``copy.deepcopy`` on each: on an answer with its passages, most of
    the CPU of the stream's last event, and of the audit row's JSON)."""
    kind = type(value)
    if kind in _LEAVES:
        return value
    if kind is list or kind is tuple:
        return kind(plain(item) for item in value)
    if kind is dict:
        return {key: plain(item) for key, item in value.items()}
    names = _field_names(kind) if is_dataclass(kind) else None
    if names is None:
        return value
    return {name: plain(getattr(value, name)) for name in names}


_LEAVES = frozenset({str, int, float, bool, type(None)})


@functools.cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


@dataclass(frozen=True)
class RetrievedRef:
    """A chunk retrieved for the question, with the version of the article it came from."""

    rank: int
    chunk_id: str
    path: str
    doc_hash: str | None  # content hash of the article version (the store's ``doc_hash``)
    score: float


@dataclass(frozen=True)
class CitationRef:
    n: int
    chunk_id: str
    quote: str
    doc_hash: str | None = None  # the version of the article the passage was quoted from


@dataclass(frozen=True)
class RecordRef:
    """The article whose record (publisher, date, the product's risk level) a turn stated
    instead of citing a passage (``about``): by the passage it was found through, the article's
    path and title, and its version."""

    chunk_id: str
    path: str
    title: str
    doc_hash: str | None


@dataclass(frozen=True)
class DisclosureRef:
    """A risk disclosure shown, by the store's own 16-character id, and its text."""

    id: str
    text: str


@dataclass(frozen=True)
class CallRef:
    """One request to a model endpoint during the turn (``stage``: rewrite or answer)."""

    stage: str
    model: str
    endpoint: str
    attempts: int
    failures: tuple[str, ...]
    outcome: str
    usage: Usage
    first_token_ms: float | None
    elapsed_ms: float

    @classmethod
    def of(cls, stage: str, call: ModelCall) -> CallRef:
        return cls(
            stage,
            call.model,
            call.endpoint,
            call.attempts,
            tuple(call.failures),
            call.outcome,
            Usage(**call.usage.as_dict()),
            call.first_token_ms,
            call.elapsed_ms,
        )


@dataclass(frozen=True)
class AuditRecord:
    turn_id: str
    at: str  # UTC ISO 8601, when the turn ended (or the draft was exported)
    kind: Kind
    channel: str  # web, advisor, widget, api, openai, cli
    session: str | None  # an anonymous session id from the face, if it has one
    outcome: Outcome
    mode: str | None  # llm, offline, fallback (None when the turn ended before one was chosen)
    why: str | None  # the fallback's cause kind, the refusal's reason, the error's kind
    model: str | None  # the model whose text was shown
    audience: str  # investor or advisor
    question: str
    history_turns: int
    standalone: str | None = None  # the question retrieval used (history and language resolved)
    lexical_query: str | None = None  # its Chinese version for BM25, when the model gave one
    retrieved: tuple[RetrievedRef, ...] = ()
    streamed: tuple[str, ...] = ()  # every delta shown, in order, even ones later replaced
    # The model's own words for the answer, before the gate removed a sentence or repaired a
    # marker (None when no model wrote): what was shown is ``answer``, what was asked for this.
    model_text: str | None = None
    answer: str | None = None  # the final text shown (None when the turn ended before it)
    citations: tuple[CitationRef, ...] = ()
    # A turn answered from an article's record cites nothing (why "about_article"): the article.
    record_of: RecordRef | None = None
    notices: tuple[str, ...] = ()
    findings: tuple[dict[str, Any], ...] = ()
    disclosures: tuple[DisclosureRef, ...] = ()
    calls: tuple[CallRef, ...] = ()
    latency_ms: dict[str, float] = field(default_factory=dict)
    intents: tuple[str, ...] = ()
    # What the turn asked of the conversation, when it was no fresh question (``conversation``):
    # "recap" (about the last answer), "counterpoints" (the article's own case against),
    # "pasted" (a text pasted with it, no source: the question column holds it).
    conversation: str | None = None
    parent_turn: str | None = None  # for an export: the turn whose answer was exported

    @property
    def usage(self) -> Usage:
        """Tokens this turn used, over every call it made (rewrite and answer, both endpoints)."""
        total = Usage()
        for call in self.calls:
            total.add(call.usage)
        return total

    @property
    def disclosure_ids(self) -> list[str]:
        return [d.id for d in self.disclosures]

    def detail(self) -> dict[str, Any]:
        """What the columns do not hold, as one JSON-ready document."""
        data: dict[str, Any] = plain(self)
        for column in _COLUMNS:
            data.pop(column, None)
        data.pop("disclosures")
        return data


# Fields stored as columns of their own (the rest go to the JSON ``detail``).
_COLUMNS = (
    *("turn_id", "at", "kind", "channel", "session", "outcome", "mode", "why", "model"),
    *("question", "standalone", "answer"),
)
