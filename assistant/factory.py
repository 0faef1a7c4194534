"""The one place where services are built from settings; everything else receives them."""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Settings
from .embeddings import Embedder, build_embedder
from .errors import ConfigurationError
from .ingest import Ingestor
from .inventory import SyncReport
from .redact import redact_url
from .store import KnowledgeStore, StoredChunk
from .storelock import StoreLock

if TYPE_CHECKING:  # the answer side (openai, the engine) is imported only when built:
    from .answer import AnswerEngine  # `python ingest.py` starts faster without it
    from .audit import AuditLog
    from .conversation import ArgumentPoint
    from .llm import ChatModel, OpenAICompatibleChat
    from .prompts import Lang

log = logging.getLogger("assistant")


def build_store(
    settings: Settings,
    embedder: Embedder | None = None,
    *,
    lock: StoreLock | None = None,
    warm: bool = True,
) -> KnowledgeStore:
    """The store, its published generation loaded (``warm``: its vector index and tokenizer
    too); an embedded store is locked for this process first (``lock``, or a wait while an
    ingest holds it; an app holding it is refused)."""
    return KnowledgeStore(settings, embedder or build_embedder(settings), lock=lock, warm=warm)


def sync_knowledge(
    settings: Settings,
    store: KnowledgeStore,
    paths: Sequence[Path] | None = None,
    *,
    rebuild: bool = False,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    root: Path | None = None,
) -> SyncReport:
    """Sync ``paths`` (default: the knowledge folder) into the store; article keys are relative
    to ``root`` (default: the working directory)."""
    ingestor = Ingestor(
        store,
        max_bytes=settings.max_file_bytes,
        chunk_chars=settings.chunk_chars,
        chunk_overlap=settings.chunk_overlap,
        default_disclosure_dir=settings.knowledge_dir,
        batch_chunks=4 * settings.embed_batch_size,
        progress=progress,
    )
    return ingestor.sync(
        list(paths or [settings.knowledge_dir]), on_total=on_total, root=root, fresh=rebuild
    )


def build_chat(settings: Settings, *, check: bool = True) -> ChatModel | None:
    """The chat model when a key is set (None = offline excerpt mode), each endpoint behind its
    own circuit breaker, with the second model in front of the excerpts when one is configured;
    warns on an unlisted model."""
    from .failover import FailoverChat

    if not settings.online:
        if settings.fallback_base_url or settings.fallback_model:
            log.warning("DEEPSEEK_API_KEY is not set: the fallback model is not used either.")
        log.info("DEEPSEEK_API_KEY is not set: answering in offline excerpt mode.")
        return None
    primary = _endpoint(settings, "primary")
    fallback_settings = _fallback_settings(settings)
    models = [primary] + ([_endpoint(fallback_settings, "fallback")] if fallback_settings else [])
    for model in models if check else []:
        if warning := model.check_model():
            log.warning(warning)
    return FailoverChat(primary, models[1]) if len(models) > 1 else primary


def _endpoint(settings: Settings, endpoint: str) -> OpenAICompatibleChat:
    from .breaker import CircuitBreaker
    from .llm import OpenAICompatibleChat

    breaker = CircuitBreaker(
        f"{endpoint} ({settings.model})",
        failures=settings.breaker_failures,
        cooldown=settings.breaker_cooldown,
    )
    return OpenAICompatibleChat(settings, breaker=breaker, endpoint=endpoint)


def _fallback_settings(settings: Settings) -> Settings | None:
    """The main settings with the second endpoint's URL, key and model; None when unset."""
    if not (settings.fallback_base_url or settings.fallback_model):
        return None
    base_url = settings.fallback_base_url or settings.base_url
    key = settings.fallback_api_key
    if key is None and base_url != settings.base_url:
        raise ConfigurationError(
            "DEEPSEEK_FALLBACK_BASE_URL is set but DEEPSEEK_FALLBACK_API_KEY is not: set the "
            "second endpoint's key (the main key is never sent to another host)."
        )
    return settings.model_copy(
        update={
            "base_url": base_url,
            "api_key": key or settings.api_key,
            "model": settings.fallback_model or settings.model,
        }
    )


def spill_file(settings: Settings) -> Path:
    """Where audit records wait while their database fails: one file per database, so that
    ``audit replay`` never writes one database's records into another. The default SQLite
    trail's is ``audit-unwritten.jsonl``; a configured ``ASSISTANT_AUDIT_URL``'s is named by a
    hash of the URL without its password (``audit-unwritten-<hash>.jsonl``)."""
    if not settings.audit_url:
        return settings.data_dir / "audit-unwritten.jsonl"
    named = hashlib.sha256(redact_url(settings.audit_url.get_secret_value()).encode()).hexdigest()
    return settings.data_dir / f"audit-unwritten-{named[:12]}.jsonl"


def build_audit(settings: Settings) -> AuditLog:
    """The audit trail: ASSISTANT_AUDIT_URL, or SQLite in the data folder; rows past the
    retention period (ASSISTANT_AUDIT_RETENTION_DAYS) go as it opens."""
    from .audit import AuditLog

    url = settings.audit_url.get_secret_value() if settings.audit_url else None
    audit = AuditLog.open(url or settings.data_dir / "audit.sqlite3", spill=spill_file(settings))
    if settings.audit_retention_days:
        audit.purge(older_than_days=settings.audit_retention_days)
    return audit


def build_engine(
    settings: Settings,
    *,
    store: KnowledgeStore | None = None,
    chat: ChatModel | None = None,
    check_model: bool = True,
    audit: AuditLog | None = None,
) -> AnswerEngine:
    from .answer import AnswerEngine
    from .retrieval import Retriever

    store = store or build_store(settings)
    return AnswerEngine(
        settings,
        store,
        Retriever(store, store.embedder),
        chat if chat is not None else build_chat(settings, check=check_model),
        audit=audit or build_audit(settings),
        argument=functools.partial(_argument, settings.knowledge_dir),
    )


def _argument(knowledge_dir: Path, chunks: Sequence[StoredChunk]) -> list[ArgumentPoint]:
    """An article's argument as its map draws it (``thesis.extract``), each point a verbatim
    sentence: its thesis and steps, the counterpoints it makes and the risks its disclosure
    names, and the lines naming where its charts come from. The engine answers "这篇文章讲了
    什么？" and "有什么反方观点？" with them. Passed to the engine here, the one place that
    builds both (the map is built on the engine)."""
    from .conversation import ArgumentPoint, Role
    from .text import is_chinese
    from .thesis.extract import Citer, extract, sections
    from .thesis.model import Point, markers

    if not chunks:
        return []
    lang: Lang = "zh" if is_chinese(chunks[0].title + chunks[0].text) else "en"
    found = extract(chunks, lang, Citer(lang, knowledge_dir))
    thesis = [found.thesis] if found.thesis else []
    # The thesis as the article states it (a sentence's leading clause); a step by the
    # sentence that supports it (its claim may be a heading's words).
    points: list[tuple[Role, str, str]] = [
        ("thesis", p.text, p.citations[0].chunk_id) for p in thesis if p.citations
    ]
    # A step that sums the case up ("整体而言…", "Overall, …") is its conclusion.
    ends = markers("markers", "conclusion")

    def role(quote: str) -> Role:
        return "conclusion" if quote.lower().startswith(ends) else "step"

    points += [
        (role(s.citations[0].quote), s.citations[0].quote, s.citations[0].chunk_id)
        for s in found.steps
        if s.citations
    ]
    against: tuple[tuple[Role, list[Point]], ...] = (
        ("counterpoint", found.counterpoints),
        ("risk", found.risks),
    )
    points += [
        (role, p.text, p.citations[0].chunk_id) for role, ps in against for p in ps if p.citations
    ]
    for section in sections(chunks):  # an attribution line, after the caption it credits
        for s in section.sentences:
            credited = s.role == "caption" and any(
                a.role == "attribution" and a.paragraph == s.paragraph + 1
                for a in section.sentences
            )
            if credited or s.role == "attribution":
                points.append(("source", s.text, s.chunk.chunk_id))
    return [ArgumentPoint(text, chunk_id, role) for role, text, chunk_id in points]


def build_web_app(
    settings: Settings,
    *,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> object:
    """The HTTP app, with the store's published generation loaded and the knowledge folder
    ingested first when the store is empty (``progress`` and ``on_total`` follow that ingest:
    files done, files to do). It holds the embedded store for as long as it runs and syncs
    for ``ingest.py`` (``syncservice``). The Gradio app is built once the server runs; a
    starting page holds ``/`` meanwhile (``web.root``)."""
    from .storelock import lock_store, waits_for_ingest
    from .syncservice import SyncServer
    from .web import Services, create_app

    audit = build_audit(settings)  # a wrong ASSISTANT_AUDIT_URL stops the start before an ingest
    lock = None
    if not settings.chroma_host:
        lock = lock_store(
            settings.data_dir,
            "app",
            wait_for=waits_for_ingest,
            on_wait=lambda owner: log.info(
                "Waiting for %s to release the store…", owner and owner.describe()
            ),
        )
    # Warmed once the server is up (app.py), with the embedder: not in the way of its start.
    store = build_store(settings, lock=lock, warm=False)
    if store.count() == 0:
        folder = settings.knowledge_folder()
        log.info("The store is empty: ingesting %s first.", folder)
        report = sync_knowledge(settings, store, [folder], progress=progress, on_total=on_total)
        log.info(report.summary())
    if lock is not None:
        server = SyncServer(settings, store).start()
        lock.announce(role="app", socket=str(server.path))
    else:
        threading.Thread(target=_follow, args=(store,), name="store-refresh", daemon=True).start()
    return create_app(
        settings, Services(build_engine(settings, store=store, audit=audit)), ui="later"
    )


def _follow(store: KnowledgeStore, every: float = 5.0) -> None:
    """On a shared Chroma server, serve what other processes publish (checked every few s)."""
    while True:
        time.sleep(every)
        try:
            store.refresh()
        except Exception:  # the server is down for a moment: keep serving, look again later
            log.warning("Could not look for a new generation on the Chroma server.", exc_info=True)
