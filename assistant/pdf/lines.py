"""PDF characters -> text lines: PDFium's characters with their boxes, grouped into lines, each
split into segments at wide gaps. See :mod:`assistant.pdf` for the whole design."""

from __future__ import annotations

import itertools
import math
import re
import statistics
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..bilingual import is_english_word
from ..formats import join_wrapped
from ..text import CJK, has_cjk

_SLANT = 10  # degrees off a quarter turn from which a character is set on a slant
_BOLD = 600  # the weight from which a face is bold (CSS's and OpenType's "semibold")
_FAUX_BOLD = 700  # the weight a regular face drawn filled and stroked counts as
_FILLED_AND_STROKED = (
    pdfium_c.FPDF_TEXTRENDERMODE_FILL_STROKE,
    pdfium_c.FPDF_TEXTRENDERMODE_FILL_STROKE_CLIP,
)


@dataclass
class Char:
    text: str
    x0: float
    x1: float
    bottom: float
    top: float
    generated: bool  # invented by PDFium (a space or line break that is not in the file)
    font: float = 0.0  # the font size the file sets (boxes differ by font at one size)
    weight: int = 0  # the font's weight (400 regular, 700 bold), 0 where the file says none

    @property
    def height(self) -> float:
        return self.top - self.bottom


@dataclass
class TextLine:
    page: int
    chars: list[Char]
    segments: list[str] = field(default_factory=list)
    x0: float = 0.0
    x1: float = 0.0
    bottom: float = 0.0
    top: float = 0.0
    size: float = 0.0  # from the characters' boxes
    font: float = 0.0  # the file's font size, the median of the characters'
    bold: bool = False  # every visible character set in a bold face

    @property
    def text(self) -> str:
        return " ".join(self.segments)

    @property
    def middle(self) -> float:
        return (self.top + self.bottom) / 2


Box = tuple[float, float, float, float]  # left, bottom, right, top


def upright(page: pdfium.PdfPage) -> Callable[[Box], Box] | None:
    """Boxes on ``page`` as its reader sees them: a page with /Rotate 90 or 270 (a landscape
    table in a portrait report) is drawn on its side and shown turned. None for a page shown
    as it is drawn."""
    x0, y0, x1, y1 = page.get_mediabox()
    rotation = page.get_rotation()
    if rotation == 90:
        return lambda box: (box[1], x0 + x1 - box[2], box[3], x0 + x1 - box[0])
    if rotation == 180:
        return lambda box: (x0 + x1 - box[2], y0 + y1 - box[3], x0 + x1 - box[0], y0 + y1 - box[1])
    if rotation == 270:
        return lambda box: (y0 + y1 - box[3], box[0], y0 + y1 - box[1], box[2])
    return None


def stroked_text(page: pdfium.PdfPage) -> bool:
    """Whether any text on ``page`` is drawn filled and stroked (see :func:`read_chars`):
    asked of its objects once (forms' too), not of each character."""

    def within(count: Callable[[Any], int], get: Callable[[Any, int], Any], parent: Any) -> bool:
        for k in range(count(parent)):
            obj = get(parent, k)
            kind = pdfium_c.FPDFPageObj_GetType(obj)
            if kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
                if pdfium_c.FPDFTextObj_GetTextRenderMode(obj) in _FILLED_AND_STROKED:
                    return True
            elif kind == pdfium_c.FPDF_PAGEOBJ_FORM and within(
                pdfium_c.FPDFFormObj_CountObjects, pdfium_c.FPDFFormObj_GetObject, obj
            ):
                return True
        return False

    return within(pdfium_c.FPDFPage_CountObjects, pdfium_c.FPDFPage_GetObject, page.raw)


def read_chars(
    textpage: pdfium.PdfTextPage,
    turned: Callable[[Box], Box] | None = None,
    stroked: bool = False,
) -> list[Char | None]:
    """The page's characters in PDFium's reading order, their boxes turned as ``turned`` says
    (:func:`upright`); None where PDFium breaks a line. Characters set on a slant are left out:
    a watermark's ("仅供内部参考", a company's name repeated across the page at 30° or 45°),
    drawn over or under the text. Where the page has text drawn filled and stroked
    (``stroked``, :func:`stroked_text`), such characters count as bold."""
    out: list[Char | None] = []
    for i in range(textpage.count_chars()):
        code = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
        generated = bool(pdfium_c.FPDFText_IsGenerated(textpage.raw, i))
        if code in (0x0D, 0x0A):
            if generated or code == 0x0A:
                out.append(None)
            continue
        if code == 0 or 0xD800 <= code <= 0xDFFF or code == 0xFFFE:
            continue
        if not generated and _slanted(pdfium_c.FPDFText_GetCharAngle(textpage.raw, i)):
            continue
        box = textpage.get_charbox(i, loose=True)
        left, bottom, right, top = turned(box) if turned else box
        font = pdfium_c.FPDFText_GetFontSize(textpage.raw, i)
        weight = max(0, pdfium_c.FPDFText_GetFontWeight(textpage.raw, i))
        if stroked and weight < _BOLD and _stroked(textpage, i):
            weight = _FAUX_BOLD
        out.append(Char(chr(code), left, right, bottom, top, generated, font, weight))
    return out if turned is None else _mended(out)


def _mended(chars: list[Char | None]) -> list[Char | None]:
    """A turned page's characters without the line breaks PDFium puts inside its lines: it
    judges lines along the page's own axes, and on a page drawn on its side breaks them where
    one run of text ends and the next begins ("布局30" / "只科创板"). A break is dropped where
    the character after it stands on the same line just after the one before it."""
    out: list[Char | None] = []
    last: Char | None = None
    for k, char in enumerate(chars):
        if char is None:
            rest = itertools.islice(chars, k + 1, None)
            after = next((c for c in rest if c is not None and not c.text.isspace()), None)
            if not (last and after and _same_line(last, after) and _next_to(last, after)):
                out.append(None)
            continue
        out.append(char)
        if not char.text.isspace():
            last = char
    return out


def _next_to(left: Char, right: Char) -> bool:
    return -0.2 * left.height <= right.x0 - left.x1 <= 0.5 * left.height


def _stroked(textpage: pdfium.PdfTextPage, index: int) -> bool:
    """Drawn filled and stroked: bold made from a regular face (Chinese PDFs whose font has no
    bold face set headings so)."""
    text = pdfium_c.FPDFText_GetTextObject(textpage.raw, index)
    return bool(text) and pdfium_c.FPDFTextObj_GetTextRenderMode(text) in _FILLED_AND_STROKED


def _slanted(angle: float) -> bool:
    """Set at an angle that is no quarter turn (PDFium's angle, in radians; -1 where unknown):
    text runs across the page or up and down it (a rotated page, a table header turned on its
    side), a watermark diagonally."""
    off = math.degrees(angle) % 90 if angle >= 0 else 0.0
    return _SLANT < off < 90 - _SLANT


def _same_line(previous: Char, char: Char) -> bool:
    overlap = min(previous.top, char.top) - max(previous.bottom, char.bottom)
    lowest = min(previous.height, char.height) or 1.0
    return overlap >= 0.5 * lowest and char.x0 >= previous.x0 - max(previous.height, 1.0)


def finish(line: TextLine) -> TextLine | None:
    """Fill in a line's geometry and segments; None when it holds no visible character."""
    visible = [c for c in line.chars if not c.text.isspace()]
    if not visible:
        return None
    line.size = statistics.median(c.height for c in visible)
    line.font = statistics.median(c.font for c in visible)
    line.bold = all(c.weight >= _BOLD for c in visible)
    line.x0 = min(c.x0 for c in visible)
    line.x1 = max(c.x1 for c in visible)
    line.bottom = min(c.bottom for c in visible)
    line.top = max(c.top for c in visible)
    segments: list[list[Char]] = [[]]
    last: Char | None = None
    for char in line.chars:
        if char.text.isspace():
            segments[-1].append(char)
            continue
        if last is not None and char.x0 - last.x1 > 2 * line.size:
            segments.append([])
        segments[-1].append(char)
        last = char
    line.segments = [text for chars in segments if (text := segment_text(chars))]
    return line


def segment_text(chars: Sequence[Char]) -> str:
    """The text of a run of characters. A space PDFium invented next to CJK text is kept only
    where the characters stand apart (a typed space: "AI 大模型"), not where they touch."""
    out: list[str] = []
    last: Char | None = None
    for k, char in enumerate(chars):
        if not char.text.isspace():
            out.append(char.text)
            last = char
            continue
        after = next((c for c in chars[k + 1 :] if not c.text.isspace()), None)
        if last is None or after is None or out[-1] == " ":
            continue
        touching = after.x0 - last.x1 < 0.1 * max(last.height, after.height)
        if char.generated and touching and (has_cjk(last.text) or has_cjk(after.text)):
            continue
        out.append(" ")
    return "".join(out)


def group_lines(chars: Iterable[Char | None], page: int) -> list[TextLine]:
    lines: list[TextLine] = []
    current: list[Char] = []

    def close() -> None:
        if current and (line := finish(TextLine(page, list(current)))):
            lines.append(line)
        current.clear()

    previous: Char | None = None
    for char in chars:
        if char is None:
            close()
            previous = None
            continue
        if previous is not None and not char.text.isspace() and not _same_line(previous, char):
            close()
        current.append(char)
        if not char.text.isspace():
            previous = char
    close()
    return lines


# Ends of a line where a producer may have broken a word: a URL (its last character one a URL
# goes on after), and a run of Latin letters or digits set inside Chinese text.
_URL_END = re.compile(r"(?:(?:https?|ftp)://|www\.)[!-~]*[A-Za-z0-9/._~=&#%+\-]$")
_URL_GOES_ON = re.compile(r"[a-z0-9/._~?=&#%+\-]")
_GLUED_END = re.compile(rf"[{CJK}][{re.escape(string.punctuation)}]?([A-Za-z0-9]+)$")


def join_broken(head: str, tail: str) -> str:
    """Two printed lines of one paragraph or cell, the line above full: as :func:`join_wrapped`,
    except that a URL ("…/fund/ann" / "ouncement.pdf") or a Latin word set inside Chinese text
    ("上线DeepSe" / "ek大模型", "科创AIET" / "F") goes on without a space. A producer that
    breaks Chinese text anywhere breaks such a run too, and a URL too long for the line wherever
    it must; English words it breaks at their spaces, so two of them keep their space, as do a
    URL and a word in upper case after it, and a word and a capital after it unless both are
    capitals ("DeepSeek" / "V3版本" is two words, "科创AIET" / "F" one). A word too long for
    what is left of the line it breaks anywhere ("methodolo" / "gy", "investmen" / "t"): two
    parts that are one English word together and not two words apart are joined, and two words
    that are no word together keep their space after Chinese text too ("ETF。The" / "fund")."""
    end = head[-300:]
    if _URL_END.search(end):
        return head + tail if _URL_GOES_ON.match(tail) else join_wrapped(head, tail)
    glued = _GLUED_END.search(end)
    goes_on = tail[:1].isascii() and tail[:1].isalnum()
    capitals = glued is not None and glued[1].upper() == glued[1]
    if glued and goes_on and (not tail[0].isupper() or capitals) and not _two_words(glued[1], tail):
        return head + tail
    last, first = _LAST_WORD.search(end), _FIRST_WORD.match(tail)
    if last and first and _one_word(last[1], first[0]):
        return head + tail
    return join_wrapped(head, tail)


_LAST_WORD = re.compile(r"(?<![A-Za-z])([A-Za-z]{2,})$")
_FIRST_WORD = re.compile(r"[a-z]+(?![A-Za-z0-9])")


def _one_word(head: str, tail: str) -> bool:
    """Parts of one English word broken without a hyphen ("methodolo" / "gy")."""
    return is_english_word(head + tail) and not (is_english_word(head) and is_english_word(tail))


def _two_words(head: str, tail: str) -> bool:
    """Two English words a line break stands between ("The" / "fund invests")."""
    first = re.match(r"[A-Za-z]+", tail)
    word = first[0] if first else ""
    return is_english_word(head) and is_english_word(word) and not is_english_word(head + word)
