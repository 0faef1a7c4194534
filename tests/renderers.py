"""One article written out as every format an operator meets: Markdown, a web page (HTML), Word,
a PDF printed by Chromium from the web page, and a PDF made by reportlab with an embedded CJK
font. Used by the parity tests and by ``bench/pdf.py``; nothing here is product code.

reportlab embeds TrueType outlines only, and Debian's Noto CJK fonts are CFF (PostScript)
OpenType, so :func:`cjk_truetype` subsets Noto Sans CJK SC to the characters a document uses
and converts its outlines to TrueType (fontTools, the way ``otf2ttf`` does) once per session.
"""

from __future__ import annotations

import hashlib
import html
import io
import random
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

NOTO_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
NOTO_SC_INDEX = 2  # Noto Sans CJK SC inside the collection
CHROMIUM = "/usr/bin/chromium"
SITE_MENU = "首页 | 基金产品 | 投资者教育 | 新闻资讯 | 关于我们"
SITE_FOOTER = "版权所有 © 2025 银华基金管理股份有限公司 | 网站地图 | 联系我们 | 京ICP备05003462号"


@dataclass(frozen=True)
class Item:
    kind: Literal["heading", "paragraph", "table"]
    text: str = ""
    level: int = 0
    rows: tuple[tuple[str, ...], ...] = ()


@dataclass
class Document:
    title: str
    items: list[Item] = field(default_factory=list)

    def text(self) -> str:
        """Every character the document shows (for font subsetting)."""
        cells = "".join(cell for item in self.items for row in item.rows for cell in row)
        return self.title + "".join(item.text for item in self.items) + cells


def from_blocks(title: str, blocks: Sequence[object], tail: Sequence[str] = ()) -> Document:
    """A document from an article's parsed blocks (headings keep their level), plus lines the
    parser keeps out of the blocks (the source line, the navigation line)."""
    items = []
    for block in blocks:
        kind, text, level = block.kind, block.text, block.level  # type: ignore[attr-defined]
        items.append(Item("heading", text, level) if kind == "heading" else Item("paragraph", text))
    items += [Item("paragraph", line) for line in tail]
    return Document(title, items)


# -- text formats ---------------------------------------------------------------------------------


def markdown(doc: Document) -> str:
    out = [f"# {doc.title}", ""]
    for item in doc.items:
        if item.kind == "heading":
            out += ["#" * (item.level + 1) + " " + item.text, ""]
        elif item.kind == "table":
            header, *rows = item.rows
            out.append("| " + " | ".join(header) + " |")
            out.append("|" + "---|" * len(header))
            out += ["| " + " | ".join(row) + " |" for row in rows]
            out.append("")
        else:
            out += [item.text, ""]
    return "\n".join(out)


def web_page(doc: Document, css: str = "") -> str:
    """The article as a fund company's web page: menu bar, article, copyright footer.
    ``css`` is added to the page's style sheet (layout variants for the benchmark)."""
    body = [f"<h1>{html.escape(doc.title)}</h1>"]
    for item in doc.items:
        if item.kind == "heading":
            body.append(f"<h{item.level + 1}>{html.escape(item.text)}</h{item.level + 1}>")
        elif item.kind == "table":
            header, *rows = item.rows
            cells = "".join(f"<th>{html.escape(c)}</th>" for c in header)
            body.append(f"<table><thead><tr>{cells}</tr></thead><tbody>")
            for row in rows:
                body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
            body.append("</tbody></table>")
        else:
            body.append(f"<p>{html.escape(item.text)}</p>")
    return (
        '<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">'
        f"<title>{html.escape(doc.title)}-银华基金</title><style>"
        'body{font-family:"Noto Sans CJK SC",sans-serif;max-width:46em;margin:0 auto}'
        "table{border-collapse:collapse}th,td{border:1px solid #666;padding:3px 6px}"
        f"{css}</style></head>"
        f'<body><div class="menu">{html.escape(SITE_MENU)}</div>'
        f'<div class="content">{"".join(body)}</div>'
        f'<div class="copyright">{html.escape(SITE_FOOTER)}</div></body></html>'
    )


def word(doc: Document, path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_paragraph(doc.title, style="Title")
    for item in doc.items:
        if item.kind == "heading":
            document.add_heading(item.text, level=item.level)
        elif item.kind == "table":
            table = document.add_table(rows=len(item.rows), cols=len(item.rows[0]))
            for r, row in enumerate(item.rows):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
        else:
            document.add_paragraph(item.text)
    document.save(str(path))


# -- PDF ------------------------------------------------------------------------------------------


def chromium_pdf(page: Path, out: Path) -> None:
    """Print a web page to PDF the way an operator does, print header and footer included."""
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--print-to-pdf={out}",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    if not out.is_file():
        raise RuntimeError(f"chromium wrote no PDF for {page}")


def cjk_truetype(text: str, out: Path) -> Path:
    """Noto Sans CJK SC subset to ``text`` (plus ASCII) with TrueType outlines, for reportlab."""
    from fontTools import subset
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import TTFont, newTable

    font = TTFont(str(NOTO_CJK), fontNumber=NOTO_SC_INDEX, lazy=True)
    options = subset.Options()
    options.desubroutinize = True
    options.notdef_outline = True
    options.layout_features = []
    options.name_IDs = ["*"]
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text + "".join(map(chr, range(0x20, 0x7F))) + "第页共·©|")
    subsetter.subset(font)
    order = font.getGlyphOrder()
    glyphs = font.getGlyphSet()
    glyf = newTable("glyf")
    glyf.glyphOrder, glyf.glyphs = order, {}
    for name in order:
        pen = TTGlyphPen(glyphs)
        glyphs[name].draw(Cu2QuPen(pen, 1.0, reverse_direction=True))
        glyf.glyphs[name] = pen.glyph()
    font["glyf"] = glyf
    font["loca"] = newTable("loca")
    for table in ("CFF ", "VORG"):
        if table in font:
            del font[table]
    maxp = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for name in [
        "maxTwilightPoints",
        "maxStorage",
        "maxFunctionDefs",
        "maxInstructionDefs",
        "maxStackElements",
        "maxSizeOfInstructions",
        "maxComponentElements",
    ]:
        setattr(maxp, name, 0)
    maxp.maxZones, maxp.numGlyphs = 1, len(order)
    font["maxp"] = maxp
    font["head"].glyphDataFormat = 0
    post = font["post"]
    post.formatType, post.extraNames, post.mapping, post.glyphOrder = 2.0, [], {}, order
    font.sfntVersion = "\x00\x01\x00\x00"
    # reportlab keeps one face per PostScript name: each subset gets its own.
    unique = "NotoSansCJKscSubset-" + hashlib.sha256(text.encode()).hexdigest()[:8]
    for record in list(font["name"].names):
        if record.nameID in (1, 4, 6):
            record.string = unique
    font.save(str(out))
    font.close()
    return out


def reportlab_pdf(
    doc: Document,
    out: Path,
    font: Path,
    *,
    running_header: str,
    body_size: float = 10.5,
    indent: bool = False,
    three_line: bool = False,
    columns: int = 1,
) -> None:
    """The document as a report generator makes it: embedded CJK font, ruled tables, a running
    header and a "第 n 页 共 m 页" footer on every page. Variants: the body size; paragraphs
    marked by a two-character first-line indent instead of space after; tables ruled across
    only (a three-line table: above and below the header, below the last row); the text set
    in several columns side by side, flowing from one to the next (a monthly report's page)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import (
        BaseDocTemplate,
        Frame,
        PageTemplate,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    name = f"NotoSubset-{font.resolve()}"  # one registration per font file
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, str(font)))

    def style(size: float, after: float, first: float = 0) -> ParagraphStyle:
        return ParagraphStyle(
            f"s{size}-{after}-{first}", fontName=name, fontSize=size, leading=size * 1.5,
            spaceAfter=after, firstLineIndent=first, wordWrap="CJK",
        )  # fmt: skip

    title = style(body_size * 2, 12)
    body = style(body_size, 0, 2 * body_size) if indent else style(body_size, body_size / 2)
    cell = style(body_size, 0)
    headings = {n: style(body_size * f, 6) for n, f in ((1, 1.45), (2, 1.2), (3, 1.1))}
    if three_line:
        rules = [
            ("LINEABOVE", (0, 0), (-1, 0), 1, colors.black),
            ("LINEBELOW", (0, 0), (-1, 0), 0.5, colors.black),
            ("LINEBELOW", (0, -1), (-1, -1), 1, colors.black),
        ]
    else:
        rules = [("GRID", (0, 0), (-1, -1), 0.5, colors.black)]

    def story() -> list[object]:
        flow: list[object] = [Paragraph(html.escape(doc.title), title)]
        for item in doc.items:
            if item.kind == "heading":
                flow.append(Paragraph(html.escape(item.text), headings[min(item.level, 3)]))
            elif item.kind == "table":
                cells = [[Paragraph(html.escape(c), cell) for c in row] for row in item.rows]
                table = Table(cells, repeatRows=1)
                table.setStyle(TableStyle(rules))
                flow += [Spacer(1, 4), table, Spacer(1, 8)]
            else:
                flow.append(Paragraph(html.escape(item.text), body))
        return flow

    def build(total: int) -> tuple[bytes, int]:
        buffer = io.BytesIO()
        pages = [0]

        def furniture(canvas: object, template: object) -> None:
            pages[0] += 1
            c = canvas  # reportlab's Canvas
            c.saveState()  # type: ignore[attr-defined]
            c.setFont(name, 9)  # type: ignore[attr-defined]
            c.drawString(20 * mm, A4[1] - 12 * mm, running_header)  # type: ignore[attr-defined]
            footer = f"第 {pages[0]} 页 共 {total} 页"
            c.drawCentredString(A4[0] / 2, 10 * mm, footer)  # type: ignore[attr-defined]
            c.restoreState()  # type: ignore[attr-defined]

        margins = {"topMargin": 22 * mm, "bottomMargin": 20 * mm, "title": doc.title}
        if columns == 1:
            template = SimpleDocTemplate(buffer, pagesize=A4, **margins)
            template.build(story(), onFirstPage=furniture, onLaterPages=furniture)
            return buffer.getvalue(), pages[0]
        paged = BaseDocTemplate(buffer, pagesize=A4, **margins)
        gutter = 8 * mm
        width = (paged.width - (columns - 1) * gutter) / columns
        frames = [
            Frame(paged.leftMargin + k * (width + gutter), paged.bottomMargin, width, paged.height)
            for k in range(columns)
        ]
        paged.addPageTemplates([PageTemplate("columns", frames, onPage=furniture)])
        paged.build(story())
        return buffer.getvalue(), pages[0]

    _, total = build(0)
    data, _ = build(total)
    out.write_bytes(data)


# -- PDFs as other producers and distributors leave them (pypdf) ---------------------------


def rewrite_unicode_maps(path: Path, first_page: int, how: str) -> None:
    """The fonts of the pages from ``first_page`` (1-based) on as other producers leave them:
    ``strip``: no /ToUnicode map (the text reads as the glyphs' codes: control characters
    and Latin letters); ``swap``: a map that shuffles the font's ideographs (real, common
    ideographs, the wrong ones)."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import NameObject

    writer = PdfWriter(clone_from=PdfReader(path))
    for page in writer.pages[first_page - 1 :]:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            if "/ToUnicode" not in font:
                continue
            if how == "strip":
                del font[NameObject("/ToUnicode")]
                continue
            stream = font["/ToUnicode"].get_object()
            cmap = stream.get_data().decode("latin-1")
            entries = dict(re.findall(r"<([0-9A-F]{2})> <([0-9A-F]{4})>", cmap))
            codes = [code for code, u in entries.items() if "4E00" <= u <= "9FFF"]
            shuffled = [entries[code] for code in codes]
            random.Random(0).shuffle(shuffled)
            for code, u in zip(codes, shuffled, strict=True):
                cmap = cmap.replace(f"<{code}> <{entries[code]}>", f"<{code}> <{u}>")
            stream.set_data(cmap.encode("latin-1"))
    writer.write(path)


WATERMARK = "仅供内部参考"
COMPANY = "银华基金管理股份有限公司"


def stamp(path: Path, over: bool) -> None:
    """Stamp every page as a broker's distribution system does: a large light-grey
    "仅供内部参考" at 45° across the middle, the company's name repeated at 30° in rows."""
    from pypdf import PdfReader, PdfWriter
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    font = cjk_truetype(WATERMARK + COMPANY, path.with_name("watermark.ttf"))
    name = f"Watermark-{font.resolve()}"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, str(font)))
    sheet = path.with_name("stamp.pdf")
    pdf = canvas.Canvas(str(sheet), pagesize=A4)
    pdf.setFillGray(0.85)
    for x, y, angle, size, text in [
        (300, 420, 45, 40, WATERMARK),
        *((x, y, 30, 12, COMPANY) for x in (60, 330) for y in (120, 320, 520, 720)),
    ]:
        pdf.saveState()
        pdf.translate(x, y)
        pdf.rotate(angle)
        pdf.setFont(name, size)
        pdf.drawCentredString(0, 0, text) if size > 12 else pdf.drawString(0, 0, text)
        pdf.restoreState()
    pdf.showPage()
    pdf.save()
    mark = PdfReader(sheet).pages[0]
    writer = PdfWriter(clone_from=PdfReader(path))
    for page in writer.pages:
        page.merge_page(mark, over=over)
    writer.write(path)


def turn(path: Path, out: Path, rotate: int) -> None:
    """The same pages set on portrait paper, turned by /Rotate for their reader: the content is
    drawn on its side, the page's /Rotate turns it back."""
    from pypdf import PdfReader, PdfWriter, Transformation
    from pypdf.generic import RectangleObject

    writer = PdfWriter(clone_from=PdfReader(path))
    for page in writer.pages:
        width, height = float(page.mediabox.width), float(page.mediabox.height)
        if rotate == 90:
            matrix = Transformation().rotate(90).translate(height, 0)
        else:
            matrix = Transformation().rotate(-90).translate(0, width)
        page.add_transformation(matrix)
        page.mediabox = RectangleObject([0, 0, height, width])
        page.rotate(rotate)
    writer.write(out)


def _sheet_font(text: str, path: Path) -> str:
    """A reportlab font name for a face subset to ``text``, registered once."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    font = cjk_truetype(text, path)
    name = f"Sheet-{font.resolve()}"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, str(font)))
    return name


def _merge(path: Path, sheet: Path, over: bool, pages: slice = slice(None)) -> None:
    """Draw ``sheet``'s first page on the chosen pages of ``path``, over or under their text."""
    from pypdf import PdfReader, PdfWriter

    mark = PdfReader(sheet).pages[0]
    writer = PdfWriter(clone_from=PdfReader(path))
    for page in writer.pages[pages]:
        page.merge_page(mark, over=over)
    writer.write(path)


BRAND = "银华基金"


def stamp_flat(path: Path, over: bool) -> None:
    """Stamp every page as many distribution systems do, level rather than slanted: a large
    pale-grey "仅供内部参考" across the middle, "银华基金" repeated in rows over the page, and a
    band of both under the running header."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    name = _sheet_font(WATERMARK + BRAND, path.with_name("flat-watermark.ttf"))
    sheet = path.with_name(f"{path.stem}.flat-stamp.pdf")
    pdf = canvas.Canvas(str(sheet), pagesize=A4)
    pdf.setFillGray(0.85)
    pdf.setFont(name, 40)
    pdf.drawCentredString(A4[0] / 2, 400, WATERMARK)
    pdf.setFont(name, 16)
    for y in (130, 270, 540, 680):
        for x in (90, 250, 410):
            pdf.drawString(x, y, BRAND)
    pdf.setFont(name, 9)
    pdf.drawString(57, A4[1] - 52, "    ".join([BRAND, WATERMARK] * 4))
    pdf.showPage()
    pdf.save()
    _merge(path, sheet, over)


CHART_LABELS = ("寒武纪", "海光信息", "澜起科技", "中芯国际", "金山办公", "芯原股份")
CHART_CAPTION = "图1：前六大成分股市值（亿元）"
CHART_SOURCE = "数据来源：Wind，截至2025年6月30日。"


def add_chart(path: Path) -> None:
    """A page of figures added after the last, as a report's appendix sets one: a caption, a
    bar chart whose category labels are set at 45° under the axis (figures on the value axis),
    and the source under it."""
    from pypdf import PdfReader, PdfWriter
    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    name = _sheet_font(
        "".join(CHART_LABELS) + CHART_CAPTION + CHART_SOURCE, path.with_name("chart.ttf")
    )
    sheet = path.with_name(f"{path.stem}.chart.pdf")
    pdf = canvas.Canvas(str(sheet), pagesize=A4)
    pdf.setFont(name, 10.5)
    pdf.drawString(72, 760, CHART_CAPTION)
    drawing = Drawing(420, 260)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 50, 70, 350, 170
    chart.data = [(2650, 3380, 1020, 4210, 1290, 310)]
    chart.categoryAxis.categoryNames = list(CHART_LABELS)
    for labels in (chart.categoryAxis.labels, chart.valueAxis.labels):
        labels.fontName, labels.fontSize = name, 9
    chart.categoryAxis.labels.angle = 45
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.valueAxis.valueMin, chart.valueAxis.valueMax, chart.valueAxis.valueStep = 0, 5000, 1000
    drawing.add(chart)
    drawing.drawOn(pdf, 72, 480)
    pdf.setFont(name, 9)
    pdf.drawString(72, 470, CHART_SOURCE)
    pdf.showPage()
    pdf.save()
    writer = PdfWriter(clone_from=PdfReader(path))
    writer.append(PdfReader(sheet))
    writer.write(path)


SIDEBAR = ("科技创新引领未来", "银华基金与您同行")  # read right to left: the first on the right


def vertical_sidebar(path: Path, over: bool = True) -> None:
    """Set a sidebar in vertical writing (竖排) in the first page's right margin, as a cover or
    a brochure's page does: each column top to bottom, the columns right to left, one
    character drawn under the other."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    name = _sheet_font("".join(SIDEBAR), path.with_name("sidebar.ttf"))
    sheet = path.with_name(f"{path.stem}.sidebar.pdf")
    pdf = canvas.Canvas(str(sheet), pagesize=A4)
    size = 14
    pdf.setFont(name, size)
    for k, column in reversed(list(enumerate(SIDEBAR))):  # drawn left to right
        x = A4[0] - 36 - k * 1.6 * size
        for j, char in enumerate(column):
            pdf.drawCentredString(x, 640 - j * 1.15 * size, char)
    pdf.showPage()
    pdf.save()
    _merge(path, sheet, over, slice(0, 1))
