"""Generations of the store: each sync writes a new Chroma collection, then publishes it.

The chunks live in one collection per generation (``articles.g000012``). A sync writes the next
generation beside the one being served (:class:`Build`): unchanged chunks are copied with
their vectors, only new text is embedded. The generation's BM25 index is saved under
``<data dir>/lexical/<generation>/``; then the collection's metadata is marked ``published``
(one atomic write in Chroma). The published generation with the latest mark is the store's
contents; a published generation is never written again, which is what lets a question keep
reading the one it started on while the next is built and swapped in.

A build that was interrupted (Ctrl-C, a crash, SIGKILL) is never read: the next sync resumes
it when this process holds the store alone (what it embedded is kept), and superseded
generations are dropped once no reader needs them. On a shared Chroma server other
processes may still be reading a superseded generation, so it is kept for a grace period.

A store written before generations (one collection named ``articles``) counts as generation 0,
published; the first sync replaces it.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import shutil
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.documents import Document

from .embeddings import Embedder
from .lexical import LexicalIndex
from .lexical import fingerprint as fingerprint_of
from .snapshot import PAGE, Metadata, Snapshot, pages

log = logging.getLogger(__name__)

_NUMBER = re.compile(r"\.g(\d{6,})$")
_SHARED_GRACE_S = 600  # on a shared server, a superseded generation stays this long for readers
_STALE_BUILD_S = 86_400  # on a shared server, an unpublished build this old was abandoned


@dataclass(frozen=True)
class Generation:
    name: str
    collection: Any  # chromadb Collection
    seq: int
    published: int | None  # when (ns since the epoch), or None while it is being built
    started: int


class Generations:
    """The generations of one store in one Chroma client, and their BM25 folders."""

    def __init__(self, client: Any, prefix: str, lexical_dir: Path, *, shared: bool) -> None:
        self.client = client
        self.prefix = prefix
        self.lexical_dir = lexical_dir
        self.shared = shared

    def all(self) -> list[Generation]:
        found = []
        for collection in self.client.list_collections():
            name = str(collection.name)
            meta = collection.metadata or {}
            if name == self.prefix:  # written before generations: generation 0, published
                found.append(Generation(name, collection, 0, int(meta.get("published", 0)), 0))
            elif name.startswith(self.prefix + ".") and (match := _NUMBER.search(name)):
                published = meta.get("published")
                found.append(
                    Generation(
                        name,
                        collection,
                        int(match.group(1)),
                        int(published) if isinstance(published, int) else None,
                        int(meta.get("started", 0)),
                    )
                )
        return sorted(found, key=lambda g: g.seq)

    def published(self) -> Generation | None:
        """The generation the store serves: the one published last."""
        done = [g for g in self.all() if g.published is not None]
        return max(done, key=lambda g: (g.published, g.seq), default=None)

    def begin(self, embedder: str, *, fresh: bool) -> Generation:
        """The generation a sync writes: a new one, or (holding the store alone, not
        ``fresh``) the unfinished build an interrupted sync left."""
        generations = self.all()
        if not self.shared:  # we hold the store alone: an unpublished build is ours to resume
            builds = [g for g in generations if g.published is None]
            resumable = builds[-1] if builds and not fresh else None
            if resumable and (resumable.collection.metadata or {}).get("embedder") != embedder:
                resumable = None
            for stale in builds:
                if stale is not resumable:
                    self.drop(stale.name)
            if resumable is not None:
                log.info("Resuming the unfinished build %s.", resumable.name)
                return resumable
        seq = max((g.seq for g in generations), default=0) + 1
        while True:
            name = f"{self.prefix}.g{seq:06d}"
            started = time.time_ns()
            try:
                collection = self.client.create_collection(
                    name=name,
                    embedding_function=None,
                    metadata={"embedder": embedder, "started": started},
                    configuration={"hnsw": {"space": "cosine"}},
                )
            except Exception:  # another client took this number (a shared server)
                if not self.shared or seq > 10**6:
                    raise
                seq += 1
                continue
            return Generation(name, collection, seq, None, started)

    def drop(self, name: str) -> None:
        try:
            self.client.delete_collection(name=name)
        except Exception:  # already gone
            log.debug("collection %s did not exist", name)
        shutil.rmtree(self.lexical_dir / name, ignore_errors=True)

    def sweep(self) -> None:
        """At start, holding the store alone: drop superseded generations and scratch folders;
        keep the published one and the newest unfinished build (a sync resumes it)."""
        generations = self.all()
        published = self.published()
        builds = [g for g in generations if g.published is None]
        keep = {g.name for g in (published, *builds[-1:]) if g is not None}
        for generation in generations:
            if generation.name not in keep:
                self.drop(generation.name)
        if self.lexical_dir.is_dir():  # also the single index kept before generations
            for entry in self.lexical_dir.iterdir():
                if entry.is_dir() and entry.name not in keep:
                    shutil.rmtree(entry, ignore_errors=True)
                elif entry.is_file():
                    entry.unlink()

    def sweep_shared(self) -> None:
        """On a shared server: drop generations superseded long enough ago for every reader
        to have moved on, and builds abandoned for a day."""
        now = time.time_ns()
        generations = self.all()
        published = sorted(
            (g for g in generations if g.published is not None), key=lambda g: g.published or 0
        )
        for older, newer in itertools.pairwise(published):
            if now - (newer.published or 0) > _SHARED_GRACE_S * 10**9:
                self.drop(older.name)
        for build in generations:
            if build.published is None and now - build.started > _STALE_BUILD_S * 10**9:
                self.drop(build.name)

    def lexical(self, generation: Generation) -> LexicalIndex:
        """The generation's saved BM25 index; rebuilt (and saved) when missing or stale."""
        collection = generation.collection
        ids = [chunk_id for page in pages(collection, []) for chunk_id in page["ids"]]
        saved = LexicalIndex.load(self.lexical_dir / generation.name)
        if saved is not None and saved.fingerprint == fingerprint_of(ids):
            return saved
        log.info("Rebuilding the BM25 index of generation %s.", generation.name)
        texts: dict[str, str] = {}
        for page in pages(collection, ["documents"]):
            texts.update(zip(page["ids"], page["documents"], strict=True))
        ids = sorted(texts)
        index = LexicalIndex.build(ids, [texts[i] for i in ids])
        self.save_lexical(index, generation.name)
        return index

    def save_lexical(self, index: LexicalIndex, name: str) -> None:
        """Save into a folder of this process's own, then move it into place whole."""
        self.lexical_dir.mkdir(parents=True, exist_ok=True)
        scratch = self.lexical_dir / f".{name}.{os.getpid()}.{uuid.uuid4().hex[:8]}"
        index.save(scratch)
        target = self.lexical_dir / name
        if target.exists():  # left by a build that was interrupted before it was published
            shutil.rmtree(target)
        scratch.rename(target)


class Build:
    """A generation being written: no question reads it until the store publishes it.

    ``put`` stores chunks from parsed articles (embedding only text the store has no vector
    for), ``carry`` copies chunks of the published generation as they are. Whatever the
    build held before (resumed after an interruption) and was neither put nor carried is
    dropped at publication.
    """

    def __init__(self, generation: Generation, embedder: Embedder, source: Snapshot | None) -> None:
        self.name = generation.name
        self.generation = generation
        self.embedded = 0  # chunks this build had to embed
        self._embedder = embedder
        self.collection = generation.collection
        self._source = source
        self._present = {
            chunk_id for page in pages(self.collection, []) for chunk_id in page["ids"]
        }
        self._texts: dict[str, str] = {}  # chunk id → stored document, for the BM25 index
        self.paths: set[str] = set()  # the articles it holds

    @property
    def resumed(self) -> int:
        """Chunks found in the build when it was opened (work an interrupted sync left)."""
        return len(self._present)

    def put(self, documents: Sequence[Document]) -> int:
        """Store chunks (``page_content`` is embedded, ``id`` the chunk id); returns how many
        had to be embedded (the others' vectors were in this build or the published one)."""
        documents = [d for d in documents if d.id]
        fresh = [d for d in documents if d.id not in self._present]
        known: dict[str, Any] = {}
        if self._source is not None and fresh:
            for page in self._source.records([str(d.id) for d in fresh], ["embeddings"]):
                known.update(zip(page["ids"], page["embeddings"], strict=True))
        needed = [d for d in fresh if d.id not in known]
        vectors = self._embedder.embed_documents([d.page_content for d in needed])
        known.update(zip((str(d.id) for d in needed), vectors, strict=True))
        for start in range(0, len(fresh), PAGE):
            part = fresh[start : start + PAGE]
            self.collection.add(
                ids=[str(d.id) for d in part],
                embeddings=np.asarray([known[str(d.id)] for d in part], dtype=np.float32),
                documents=[d.page_content for d in part],
                metadatas=[dict(d.metadata) for d in part],
            )
        again = [d for d in documents if d.id in self._present]
        for start in range(0, len(again), PAGE):
            part = again[start : start + PAGE]  # resumed chunks: their metadata may be older
            self.collection.update(
                ids=[str(d.id) for d in part], metadatas=[dict(d.metadata) for d in part]
            )
        for document in documents:
            self._present.add(str(document.id))
            self._texts[str(document.id)] = document.page_content
            self.paths.add(str(document.metadata.get("path", "")))
        self.embedded += len(needed)
        return len(needed)

    def carry(self, ids: Sequence[str]) -> None:
        """Copy these chunks of the published generation into the build, as they are."""
        if self._source is None or not ids:
            return
        for page in self._source.records(ids, ["embeddings", "documents", "metadatas"]):
            rows = list(
                zip(
                    page["ids"],
                    page["embeddings"],
                    page["documents"],
                    page["metadatas"],
                    strict=True,
                )
            )
            self.put_vectors(
                [r[0] for r in rows],
                [r[1] for r in rows],
                [r[2] for r in rows],
                [r[3] for r in rows],
            )

    def put_vectors(
        self,
        ids: Sequence[str],
        embeddings: Sequence[Any],
        documents: Sequence[str],
        metadatas: Sequence[Metadata],
    ) -> None:
        """Store chunks whose vectors are already known."""
        new = [i for i, chunk_id in enumerate(ids) if chunk_id not in self._present]
        old = [i for i, chunk_id in enumerate(ids) if chunk_id in self._present]
        for rows, write in ((new, self.collection.add), (old, self.collection.upsert)):
            for start in range(0, len(rows), PAGE):
                part = rows[start : start + PAGE]
                write(
                    ids=[ids[i] for i in part],
                    embeddings=np.asarray([embeddings[i] for i in part], dtype=np.float32),
                    documents=[documents[i] for i in part],
                    metadatas=[dict(metadatas[i]) for i in part],
                )
        for chunk_id, document, meta in zip(ids, documents, metadatas, strict=True):
            self._present.add(chunk_id)
            self._texts[chunk_id] = document
            self.paths.add(str(meta.get("path", "")))

    def finish(self) -> tuple[list[str], list[str]]:
        """Drop what nobody asked for; the chunk ids and texts the generation holds."""
        unwanted = sorted(self._present - self._texts.keys())
        for start in range(0, len(unwanted), PAGE):
            self.collection.delete(ids=unwanted[start : start + PAGE])
        ids = sorted(self._texts)
        stored = self.collection.count()
        if stored != len(ids):
            raise RuntimeError(
                f"Generation {self.name} holds {stored} chunks where {len(ids)} were written; "
                "it was not published. Run the sync again."
            )
        return ids, [self._texts[chunk_id] for chunk_id in ids]
