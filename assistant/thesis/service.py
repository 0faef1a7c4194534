"""Argument maps: built once per article version, kept, recorded, and shown as of today.

- **Once per version.** A map is keyed by the article's path and content hash (``doc_hash``, the
  version ingest stores on every chunk). It is built on first request, kept in memory and in
  ``<data dir>/thesis/`` (so a restart does not pay for it again), and rebuilt when the article
  changes. A map built from excerpts because the model failed is retried after a few minutes; one
  built offline is rebuilt once a model is configured.
- **Online or extractive.** With a model, the model drafts the steps (``draft``); offline, or
  when the draft fails or leaves nothing, the article's structure gives them (``extract``). The
  thesis and the disclosure's risks are always quoted from the article.
- **Recorded like an answer.** Each build is one row of the audit trail (its ``turn_id`` is on
  the map), with the chunks and versions it rests on, the map as text, its notices, findings
  and the disclosure.
- **Shown as of today.** The article's age, the notices that state it, and the disclosure in
  force are attached every time a map is shown, in every channel, never kept with it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from ..answer import AnswerEngine, AnswerMode, Citation, shown_path
from ..audit import AuditRecord, CallRef, CitationRef, RetrievedRef
from ..audit.log import now
from ..compliance import check_text
from ..errors import InputError, ModelUnavailableError, NoSourcesError
from ..modelcalls import ModelCall
from ..prompts import Lang, age_text, message, prompt
from ..store import Snapshot, StoredChunk
from ..text import is_chinese
from ..trace import disclosure_refs
from .draft import Draft, draft_map
from .extract import Citer, argues, counterpoint_notice, extract
from .model import ArgumentMap, Evidence, Point, Step, say
from .outline import date_label, render_outline

log = logging.getLogger(__name__)
RETRY_FALLBACK_AFTER = 300.0  # seconds before a map built without the model asks it again
# What built a map besides the article: the rules and the prompt. A kept map built by others is
# rebuilt, as one of an older article version is.
BUILDER = hashlib.sha256(
    (Path(__file__).parent.parent / "resources" / "thesis.toml").read_bytes()
    + prompt("thesis_system").encode()
    + b"thesis-3"  # statements, not selling: a clause that sells is no step's sentence
).hexdigest()[:12]


class ThesisService:
    def __init__(self, engine: AnswerEngine, cache_dir: Path | None = None) -> None:
        self.engine = engine
        self.cache_dir = cache_dir or engine.settings.data_dir / "thesis"
        self._kept: dict[str, ArgumentMap] = {}
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    # -- public ------------------------------------------------------------------------------

    def maps(
        self, *, channel: str = "cli", path: str | None = None, newest: int | None = None
    ) -> list[ArgumentMap]:
        """Every article's map (or one article's, or those of the ``newest`` articles by date),
        as shown today, with its disclosure, in the order of the articles' names."""
        # One published snapshot from the article list to the last map: a sync publishing
        # meanwhile changes no map halfway (the same rule as an answer).
        with self.engine.store.reading() as snapshot:
            state = snapshot.index_state()
            if not state:
                raise NoSourcesError(
                    "The knowledge store is empty: run `python ingest.py` to load the articles."
                )
            self._forget_gone(state, snapshot)
            if path is not None:
                # The path a map names (relative to the knowledge folder), or the store's key.
                chosen = {k: v for k, v in state.items() if path in (k, self._shown(k))}
                if not chosen:
                    known = ", ".join(sorted(self._shown(k) for k in state))
                    raise InputError(
                        f"No article is stored as {path!r}; the articles are: {known}."
                    )
                state = chosen
            if newest is not None:
                state = _newest(snapshot, state, newest)
            return [
                self._show(self._map(key, ids, channel, snapshot), snapshot)
                for key, ids in sorted(state.items())
            ]

    def _shown(self, key: str) -> str:
        """An article's name as maps show it: never a server path."""
        return shown_path(key, self.engine.settings.knowledge_dir)

    # -- kept maps ---------------------------------------------------------------------------

    def _map(self, path: str, ids: dict[str, str], channel: str, snapshot: Snapshot) -> ArgumentMap:
        versions = set(ids.values())
        version = versions.pop() if len(versions) == 1 else ""  # "" = mid-sync: never kept
        with self._guard:
            lock = self._locks.setdefault(path, threading.Lock())
        with lock:  # one build per article at a time; others wait for it and reuse it
            kept = self._recall(path, version)
            if kept is not None:
                return kept
            built = self._build(path, version, snapshot, list(ids), channel)
            if version:
                self._keep(path, built)
            return built

    def _forget_gone(self, stored: Mapping[str, object], snapshot: Snapshot) -> None:
        """Drop the kept maps of articles no longer stored: a withdrawn article's argument, in
        memory or on disk, outlives it nowhere.

        Only a listing on the snapshot still served may judge what is gone: one that began
        before a sync published an article would take the map just kept for it for a
        withdrawn one's. The check and the deletion hold the guard ``_keep`` holds, so no map
        of a later generation is kept between them."""
        with self._guard:
            if snapshot is not self.engine.store.snapshot():
                return
            for key in [k for k in self._kept if k not in stored]:
                del self._kept[key]
            if self.cache_dir.is_dir():
                wanted = {self._file(key).name for key in stored}
                for file in self.cache_dir.glob("*.json"):
                    if file.name not in wanted:
                        file.unlink(missing_ok=True)

    def _file(self, path: str) -> Path:
        return self.cache_dir / f"{hashlib.sha256(path.encode()).hexdigest()[:16]}.json"

    def _recall(self, path: str, version: str) -> ArgumentMap | None:
        kept = self._kept.get(path)
        if kept is None and self._file(path).exists():
            try:
                kept = ArgumentMap.from_dict(json.loads(self._file(path).read_text("utf-8")))
            except (OSError, ValueError, KeyError, TypeError) as error:
                log.warning("ignoring the unreadable kept map %s: %s", self._file(path), error)
        if kept is None or not version or (kept.version, kept.builder) != (version, BUILDER):
            return None
        online = self.engine.chat is not None
        if kept.mode == "offline" and online:
            return None
        if kept.mode == "fallback":
            built = datetime.fromisoformat(kept.built_at)
            if not online or (datetime.now(UTC) - built).total_seconds() > RETRY_FALLBACK_AFTER:
                return None
        self._kept[path] = kept
        return kept

    def _keep(self, key: str, built: ArgumentMap) -> None:
        with self._guard:  # never between ``_forget_gone``'s check and its deletion
            self._kept[key] = built
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            target = self._file(key)
            partial = target.with_suffix(".tmp")
            partial.write_text(json.dumps(built.to_dict(), ensure_ascii=False), "utf-8")
            partial.replace(target)

    # -- building ----------------------------------------------------------------------------

    def _build(
        self, path: str, version: str, snapshot: Snapshot, ids: Sequence[str], channel: str
    ) -> ArgumentMap:
        chunks = snapshot.get(list(ids))
        began = time.monotonic()
        chunks = sorted(chunks, key=lambda c: int(c.meta("ordinal") or 0))
        first = chunks[0]
        lang: Lang = "zh" if is_chinese(first.title + first.text) else "en"
        citer = Citer(lang, self.engine.settings.knowledge_dir)
        extracted = extract(chunks, lang, citer)
        steps, counter = extracted.steps, extracted.counterpoints
        mode: AnswerMode = "offline"
        model: str | None = None
        notices = [say(lang, "offline")]
        draft = Draft()
        calls: list[ModelCall] = []
        why: str | None = "no_key"
        chat = self.engine.chat
        if chat is not None:
            body = [c for c in chunks if c.meta("kind") != "disclosure"]
            deadline = time.monotonic() + self.engine.settings.answer_deadline
            try:
                draft = draft_map(
                    chat, body, lang=lang, deadline=deadline, citer=citer, calls=calls
                )
            except ModelUnavailableError as error:
                log.warning("thesis map of %s from excerpts: model unavailable (%s)", path, error)
                mode, why, notices = "fallback", error.kind, [say(lang, "fallback")]
            else:
                answered = [c for c in calls if c.ok]
                if draft.steps:
                    mode, why, notices = "llm", None, list(draft.notices)
                    model = answered[-1].model if answered else chat.name
                    steps, counter = draft.steps, draft.counterpoints or counter
                else:
                    mode, why = "fallback", "nothing_citable"
                    notices = [*draft.notices, say(lang, "replaced")]
        if plainly := counterpoint_notice(counter, extracted.risks, lang):
            notices.append(plainly)
        if not argues(extracted):
            notices.append(say(lang, "no_argument"))
        built = _renumbered(
            ArgumentMap(
                path=self._shown(path),
                title=first.title,
                publisher=first.meta("publisher"),
                published=first.meta("published"),
                version=version,
                lang=lang,
                thesis=extracted.thesis,
                steps=steps,
                counterpoints=[*counter, *extracted.risks],
                mode=mode,
                model=model,
                notices=notices,
                disclosure_id=first.meta("disclosure_id"),
                builder=BUILDER,
                built_at=datetime.now(UTC).isoformat(timespec="seconds"),
                turn_id=uuid.uuid4().hex,
            )
        )
        findings = [*draft.findings, *(f for text in _shown(built) for f in check_text(text))]
        built.findings = [f.to_dict() for f in findings]
        self._record(built, chunks, snapshot, channel, calls, why, began)
        return built

    def _record(
        self,
        built: ArgumentMap,
        chunks: Sequence[StoredChunk],
        snapshot: Snapshot,
        channel: str,
        calls: Sequence[ModelCall],
        why: str | None,
        began: float,
    ) -> None:
        """One audit row per build, like an answer's: what it rests on, the model requests it
        made, and the map as shown (as text), its notices, findings and disclosure."""
        if self.engine.audit is None:
            return
        shown = self._show(built, snapshot)
        known = {key for c in chunks if (key := c.meta("disclosure_id"))}
        record = AuditRecord(
            turn_id=built.turn_id,
            at=now(),
            kind="thesis",
            channel=channel,
            session=None,
            outcome="complete",
            mode=built.mode,
            why=why,
            model=built.model,
            audience="advisor" if channel == "advisor" else "investor",
            question=f"[thesis map] {built.title} ({built.path})",
            history_turns=0,
            retrieved=tuple(
                RetrievedRef(rank, c.chunk_id, c.path, c.meta("doc_hash"), 0.0)
                for rank, c in enumerate(chunks, start=1)
            ),
            answer=render_outline(shown),
            citations=tuple(
                CitationRef(c.n, c.chunk_id, c.quote, built.version or None)
                for c in shown.citations()
            ),
            notices=tuple(shown.notices),
            findings=tuple(shown.findings),
            disclosures=disclosure_refs(shown.disclosure, known),
            calls=tuple(CallRef.of("thesis", call) for call in calls),
            latency_ms={"total": round((time.monotonic() - began) * 1000, 1)},
        )
        self.engine.audit.write_or_spill(record)

    # -- showing -----------------------------------------------------------------------------

    def _show(self, kept: ArgumentMap, snapshot: Snapshot) -> ArgumentMap:
        """The kept map with today's age, its notices and the disclosure in force."""
        disclosure = (
            (kept.disclosure_id and snapshot.disclosure(kept.disclosure_id))
            or snapshot.default_disclosure()
            or message("zh", "disclosure_fallback")
        )
        age = _months_since(kept.published, self.engine.today())
        notices = list(kept.notices)
        if age is not None and (when := date_label(kept.published, kept.lang)):
            span = age_text(age, kept.lang)
            notices.append(message(kept.lang, "source_date", date=when, age=span))
        notices.append(say(kept.lang, "ai_label"))
        return replace(
            kept, disclosure=disclosure, age_months=age, notices=list(dict.fromkeys(notices))
        )


def _newest(
    snapshot: Snapshot, state: dict[str, dict[str, str]], n: int
) -> dict[str, dict[str, str]]:
    """The ``n`` most recently published articles (an undated one counts as oldest): a page
    shows a few maps, and must not pay for a map of every article in a large library."""

    def published(key: str) -> str:
        first = snapshot.get([next(iter(state[key]))])
        return (first[0].meta("published") or "") if first else ""

    chosen = sorted(state, key=lambda key: (published(key), key), reverse=True)[: max(n, 0)]
    return {key: state[key] for key in chosen}


def _months_since(published: str | None, today: date) -> int | None:
    match = re.match(r"(\d{4})-(\d{1,2})", published or "")
    if not match:
        return None
    return max(0, (today.year - int(match[1])) * 12 + today.month - int(match[2]))


def _shown(m: ArgumentMap) -> list[str]:
    """Every text the map shows in its own lines (quotes are the sources' own sentences)."""
    texts = [m.thesis.text] if m.thesis else []
    for step in m.steps:
        texts.append(step.claim)
        texts.extend(e.text for e in step.evidence)
    texts.extend(p.text for p in m.counterpoints)
    return texts


def _renumbered(m: ArgumentMap) -> ArgumentMap:
    """Citation numbers 1, 2, 3… in the order the map shows them (one number per chunk)."""
    old_chunk = {c.n: c.chunk_id for c in m.citations()}
    order: dict[str, int] = {}
    for c in m.citations():
        order.setdefault(c.chunk_id, len(order) + 1)

    def cites(citations: list[Citation]) -> list[Citation]:
        return [replace(c, n=order[c.chunk_id]) for c in citations]

    def step(s: Step) -> Step:
        evidence = [Evidence(e.text, e.label, order[old_chunk[e.n]]) for e in s.evidence]
        return replace(s, citations=cites(s.citations), evidence=evidence)

    def point(p: Point) -> Point:
        return replace(p, citations=cites(p.citations))

    return replace(
        m,
        thesis=point(m.thesis) if m.thesis else None,
        steps=[step(s) for s in m.steps],
        counterpoints=[point(p) for p in m.counterpoints],
    )
