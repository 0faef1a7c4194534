"""PDF bytes -> lines: text with its page geometry, page furniture removed, tables as rows.

The extractor is PDFium (pypdfium2), chosen by measuring (``bench/pdf.py``, README "PDF"):
against pypdf (plain and layout mode) and pdfplumber on generated multi-page reports it is the
only one whose raw text has no look-alike radicals (PDFium maps them back to ideographs
itself; the normal form would catch them anyway), it gives each character's box, which tables,
paragraphs and furniture need, and it is ten or more times faster than the others.

Per page, from the characters and their boxes (:mod:`.lines`, :mod:`.tables`, :mod:`.layout`):

- **Characters** are read as the page's reader sees them: a page turned by /Rotate 90 or 270
  (a landscape table in a portrait report) has its boxes, and its tables' rules, turned with
  it; text turned a quarter is kept; glyphs drawn filled and stroked (bold made from a
  regular face, Chinese PDFs' headings) count as bold.
- **Watermarks** are left out by how they are drawn, not by their words (:mod:`.marks`): text
  far lighter than the page's and repeated across it, large or drawn over other text
  ("仅供内部参考" or "银华基金" in pale grey, level or at 30° or 45°, over or under the text,
  or as a band under the header), and slanted text that is pale, repeated, large or over
  other text. Slanted text that is small, dark, once and on its own (a chart's axis labels at
  45°) is read, each label laid level as a line of its own where it stands.
- **Vertical writing** (竖排: a sidebar, a cover's title), which PDFium gives one character a
  line, is read a column a line, top to bottom, the columns right to left; such a line stands
  apart from the text around it (a paragraph beside it reads on, whole).
- **Lines** follow PDFium's reading order; a line is split into segments at gaps wider than
  twice its height (a print header's date, title and page number are separate segments). A
  space PDFium infers next to CJK text is kept only where the characters stand apart (a typed
  "AI 大模型"), not where they touch (a change of font).
- **Tables** are found from their rules (thin filled rectangles, stroked lines and boxes):
  crossing rules with three or more vertical positions make a grid, each band between
  horizontal rules one row; runs of horizontal rules of one span (three-line tables, tables
  framed above and below) take their columns from the gaps in their text and their rows from
  its lines, the band under the top rule being the header. Rows come out as one line each,
  every value named by its column (:func:`assistant.formats.table_lines`); a table continued
  on the next page keeps its column names and drops its repeated header. Text inside a table's
  frame that falls in no cell stays text. Narrow tables (five columns in one column of a
  two-column page) are read the same way: a figure a cell broke over lines ("2." / "14%") is
  one figure again, columns as close as their padding are told apart, and the part of a table
  carried to the next column is placed there and read as rows, its repeated header dropped.
  In one column of a three-column page a column of a table may be narrower than a character:
  its characters stand one a line and reach into the padding, a fifth of the type size from
  the next column's; a gap with no space in it counts from a sixth.
- **Page furniture** is dropped: lines near the top or bottom edge whose every segment is a
  page number (1/3, 第 1 页 共 3 页, - 2 -, Page 2 of 3), a print timestamp, a URL, the
  document's title, or text that recurs at the edge of most pages (digits ignored, so running
  headers with page numbers count as one text).
- **Paragraphs** are rebuilt from geometry: a line continues the one above when that one was
  full (the first unbreakable unit of this line, "间,DeepSeek" say, would not have fitted after
  it), the size is the same, there is no paragraph gap (on one page), and the line is not
  indented against the one above, nor a second indented first line, nor a list item. Lines
  join as plain text lines do (no space between Chinese lines, one between English words),
  except where the producer broke a word at a full line's end: a URL ("…/fund/ann" /
  "ouncement.pdf") or a Latin word set inside Chinese text ("上线DeepSe" / "ek大模型") goes on
  without a space, in paragraphs and table cells alike, and so does an English word broken
  without a hyphen where the two parts are one word of the English-Chinese dictionary and not
  two ("methodolo" / "gy"; "ETF。The" / "fund" keeps its space). Columns side by side are
  found per page from the margins of their full lines; the last column of a page may hold
  only a line or two (a paragraph's end, a caption), and is then taken as wide as the column
  before it.
- **Headings** are short lines set clearly larger than the body text, ranked by size; one that
  wraps is joined again and judged whole (its first line may end at a comma); a lone largest
  line on the first page is the title. Headings set apart less clearly (11.5 pt over 10.5 pt
  text by the file's font size, or bold at the body's size: PDFium's font weight) count when
  they stand alone: no line of text runs into them or on from them, so a bold lead-in or a bold
  sentence inside a paragraph stays text.

Pages with no text layer (scanned images) are not OCR'd: a file without any text is refused
("no text layer"), and a file with some such pages is ingested with a warning naming them
(README "Knowledge" says why). A page is a scan when it shows images and has no text but its
print furniture (page numbers stamped on the scans). Pages whose text does not map to Unicode
(fonts without a usable /ToUnicode map: control characters, private-use code points, or
ideographs that make no words; :mod:`.unmapped`) are refused the same way, all of them with
the file, some with a warning naming them: their text is not what the page shows.
"""

from __future__ import annotations

import threading

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..errors import IngestError
from ..formats import Extracted
from ..text import normal_form
from .layout import Page, assemble, drop_furniture
from .lines import group_lines, read_chars, upright, vertical_columns
from .marks import page_ink
from .tables import find_tables
from .unmapped import unmapped_text

__all__ = ["read_pdf"]

# PDFium is not thread-safe; an app may ingest while another thread reads a PDF.
_PDFIUM = threading.Lock()
_PASSWORD_ERROR = 4  # FPDF_ERR_PASSWORD


def read_pdf(data: bytes, key: str) -> Extracted:
    """The article in a PDF file; :class:`IngestError` when it cannot be read or has no text."""
    with _PDFIUM:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            if getattr(exc, "err_code", None) == _PASSWORD_ERROR:
                raise IngestError(
                    key, "the PDF is password-protected; save an unprotected copy and ingest that."
                ) from exc
            raise IngestError(
                key,
                f"the file is not a readable PDF (it is damaged or not a PDF: "
                f"{str(exc).rstrip('.')}); "
                "export it again.",
            ) from exc
        try:
            meta_title = (document.get_metadata_value("Title") or "").strip()
            pages = [_read_page(document, i) for i in range(len(document))]
        finally:
            document.close()
    had_text = any(page.lines or page.tables for page in pages)
    # After the furniture: a scan stamped with page numbers has a text layer of those only.
    drop_furniture(pages, meta_title)
    scanned = [page.number for page in pages if page.scanned]
    unmapped = [page.number for page in pages if page.unmapped]
    if not any(page.lines or page.tables for page in pages):
        if unmapped:
            raise IngestError(
                key,
                f"the text does not map to Unicode ({_pages(unmapped)[0]}): {_UNMAPPED} and "
                "answers quote their sources verbatim; export the PDF again with its fonts' "
                "Unicode maps (print it to PDF from the original), or ingest a checked OCR'd "
                "copy.",
            )
        if scanned or not had_text:
            raise IngestError(
                key,
                "no text layer: the PDF's pages are images (a scan), and OCR is not run because "
                "answers quote their sources verbatim; ingest the original text or a checked "
                "OCR'd copy.",
            )
    lines, title = assemble(pages, meta_title)
    extracted = Extracted(lines, {"title": normal_form(title)} if title else {})
    if scanned:
        shown, many = _pages(scanned)
        extracted.warnings.append(
            f"{shown} {'have' if many else 'has'} no text layer "
            f"(scanned {'images' if many else 'image'}) and {'were' if many else 'was'} left "
            f"out; ingest a text version to include {'them' if many else 'it'}."
        )
    if unmapped:
        shown, many = _pages(unmapped)
        extracted.warnings.append(
            f"{shown} {'have' if many else 'has'} text that does not map to Unicode "
            f"({_UNMAPPED}) and {'were' if many else 'was'} left out; ingest a copy whose "
            f"fonts carry their Unicode maps, or a checked OCR'd copy, to include "
            f"{'them' if many else 'it'}."
        )
    return extracted


# What a page whose text does not map to Unicode reads as, and why (:mod:`.unmapped`).
_UNMAPPED = (
    "fonts without a usable /ToUnicode map, so the text reads as control characters or as "
    "characters the page does not show"
)


def _pages(numbers: list[int]) -> tuple[str, bool]:
    """The words for some pages ("page 2", "pages 2, 3"), and whether there are several."""
    many = len(numbers) > 1
    return f"{'pages' if many else 'page'} {', '.join(map(str, numbers))}", many


def _read_page(document: pdfium.PdfDocument, index: int) -> Page:
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            chars = read_chars(textpage, upright(page), page_ink(page))
        finally:
            textpage.close()
        if unmapped_text(char.text for char in chars if char is not None):
            return Page(index + 1, page.get_height(), [], [], _has_images(page), unmapped=True)
        lines = group_lines(chars, index + 1)
        tables = find_tables(page, lines, index + 1)
        lines = vertical_columns(lines)
        return Page(index + 1, page.get_height(), lines, tables, _has_images(page))
    finally:
        page.close()


def _has_images(page: pdfium.PdfPage) -> bool:
    return next(page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)), None) is not None
