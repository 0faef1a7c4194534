"""The answer engine: question → retrieval → (model | excerpts) → checked, cited answer.

Every path ends in ``_finish``, which attaches the disclosure, the notices and the citations,
so no answer leaves the engine without its risk disclosure. Modes:

- ``llm``: the model wrote the answer from the retrieved sources (through ``SentenceGate``);
- ``offline``: no key is configured; the answer is quoted sentences of the sources;
- ``fallback``: the model failed (after retries within the deadline) or its answer could not be
  shown; the same excerpts, with a notice, and the cause in the operator's log.

Without a model reading the passages (offline, fallback), excerpts answer only a question the
decision says they answer (``Verdict.answers``); one they answer less surely opens with a note
that they may not (``Verdict.sure``). A model is given every question not clearly off-topic,
and when it says, citing nothing, that the sources do not cover it (``prompts.declines``), the
reader gets our words for that, not excerpts in its place.

A turn that is no fresh question is read first (``conversation``): a request about the last
answer, or for the case against, rests on sentences known before the passages are judged (the
last answer's quotes, the article's own counterpoints); a pasted text is no source, and what our
passages say of its subject is answered after our words that say so.

``stream`` yields ``Delta`` events as sentences pass the gate, then one final ``Answer`` whose
text is authoritative (a stream that failed midway is replaced, never shown half-finished).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Literal, cast

from . import about, particulars, site
from .audit import AuditLog, AuditRecord
from .audit.record import Outcome, plain
from .capacity import Capacity
from .citations import best_quote, markers_by_sentence
from .compliance import (
    Finding,
    QuestionIntent,
    advice_topic,
    check_text,
    classify_question,
    make_finding,
    mask_blocked,
)
from .config import Settings
from .conversation import (
    ArgumentPoint,
    ArgumentSource,
    Overlong,
    Pasted,
    Role,
    condense_offline,
    last_cited,
    overlong,
    pasted,
    recap,
    renumbered,
)
from .errors import InputError, ModelUnavailableError, NoSourcesError, OverloadedError
from .extractive import LIMIT, Excerpt, render, select_sentences
from .figures import mark_unverified, unsupported_by_citations
from .gate import SentenceGate
from .llm import ChatModel
from .modelcalls import ModelCall
from .prompts import (
    DraftOptions,
    Lang,
    Mode,
    Turn,
    age_text,
    build_messages,
    condense_messages,
    declines,
    message,
    parse_condensed,
    prompt,
)
from .questions import (
    about_the_article,
    asks_counterpoints,
    counterpoints_subject,
    fund_companies,
    small_talk,
)
from .retrieval import Hit, Retriever, Verdict
from .store import KnowledgeStore, Snapshot, StoredChunk
from .suitability import assess
from .text import (
    is_chinese,
    reading_language,
    split_sentences,
    traditional_in_place,
    writes_traditional,
    written_in_chinese,
)
from .trace import TurnTrace, export_record, refused_export_record

log = logging.getLogger(__name__)
# A pasted text's subject is read from its first sentences (a search each): an article's opening
# states it, and the cost of a paste stays that of a few questions.
PASTED_SENTENCES = 40
AnswerMode = Literal["llm", "offline", "fallback"]


@dataclass(frozen=True)
class Citation:
    n: int
    chunk_id: str
    title: str
    publisher: str | None
    published: str | None
    section: str | None
    page: int | None
    path: str
    text: str
    quote: str

    @classmethod
    def of(
        cls, n: int, chunk: StoredChunk, quote: str, *, path: str, text: str | None = None
    ) -> Citation:
        """Citation ``n`` of a stored chunk, with the sentence of it that supports the claim;
        ``path`` is the article's name as shown (``shown_path``: never a server path), ``text``
        the passage as shown when it differs from the chunk's (masked)."""
        page = chunk.meta("page")
        return cls(
            n=n,
            chunk_id=chunk.chunk_id,
            title=chunk.title,
            publisher=chunk.meta("publisher"),
            published=chunk.meta("published"),
            section=chunk.meta("section"),
            page=int(page) if page else None,
            path=path,
            text=chunk.text if text is None else text,
            quote=quote,
        )


@dataclass(frozen=True)
class Retrieved:
    rank: int
    chunk_id: str
    title: str
    path: str
    text: str
    score: float


@dataclass
class Answer:
    answer: str
    citations: list[Citation]
    retrieved: list[Retrieved]
    disclosure: str
    mode: AnswerMode
    model: str | None
    notices: list[str] = field(default_factory=list)
    findings: list[dict[str, str | int]] = field(default_factory=list)
    turn_id: str = ""  # the audit row of this turn (feedback refers to it)

    def to_dict(self) -> dict[str, object]:
        data: dict[str, object] = plain(self)
        return data


@dataclass(frozen=True)
class Delta:
    text: str


Event = Delta | Answer


def parse_history(raw: object, max_chars: int) -> list[Turn]:
    """Validate a history list of {"role", "content"} objects (CLI file, HTTP body)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InputError(
            'The history must be a JSON list of {"role": ..., "content": ...} objects.'
        )
    turns = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or item.get("role") not in ("user", "assistant"):
            raise InputError(
                f'History item {i} needs a role of "user" or "assistant" and a content string.'
            )
        content = item.get("content")
        if not isinstance(content, str):
            raise InputError(f"History item {i} needs its content as a string.")
        turns.append(Turn(item["role"], content[: max_chars * 4]))
    return turns[-20:]


def shown_path(key: str, knowledge_dir: Path) -> str:
    """An article's name as answers show it: relative to the knowledge folder, never a server
    path (the store's key is relative to the ingest's working directory, or absolute)."""
    return _shown_path(key, knowledge_dir, Path.cwd())


# Resolving is a system call per path component, about ten paths an answer: remembered.
@functools.lru_cache(maxsize=4096)
def _shown_path(key: str, knowledge_dir: Path, cwd: Path) -> str:
    path = Path(key)
    try:
        full = path if path.is_absolute() else cwd / path
        return full.resolve().relative_to(knowledge_dir.resolve()).as_posix()
    except ValueError:
        pass
    # Ingested from another working directory: what follows the knowledge folder's name.
    parts = path.parts
    if knowledge_dir.name in parts[:-1]:
        last = len(parts) - 1 - parts[::-1].index(knowledge_dir.name)
        return "/".join(parts[last + 1 :])
    return path.name  # from somewhere else entirely: its file name is all a reader needs


def _month(published: str | None) -> tuple[int, int] | None:
    match = re.match(r"(\d{4})-(\d{1,2})", published or "")
    return (int(match.group(1)), int(match.group(2))) if match else None


def _other_companies(question: str, hits: Sequence[Hit]) -> list[str]:
    """The fund companies the question names that published none of ``hits`` and that none of
    them mentions: the passages are about another company's products, not theirs."""
    named = fund_companies(question)
    if not named or not hits:  # no passage found: the ordinary decline says so
        return []
    found = " ".join(f"{h.chunk.meta('publisher') or ''} {h.chunk.text}" for h in hits)
    return [] if any(name in found for name in named) else named


# The labels that say "offline", and what they read when a model is configured but did not answer.
_WITH_A_MODEL = {"offline_label": "fallback_label", "recap_label": "recap_fallback_label"}
# What the model is told of the sentences an answer rests on before any search, by their label
# (``prompts.toml``): the article's counterpoints, its argument, the lines naming its sources.
_FIXED_TASKS = {
    "counter_label": "counter_task",
    "counter_risks_label": "counter_task",
    "outline_label": "outline_task",
    "cited_sources_label": "sources_task",
}


@dataclass(frozen=True)
class Framing:
    """How excerpts are framed: our words before them (``lead``), the sentences known before
    any search (``fixed``: each with its hit, 1-based), the message above them (``label``:
    "offline_label" reads "fallback_label" when a model is configured, ``_WITH_A_MODEL``)."""

    lead: str | None = None
    fixed: Sequence[tuple[str, int]] = ()
    label: str = "offline_label"


def _asking(paste: Pasted, lang: Lang) -> str:
    """What the model is asked of a pasted text: the reader's words about it, never the text."""
    suffix = "" if lang == "zh" else "_en"
    said = paste.asked or prompt(f"pasted_unasked{suffix}")
    return prompt(f"pasted_question{suffix}").format(asked=said)


def _for_model(history: Sequence[Turn], lang: Lang, hits: Sequence[Hit] = ()) -> list[Turn]:
    """The conversation as a model reads it: a turn that pasted a text is what the model was
    asked then (``_asking``), on every later turn as on its own; beside ``hits`` (the sources
    it answers from), its own turns' markers number them (``renumbered``)."""
    passages = [h.chunk.text for h in hits]
    return [
        Turn(t.role, _asking(p, lang))
        if t.role == "user" and (p := pasted(t.content))
        else Turn(t.role, renumbered(t.content, passages))
        if t.role == "assistant" and passages
        else t
        for t in history
    ]


def _too_long(found: Overlong) -> str:
    """The sentence an over-long message gets, naming the setting (an edge's 413)."""
    if found.pasted:
        return (
            f"The message pastes a text {found.chars} characters long; the limit is "
            f"{found.limit} for a pasted text (ASSISTANT_MAX_PASTED_CHARS). Paste only the part "
            "you are asking about, with your question, or ask about its subject in your own words."
        )
    return (
        f"The question is {found.chars} characters long; the limit is {found.limit} "
        "(ASSISTANT_MAX_QUESTION_CHARS). Please shorten it."
    )


def _abridged(
    points: Sequence[tuple[ArgumentPoint, Hit]], most: int
) -> list[tuple[ArgumentPoint, Hit]]:
    """An argument in at most ``most`` sentences (and never fewer than its thesis and
    conclusion): those two, then its first steps, in the article's order."""
    kept = {i for i, (p, _) in enumerate(points) if p.role in ("thesis", "conclusion")}
    for i, _ in enumerate(points):
        if len(kept) >= most:
            break
        kept.add(i)
    return [pair for i, pair in enumerate(points) if i in kept]


def _newest_first(snapshot: Snapshot) -> list[StoredChunk]:
    """A passage of each article, the most recently published first (an undated one counts as
    oldest; a tie goes to the article's name)."""
    some = [next(iter(ids)) for ids in snapshot.index_state().values() if ids]
    return sorted(
        snapshot.get(some), key=lambda c: (c.meta("published") or "", c.path), reverse=True
    )


def _holding(quotes: Sequence[str], hits: Sequence[Hit]) -> list[tuple[str, Hit]]:
    """Each quote with the first hit whose passage holds it (a quote found in none is left
    out: the store changed since it was quoted)."""
    held = ((q, next((h for h in hits if q in h.chunk.text), None)) for q in quotes)
    return [(q, hit) for q, hit in held if hit is not None]


class AnswerEngine:
    def __init__(
        self,
        settings: Settings,
        store: KnowledgeStore,
        retriever: Retriever,
        chat: ChatModel | None,
        *,
        audit: AuditLog | None = None,
        today: Callable[[], date] = date.today,
        capacity: Capacity | None = None,
        argument: ArgumentSource | None = None,
    ) -> None:
        """``argument``: an article's argument, its counterpoints and the lines naming its
        sources (its argument map's, which is built on this engine: ``factory`` passes it in)."""
        self.settings = settings
        self.store = store
        self.retriever = retriever
        self.chat = chat
        self.audit = audit
        self.today = today
        self.capacity = capacity or Capacity(settings.max_concurrent_answers)
        self.argument = argument
        # What the articles are about, offered when a question is not covered (``site``).
        self.site = site.read(settings.knowledge_dir)

    # -- public ------------------------------------------------------------------------------

    def ask(
        self,
        question: str,
        history: Sequence[Turn] = (),
        mode: Mode = "investor",
        *,
        channel: str = "cli",
        session: str | None = None,
        draft: DraftOptions | None = None,
    ) -> Answer:
        final = None
        self.capacity.check()
        # Nobody sees the deltas of an answer returned whole: the row records none.
        turn = self._begin(
            self._turn(question, history, mode, channel, session, draft, streaming=False)
        )
        for event in turn:
            if isinstance(event, Answer):
                final = event
        assert final is not None
        return final

    def stream(
        self,
        question: str,
        history: Sequence[Turn] = (),
        mode: Mode = "investor",
        *,
        channel: str = "cli",
        session: str | None = None,
        draft: DraftOptions | None = None,
    ) -> Iterator[Event]:
        """Deltas as sentences pass the checks, then the final Answer.

        ``draft`` (an advisor's draft for a client) sets the client's risk level, tone, length
        and language; the draft states suitability (``suitability.assess``).

        Every turn leaves one audit row, however it ends: with the Answer (written before the
        Answer is yielded, so its ``turn_id`` can take feedback at once), or without one when
        the reader leaves mid-stream (``interrupted``: the deltas it saw are kept), the
        question is refused, or the turn fails. A failed audit write is logged loudly and
        spilled to a file; the reader still gets the answer.
        """
        # Refused here, when the stream is asked for, while the caller can still answer with a
        # status (503 and Retry-After) rather than an event (see ``capacity``).
        self.capacity.check()
        return self._begin(
            self._turn(question, history, mode, channel, session, draft, streaming=True)
        )

    @staticmethod
    def _begin(turn: Iterator[Event | None]) -> Iterator[Event]:
        """The turn, started as far as its slot: a question that loses the race for the last
        slot is refused before this returns (a status, not an event after a 200), and once
        started the turn's ``finally`` gives the slot back however the reader ends it."""
        started = next(turn)
        assert started is None
        return cast(Iterator[Event], turn)

    def _turn(
        self,
        question: str,
        history: Sequence[Turn],
        mode: Mode,
        channel: str,
        session: str | None,
        draft: DraftOptions | None,
        *,
        streaming: bool,
    ) -> Iterator[Event | None]:
        """Yields ``None`` once its slot is held (see ``_begin``), then the events."""
        trace = TurnTrace(channel, session, question, mode, len(history))
        outcome: Outcome | None = None
        try:
            # Past capacity the turn is refused before anything else; within it, the turn
            # reads one snapshot of the store from its first search to its audit row.
            with self.capacity.slot(), self.store.reading() as snapshot:
                yield None
                events = self._events(question, history, mode, trace, draft, snapshot)
                with contextlib.closing(events):  # a reader that leaves closes the model request
                    for event in events:
                        if isinstance(event, Answer):
                            event.turn_id = trace.turn_id
                            declined = trace.why in ("not_found", "model_declined", "other_company")
                            outcome = "refused" if declined else "complete"
                            self._keep(trace.record(event, outcome))
                        elif streaming:
                            trace.shown(event.text)
                        yield event
        except GeneratorExit:
            if outcome is None:
                outcome = "interrupted"
                self._keep(trace.record(None, outcome, "client_disconnected"))
            raise
        except InputError:
            outcome = "refused"
            self._keep(trace.record(None, outcome, "invalid_question"))
            raise
        except OverloadedError:
            outcome = "refused"
            self._keep(trace.record(None, outcome, "overloaded"))
            raise
        except Exception as error:
            if outcome is None:
                outcome = "error"
                kind = "no_sources" if isinstance(error, NoSourcesError) else type(error).__name__
                self._keep(trace.record(None, outcome, kind))
            raise

    def record_export(
        self,
        answer: Answer,
        text: str,
        *,
        channel: str = "advisor",
        also: Sequence[Finding] = (),
    ) -> Answer:
        """Keep an audit row for a draft as it left the app (an export: the text as exported,
        its findings checked on that text, and ``also`` those the caller found on the draft,
        such as figures its sources do not hold, placed where their text stands in the export),
        naming the turn it came from; the returned copy of ``answer`` carries the row's turn id."""
        findings = [f.to_dict() for f in check_text(text)]
        after = 0
        for finding in also:
            start = text.find(finding.text, after)
            start = start if start >= 0 else text.find(finding.text)
            if start >= 0:
                end = start + len(finding.text)
                findings.append({**finding.to_dict(), "start": start, "end": end})
                after = end
        exported = replace(
            answer,
            answer=text,
            findings=sorted(findings, key=lambda f: int(f["start"])),
            notices=list(answer.notices),
        )
        ids = [c.chunk_id for c in answer.citations] or [r.chunk_id for r in answer.retrieved]
        chunks = self.store.get(ids)
        known = {key for c in chunks if (key := c.meta("disclosure_id"))}
        versions = {c.chunk_id: c.meta("doc_hash") for c in chunks}
        record = export_record(
            exported, channel=channel, parent=answer.turn_id, known=known, versions=versions
        )
        exported.turn_id = record.turn_id
        self._keep(record)
        return exported

    def record_refused_export(self, answer: Answer, why: str, said: str) -> None:
        """Keep an audit row for an export the desk refused, without its text
        (``trace.refused_export_record``)."""
        self._keep(
            refused_export_record(
                answer, channel="advisor", parent=answer.turn_id, why=why, said=said
            )
        )

    def _keep(self, record: AuditRecord) -> None:
        if self.audit is not None:
            self.audit.write_or_spill(record)

    def _events(
        self,
        question: str,
        history: Sequence[Turn],
        mode: Mode,
        trace: TurnTrace,
        draft: DraftOptions | None,
        snapshot: Snapshot,
    ) -> Generator[Event, None, None]:
        question = self._validate(question)
        if snapshot.count() == 0:
            raise NoSourcesError(
                "The knowledge store is empty: run `python ingest.py` to load the articles."
            )
        deadline = time.monotonic() + self.settings.answer_deadline
        asked: Lang = reading_language(question, [t.content for t in history if t.role == "user"])
        lang: Lang = (draft.language if draft else None) or asked
        # A reader who asks in traditional characters reads our words in them (quotes verbatim).
        ours = traditional_in_place if lang == "zh" and writes_traditional(question) else str
        # A request about the last answer, or a pasted text, is not searched for as asked; of
        # a pasted text, only the reader's own words are the question.
        again = recap(question, history)
        paste = None if again else pasted(question)
        intents = classify_question(paste.asked if paste and paste.asked else question)
        trace.intents = tuple(sorted(intents))
        notices = [message(lang, key) for key in self._intent_notices(intents)]

        def decline(
            found: Sequence[Hit],
            why: str = "not_found",
            say: str = "not_found",
            from_record: bool = False,
            **values: str,
        ) -> Iterator[Event]:
            """Our words instead of an answer, before any model reads the passages."""
            mode: AnswerMode = "llm" if self.chat else "offline"
            return self._decline(
                trace, found, lang, mode, notices, intents, snapshot, draft, ours,
                why=why, say=say, values=values, from_record=from_record,
            )  # fmt: skip

        if (said := small_talk(question)) is not None:  # "你好", "谢谢": our words, no search
            yield from decline(
                [], why="small_talk", say="thanks" if said == "thanks" else "introduction"
            )
            return

        with trace.timed("rewrite"):
            if again or paste:
                standalone, lexical_query = again.answer if again else question, None
            else:
                standalone, lexical_query = self._standalone(
                    question, history, asked, deadline, trace.calls_for("rewrite")
                )
        with trace.timed("retrieval"):
            retriever = self.retriever.on(snapshot)
            subject: Verdict | None = None
            if paste:
                standalone, subject = self._subject(paste.text, retriever)
            trace.standalone, trace.lexical_query = standalone, lexical_query
            hits = retriever.search(standalone, self.settings.top_k, lexical_query=lexical_query)
            # The sentences the answer rests on when they are known before any search: the
            # last answer's quotes, or the article's own counterpoints (``conversation``).
            fixed: list[tuple[str, Hit]] = []
            label = "offline_label"
            if again:
                fixed, label = _holding(again.chosen, hits), "recap_label"
                trace.conversation = "recap"
            elif paste:
                trace.conversation = "pasted"
            elif asks_counterpoints(question):
                named = bool(counterpoints_subject(question))
                path, newest = self._asked_about(history, hits, retriever, snapshot, named=named)
                points = self._argument(path, hits, snapshot, ("counterpoint", "risk"))
                if newest is not None and points:
                    notices.append(message(lang, "counter_newest", title=newest.chunk.title,
                                           date=self._date_label(newest, lang)))  # fmt: skip
                fixed = [(p.text, hit) for p, hit in points]
                against = any(p.role == "counterpoint" for p, _ in points)
                label = "counter_label" if against else "counter_risks_label"
                trace.conversation = "counterpoints" if fixed else None
            elif whole := about_the_article(question):  # "这篇文章讲了什么？"
                roles: tuple[Role, ...] = (
                    ("thesis", "step", "conclusion") if whole == "outline" else ("source",)
                )
                path, newest = self._asked_about(history, hits, retriever, snapshot, named=False)
                label = f"{whole}_label"
                # Several articles and none meant: "this article" could be any, so each newest
                # article's own view, to ask on about one.
                views = self._views(hits, snapshot) if whole == "outline" and newest else []
                if len(views) > 1:
                    fixed, label = views, "outlines_label"
                    notices.append(message(lang, "outlines_hint"))
                else:
                    points = self._argument(path, hits, snapshot, roles)
                    if (
                        draft and whole == "outline"
                    ):  # a draft's length: its view and conclusion kept
                        points = _abridged(points, draft.excerpts)
                    fixed = [(p.text, hit) for p, hit in points]
                    if newest is not None and fixed:
                        notices.append(message(lang, "article_newest", title=newest.chunk.title,
                                               date=self._date_label(newest, lang)))  # fmt: skip
                trace.conversation = whole if fixed else None
            if fixed:
                hits = list({hit.chunk.chunk_id: hit for _, hit in fixed}.values())

            def judge(text: str) -> Verdict:
                return self._judge(retriever, text, hits)

            def covered(verdict: Verdict) -> bool:
                # A model reading the passages can still decline: only the clearly off-topic
                # is refused before it.
                return verdict.answers if self.chat is None else verdict.for_model

            judged = lexical_query or standalone  # in the language the store was searched in
            if fixed:  # what the reader saw, or what the article says against itself
                verdict = Verdict(1.0)
            elif subject is not None:
                verdict = subject
            else:
                verdict = judge(judged)
            if not covered(verdict) and QuestionIntent.PERSONALISED_ADVICE in intents:
                # "我适合买588930吗？": our statement answers the advice, the documents its topic
                topic = advice_topic(judged)
                if topic != judged:
                    verdict = max(verdict, judge(topic))
        trace.hits = hits
        if elsewhere := _other_companies(paste.asked if paste else question, hits):
            # "易方达的人工智能ETF怎么样？": our passages about our own ETF do not answer it.
            publishers = dict.fromkeys(p for h in hits if (p := h.chunk.meta("publisher")))
            yield from decline(
                hits, why="other_company", say="other_company",
                names="、".join(elsewhere), publishers="、".join(publishers) or "—",
            )  # fmt: skip
            return
        if not (draft or again or paste) and (facts := about.asked(question)) and hits:
            # "这篇文章是谁发的？", "588930的风险等级？": the article's record answers, not its text.
            rating = "risk_level" in facts
            rated = [h for h in hits if about.rates(question, h.chunk)] if rating else []
            best = (rated or hits)[0]
            dated = self._date_label(best, lang)
            statement = about.describe(facts, best.chunk, dated, lang, rated=bool(rated))
            trace.record_of = about.stated_from(facts, best.chunk, rated=bool(rated))
            yield from decline(
                hits, why="about_article", say="about_record", from_record=True, statement=statement
            )
            return
        if not covered(verdict):
            yield from decline(hits, say="pasted_declined" if paste else "not_found")
            return
        # A pasted text is no source: the reader is told so before what our articles say.
        lead = ours(message(lang, "pasted_note")) if paste else None
        # Excerpts are chosen for what was searched when the message itself is no question.
        quoted = standalone if again or paste else question
        at = {hit.chunk.chunk_id: n for n, hit in enumerate(hits, start=1)}
        framing = Framing(lead, [(text, at[hit.chunk.chunk_id]) for text, hit in fixed], label)

        if self.chat is None:
            trace.mode, trace.why = "offline", "no_key"
            yield from self._quote(
                trace, quoted, hits, verdict, lang, "offline",
                [message(lang, "offline_notice"), *notices], [], intents, snapshot, draft, ours,
                framing=framing,
            )  # fmt: skip
            return

        # A draft does not restate the client's particulars its topic gave (``particulars``),
        # nor does an advisor's text asked for without the desk (/api/chat, /v1's advisor model).
        drafting = draft is not None or mode == "advisor"
        told = particulars.of(question, [h.chunk for h in hits]).restated if drafting else None
        gate = SentenceGate([h.chunk.text for h in hits], secrets=[prompt("system")], withhold=told)
        trace.mode = "llm"
        # The model is asked about a pasted text's subject, and never sent the text.
        asking = _asking(paste, lang) if paste else question
        task = _FIXED_TASKS.get(label)
        focus = (task, [text for text, _ in fixed]) if task and fixed else None
        deltas = self.chat.stream(
            build_messages(
                asking, _for_model(history, lang, hits), hits, mode, draft=draft, lang=lang, unsure=not verdict.sure,
                focus=focus,
            ),
            deadline=deadline,
            calls=trace.calls_for("answer"),
        )  # fmt: skip
        if lead:
            yield Delta(f"{lead}\n\n")  # as the answer has it (below)
        try:
            with trace.timed("model"), contextlib.closing(deltas):
                for delta in deltas:
                    trace.wrote(delta)
                    for piece in gate.feed(delta):
                        yield Delta(piece)
                for piece in gate.close():
                    yield Delta(piece)
        except ModelUnavailableError as error:
            log.warning("model unavailable (%s): %s; answering with excerpts", error.kind, error)
            trace.mode, trace.why = "fallback", error.kind
            yield from self._quote(
                trace, quoted, hits, verdict, lang, "fallback",
                [message(lang, "fallback_notice"), *notices], [], intents, snapshot, draft, ours,
                framing=framing,
            )  # fmt: skip
            return

        findings = list(gate.findings)
        if gate.removed:
            notices.append(message(lang, "removed"))
        if gate.withheld:
            notices.append(message(lang, "particulars_withheld"))
        if not re.search(r"\[\d+\]", gate.text) and declines(gate.text):
            # The model read the passages and found no answer in them: our words say so.
            answered = trace.answered_by()
            yield from self._decline(
                trace, hits, lang, "llm", notices, intents, snapshot, draft, ours,
                model=answered.model if answered else self.chat.name, shown=bool(trace.streamed),
                why="model_declined", say="pasted_declined" if paste else "not_found",
            )  # fmt: skip
            return
        if not re.search(r"\[\d+\]", gate.text):
            # Nothing citable survived (all removed, or an answer with no sources): use excerpts.
            log.warning("model answer had no citable content after checks; answering with excerpts")
            trace.mode, trace.why = "fallback", "nothing_citable"
            yield from self._quote(
                trace, quoted, hits, verdict, lang, "fallback",
                notices, findings, intents, snapshot, draft, ours, replaced="replaced",
                framing=framing,
            )  # fmt: skip
            return
        if not is_chinese(gate.text) if lang == "zh" else written_in_chinese(gate.text):
            # A reader cannot use an answer in another language; the sources' own words, framed
            # in the reader's, can.
            log.warning("model answered in another language than the question's; using excerpts")
            trace.mode, trace.why = "fallback", "wrong_language"
            yield from self._quote(
                trace, quoted, hits, verdict, lang, "fallback",
                notices, findings, intents, snapshot, draft, ours, replaced="wrong_language",
                framing=framing,
            )  # fmt: skip
            return
        cited = [hits[gate.mapping[n] - 1] for n in sorted(gate.mapping)]
        answered = trace.answered_by()
        model = answered.model if answered else self.chat.name
        if answered is not None and answered.endpoint != "primary":
            first = trace.calls_for("answer")[0]
            trace.why = f"failover:{first.outcome}"
            notices.append(message(lang, "failover", model=model))
        yield self._finish(
            f"{lead}\n\n{gate.text}" if lead else gate.text,
            cited,
            hits,
            lang,
            "llm",
            model,
            notices,
            findings,
            intents,
            snapshot,
            draft=draft,
            ours=ours,
        )

    # -- steps -------------------------------------------------------------------------------

    def _validate(self, question: str) -> str:
        question = (question or "").strip()
        if not question:
            raise InputError("The question is empty: type a question about the articles.")
        if too_long := self.overlong(question):
            raise InputError(_too_long(too_long))
        return question

    def overlong(self, message: str) -> Overlong | None:
        """Whether a message is too long to answer, as every path judges it (the web chat
        before it asks; the engine for the others)."""
        settings = self.settings
        return overlong(message.strip(), settings.max_question_chars, settings.max_pasted_chars)

    @staticmethod
    def _intent_notices(intents: frozenset[str]) -> list[str]:
        order = ("personalised_advice", "prediction", "rule_change")
        keys = {
            "personalised_advice": "personalised",
            "prediction": "prediction",
            "rule_change": "rule_change",
        }
        return [keys[i] for i in order if i in intents]

    def _standalone(
        self,
        question: str,
        history: Sequence[Turn],
        lang: Lang,
        deadline: float,
        calls: list[ModelCall],
    ) -> tuple[str, str | None]:
        """The question to retrieve with, and a Chinese version for BM25 when the model gives one."""
        needs_rewrite = bool(history) or lang == "en"
        if self.chat is not None and needs_rewrite:
            budget = min(deadline, time.monotonic() + min(10.0, self.settings.answer_deadline / 3))
            try:
                parsed = parse_condensed(
                    self.chat.complete(
                        condense_messages(question, _for_model(history, lang)),
                        deadline=budget,
                        calls=calls,
                    )
                )
            except ModelUnavailableError as error:
                log.info("question rewrite skipped (%s): %s", error.kind, error)
                parsed = None
            if parsed:
                return parsed
        return condense_offline(question, history), None

    def _decline(
        self,
        trace: TurnTrace,
        hits: Sequence[Hit],
        lang: Lang,
        mode: AnswerMode,
        notices: list[str],
        intents: frozenset[str],
        snapshot: Snapshot,
        draft: DraftOptions | None,
        ours: Callable[[str], str],
        *,
        model: str | None = None,
        shown: bool = False,
        why: str = "not_found",
        say: str = "not_found",
        values: Mapping[str, str] | None = None,
        from_record: bool = False,
    ) -> Iterator[Event]:
        """The documents do not cover the question: say so (``say``: or greet, or thank, or
        state an article's record), cite nothing. ``shown``: the reader already saw text of this
        turn, which the final Answer replaces (module docstring)."""
        trace.why = why
        text = ours(message(lang, say, topics=self.site.topics[lang], **(values or {})))
        if mode != "fallback" and not shown:
            yield Delta(text)
        yield self._finish(
            text,
            [],
            hits,
            lang,
            mode,
            model,
            notices,
            [],
            intents,
            snapshot,
            draft=draft,
            ours=ours,
            topic=trace.question,  # a draft citing nothing is about the product it names
            from_record=from_record,
        )

    def _quote(
        self,
        trace: TurnTrace,
        question: str,
        hits: Sequence[Hit],
        verdict: Verdict,
        lang: Lang,
        mode: AnswerMode,
        notices: list[str],
        findings: list[Finding],
        intents: frozenset[str],
        snapshot: Snapshot,
        draft: DraftOptions | None,
        ours: Callable[[str], str],
        *,
        replaced: str | None = None,
        framing: Framing = Framing(),
    ) -> Iterator[Event]:
        """Excerpts in the model's place (offline, or the model failed). No model read the
        passages, so the decision's strict reading holds: a question they do not answer is
        declined, and one they may not answer is told so before the excerpts. ``replaced``:
        they stand for a model's answer the checks set aside, and this message says why."""
        if not verdict.answers:
            yield from self._decline(
                trace, hits, lang, mode, notices, intents, snapshot, draft, ours,
                say="pasted_declined" if framing.lead else "not_found",
            )  # fmt: skip
            return
        text, cited = self._excerpts(question, hits, lang, draft, snapshot, framing)
        if not verdict.sure:
            text = f"{message(lang, 'unsure')}\n{text}"
        if framing.lead:
            text = f"{framing.lead}\n{text}"
        text = ours(text)
        if replaced:
            notices = [*notices, message(lang, replaced)]
        if mode != "fallback":
            yield Delta(text)
        yield self._finish(
            text, cited, hits, lang, mode, None, notices, findings, intents, snapshot,
            draft=draft, ours=ours,
        )  # fmt: skip

    def _excerpts(
        self,
        question: str,
        hits: Sequence[Hit],
        lang: Lang,
        draft: DraftOptions | None,
        snapshot: Snapshot,
        framing: Framing = Framing(),
    ) -> tuple[str, list[Hit]]:
        """The extractive answer, markers numbered in order of use, and the hits it cites:
        the sentences ``framing`` fixes when they are known, else those chosen for the
        question."""
        if framing.fixed:
            excerpts = [Excerpt(n, 0, text, 1.0) for text, n in framing.fixed]
        else:
            # English: with Chinese renderings of the words this snapshot's corpus uses.
            retriever = self.retriever.on(snapshot)
            searched = retriever.searched_text(question)
            # An advisor's length without a model; an investor's answer quotes LIMIT sentences.
            n, chunks = (draft.excerpts, max(3, draft.excerpts)) if draft else (LIMIT, 3)
            excerpts = select_sentences(
                searched, hits, snapshot.lexical().idf, limit=n, chunks=chunks,
                likeness=retriever.likeness(question),
            )  # fmt: skip
        # Offline means no key; with one, the notices say why the model's answer is not here.
        label = _WITH_A_MODEL.get(framing.label, framing.label) if self.chat else framing.label
        said = message(lang, label, date=self._date_label(hits[0], lang))
        quoted, sources = render(excerpts)
        return f"{said}\n{quoted}", [hits[n - 1] for n in sources]

    def _judge(self, retriever: Retriever, text: str, hits: list[Hit]) -> Verdict:
        """The answer-or-decline decision on ``hits`` for ``text``, at the configured floors."""
        return retriever.verdict(
            text,
            hits,
            floor=self.settings.relevance_floor,
            floor_other=self.settings.relevance_floor_other,
        )

    def _subject(self, text: str, retriever: Retriever) -> tuple[str, Verdict]:
        """What a pasted text says that our passages answer for sure, and how surely: its
        sentences judged one at a time (a text's length and its mix of subjects are no
        question's, and the decision was fitted on questions). Nothing answered: the text
        itself to record, and a verdict that declines."""
        sure = []
        for sentence in split_sentences(text)[:PASTED_SENTENCES]:
            verdict = self._judge(
                retriever, sentence, retriever.search(sentence, self.settings.top_k)
            )
            if verdict.sure:
                sure.append((sentence, verdict))
        if not sure:
            return text[:200], Verdict(0.0)
        return " ".join(s for s, _ in sure), max(v for _, v in sure)

    def _asked_about(
        self,
        history: Sequence[Turn],
        hits: Sequence[Hit],
        retriever: Retriever,
        snapshot: Snapshot,
        *,
        named: bool,
    ) -> tuple[str | None, Hit | None]:
        """The article a request about an article's argument is about (its case against, its
        gist, its sources), and the newest article's passage when that is the article for want
        of any other (the reader is told so).

        The one the request names (``named``: "DeepSeek有什么反方观点？", its search's best
        hit); else the one the last answer cited, whose words lead the search to it (a bare
        "有什么反方观点？" or "这篇文章讲了什么？" after a conversation about robots asks about
        robots, and "有哪些看空的理由需要注意呢？" was searched for as it stood, finding
        whichever article says 看空); else, with nothing to go on, the newest article."""
        if named:
            return (hits[0].chunk.path if hits else None), None
        if (said := last_cited(history)) and (found := retriever.search(said[:1000], 1)):
            return found[0].chunk.path, None
        newest = self._newest(snapshot)
        several = newest is not None and len(snapshot.index_state()) > 1
        return (newest.chunk.path if newest else None), newest if several else None

    def _views(
        self, hits: Sequence[Hit], snapshot: Snapshot, most: int = 5
    ) -> list[tuple[str, Hit]]:
        """The view of each of the ``most`` newest articles that states one (its thesis, else
        its conclusion), newest first."""
        views: list[tuple[str, Hit]] = []
        for chunk in _newest_first(snapshot):
            found = self._argument(chunk.path, hits, snapshot, ("thesis", "conclusion"))
            found.sort(key=lambda pair: pair[0].role != "thesis")  # the thesis first, if any
            views += [(p.text, hit) for p, hit in found[:1]]
            if len(views) == most:
                break
        return views

    @staticmethod
    def _newest(snapshot: Snapshot) -> Hit | None:
        """A passage of the most recently published article: its title and date are every
        passage's."""
        articles = _newest_first(snapshot)
        return Hit(articles[0], 0.0, 0.0, 0.0) if articles else None

    def _argument(
        self, path: str | None, hits: Sequence[Hit], snapshot: Snapshot, roles: Sequence[Role]
    ) -> list[tuple[ArgumentPoint, Hit]]:
        """The points of the given roles in the argument of the article at ``path`` (its
        argument map's), each with its passage: the search's hit where it found it."""
        if self.argument is None or path is None:
            return []
        ids = snapshot.index_state().get(path, {})
        chunks = sorted(snapshot.get(list(ids)), key=lambda c: int(c.meta("ordinal") or 0))
        found = {h.chunk.chunk_id: h for h in hits}
        found |= {c.chunk_id: Hit(c, 0.0, 0.0, 0.0) for c in chunks if c.chunk_id not in found}
        return [
            (p, found[p.chunk_id])
            for p in self.argument(chunks)
            if p.role in roles and p.chunk_id in found
        ]

    def _date_label(self, hit: Hit, lang: Lang) -> str:
        month = _month(hit.chunk.meta("published"))
        if month is None:
            return "未注明日期" if lang == "zh" else "an undated source"
        year, mon = month
        return f"{year}年{mon}月" if lang == "zh" else date(year, mon, 1).strftime("%B %Y")

    def _age_notice(self, hits: Sequence[Hit], lang: Lang) -> str | None:
        dated = [(m, h) for h in hits if (m := _month(h.chunk.meta("published")))]
        if not dated:
            return None
        (year, mon), oldest = min(dated, key=lambda pair: pair[0])
        today = self.today()
        months = max(0, (today.year - year) * 12 + today.month - mon)
        return message(
            lang, "source_date", date=self._date_label(oldest, lang), age=age_text(months, lang)
        )

    def default_disclosure(self) -> str:
        """The disclosure shown where there is no article to take one from (errors, refusals)."""
        return self._disclosure(self.store.snapshot(), [], [])

    @staticmethod
    def _disclosure(snapshot: Snapshot, cited: Sequence[Hit], retrieved: Sequence[Hit]) -> str:
        keys = list(dict.fromkeys(h.chunk.meta("disclosure_id") for h in (cited or retrieved)))
        texts = [t for k in keys if k and (t := snapshot.disclosure(k))]
        if not texts:
            texts = [snapshot.default_disclosure() or message("zh", "disclosure_fallback")]
        return "\n\n".join(texts)

    def _finish(
        self,
        text: str,
        cited: Sequence[Hit],
        retrieved: Sequence[Hit],
        lang: Lang,
        mode: AnswerMode,
        model: str | None,
        notices: list[str],
        findings: list[Finding],
        intents: frozenset[str],
        snapshot: Snapshot,
        draft: DraftOptions | None = None,
        ours: Callable[[str], str] = str,
        topic: str = "",
        from_record: bool = False,
    ) -> Answer:
        """Citations, figure check, disclosure and notices: the one exit of every answer.

        ``ours`` renders our own words in the reader's script (``traditional_in_place``): the
        notices always, and the answer too when it is ours (excerpts, refusals), not a model's
        text already streamed as it was written. ``topic``: what a draft that cites nothing was
        asked about, whose product its suitability statement is about (``suitability.assess``).
        ``from_record``: the text states an article's record (``about``), whose dates and
        product codes are no claims to check."""
        keys = [k for k in self._intent_notices(intents) if k in ("personalised", "prediction")]
        said = [message(lang, k) for k in keys]
        # A draft is the adviser's text to a client: it states the limit in its own voice (no
        # "I", no "see a licensed adviser": the adviser is the one writing).
        voiced = [f"{k}_draft" if draft and k == "personalised" else k for k in keys]
        lead = [ours(message(lang, k)) for k in voiced]  # ours before a model's text too
        notices = [n for n in notices if n not in said]  # said once, at the top
        suits = (
            assess(
                draft.client_level,
                [h.chunk for h in cited],
                lang,
                [h.chunk for h in retrieved],
                topic,
            )
            if draft
            else None
        )
        if suits:  # a notice, so the audit row records what the advisor was told
            notices = [suits.text, *notices]
        body = "\n\n".join([*lead, text]) if lead else text
        note = message(lang, "masked_source")
        citations = self._citations(body, cited, note, self.settings.knowledge_dir)
        # A figure is checked against the passages its sentence cites, as the reader sees them
        # (masked); the answer marks each unsupported one, and each is a finding on that span.
        figures = (
            []
            if from_record
            else unsupported_by_citations(
                body, [c.text for c in citations], extra=[c.published or "" for c in citations]
            )
        )
        body, figures = mark_unverified(body, figures, message(lang, "unverified_figure"))
        # A client below the product's level, or not assessed, opens the draft, in the words
        # the client reads (the notice above is the advisor's). Code states it from the sources'
        # metadata (the product's code is no claim to check), after the check.
        top = f"{ours(suits.to_client)}\n\n" if suits and suits.at_top else ""
        body = top + body
        all_findings = [
            *findings,
            *(
                make_finding("FIGURE-001", body, len(top) + f.start, len(top) + f.end)
                for f in figures
            ),
        ]
        if figures:
            notices.append(message(lang, "unsupported_figure"))
        retrieved_out = [
            Retrieved(
                rank,
                h.chunk.chunk_id,
                h.chunk.title,
                shown_path(h.chunk.path, self.settings.knowledge_dir),
                mask_blocked(h.chunk.text, note)[0],
                round(h.score, 6),
            )
            for rank, h in enumerate(retrieved, start=1)
        ]
        if any(note in c.text for c in citations) or any(note in r.text for r in retrieved_out):
            notices.append(message(lang, "source_masked"))
        age = self._age_notice(cited, lang)  # a refusal quotes nothing to date
        notices = list(
            dict.fromkeys([*notices, *([age] if age else []), message(lang, "ai_label")])
        )
        if model is None:  # excerpts or a refusal: our words around verbatim quotes
            body = ours(body)
        return Answer(
            answer=body,
            citations=citations,
            retrieved=retrieved_out,
            disclosure=self._disclosure(snapshot, cited, retrieved),
            mode=mode,
            model=model,
            notices=[ours(n) for n in notices],
            findings=[f.to_dict() for f in all_findings],
        )

    @staticmethod
    def _citations(
        text: str, cited: Sequence[Hit], note: str, knowledge_dir: Path
    ) -> list[Citation]:
        """One citation per cited hit, its text masked (``mask_blocked``) and its quote taken
        from the sentences left standing."""
        claims: dict[int, list[str]] = {}
        for claim, numbers in markers_by_sentence(text):
            for n in numbers:
                claims.setdefault(n, []).append(claim)
        out = []
        for n, hit in enumerate(cited, start=1):
            shown, standing = mask_blocked(hit.chunk.text, note)
            quote = best_quote(" ".join(claims.get(n, [])), standing) if standing else ""
            path = shown_path(hit.chunk.path, knowledge_dir)
            out.append(Citation.of(n, hit.chunk, quote, text=shown, path=path))
        return out
