"""Chinese-aware chunking: sentences packed into chunks of about ``target_chars``, per section.

- **Sentences** are ``text.sentence_spans`` (one rule for every stage), with a newline inside a
  paragraph read as a wrapped line. Decimals (6.8%) never split, a quotation that itself holds
  sentences stays whole, and a footnote mark after a full stop stays with its sentence.
- **Chunks** never cut a sentence. Only a sentence longer than twice the target is split, at
  commas, and a comma-less run longer than that is cut hard. Every heading starts a new chunk,
  and its path is the chunk's ``section`` (not repeated in the text). A figure caption and its
  attribution join the chunk of the paragraph before them. Overlap repeats whole trailing
  sentences of the previous chunk of the same section, never across sections.
- **Ids** hash the article key, the section and the text, so an unchanged chunk keeps its id (and
  its embedding) across runs; identical chunks in one section get a counter to stay distinct.
- Chunk text is verbatim from the article's blocks, which are already in the project's normal
  form (:func:`assistant.text.normal_form`, applied to every format at ingest): sentences of a
  paragraph keep the spacing between them, paragraphs are joined with newlines. Text given to
  :class:`ChineseTextSplitter` directly is brought to that form first.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.documents import Document
from langchain_text_splitters import TextSplitter

from .documents import Article, Block
from .text import normal_form, strip_span
from .text import sentence_spans as text_sentence_spans


@dataclass(frozen=True)
class Chunk:
    chunk_id: str  # content hash: sha256(path, section, text) hex[:32]
    text: str  # the chunk as shown to users (no heading prefix)
    section: str | None  # heading path joined with " > ", None before the first heading
    ordinal: int  # position within the article, 0-based
    kind: str  # "body" or "disclosure"
    page: int | None = None

    @property
    def embed_text(self) -> str:
        """What is embedded and lexically indexed: the heading path, then the text."""
        return f"{self.section}\n{self.text}" if self.section else self.text


# -- sentences ------------------------------------------------------------------------------------

_COMMA = re.compile(r"，|,(?!\d)")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of one paragraph (``text.sentence_spans``; a newline
    inside a paragraph is a wrapped line, not a sentence end)."""
    return text_sentence_spans(text, lines=False)


def _long_sentence_spans(text: str, start: int, end: int, target: int) -> list[tuple[int, int]]:
    """Split a sentence over twice the target at commas, packed up to the target; cut if must."""
    cuts = [m.end() for m in _COMMA.finditer(text, start, end)]
    pieces = [strip_span(text, a, b) for a, b in zip([start, *cuts], [*cuts, end], strict=True)]
    packed: list[tuple[int, int]] = []
    for a, b in pieces:
        if a >= b:
            continue
        if packed and b - packed[-1][0] <= target:
            packed[-1] = (packed[-1][0], b)
        else:
            packed.append((a, b))
    out: list[tuple[int, int]] = []
    for a, b in packed:
        if b - a <= 2 * target:
            out.append((a, b))
        else:  # the last resort: no punctuation to split at
            out.extend((s, min(s + target, b)) for s in range(a, b, target))
    return out


def split_sentences(text: str) -> list[str]:
    """The sentences of one paragraph, verbatim."""
    return [text[s:e] for s, e in sentence_spans(text)]


# -- packing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Unit:
    text: str
    separator: str  # what stood before it: the paragraph's own spacing, or "\n" between paragraphs
    sticky: bool = False  # a caption or attribution: goes with what precedes it
    page: int | None = None


def _units(paragraph: str, target: int, page: int | None = None) -> list[_Unit]:
    spans: list[tuple[int, int]] = []
    for start, end in sentence_spans(paragraph):
        if end - start > 2 * target:
            spans.extend(_long_sentence_spans(paragraph, start, end, target))
        else:
            spans.append((start, end))
    return [
        _Unit(paragraph[s:e], paragraph[spans[k - 1][1] : s] if k else "\n", page=page)
        for k, (s, e) in enumerate(spans)
    ]


def _joined(units: Sequence[_Unit]) -> str:
    return "".join((u.separator if k else "") + u.text for k, u in enumerate(units))


def _pack(
    units: Iterable[_Unit], target: int, overlap: int, length: Callable[[str], int] = len
) -> list[list[_Unit]]:
    """Greedy packing of whole units; a chunk only closes before a unit that is not sticky."""
    chunks: list[list[_Unit]] = []
    current: list[_Unit] = []
    fresh = 0  # units in ``current`` that are not overlap
    for unit in units:
        if current and fresh and not unit.sticky:
            grown = length(_joined([*current, unit]))
            new_content = length(_joined(current[len(current) - fresh :]))
            # A chunk with little new content may grow to 1.5x the target rather than stay tiny.
            if grown > target and (new_content >= target / 3 or grown > 1.5 * target):
                chunks.append(current)
                current, fresh = _overlap(current, overlap, length), 0
        current.append(unit)
        fresh += 1
    if current and fresh:
        chunks.append(current)
    return chunks


def _overlap(units: Sequence[_Unit], limit: int, length: Callable[[str], int]) -> list[_Unit]:
    tail: list[_Unit] = []
    for unit in reversed(units):
        if unit.sticky or length(_joined([unit, *tail])) > limit:
            break
        tail.insert(0, unit)
    return tail


# -- articles -------------------------------------------------------------------------------------


def _sections(blocks: Sequence[Block]) -> list[tuple[str | None, str, list[Block]]]:
    """Runs of content blocks as (heading path, kind, blocks); every heading starts a run."""
    path: list[tuple[int, str]] = []
    runs: list[tuple[str | None, str, list[Block]]] = []
    fresh_heading = True
    for block in blocks:
        if block.kind == "heading":
            while path and path[-1][0] >= block.level:
                path.pop()
            path.append((block.level, block.text))
            fresh_heading = True
            continue
        # Captions and attributions belong to whatever run they follow.
        kind = "disclosure" if block.kind == "disclosure" else "body"
        sticky = block.kind in ("caption", "attribution")
        if fresh_heading or not runs or (runs[-1][1] != kind and not sticky):
            runs.append((" > ".join(text for _, text in path) or None, kind, []))
            fresh_heading = False
        runs[-1][2].append(block)
    return runs


def _chunk_id(path: str, section: str | None, text: str, seen: dict[str, int]) -> str:
    base = "\x1f".join((path, section or "", text))
    chunk_id = hashlib.sha256(base.encode("utf-8")).hexdigest()[:32]
    count = seen.get(chunk_id, 0)
    seen[chunk_id] = count + 1
    if count:
        return hashlib.sha256(f"{base}\x1f{count}".encode()).hexdigest()[:32]
    return chunk_id


def chunk_article(
    article: Article, target_chars: int = 300, overlap_chars: int = 60
) -> list[Chunk]:
    """The article's chunks in reading order (pure; see the module docstring)."""
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    for section, kind, blocks in _sections(article.blocks):
        units: list[_Unit] = []
        for block in blocks:
            if block.kind in ("caption", "attribution"):
                units.append(_Unit(block.text, "\n", sticky=True, page=block.page))
            else:
                units.extend(_units(block.text, target_chars, block.page))
        for packed in _pack(units, target_chars, overlap_chars):
            text = _joined(packed)
            chunks.append(
                Chunk(
                    chunk_id=_chunk_id(article.path, section, text, seen),
                    text=text,
                    section=section,
                    ordinal=len(chunks),
                    kind=kind,
                    page=packed[0].page,
                )
            )
    return chunks


# -- LangChain ------------------------------------------------------------------------------------


class ChineseTextSplitter(TextSplitter):
    """The same sentence logic as :func:`chunk_article`, for LangChain pipelines.

    Lines are paragraphs; ``chunk_size`` is the target and ``chunk_overlap`` the most overlap,
    both measured with ``length_function``.
    """

    def split_text(self, text: str) -> list[str]:
        text = normal_form(text)
        units = [
            unit
            for paragraph in text.split("\n")
            if paragraph.strip()
            for unit in _units(paragraph.strip(), self._chunk_size)
        ]
        packed = _pack(units, self._chunk_size, self._chunk_overlap, self._length_function)
        return [_joined(chunk) for chunk in packed]


def to_langchain_documents(
    article: Article, chunks: Sequence[Chunk], *, disclosure_id: str | None = None
) -> list[Document]:
    """One Document per chunk, as the store keeps it: id = chunk id, content = embedded text.

    ``disclosure_id`` names the stored risk disclosure that applies to the article. Chroma
    refuses None in metadata, so absent values are left out.
    """
    documents: list[Document] = []
    for chunk in chunks:
        metadata: dict[str, Any] = {
            "chunk_id": chunk.chunk_id,
            "path": article.path,
            "doc_hash": article.content_hash,
            "doc_chunks": len(chunks),  # lets a sync notice an article that lost chunks
            "title": article.title,
            "publisher": article.publisher,
            "source": article.source,
            "published": article.published,
            "section": chunk.section,
            "page": chunk.page,
            "kind": chunk.kind,
            "ordinal": chunk.ordinal,
            "products": "；".join(article.products) or None,
            "risk_level": article.risk_level,  # R1-R5, for advisor suitability
            "disclosure_id": disclosure_id,
        }
        documents.append(
            Document(
                id=chunk.chunk_id,
                page_content=chunk.embed_text,
                metadata={k: v for k, v in metadata.items() if v is not None},
            )
        )
    return documents
