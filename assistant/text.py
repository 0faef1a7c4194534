"""One home for small text facts every stage shares: which script a text is in, where its
sentences end, how alike two texts are by their character bigrams, the id a disclosure text is
known by, and the one Unicode normal form every format and every question is read into (last
section).

Chunking, retrieval, the gate, citations, excerpts and compliance all ask these questions; one
answer keeps them agreeing (a passage the retriever calls a near-copy is one for the gate too,
and the sentence a chunk was cut at is the sentence an excerpt quotes and compliance judges).
Pure functions; the only I/O is the normal form's table of radicals, read once.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

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


_QUOTED = re.compile(r"“[^”]*”|「[^」]*」|『[^』]*』|《[^》]*》|\"[^\"]*\"")


def written_in_chinese(text: str) -> bool:
    """Whether a text's own words, its quotations aside, are mainly Chinese: an English answer
    that quotes the Chinese sources (“科创板人工智能ETF(588930)”) is English."""
    own = _QUOTED.sub(" ", text)
    return len(_HAN.findall(own)) > len(_LATIN.findall(own))


def reading_language(question: str, earlier: Sequence[str] = ()) -> Literal["zh", "en"]:
    """The language a reader is answered in: the question's; for a question in no words (a fund
    code, emoji, "？？？") the latest earlier one's (oldest first), else Chinese, the first."""
    for text in (question, *reversed(earlier)):
        if is_chinese(text):
            return "zh"
        if _LATIN.search(text):
            return "en"
    return "zh"


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional characters as simplified (OpenCC ``t2s``, phrase-aware: 乾隆 stays 乾隆).

    Investors in Hong Kong and Taiwan ask in traditional characters; the articles are
    simplified. Questions are converted before both sides search, and the lexical index
    converts what it indexes, so either script finds the other. Simplified text is unchanged.
    """
    return _t2s().convert(text) if has_han(text) else text


@lru_cache(maxsize=1)
def _s2t() -> Any:
    import opencc

    return opencc.OpenCC("s2tw")  # the characters Taiwan and Hong Kong write (為, not 爲)


@lru_cache(maxsize=16384)
def _char_in(converter: Callable[[], Any], char: str) -> str:
    converted = converter().convert(char)
    return converted if len(converted) == 1 else char


def _in_place(converter: Callable[[], Any], text: str) -> str:
    """``text`` through an OpenCC converter, one character for one so that offsets hold:
    phrase-aware where that keeps the length, else character by character. Unchanged text is
    returned as the same object."""
    if not has_han(text):
        return text
    converted = converter().convert(text)
    if converted == text:
        return text
    if len(converted) == len(text):
        return str(converted)
    return "".join(_char_in(converter, char) for char in text)


def simplified_in_place(text: str) -> str:
    """``text`` in simplified characters, one for one: what the compliance rules and model, the
    figure check and ``bigrams`` read (the rules and the sources are in simplified characters;
    "保證收益" must be read as "保证收益")."""
    return _in_place(_t2s, text)


def writes_traditional(text: str) -> bool:
    """Whether ``text`` is written in traditional characters (it has one that ``t2s`` changes)."""
    return simplified_in_place(text) is not text


# What is quoted: from an opening mark to the last closing one on its line, so a quote that holds
# a quote (……海外“堆算力”的……) is one; a quote left open runs to the end of its line.
_QUOTED = re.compile(r"“(?:[^\n]*”|[^\n]*)")


def traditional_in_place(text: str) -> str:
    """Our own words in traditional characters, one for one (offsets kept), with what is quoted
    (“…”) left as written: a reader who asks in traditional characters reads the framing, notices
    and refusals in them, and the sources' sentences verbatim. Where it cannot tell, a word of
    ours stays simplified rather than a source's word changing."""
    pieces, last = [], 0
    for quote in _QUOTED.finditer(text):
        pieces += [_in_place(_s2t, text[last : quote.start()]), quote.group()]
        last = quote.end()
    return "".join([*pieces, _in_place(_s2t, text[last:])])


def search_form(text: str) -> str:
    """What both sides of a search compare: the normal form, in simplified characters."""
    return to_simplified(normal_form(text))


# -- sentences ------------------------------------------------------------------------------------
#
# One rule for every stage. A sentence ends at 。！？； (and at !?; unless a letter or digit follows
# at once: "Yahoo!Japan"), at a "." before whitespace that does not close an abbreviation, an
# initial or a list number ("1. "), and, unless ``lines=False``, at a newline. Closing quotes and
# brackets stay with their sentence, and so do citation or footnote marks right after its
# terminator ("…。[1]", "…。【2】"): they belong to what they follow. A sentence never ends inside
# “…”, 「…」, 『…』 or （…） when the closing mark comes later, so a quotation that itself holds
# sentences stays whole.

_FULL_STOPS = "。！？；"
_HALF_STOPS = "!?;"
_CLOSERS = "”’\"'）)】」』》]"
_PAIRS = {"“": "”", "「": "」", "『": "』", "（": "）"}
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "st", "vs", "e.g", "i.e", "no", "fig", "inc", "ltd", "co",
    "corp", "u.s", "u.k", "approx", "est", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep",
    "sept", "oct", "nov", "dec",
}  # fmt: skip
_STOPS = _FULL_STOPS + _HALF_STOPS + "."
# Where ``sentence_spans`` can end a sentence: a text without one of these is one sentence at
# most (the gate looks for one before it splits a growing buffer again).
MAY_END = re.compile("[\n" + re.escape(_STOPS) + "]")
_SIGNIFICANT = re.compile(
    "[" + re.escape(_STOPS + "\n" + "".join(_PAIRS) + "".join(_PAIRS.values())) + "]"
)
# Marks after a terminator that go with the sentence before them: [1], [1,2], [^1], 【1】, ［1］.
_TRAILING_MARKS = re.compile(
    r"(?:[ \t]?(?:\[\^?\d{1,3}(?:\s*[,，、]\s*\d{1,3})*\]|【\d{1,3}】|［\d{1,3}］))+"
)


def _period_ends(text: str, i: int, start: int, after: int) -> bool:
    """Whether the '.' at ``i`` ends a sentence (``after``: index past the closers behind it)."""
    if after < len(text) and not text[after].isspace():
        return False  # 6.8%, V3.5, www.example.com
    word = text[max(text.rfind(" ", start, i) + 1, start) : i].lstrip("\"'“‘(（[")
    if word.lower() in _ABBREVIATIONS or (len(word) == 1 and word.isupper()):
        return False
    return not (text[start:i].strip().isdigit() and len(text[start:i].strip()) <= 2)  # "1. "


def _sentence_end(text: str, i: int, start: int) -> int:
    """Where the sentence whose terminator candidate is at ``i`` ends, or 0 if it goes on."""
    n = len(text)
    ch = text[i]
    after = i + 1
    while after < n and text[after] in _FULL_STOPS + _HALF_STOPS + _CLOSERS:
        after += 1
    if ch in _HALF_STOPS:
        nxt = text[after] if after < n else " "
        if nxt.isascii() and nxt.isalnum():
            return 0
    elif ch == "." and not _period_ends(text, i, start, after):
        return 0
    marks = _TRAILING_MARKS.match(text, after)
    return marks.end() if marks else after


def sentence_spans(text: str, *, lines: bool = True) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``, whitespace around them excluded.

    ``lines=False`` reads newlines as spaces (a paragraph whose lines were wrapped).
    """
    spans: list[tuple[int, int]] = []
    open_pairs: list[str] = []
    start = 0
    n = len(text)
    # Jump from one character that can matter to the next (terminators, quote marks, newlines).
    found = _SIGNIFICANT.search(text)
    while found:
        i = found.start()
        ch = text[i]
        end = 0
        if ch == "\n":
            if lines:
                spans.append((start, i))
                open_pairs.clear()
                start = i + 1
        elif ch in _PAIRS:
            line_end = text.find("\n", i + 1) if lines else -1
            if text.find(_PAIRS[ch], i + 1, n if line_end == -1 else line_end) != -1:
                open_pairs.append(_PAIRS[ch])
        elif open_pairs and ch == open_pairs[-1]:
            open_pairs.pop()
        elif not open_pairs and ch in _STOPS:
            end = _sentence_end(text, i, start)
        if end:
            spans.append((start, end))
            start = end
        found = _SIGNIFICANT.search(text, max(end, i + 1))
    spans.append((start, n))
    return [strip_span(text, s, e) for s, e in spans if text[s:e].strip()]


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_sentences(text: str, *, lines: bool = True) -> list[str]:
    """The sentences of ``text``, verbatim (see :func:`sentence_spans`)."""
    return [text[s:e] for s, e in sentence_spans(text, lines=lines)]


@lru_cache(maxsize=4096)
def bigrams(text: str) -> frozenset[str]:
    """The text's character bigrams, lower-cased, in simplified characters, whitespace and
    punctuation removed (a text of one character is its own bigram), so a claim written in
    traditional characters meets its simplified source. Cached: filters compare texts pairwise."""
    compact = re.sub(r"[\s\W_]+", "", simplified_in_place(text).lower())
    if len(compact) == 1:
        return frozenset({compact})
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


# -- Unicode normal form --------------------------------------------------------------------------
#
# One form for text from every format, applied at ingest (each extracted line) and at query time
# (the question, before tokenising and embedding), so a look-alike character never decides
# whether a passage is found, recognised as a heading or checked by a compliance rule.
#
# - Look-alikes folded to the ideographs they stand for: Kangxi radicals (U+2F00-U+2FDF) and
#   compatibility ideographs by NFKC, the CJK radical supplement and strokes by Unicode's own
#   table (resources/cjk_radicals.tsv), where NFKC is silent. PDF producers emit these when one
#   font glyph serves both code points (基⾦ for 基金, ⻛险 for 风险).
# - Full-width letters and digits (and ％, and ． between digits) become ASCII, the form the
#   chunker's decimal and abbreviation rules and the figure check read. CJK punctuation stays
#   as written: answers quote sources verbatim, and the chunker reads both widths.
# - Ligatures (ﬁ) are undone; non-breaking and other fixed-width spaces become plain spaces;
#   soft hyphens and zero-width characters go.
# - A single space between two CJK characters, or between CJK text and punctuation, is removed:
#   no Chinese writer types one; extractors insert them. Tabs and runs of spaces stay (they
#   align columns in plain-text tables). A space between CJK and Latin text is kept: writers
#   use it ("AI 大模型"), and the PDF reader drops the ones it invented itself.
#
# NFKC is not applied wholesale: it would turn ，：；（） into ASCII and ① into 1.

_RADICAL_TABLE = Path(__file__).parent / "resources" / "cjk_radicals.tsv"
# Characters that count as CJK for the spacing rule: Han, CJK punctuation, full-width forms,
# and the curly quotes Chinese text uses.
_SPACED = f"{CJK}\u2018-\u201d"
_SPACE_RULES = (
    # 基金 产品 -> 基金产品; 风险 。-> 风险。
    (re.compile(f"(?<=[{_SPACED}]) (?=[{_SPACED}])"), ""),
    # 之后 , 全球 -> 之后, 全球 (ASCII punctuation after CJK text)
    (re.compile(f"(?<=[{_SPACED}]) (?=[,.;:!?)\\]%])"), ""),
    # 之后, 全球 -> 之后,全球 (only when CJK text stands before the punctuation too)
    (re.compile(f"(?<=[{_SPACED}][,;:!?]) (?=[{_SPACED}])"), ""),
)
_DIGIT_POINT = re.compile(r"(?<=\d)．(?=\d)")


@lru_cache(maxsize=1)
def _fold_table() -> dict[int, str | None]:
    """code point -> replacement (None: delete), built once from Unicode data and the table."""
    table: dict[int, str | None] = {}
    spans = ((0x2F00, 0x2FDF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F), (0xFB00, 0xFB06))
    for low, high in spans:  # Kangxi radicals, compatibility ideographs, Latin ligatures
        for cp in range(low, high + 1):
            folded = unicodedata.normalize("NFKC", chr(cp))
            if folded != chr(cp):
                table[cp] = folded
    for line in _RADICAL_TABLE.read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) == 2:
            table[int(fields[0], 16)] = chr(int(fields[1], 16))
    for cp in [*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B), *range(0xFF41, 0xFF5B), 0xFF05]:
        table[cp] = chr(cp - 0xFEE0)  # full-width digits, letters, ％
    for cp in (0x00A0, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000):
        table[cp] = " "
    for cp in (0x00AD, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF):
        table[cp] = None
    return table


def normal_form(text: str) -> str:
    """The text in the project's one normal form (see above); idempotent, newlines kept."""
    text = unicodedata.normalize("NFC", text).translate(_fold_table())
    text = _DIGIT_POINT.sub(".", text)
    for pattern, replacement in _SPACE_RULES:
        text = pattern.sub(replacement, text)
    return text
