"""Whether a page's text layer says what the page shows: text that does not map to Unicode.

A PDF's text is glyphs; its characters come from each font's /ToUnicode map. Many Chinese PDFs
(broker reports, notices made by older tools) embed subset CID fonts whose map is missing or
wrong. PDFium then falls back on the character codes, which are glyph ids: the page reads as
control characters and stray Latin letters ("\\x19\\x03\\x04ÄÅ12.35%ÇÉ"), private-use or
unassigned code points, or ideographs that are real but not the page's ("札埼釒…"). Answers
quote their sources verbatim, so such a page is left out rather than quoted.

Two signs, each measured over the whole page, furniture included:

- **Code points no text holds**: control characters, unassigned and private-use code points,
  U+FFFD, more than one visible character in twenty. The private-use block a symbol font's
  bullets map to (U+F000-U+F0FF: Wingdings and Symbol in Word's PDFs) is not counted.
- **Ideographs that make no words**: of the pairs of adjacent ideographs, fewer than 15 in a
  hundred are words of jieba's dictionary, over thirty pairs or more, read as they are and
  read as simplified characters. Chinese prose has about one
  in two: in CMRC 2018's 848 Wikipedia paragraphs at least 0.20 (median 0.44), in
  ``bench/pdf.py``'s pages at least 0.39. Ideographs that stand for other ones have 0.005 (a
  map shifted by one code point) to 0.14 (a map that shuffles a font's hundred characters
  among themselves, the worst of fifty shuffles).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable

from ..text import HAN, to_simplified

_UNMAPPED_SHARE = 0.05
_WORD_SHARE = 0.15
_PAIRS = 30  # fewer adjacent ideographs than this say nothing about words
_HAN_RUN = re.compile(f"[{HAN}]{{2,}}")
_NO_TEXT = frozenset(("Cc", "Cn", "Co", "Cs"))


def _unmapped(char: str) -> bool:
    if char == "\ufffd":
        return True
    return unicodedata.category(char) in _NO_TEXT and not (
        char.isspace() or "\uf000" <= char <= "\uf0ff"
    )


@functools.cache
def _two_character_words() -> frozenset[str]:
    import jieba

    with jieba.get_dict_file() as handle:
        return frozenset(re.findall(r"^(\S\S) ", handle.read().decode("utf-8"), re.MULTILINE))


def unmapped_text(chars: Iterable[str]) -> bool:
    """Whether the characters a page's text layer gives are not what it shows (see above)."""
    text = "".join(char for char in chars if not char.isspace())
    if not text:
        return False
    # Printable text (no control, format, unassigned or private-use character) counts none.
    printable = text.isprintable() and "\ufffd" not in text
    if not printable and sum(map(_unmapped, text)) > _UNMAPPED_SHARE * len(text):
        return True
    # Traditional characters are read as simplified ones (the dictionary is simplified); most
    # pages are simplified, and are read so first.
    return not _words(text) and not _words(to_simplified(text))


def _words(text: str) -> bool:
    """Whether the ideographs of ``text`` make words (or are too few to tell)."""
    runs = _HAN_RUN.findall(text)
    pairs = [run[k : k + 2] for run in runs for k in range(len(run) - 1)]
    if len(pairs) < _PAIRS:
        return True
    words = _two_character_words()
    return sum(pair in words for pair in pairs) >= _WORD_SHARE * len(pairs)
