"""One article, every format it is published in: the same headings, disclosure and chunks.

The suite writes the files itself (``tests/renderers.py``): the seed article as .md, a web page
(.html, with a menu bar and a copyright footer), .docx, a PDF printed by Debian's Chromium from
that page (print header and footer included), and a PDF made by reportlab with an embedded CJK
font (running header, "第 n 页 共 m 页"), once more in two columns; and a fund report with a facts table and a
performance table long enough to cross a page break, in the same five formats.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest

from assistant.chunking import chunk_article
from assistant.documents import Article, load_article
from assistant.embeddings import E5Embedder
from assistant.factory import build_store
from assistant.figures import unsupported_figures
from assistant.retrieval import Retriever
from assistant.store import KnowledgeStore
from assistant.text import disclosure_id, normal_form
from tests import renderers as R
from tests.conftest import ROOT, SEED, run, settings_for

SIDECAR = SEED.with_name(f"{SEED.stem}.meta.toml")
LIMIT = 20 * 2**20
FORMATS = ["txt", "md", "html", "docx", "chromium.pdf", "reportlab.pdf", "twocolumn.pdf"]
# threeline.pdf: reportlab again, larger type, the table ruled across only (a three-line table)
# and narrow enough that labels and values wrap inside their cells.
TABLE_FORMATS = ["md", "html", "docx", "chromium.pdf", "reportlab.pdf", "threeline.pdf"]
PERIODS = ["过去三个月", "过去六个月", "过去一年", "过去三年", "自基金合同生效起至今"]
PERFORMANCE = (
    ("阶段", "份额净值增长率①", "份额净值增长率标准差②", "业绩比较基准收益率③", "①-③"),
    ("过去三个月", "12.35%", "1.82%", "10.21%", "2.14%"),
    ("过去六个月", "-3.40%", "2.05%", "-4.11%", "0.71%"),
    ("过去一年", "25.67%", "1.95%", "22.30%", "3.37%"),
    ("过去三年", "41.02%", "2.10%", "35.88%", "5.14%"),
    ("自基金合同生效起至今", "31.08%", "1.88%", "27.90%", "3.18%"),
)
FACTS = (
    ("基金简称", "科创板人工智能ETF"),
    ("基金主代码", "588930"),
    ("基金运作方式", "交易型开放式"),
)


def _seed_document() -> R.Document:
    article = load_article(SEED, "seed", LIMIT)
    return R.from_blocks(
        article.title, article.blocks, ["来源:金融界", "上一篇:AI时代的学生应该是什么样"]
    )


def _report_document() -> R.Document:
    paragraph = "本基金报告期内份额净值增长率为12.35%，同期业绩比较基准收益率为10.21%。" * 6
    filler = [R.Item("paragraph", paragraph) for _ in range(6)]
    return R.Document(
        "银华科创板人工智能ETF 2025年第1季度报告",
        [
            R.Item("heading", "§2 基金产品概况", 1),
            R.Item("table", rows=FACTS),
            R.Item("heading", "§3 主要财务指标和基金净值表现", 1),
            *filler,
            R.Item("paragraph", "表1：基金份额净值增长率及其与同期业绩比较基准收益率的比较"),
            R.Item("table", rows=PERFORMANCE + PERFORMANCE[1:] * 3),  # crosses a page break
            R.Item("heading", "风险提示", 1),
            R.Item("paragraph", "基金有风险，投资需谨慎。基金的过往业绩并不预示其未来表现。"),
        ],
    )


def _write_all(doc: R.Document, folder: Path, stem: str, font: Path, header: str) -> None:
    (folder / f"{stem}.md").write_text(R.markdown(doc), encoding="utf-8")
    (folder / f"{stem}.html").write_text(R.web_page(doc), encoding="utf-8")
    R.word(doc, folder / f"{stem}.docx")
    R.chromium_pdf(folder / f"{stem}.html", folder / f"{stem}.chromium.pdf")
    R.reportlab_pdf(doc, folder / f"{stem}.reportlab.pdf", font, running_header=header)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed article and a fund report in every format, each with the seed's sidecar."""
    folder = tmp_path_factory.mktemp("published")
    seed, report = _seed_document(), _report_document()
    font = R.cjk_truetype(
        seed.text() + report.text() + "银华基金·市场观点季度报告", folder / "cjk.ttf"
    )
    shutil.copyfile(SEED, folder / "seed.txt")
    _write_all(seed, folder, "seed", font, "银华基金 · 市场观点")
    _write_all(report, folder, "report", font, "银华基金 · 季度报告")
    # A monthly report's page: two columns side by side, paragraphs flowing from one to the next.
    R.reportlab_pdf(
        seed, folder / "seed.twocolumn.pdf", font, running_header="银华基金 · 市场观点", columns=2
    )
    R.reportlab_pdf(
        report, folder / "report.threeline.pdf", font, running_header="银华基金 · 季度报告",
        body_size=12, three_line=True,
    )  # fmt: skip
    for path in folder.iterdir():
        if path.suffix != ".ttf":
            shutil.copyfile(SIDECAR, path.with_name(f"{path.stem}.meta.toml"))
    return folder


def _load(folder: Path, stem: str, fmt: str) -> Article:
    return load_article(folder / f"{stem}.{fmt}", f"{stem}.{fmt}", LIMIT)


def _headings(article: Article) -> list[str]:
    return [block.text for block in article.blocks if block.kind == "heading"]


# -- the seed in every format ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS[1:])
def test_every_format_gives_the_seeds_headings_disclosure_and_chunks(
    published: Path, fmt: str
) -> None:
    text, other = _load(published, "seed", "txt"), _load(published, "seed", fmt)
    assert _headings(other) == _headings(text)
    assert other.disclosure is not None and text.disclosure is not None
    assert disclosure_id(other.disclosure) == disclosure_id(text.disclosure)
    ours, theirs = chunk_article(other), chunk_article(text)
    assert [c.section for c in ours] == [c.section for c in theirs]
    assert [normal_form(c.text) for c in ours] == [normal_form(c.text) for c in theirs]
    assert other.title == text.title and other.risk_level == "R4"


@pytest.mark.parametrize("fmt", ["chromium.pdf", "reportlab.pdf", "twocolumn.pdf", "html"])
def test_print_furniture_and_the_sites_menu_and_footer_are_not_content(
    published: Path, fmt: str
) -> None:
    article = _load(published, "seed", fmt)
    text = "\n".join(block.text for block in article.blocks)
    for furniture in (
        "file://", "seed.html", "1/3", "PM", "第 1 页", "共", "银华基金 · 市场观点",
        "版权所有", "网站地图", "首页", "ICP备", "-银华基金",
    ):  # fmt: skip
        assert furniture not in text, furniture
    assert article.source == "金融界"
    pages = [block.page for block in article.blocks]
    if fmt.endswith("pdf"):  # every block knows its page, in order, over several pages
        assert all(pages) and pages == sorted(pages) and pages[-1] >= 2  # type: ignore[type-var]
    else:
        assert set(pages) == {None}


def test_a_web_page_printed_in_two_columns_keeps_the_seeds_chunks_and_disclosure(
    tmp_path: Path,
) -> None:
    # Chromium balances the columns of the last page: a column there may hold two lines,
    # too few to be found on its own page, and the disclosure's last sentence broke in two.
    page = tmp_path / "seed.html"
    page.write_text(
        R.web_page(_seed_document(), "body { column-count: 2; column-gap: 2em }"), encoding="utf-8"
    )
    R.chromium_pdf(page, tmp_path / "seed.pdf")
    printed, text = load_article(tmp_path / "seed.pdf", "k", LIMIT), load_article(SEED, "k", LIMIT)
    assert printed.disclosure is not None and text.disclosure is not None
    assert disclosure_id(printed.disclosure) == disclosure_id(text.disclosure)
    ours, theirs = chunk_article(printed), chunk_article(text)
    assert [normal_form(c.text) for c in ours] == [normal_form(c.text) for c in theirs]


def test_a_heading_made_of_lookalike_radicals_is_recognised(tmp_path: Path) -> None:
    # What a PDF's font mapping hands over: Kangxi radicals and CJK radical-supplement forms.
    path = tmp_path / "article.txt"
    path.write_text(
        "一、基⾦ 的 算⼒ 逻辑\n算⼒需求在 DeepSeek 之后 , 仍然上升 。\n⻛险提⽰\n基⾦有⻛险，投资需谨慎。\n",
        encoding="utf-8",
    )
    article = load_article(path, "k", LIMIT)
    assert _headings(article) == ["一、基金的算力逻辑", "风险提示"]
    assert article.disclosure == "风险提示\n基金有风险，投资需谨慎。"
    assert chunk_article(article)[0].text == "算力需求在 DeepSeek 之后,仍然上升。"
    assert not article.warnings


def test_a_pdf_paragraph_keeps_a_short_last_line_of_digits(tmp_path: Path) -> None:
    # Chromium's print of a short page: the paragraph's last line is "约74%。" alone. Its digits'
    # boxes are taller than the ideographs' at one font size, and a page with two paragraphs
    # gives little to guess the right margin from; the figure stayed behind as its own block.
    page = tmp_path / "rent.html"
    page.write_text(
        '<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>算力租赁</title>'
        "</head><body><h1>算力租赁价格回落，但需求仍在</h1><h2>一、价格与需求</h2>"
        "<p>2025年以来，算力租赁价格有所回落。据测算，2024年国内智算中心规模约为725EFLOPS，"
        "同比增长约74%。</p><h2>二、我们的看法</h2><p>我们认为，价格回落可能进一步带动推理应用的普及。</p>"
        "<h2>风险提示</h2><p>投资有风险，投资需谨慎。</p></body></html>",
        encoding="utf-8",
    )
    R.chromium_pdf(page, tmp_path / "rent.pdf")
    texts = [block.text for block in load_article(tmp_path / "rent.pdf", "k", LIMIT).blocks]
    assert "2024年国内智算中心规模约为725EFLOPS，同比增长约74%。" in "\n".join(texts)
    assert not any(t.startswith(("约74%", "74%")) for t in texts)


# -- tables ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_a_performance_table_reads_as_rows_with_their_column_names(
    published: Path, fmt: str
) -> None:
    article = _load(published, "report", fmt)
    texts = [block.text for block in article.blocks]
    assert "过去一年 | 份额净值增长率①：25.67% | 份额净值增长率标准差②：1.95% | " in "\n".join(
        texts
    )
    assert "基金主代码：588930" in texts and "基金运作方式：交易型开放式" in texts
    rows = [t for t in texts if t.startswith(tuple(PERIODS))]
    assert len(rows) == 20  # every row once, the page break and the repeated header undone
    assert all(t.count("：") == 4 and t.endswith("%") for t in rows)
    assert _headings(article) == ["§2 基金产品概况", "§3 主要财务指标和基金净值表现", "风险提示"]


@pytest.mark.parametrize("fmt", ["chromium.pdf", "reportlab.pdf"])
def test_a_figure_quoted_from_a_pdf_table_passes_the_figure_check(
    published: Path, fmt: str
) -> None:
    sources = [chunk.text for chunk in chunk_article(_load(published, "report", fmt))]
    quoted = "过去一年，本基金份额净值增长率为25.67%，同期业绩比较基准收益率为22.30%。"
    assert unsupported_figures(quoted, sources) == []
    wrong = "过去一年，本基金份额净值增长率为26.67%。"
    assert [figure.text for figure in unsupported_figures(wrong, sources)] == ["26.67%"]


# -- scanned pages --------------------------------------------------------------------------------


def _scan(path: Path, text_pages: list[str], scanned_pages: int, numbered: bool = False) -> None:
    """A PDF whose pages are pictures (as a scanner makes them), after some pages of text;
    ``numbered``: every page stamped "Page n of m" at its foot, the scans too."""
    from PIL import Image, ImageDraw
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    picture = Image.new("L", (600, 800), 255)
    ImageDraw.Draw(picture).rectangle((60, 80, 540, 120), fill=0)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    pdf = canvas.Canvas(str(path), pagesize=A4)
    total = len(text_pages) + scanned_pages
    for n in range(1, total + 1):
        if n <= len(text_pages):
            pdf.drawString(72, 760, text_pages[n - 1])
        else:
            pdf.drawImage(ImageReader(io.BytesIO(buffer.getvalue())), 0, 0, *A4)
        if numbered:
            pdf.drawString(280, 20, f"Page {n} of {total}")
        pdf.showPage()
    pdf.save()


@pytest.mark.parametrize("numbered", [False, True])
def test_a_scanned_pdf_is_refused_for_having_no_text_layer(tmp_path: Path, numbered: bool) -> None:
    from assistant.errors import IngestError

    _scan(tmp_path / "scan.pdf", [], 2, numbered)
    with pytest.raises(IngestError) as caught:
        load_article(tmp_path / "scan.pdf", "scan.pdf", LIMIT)
    assert caught.value.reason.startswith("no text layer") and "OCR" in caught.value.reason


@pytest.mark.parametrize("numbered", [False, True])
def test_scanned_pages_inside_a_text_pdf_are_named_in_a_warning(
    tmp_path: Path, numbered: bool
) -> None:
    # numbered: the page numbers stamped on the scans are a text layer of print furniture
    # only; the scans must still be named, not left out in silence.
    _scan(tmp_path / "mixed.pdf", ["Risk warning: investing involves risk."], 2, numbered)
    article = load_article(tmp_path / "mixed.pdf", "mixed.pdf", LIMIT)
    assert article.disclosure == "Risk warning: investing involves risk."
    assert article.warnings == (
        "pages 2, 3 have no text layer (scanned images) and were left out; ingest a text "
        "version to include them.",
    )


def test_one_scanned_page_is_named_in_a_sentence_about_one_page(tmp_path: Path) -> None:
    _scan(tmp_path / "mixed.pdf", ["Risk warning: investing involves risk."], 1)
    article = load_article(tmp_path / "mixed.pdf", "mixed.pdf", LIMIT)
    assert article.warnings == (
        "page 2 has no text layer (scanned image) and was left out; ingest a text version to "
        "include it.",
    )


# -- ingest, end to end ---------------------------------------------------------------------------


def test_ingest_reports_refusals_and_missing_disclosures_and_stores_one_disclosure(
    published: Path, tmp_path: Path, embedder: E5Embedder
) -> None:
    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    shutil.copyfile(published / "seed.chromium.pdf", knowledge / "seed.chromium.pdf")
    shutil.copyfile(SIDECAR, knowledge / "seed.chromium.meta.toml")
    shutil.copyfile(
        ROOT / "knowledge" / "_default_disclosure.txt", knowledge / "_default_disclosure.txt"
    )
    (knowledge / "note.md").write_text("# 算力笔记\n\n推理需求持续增长。\n", encoding="utf-8")
    (knowledge / "dated.md").write_text("# 日期\n\n推理需求。\n", encoding="utf-8")
    (knowledge / "dated.meta.toml").write_text('published = "2025-13"\n', encoding="utf-8")
    (knowledge / "deep.html").write_text("<div>" * 5000 + "深" + "</div>" * 5000, encoding="utf-8")
    _scan(knowledge / "scan.pdf", [], 1)

    result = run([str(ROOT / "ingest.py"), "--json"], tmp_path)
    report = json.loads(result.stdout)
    assert result.returncode == 1, result.stderr
    failed = {item["path"]: item["error"] for item in report["failed"]}
    assert set(failed) == {"knowledge/dated.md", "knowledge/deep.html", "knowledge/scan.pdf"}
    assert (
        "'published'" in failed["knowledge/dated.md"] and "2025-13" in failed["knowledge/dated.md"]
    )
    assert failed["knowledge/scan.pdf"].startswith("no text layer")
    assert "RecursionError" in failed["knowledge/deep.html"]
    assert report["added"] == 2
    assert [w["path"] for w in report["warnings"]] == ["knowledge/note.md"]
    assert "风险提示" in report["warnings"][0]["warning"]

    store: KnowledgeStore = build_store(
        settings_for(tmp_path, data_dir=tmp_path / "data"), embedder
    )
    state = store.index_state()
    by_path = {path: store.get(list(chunks)) for path, chunks in state.items()}
    # The PDF's own disclosure, stored under the same id (hash) as the text version's.
    text_disclosure = load_article(SEED, "seed", LIMIT).disclosure or ""
    pdf_ids = {c.meta("disclosure_id") for c in by_path["knowledge/seed.chromium.pdf"]}
    assert pdf_ids == {disclosure_id(text_disclosure)}
    assert store.disclosure(disclosure_id(text_disclosure)) == text_disclosure
    assert {c.meta("risk_level") for c in by_path["knowledge/seed.chromium.pdf"]} == {"R4"}
    assert {c.meta("disclosure_id") for c in by_path["knowledge/note.md"]} == {
        disclosure_id(store.default_disclosure() or "")
    }


def test_a_question_typed_with_lookalikes_finds_the_same_passages(
    seeded: tuple[object, KnowledgeStore],
) -> None:
    _, store = seeded
    retriever = Retriever(store, store.embedder)
    plain = retriever.search("风险提示里说基金过往业绩怎样？", k=3)
    lookalike = retriever.search("⻛险提⽰⾥说基⾦过往业绩怎样？", k=3)
    assert [hit.chunk.chunk_id for hit in lookalike] == [hit.chunk.chunk_id for hit in plain]
    assert retriever.query_vector("５８８９３０ ＥＴＦ") == retriever.query_vector("588930 ETF")
