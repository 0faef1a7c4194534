"""The knowledge store: Chroma (the one source of truth) plus the lexical index derived from it.

Two collections:
- ``articles`` (name in settings): one record per chunk. The document is the embedded text (the
  heading path, a newline, the chunk text); metadata carries the article's key (``path``), its
  content hash (``doc_hash``), title, publisher, date, section, page, kind and the id of the
  disclosure that applies.
- ``<name>_disclosures``: one record per distinct risk disclosure, keyed by its content hash,
  so an answer can attach the exact text that was in force, and the audit log can name its version.

The collection records the embedder that built it; opening it with another embedder is refused
(vectors of two models are not comparable) with the command that fixes it.

A running app sees a sync that ``python ingest.py`` completes in another process: the embedded
Chroma keeps its vector index in memory per process, and the BM25 index is cached here, so
:meth:`KnowledgeStore.refresh` (called before each question) reopens both when the sync record
on disk has changed. Reads and the reopen exclude each other, so a question in flight finishes
on the old store and the next one starts on the new.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.documents import Document

from .config import Settings
from .embeddings import Embedder
from .errors import ConfigurationError, EmbedderMismatchError
from .inventory import SyncRecord
from .lexical import LexicalIndex, fingerprint
from .text import disclosure_id

log = logging.getLogger(__name__)

Metadata = Mapping[str, str | int | float | bool]
_PAGE = 5000  # rows per Chroma get(): keeps memory flat on large stores


@dataclass(frozen=True)
class StoredChunk:
    chunk_id: str
    text: str  # as shown to users, without the heading prefix
    metadata: Metadata

    @property
    def path(self) -> str:
        return str(self.metadata.get("path", ""))

    @property
    def title(self) -> str:
        return str(self.metadata.get("title", ""))

    def meta(self, key: str) -> str | None:
        value = self.metadata.get(key)
        return None if value is None or value == "" else str(value)


def _display_text(document: str, metadata: Metadata) -> str:
    section = str(metadata.get("section") or "")
    prefix = section + "\n"
    return document[len(prefix) :] if section and document.startswith(prefix) else document


def _client(settings: Settings) -> Any:
    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=True)
    if settings.chroma_host:
        try:
            return chromadb.HttpClient(
                host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings
            )
        except Exception as exc:  # chromadb raises bare ValueError/ConnectionError here
            raise ConfigurationError(
                f"Cannot reach the Chroma server at {settings.chroma_host}:{settings.chroma_port} "
                f"({exc}); start it with `chroma run` or unset CHROMA_HOST."
            ) from exc
    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)


class _ReadersWriter:
    """Any number of readers at once, or one writer alone; a waiting writer holds off new readers."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writer = False

    @contextmanager
    def reading(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._writer)
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                self._condition.notify_all()

    @contextmanager
    def writing(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._writer)
            self._writer = True
            self._condition.wait_for(lambda: self._readers == 0)
        try:
            yield
        finally:
            with self._condition:
                self._writer = False
                self._condition.notify_all()


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _reads(
    method: Callable[Concatenate[KnowledgeStore, _P], _R],
) -> Callable[Concatenate[KnowledgeStore, _P], _R]:
    """A public read: it never runs while the store is being reopened (and must not nest)."""

    @functools.wraps(method)
    def guarded(store: KnowledgeStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with store._gate.reading():
            return method(store, *args, **kwargs)

    return guarded


class KnowledgeStore:
    """Chunks and disclosures in Chroma, with the lexical index kept in step."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        self.settings = settings
        self.embedder = embedder
        # Anything that writes below deletes it first: only a complete sync writes it back.
        self.sync_record = SyncRecord(settings)
        self._seen = self.sync_record.stamp()
        self._gate = _ReadersWriter()
        self._connect()

    # -- collections -------------------------------------------------------------------------

    def _connect(self) -> None:
        self._client = _client(self.settings)
        self._check_embedder(self.settings.collection)
        self.chunks = self._open(self.settings.collection)
        self.disclosures = self._open(f"{self.settings.collection}_disclosures")
        self._lexical: LexicalIndex | None = None

    def refresh(self) -> bool:
        """Reopen the store if another process has completed a sync since this one looked."""
        stamp = self.sync_record.stamp()
        if stamp is None or stamp == self._seen:
            return False  # nothing new, or a sync is under way: keep serving what is here
        with self._gate.writing():
            if stamp == self._seen:
                return False
            self._client.close()
            self._connect()
            self._seen = stamp
        log.info("The knowledge store was synced by another process; reopened it.")
        return True

    def record_sync(
        self, versions: Mapping[str, str | None], chunks: int, default_disclosure: str | None
    ) -> None:
        """Record a complete sync done through this store (so it does not reopen itself)."""
        self.sync_record.write(versions, chunks, default_disclosure)
        self._seen = self.sync_record.stamp()

    def _open(self, name: str) -> Chroma:
        return Chroma(
            collection_name=name,
            embedding_function=self.embedder,
            client=self._client,
            collection_metadata={"embedder": self.embedder.name},
            collection_configuration={"hnsw": {"space": "cosine"}},
        )

    def _check_embedder(self, name: str) -> None:
        try:
            existing = self._client.get_collection(name=name)
        except Exception:  # does not exist yet (chromadb raises NotFoundError or ValueError)
            return
        built_by = (existing.metadata or {}).get("embedder")
        if built_by and built_by != self.embedder.name and existing.count() > 0:
            raise EmbedderMismatchError(
                f"The store in {self.settings.data_dir} was built with the embedder {built_by!r}, "
                f"but the settings select {self.embedder.name!r}; vectors of different models "
                "cannot be mixed. Run `python ingest.py --rebuild` to re-embed everything."
            )

    def reset(self) -> None:
        """Drop every chunk, disclosure and the lexical index (``ingest --rebuild``)."""
        self.sync_record.invalidate()
        for name in (self.settings.collection, f"{self.settings.collection}_disclosures"):
            try:
                self._client.delete_collection(name=name)
            except Exception:  # already gone
                log.debug("collection %s did not exist", name)
        self.chunks = self._open(self.settings.collection)
        self.disclosures = self._open(f"{self.settings.collection}_disclosures")
        self._lexical = None
        manifest = self.settings.lexical_dir / "manifest.json"
        manifest.unlink(missing_ok=True)

    # -- reading -----------------------------------------------------------------------------

    @_reads
    def count(self) -> int:
        return int(self.chunks._collection.count())

    def _pages(self, include: list[str], where: dict[str, Any] | None = None) -> Any:
        offset = 0
        while True:
            page = self.chunks.get(where=where, include=include, limit=_PAGE, offset=offset)
            if not page["ids"]:
                return
            yield page
            offset += len(page["ids"])

    @_reads
    def index_state(self) -> dict[str, dict[str, str]]:
        """For each stored article key, its chunk ids mapped to the doc_hash they carry.

        An article with fewer chunks than it was stored with gets ``""`` for every chunk, so no
        version matches it and the next sync restores the missing ones.
        """
        state: dict[str, dict[str, str]] = {}
        expected: dict[str, int] = {}
        for page in self._pages(["metadatas"]):
            for chunk_id, meta in zip(page["ids"], page["metadatas"], strict=True):
                key = str(meta["path"])
                state.setdefault(key, {})[chunk_id] = str(meta.get("doc_hash", ""))
                if isinstance(count := meta.get("doc_chunks"), int):
                    expected[key] = max(expected.get(key, 0), count)
        for key, count in expected.items():
            if len(state[key]) < count:
                state[key] = dict.fromkeys(state[key], "")
        return state

    @_reads
    def get(self, ids: Sequence[str]) -> list[StoredChunk]:
        """The chunks with these ids, in the order asked (unknown ids are skipped)."""
        if not ids:
            return []
        # Chroma refuses a repeated id; the order asked for is restored below.
        found = self.chunks.get(ids=list(dict.fromkeys(ids)), include=["documents", "metadatas"])
        by_id = {
            chunk_id: StoredChunk(chunk_id, _display_text(doc, meta), meta)
            for chunk_id, doc, meta in zip(
                found["ids"], found["documents"], found["metadatas"], strict=True
            )
        }
        return [by_id[chunk_id] for chunk_id in ids if chunk_id in by_id]

    def documents(self) -> int:
        return len(self.index_state())  # not a guarded read itself: index_state is

    @_reads
    def dense_search(self, vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        """The ``k`` nearest chunks as (id, cosine similarity), best first."""
        if k <= 0:
            return []
        result = self.chunks._collection.query(
            query_embeddings=np.asarray([vector], dtype=np.float32),
            n_results=k,
            include=["distances"],
        )
        distances = result["distances"]
        assert distances is not None  # asked for in `include`
        return [
            (chunk_id, 1.0 - float(distance))
            for chunk_id, distance in zip(result["ids"][0], distances[0], strict=True)
        ]

    @_reads
    def disclosure(self, key: str) -> str | None:
        found = self.disclosures.get(ids=[key], include=["documents"])
        return str(found["documents"][0]) if found["ids"] else None

    @_reads
    def default_disclosure(self) -> str | None:
        found = self.disclosures.get(where={"default": True}, include=["documents"], limit=1)
        return str(found["documents"][0]) if found["ids"] else None

    # -- writing -----------------------------------------------------------------------------

    def add_documents(self, documents: Sequence[Document]) -> None:
        """Embed and upsert chunks (``page_content`` is what is embedded; ``id`` the chunk id)."""
        if documents:
            self.sync_record.invalidate()
            self.chunks.add_documents(list(documents))

    def update_metadata(self, ids: Sequence[str], metadatas: Sequence[Metadata]) -> None:
        if ids:
            self.sync_record.invalidate()
            self.chunks._collection.update(ids=list(ids), metadatas=[dict(m) for m in metadatas])

    def delete(self, ids: Sequence[str]) -> None:
        if ids:
            self.sync_record.invalidate()
        for start in range(0, len(ids), _PAGE):
            self.chunks.delete(ids=list(ids[start : start + _PAGE]))

    def put_disclosure(self, text: str, *, default: bool) -> str:
        """Store a disclosure once per distinct text; returns its version id."""
        key = disclosure_id(text)
        if not self.disclosures.get(ids=[key], include=[])["ids"]:
            self.sync_record.invalidate()
            self.disclosures.add_texts([text], metadatas=[{"default": default}], ids=[key])
        return key

    # -- the lexical index -------------------------------------------------------------------

    @_reads
    def lexical(self) -> LexicalIndex:
        """The BM25 index for the current contents, loaded or rebuilt as needed."""
        if self._lexical is None:
            self._lexical = self.sync_lexical()
        return self._lexical

    def sync_lexical(self, *, force: bool = False) -> LexicalIndex:
        """Load the saved index if it matches Chroma's contents, else rebuild and save it."""
        ids = [chunk_id for page in self._pages([]) for chunk_id in page["ids"]]
        saved = None if force else LexicalIndex.load(self.settings.lexical_dir)
        if saved is not None and saved.fingerprint == fingerprint(ids):
            self._lexical = saved
            return saved
        ids, texts = [], []
        for page in self._pages(["documents"]):
            ids.extend(page["ids"])
            texts.extend(page["documents"])
        index = LexicalIndex.build(ids, texts)
        self.sync_record.invalidate()
        index.save(self.settings.lexical_dir)
        self._lexical = index
        return index
