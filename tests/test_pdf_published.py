"""PDFs as fund companies and brokers publish them, beyond what reportlab makes by default:
fonts whose text does not map to Unicode, rotated watermarks, pages turned by /Rotate, bold
drawn by stroking the glyphs.

Each test makes its PDF with reportlab (``tests/renderers.py``), changes it the way other
producers leave it (pypdf rewrites its objects), and reads it through
:func:`assistant.documents.load_article`.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from assistant.documents import Article, load_article
from assistant.errors import IngestError
from assistant.text import normal_form
from tests import renderers as R

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


def _rewrite_unicode_maps(path: Path, first_page: int, how: str) -> None:
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
    _rewrite_unicode_maps(tmp_path / "attachment.pdf", 1, how)
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
    _rewrite_unicode_maps(path, 1, how)
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
