"""Ruled tables on a PDF page: rules from the page's path objects, grids and three-line tables
from the rules, cells filled with the characters inside them. See :mod:`assistant.pdf`."""

from __future__ import annotations

import bisect
import ctypes
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from .lines import Char, TextLine, finish, join_broken, segment_text, upright


@dataclass(frozen=True)
class Rule:
    horizontal: bool
    at: float  # y of a horizontal rule, x of a vertical one
    start: float
    end: float


@dataclass
class Table:
    page: int
    x0: float
    x1: float
    bottom: float
    top: float
    rows: list[list[str]]


_THIN = 2.5  # points: a rectangle this thin is a rule
_TOLERANCE = 2.0
_COLUMN_GAP = 0.35  # of the type size: the narrowest gap between a table's columns
_TOUCHING_GAP = 0.15  # the same where no space stands in it (characters of a cell touch)


def _rules(page: pdfium.PdfPage) -> list[Rule]:
    rules: list[Rule] = []
    fill, stroke = ctypes.c_int(), ctypes.c_int()
    turned = upright(page)
    for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_PATH,), max_depth=1):
        bounds = obj.get_bounds()
        left, bottom, right, top = turned(bounds) if turned else bounds
        width, height = right - left, top - bottom
        if height <= _THIN and width >= 3 * _THIN:
            rules.append(Rule(True, (top + bottom) / 2, left, right))
        elif width <= _THIN and height >= 3 * _THIN:
            rules.append(Rule(False, (left + right) / 2, bottom, top))
        elif width > _THIN and height > _THIN:
            # A stroked, unfilled box is a cell or table border: its four edges are rules.
            pdfium_c.FPDFPath_GetDrawMode(obj.raw, ctypes.byref(fill), ctypes.byref(stroke))
            if stroke.value and not fill.value:
                rules += [
                    Rule(True, bottom, left, right),
                    Rule(True, top, left, right),
                    Rule(False, left, bottom, top),
                    Rule(False, right, bottom, top),
                ]
    return rules


def _merge(rules: Sequence[Rule]) -> list[Rule]:
    """Collinear rules that touch become one (table borders are often drawn cell by cell)."""
    merged: list[Rule] = []
    for rule in sorted(rules, key=lambda r: (r.horizontal, round(r.at), r.start)):
        last = merged[-1] if merged else None
        if (
            last is not None
            and last.horizontal == rule.horizontal
            and abs(last.at - rule.at) <= _TOLERANCE
            and rule.start <= last.end + _TOLERANCE
            and last.start <= rule.end + _TOLERANCE  # sorted by rounded position, not start
        ):
            start, end = min(last.start, rule.start), max(last.end, rule.end)
            merged[-1] = Rule(rule.horizontal, last.at, start, end)
        else:
            merged.append(rule)
    return merged


def _crosses(h: Rule, v: Rule) -> bool:
    return (
        h.start - _TOLERANCE <= v.at <= h.end + _TOLERANCE
        and v.start - _TOLERANCE <= h.at <= v.end + _TOLERANCE
    )


def _groups(rules: Sequence[Rule]) -> list[list[Rule]]:
    """Candidate tables: grids (rules joined where horizontals and verticals cross), then runs
    of horizontal rules of one span with no other rule between them (tables ruled across
    only, like the three-line tables of research reports)."""
    parent = list(range(len(rules)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(rules):
        for j in range(i + 1, len(rules)):
            b = rules[j]
            if a.horizontal != b.horizontal and _crosses(a, b):
                parent[find(i)] = find(j)
    joined: dict[int, list[Rule]] = {}
    for i, rule in enumerate(rules):
        joined.setdefault(find(i), []).append(rule)
    grids = [group for group in joined.values() if any(not r.horizontal for r in group)]
    loose = sorted(
        (group[0] for group in joined.values() if len(group) == 1 and group[0].horizontal),
        key=lambda r: -r.at,
    )
    runs: list[list[Rule]] = []
    for rule in loose:
        # The run of the rule just above this one and over it: rules beside it (a table in the
        # other column of a two-column page) stand between them by height only.
        over = [run for run in runs if run[-1].start < rule.end and rule.start < run[-1].end]
        run = min(over, key=lambda run: run[-1].at, default=None)
        same_span = (
            run is not None
            and abs(run[-1].start - rule.start) <= 3 * _TOLERANCE
            and abs(run[-1].end - rule.end) <= 3 * _TOLERANCE
        )
        if same_span and run is not None:
            run.append(rule)
        else:
            runs.append([rule])
    return grids + [run for run in runs if len(run) >= 2]


def _apart(run: Sequence[Rule], lines: Sequence[TextLine]) -> list[list[Rule]]:
    """A run of rules cut where a paragraph stands between two of them: two tables ruled
    across, one above the other in a column of one width, with the text between them."""
    parts = [[run[0]]]
    for upper, lower in pairwise(run):
        prose = any(
            lower.at < line.middle < upper.at
            and upper.start - _TOLERANCE <= line.x0
            and line.x1 <= upper.end + _TOLERANCE
            and _prose(line, upper.end - upper.start)
            for line in lines
        )
        if prose:
            parts.append([lower])
        else:
            parts[-1].append(lower)
    return [part for part in parts if len(part) >= 2]


def _prose(line: TextLine, width: float) -> bool:
    """A line of a paragraph, not a table row: across most of ``width`` with no gap in it
    wider than a space (a row that wide has its columns' padding between its cells)."""
    if line.x1 - line.x0 <= 0.7 * width:
        return False
    last: Char | None = None
    for char in line.chars:
        if char.text.isspace():
            if not char.generated:
                last = None  # a typed space: the gap after it is a word's
            continue
        if last is not None and char.x0 - last.x1 >= _COLUMN_GAP * line.size:
            return False
        last = char
    return True


def _positions(values: Iterable[float]) -> list[float]:
    out: list[float] = []
    for value in sorted(values):
        if not out or value - out[-1] > _TOLERANCE:
            out.append(value)
    return out


# Characters of a figure: digits, its signs and separators, the circled numbers of column names
# ("①-③").
_FIGURE = re.compile(r"[\d.,%+\-−\u2460-\u2473]")


def _cell_text(pieces: Sequence[tuple[float, str]]) -> str:
    """Text pieces of one cell, top line first (y decreases downwards), joined as one line. A
    figure a narrow cell broke over lines ("2." / "14%", "-1" / "7.94%", "①" / "-③") is one
    figure again: a producer that breaks CJK text anywhere breaks figures too, for want of
    width, where no space ever was."""
    text = ""
    for _, piece in sorted(pieces, key=lambda p: -p[0]):
        if text and piece and _FIGURE.match(text[-1]) and _FIGURE.match(piece[0]):
            text += piece
        else:
            text = join_broken(text, piece)
    return text


def _pieces(line: TextLine, x0: float, x1: float) -> str:
    return segment_text([c for c in line.chars if x0 <= (c.x0 + c.x1) / 2 < x1])


def _text_columns(lines: Sequence[TextLine]) -> list[float]:
    """Column boundaries from the gaps in the text of a table without vertical rules: gaps
    that run through every line. A narrow table's columns stand as close as its padding (a few
    points), closer than a wide space, and closer still where a column narrower than one
    character lets its characters reach into the padding (a five-column table in one column of
    a three-column page: "差" / "额" beside "标准" / "差", a fifth of the type size apart). Inside
    a cell characters touch, so a gap with no space in it is taken down to a sixth of the type
    size; one where PDFium saw a space, from about a third; one holding a space the file typed
    (a word space inside a cell, "Class A"), from about twice that."""
    spans = sorted((c.x0, c.x1) for line in lines for c in line.chars if not c.text.isspace())
    if not spans:
        return []
    size = min(line.size for line in lines)
    typed, generated = [], []
    for line in lines:
        for c in line.chars:
            if c.text.isspace() and c.generated:
                generated.append((c.x0 + c.x1) / 2)
            elif c.text.isspace() and c.x1 > c.x0:
                typed.append((c.x0 + c.x1) / 2)
    bounds: list[float] = []
    end = spans[0][1]
    for start, stop in spans[1:]:
        if any(end <= x <= start for x in typed):
            gap = 0.6
        elif any(end <= x <= start for x in generated):
            gap = _COLUMN_GAP
        else:
            gap = _TOUCHING_GAP
        if start - end >= gap * size:
            bounds.append((start + end) / 2)
        end = max(end, stop)
    return bounds


def _visual_lines(lines: Sequence[TextLine]) -> list[TextLine]:
    """Lines at one height made one, top to bottom: a producer that draws a table cell by cell
    hands PDFium each cell's text as a line of its own, in drawing order."""
    rows: list[list[TextLine]] = []
    for line in sorted(lines, key=lambda ln: -ln.middle):
        if rows and abs(rows[-1][0].middle - line.middle) < 0.3 * line.size:
            rows[-1].append(line)
        else:
            rows.append([line])
    out: list[TextLine] = []
    for row in rows:
        chars = sorted((c for ln in row for c in ln.chars), key=lambda c: c.x0)
        merged = finish(TextLine(row[0].page, chars)) if len(row) > 1 else row[0]
        out.append(merged or row[0])
    return out


def _body_rows(
    body: Sequence[TextLine],
    columns: Sequence[tuple[float, float]],
    padding: float | None = None,
) -> list[list[str]]:
    """Rows of a table without rules between them. Each text line is a row, unless some cells
    wrap ("过去一个" / "月", "-7.91" / "%"): then the gaps between lines come in two sizes,
    within a row and between rows (the cell padding), and lines closer than the middle of the
    two belong to one row, whichever way its cells are aligned.

    With one size of gap, ``padding`` (what stands between the header's text and the rules
    above and below it) tells which: a gap between rows is the padding under one row and over
    the next; a much closer one is inside a cell, and the body is one row whose cells wrap
    (what a column or page break leaves of a table)."""
    body = _visual_lines(body)
    gaps = [above.bottom - below.top for above, below in pairwise(body)]
    size = min(line.size for line in body)
    split = (max(gaps) + min(gaps)) / 2 if gaps and max(gaps) - min(gaps) > 0.3 * size else None
    if split is None and gaps and padding is not None and max(gaps) < padding - 0.3 * size:
        split = float("inf")
    groups: list[list[TextLine]] = []
    for k, line in enumerate(body):
        if groups and split is not None and gaps[k - 1] < split:
            groups[-1].append(line)
        else:
            groups.append([line])
    return [
        [_cell_text([(ln.middle, _pieces(ln, a, b)) for ln in group]) for a, b in columns]
        for group in groups
    ]


def _run_below(
    rule: float, lines: Sequence[TextLine], x0: float, x1: float, head: Sequence[TextLine]
) -> list[TextLine]:
    """The table rows that continue under a header whose bottom rule ends the ruled part: a
    page or column break cut the table, and its last rule is after the break. Lines without a
    large gap between them, none a paragraph spanning most of the table's width, and some of
    them (at one height) set in two of the columns the header and they leave between them."""
    below = sorted(
        (ln for ln in lines if ln.middle < rule and x0 <= (ln.x0 + ln.x1) / 2 <= x1),
        key=lambda ln: -ln.middle,
    )
    run: list[TextLine] = []
    edge = rule
    for line in below:
        if edge - line.top > 4 * line.size:  # rows may be tall: a cell that wraps, padding
            break
        if _prose(line, x1 - x0):
            break
        run.append(line)
        edge = min(edge, line.bottom)
    if not run:
        return []
    bounds = _text_columns([*head, *run])
    for line in _visual_lines(run):
        middles = [(c.x0 + c.x1) / 2 for c in line.chars if not c.text.isspace()]
        if len({bisect.bisect(bounds, x) for x in middles}) >= 2:
            return run
    return []


def _ruled_across(
    bands: Sequence[tuple[float, float]],
    inside: list[TextLine],
    lines: Sequence[TextLine],
    x0: float,
    x1: float,
) -> tuple[list[list[str]], list[TextLine]] | None:
    """Rows of a table ruled across only, and the lines they used. The band under the top rule
    is the header; with one band it is the header when rows continue under it (a three-line
    table cut by a page break), else the rules only frame the table."""
    head_low, head_high = bands[0]
    head = [ln for ln in inside if head_low < ln.middle < head_high]
    if len(bands) > 1:
        body = [line for line in inside if line not in head]
    elif continued := _run_below(bands[-1][0], lines, x0, x1, head):
        body = continued
    else:
        head, body = [], inside
    if not body:
        return None
    inner = _text_columns([*head, *body])  # header cells wrap inside their columns too
    if not inner:
        return None
    edges = [x0 - 1, *inner, x1 + 1]
    columns = list(pairwise(edges))
    padding = None
    if head:  # between the header's text and its rules
        padding = head_high - max(ln.top for ln in head) + min(ln.bottom for ln in head) - head_low
    rows = _body_rows(body, columns, padding)
    if head:
        rows.insert(
            0, [_cell_text([(ln.middle, _pieces(ln, a, b)) for ln in head]) for a, b in columns]
        )
    return rows, [*head, *body]


def _table(group: Sequence[Rule], lines: list[TextLine], page: int) -> Table | None:
    horizontal = [r for r in group if r.horizontal]
    vertical = [r for r in group if not r.horizontal]
    ys = _positions(r.at for r in horizontal)
    if len(ys) < 2:
        return None
    # Across: the horizontals' ends and the verticals' positions (a vertical's ends are heights).
    x0 = min([r.start for r in horizontal] + [r.at for r in vertical])
    x1 = max([r.end for r in horizontal] + [r.at for r in vertical])
    bottom, top = ys[0], ys[-1]
    inside = [
        line
        for line in lines
        if bottom < line.middle < top and x0 - _TOLERANCE <= (line.x0 + line.x1) / 2 <= x1
    ]
    if not inside:
        return None
    bands = list(reversed(list(pairwise(ys))))  # top band first
    rows: list[list[str]] = []
    used: list[TextLine] = []  # lines read into cells (text outside every cell stays text)
    if len(_positions(r.at for r in vertical)) >= 3:  # a grid: each band is one row
        for low, high in bands:
            middle = (low + high) / 2
            xs = _positions(v.at for v in vertical if v.start <= middle <= v.end)
            band = [line for line in inside if low < line.middle < high]
            if len(xs) < 2 or not band:
                continue
            cells = [
                _cell_text([(line.middle, _pieces(line, a, b)) for line in band])
                for a, b in pairwise(xs)
            ]
            if any(cells):
                rows.append(cells)
                used += band
    else:  # ruled across only: columns from the gaps in its text, rows from its lines
        found = _ruled_across(bands, inside, lines, x0, x1)
        if found is None:
            return None
        rows, used = found
        bottom = min(bottom, *(line.bottom for line in used))
    if len(rows) < 2 or max(len(row) for row in rows) < 2:
        return None
    for line in used:
        lines.remove(line)
    return Table(page, x0, x1, bottom, top, rows)


def find_tables(page: pdfium.PdfPage, lines: list[TextLine], number: int) -> list[Table]:
    """The page's ruled tables; their lines are taken out of ``lines``."""
    rules = _merge(_rules(page))
    if len(rules) < 2:
        return []
    groups = [
        part
        for group in _groups(rules)
        for part in (_apart(group, lines) if all(r.horizontal for r in group) else [group])
    ]
    tables = [t for group in groups if (t := _table(group, lines, number)) is not None]
    return sorted(tables, key=lambda t: -t.top)
