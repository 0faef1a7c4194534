"""The one place where services are built from settings; everything else receives them."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Settings
from .embeddings import Embedder, build_embedder
from .ingest import Ingestor
from .inventory import SyncReport
from .store import KnowledgeStore

if TYPE_CHECKING:  # the answer side (openai, the engine) is imported only when built:
    from .answer import AnswerEngine  # `python ingest.py` starts faster without it
    from .llm import ChatModel

log = logging.getLogger("assistant")


def build_store(settings: Settings, embedder: Embedder | None = None) -> KnowledgeStore:
    return KnowledgeStore(settings, embedder or build_embedder(settings))


def sync_knowledge(
    settings: Settings,
    store: KnowledgeStore,
    paths: Sequence[Path] | None = None,
    *,
    rebuild: bool = False,
    progress: Callable[[int], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> SyncReport:
    """Sync ``paths`` (default: the knowledge folder) into the store."""
    if rebuild:
        store.reset()
    ingestor = Ingestor(
        store,
        max_bytes=settings.max_file_bytes,
        chunk_chars=settings.chunk_chars,
        chunk_overlap=settings.chunk_overlap,
        default_disclosure_dir=settings.knowledge_dir,
        batch_chunks=4 * settings.embed_batch_size,
        progress=progress,
    )
    return ingestor.sync(list(paths or [settings.knowledge_dir]), on_total=on_total)


def build_chat(settings: Settings, *, check: bool = True) -> ChatModel | None:
    """The chat model when a key is set (None = offline excerpt mode); warns on an unlisted model."""
    from .llm import OpenAICompatibleChat

    if not settings.online:
        log.info("DEEPSEEK_API_KEY is not set: answering in offline excerpt mode.")
        return None
    chat = OpenAICompatibleChat(settings)
    if check and (warning := chat.check_model()):
        log.warning(warning)
    return chat


def build_engine(
    settings: Settings,
    *,
    store: KnowledgeStore | None = None,
    chat: ChatModel | None = None,
    check_model: bool = True,
) -> AnswerEngine:
    from .answer import AnswerEngine
    from .audit import AuditLog
    from .retrieval import Retriever

    store = store or build_store(settings)
    return AnswerEngine(
        settings,
        store,
        Retriever(store, store.embedder),
        chat if chat is not None else build_chat(settings, check=check_model),
        audit=AuditLog(settings.data_dir / "audit.sqlite3"),
    )


def build_web_app(settings: Settings) -> object:
    """The HTTP app, with the knowledge folder ingested first when the store is empty."""
    from .web import Services, create_app

    store = build_store(settings)
    if store.count() == 0:
        log.info("The store is empty: ingesting %s first.", settings.knowledge_dir)
        report = sync_knowledge(settings, store)
        log.info(report.summary())
    return create_app(settings, Services(build_engine(settings, store=store)))
