"""A PDF's pages -> the article's lines: page furniture dropped, headings ranked by size,
paragraphs rebuilt from geometry, tables placed where they stand. See :mod:`assistant.pdf`."""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import pairwise

from ..formats import STARTS_BLOCK, Line, join_wrapped, table_lines
from ..text import has_cjk, normal_form
from .lines import TextLine, join_broken
from .tables import Table

_EDGE_SHARE = 0.12  # the top and bottom 12% of a page are where furniture lives
_EDGE_LINES = 3  # at most this many lines from each edge are furniture candidates
_FURNITURE = re.compile(
    r"^(?:\d{1,4}|\d{1,4}\s*/\s*\d{1,4}|[-–—]\s*\d{1,4}\s*[-–—]"
    r"|第\s*\d{1,4}\s*页(?:\s*[,，/]?\s*共\s*\d{1,4}\s*页)?|共\s*\d{1,4}\s*页\s*第\s*\d{1,4}\s*页"
    r"|(?i:page\s*\d{1,4}(?:\s*(?:of|/)\s*\d{1,4})?)"
    r"|\d{1,4}[/.-]\d{1,2}[/.-]\d{1,4},?\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AaPp][Mm])?"
    r"|\d{4}年\d{1,2}月\d{1,2}日\s*\d{1,2}:\d{2}(?::\d{2})?"
    r"|(?:https?|file|ftp)://[!-~]+|www\.[!-~]+)$"  # URLs: printable ASCII only
)


@dataclass
class Page:
    number: int
    height: float
    lines: list[TextLine]
    tables: list[Table]
    images: bool
    unmapped: bool = False  # a text layer that does not map to Unicode, left out

    @property
    def scanned(self) -> bool:
        """Images and no text (once its furniture is dropped): a scanned page."""
        return self.images and not self.lines and not self.tables and not self.unmapped


def _furniture_key(segment: str) -> str:
    return re.sub(r"\d+", "#", re.sub(r"\s+", "", normal_form(segment)))


def _edges(page: Page) -> list[TextLine]:
    """Up to a few lines nearest the top and the bottom edge, within the edge zones."""
    ordered = sorted(page.lines, key=lambda line: -line.top)
    zone = _EDGE_SHARE * page.height
    top = [line for line in ordered[:_EDGE_LINES] if line.top >= page.height - zone]
    bottom = [line for line in ordered[-_EDGE_LINES:] if line.bottom <= zone]
    return [*top, *(line for line in bottom if line not in top)]


def drop_furniture(pages: Sequence[Page], title: str) -> None:
    counts: Counter[str] = Counter()
    for page in pages:
        counts.update({_furniture_key(s) for line in _edges(page) for s in line.segments})
    repeated = {key for key, n in counts.items() if n >= max(2, len(pages) / 2)}
    title_key = _furniture_key(title) if title else None

    def furniture(segment: str) -> bool:
        key = _furniture_key(segment)
        return key in repeated or key == title_key or bool(_FURNITURE.match(segment.strip()))

    for page in pages:
        for line in _edges(page):
            if all(furniture(s) for s in line.segments):
                page.lines.remove(line)


# -- paragraphs and headings ----------------------------------------------------------------------


def _round(size: float) -> float:
    return round(size * 2) / 2


def _body_size(pages: Sequence[Page], size: Callable[[TextLine], float]) -> float:
    sizes: Counter[float] = Counter()
    for page in pages:
        for line in page.lines:
            sizes[_round(size(line))] += len(line.chars)
    return sizes.most_common(1)[0][0] if sizes else 0.0


@dataclass(frozen=True)
class _Body:
    """The body text's size: by the characters' boxes, and by the file's font size where the
    file sets sizes that differ (0 where it draws every size from one); whether it is set in
    bold itself (then bold sets nothing apart)."""

    size: float
    font: float
    bold: bool = False


def _large(line: TextLine, body: _Body) -> bool:
    """Set clearly larger than the body text: a heading's size."""
    return line.size >= 1.12 * body.size


def _set_apart(line: TextLine, body: _Body) -> bool:
    """Set apart from the body text less clearly: a little larger by the file's font size (an
    11.5 pt heading over 10.5 pt text, which boxes do not tell from a line of digits), or in
    bold at the body's size or larger."""
    return (line.bold and not body.bold and line.size >= 0.95 * body.size) or (
        body.font > 0 and line.font >= 1.05 * body.font
    )


def _heading_text(text: str) -> bool:
    """Short and not ending as a sentence or a clause does."""
    short = len(text) <= (40 if has_cjk(text) else 80)
    return short and not text.endswith(tuple("。；;，,"))


def _heading_ranks(sizes: Iterable[float]) -> dict[float, int]:
    """Heading sizes to levels: sizes within 7% of each other share a level, largest first."""
    ranks: dict[float, int] = {}
    level, anchor = 0, None
    for size in sorted(set(sizes), reverse=True):
        if anchor is None or size < 0.93 * anchor:
            level, anchor = level + 1, size
        ranks[size] = level
    return ranks


# What opens a heading: a section sign or number ("§3", "3.2 ", "第二章"), a list number.
_SECTION = re.compile(
    rf"§\s*\d|\d{{1,2}}(?:\.\d{{1,2}})+\s|第[一二三四五六七八九十\d]{{1,3}}[章节部分]|{STARTS_BLOCK.pattern}"
)
_NO_BREAK_BEFORE = set("、，。：；！？”’）》」』】,.;:!?)]%")
_NO_BREAK_AFTER = set("“‘（《「『【([")


def _lead_width(line: TextLine) -> float:
    """The width of what starts ``line`` up to its first break opportunity: it did not fit
    at the end of the line above. Break opportunities (simplified from Unicode line breaking):
    a space, and either side of an ideograph, but never before closing punctuation nor after
    opening punctuation; so "间,DeepSeek" is one unit and "基金" two."""
    visible = [c for c in line.chars if not c.text.isspace()]
    if not visible:
        return 0.0
    end = 0
    while end + 1 < len(visible):
        here, after = visible[end], visible[end + 1]
        if after.x0 - here.x1 > 0.15 * line.size:
            break  # a space
        glued = after.text in _NO_BREAK_BEFORE or here.text in _NO_BREAK_AFTER
        if not glued and (has_cjk(here.text) or has_cjk(after.text)):
            break
        end += 1
    return visible[end].x1 - line.x0


def _wraps(previous: TextLine, line: TextLine, columns: _Columns) -> bool:
    """Whether ``line`` is the next printed line of the heading ``previous`` starts: the same
    size, no gap, ``previous`` full (what starts ``line`` did not fit after it), and ``line``
    not opening a section of its own ("§3 …", "3.2 …", "二、…": two short headings one after
    the other, the second at the top of the next column, look like one that wraps)."""
    return (
        not previous.vertical
        and not line.vertical
        and _round(previous.size) == _round(line.size)
        and not _SECTION.match(line.text)
        and previous.bottom - line.top <= 0.6 * line.size
        and columns.of(previous).right - previous.x1 <= _lead_width(line) + 0.25 * line.size
    )


def _join(lines: Sequence[TextLine]) -> TextLine:
    first = lines[0]
    for line in lines[1:]:
        first.segments = [join_broken(first.text, line.text)]
        first.chars += line.chars
        first.x1, first.bottom = max(first.x1, line.x1), line.bottom
    return first


def _headings(pages: Sequence[Page], body: _Body, columns: _Columns) -> set[int]:
    """The ids of the heading lines: short lines set clearly larger than the body text, or set
    apart from it less clearly (a little larger, or bold) and standing alone. A heading (or
    title) too long for one line becomes one line again, judged whole: its first printed line
    may end in a comma ("二、海外科技巨头资本开支持续上修，" / "国内算力产业链…"), which alone
    reads as a clause, not a heading. Lines set large that together are no heading (a lead
    paragraph in large type) are judged one by one; lines set apart less clearly only together,
    and only where no line of text runs on into them or out of them: a bold lead-in
    ("市场回顾：" and the paragraph after it on its line) or a bold sentence inside a paragraph
    is no heading."""
    heading: set[int] = set()
    if not body.size:
        return heading

    def kind(line: TextLine) -> str | None:
        if line.vertical:
            return None
        return "large" if _large(line, body) else "apart" if _set_apart(line, body) else None

    for page in pages:
        runs: list[list[TextLine]] = []  # consecutive heading-like lines that wrap, and others
        for line in page.lines:
            last = runs[-1] if runs else None
            if (
                last
                and kind(line)
                and kind(line) == kind(last[-1])
                and line.bold == last[-1].bold
                and _wraps(last[-1], line, columns)
            ):
                last.append(line)
            else:
                runs.append([line])
        kept: list[TextLine] = []
        for k, run in enumerate(runs):
            whole = ""
            for line in run:
                whole = join_broken(whole, line.text)
            if kind(run[0]) == "apart":
                before = runs[k - 1][-1] if k else None
                after = runs[k + 1][0] if k + 1 < len(runs) else None
                runs_in = (
                    before is not None
                    and not before.text.endswith(tuple("。！？.!?"))
                    and _wraps(before, run[0], columns)
                )
                runs_on = after is not None and _wraps(run[-1], after, columns)
                if not runs_in and not runs_on and _heading_text(whole):
                    kept.append(_join(run))
                    heading.add(id(kept[-1]))
                else:
                    kept += run
                continue
            if len(run) > 1 and _heading_text(whole):
                kept.append(_join(run))
                heading.add(id(kept[-1]))
                continue
            for j, line in enumerate(run):  # heading lines among them, joined to one above
                like = _large(line, body) and _heading_text(line.text)
                if like and j > 0 and id(kept[-1]) in heading:
                    _join([kept[-1], line])
                    continue
                kept.append(line)
                if like:
                    heading.add(id(line))
        page.lines[:] = kept
    return heading


def _continues(
    paragraph: Sequence[TextLine], line: TextLine, columns: _Columns, fonts: bool
) -> bool:
    """Whether ``line`` carries on ``paragraph``: the line above was full (what starts this
    one would not have fitted after it, at its column's right margin), the size is the same,
    and on one page there is no paragraph gap, and no indent (against the line above, or a
    second indented first line after a one-line paragraph of the same indent; pages share
    their margins). A line at the top of the next column carries on a full last line of the
    column before it.

    The size is the file's font size where ``fonts`` says the file sets sizes that differ:
    at one size a line of digits ("74%。") has taller boxes than one of ideographs."""
    previous = paragraph[-1]
    size = previous.size
    before, column = columns.of(previous), columns.of(line)
    if column != before:
        next_on_page = line.page == previous.page and column.left > before.left
        next_page = line.page == previous.page + 1 and column.left < before.left
        if not ((next_on_page and line.top >= previous.top) or next_page):
            return False
        if line.x0 > column.left + 0.5 * size:
            return False
    else:
        if previous.page == line.page and previous.bottom - line.top > 0.6 * size:
            return False
        if line.x0 > previous.x0 + 0.5 * size:
            return False
    if before.right - previous.x1 > _lead_width(line) + 0.25 * size:
        return False
    if fonts:
        resized = abs(line.font - previous.font) > 0.05 * previous.font
    else:
        resized = abs(line.size - size) > 0.1 * size
    if resized or STARTS_BLOCK.match(line.text):
        return False
    indented = line.x0 > column.left + 0.5 * size
    return not (indented and len(paragraph) == 1 and abs(line.x0 - previous.x0) < 0.5 * size)


def _filled(above: TextLine, line: TextLine, columns: _Columns) -> bool:
    """Whether ``above`` was filled to its last character: not even the first character of
    ``line`` would have fitted after it, and it ends in no typed space. A line that ends at a
    word's space has room for a letter more as often as not."""
    first = next((c for c in line.chars if not c.text.isspace()), None)
    last = above.chars[-1] if above.chars else None
    if first is None or (last is not None and last.text.isspace() and not last.generated):
        return False
    return columns.of(above).right - above.x1 <= first.x1 - first.x0 + 0.25 * above.size


@dataclass(frozen=True)
class _Column:
    left: float
    right: float


class _Columns:
    """The text columns lines are set in, by their margins: one for most documents, several
    side by side on a page of a two-column report. A line belongs to the column its start
    falls in."""

    def __init__(self, pages: Sequence[Page], body: float) -> None:
        def full(lines: Sequence[TextLine]) -> list[TextLine]:
            # The right margin comes from full-size lines: a print footer ("file:///… 1/1")
            # reaches past it.
            level = [ln for ln in lines if not ln.vertical]
            return [ln for ln in level if len(ln.text) >= 10 and _round(ln.size) == body] or [
                ln for ln in level if len(ln.text) >= 10
            ]

        lines = [line for page in pages for line in page.lines]
        self._all = _Column(_left(lines), _right(full(lines)))
        self._pages: dict[int, list[_Column]] = {}
        before: list[_Column] = []
        for page in pages:
            found = _side_by_side(full(page.lines), body)
            if not found and before and all(_fits(line, before) for line in page.lines):
                found = before  # a last page's short columns, set as on the page before
            self._pages[page.number] = before = found

    def of(self, line: TextLine) -> _Column:
        side_by_side = self._pages.get(line.page)
        if not side_by_side:
            return self._all
        k = max((k for k, c in enumerate(side_by_side) if c.left <= line.x0 + line.size), default=0)
        if k + 1 < len(side_by_side) and line.x1 > side_by_side[k + 1].left:
            return self._all  # set across the columns (an introduction above them)
        return side_by_side[k]


def _fits(line: TextLine, columns: Sequence[_Column]) -> bool:
    return any(c.left - line.size <= line.x0 and line.x1 <= c.right + line.size for c in columns)


def _left(lines: Sequence[TextLine]) -> float:
    lefts = Counter(round(line.x0) for line in lines)
    return float(lefts.most_common(1)[0][0]) if lefts else 0.0


def _right(lines: Sequence[TextLine]) -> float:
    widths = [line.x1 for line in lines]
    return statistics.quantiles(widths, n=10, method="inclusive")[-1] if len(widths) >= 2 else 0.0


def _side_by_side(full: Sequence[TextLine], body: float) -> list[_Column]:
    """Columns side by side: full lines that start apart, each column's ending before the next
    one's start (lines set across the columns aside); empty when there is one column. An
    indented list or quote overlaps its text and is no column. Fewer than three full lines
    make a column only to the right of the columns found, as wide as the one before: what the
    text left for the last column of a page (a paragraph's last lines, a caption over a table);
    elsewhere they are stray lines."""
    groups: list[list[TextLine]] = []
    for line in sorted(full, key=lambda ln: ln.x0):
        if groups and line.x0 - groups[-1][-1].x0 <= 3 * body:
            groups[-1].append(line)
        else:
            groups.append([line])
    short = [group for group in groups if len(group) < 3]
    groups = [group for group in groups if len(group) >= 3]
    columns: list[_Column] = []
    for k, group in enumerate(groups):
        following = _left(groups[k + 1]) if k + 1 < len(groups) else float("inf")
        inside = [line for line in group if line.x1 < following]
        if len(inside) < 3 or (columns and columns[-1].right > _left(group)):
            return []
        columns.append(_Column(_left(group), _right(inside)))
    for group in short:
        if columns and _left(group) > columns[-1].right:
            width = columns[-1].right - columns[-1].left
            columns.append(_Column(_left(group), _left(group) + width))
    return columns if len(columns) >= 2 else []


def assemble(pages: Sequence[Page], meta_title: str) -> tuple[list[Line], str]:
    """Lines and tables in reading order as :class:`Line` s; and the title found on page 1."""
    body = _body_size(pages, lambda line: line.size)
    columns = _Columns(pages, body)
    # Files that draw every size from one font size and a scaled matrix say nothing by it.
    fonts = len({round(line.font, 1) for page in pages for line in page.lines}) > 1
    font = _body_size(pages, lambda line: line.font) if fonts else 0.0
    weights: Counter[bool] = Counter()
    for page in pages:
        for line in page.lines:
            weights[line.bold] += len(line.chars)
    heading = _headings(pages, _Body(body, font, weights[True] > weights[False]), columns)
    sizes = {_round(line.size) for page in pages for line in page.lines if id(line) in heading}
    ranks = _heading_ranks(sizes)
    title = ""
    tops = [ln for ln in pages[0].lines if id(ln) in heading and ranks[_round(ln.size)] == 1]
    everywhere = [ln for p in pages for ln in p.lines if id(ln) in heading]
    if len(tops) == 1 and sum(ranks[_round(ln.size)] == 1 for ln in everywhere) == 1:
        title = tops[0].text
        pages[0].lines.remove(tops[0])
        ranks = {s: r - 1 for s, r in ranks.items() if r > 1}

    out: list[Line] = []
    paragraph: list[TextLine] = []
    header: list[str] | None = None  # column names of the table just read, if nothing followed

    def flush() -> None:
        if paragraph:
            text = paragraph[0].text
            for above, line in pairwise(paragraph):
                join = join_broken if _filled(above, line, columns) else join_wrapped
                text = join(text, line.text)
            out.append(Line(text, page=paragraph[0].page))
            paragraph.clear()

    for page in pages:
        items: list[TextLine | Table] = [*page.lines, *page.tables]
        # Tables go where they stand on the page: before the first line below their top.
        items.sort(key=lambda item: _order(item, page))
        for position, item in enumerate(items):
            if isinstance(item, Table):
                flush()
                rows = item.rows
                # Carried over: to the top of the next page, or to the next column with its
                # header repeated (nothing read between the two parts either way).
                continued = (
                    header is not None
                    and len(rows[0]) == len(header)
                    and (position == 0 or rows[0] == header)
                )
                skip = 0
                if continued and header is not None:
                    rows = rows[1:] if rows[0] == header else rows
                    rows = [header, *rows]
                    skip = len(table_lines([header]))  # name/value pairs: read already
                header = rows[0]
                out.extend(table_lines(rows, page.number)[skip:])
                continue
            if item.vertical:  # a sidebar: the text around it reads on
                out.append(Line(item.text, page=page.number))
                continue
            header = None
            if id(item) in heading:
                flush()
                level = ranks.get(_round(item.size))
                out.append(Line(item.text, heading=level, page=page.number))
                continue
            if paragraph and not _continues(paragraph, item, columns, fonts):
                flush()
            paragraph.append(item)
    flush()
    return out, title or meta_title


def _order(item: TextLine | Table, page: Page) -> tuple[int, float, float]:
    """Sort key: lines keep PDFium's order; a table sorts just before the first line below it
    in its column (a line it overlaps across), or else just after the last line above it there,
    or else (a column holding nothing but the table) just after the lines to its left: on a
    page of two columns a table at the foot of the first column comes before the second
    column's text, and the part of it carried to the second column after the first part, not
    before the whole first column. Tables that sort alike go left to right."""
    if isinstance(item, TextLine):
        return (page.lines.index(item), 0.0, 0.0)
    over = [
        (k, line) for k, line in enumerate(page.lines) if line.x0 < item.x1 and line.x1 > item.x0
    ]
    below = [k for k, line in over if line.top <= item.top]
    if below:
        return (below[0], -1.0, item.x0)
    above = [k for k, line in over if line.bottom >= item.bottom]
    if above:  # before a table that sorts before the same line (the next column's top)
        return (above[-1] + 1, -3.0, item.x0)
    left = [k for k, line in enumerate(page.lines) if line.x1 <= item.x0]
    if left:  # a column of its own: after the columns to its left
        return (left[-1] + 1, -2.0, item.x0)
    below = [k for k, line in enumerate(page.lines) if line.top <= item.top]
    return (below[0] if below else len(page.lines), -1.0, item.x0)
