"""Loading articles: bytes -> text -> structure.

(Contract for the implementation; see the module functions below.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

BlockKind = Literal["heading", "paragraph", "caption", "attribution", "disclosure"]


@dataclass(frozen=True)
class Block:
    """One structural unit of an article, in reading order."""

    kind: BlockKind
    text: str
    level: int = 0  # heading depth: 1 for 一、二、, 2 for (1)(2); 0 for non-headings
    page: int | None = None  # 1-based page for PDFs


@dataclass(frozen=True)
class Article:
    """A source article with its metadata and structure."""

    path: str  # the key the store knows it by (see ingest)
    title: str
    blocks: tuple[Block, ...]
    content_hash: str  # sha256 hex of the raw file bytes plus its sidecar metadata
    publisher: str | None = None
    source: str | None = None  # 来源: line or sidecar
    published: str | None = None  # "2025-02" or "2025-02-06"
    products: tuple[str, ...] = field(default_factory=tuple)
    disclosure: str | None = None  # the risk disclosure section, verbatim, or None
