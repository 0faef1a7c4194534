"""The argument map's web views without a browser: the advisor's outline inserted after a draft
keeps both drafts' numbers apart, and the export records it with every source and disclosure
(the browser test covers the page itself: tests/test_browser_thesis.py)."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import gradio as gr

from assistant.answer import AnswerEngine
from assistant.embeddings import E5Embedder
from assistant.factory import build_engine, build_store, sync_knowledge
from assistant.thesis import ThesisService
from assistant.web.ui import maps
from assistant.web.ui.advisor import Drafted, Drafting
from assistant.web.ui.render import esc
from assistant.web.ui.strings import preferred
from tests.conftest import ROOT, settings_for
from tests.test_drafting import unlimited


def test_an_outline_inserted_after_a_draft_numbers_its_sources_after_the_drafts(
    offline: AnswerEngine, tmp_path: Path
) -> None:
    shown = ThesisService(offline).maps(channel="web")
    drafting = Drafting(offline, offline.settings.max_question_chars, unlimited())
    answer = offline.ask("DeepSeek为什么可能利好算力需求", mode="advisor", channel="advisor")
    before = max(c.n for c in answer.citations)
    drafted = Drafted(answer, "zh")

    click = gr.EventData(None, {"map": "0"})
    text, findings, extras, status, now = drafting.insert_outline(
        answer.answer, drafted, shown, "zh", click
    )
    assert now is not None and text.startswith(answer.answer)
    outline = text[len(answer.answer) :]
    # The outline's footnotes start after the draft's and each names a source of the new draft.
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", outline)}
    assert min(numbers) == before + 1
    assert {c.n for c in now.answer.citations} >= numbers | {c.n for c in answer.citations}
    assert now.answer.turn_id == answer.turn_id
    assert "未发现不合规表述" in findings and "插入草稿" in status
    assert f"[{before + 1}]" in extras and now.answer.disclosure.startswith("风险提示")

    # Exported, the text carries the outline, the sources both parts cite, and the disclosure.
    drafting.export(text, now, "md", "zh")
    assert offline.audit is not None
    row = offline.audit.turns(1)[0]
    assert row["kind"] == "export" and row["parent_turn"] == answer.turn_id
    assert shown[0].steps[0].claim in row["answer"]
    assert f"[{before + 1}] 《" in row["answer"] and row["disclosure"] == now.answer.disclosure


def test_a_click_that_names_no_map_or_step_changes_nothing(offline: AnswerEngine) -> None:
    shown = ThesisService(offline).maps(channel="web")
    assert maps.pick(shown, "0:1") == (shown[0], 1)
    for raw in (None, "", "9", "0:99", "-1", "0:1:2", "x", "0:-1"):
        assert maps.pick(shown, raw) is None, raw
    assert maps.pick(None, "0") is None
    text, *_, kept = Drafting(
        offline, offline.settings.max_question_chars, unlimited()
    ).insert_outline("我的草稿", None, shown, "zh", gr.EventData(None, {"map": "7"}))
    assert (text, kept) == ("我的草稿", None)


def test_an_english_advisor_reads_an_inserted_outlines_notices_in_english(
    offline: AnswerEngine,
) -> None:
    # The outline itself stays in the article's language (it is the client's text); the notices
    # beside it are the advisor's to read.
    shown = ThesisService(offline).maps(channel="web")
    drafting = Drafting(offline, offline.settings.max_question_chars, unlimited())
    _, _, extras, _, now = drafting.insert_outline(
        "", None, shown, "en", gr.EventData(None, {"map": "0"})
    )
    assert now is not None and now.lang == "zh"
    assert "This argument map was compiled by an AI system" in extras
    assert "The source is an article from February 2025" in extras
    assert "本论证地图" not in extras and "资料来源于" not in extras


def test_markup_in_a_map_renders_as_text(offline: AnswerEngine) -> None:
    (m,) = ThesisService(offline).maps(channel="web")
    hostile = "<img src=x onerror=alert(1)>${x}{{y}}"
    m.title = hostile
    html = maps.cards([m], "zh") + maps.outlines([m], "en")
    assert "<img" not in html and "${" not in html and "{{" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;&#36;&#123;x&#125;" in html


class Lists(HTMLParser):
    """How many items each list (``ol``, ``ul``) of a page holds, in the order they open."""

    def __init__(self) -> None:
        super().__init__()
        self.items: list[tuple[str, int]] = []
        self._open: list[int] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("ol", "ul"):
            self._open.append(len(self.items))
            self.items.append((tag, 0))
        elif tag == "li" and self._open:
            name, count = self.items[self._open[-1]]
            self.items[self._open[-1]] = (name, count + 1)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ol", "ul") and self._open:
            self._open.pop()


def lists_in(html: str) -> list[tuple[str, int]]:
    parser = Lists()
    parser.feed(html)
    return parser.items


def test_a_map_with_nothing_to_list_writes_no_empty_list(
    offline: AnswerEngine, tmp_path: Path, embedder: E5Embedder
) -> None:
    # A screen reader announces an empty list as "list, 0 items". An article that only sells
    # its product gives a map with no step: its card has no step list, and no list is empty.
    (tmp_path / "knowledge").mkdir()
    (tmp_path / "knowledge" / "promo.txt").write_text(
        "今日指数\n算力指数是布局AI浪潮的便捷工具，建议关注。\n", encoding="utf-8"
    )
    settings = settings_for(tmp_path)
    store = build_store(settings, embedder)
    assert sync_knowledge(settings, store).ok
    (empty,) = ThesisService(build_engine(settings, store=store)).maps(channel="web")
    assert empty.steps == []
    for lang in ("zh", "en"):
        html = maps.cards([empty], lang)
        assert "map-steps" not in html
        assert [kind for kind, count in lists_in(html) if count == 0] == []
    # The seed's card lists its steps, counterpoints, notices and the passages behind them.
    (seed,) = ThesisService(offline).maps(channel="web")
    listed = lists_in(maps.cards([seed], "zh"))
    assert ("ol", len(seed.steps)) in listed and all(count for _, count in listed)


def test_a_reader_in_traditional_characters_reads_the_maps_labels_in_them_and_the_article_as_written(
    offline: AnswerEngine,
) -> None:
    (m,) = ThesisService(offline).maps(channel="web")
    card, outline = maps.cards([m], "zh-Hant"), maps.outlines([m], "zh-Hant")
    for label in ("論證地圖", "展開論證", "問這一步", "風險提示", "論證步驟", "插入論證提綱"):
        assert label in card + outline, label
    assert "资料来源于" not in card and "資料來源於2025年2月的文章" in card  # our notice
    # The article's words and its disclosure (a legal text) exactly as the article has them.
    assert esc(m.title) in card and esc(m.disclosure) in card
    assert all(esc(step.claim) in card for step in m.steps)
    assert maps.say_in("zh-Hant", "ask", claim="这一步") == "請解釋文章論證中的這一步：这一步"


def test_the_page_opens_in_the_language_asked_for_else_traditional_where_the_browser_reads_it() -> (
    None
):
    assert preferred("zh-Hant", "zh-CN,zh;q=0.9") == "zh-Hant"
    assert preferred("zh-TW", None) == "zh-Hant"
    assert preferred("zh-Hans", "zh-TW") == "zh"
    assert preferred("en", "zh-HK") == "en"
    assert preferred("klingon", "zh-HK") == "zh-Hant"  # an unknown ?lang= is ignored
    assert preferred(None, "zh-TW,zh;q=0.9,en;q=0.8") == "zh-Hant"
    assert preferred(None, "zh-hk") == "zh-Hant"
    assert preferred(None, "en;q=0.5, zh-Hant-HK;q=0.8") == "zh-Hant"  # by weight, not order
    assert preferred(None, "zh-CN, zh-TW;q=0.8") == "zh"
    assert preferred(None, "zh-Hans-TW") == "zh"  # the script tag decides
    # Chinese first, as before, for any other browser (English readers have the switch).
    assert preferred(None, "en-US,en;q=0.9") == "zh"
    assert preferred(None, "zh-TW;q=0, en") == "zh"
    assert preferred(None, "zh-TW;q=oops") == "zh"
    assert preferred(None, None) == preferred("", "") == "zh"


def test_an_outline_of_an_article_removed_since_the_page_opened_is_not_inserted(
    embedder: E5Embedder, tmp_path: Path
) -> None:
    # The page keeps the maps it loaded; the operator then removes an article and syncs. Its
    # outline, inserted and exported, would have cited a passage no longer in the knowledge base.
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    (knowledge / "hbm.txt").write_text(
        "HBM高带宽内存是AI服务器的关键部件，HBM的产能仍然紧张。\n"
        "推理阶段的AI服务器同样需要大量HBM高带宽内存，HBM供应商的订单已排到明年。\n",
        encoding="utf-8",
    )
    settings = settings_for(tmp_path)
    store = build_store(settings, embedder)
    assert sync_knowledge(settings, store).ok
    engine = build_engine(settings, store=store)
    shown = ThesisService(engine).maps(channel="web")
    assert shown is not None
    removed = next(i for i, m in enumerate(shown) if m.path == "hbm.txt")
    (knowledge / "hbm.txt").unlink()
    assert sync_knowledge(settings, store).removed

    drafting = Drafting(engine, settings.max_question_chars, unlimited())
    click = gr.EventData(None, {"map": str(removed)})
    text, _, _, status, kept = drafting.insert_outline("我的草稿", None, shown, "zh", click)
    assert (text, kept) == ("我的草稿", None)
    assert shown[removed].title in status and "刷新" in status
    kept_one = next(i for i, m in enumerate(shown) if m.path != "hbm.txt")
    click = gr.EventData(None, {"map": str(kept_one)})
    assert drafting.insert_outline("", None, shown, "zh", click)[-1] is not None


def test_the_page_shows_the_maps_of_the_newest_articles_only(ui_store, tmp_path: Path) -> None:
    engine = build_engine(settings_for(tmp_path), store=ui_store[1])
    service = ThesisService(engine)
    assert [m.published for m in service.maps()] == ["2025-02", "2025-03"]
    (newest,) = service.maps(newest=1)
    assert newest.path == "hbm.txt"
    assert service.maps(newest=0) == []
