"""Watermarks told from text by how they are drawn, not by their words; slanted text that is no
watermark (a chart's axis labels at 45°) kept and read along its baseline.

A text object (one run of characters the file draws together) is a **mark** when it is

- far lighter than the page's text (a pale grey "仅供内部参考" or "银华基金" behind or over
  the page) and repeated across the page, large (half again the page's type) or drawn over
  other text; a pale note set once at the text's size over nothing (white type on a table's
  dark header band, a grey footnote) is text; or
- set on a slant and pale, repeated, large or drawn over other text. Slanted text that is
  none of these, small, dark and on its own, is a chart's label: kept, and laid level along
  its width at its type size, a line of its own.

A pale title set large on a dark cover would be taken for a mark (what lies under text is not
asked); the page's own colour is: a page whose text is all pale has no text far lighter.
Repeated means the run's text, or a part of it between spaces, three times or more among
the page's pale or slanted runs (rows of a company's name), or a run that is one unit written
over and over (a band of "银华基金  仅供内部参考" under the header).
"""

from __future__ import annotations

import ctypes
import math
import statistics
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pypdfium2.raw as pdfium_c

if TYPE_CHECKING:
    import pypdfium2 as pdfium

    from .lines import Char

_SLANT = 10  # degrees off a quarter turn from which a character is set on a slant
_LIGHT = 0.5  # lighter than the page's text by half the way to white: pale ink
PALE = 0.6  # a text object this light (0 black, 1 white) makes a page worth asking per char
_REPEATS = 3  # a mark's text at least this often on a page
_LARGE = 1.5  # a slanted run this many times the page's type size
FILLED_AND_STROKED = (
    pdfium_c.FPDF_TEXTRENDERMODE_FILL_STROKE,
    pdfium_c.FPDF_TEXTRENDERMODE_FILL_STROKE_CLIP,
)


@dataclass(frozen=True)
class Ink:
    """What a page's text objects say about their drawing, asked once per page (forms' too):
    whether any is drawn filled and stroked (bold made from a regular face), and whether any
    is pale (then each character's colour is worth asking)."""

    stroked: bool = False
    pale: bool = False


PLAIN = Ink()


def page_ink(page: pdfium.PdfPage) -> Ink:
    stroked = pale = False
    r, g, b, a = (ctypes.c_uint() for _ in range(4))

    def visit(count: Callable[[Any], int], get: Callable[[Any, int], Any], parent: Any) -> None:
        nonlocal stroked, pale
        for k in range(count(parent)):
            obj = get(parent, k)
            kind = pdfium_c.FPDFPageObj_GetType(obj)
            if kind == pdfium_c.FPDF_PAGEOBJ_TEXT:
                mode = pdfium_c.FPDFTextObj_GetTextRenderMode(obj)
                stroked = stroked or mode in FILLED_AND_STROKED
                if not pale and pdfium_c.FPDFPageObj_GetFillColor(obj, r, g, b, a):
                    pale = lightness(r.value, g.value, b.value, a.value) >= PALE
            elif kind == pdfium_c.FPDF_PAGEOBJ_FORM:
                visit(pdfium_c.FPDFFormObj_CountObjects, pdfium_c.FPDFFormObj_GetObject, obj)

    visit(pdfium_c.FPDFPage_CountObjects, pdfium_c.FPDFPage_GetObject, page.raw)
    return Ink(stroked, pale)


def lightness(r: int, g: int, b: int, a: int = 255) -> float:
    """How light a fill looks on white paper: 0 black, 1 white (luma, the alpha laid over)."""
    luma = (0.299 * r + 0.587 * g + 0.114 * b) / 255
    return 1 - (a / 255) * (1 - luma)


def slant(angle: float) -> float:
    """Degrees off the nearest quarter turn (PDFium's angle in radians; -1 where unknown)."""
    off = math.degrees(angle) % 90 if angle >= 0 else 0.0
    return min(off, 90 - off)


def slanted(off: float) -> bool:
    """Set at an angle (``off`` a quarter turn by :func:`slant`) that is no quarter turn: text
    runs across the page or up and down it (a rotated page, a table header turned on its
    side); a watermark or a chart's label runs diagonally."""
    return off > _SLANT


@dataclass
class Run:
    """The characters one text object draws that may be a mark: slanted or light."""

    positions: list[int] = field(default_factory=list)
    slant: float = 0.0  # degrees off level
    light: float = 0.0  # the lightest of its characters


def drop_marks(
    chars: list[Char | None], runs: dict[int, Run], lightness_of: dict[int, float]
) -> list[Char | None]:
    """``chars`` without the marks among ``runs`` (keyed by text object), their slanted text
    that is no mark laid level: each run a line of its own. ``lightness_of`` holds each
    character's lightness where the page has pale text (empty otherwise)."""
    candidate = {p for run in runs.values() for p in run.positions}
    others = [c for p, c in enumerate(chars) if c and p not in candidate and not c.text.isspace()]
    body = statistics.median(c.height for c in others) if others else 0.0
    # The page's own ink: its other characters' (a page of little text may hold more
    # characters of its watermark than of text), or all of them where every one is pale.
    inks = [v for p, v in lightness_of.items() if p not in candidate] or list(lightness_of.values())
    ink = statistics.median(inks) if inks else 0.0
    parts: Counter[str] = Counter()
    texts = {key: _text(chars, run) for key, run in runs.items()}
    for text in texts.values():
        parts.update({text, *text.split()})
    dropped: set[int] = set()
    level: dict[int, Run] = {}  # a run's first position -> the slanted run kept
    for key, run in runs.items():
        text = texts[key]
        light = run.light - ink >= _LIGHT
        repeated = _periodic(text) or any(parts[part] >= _REPEATS for part in {text, *text.split()})
        mine = [c for p in run.positions if (c := chars[p]) is not None]
        over = _over(mine, others)
        if run.slant:
            large = bool(body) and _upright_size(mine, run.slant) >= _LARGE * body
            mark = light or repeated or large or over
        else:
            large = bool(body) and statistics.median(c.height for c in mine) >= _LARGE * body
            mark = light and (repeated or over or large)
        if mark:
            dropped.update(run.positions)
        elif run.slant:
            level[run.positions[0]] = run
            dropped.update(run.positions)
    out: list[Char | None] = []
    for p, char in enumerate(chars):
        if p in level:
            out += [None, *_laid_level(chars, level[p]), None]
        elif p not in dropped:
            out.append(char)
    return out


def _periodic(text: str) -> bool:
    """One unit written twice or more ("银华基金仅供内部参考银华基金仅供内部参考…")."""
    period = (text + text).find(text, 1)
    return 0 < period < len(text) and len(text) % period == 0


def _text(chars: Sequence[Char | None], run: Run) -> str:
    return "".join(c.text for p in run.positions if (c := chars[p]) is not None)


def _upright_size(chars: Sequence[Char], degrees: float) -> float:
    """The type size of slanted characters: their boxes are the turned glyph's bounds."""
    turn = math.radians(degrees)
    return statistics.median(c.height for c in chars) / (math.cos(turn) + math.sin(turn))


def _over(mine: Sequence[Char], others: Sequence[Char]) -> bool:
    """Drawn over other text: half its characters or more cover a third of another's box."""
    if not mine:
        return False
    x0, x1 = min(c.x0 for c in mine), max(c.x1 for c in mine)
    y0, y1 = min(c.bottom for c in mine), max(c.top for c in mine)
    near = [c for c in others if c.x0 < x1 and c.x1 > x0 and c.bottom < y1 and c.top > y0]
    if not near:
        return False

    def covers(a: Char, b: Char) -> bool:
        w = min(a.x1, b.x1) - max(a.x0, b.x0)
        h = min(a.top, b.top) - max(a.bottom, b.bottom)
        smaller = min((a.x1 - a.x0) * a.height, (b.x1 - b.x0) * b.height)
        return w > 0 and h > 0 and w * h >= smaller / 3

    covering = sum(any(covers(c, o) for o in near) for c in mine)
    return 2 * covering >= len(mine)


def _laid_level(chars: Sequence[Char | None], run: Run) -> list[Char]:
    """A slanted run's characters laid level where it stands: across its width, at its middle,
    at its type size."""
    mine = [c for p in run.positions if (c := chars[p]) is not None]
    size = _upright_size(mine, run.slant)
    x0, x1 = min(c.x0 for c in mine), max(c.x1 for c in mine)
    low = (min(c.bottom for c in mine) + max(c.top for c in mine) - size) / 2
    step = (x1 - x0) / len(mine)
    return [
        replace(c, x0=x0 + k * step, x1=x0 + (k + 1) * step, bottom=low, top=low + size)
        for k, c in enumerate(mine)
    ]
