"""PDFs as fund companies and brokers publish them, beyond what reportlab makes by default:
fonts whose text does not map to Unicode, rotated watermarks, pages turned by /Rotate, bold
drawn by stroking the glyphs.

Each test makes its PDF with reportlab (``tests/renderers.py``), changes it the way other
producers leave it (pypdf rewrites its objects), and reads it through
:func:`assistant.documents.load_article`. ``bench/pdf.py`` changes its reports with the same
functions (:func:`rewrite_unicode_maps`, :func:`stamp`, :func:`turn`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from assistant.documents import Article, load_article
from assistant.errors import IngestError
from assistant.text import normal_form
from tests import renderers as R
from tests.conftest import SEED

LIMIT = 20 * 2**20
HEADER = "银华基金 · 季度报告"
BODY = (
    "本基金报告期内份额净值增长率为12.35%，同期业绩比较基准收益率为10.21%。",
    "算力需求在推理时代仍然上升，数据中心的建设节奏没有放缓，训练与推理的比例正在变化。",
    "海外科技公司的资本开支继续上修，国内算力产业链的订单能见度有所提高。",
)
DISCLOSURE = "基金有风险，投资需谨慎。基金的过往业绩并不预示其未来表现。"


def _paragraph(k: int, sentences: int = 6) -> R.Item:
    return R.Item("paragraph", "".join(BODY[(k + i) % len(BODY)] for i in range(sentences)))


def _report(pages: int = 2) -> R.Document:
    """A quarterly report's text, about ``pages`` pages long at 10.5 pt."""
    items = [R.Item("heading", "§1 重要提示", 1)]
    for k in range(7 * pages):
        items.append(_paragraph(k))
    return R.Document(
        "银华科创板人工智能ETF 2025年第1季度报告",
        [*items, R.Item("heading", "风险提示", 1), R.Item("paragraph", DISCLOSURE)],
    )


def _write(doc: R.Document, path: Path) -> Path:
    font = R.cjk_truetype(doc.text() + HEADER, path.with_suffix(".ttf"))
    R.reportlab_pdf(doc, path, font, running_header=HEADER)
    return path


def _texts(article: Article) -> list[str]:
    return [normal_form(block.text) for block in article.blocks]


# -- text that does not map to Unicode ------------------------------------------------------------


def _with_attachment(tmp_path: Path, how: str) -> Path:
    """A report of two pages and an attachment of one, made by another tool and appended: the
    attachment's fonts leave its text unmapped."""
    from pypdf import PdfWriter

    report = _write(_report(), tmp_path / "report.pdf")
    attachment = R.Document(
        "附件：基金经理变更公告",
        [R.Item("paragraph", "".join(BODY[::-1]) * 3), R.Item("paragraph", DISCLOSURE)],
    )
    _write(attachment, tmp_path / "attachment.pdf")
    R.rewrite_unicode_maps(tmp_path / "attachment.pdf", 1, how)
    merged = PdfWriter()
    merged.append(str(report))
    merged.append(str(tmp_path / "attachment.pdf"))
    merged.write(tmp_path / "notice.pdf")
    return tmp_path / "notice.pdf"


@pytest.mark.parametrize("how", ["strip", "swap"])
def test_a_pdf_whose_text_does_not_map_to_unicode_is_refused_naming_its_pages(
    tmp_path: Path, how: str
) -> None:
    path = _write(_report(), tmp_path / "report.pdf")
    R.rewrite_unicode_maps(path, 1, how)
    with pytest.raises(IngestError) as caught:
        load_article(path, path.name, LIMIT)
    reason = caught.value.reason
    assert reason.startswith("the text does not map to Unicode (pages 1, 2, 3): fonts without")
    assert "/ToUnicode" in reason and "OCR" in reason


@pytest.mark.parametrize("how", ["strip", "swap"])
def test_pages_whose_text_does_not_map_to_unicode_are_left_out_and_named(
    tmp_path: Path, how: str
) -> None:
    path = _with_attachment(tmp_path, how)
    article = load_article(path, path.name, LIMIT)
    assert article.warnings == (
        "page 4 has text that does not map to Unicode (fonts without a usable /ToUnicode map, "
        "so the text reads as control characters or as characters the page does not show) and "
        "was left out; ingest a copy whose fonts carry their Unicode maps, or a checked OCR'd "
        "copy, to include it.",
    )
    texts = _texts(article)
    for item in _report().items:  # the report's own pages read whole
        assert normal_form(item.text) in texts
    assert not any("附件" in text or re.search(r"[\x00-\x1f\x7f-\x9f]", text) for text in texts)


def test_real_text_in_chinese_english_and_figures_is_not_taken_for_unmapped(
    tmp_path: Path,
) -> None:
    # No false alarm: ideographs that make words, traditional ones, English prose, figures.
    from opencc import OpenCC

    traditional = OpenCC("s2t").convert("".join(BODY) * 2)
    english = " ".join(
        [
            "The fund invests in companies across the artificial intelligence supply chain, "
            "from chips and servers to software platforms and applications."
        ]
        * 3
    )
    figures = " ".join(f"{k}: {k * 1.37:.2f}% / {k * 2.11:,.2f}" for k in range(1, 60))
    doc = R.Document(
        "科创板人工智能ETF 月度报告",
        [
            R.Item("paragraph", "".join(BODY) * 2),
            R.Item("paragraph", traditional),
            R.Item("paragraph", english),
            R.Item("paragraph", figures),
        ],
    )
    article = load_article(_write(doc, tmp_path / "mixed.pdf"), "mixed.pdf", LIMIT)
    assert not [warning for warning in article.warnings if "Unicode" in warning]
    texts = _texts(article)
    assert normal_form(traditional) in texts and normal_form(english) in texts


# -- rotated watermarks ---------------------------------------------------------------------------


@pytest.mark.parametrize("over", [True, False], ids=["over", "under"])
def test_a_rotated_watermark_stays_out_of_the_text_headings_and_tables(
    tmp_path: Path, over: bool
) -> None:
    # Two columns of body text, headings and a table, stamped on every page: the article
    # reads as it does unstamped, with no character of the watermark in it.
    facts = (("基金简称", "科创AIETF"), ("基金主代码", "588930"), ("基金运作方式", "交易型开放式"))
    doc = R.Document(
        "科创板人工智能ETF 月度报告",
        [
            R.Item("heading", "一、市场回顾", 1),
            *(_paragraph(k) for k in range(4)),
            R.Item("heading", "二、基金概况", 1),
            R.Item("table", rows=facts),
            *(_paragraph(k) for k in range(4, 12)),
            R.Item("heading", "风险提示", 1),
            R.Item("paragraph", DISCLOSURE),
        ],
    )
    font = R.cjk_truetype(doc.text() + HEADER, tmp_path / "doc.ttf")
    for name in ("plain.pdf", "stamped.pdf"):
        R.reportlab_pdf(doc, tmp_path / name, font, running_header=HEADER, columns=2)
    R.stamp(tmp_path / "stamped.pdf", over)
    plain = load_article(tmp_path / "plain.pdf", "plain.pdf", LIMIT)
    stamped = load_article(tmp_path / "stamped.pdf", "stamped.pdf", LIMIT)
    assert [(b.kind, b.text) for b in stamped.blocks] == [(b.kind, b.text) for b in plain.blocks]
    assert not any("仅供" in b.text or R.COMPANY in b.text for b in stamped.blocks)


# -- pages turned by /Rotate ----------------------------------------------------------------------

PERFORMANCE = (
    ("阶段", "份额净值增长率①", "份额净值增长率标准差②", "业绩比较基准收益率③", "①-③", "②-④"),
    ("过去三个月", "12.35%", "1.82%", "10.21%", "2.14%", "0.35%"),
    ("过去六个月", "-3.40%", "2.05%", "-4.11%", "0.71%", "0.62%"),
    ("过去一年", "25.67%", "1.95%", "22.30%", "3.37%", "0.48%"),
)


def _landscape(path: Path) -> None:
    """Two landscape pages (a wide table and the text around it), as a report's appendix sets
    them: heading, paragraphs, a ruled table, notes."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    text = "".join(BODY) + DISCLOSURE + "".join(map("".join, PERFORMANCE)) + "附录：各阶段净值表现"
    font = R.cjk_truetype(text, path.with_suffix(".ttf"))
    name = f"Noto-{font.resolve()}"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, str(font)))

    def style(size: float) -> ParagraphStyle:
        return ParagraphStyle(
            f"{name}-{size}", fontName=name, fontSize=size, leading=size * 1.5,
            spaceAfter=size / 2, wordWrap="CJK",
        )  # fmt: skip

    table = Table([[Paragraph(c, style(10.5)) for c in row] for row in PERFORMANCE])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    story = [
        Paragraph("附录：各阶段净值表现", style(16)),
        *(Paragraph(_paragraph(k, 8).text, style(10.5)) for k in range(3)),
        table,
        *(Paragraph(_paragraph(k, 8).text, style(10.5)) for k in range(3, 9)),
        Paragraph("风险提示", style(16)),
        Paragraph(DISCLOSURE, style(10.5)),
    ]
    SimpleDocTemplate(str(path), pagesize=landscape(A4), title="附录").build(story)


@pytest.mark.parametrize("rotate", [90, 270])
def test_pages_turned_by_rotate_read_as_their_reader_sees_them(tmp_path: Path, rotate: int) -> None:
    _landscape(tmp_path / "upright.pdf")
    R.turn(tmp_path / "upright.pdf", tmp_path / "turned.pdf", rotate)
    upright = load_article(tmp_path / "upright.pdf", "upright.pdf", LIMIT)
    turned = load_article(tmp_path / "turned.pdf", "turned.pdf", LIMIT)
    assert [(b.kind, b.text) for b in turned.blocks] == [(b.kind, b.text) for b in upright.blocks]
    texts = _texts(turned)
    assert normal_form(
        "过去一年 | 份额净值增长率①：25.67% | 份额净值增长率标准差②：1.95%"
    ) in " ".join(texts)
    assert normal_form(_paragraph(4, 8).text) in texts


# -- bold drawn by stroking the glyphs ------------------------------------------------------------

SECTIONS = ["§1 重要提示", "§2 基金产品概况", "§3 管理人报告", "3.1 投资策略和运作分析", "风险提示"]


def _faux_bold_report(path: Path, stroke: bool) -> Article:
    """A report in a font with no bold face: its headings, at the body's size, drawn with the
    glyphs filled and stroked (render mode 2), as Chinese PDFs set bold; ``stroke`` False: the
    same headings drawn plain."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate

    font = R.cjk_truetype("".join(BODY) + DISCLOSURE + "".join(SECTIONS) + "季度报告", path)
    name = f"Noto-{font.resolve()}"
    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, str(font)))
    body = ParagraphStyle(
        f"{name}-body", fontName=name, fontSize=10.5, leading=15.75, spaceAfter=5, wordWrap="CJK"
    )

    class Heading(Flowable):  # type: ignore[misc]
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

        def wrap(self, width: float, height: float) -> tuple[float, float]:
            return width, 21.0

        def draw(self) -> None:
            line = self.canv.beginText(0, 7)
            line.setFont(name, 10.5)
            line.setTextRenderMode(2 if stroke else 0)
            line.textLine(self.text)
            self.canv.setLineWidth(0.35)
            self.canv.drawText(line)

    story: list[Flowable] = [Paragraph("银华科创板人工智能ETF 2025年第1季度报告", body)]
    for k, section in enumerate(SECTIONS):
        story.append(Heading(section))
        text = DISCLOSURE if section == "风险提示" else _paragraph(k, 5).text
        story.append(Paragraph(text, body))
    pdf = path.with_suffix(".pdf")
    SimpleDocTemplate(str(pdf), pagesize=A4, title="季度报告").build(story)
    return load_article(pdf, pdf.name, LIMIT)


def test_headings_drawn_bold_by_stroking_are_headings(tmp_path: Path) -> None:
    article = _faux_bold_report(tmp_path / "stroked.ttf", stroke=True)
    assert [block.text for block in article.blocks if block.kind == "heading"] == SECTIONS
    plain = _faux_bold_report(tmp_path / "plain.ttf", stroke=False)
    # Drawn plain, only the disclosure's heading is known for one (by its words).
    assert [block.text for block in plain.blocks if block.kind == "heading"] == ["风险提示"]
    assert _texts(plain) == _texts(article)


def test_columns_on_pages_turned_by_rotate_read_as_upright(tmp_path: Path) -> None:
    # PDFium breaks a turned page's lines where one run of text ends and the next begins
    # ("布局30" / "只"): the lines and paragraphs are the upright printing's all the same. The
    # seed article in three columns.
    seed = load_article(SEED, "seed", LIMIT)
    doc = R.from_blocks(seed.title, seed.blocks)
    font = R.cjk_truetype(doc.text() + HEADER, tmp_path / "doc.ttf")
    R.reportlab_pdf(doc, tmp_path / "upright.pdf", font, running_header=HEADER, columns=3)
    R.turn(tmp_path / "upright.pdf", tmp_path / "turned.pdf", 90)
    upright = load_article(tmp_path / "upright.pdf", "upright.pdf", LIMIT)
    turned = load_article(tmp_path / "turned.pdf", "turned.pdf", LIMIT)
    assert [(b.kind, b.text) for b in turned.blocks] == [(b.kind, b.text) for b in upright.blocks]


# -- level pale watermarks, chart labels on a slant, vertical writing ------------------------------


def _blocks(article: Article) -> list[tuple[str, str]]:
    return [(block.kind, block.text) for block in article.blocks]


def _notice() -> R.Document:
    """A page with less text than a watermark has characters."""
    return R.Document("风险提示", [R.Item("paragraph", DISCLOSURE)])


@pytest.mark.parametrize("over", [True, False], ids=["over", "under"])
@pytest.mark.parametrize("doc", [_report, _notice], ids=["report", "notice"])
def test_a_level_pale_watermark_stays_out_of_the_text(
    tmp_path: Path, over: bool, doc: Callable[[], R.Document]
) -> None:
    # "仅供内部参考" large across the middle, "银华基金" in rows over the page and a band of
    # both under the header, level and pale grey: told by how they are drawn (far lighter than
    # the text, repeated, large, over the text), the article reads as it does unstamped.
    plain = _write(doc(), tmp_path / "plain.pdf")
    stamped = _write(doc(), tmp_path / "stamped.pdf")
    R.stamp_flat(stamped, over)
    article = load_article(stamped, stamped.name, LIMIT)
    assert _blocks(article) == _blocks(load_article(plain, plain.name, LIMIT))
    assert not any(R.WATERMARK in block.text for block in article.blocks)


def test_pale_text_that_stands_alone_is_text(tmp_path: Path) -> None:
    # A pale note set once, over nothing, at the text's size, is no watermark.
    from pypdf import PdfReader, PdfWriter
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    note = "注：本页数据未经审计，仅供参考。"
    path = _write(_report(1), tmp_path / "report.pdf")
    font = R.cjk_truetype(note, tmp_path / "note.ttf")
    pdfmetrics.registerFont(TTFont(f"PaleNote-{font}", str(font)))
    sheet = canvas.Canvas(str(tmp_path / "note.pdf"), pagesize=A4)
    sheet.setFillGray(0.8)
    sheet.setFont(f"PaleNote-{font}", 10.5)
    sheet.drawString(72, 90, note)
    sheet.save()
    writer = PdfWriter(clone_from=PdfReader(path))
    writer.pages[-1].merge_page(PdfReader(tmp_path / "note.pdf").pages[0])
    writer.write(path)
    assert normal_form(note) in _texts(load_article(path, path.name, LIMIT))


def test_chart_labels_on_a_slant_are_read_and_the_watermark_is_not(tmp_path: Path) -> None:
    # A page of figures: the bar chart's category labels at 45° are small, dark and each
    # once, and read one a line under the caption; the watermark stamped at 45° and 30°
    # over every page (large, pale, repeated) stays out.
    path = _write(_report(), tmp_path / "report.pdf")
    R.add_chart(path)
    R.stamp(path, over=True)
    texts = _texts(load_article(path, path.name, LIMIT))
    caption = texts.index(normal_form(R.CHART_CAPTION))
    labels = [normal_form(label) for label in R.CHART_LABELS]
    assert texts[caption + 1 : caption + 1 + len(labels)] == labels
    assert normal_form(R.CHART_SOURCE) in texts
    assert not any("仅供" in text or R.COMPANY in text for text in texts)
    for item in _report().items:
        assert normal_form(item.text) in texts


def test_vertical_writing_reads_as_columns_right_to_left(tmp_path: Path) -> None:
    # A sidebar in the first page's margin set in vertical writing, drawn column by column
    # from the left: each column reads as one line, the right one first, and the paragraph
    # running from page 1 to page 2 beside it stays whole.
    plain = _write(_report(), tmp_path / "plain.pdf")
    sidebar = _write(_report(), tmp_path / "sidebar.pdf")
    R.vertical_sidebar(sidebar)
    article = load_article(sidebar, sidebar.name, LIMIT)
    texts = _texts(article)
    first = texts.index(normal_form(R.SIDEBAR[0]))
    assert texts[first + 1] == normal_form(R.SIDEBAR[1])
    rest = [block for block in _blocks(article) if block[1] not in R.SIDEBAR]
    assert rest == _blocks(load_article(plain, plain.name, LIMIT))
