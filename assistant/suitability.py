"""Suitability (适当性) of an advisor's draft: the client's risk level against the product's.

Products carry risk levels R1–R5 and investors C1–C5 (《证券期货投资者适当性管理办法》). An
advisor drafting for a client names the client's level, or says it is unknown; the product's
level comes from the article's sidecar (chunk metadata ``risk_level``, e.g. "R4"). The draft then
says plainly, at its top, when the client's level is below the product's, and that suitability
must be assessed first when the client's level is unknown: a mismatch is stated, never smoothed
over. When no source names the product's level the draft says that too, rather than guessing.
A draft that cites nothing (declined, or the model quoted no passage) is still about the product
of the article retrieved for it, whose level the sidecar states: the statement is made from the
retrieved passages then, so a C1 client asking about an R4 product is never met with silence.

Pure functions; the wording is in ``resources/messages.toml``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .prompts import ClientLevel, Lang, message
from .store import StoredChunk

_LEVEL = re.compile(r"[RrCc]\s*([1-5])")


@dataclass(frozen=True)
class Suitability:
    text: str  # the sentence shown and recorded
    at_top: bool  # whether the draft must open with it (a mismatch, or an unassessed client)


def level(value: str | None) -> int | None:
    """1–5 from "R4", "C3", "R4（中高风险）"; None when absent or unreadable."""
    match = _LEVEL.search(value or "")
    return int(match.group(1)) if match else None


def product_risk(chunks: Sequence[StoredChunk]) -> tuple[int, str | None] | None:
    """The highest risk level the sources state, with the product it belongs to (if named)."""
    rated = [(n, chunk) for chunk in chunks if (n := level(chunk.meta("risk_level")))]
    if not rated:
        return None
    n, chunk = max(rated, key=lambda pair: pair[0])
    return n, chunk.meta("products")


def assess(
    client: ClientLevel,
    chunks: Sequence[StoredChunk],
    lang: Lang,
    retrieved: Sequence[StoredChunk] = (),
) -> Suitability | None:
    """The suitability statement for a draft built from ``chunks``, or from the ``retrieved``
    passages' product when it cites none (None: nothing to say)."""
    product = product_risk(chunks or retrieved)
    name = (product[1] if product else None) or message(lang, "suitability_product")
    if client == "unknown":
        text = message(lang, "suitability_unknown")
        if product:
            text += message(lang, "suitability_product_level", product=name, level=f"R{product[0]}")
        return Suitability(text, at_top=True)
    if not chunks and product is None:
        return None
    client_n = level(client)
    assert client_n is not None  # ClientLevel is C1–C5 here
    if product is None:
        return Suitability(message(lang, "suitability_no_level", client=client), at_top=False)
    values = {"client": client, "product": name, "level": f"R{product[0]}"}
    if client_n < product[0]:
        return Suitability(message(lang, "suitability_mismatch", **values), at_top=True)
    return Suitability(message(lang, "suitability_match", **values), at_top=False)
