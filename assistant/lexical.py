"""The lexical side of retrieval: BM25 over jieba tokens, derived from what Chroma holds.

Chroma is the one source of truth. This index is rebuilt from the collection's documents and
saved beside it with the fingerprint (a hash of the chunk ids) it was built from, so a stale
index is noticed and rebuilt rather than trusted.

jieba gets a user dictionary of the domain's terms (``resources/user_dict.txt``: DeepSeek, 算力,
杰文斯悖论, fund codes), so they stay whole tokens. English is lower-cased; punctuation and
a short list of function words are dropped.

Each chunk is tokenized sentence by sentence, once, when the index is built; BM25 indexes the
sentences' tokens together, and the index keeps them apart too (``sentences``), as token ids
saved beside the BM25 arrays. The second stage of retrieval reads a candidate's sentences from
there instead of running jieba over its text again for every question.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import math
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from .text import search_form, split_sentences

_DATA = Path(__file__).parent / "resources"
_WORD = re.compile(r"\w")  # letters, digits and Han characters alike
_STOPWORDS = frozenset(
    line.strip()
    for line in (_DATA / "stopwords.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
)
_jieba_lock = threading.Lock()
_DECODED = 4096  # chunks whose decoded sentences an index keeps (about 1 KB each)
# Part of every index's fingerprint: a changed dictionary or stopword list rebuilds the index.
TOKENIZER_VERSION = hashlib.sha256(
    b"jieba-search-2+opencc-t2s+sentences\0"
    + (_DATA / "user_dict.txt").read_bytes()
    + b"\0"
    + (_DATA / "stopwords.txt").read_bytes()
).hexdigest()[:16]


@lru_cache(maxsize=1)
def _tokenizer() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    with _jieba_lock:
        tokenizer = jieba.Tokenizer()
        # An open handle: given a path, jieba never closes the file it opens.
        with (_DATA / "user_dict.txt").open("rb") as handle:
            tokenizer.load_userdict(handle)
        tokenizer.initialize()
    return tokenizer


def tokenize(text: str) -> list[str]:
    """Search-mode jieba tokens of the simplified text, lower-cased, without punctuation and
    function words."""
    return list(_tokens(text))


@lru_cache(maxsize=16384)
def _tokens(text: str) -> tuple[str, ...]:
    """``tokenize``'s tokens, remembered: a question's text is tokenised by every step that
    reads it, and the same words and sentences recur across questions (jieba is most of the
    cost; the dictionary never changes while the process runs)."""
    tokens = []
    for token in _tokenizer().cut_for_search(search_form(text)):
        token = token.strip().lower()
        if token and _WORD.search(token) and token not in _STOPWORDS:
            tokens.append(token)
    return tuple(tokens)


def fingerprint(ids: Iterable[str]) -> str:
    digest = hashlib.sha256(TOKENIZER_VERSION.encode() + b"\n")
    for chunk_id in sorted(ids):
        digest.update(chunk_id.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def sentence_tokens(text: str) -> list[list[str]]:
    """The tokens of each sentence of ``text`` (at least one list, maybe empty)."""
    return [tokenize(sentence) for sentence in split_sentences(text)] or [[]]


@dataclass(frozen=True)
class Sentences:
    """Every chunk's sentences as token ids, flat: chunk ``i``'s sentences are
    ``chunk_ends[i-1]:chunk_ends[i]``, sentence ``j``'s tokens ``tokens[ends[j-1]:ends[j]]``."""

    tokens: np.ndarray
    ends: np.ndarray
    chunk_ends: np.ndarray

    @classmethod
    def of(cls, chunks: Sequence[list[list[str]]], vocab: dict[str, int]) -> Sentences:
        tokens = [vocab[t] for sentences in chunks for s in sentences for t in s]
        ends = np.cumsum([len(s) for sentences in chunks for s in sentences])
        chunk_ends = np.cumsum([len(sentences) for sentences in chunks])
        return cls(*(np.asarray(a, dtype=np.int32) for a in (tokens, ends, chunk_ends)))

    def of_row(self, row: int) -> list[np.ndarray]:
        first = int(self.chunk_ends[row - 1]) if row else 0
        start = int(self.ends[first - 1]) if first else 0
        bounds = [start, *self.ends[first : self.chunk_ends[row]]]
        return [self.tokens[a:b] for a, b in itertools.pairwise(bounds)]


@dataclass
class LexicalIndex:
    """A BM25 index whose rows are chunk ids, with each chunk's sentences' tokens."""

    ids: list[str]
    fingerprint: str
    _bm25: Any
    _sentences: Sentences | None = None
    _df: dict[str, int] | None = None

    def __post_init__(self) -> None:
        # Decoding tables for ``sentences``, made once with the index; a read writes only the
        # last chunks' decoded sentences (``_sets``).
        self._rows = {chunk_id: row for row, chunk_id in enumerate(self.ids)}
        vocab: dict[str, int] = self._bm25.vocab_dict if self.ids else {}
        self._words = [""] * (max(vocab.values(), default=-1) + 1)
        for word, i in vocab.items():
            self._words[i] = word
        self._sets: dict[int, list[frozenset[str]]] = {}  # ``sentences``, by row, once decoded

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> LexicalIndex:
        import bm25s

        bm25 = bm25s.BM25()
        sentences = None
        if ids:
            chunks = [sentence_tokens(text) for text in texts]
            bm25.index([[t for s in chunk for t in s] for chunk in chunks], show_progress=False)
            sentences = Sentences.of(chunks, bm25.vocab_dict)
        return cls(list(ids), fingerprint(ids), bm25, sentences)

    def sentences(self, chunk_id: str) -> list[frozenset[str]] | None:
        """The tokens of each sentence of the chunk, as built (None for a chunk not indexed)."""
        row = self._rows.get(chunk_id)
        if self._sentences is None or row is None:
            return None
        decoded = self._sets.get(row)
        if decoded is None:  # decoded once per index: the same chunks come back
            if len(self._sets) >= _DECODED:
                self._sets.clear()  # one call, safe while other questions' threads read it
            words = self._words
            decoded = [frozenset(words[i] for i in s) for s in self._sentences.of_row(row)]
            self._sets[row] = decoded
        return list(decoded)

    def search(self, query: str, k: int) -> list[tuple[str, float]]:
        """The ``k`` best (chunk id, BM25 score) pairs with a positive score, best first."""
        tokens = tokenize(query)
        if not self.ids or not tokens:
            return []
        scores = np.asarray(self._bm25.get_scores(tokens), dtype=np.float32)
        k = min(k, len(self.ids))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(self.ids[i], float(scores[i])) for i in top if scores[i] > 0]

    def document_frequency(self, token: str) -> int:
        """In how many chunks ``token`` occurs (0 when the corpus never uses it)."""
        if self._df is None:
            vocab: dict[str, int] = self._bm25.vocab_dict if self.ids else {}
            counts = np.diff(self._bm25.scores["indptr"]) if self.ids else np.zeros(0)
            self._df = {word: int(counts[i]) for word, i in vocab.items() if i < len(counts)}
        return self._df.get(token, 0)

    def idf(self, token: str) -> float:
        """Inverse document frequency; a word the corpus never uses counts as rare."""
        return math.log(1 + len(self.ids) / (1 + self.document_frequency(token)))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self.ids:
            self._bm25.save(str(directory))
        if self._sentences is not None:
            np.savez(directory / "sentences.npz", **vars(self._sentences))
        # The manifest is written last: a crash before it leaves an index that is rebuilt.
        manifest = {"ids": self.ids, "fingerprint": self.fingerprint}
        tmp = directory / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        tmp.replace(directory / "manifest.json")

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex | None:
        """The saved index, or None when there is none or it is unreadable."""
        import bm25s

        try:
            manifest = json.loads((directory / "manifest.json").read_text(encoding="utf-8"))
            ids = list(manifest["ids"])
            bm25 = bm25s.BM25.load(str(directory)) if ids else bm25s.BM25()
            sentences = None
            if ids:
                with np.load(directory / "sentences.npz") as saved:
                    sentences = Sentences(saved["tokens"], saved["ends"], saved["chunk_ends"])
        except (OSError, ValueError, KeyError):
            return None
        return cls(ids, str(manifest["fingerprint"]), bm25, sentences)
