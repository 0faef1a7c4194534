"""The knowledge store: Chroma (the one source of truth) plus the lexical index derived from it.

The store serves one published generation at a time (``generations``) as a :class:`Snapshot`
(its collection, BM25 index, disclosures and counts, loaded whole before it is served), and a
sync publishes the next one and swaps it in whole:

- each question holds one snapshot from its first search to its audit row
  (:meth:`KnowledgeStore.reading`); a swapped-out snapshot is dropped once nobody holds it;
- a sync that fails or is killed publishes nothing, and a new snapshot that fails to load is
  not swapped in: the old one goes on serving;
- everything is loaded when the store opens (the vector index and the tokenizer too), not on
  the first question, and no read path writes.

Disclosures are kept once per distinct text in ``<name>_disclosures``, keyed by content hash and
never deleted, so an answer names the exact text in force and the audit log its version. Each
generation records which one is the default.

One process opens an embedded store at a time (``storelock``); with a Chroma server
(``CHROMA_HOST``) several may, and the app follows what others publish
(:meth:`KnowledgeStore.refresh`). A generation records the embedder that built it; reading it
with another embedder is refused (vectors of two models are not comparable) with the command
that fixes it.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings

from .config import Settings
from .embeddings import Embedder
from .errors import ConfigurationError, EmbedderMismatchError
from .generations import Build, Generation, Generations
from .inventory import SyncRecord
from .lexical import LexicalIndex
from .snapshot import (
    ChunkReader,
    Metadata,
    Snapshot,
    StoredChunk,
    disclosure_id,
    empty_snapshot,
    pages,
)
from .storelock import StoreLock, lock_store, waits_for_ingest

__all__ = [
    "Build",
    "ChunkReader",
    "KnowledgeStore",
    "Metadata",
    "Snapshot",
    "StoredChunk",
    "disclosure_id",
]

log = logging.getLogger(__name__)
_RETIRE_WAIT_S = 600.0  # how long a swapped-out snapshot waits for the questions holding it


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


def _let_go(lock: StoreLock | None, clients: list[Any]) -> None:
    for client in clients:
        client.close()
    if lock is not None:
        lock.release()


class KnowledgeStore:
    """The published snapshot a question reads, and the builds a sync writes."""

    def __init__(
        self, settings: Settings, embedder: Embedder, *, lock: StoreLock | None = None
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.sync_record = SyncRecord(settings)
        self.shared = bool(settings.chroma_host)  # a server other processes may write
        self._lock = None
        if not self.shared:
            self._lock = lock or lock_store(settings.data_dir, "reader", wait_for=waits_for_ingest)
        self._writing = threading.Lock()  # one sync at a time in this process
        self._refreshing = threading.Lock()
        self._refused: EmbedderMismatchError | None = None
        # Also when the store is dropped without close(): the lock must not outlive it.
        clients: list[Any] = []
        self._closer = weakref.finalize(self, _let_go, self._lock, clients)
        try:
            self._client = _client(settings)
            clients.append(self._client)
            self._disclosures = self._client.get_or_create_collection(
                name=f"{settings.collection}_disclosures",
                embedding_function=None,
                configuration={"hnsw": {"space": "cosine"}},
            )
            self.generations = Generations(
                self._client, settings.collection, settings.lexical_dir, shared=self.shared
            )
            if not self.shared:
                self.generations.sweep()
            self._current = self._load(self.generations.published())
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Let go of the store (and of the lock that keeps other processes out)."""
        self._closer()

    def __enter__(self) -> KnowledgeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def lock(self) -> StoreLock | None:
        return self._lock if self._closer.alive else None

    # -- the snapshot a question reads -------------------------------------------------------

    def snapshot(self) -> Snapshot:
        """The published snapshot now being served (see :meth:`reading` to hold one)."""
        if self._refused is not None:
            raise self._refused
        return self._current

    @contextmanager
    def reading(self) -> Iterator[Snapshot]:
        """Hold the current snapshot: it stays readable until the block ends, swap or not."""
        while True:
            snapshot = self.snapshot()
            if snapshot.hold():
                break  # else it was retired between the two lines: take the new one
        try:
            yield snapshot
        finally:
            snapshot.release()

    # Single reads on the current snapshot (evaluation, benches, tests, ingest's bookkeeping).
    def count(self) -> int:
        return self.snapshot().count()

    def documents(self) -> int:
        return self.snapshot().documents()

    def lexical(self) -> LexicalIndex:
        return self.snapshot().lexical()

    def get(self, ids: Sequence[str]) -> list[StoredChunk]:
        return self.snapshot().get(ids)

    def dense_search(self, vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        return self.snapshot().dense_search(vector, k)

    def disclosure(self, key: str) -> str | None:
        return self.snapshot().disclosure(key)

    def default_disclosure(self) -> str | None:
        return self.snapshot().default_disclosure()

    def index_state(self) -> dict[str, dict[str, str]]:
        return self.snapshot().index_state()

    def refresh(self) -> bool:
        """Serve a generation another process has published since (a shared server only).

        The new snapshot is loaded before it replaces the old; if loading fails, the old
        one goes on serving and the failure is logged.
        """
        with self._refreshing:
            latest = self.generations.published()
            if latest is None or latest.name == self._current.generation:
                return False
            try:
                snapshot = self._load(latest)
            except Exception:
                log.exception(
                    "Could not load generation %s; still serving the old one.", latest.name
                )
                return False
            self._current = snapshot
        log.info("Now serving generation %s (published by another process).", latest.name)
        return True

    def _load(self, generation: Generation | None, lexical: LexicalIndex | None = None) -> Snapshot:
        """A generation loaded whole: ids, BM25 index, disclosures, counts, vector index."""
        disclosures = self._all_disclosures()
        if generation is None:
            return empty_snapshot(disclosures)
        collection = generation.collection
        meta = collection.metadata or {}
        built_by = meta.get("embedder")
        if built_by and built_by != self.embedder.name and collection.count() > 0:
            self._refused = EmbedderMismatchError(
                f"The store in {self.settings.data_dir} was built with the embedder {built_by!r}, "
                f"but the settings select {self.embedder.name!r}; vectors of different models "
                "cannot be mixed. Run `python ingest.py --rebuild` to re-embed everything."
            )
            return empty_snapshot(disclosures)
        if lexical is None:
            lexical = self.generations.lexical(generation)
        documents = meta.get("documents")
        default = meta.get("default_disclosure")
        snapshot = Snapshot(
            generation.name,
            collection,
            lexical,
            disclosures,
            (str(default) or None) if default is not None else self._legacy_default(),
            documents if isinstance(documents, int) else None,  # None: counted (an old store)
        )
        self._warm(snapshot)
        return snapshot

    def _warm(self, snapshot: Snapshot) -> None:
        """Load the vector index and the tokenizer now, not on the first question."""
        snapshot.lexical().search("算力", 1)
        if snapshot.count():
            first = snapshot.collection.get(limit=1, include=["embeddings"])
            snapshot.dense_search(first["embeddings"][0], 1)

    def _all_disclosures(self) -> dict[str, str]:
        found: dict[str, str] = {}
        for page in pages(self._disclosures, ["documents"]):
            found.update(zip(page["ids"], (str(d) for d in page["documents"]), strict=True))
        return found

    def _legacy_default(self) -> str | None:
        found = self._disclosures.get(where={"default": True}, include=[], limit=1)
        return str(found["ids"][0]) if found["ids"] else None

    def put_disclosure(self, text: str) -> str:
        """Keep a disclosure once per distinct text (never deleted); returns its version id."""
        key = disclosure_id(text)
        if not self._disclosures.get(ids=[key], include=[])["ids"]:
            self._disclosures.add(
                ids=[key],
                embeddings=np.asarray(self.embedder.embed_documents([text]), dtype=np.float32),
                documents=[text],
                metadatas=[{"kind": "disclosure"}],
            )
        return key

    # -- writing -----------------------------------------------------------------------------

    @contextmanager
    def building(self, *, fresh: bool = False) -> Iterator[Build]:
        """A build of the next generation (one at a time). With ``fresh`` it starts empty
        (``ingest --rebuild``); otherwise it resumes the build an interrupted sync left."""
        with self._writing:
            source = None if fresh else self.snapshot()
            generation = self.generations.begin(self.embedder.name, fresh=fresh)
            yield Build(generation, self.embedder, source if source and source.count() else None)

    def publish(
        self,
        build: Build,
        *,
        versions: Mapping[str, str | None],
        default_disclosure: str | None,
    ) -> Snapshot:
        """Make the build the generation every new question reads; returns its snapshot.

        The snapshot is loaded before the build is marked published: if loading fails,
        nothing is published and the old generation goes on serving. The sync record is
        withdrawn before the mark and written after it, so a crash in between leaves no
        record vouching for the old contents.
        """
        ids, texts = build.finish()
        lexical = LexicalIndex.build(ids, texts)
        self.generations.save_lexical(lexical, build.name)
        default_id = self.put_disclosure(default_disclosure) if default_disclosure else ""
        meta = {
            "embedder": self.embedder.name,
            "started": build.generation.started,
            "chunks": len(ids),
            "documents": len(build.paths),
            "default_disclosure": default_id,
        }
        build.collection.modify(metadata=meta)
        snapshot = self._load(build.generation, lexical)
        self.sync_record.invalidate()
        build.collection.modify(metadata={**meta, "published": time.time_ns()})
        old, self._current = self._current, snapshot
        self._refused = None
        self.sync_record.write(versions, len(ids), default_disclosure, build.name)
        log.info("Published generation %s: %d chunks.", build.name, len(ids))
        self._retire(old)
        return snapshot

    def record_unchanged(
        self, versions: Mapping[str, str | None], default_disclosure: str | None
    ) -> None:
        """A sync that changed nothing: record that the published generation is current."""
        snapshot = self.snapshot()
        if snapshot.generation is None:
            return
        if not (self.settings.lexical_dir / snapshot.generation / "manifest.json").is_file():
            self.generations.save_lexical(snapshot.lexical(), snapshot.generation)  # deleted
        self.sync_record.write(versions, snapshot.count(), default_disclosure, snapshot.generation)

    def _retire(self, old: Snapshot) -> None:
        """Drop a swapped-out generation once no question holds it: now when none does,
        else in the background."""
        if self.shared:
            self.generations.sweep_shared()
            return
        if old.generation is None:
            return
        if old.retire(0):
            self.generations.drop(old.generation)
            return

        def drop() -> None:
            if old.retire(_RETIRE_WAIT_S):
                self.generations.drop(str(old.generation))
            else:  # still held: the next start drops it
                log.warning(
                    "Generation %s is still in use; left for the next start.", old.generation
                )

        threading.Thread(target=drop, name="retire-generation", daemon=True).start()
