"""A second fund company's own articles, put in as its IT person would (``tests/fixtures/operator``:
启衡基金, a fictional company, with a Markdown export carrying front matter, a WeChat article saved
from the browser, a monthly report PDF made by reportlab, an English commentary in Word and a
plain-text notice with no argument at all). Nothing here was written around the seed article."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.documents import load_article
from tests.conftest import ROOT, run

FIXTURES = ROOT / "tests" / "fixtures" / "operator"
WECHAT = FIXTURES / "wechat_data_centre_power.html"
# What a WeChat page shows around and under the article: the account's, never the fund's words.
CHROME = (
    "长按识别二维码",
    "预览时标签不可点",
    "阅读原文",
    "微信扫一扫",
    "点击上方蓝字",
    "三连支持",
)


def _article(path: Path):  # type: ignore[no-untyped-def]
    return load_article(path, str(path), 10 * 2**20)


def test_a_wechat_article_is_read_without_the_accounts_chrome() -> None:
    article = _article(WECHAT)
    assert article.disclosure is not None
    assert article.disclosure.endswith("投资前请阅读《基金合同》《招募说明书》等法律文件。")
    shown = "\n".join(block.text for block in article.blocks)
    assert not [word for word in CHROME if word in shown or word in article.disclosure]
    assert "END" not in article.disclosure


def test_a_wechat_article_names_its_account_and_publish_date() -> None:
    article = _article(WECHAT)
    assert (article.publisher, article.published) == ("启衡基金", "2026-04-15")


def test_a_wechat_page_saved_before_its_script_ran_is_dated_by_its_timestamp(
    tmp_path: Path,
) -> None:
    page = WECHAT.read_text(encoding="utf-8").replace("2026年04月15日 18:30", "")
    saved = tmp_path / "saved.html"
    saved.write_text(page, encoding="utf-8")
    assert _article(saved).published == "2026-04-15"  # ct = 1776249000, in China's time


def test_front_matter_with_a_timestamp_and_an_author_is_read(tmp_path: Path) -> None:
    source = (FIXTURES / "2026-03_inference_chips.md").read_text(encoding="utf-8")
    export = tmp_path / "cms_export.md"
    export.write_text(
        source.replace("date: 2026-03-18", "date: 2026-03-18T09:00:00+08:00"), encoding="utf-8"
    )
    article = _article(export)
    assert article.published == "2026-03-18"
    assert article.publisher == "启衡基金权益投资部"


def test_a_notice_is_titled_by_its_first_line_and_dated_by_its_date_line() -> None:
    article = _article(FIXTURES / "关于基金经理变更的公告.txt")
    assert article.title.startswith("启衡基金管理有限公司关于")
    assert article.title.endswith("基金经理变更的公告")
    assert article.published == "2026-06-10"


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:
    """A working directory with the company's folder ingested by ``python ingest.py --json``."""
    cwd = tmp_path_factory.mktemp("qiheng")
    shutil.copytree(FIXTURES, cwd / "knowledge", ignore=shutil.ignore_patterns("_*"))
    result = run([str(ROOT / "ingest.py"), "--json"], cwd)
    assert result.returncode == 0, result.stderr
    return cwd, json.loads(result.stdout)


def test_ingest_tells_the_operator_which_file_gives_their_articles_a_disclosure(
    company: tuple[Path, dict[str, object]],
) -> None:
    _cwd, report = company
    assert report["failed"] == [] and report["added"] == 5
    warnings = json.dumps(report["warnings"], ensure_ascii=False)
    assert "关于基金经理变更的公告.txt" in warnings
    assert "_default_disclosure.txt" in warnings


def _maps(cwd: Path) -> dict[str, dict[str, object]]:
    result = run(["-m", "assistant", "thesis", "--json"], cwd)
    assert result.returncode == 0, result.stderr
    return {Path(str(m["path"])).name: m for m in json.loads(result.stdout)["maps"]}


def test_argument_maps_of_another_companys_articles_name_their_case_against_and_risks(
    company: tuple[Path, dict[str, object]],
) -> None:
    maps = _maps(company[0])
    chips = maps["2026-03_inference_chips.md"]
    against = [str(p["text"]) for p in chips["counterpoints"]]  # type: ignore[union-attr]
    assert any("部分投资者担忧" in text for text in against)
    assert any("基金过往业绩不代表未来表现" in text for text in against)
    steps = " ".join(str(s["claim"]) for s in chips["steps"])  # type: ignore[union-attr]
    assert "部分投资者担忧" not in steps
    english = maps["ai_compute_etf_q1_2026.docx"]
    assert any(
        str(p["text"]).startswith("Some argue")
        for p in english["counterpoints"]  # type: ignore[union-attr]
    )


def test_the_map_of_a_notice_says_it_argues_nothing(
    company: tuple[Path, dict[str, object]],
) -> None:
    maps = _maps(company[0])
    notice = maps["关于基金经理变更的公告.txt"]
    assert any("没有提出观点或论证" in str(n) for n in notice["notices"])  # type: ignore[union-attr]
    for argued in ("2026-03_inference_chips.md", "wechat_data_centre_power.html"):
        assert not any("没有提出观点" in str(n) for n in maps[argued]["notices"])  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("question", "section", "first"),
    [
        ("Is liquid cooling becoming standard in data centers?", "液冷", False),
        # the report's section on AI compute first, not its running head 月度市场回顾
        ("What does the monthly report say about optical modules?", "行业观察", True),
    ],
)
def test_an_english_question_finds_the_chinese_passage_on_its_subject(
    company: tuple[Path, dict[str, object]], question: str, section: str, first: bool
) -> None:
    result = run(["-m", "assistant", "ask", question, "--json"], company[0])
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["mode"] == "offline"
    sections = [str(c["section"]) for c in answer["citations"]]
    assert any(section in shown for shown in sections[: 1 if first else None]), sections


@pytest.mark.parametrize("face", ["zh", "zh-Hant", "en"])
def test_the_widget_and_the_page_name_no_subject_of_their_own(face: str) -> None:
    """The widget sits on another company's site over its own articles, and the page's header
    titles whatever it publishes: neither names the seed article's subject (a site gives its
    own title with data-title)."""
    from assistant.web.ui.strings import t
    from assistant.web.widget import face_strings

    shown = face_strings(face)  # type: ignore[arg-type]
    header = t(face, "title")  # type: ignore[arg-type]
    for words in (shown["title"], shown["placeholder"], header):
        assert not [w for w in ("DeepSeek", "算力", "compute") if w in words], words
