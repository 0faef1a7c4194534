"""One home for small text facts every stage shares: which script a text is in, how alike
two texts are by their character bigrams, and the id a disclosure text is known by.

Chunking, retrieval, the gate, citations, excerpts and compliance all ask these questions; one
answer keeps them agreeing (a passage the retriever calls a near-copy is one for the gate too).
Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib
import math
import re
from functools import lru_cache

# Han ideographs (extension A and the unified block) and their compatibility forms.
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Han plus CJK punctuation and full-width forms: characters that take no spaces between them.
CJK = f"\u3000-\u303f{HAN}\uff00-\uffef"
_HAN = re.compile(f"[{HAN}]")
_CJK = re.compile(f"[{CJK}]")
_LATIN = re.compile(r"[A-Za-z]")


def has_cjk(text: str) -> bool:
    """Whether the text holds any CJK character (ideograph, CJK punctuation, full-width form)."""
    return _CJK.search(text) is not None


def has_han(text: str) -> bool:
    """Whether the text holds any Han ideograph."""
    return _HAN.search(text) is not None


def is_chinese(text: str) -> bool:
    """Whether a text is mainly Chinese (by script: Han characters against Latin letters)."""
    han = len(_HAN.findall(text))
    return han > 0 and han >= len(_LATIN.findall(text)) / 4


@lru_cache(maxsize=4096)
def bigrams(text: str) -> frozenset[str]:
    """The text's character bigrams, whitespace removed (cached: filters compare texts pairwise)."""
    compact = re.sub(r"\s+", "", text)
    return frozenset(compact[i : i + 2] for i in range(len(compact) - 1))


def near_duplicate(a: str, b: str, threshold: float = 0.7) -> bool:
    """Whether one text is mostly contained in the other (character bigrams)."""
    sa, sb = bigrams(a), bigrams(b)
    if not sa or not sb:
        return a == b
    return len(sa & sb) / min(len(sa), len(sb)) >= threshold


def disclosure_id(text: str) -> str:
    """The version id of a risk disclosure: the store keys it by this, the audit trail names it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def estimate_tokens(text: str) -> int:
    """About how many tokens ``text`` costs a DeepSeek model, by DeepSeek's own rule of thumb
    (one Chinese character ≈ 0.6 token, one other character ≈ 0.3): an estimate, not a count."""
    han = len(_HAN.findall(text))
    return math.ceil(0.6 * han + 0.3 * (len(text) - han))
