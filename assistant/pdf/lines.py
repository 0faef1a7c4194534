"""PDF characters -> text lines: PDFium's characters with their boxes, grouped into lines, each
split into segments at wide gaps. See :mod:`assistant.pdf` for the whole design."""

from __future__ import annotations

import ctypes
import itertools
import re
import statistics
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..bilingual import is_english_word
from ..formats import join_wrapped
from ..text import CJK, has_cjk
from .marks import FILLED_AND_STROKED, PALE, PLAIN, Ink, Run, drop_marks, lightness, slant, slanted

_BOLD = 600  # the weight from which a face is bold (CSS's and OpenType's "semibold")
_FAUX_BOLD = 700  # the weight a regular face drawn filled and stroked counts as


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
    vertical: bool = False  # a column of vertical writing (竖排), read top to bottom

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


def read_chars(
    textpage: pdfium.PdfTextPage,
    turned: Callable[[Box], Box] | None = None,
    ink: Ink = PLAIN,
) -> list[Char | None]:
    """The page's characters in PDFium's reading order, their boxes turned as ``turned`` says
    (:func:`upright`); None where PDFium breaks a line. Watermarks are left out, told by how
    they are drawn, and a chart's slanted labels laid level (:mod:`.marks`). Where the page
    has text drawn filled and stroked (``ink``, :func:`.marks.page_ink`), such characters
    count as bold."""
    out: list[Char | None] = []
    runs: dict[int, Run] = {}  # pale or slanted characters by their text object
    lightness_of: dict[int, float] = {}
    r, g, b, a = (ctypes.c_uint() for _ in range(4))
    for i in range(textpage.count_chars()):
        code = pdfium_c.FPDFText_GetUnicode(textpage.raw, i)
        generated = bool(pdfium_c.FPDFText_IsGenerated(textpage.raw, i))
        if code in (0x0D, 0x0A):
            if generated or code == 0x0A:
                out.append(None)
            continue
        if code == 0 or 0xD800 <= code <= 0xDFFF or code == 0xFFFE:
            continue
        box = textpage.get_charbox(i, loose=True)
        left, bottom, right, top = turned(box) if turned else box
        font = pdfium_c.FPDFText_GetFontSize(textpage.raw, i)
        weight = max(0, pdfium_c.FPDFText_GetFontWeight(textpage.raw, i))
        if ink.stroked and weight < _BOLD and _stroked(textpage, i):
            weight = _FAUX_BOLD
        char = Char(chr(code), left, right, bottom, top, generated, font, weight)
        if not generated and not char.text.isspace():
            light = 0.0
            if ink.pale and pdfium_c.FPDFText_GetFillColor(textpage.raw, i, r, g, b, a):
                light = lightness_of[len(out)] = lightness(r.value, g.value, b.value, a.value)
            off = slant(pdfium_c.FPDFText_GetCharAngle(textpage.raw, i))
            if slanted(off) or light >= PALE:
                obj = pdfium_c.FPDFText_GetTextObject(textpage.raw, i)
                run = runs.setdefault(ctypes.cast(obj, ctypes.c_void_p).value or 0, Run())
                run.positions.append(len(out))
                run.slant = off if slanted(off) else 0.0
                run.light = max(run.light, light)
        out.append(char)
    if runs:
        out = drop_marks(out, runs, lightness_of)
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
    return bool(text) and pdfium_c.FPDFTextObj_GetTextRenderMode(text) in FILLED_AND_STROKED


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


def vertical_columns(lines: Sequence[TextLine]) -> list[TextLine]:
    """``lines`` with vertical writing (竖排: a sidebar, a cover's title) read as it is: a run of
    three or more one-character lines of ideographs, each under the one before at its size, one
    line read top to bottom; columns side by side, one after the other, right to left."""
    out: list[TextLine] = []
    k = 0
    while k < len(lines):
        end = k + 1
        while end < len(lines) and _stacked(lines[end - 1], lines[end]):
            end += 1
        if end - k >= 3 and has_cjk("".join(line.text for line in lines[k:end])):
            column = finish(TextLine(lines[k].page, [c for ln in lines[k:end] for c in ln.chars]))
            if column:
                column.segments = ["".join(line.text for line in lines[k:end])]
                column.size = statistics.median(line.size for line in lines[k:end])
                column.vertical = True
                if out and out[-1].vertical and _beside(column, out[-1]):
                    out.insert(_right_to_left(out, column), column)
                else:
                    out.append(column)
            k = end
            continue
        out.append(lines[k])
        k += 1
    return out


def _stacked(above: TextLine, line: TextLine) -> bool:
    """One character standing under another as vertical writing sets it."""
    size = above.size
    return (
        len(above.text) == 1
        and len(line.text) == 1
        and abs(line.size - size) <= 0.15 * size
        and abs((line.x0 + line.x1) - (above.x0 + above.x1)) <= 0.5 * size
        and -0.5 * size <= above.bottom - line.top <= 0.8 * size
    )


def _beside(column: TextLine, other: TextLine) -> bool:
    """Columns of one block of vertical writing: side by side, overlapping top to bottom."""
    near = abs(column.x0 - other.x0) <= 3 * column.size
    return near and min(column.top, other.top) - max(column.bottom, other.bottom) > 0


def _right_to_left(out: Sequence[TextLine], column: TextLine) -> int:
    """Where ``column`` goes among the vertical columns that end ``out``: right to left."""
    k = len(out)
    while k > 0 and out[k - 1].vertical and out[k - 1].x0 < column.x0:
        k -= 1
    return k


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
