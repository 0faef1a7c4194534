"""What a question reads: one published generation of the store, loaded whole (``Snapshot``).

A snapshot is built once (by the store, at start or when a sync publishes) and never changes:
its Chroma collection is never written again once published, and its BM25 index, disclosures
and counts are in memory. A question holds one from its first search to its audit row; the
store retires a swapped-out snapshot only when no question holds it any more.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from .lexical import LexicalIndex
from .text import disclosure_id

__all__ = ["ChunkReader", "Metadata", "Snapshot", "StoredChunk", "disclosure_id", "pages"]

Metadata = Mapping[str, str | int | float | bool]
PAGE = 1000  # rows per Chroma call: keeps memory flat on large stores, under Chroma's batch cap


class ChunkReader(Protocol):
    """What retrieval reads: the store (its current snapshot) or one snapshot held for a question."""

    def count(self) -> int: ...
    def lexical(self) -> LexicalIndex: ...
    def get(self, ids: Sequence[str]) -> list[StoredChunk]: ...
    def dense_search(self, vector: Sequence[float], k: int) -> list[tuple[str, float]]: ...
    def disclosure(self, key: str) -> str | None: ...


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


def pages(collection: Any, include: list[str], ids: Sequence[str] | None = None) -> Iterator[Any]:
    """A collection's records (or those with ``ids``) a page at a time."""
    if ids is not None:
        for start in range(0, len(ids), PAGE):
            yield collection.get(ids=list(ids[start : start + PAGE]), include=include)
        return
    offset = 0
    while True:
        page = collection.get(include=include, limit=PAGE, offset=offset)
        if not page["ids"]:
            return
        yield page
        offset += len(page["ids"])


class Snapshot:
    """One published generation, loaded whole; nothing writes to it once it is published.

    Everything a question reads comes from here: dense search and chunk texts from the
    generation's collection, BM25 from its index, disclosures and counts from memory.
    """

    def __init__(
        self,
        generation: str | None,
        collection: Any,
        lexical: LexicalIndex,
        disclosures: Mapping[str, str],
        default_disclosure: str | None,
        documents: int | None,
    ) -> None:
        self.generation = generation
        self.collection = collection  # chromadb Collection (read it; never write to it)
        self._lexical = lexical
        self._disclosures = dict(disclosures)
        self._default = default_disclosure
        self._documents = len(self.index_state()) if documents is None else documents
        # Chunks already read: exact for as long as the snapshot lives (it never changes), and
        # no larger than the generation. A question fetches its candidates, then its audit
        # row their versions: the second read costs nothing (Chroma takes ~3 ms per get).
        self._chunks: dict[str, StoredChunk] = {}
        self._holders = 0
        self._retired = False
        self._state = threading.Condition()

    # -- reading -----------------------------------------------------------------------------

    def count(self) -> int:
        return len(self._lexical.ids)

    def documents(self) -> int:
        return self._documents

    def lexical(self) -> LexicalIndex:
        return self._lexical

    def disclosure(self, key: str) -> str | None:
        return self._disclosures.get(key)

    def default_disclosure(self) -> str | None:
        return self._disclosures.get(self._default) if self._default else None

    @property
    def default_disclosure_id(self) -> str | None:
        return self._default

    def get(self, ids: Sequence[str]) -> list[StoredChunk]:
        """The chunks with these ids, in the order asked (unknown ids are skipped)."""
        # Chroma refuses a repeated id; the order asked for is restored below.
        missing = [chunk_id for chunk_id in dict.fromkeys(ids) if chunk_id not in self._chunks]
        if missing and self.collection is not None:
            found = self.collection.get(ids=missing, include=["documents", "metadatas"])
            for chunk_id, doc, meta in zip(
                found["ids"], found["documents"], found["metadatas"], strict=True
            ):
                self._chunks[chunk_id] = StoredChunk(chunk_id, _display_text(doc, meta), meta)
        return [self._chunks[chunk_id] for chunk_id in ids if chunk_id in self._chunks]

    def dense_search(self, vector: Sequence[float], k: int) -> list[tuple[str, float]]:
        """The ``k`` nearest chunks as (id, cosine similarity), best first."""
        if k <= 0 or self.collection is None or not self.count():
            return []
        result = self.collection.query(
            query_embeddings=np.asarray([vector], dtype=np.float32),
            n_results=min(k, self.count()),
            include=["distances"],
        )
        distances = result["distances"]
        assert distances is not None  # asked for in `include`
        return [
            (chunk_id, 1.0 - float(distance))
            for chunk_id, distance in zip(result["ids"][0], distances[0], strict=True)
        ]

    def index_state(self) -> dict[str, dict[str, str]]:
        """For each stored article key, its chunk ids mapped to the doc_hash they carry.

        An article with fewer chunks than it was stored with gets ``""`` for every chunk, so no
        version matches it and the next sync restores the missing ones.
        """
        state: dict[str, dict[str, str]] = {}
        expected: dict[str, int] = {}
        if self.collection is None:
            return state
        for page in pages(self.collection, ["metadatas"]):
            for chunk_id, meta in zip(page["ids"], page["metadatas"], strict=True):
                key = str(meta["path"])
                state.setdefault(key, {})[chunk_id] = str(meta.get("doc_hash", ""))
                if isinstance(count := meta.get("doc_chunks"), int):
                    expected[key] = max(expected.get(key, 0), count)
        for key, count in expected.items():
            if len(state[key]) < count:
                state[key] = dict.fromkeys(state[key], "")
        return state

    def records(self, ids: Sequence[str], include: list[str]) -> Iterator[Any]:
        """Stored records a page at a time (for a sync that copies them forward, or a bench)."""
        if self.collection is not None:
            yield from pages(self.collection, include, ids)

    # -- who holds it ------------------------------------------------------------------------

    def hold(self) -> bool:
        """Count one more question reading it; False once it is retired."""
        with self._state:
            if self._retired:
                return False
            self._holders += 1
            return True

    def release(self) -> None:
        with self._state:
            self._holders -= 1
            self._state.notify_all()

    def retire(self, timeout: float) -> bool:
        """Wait until no question holds it, then refuse new holders; False on timeout."""
        with self._state:
            if not self._state.wait_for(lambda: self._holders == 0, timeout):
                return False
            self._retired = True
            return True


def empty_snapshot(disclosures: Mapping[str, str]) -> Snapshot:
    return Snapshot(None, None, LexicalIndex.build([], []), disclosures, None, 0)
