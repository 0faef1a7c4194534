"""PDF bytes -> lines: text with its page geometry, page furniture removed, tables as rows.

The extractor is PDFium (pypdfium2), chosen by measuring (``bench/pdf.py``, README "PDF"):
against pypdf (plain and layout mode) and pdfplumber on generated multi-page reports, it reads
the text with the fewest wrong characters (PDFium maps the look-alike radicals PDF producers
emit back to ideographs itself, and invents no spaces inside Chinese text), gives each
character's box, which tables and paragraphs need, and is about ten times faster.

Per page, from the characters and their boxes:

- **Lines** follow PDFium's reading order; a line is split into segments at gaps wider than
  twice its height (a print header's date, title and page number are three segments). A space
  PDFium invented (not in the file) is kept only between two non-CJK characters.
- **Tables** are found from their rules (thin filled rectangles, stroked lines and boxes): a
  group of crossing rules with at least three horizontal and three vertical positions is a grid,
  and each band between horizontal rules is a row. A table with horizontal rules only (the
  three-line table of research reports) takes its columns from the gaps in its text and its
  rows from the text lines. Rows come out as one line each, every cell with its column's name
  (:func:`assistant.formats.table_lines`), so "过去一年 | 份额净值增长率①：25.67%" can be
  retrieved and a figure quoted from it checked. A table continued on the next page keeps the
  column names of its first page.
- **Page furniture** is dropped: lines near the top or bottom edge whose every segment is a
  page number (1/3, 第 1 页 共 3 页, - 2 -, Page 2 of 3), a print timestamp, a URL, the
  document's title, or text that recurs at the edge of most pages (digits ignored, so running
  headers with page numbers count as one text).
- **Paragraphs** are rebuilt from geometry: a line continues the one above when that one
  reaches the right edge of the text, the gap between them is a line gap (not a paragraph
  gap), the size is the same and the line is not indented or a list item. Across a page break
  only the right-edge test applies.
- **Headings** are lines set clearly larger than the body text (short, not ending a sentence),
  ranked by size; a lone largest line at the top of the first page is the title.

Pages with no text layer (scanned images) are not read by OCR: a file without any text is
refused, and a file with some such pages is ingested with a warning naming them (README
"Knowledge" says why).
"""

from __future__ import annotations

import threading

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..errors import IngestError
from ..formats import Extracted
from ..text import normal_form
from .layout import Page, assemble, drop_furniture
from .lines import group_lines, read_chars
from .tables import find_tables

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
                f"the file is not a readable PDF (it is damaged or not a PDF: {exc}); "
                "export it again.",
            ) from exc
        try:
            meta_title = (document.get_metadata_value("Title") or "").strip()
            pages = [_read_page(document, i) for i in range(len(document))]
        finally:
            document.close()
    scanned = [page.number for page in pages if page.scanned]
    if not any(page.lines or page.tables for page in pages):
        raise IngestError(
            key,
            "no text layer: the PDF's pages are images (a scan), and OCR is not run because "
            "answers quote their sources verbatim; ingest the original text or a checked "
            "OCR'd copy.",
        )
    drop_furniture(pages, meta_title)
    lines, title = assemble(pages, meta_title)
    extracted = Extracted(lines, {"title": normal_form(title)} if title else {})
    if scanned:
        shown = ", ".join(map(str, scanned))
        extracted.warnings.append(
            f"page{'s' if len(scanned) > 1 else ''} {shown} ha{'ve' if len(scanned) > 1 else 's'} "
            "no text layer (scanned images) and were left out; ingest a text version to include "
            "them."
        )
    return extracted


def _read_page(document: pdfium.PdfDocument, index: int) -> Page:
    page = document[index]
    try:
        textpage = page.get_textpage()
        try:
            lines = group_lines(read_chars(textpage), index + 1)
        finally:
            textpage.close()
        tables = find_tables(page, lines, index + 1)
        scanned = not lines and not tables and _has_images(page)
        return Page(index + 1, page.get_height(), lines, tables, scanned)
    finally:
        page.close()


def _has_images(page: pdfium.PdfPage) -> bool:
    return next(page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)), None) is not None
