"""PDF layouts that squeeze the text: a two-column page (a monthly report's), where a table of
five or six columns has a few characters' width per column and a long heading takes two lines.

Each test makes its PDF with reportlab (``tests/renderers.py``: embedded CJK font, running
header and page footer) and reads it through :func:`assistant.documents.load_article`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.chunking import chunk_article
from assistant.documents import Article, load_article
from assistant.formats import table_lines
from assistant.text import normal_form
from tests import renderers as R

LIMIT = 20 * 2**20
HEADER = "银华基金 · 月度观点"
BODY = (
    "本基金报告期内份额净值增长率为12.35%，同期业绩比较基准收益率为10.21%。",
    "算力需求在推理时代仍然上升，数据中心的建设节奏没有放缓，训练与推理的比例正在变化。",
    "海外科技公司的资本开支继续上修，国内算力产业链的订单能见度有所提高。",
)
FIVE = (
    ("期间", "净值增长率", "业绩比较基准收益率", "差额", "标准差"),
    ("过去一个月", "2.14%", "1.05%", "1.09%", "0.85%"),
    ("过去三个月", "-3.05%", "-1.20%", "-1.85%", "1.12%"),
    ("过去六个月", "12.35%", "10.21%", "2.14%", "1.82%"),
    ("过去一年", "25.67%", "22.30%", "3.37%", "1.95%"),
    ("自基金合同生效起至今", "-10.02%", "-7.91%", "-2.11%", "2.06%"),
)
SIX = (
    ("期间", "份额净值增长率①", "份额净值增长率标准差②", "业绩比较基准收益率③", "①-③", "最大回撤"),
    ("过去三个月", "-3.40%", "2.05%", "-4.11%", "0.71%", "-8.46%"),
    ("过去一年", "25.67%", "1.95%", "22.30%", "3.37%", "-12.48%"),
    ("过去三年", "41.02%", "2.10%", "35.88%", "5.14%", "-31.27%"),
    ("2024年度", "17.49%", "1.76%", "14.38%", "3.11%", "-9.05%"),
)


def _paragraph(k: int, sentences: int = 6) -> R.Item:
    return R.Item("paragraph", "".join(BODY[(k + i) % len(BODY)] for i in range(sentences)))


def _write(doc: R.Document, path: Path, columns: int = 2, **layout: object) -> Article:
    font = R.cjk_truetype(doc.text() + HEADER, path.with_suffix(".ttf"))
    R.reportlab_pdf(doc, path, font, running_header=HEADER, columns=columns, **layout)  # type: ignore[arg-type]
    return load_article(path, path.name, LIMIT)


def _texts(article: Article) -> list[str]:
    return [normal_form(block.text) for block in article.blocks]


# -- narrow tables --------------------------------------------------------------------------------


@pytest.mark.parametrize("body_size", [9.5, 10.5, 12])
@pytest.mark.parametrize("three_line", [False, True], ids=["grid", "three-line"])
def test_a_narrow_table_in_a_column_reads_row_by_row_with_every_cell_whole(
    tmp_path: Path, three_line: bool, body_size: float
) -> None:
    # A column a few characters wide per table column: cells wrap, figures break over lines
    # ("2." / "14%", "-1" / "0.02%"), the columns stand a padding apart; the six-column table
    # is carried from the foot of the first column to the top of the second.
    doc = R.Document(
        "科创板人工智能ETF 月度报告",
        [
            R.Item("heading", "一、基金净值表现", 1),
            _paragraph(0),
            R.Item("paragraph", "表1：基金份额净值增长率与业绩比较基准收益率"),
            R.Item("table", rows=FIVE),
            _paragraph(1, 10),
            R.Item("paragraph", "表2：各阶段净值表现与最大回撤"),
            R.Item("table", rows=SIX),
            _paragraph(2),
            R.Item("heading", "风险提示", 1),
            R.Item("paragraph", "基金有风险，投资需谨慎。基金的过往业绩并不预示其未来表现。"),
        ],
    )
    texts = _texts(_write(doc, tmp_path / "narrow.pdf", body_size=body_size, three_line=three_line))
    for rows in (FIVE, SIX):
        expected = [normal_form(line.text) for line in table_lines(rows)]
        assert [t for t in texts if f"| {rows[0][-1]}：" in t] == expected
    # "过去一年 | 份额净值增长率①：25.67% | …" : every value with its column name, none split.
    assert (
        "过去三个月 | 净值增长率：-3.05% | 业绩比较基准收益率：-1.20% | 差额：-1.85% | 标准差：1.12%"
        in texts
    )
    for item in doc.items:  # the text around the tables stays whole, in its place
        if item.kind == "paragraph":
            assert normal_form(item.text) in texts
    assert texts.index(normal_form(doc.items[2].text)) + 1 == texts.index(expected_first(FIVE))
    assert texts.index(normal_form(doc.items[5].text)) + 1 == texts.index(expected_first(SIX))


def expected_first(rows: tuple[tuple[str, ...], ...]) -> str:
    return normal_form(table_lines(rows)[0].text)


@pytest.mark.parametrize(("body_size", "sentences"), [(10.5, 14), (12, 12)])
@pytest.mark.parametrize("three_line", [False, True], ids=["grid", "three-line"])
def test_a_table_longer_than_a_column_reads_in_order_around_its_text(
    tmp_path: Path, three_line: bool, body_size: float, sentences: int
) -> None:
    # A paragraph carried from page 1 to the top of page 2; under it the table's first rows
    # at the foot of the first column, the whole second column nothing but the table, the
    # rest on page 3. Its rows read in order, after that paragraph and before the next.
    rows = (FIVE[0], *(FIVE[1:] * 8))
    doc = R.Document(
        "科创板人工智能ETF 月度报告",
        [
            R.Item("heading", "一、基金净值表现", 1),
            *(_paragraph(k, sentences) for k in range(3)),
            R.Item("table", rows=rows),
            _paragraph(1),
            R.Item("heading", "风险提示", 1),
            R.Item("paragraph", "基金有风险，投资需谨慎。基金的过往业绩并不预示其未来表现。"),
        ],
    )
    texts = _texts(_write(doc, tmp_path / "long.pdf", body_size=body_size, three_line=three_line))
    expected = [normal_form(line.text) for line in table_lines(rows)]
    first = texts.index(expected[0])
    assert texts[first : first + len(expected)] == expected
    assert texts[first - 1] == normal_form(doc.items[3].text)
    assert texts[first + len(expected)] == normal_form(doc.items[5].text)


FACTS = (
    ("基金简称", "科创AIETF"),
    ("基金主代码", "588930"),
    ("成立日期", "2020-09-28"),
    ("基金经理", "王某某、李某某"),
    ("基金运作方式", "交易型开放式"),
    ("业绩比较基准", "上证科创板人工智能指数收益率"),
    ("管理费率", "0.50%/年"),
    ("托管费率", "0.10%/年"),
    ("报告期末基金份额总额", "1,168,903,724份"),
    ("风险收益特征", "较高风险、较高预期收益"),
    ("基金管理人", "银华基金管理股份有限公司"),
)


def _fact_sheet(lead: int) -> R.Document:
    """A fund's monthly sheet: a lead paragraph of ``lead`` sentences, the facts table, then a
    captioned five-column table among paragraphs (items 1 and 4 are the lead and the caption)."""
    return R.Document(
        "科创板人工智能ETF 基金月报",
        [
            R.Item("heading", "一、基金概况", 1),
            _paragraph(0, lead),
            R.Item("table", rows=FACTS),
            _paragraph(1),
            R.Item("paragraph", "表1：基金份额净值增长率与业绩比较基准收益率"),
            R.Item("table", rows=FIVE),
            *(_paragraph(k) for k in range(2, 6)),
        ],
    )


@pytest.mark.parametrize("body_size", [9.5, 10.5, 12])
@pytest.mark.parametrize("three_line", [False, True], ids=["grid", "three-line"])
def test_tables_in_a_column_of_a_three_column_page_read_row_by_row(
    tmp_path: Path, three_line: bool, body_size: float
) -> None:
    # A fact sheet's page in three columns: the facts table long enough to be carried from one
    # column to the next (its rows under the header wrap: "基金运作方" / "式"), and a
    # five-column table whose columns are narrower than a character, so that every cell is a
    # stack of single characters ("差" / "额" beside "标" / "准" / "差", "1" / "." / "0" / "9"),
    # its columns a fifth of the type size apart.
    doc = _fact_sheet(8)
    path = tmp_path / "three.pdf"
    texts = _texts(_write(doc, path, 3, body_size=body_size, three_line=three_line))
    for rows in (FACTS, FIVE):
        expected = [normal_form(line.text) for line in table_lines(rows)]
        first = texts.index(expected[0])
        assert texts[first : first + len(expected)] == expected
    assert normal_form(doc.items[1].text) in texts
    assert texts.index(normal_form(doc.items[4].text)) + 1 == texts.index(expected_first(FIVE))


@pytest.mark.parametrize("three_line", [False, True], ids=["grid", "three-line"])
def test_a_paragraph_carried_into_a_column_of_a_few_lines_stays_whole(
    tmp_path: Path, three_line: bool
) -> None:
    # At 12 pt the text left for the third column of the page is a paragraph's last two lines
    # ("绩比较基准收益率为" / "10.21%。") and a caption over a table: too few lines to find a
    # column by, yet they carry on the paragraph of the column before, and the caption is one.
    doc = _fact_sheet(3)
    texts = _texts(_write(doc, tmp_path / "few.pdf", 3, body_size=12, three_line=three_line))
    assert normal_form(doc.items[3].text) in texts
    assert texts.index(normal_form(doc.items[4].text)) + 1 == texts.index(expected_first(FIVE))


# -- headings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("heading", "level", "body_size"),
    [
        pytest.param(
            "二、海外科技巨头资本开支持续上修，国内算力产业链有望受益", 2, 9.5, id="comma-2"
        ),
        pytest.param("二、推理需求持续增长，算力租赁价格回落但订单能见度提高", 1, 12, id="comma-1"),
        pytest.param("二、算力租赁价格有所回落，推理需求仍在上升", 1, 10.5, id="comma-short"),
        pytest.param(
            "二、海外科技巨头资本开支上修，国内算力产业链有望受益于需求外溢", 1, 10.5, id="no-comma"
        ),
    ],
)
def test_a_heading_that_wraps_in_a_column_is_one_heading_over_its_section(
    tmp_path: Path, heading: str, level: int, body_size: float
) -> None:
    # The column is too narrow for the heading: it prints on two lines, the first of the three
    # ending at its comma ("二、算力租赁价格有所回落，" / "推理需求仍在上升"), a clause alone.
    after = "第一，" + "".join(BODY)
    doc = R.Document(
        "算力观点月报",
        [
            R.Item("heading", "一、算力需求", level),
            *(_paragraph(k) for k in range(2)),
            R.Item("heading", heading, level),
            R.Item("paragraph", after),
            *(_paragraph(k) for k in range(3)),
            R.Item("heading", "三、风险与展望", level),
            *(_paragraph(k) for k in range(4)),
            R.Item("heading", "风险提示", level),
            R.Item("paragraph", "基金有风险，投资需谨慎。基金的过往业绩并不预示其未来表现。"),
        ],
    )
    article = _write(doc, tmp_path / "wrapped.pdf", body_size=body_size)
    headings = [block.text for block in article.blocks if block.kind == "heading"]
    assert headings == ["一、算力需求", heading, "三、风险与展望", "风险提示"]
    sections = {normal_form(chunk.text): chunk.section for chunk in chunk_article(article)}
    following = [section for text, section in sections.items() if normal_form(after) in text]
    assert following == [heading]


# -- words broken at a line end -------------------------------------------------------------------

URL = "https://www.example.com/fund/announcement/2025/prospectus-update-class-a.pdf"
ENGLISH = (
    "The fund invests in companies across the artificial intelligence supply chain, from chips "
    "and servers to software platforms and applications, and it rebalances every quarter "
    "according to the index methodology published by the exchange, and the manager answers "
    "questions by telephone on every trading day."
)


@pytest.mark.parametrize(("columns", "body_size"), [(2, 9.5), (2, 10.5), (3, 10.5), (3, 12)])
def test_a_url_or_a_word_broken_at_a_line_end_is_joined_without_a_space(
    tmp_path: Path, columns: int, body_size: float
) -> None:
    # The producer breaks Chinese text anywhere, in three columns a Latin word glued to it too
    # ("上线DeepSe" / "ek大模型", "，DeepS" / "eek与"), and a URL too long for the column
    # wherever it must ("…/ann" / "ouncement"); English words it breaks at their spaces, and
    # those keep one space.
    glued = "".join(
        "国内外科技巨头均在自身平台上线DeepSeek大模型，下载量迅速达到全球第一。"
        "科创板人工智能ETF和科创AIETF的规模增长较快，DeepSeek与ChatGPT的竞争带来新的机会。"
        for _ in range(4)
    )
    url = f"本基金的招募说明书更新及相关公告全文见{URL}，投资者可登录查阅。"
    facts = (("基金简称", "科创板人工智能ETF"), ("场内简称", "科创AIETF"), ("基金主代码", "588930"))
    doc = R.Document(
        "科创板人工智能ETF 月度报告",
        [
            R.Item("heading", "一、产品公告", 1),
            R.Item("paragraph", url),
            R.Item("paragraph", glued),
            R.Item("paragraph", ENGLISH),
            R.Item("table", rows=facts),
            *(_paragraph(k) for k in range(3)),
        ],
    )
    texts = _texts(_write(doc, tmp_path / "words.pdf", columns, body_size=body_size))
    assert normal_form(url) in texts
    assert normal_form(glued) in texts
    # In narrower columns reportlab's CJK wrapping sets English text itself wrongly (a space
    # dropped from the page: "manageranswers"), which no reader can undo.
    if columns == 2:
        assert ENGLISH in texts
    assert [normal_form(line.text) for line in table_lines(facts)] == [
        t for t in texts if "：" in t
    ]  # "基金简称：科创板人工智能ETF", not "…ET F"


LONG_WORDS = (
    "Semiconductor manufacturers reported stronger profitability as infrastructure spending on "
    "datacenters accelerated, while telecommunications operators postponed investment decisions "
    "until the regulatory environment becomes clearer for international shareholders."
)


@pytest.mark.parametrize(("body_size", "whole"), [(10.5, False), (12, True)])
def test_an_english_word_broken_without_a_hyphen_is_one_word_again(
    tmp_path: Path, body_size: float, whole: bool
) -> None:
    # In three columns a word too long for what is left of the line breaks anywhere
    # ("methodolo" / "gy", "investmen" / "t", "telecommu" / "nications"), and English after
    # Chinese text breaks at its spaces ("科创板人工智能ETF。The" / "fund"): the first are one
    # word again, the second two.
    mixed = "科创板人工智能ETF。" + ENGLISH
    doc = R.Document(
        "科创板人工智能ETF 月度报告",
        [
            R.Item("heading", "一、产品公告", 1),
            R.Item("paragraph", ENGLISH),
            R.Item("paragraph", mixed),
            R.Item("paragraph", LONG_WORDS),
            *(_paragraph(k) for k in range(2)),
        ],
    )
    texts = _texts(_write(doc, tmp_path / "english.pdf", 3, body_size=body_size))
    assert any(text.startswith("科创板人工智能ETF。The fund invests in") for text in texts)
    # At 10.5 pt reportlab drops spaces from the page itself ("datacentersaccelerat").
    if whole:
        assert ENGLISH in texts and LONG_WORDS in texts


@pytest.mark.parametrize(("body_size", "sentences"), [(9.5, 10), (10.5, 8)])
@pytest.mark.parametrize("three_line", [False, True], ids=["grid", "three-line"])
def test_two_headings_either_side_of_a_column_break_stay_two(
    tmp_path: Path, three_line: bool, body_size: float, sentences: int
) -> None:
    # "§2 基金产品概况" at the foot of a column over its table, "§3 …" at the top of the next:
    # the first short, the second's "§3" too wide to have fitted after it, as a heading that
    # wraps would be; the section number says the second opens a section of its own.
    facts = (("基金简称", "科创AIETF"), ("基金主代码", "588930"), ("基金运作方式", "交易型开放式"))
    headings = ["§1 重要提示", "§2 基金产品概况", "§3 主要财务指标和基金净值表现", "风险提示"]
    doc = R.Document(
        "科创板人工智能ETF 2025年第1季度报告",
        [
            R.Item("heading", headings[0], 1),
            _paragraph(0, sentences),
            R.Item("heading", headings[1], 1),
            R.Item("table", rows=facts),
            R.Item("heading", headings[2], 1),
            *(_paragraph(k) for k in range(1, 4)),
            R.Item("heading", headings[3], 1),
            R.Item("paragraph", "基金有风险，投资需谨慎。"),
        ],
    )
    article = _write(doc, tmp_path / "sections.pdf", 3, body_size=body_size, three_line=three_line)
    assert [block.text for block in article.blocks if block.kind == "heading"] == headings


# -- headings set barely larger than the text, or bold ---------------------------------------------

BOLD_CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
LEAD_IN = "市场回顾："
LEAD_IN_REST = "一季度人工智能板块先扬后抑，" + BODY[1] + BODY[2]
EMPHASIS = "本基金为股票型基金，其预期风险和预期收益高于混合型基金。"


def _fund_report(
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
    body: float,
    heading: float,
    bold: bool,
    bold_text: bool = False,
) -> Article:
    """A quarterly report as fund companies set it: one column, headings in bold (or not) at
    ``heading`` points over ``body`` point text, a paragraph that opens with a bold lead-in, a
    bold sentence of its own, a table under a bold header row, short lines of notes."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    text = "".join(BODY) + LEAD_IN + LEAD_IN_REST + EMPHASIS + "".join(map("".join, FIVE))
    text += (
        "银华科创板人工智能ETF2025年第1季度报告§重要提示基金产品概况管理人报告投资策略和运作分析"
    )
    text += "风险提示有风险，投资需谨慎。过往业绩并不预示其未来表现单位：人民币元数据来源：Wind"
    regular = R.cjk_truetype(text, path.with_suffix(".ttf"))
    monkeypatch.setattr(R, "NOTO_CJK", BOLD_CJK)  # the same subset, from the bold face
    heavy = R.cjk_truetype(text + "粗", path.with_name(f"{path.stem}-bold.ttf"))
    names = {}
    for face, file in (("regular", regular), ("bold", heavy)):
        names[face] = f"Noto-{file.resolve()}"
        if names[face] not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(names[face], str(file)))
    pdfmetrics.registerFontFamily(names["regular"], normal=names["regular"], bold=names["bold"])

    def style(size: float, face: str) -> ParagraphStyle:
        return ParagraphStyle(
            f"{face}-{size}-{path}", fontName=names[face], fontSize=size, leading=size * 1.5,
            spaceBefore=size / 2, spaceAfter=size / 2, wordWrap="CJK",
        )  # fmt: skip

    text_style = style(body, "bold" if bold_text else "regular")
    title_style = style(2 * body, "regular")
    head_style = style(heading, "bold" if bold else "regular")
    header = [Paragraph(c, style(body, "bold")) for c in FIVE[0]]
    table = Table([header, *([Paragraph(c, text_style) for c in row] for row in FIVE[1:4])])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    story = [
        Paragraph("银华科创板人工智能ETF 2025年第1季度报告", title_style),
        Paragraph("§1 重要提示", head_style),
        Paragraph("".join(BODY) * 2, text_style),
        Paragraph(f"<b>{EMPHASIS}</b>", text_style),
        Paragraph("§2 基金产品概况", head_style),
        Paragraph("单位：人民币元", text_style),
        table,
        Paragraph("数据来源：Wind", text_style),
        Paragraph("§3 管理人报告", head_style),
        Paragraph("3.1 投资策略和运作分析", head_style),
        Paragraph(f"<b>{LEAD_IN}</b>{LEAD_IN_REST}", text_style),
        Paragraph("".join(BODY[::-1]) * 2, text_style),
        Paragraph("风险提示", head_style),
        Paragraph("基金有风险，投资需谨慎。基金的过往业绩并不预示其未来表现。", text_style),
    ]
    SimpleDocTemplate(str(path), pagesize=A4, title="季度报告").build(story)
    return load_article(path, path.name, LIMIT)


@pytest.mark.parametrize(
    ("body", "heading", "bold", "bold_text"),
    [
        pytest.param(10.5, 11.5, True, False, id="11.5-bold"),
        pytest.param(10.5, 11.5, False, False, id="11.5"),
        pytest.param(10.5, 10.5, True, False, id="10.5-bold"),
        pytest.param(12, 13, True, False, id="13-bold-over-12"),
        pytest.param(10.5, 11.5, True, True, id="all-bold"),
    ],
)
def test_headings_barely_larger_than_the_text_or_bold_are_headings(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    body: float,
    heading: float,
    bold: bool,
    bold_text: bool,
) -> None:
    # Fund reports set headings 1.1 times the body size, often in bold, or bold at the body's
    # size. A bold lead-in inside a paragraph, a bold sentence, a table's bold header row and
    # short lines of notes stay what they are; where the text itself is bold, so are its
    # short lines ("单位：人民币元"), and only the size sets headings apart.
    article = _fund_report(tmp_path / "report.pdf", monkeypatch, body, heading, bold, bold_text)
    headings = [block.text for block in article.blocks if block.kind == "heading"]
    assert headings == [
        "§1 重要提示",
        "§2 基金产品概况",
        "§3 管理人报告",
        "3.1 投资策略和运作分析",
        "风险提示",
    ]
    texts = _texts(article)
    assert normal_form(LEAD_IN + LEAD_IN_REST) in texts
    assert normal_form(EMPHASIS) in texts
    assert expected_first(FIVE) in texts
    sections = {normal_form(chunk.text): chunk.section for chunk in chunk_article(article)}
    following = [s for text, s in sections.items() if normal_form(LEAD_IN_REST) in text]
    assert following == ["3.1 投资策略和运作分析"]
