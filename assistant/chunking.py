"""Chinese-aware chunking. (Contract; implementation follows.)"""

from __future__ import annotations

from dataclasses import dataclass


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
