"""Per-format readers: a file's text or bytes -> lines with the structure the format marks itself.

Each reader returns an :class:`Extracted`: the article's lines in reading order, each with the
heading level or caption flag its format gave it (Markdown ``#``, HTML ``<h2>``/``<figcaption>``,
DOCX ``Heading 2``/``Caption`` styles), plus metadata found inside the file (Markdown front
matter, the HTML ``<h1>``/``<title>``, DOCX document properties). PDFs have their own reader,
:mod:`assistant.pdf`, which returns the same :class:`Extracted`. Everything else (numbered
headings, captions, the source line, the risk disclosure) is recognised afterwards from the text
by :func:`assistant.documents.parse_structure`, the same way for every format.

Tables (HTML ``<table>``, Markdown pipe tables, DOCX tables, ruled tables in PDFs) become one
line per row that names every value's column (:func:`table_lines`), the same in every format.

Hard-wrapped ``.txt`` files (those that look wrapped) are unwrapped here: a line that fills the
width and does not end a sentence continues on the next one.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import docx
from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Tag
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph

from .errors import IngestError
from .text import CJK, has_cjk

Meta = dict[str, str | list[str]]

ENDS_SENTENCE = tuple("。！？；：!?;:.…”’）)】」』")
# A line that starts a block of its own even when the line before it is unfinished.
STARTS_BLOCK = re.compile(
    r"^(?:[一二三四五六七八九十]{1,3}[、．.]|[(（][一二三四五六七八九十\d]{1,3}[)）]|\d{1,2}(?:、|[.．](?!\d))"
    r"|[-*•·●▪]\s|图表?\s*[\d一二三四五六七八九十:：]|表\s*\d|[(（]?(?:信息|资料|数据)?来源\s*[:：]"
    r"|(?i:figure|fig\.|chart|source|risk warning|risk disclosure|important information))"
)


@dataclass(frozen=True)
class Line:
    """One line of extracted text with what its format said about it."""

    text: str
    heading: int | None = None  # heading level marked by the format itself
    caption: bool = False  # marked as a caption (figcaption, DOCX Caption style, image alt)
    page: int | None = None  # 1-based, PDFs only
    table: bool = False  # a table row (see :func:`table_lines`): never a heading or caption


@dataclass
class Extracted:
    lines: list[Line]
    meta: Meta = field(default_factory=dict)
    # The format marked its headings; numbered-line heading guesses would only add noise.
    explicit_headings: bool = False
    # What the operator should know about this file although it was read (pages left out).
    warnings: list[str] = field(default_factory=list)


def join_wrapped(head: str, tail: str) -> str:
    """Join two pieces of one paragraph: no space between CJK text, one space otherwise."""
    if not head or not tail:
        return head + tail
    if has_cjk(head[-1]) or has_cjk(tail[0]):
        return head + tail
    if len(head) > 1 and not head[-1].isalnum() and has_cjk(head[-2]):
        return head + tail  # "问题上," / "DeepSeek": ASCII punctuation inside Chinese text
    if head.endswith("-") and head[-2:-1].islower() and tail[0].islower():
        return head + tail  # a word hyphenated at the line end
    if (
        tail[0] in ",.;:!?%)]}"
        or head[-1] == "/"
        or (head[-1] == "-" and not head[-2:-1].isalpha())
    ):
        return head + tail  # "2.14" / "%", "①-" / "③", "fund/" / "x" wrapped in a narrow cell
    return f"{head} {tail}"


def unwrap(lines: Sequence[str], *, force: bool = False) -> list[str]:
    """Rejoin hard-wrapped paragraphs; blank lines (``""``) are kept as paragraph breaks.

    Unless ``force``, text is left alone unless it looks wrapped: lines of 30 to 120
    characters, several of them as wide as the widest yet not ending a sentence.
    """
    texts = [line.strip() for line in lines]
    widths = [len(text) for text in texts if text]
    if not widths:
        return []
    width = max(widths)
    # Evidence of wrapping: several lines that fill the width without ending a sentence.
    unfinished = sum(len(t) >= 0.75 * width and not t.endswith(ENDS_SENTENCE) for t in texts if t)
    wrapped = 30 <= width <= 120 and unfinished >= max(2, len(widths) // 5)
    if not (force or wrapped):
        return texts
    out: list[str] = []
    previous_width = 0
    for raw in lines:
        line = raw.strip()
        if (
            line
            and out
            and out[-1]
            and previous_width >= 0.75 * width
            and not out[-1].endswith(ENDS_SENTENCE)
            and not STARTS_BLOCK.match(line)
        ):
            out[-1] = join_wrapped(out[-1], line)
        else:
            out.append(line)
        previous_width = len(line)
    return out


def table_lines(rows: Sequence[Sequence[str]], page: int | None = None) -> list[Line]:
    """A table as lines a reader (and the retriever) can take one at a time, in every format.

    Each row becomes one line that names every cell's column: "过去一年 | 份额净值增长率①：
    25.67% | 业绩比较基准收益率③：22.30%". With three or more columns the first row holds the
    column names; a two-column table is read as name and value pairs ("基金主代码：588930"),
    the usual shape of a fund's facts table, unless it is a series under column names (rows
    labelled by years or dates: "2023 | HBM市场规模：约60亿美元"). The first column is the row's label and is
    given bare. Empty cells are left out; a row that repeats the header is dropped.
    """
    cleaned = [[" ".join(cell.split()) for cell in row] for row in rows]
    cleaned = [row for row in cleaned if any(row)]
    if not cleaned:
        return []
    width = max(len(row) for row in cleaned)
    if width < 2:
        return [Line(row[0], page=page, table=True) for row in cleaned if row and row[0]]
    if width == 2 and not _series(cleaned):
        return [
            Line(
                _cell(row[0], row[1], "：" if has_cjk(row[0]) else ": ")
                if len(row) > 1
                else row[0],
                page=page,
                table=True,
            )
            for row in cleaned
        ]
    header, *body = cleaned
    colon = "：" if any(has_cjk(name) for name in header) else ": "
    lines: list[Line] = []
    for row in body:
        if row == header:
            continue
        cells = [row[0]] if row[0] else []
        for k, value in enumerate(row[1:], start=1):
            if value:
                cells.append(_cell(header[k] if k < len(header) else "", value, colon))
        if cells:
            lines.append(Line(" | ".join(cells), page=page, table=True))
    return lines


def _series(rows: Sequence[Sequence[str]]) -> bool:
    """Whether a two-column table is a series under column names ("年份 | HBM市场规模", then
    "2023 | 约60亿美元"…): a named first row over rows labelled by years, dates or periods."""
    header, *body = rows
    return (
        len(body) >= 2
        and not header[0][:1].isdigit()
        and all(len(row) == 2 and row[0][:1].isdigit() for row in body)
    )


def _cell(name: str, value: str, colon: str) -> str:
    """ "name：value" (a Chinese table's colon for every column, ①-③ included)."""
    if not name or not value:
        return name or value
    return f"{name}{colon}{value}"


def read_text(text: str) -> Extracted:
    return Extracted([Line(line) for line in unwrap(text.split("\n")) if line])


# -- Markdown -------------------------------------------------------------------------------------

_ATX = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_SETEXT = re.compile(r"^(=+|-+)\s*$")
_RULE = re.compile(r"^(?:(?:\*\s*){3,}|(?:-\s*){3,}|(?:_\s*){3,})$")
_REF_DEF = re.compile(r"^\[[^\]]+\]:\s*\S+")
_TABLE_SEP = re.compile(r"^\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?$")
_IMAGE_ONLY = re.compile(r"^!\[([^\]]*)\]\([^)]*\)$")
_BULLET = re.compile(r"^(?:>\s*)+|^[-*+]\s+")
_ORDERED = re.compile(r"^\d{1,3}[.)]\s+")
_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),
    (re.compile(r"</?[A-Za-z][^>]*>"), ""),
    (re.compile(r"`([^`]+)`"), r"\1"),
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"~~(?=\S)(.+?)(?<=\S)~~"), r"\1"),
    (re.compile(r"(?<![\w*])\*(?=[^\s*])(.+?)(?<=[^\s*])\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=[^\s_])(.+?)(?<=[^\s_])_(?![\w_])"), r"\1"),
    (re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>~])"), r"\1"),
]


def _inline(text: str) -> str:
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text.strip()


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def front_matter(text: str) -> tuple[Meta, str]:
    """Split a leading ``---`` block of ``key: value`` lines (YAML-ish) from the Markdown body."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return {}, text
    end = next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)
    if end is None:
        return {}, text
    meta: Meta = {}
    key: str | None = None
    for line in lines[1:end]:
        pair = re.match(r"^([A-Za-z_][\w-]*)\s*:\s*(.*)$", line)
        item = re.match(r"^\s*-\s+(.*)$", line)
        if pair:
            key, value = pair[1].lower(), pair[2].strip()
            if value.startswith("[") and value.endswith("]"):
                meta[key] = [_unquote(v) for v in value[1:-1].split(",") if v.strip()]
            else:
                meta[key] = _unquote(value) if value else []
        elif item and key is not None and isinstance(meta.get(key), list):
            items = meta[key]
            assert isinstance(items, list)
            items.append(_unquote(item[1]))
    if "published" not in meta and "date" in meta:
        meta["published"] = meta["date"]
    # Blog and CMS exports name who wrote the piece, not a publisher: it is who published it.
    if "publisher" not in meta and isinstance(meta.get("author"), str):
        meta["publisher"] = meta["author"]
    return meta, "\n".join(lines[end + 1 :])


def read_markdown(text: str) -> Extracted:
    meta, body = front_matter(text)
    lines: list[Line] = []
    paragraph: list[str] = []
    table: list[list[str]] = []

    def flush() -> None:
        if table:
            lines.extend(table_lines(table))
            table.clear()
        if paragraph:
            joined = ""
            for piece in paragraph:
                joined = join_wrapped(joined, piece)
            if joined:
                lines.append(Line(joined))
            paragraph.clear()

    fence: str | None = None
    for raw in body.split("\n"):
        line = raw.strip()
        if fence is not None or line.startswith(("```", "~~~")):
            if line.startswith(("```", "~~~")) and (fence is None or line.startswith(fence)):
                flush()
                fence = None if fence is not None else line[:3]
            elif line:
                lines.append(Line(line))
            continue
        heading = _ATX.match(line)
        underline = _SETEXT.match(line)
        image = _IMAGE_ONLY.match(line)
        if not line:
            flush()
        elif heading:
            flush()
            if title := _inline(heading[2]):
                lines.append(Line(title, heading=len(heading[1])))
        elif underline and paragraph:
            title = " ".join(paragraph)
            paragraph.clear()
            lines.append(Line(title, heading=1 if line.startswith("=") else 2))
        elif _TABLE_SEP.match(line) and table:
            continue  # the line under a table's header row
        elif _RULE.match(line) or _REF_DEF.match(line) or _TABLE_SEP.match(line):
            flush()
        elif line.startswith("|"):
            if paragraph:
                flush()
            table.append([_inline(cell) for cell in line.strip("|").split("|")])
        elif image:
            flush()
            if alt := image[1].strip():
                lines.append(Line(alt, caption=True))
        elif _BULLET.match(line) or _ORDERED.match(line):
            flush()
            paragraph.append(_inline(_BULLET.sub("", line)))
        else:
            paragraph.append(_inline(line))
    flush()
    lines = [line for line in lines if line.text]
    explicit = any(line.heading for line in lines)
    _title_from_single_h1(lines, meta)
    return Extracted(lines, meta, explicit_headings=explicit)


def _title_from_single_h1(lines: list[Line], meta: Meta) -> None:
    """A lone level-1 heading at the top is the document's title, not a section."""
    h1 = [line for line in lines if line.heading == 1]
    if len(h1) == 1 and lines and lines[0] is h1[0]:
        meta.setdefault("title", lines.pop(0).text)


# -- HTML -----------------------------------------------------------------------------------------

_DROP = {
    "script", "style", "nav", "header", "footer", "aside", "noscript", "template", "form",
    "button", "iframe", "svg", "canvas", "object", "embed", "menu", "select", "head",
}  # fmt: skip
_BLOCKS = {
    "p", "div", "section", "article", "main", "li", "ul", "ol", "blockquote", "pre", "table",
    "tr", "td", "th", "dl", "dt", "dd", "figure", "address", "center", "hr", "body", "html",
}  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_CJK_BREAK = re.compile(rf"(?<=[{CJK}])\s*\n\s*(?=[{CJK}])")


def _collapse(text: str) -> str:
    """HTML whitespace: source line breaks inside CJK text vanish, other runs become one space."""
    return re.sub(r"\s+", " ", _CJK_BREAK.sub("", text)).strip()


class _HtmlWalker:
    def __init__(self) -> None:
        self.lines: list[Line] = []
        self.buffer: list[str | None] = []  # None marks a <br>

    def flush(self, *, heading: int | None = None, caption: bool = False) -> None:
        parts: list[str] = [""]
        for piece in self.buffer:
            if piece is None:
                parts.append("")
            else:
                parts[-1] += piece
        self.buffer.clear()
        texts = [text for part in parts if (text := _collapse(part))]
        if heading is not None and texts:
            texts = [" ".join(texts)]
        self.lines.extend(Line(text, heading=heading, caption=caption) for text in texts)

    def walk(self, node: Tag) -> None:
        for child in node.children:
            if isinstance(child, NavigableString):
                if not isinstance(child, PreformattedString):  # comments, doctypes, CDATA
                    self.buffer.append(str(child))
                continue
            if not isinstance(child, Tag) or child.name in _DROP:
                continue
            if child.name == "br":
                self.buffer.append(None)
            elif child.name == "table":
                self.flush()
                self.lines.extend(table_lines(_html_rows(child)))
            elif child.name in _HEADINGS or child.name == "figcaption" or child.name in _BLOCKS:
                self.flush()
                self.walk(child)
                self.flush(heading=_HEADINGS.get(child.name), caption=child.name == "figcaption")
            else:
                self.walk(child)


def _html_rows(table: Tag) -> list[list[str]]:
    """The table's rows (its own, not those of tables nested in its cells), cell texts collapsed."""
    rows: list[list[str]] = []
    for row in table.find_all("tr"):
        if row.find_parent("table") is not table:
            continue
        cells = row.find_all(("td", "th"), recursive=False)
        rows.append([_collapse(cell.get_text(" ")) for cell in cells])
    return rows


def read_html(text: str) -> Extracted:
    soup = BeautifulSoup(text, "html.parser")
    meta: Meta = {}
    h1s = [_collapse(h.get_text(" ")) for h in soup.find_all("h1")]
    title_tag = soup.find("title")
    if h1s and h1s[0]:
        meta["title"] = h1s[0]
    elif title_tag is not None and (title := _collapse(title_tag.get_text(" "))):
        meta["title"] = title
    meta.update(_page_meta(soup))
    # A WeChat article saved from the browser: its body is #js_content; around it stand the
    # account's chrome (QR code, read count, 阅读原文, 预览时标签不可点), never the article.
    wechat = soup.find(id="js_content")
    root = wechat or soup.find("article") or soup.find("main") or soup.body or soup
    walker = _HtmlWalker()
    if isinstance(root, Tag):
        walker.walk(root)
    walker.flush()
    lines = walker.lines
    if len(h1s) == 1:  # the title, already in meta (a menu bar may stand above it)
        lines = [line for line in lines if line.heading != 1]
    return Extracted(lines, meta, explicit_headings=any(line.heading for line in lines))


_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})")
_WECHAT_TIME = re.compile(r"\bct\s*=\s*[\"'](\d{9,11})[\"']")


def _page_meta(soup: BeautifulSoup) -> Meta:
    """Who published the page and when, where a saved page says it: the WeChat account's name
    (``#js_name``) and its publish time (``#publish_time``, or the ``ct`` timestamp its script
    fills that in from when the page was saved before it ran), or an ``article:published_time``
    meta tag. The date only: a time of day is no part of ``published``."""
    meta: Meta = {}
    account = soup.find(id="js_name")
    if isinstance(account, Tag) and (name := _collapse(account.get_text(" "))):
        meta["publisher"] = name
    shown = soup.find(id="publish_time")
    tag = soup.find("meta", attrs={"property": "article:published_time"})
    stamp = _WECHAT_TIME.search(" ".join(s.get_text() for s in soup.find_all("script")))
    for text in (
        _collapse(shown.get_text(" ")) if isinstance(shown, Tag) else "",
        str(tag.get("content") or "") if isinstance(tag, Tag) else "",
    ):
        if day := _DATE.search(text):
            meta["published"] = f"{day[1]}-{int(day[2]):02d}-{int(day[3]):02d}"
            return meta
    if stamp:  # seconds since the epoch; WeChat shows it in China's time
        moment = datetime.fromtimestamp(int(stamp[1]), timezone(timedelta(hours=8)))
        meta["published"] = moment.date().isoformat()
    return meta


# -- DOCX -----------------------------------------------------------------------------------------

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)


def _docx_lines(items: Iterable[object], meta: Meta) -> list[Line]:
    lines: list[Line] = []
    for item in items:
        if isinstance(item, Table):
            rows: list[list[str]] = []
            for row in item.rows:
                cells: list[str] = []
                previous = None
                for cell in row.cells:
                    # A merged cell is returned once per grid column it spans.
                    if previous is not None and cell._tc is previous:
                        continue
                    previous = cell._tc
                    cells.append(" ".join(cell.text.split()))
                rows.append(cells)
            lines.extend(table_lines(rows))
            continue
        if not isinstance(item, Paragraph):
            continue
        style = (item.style.name or "") if item.style is not None else ""
        heading = _HEADING_STYLE.match(style.strip())
        text = item.text.strip()
        if not text:
            continue
        if style.lower() == "title":
            meta.setdefault("title", " ".join(text.split()))
        elif heading:
            lines.append(Line(" ".join(text.split()), heading=int(heading[1]) or 1))
        else:
            caption = style.lower() == "caption"
            lines.extend(
                Line(part.strip(), caption=caption) for part in text.split("\n") if part.strip()
            )
    return lines


def read_docx(data: bytes, key: str) -> Extracted:
    try:
        document = docx.Document(io.BytesIO(data))
        meta: Meta = {}
        if title := (document.core_properties.title or "").strip():
            meta["title"] = title
        lines = _docx_lines(document.iter_inner_content(), meta)
    # Not a zip, a zip without Word parts, or broken XML inside (lxml's errors are SyntaxErrors).
    except (zipfile.BadZipFile, PackageNotFoundError, KeyError, ValueError, SyntaxError) as exc:
        raise IngestError(
            key,
            "the file is not a readable Word .docx document (it is damaged, or an old .doc "
            "renamed); open it in Word and save it as .docx again.",
        ) from exc
    return Extracted(lines, meta, explicit_headings=any(line.heading for line in lines))
