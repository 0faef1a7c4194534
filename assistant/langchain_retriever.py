"""The knowledge base as a LangChain retriever, for applications that bring their own chain.

An existing LangChain or LangGraph application can use the articles without our engine::

    from assistant.langchain_retriever import KnowledgeBaseRetriever

    retriever = KnowledgeBaseRetriever.from_settings()      # ASSISTANT_DATA_DIR, .env
    docs = retriever.invoke("为什么说DeepSeek反而利好算力?")

Each ``Document`` is one passage, verbatim, found by the same hybrid search as the engine (e5
and BM25 fused, then the second stage). Its metadata carries what a citation needs — ``n`` (its
rank, for a ``[n]`` marker), ``citation`` (a formatted source line), the chunk id, title,
publisher, date, section, page and path — the scores, and the article's risk disclosure
(``disclosure``, verbatim), which fund marketing must show beside anything taken from it.
With ``only_relevant`` a question the articles do not cover gets no documents, by the same
answer-or-decline decision the engine makes offline.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from .config import Settings, load_settings
from .retrieval import Hit, Retriever


def citation_line(hit: Hit) -> str:
    """《title》, publisher, date, section, page: how a source is named beside its marker."""
    chunk = hit.chunk
    page = chunk.meta("page")
    parts = [
        f"《{chunk.title}》" if chunk.title else chunk.path,
        chunk.meta("publisher"),
        chunk.meta("published"),
        chunk.meta("section"),
        f"p. {page}" if page else None,
    ]
    return ", ".join(part for part in parts if part)


class KnowledgeBaseRetriever(BaseRetriever):
    """Passages of the knowledge base for a question, best first, as LangChain Documents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: Retriever
    k: int = 5
    only_relevant: bool = False
    relevance_floor: float = 0.875
    relevance_floor_other: float = 0.85

    @classmethod
    def from_settings(
        cls, settings: Settings | None = None, **fields: Any
    ) -> KnowledgeBaseRetriever:
        """Open the store that ``settings`` (default: the environment and .env) point at."""
        from .factory import build_store

        settings = settings or load_settings()
        store = build_store(settings)
        fields.setdefault("k", settings.top_k)
        fields.setdefault("relevance_floor", settings.relevance_floor)
        fields.setdefault("relevance_floor_other", settings.relevance_floor_other)
        return cls(retriever=Retriever(store, store.embedder), **fields)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        hits = self.retriever.search(query, self.k)
        if self.only_relevant and not self.retriever.relevant(
            query, hits, floor=self.relevance_floor, floor_other=self.relevance_floor_other
        ):
            return []
        return [self._document(n, hit) for n, hit in enumerate(hits, start=1)]

    def _document(self, n: int, hit: Hit) -> Document:
        chunk = hit.chunk
        key = chunk.meta("disclosure_id")
        disclosure = self.retriever.store.disclosure(key) if key else None
        page = chunk.meta("page")
        metadata: dict[str, Any] = {
            "n": n,
            "citation": citation_line(hit),
            "chunk_id": chunk.chunk_id,
            "title": chunk.title,
            "publisher": chunk.meta("publisher"),
            "published": chunk.meta("published"),
            "section": chunk.meta("section"),
            "page": int(page) if page else None,
            "path": chunk.path,
            "score": round(hit.score, 6),
            "dense": round(hit.dense, 6),
            "lexical": round(hit.lexical, 6),
            "disclosure_id": key,
            "disclosure": disclosure,
        }
        return Document(page_content=chunk.text, metadata=metadata, id=chunk.chunk_id)
