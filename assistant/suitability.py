"""Suitability (适当性) of an advisor's draft: the client's risk level against the product's.

Products carry risk levels R1–R5 and investors C1–C5 (《证券期货投资者适当性管理办法》). An
advisor drafting for a client names the client's level, or says it is unknown; the product's
level comes from the article's sidecar (chunk metadata ``risk_level``, e.g. "R4"). The draft then
says plainly, at its top, when the client's level is below the product's, and that suitability
must be assessed first when the client's level is unknown: a mismatch is stated, never smoothed
over. When no source names the product's level the draft says that too, rather than guessing.
A draft that cites nothing (declined, or the model quoted no passage) is about the product its
topic names ("要不要全部买588930？", by its code or its name): the statement is made from the
retrieved passages of that product then, so a C1 client asking about an R4 product is never met
with silence. A topic that names no product ("明天北京天气怎么样？") is about none, whatever
passages the search returned: no product's level is stated for it, and a client not assessed is
still told that suitability comes first.

Each statement has two readers. The advisor reads it about the client, in the third person
("客户的风险承受等级为C2…不应向客户推荐"): in the side panel, the status line and the audit row's
notices. The client reads the draft and its file, which speak to them ("您"): there it says "您的
风险承受等级为C2…该产品与您的风险承受能力不匹配", with the same levels, the rule's name and "不构成
推荐", and without the instruction not to recommend, which is the advisor's (``to_client``).

Pure functions; the wording is in ``resources/messages.toml``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .prompts import ClientLevel, Lang, message
from .store import StoredChunk
from .text import simplified_in_place

_LEVEL = re.compile(r"[RrCc]\s*([1-5])")


@dataclass(frozen=True)
class Suitability:
    text: str  # the advisor's sentence, shown beside the draft and recorded as a notice
    at_top: bool  # whether the draft must open with it (a mismatch, or an unassessed client)
    to_client: str = ""  # said to the client (the draft, the file); "": for the advisor only


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


def named(topic: str, chunks: Sequence[StoredChunk]) -> list[StoredChunk]:
    """The passages of a product that ``topic`` names: by a word of its name as the sidecar
    gives it ("科创板人工智能ETF", "588930"), in either script and any case. Part of a name is
    not the name: "易方达的人工智能ETF" is not "科创板人工智能ETF"."""
    asked = simplified_in_place(topic).casefold()

    def names(chunk: StoredChunk) -> bool:
        products = re.split(r"[；;,，、]", chunk.meta("products") or "")
        words = [w.casefold() for p in products for w in p.split() if len(w) >= 4]
        return any(w in asked for w in words)

    return [chunk for chunk in chunks if names(chunk)]


def assess(
    client: ClientLevel,
    chunks: Sequence[StoredChunk],
    lang: Lang,
    retrieved: Sequence[StoredChunk] = (),
    topic: str = "",
) -> Suitability | None:
    """The suitability statement for a draft built from ``chunks``, or, when it cites none, from
    the ``retrieved`` passages of the product its ``topic`` names (None: nothing to say)."""
    product = product_risk(chunks or named(topic, retrieved))
    name = (product[1] if product else None) or message(lang, "suitability_product")
    if client == "unknown":
        rated = (
            message(lang, "suitability_product_level", product=name, level=f"R{product[0]}")
            if product
            else ""
        )
        said = message(lang, "suitability_unknown") + rated
        return Suitability(said, True, message(lang, "suitability_unknown_client") + rated)
    if not chunks and product is None:
        return None
    client_n = level(client)
    assert client_n is not None  # ClientLevel is C1–C5 here
    if product is None:
        return Suitability(message(lang, "suitability_no_level", client=client), at_top=False)
    values = {"client": client, "product": name, "level": f"R{product[0]}"}
    key = "suitability_mismatch" if client_n < product[0] else "suitability_match"
    said = message(lang, key, **values)
    return Suitability(
        said, key == "suitability_mismatch", message(lang, f"{key}_client", **values)
    )
