"""The investor tab in a real headless Chromium (Debian's), against the app as `app.py` serves it.

One offline server for the module; each test opens its own page, which fails the test if it
asks any host but 127.0.0.1 (no CDN, no fonts, no telemetry).
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import pytest
from gradio_client import Client
from playwright.sync_api import expect

from assistant.answer import AnswerEngine
from tests.conftest import HOSTILE, HOSTILE_SCRIPT, MISREAD

pytestmark = pytest.mark.browser
QUESTION = "为什么说DeepSeek反而利好算力?"


def ask(page: Any, question: str) -> Any:
    """Type a question, send it, and wait for its answer to be complete; returns that turn."""
    done = page.locator("#transcript .turn.done, #transcript .turn.failed")
    before = done.count()
    page.locator("#question textarea").fill(question)
    page.locator("#send").click()
    expect(done).to_have_count(before + 1)
    return done.nth(before)


def test_an_offline_answer_comes_with_its_sources_and_disclosure(
    offline_ui: tuple[str, AnswerEngine], page: Any, tmp_path: Path
) -> None:
    url, engine = offline_ui
    page.goto(url)
    expect(page.locator("#status")).to_contain_text("离线摘录模式")
    expect(page.locator("#status")).to_contain_text("DEEPSEEK_API_KEY")
    page.screenshot(path=str(tmp_path / "1-empty.png"), full_page=True)

    # Offline the excerpts come as one piece, often too fast for the page to show the turn in
    # progress; the model's sentence-by-sentence stream is tested in test_browser_llm.
    turn = ask(page, QUESTION)
    answer = turn.locator(".answer")
    expect(answer).to_contain_text("以下为2025年2月文章的原文摘录")
    expect(turn.locator(".badges")).to_contain_text("AI生成")
    expect(turn.locator(".badges")).to_contain_text("离线摘录")
    expect(turn.locator(".notices")).to_contain_text("资料来源于2025年2月的文章")
    expect(turn.locator(".notices")).to_contain_text("本回答由人工智能生成")

    # The disclosure is there, folded to its warning sentence; unfolded, it is the article's own.
    turn_id = turn.get_attribute("data-turn")
    recorded = next(row for row in engine.audit.turns(5) if row["turn_id"] == turn_id)  # type: ignore[union-attr]
    disclosure = turn.locator("details.disclosure")
    expect(disclosure.locator("summary")).to_contain_text("投资有风险,投资需谨慎")
    expect(disclosure.locator(".disclosure-text")).to_be_hidden()
    disclosure.locator("summary").click()
    expect(disclosure.locator(".disclosure-text")).to_have_text(recorded["disclosure"])

    # A footnote brings its source into view, highlighted, with the supporting sentence marked.
    cites = turn.locator("a.cite")
    assert cites.count() >= 2
    last = cites.nth(cites.count() - 1)
    source = page.locator(f"#{last.get_attribute('data-target')}")
    last.click()
    expect(source).to_have_class("source active")
    expect(source).to_be_in_viewport()
    expect(source.locator(".source-meta")).to_contain_text(
        "《DeepSeek暂停API充值：AI算力逻辑再梳理》"
    )
    expect(source.locator(".source-meta")).to_contain_text("银华基金")
    expect(source.locator(".source-meta")).to_contain_text("2025-02")
    quote = source.locator("mark").inner_text()
    assert len(quote) > 10 and quote in source.locator(".passage").inner_text()
    page.screenshot(path=str(tmp_path / "2-answer-citation.png"), full_page=True)

    # Copy puts the answer with its sources and the disclosure on the clipboard.
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    turn.locator("button.copy").click()
    expect(turn.locator("button.copy")).to_have_text("已复制")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert recorded["answer"] in copied and recorded["disclosure"] in copied
    assert "《DeepSeek暂停API充值：AI算力逻辑再梳理》" in copied


def test_feedback_is_kept_with_the_turn_in_the_audit_store(
    offline_ui: tuple[str, AnswerEngine], page: Any, tmp_path: Path
) -> None:
    url, engine = offline_ui
    page.goto(url)
    turn = ask(page, "什么是杰文斯悖论？")
    turn_id = turn.get_attribute("data-turn")
    turn.locator("button.thumb[data-rating=down]").click()
    turn.locator("input.comment").fill("第二条引用和问题无关")
    turn.locator("button.send-feedback").click()
    expect(turn.locator(".feedback-done")).to_have_text("谢谢，反馈已记录。")
    page.screenshot(path=str(tmp_path / "feedback.png"), full_page=True)
    assert engine.audit is not None
    kept = [(f["rating"], f["comment"]) for f in engine.audit.feedback(str(turn_id))]
    assert kept == [("down", "第二条引用和问题无关")]

    # A follow-up is read with the conversation; a new conversation starts without it.
    ask(page, "它和算力需求有什么关系？")
    follow_up, first = engine.audit.turns(2)
    assert follow_up["history_turns"] == 2 and first["turn_id"] == turn_id
    assert follow_up["session"] and follow_up["session"] == first["session"]
    page.locator("#new-chat").click()
    expect(page.locator("#transcript .turn")).to_have_count(0)
    ask(page, "科技巨头还在加大AI资本开支吗？")
    assert engine.audit.turns(1)[0]["history_turns"] == 0


def test_the_language_switch_relabels_the_interface(
    offline_ui: tuple[str, AnswerEngine], page: Any, tmp_path: Path
) -> None:
    url, _ = offline_ui
    page.goto(url)
    ask(page, QUESTION)
    expect(page.locator(".turn.done .answer a.cite").first).to_have_attribute("aria-label", "来源1")
    page.get_by_label("English").check()
    expect(page.locator(".turn.done .answer a.cite").first).to_have_attribute(
        "aria-label", "source 1"
    )
    expect(page.locator("#send")).to_have_text("Send")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#status")).to_contain_text("Offline excerpt mode")
    expect(page.get_by_role("tab", name="Advisor drafts")).to_be_visible()
    expect(page.locator(".turn.done .sources h4")).to_have_text("Sources")
    expect(page.locator(".turn.done details.disclosure summary")).to_contain_text("Risk disclosure")
    # The answer keeps the language it was written in.
    expect(page.locator(".turn.done .answer")).to_contain_text("原文摘录")
    page.screenshot(path=str(tmp_path / "english.png"), full_page=True)
    page.get_by_label("简体").check()
    expect(page.locator("#send")).to_have_text("发送")


def test_hostile_text_in_a_question_and_an_article_shows_literally(
    offline_ui: tuple[str, AnswerEngine], page: Any, tmp_path: Path
) -> None:
    url, _ = offline_ui
    page.goto(url)
    question = f"HBM高带宽内存的产能怎么样？{HOSTILE}{HOSTILE_SCRIPT}"
    turn = ask(page, question)
    expect(turn.locator(".question p")).to_have_text(question)
    source = turn.locator(".source").first
    expect(source.locator(".source-meta")).to_contain_text(f"《HBM内存说明{HOSTILE}》")
    expect(source.locator(".passage")).to_contain_text(HOSTILE)
    expect(source.locator(".passage")).to_contain_text(HOSTILE_SCRIPT)
    assert page.locator("#transcript img, #transcript script").count() == 0
    page.screenshot(path=str(tmp_path / "hostile.png"), full_page=True)
    page.wait_for_timeout(300)  # an onerror handler would have run by now
    assert page.dialogs == []


def test_the_chat_is_usable_on_a_390_pixel_phone_screen(
    offline_ui: tuple[str, AnswerEngine], page: Any, tmp_path: Path
) -> None:
    url, _ = offline_ui
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(url)
    expect(page.locator("#send")).to_be_in_viewport()
    turn = ask(page, QUESTION)
    turn.locator("a.cite").first.click()
    expect(page.locator(".source.active")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "phone.png"), full_page=True)


def test_gradio_client_gets_an_answer_with_its_disclosure(
    offline_ui: tuple[str, AnswerEngine],
) -> None:
    url, engine = offline_ui
    transcript, question_box = Client(url, verbose=False).predict(QUESTION, api_name="/ask")
    assert question_box == ""
    row = engine.audit.turns(1)[0]  # type: ignore[union-attr]
    assert row["channel"] == "web" and row["question"] == QUESTION
    shown = html.unescape(transcript)
    assert row["disclosure"].startswith("风险提示") and row["disclosure"] in shown
    assert row["answer"].splitlines()[0] in shown


def test_a_question_past_the_limit_is_refused_in_words_and_kept_to_shorten(
    offline_ui: tuple[str, AnswerEngine], page: Any, tmp_path: Path
) -> None:
    url, engine = offline_ui
    limit = engine.settings.max_question_chars
    page.goto(url)
    expect(page.locator("#status")).to_contain_text("离线摘录模式")
    pasted = "算力" * (limit // 2 + 200)  # as pasted: the box used to cut it to the limit silently
    page.locator("#question textarea").fill(pasted)
    page.locator("#send").click()
    expect(page.locator(".toast-body")).to_contain_text(f"问题有{len(pasted)}个字")
    expect(page.locator(".toast-body")).to_contain_text(f"超过了{limit}字的上限")
    expect(page.locator(".toast-title")).to_be_hidden()  # Gradio's English "Warning"
    assert "Warning" not in page.locator(".toast-body").inner_text()
    expect(page.locator("#question textarea")).to_have_value(pasted)
    expect(page.locator("#transcript .turn")).to_have_count(0)  # nothing was asked
    page.screenshot(path=str(tmp_path / "too-long.png"))


def test_a_reader_in_taiwan_or_hong_kong_reads_the_interface_in_traditional_characters(
    offline_ui: tuple[str, AnswerEngine], page: Any, tmp_path: Path
) -> None:
    url, engine = offline_ui
    # A browser that prefers zh-TW (or zh-HK) opens the page in traditional characters.
    page.set_extra_http_headers({"Accept-Language": "zh-TW,zh;q=0.9,en;q=0.8"})
    page.goto(url)
    expect(page.locator("#send")).to_have_text("發送")
    expect(page.get_by_label("繁體")).to_be_checked()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hant")  # a screen reader's voice
    expect(page.locator("#app-header h1")).to_contain_text("資料問答")
    expect(page.locator("#status")).to_contain_text("離線摘錄模式")
    expect(page.get_by_role("tab", name="投資者問答")).to_be_visible()
    expect(page.locator("#question textarea")).to_have_attribute(
        "placeholder", re.compile("為什麼")
    )
    expect(page.locator(".thesis-maps .maps-heading")).to_contain_text("論證地圖")
    card = page.locator(".map-card").first
    expect(card.locator("summary .more").first).to_have_text("展開論證")
    expect(card.locator("details.disclosure summary .disclosure-label")).to_have_text("風險提示")
    # The map's disclosure as the article states it (投资, not 投資).
    expect(card.locator(".disclosure-text")).to_contain_text("投资有风险")

    turn = ask(page, QUESTION)
    expect(turn.locator(".question .who")).to_have_text("問")
    expect(turn.locator(".sources h4")).to_have_text("來源")
    # A footnote says what it is in the reader's language (a screen reader reads the label).
    expect(turn.locator(".answer a.cite").first).to_have_attribute("aria-label", "來源1")
    expect(turn.locator(".badges")).to_contain_text("離線摘錄")
    # The disclosure is a legal text: the label around it is converted, never the text itself.
    turn_id = turn.get_attribute("data-turn")
    recorded = next(row for row in engine.audit.turns(5) if row["turn_id"] == turn_id)  # type: ignore[union-attr]
    disclosure = turn.locator("details.disclosure")
    expect(disclosure.locator("summary .disclosure-label")).to_have_text("風險提示")
    expect(disclosure.locator("summary")).to_contain_text("投资有风险,投资需谨慎")
    disclosure.locator("summary").click()
    expect(disclosure.locator(".disclosure-text")).to_have_text(recorded["disclosure"])
    page.screenshot(path=str(tmp_path / "traditional.png"), full_page=True)

    # The example questions read, and are asked, in traditional characters too.
    done = page.locator("#transcript .turn.done")
    page.locator("#examples button", has_text="科技巨頭還在加大AI資本開支嗎？").click()
    expect(done).to_have_count(2)
    expect(done.nth(1).locator(".question p")).to_have_text("科技巨頭還在加大AI資本開支嗎？")
    expect(done.nth(1).locator(".answer")).to_contain_text("以下為2025年2月文章的原文摘錄")

    # ?lang= wins over the browser, either way; the switch still relabels.
    page.goto(f"{url}/?lang=zh-Hans")
    expect(page.locator("#send")).to_have_text("发送")
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    page.set_extra_http_headers({"Accept-Language": "zh-CN,zh;q=0.9"})
    page.goto(f"{url}/?lang=zh-Hant")
    expect(page.locator("#send")).to_have_text("發送")
    page.get_by_label("简体").check()
    expect(page.locator("#send")).to_have_text("发送")
    page.get_by_label("繁體").check()
    expect(page.get_by_role("tab", name="顧問草稿")).to_be_visible()


# The contrast of an element's text against the first opaque background behind it (WCAG 2).
CONTRAST = """(selector) => {
  const rgb = (text) => text.match(/[\\d.]+/g).map(Number);
  const lum = (c) => { const [r, g, b] = c.map((v) => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const element = document.querySelector(selector);
  let behind = element, back = [255, 255, 255];
  for (; behind; behind = behind.parentElement) {
    const c = rgb(getComputedStyle(behind).backgroundColor);
    if (c.length < 4 || c[3] > 0.5) { back = c.slice(0, 3); break; }
  }
  const [a, b] = [lum(rgb(getComputedStyle(element).color).slice(0, 3)), lum(back)];
  return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
}"""


def test_small_text_is_readable_against_its_background(
    offline_ui: tuple[str, AnswerEngine], page: Any
) -> None:
    url, _ = offline_ui
    page.goto(url)
    ask(page, QUESTION)
    expect(page.locator(".thesis-maps .maps-heading .hint")).to_be_visible()
    small = [".app-header .subtitle", ".status-line .docs", ".maps-heading .hint"]
    small += [".examples-label", ".map-meta", ".turn.done .notices li", ".source-meta"]
    small += [".disclosure-headline", ".feedback .ask", ".cite", ".badge.offline"]
    small += ["#tab-investor-button", "#send"]  # the selected tab, the primary button
    low = {s: round(page.evaluate(CONTRAST, s), 2) for s in small}
    assert {s: r for s, r in low.items() if r < 4.5} == {}  # WCAG AA for text this small


def test_the_keyboards_place_is_visible_on_every_control_it_reaches(
    offline_ui: tuple[str, AnswerEngine], page: Any
) -> None:
    # WCAG 2.4.7: a reader who moves by Tab must see where they are. Gradio's theme drew no
    # ring on the language switch's radios nor on the question box (pixel for pixel the same).
    url, _ = offline_ui
    page.goto(url)
    expect(page.locator("#thesis-map details").first).to_be_visible()
    language, question = page.locator("#language"), page.locator("#ask-row")
    unfocused = language.screenshot(), question.screenshot()
    page.keyboard.press("Tab")  # the first control: the language switch's checked radio
    assert page.evaluate("document.activeElement.type") == "radio"
    assert language.screenshot() != unfocused[0], "no ring on the focused radio"
    page.locator("#question textarea").focus()
    # The caret is hidden in screenshots: only a ring can tell the two apart.
    assert question.screenshot() != unfocused[1], "no ring on the focused question box"


def test_a_screen_reader_hears_which_step_a_button_asks_and_what_the_switch_is(
    offline_ui: tuple[str, AnswerEngine], page: Any
) -> None:
    url, _ = offline_ui
    page.goto(f"{url}/?lang=en")
    page.locator("#thesis-map summary").first.click()
    asks = page.get_by_role("button", name="Ask about this step")
    expect(asks.first).to_be_visible()
    # One description each, its step's claim (read in the claim's own language).
    described = "el => document.getElementById(el.getAttribute('aria-describedby')).textContent"
    claims = [b.evaluate(described) for b in asks.all()]
    assert len(set(claims)) == len(claims) > 1, claims
    assert "杰文斯悖论的存在" in claims
    switch = page.locator("#language").aria_snapshot()
    assert "Language" in switch and "Radio" not in switch  # Gradio's default was "Radio"


def test_a_larger_browser_font_enlarges_the_answer_and_the_controls(
    offline_ui: tuple[str, AnswerEngine], page: Any
) -> None:
    # An older reader sets the browser's font size to 24 px (not a page zoom, not a style of
    # their own): text sized in px ignores it. The answer stayed at 14 px while its notes grew.
    url, _ = offline_ui
    cdp = page.context.new_cdp_session(page)
    cdp.send("Page.enable")
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 24, "fixed": 24}})
    page.goto(url)
    ask(page, QUESTION)
    read = [".turn.done .answer p", ".map-thesis", "#question textarea", "#send"]
    read += ["#tab-investor-button", "#examples button", ".turn.done .notices li"]
    sizes = {
        s: page.evaluate(f"parseFloat(getComputedStyle(document.querySelector('{s}')).fontSize)")
        for s in read
    }
    # At 16 px the answer is 14 px and the example buttons 12 px: at 24 px, 21 and 18.
    assert sizes[".turn.done .answer p"] >= 21
    assert {s: px for s, px in sizes.items() if px < 18} == {}


def test_a_screen_reader_reads_each_text_in_its_own_language(
    offline_ui: tuple[str, AnswerEngine], page: Any
) -> None:
    # In English the page says lang="en", and the Chinese sources, answer and disclosure under
    # it were read by an English voice: letter by letter, or not at all.
    url, _ = offline_ui
    page.goto(f"{url}/?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator("#thesis-map summary").first.click()
    turn = ask(page, QUESTION)  # asked in Chinese: answered in Chinese, from Chinese sources
    turn.locator("details.disclosure summary").click()
    # The quotes and the disclosure say they are the articles' own words, not a translation.
    expect(turn.locator(".sources .original")).to_have_text("in the original Chinese")
    expect(turn.locator("details.disclosure summary")).to_contain_text("in the original Chinese")
    assert page.evaluate(MISREAD, ["#thesis-map", "#transcript"]) == []
    # The switch's names and the example questions are each in their own language.
    assert page.evaluate(MISREAD, ["#examples"]) == []
    expect(page.locator("#language label", has_text="简体")).to_have_attribute("lang", "zh-Hans")
    expect(page.locator("#language label", has_text="繁體")).to_have_attribute("lang", "zh-Hant")
    # And the other way round: an English answer (its framing) on the Chinese page.
    page.get_by_label("简体").check()
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
    ask(page, "What is the Jevons paradox?")
    expect(page.locator(".turn.done .answer p[lang=en]").last).to_contain_text("Excerpts from")
    expect(page.locator(".turn.done .original")).to_have_count(0)  # Chinese, as the page
    expect(page.locator("#language label", has_text="English")).to_have_attribute("lang", "en")
    assert page.evaluate(MISREAD, ["#examples"]) == []
    assert page.evaluate(MISREAD, ["#transcript"]) == []


def test_a_footnote_takes_the_keyboard_to_its_source_and_moves_nothing_for_a_still_reader(
    offline_ui: tuple[str, AnswerEngine], page: Any
) -> None:
    url, _ = offline_ui
    page.set_viewport_size({"width": 1280, "height": 400})
    page.emulate_media(reduced_motion="reduce")
    page.goto(f"{url}/?lang=en")
    turn = ask(page, QUESTION)
    # Enter on a footnote lit its source up but left the keyboard (and a screen reader) on the
    # footnote: the source was seen, not reached.
    cite = turn.locator("a.cite").first
    cite.focus()
    page.keyboard.press("Enter")
    source = page.locator(f"#{cite.get_attribute('data-target')}")
    expect(source).to_be_focused()
    # A reader who asked for less motion (vestibular disorders) got a smooth scroll and a fading
    # highlight: now the source is on screen at once, in the same task as the click.
    last = turn.locator("a.cite").last
    arrived = last.evaluate(
        """(cite) => { window.scrollTo(0, 0); cite.click();
          const box = document.getElementById(cite.dataset.target).getBoundingClientRect();
          return box.top >= 0 && box.bottom <= innerHeight; }"""
    )
    assert arrived
    assert source.evaluate("el => getComputedStyle(el).transitionDuration") == "0s"


def test_a_screen_reader_hears_the_answer_when_it_is_complete(
    offline_ui: tuple[str, AnswerEngine], page: Any
) -> None:
    # The transcript is redrawn on every streamed sentence and was in no live region: a blind
    # reader pressed Send and heard nothing at all.
    url, _ = offline_ui
    page.goto(f"{url}/?lang=en")
    turn = ask(page, QUESTION)
    live = page.locator("[aria-live=polite]").filter(has_text="原文摘录")
    expect(live).to_have_count(1)
    first = turn.locator(".answer p").first.inner_text()
    expect(live.locator("p[lang=zh-Hans]").first).to_have_text(first)  # in its own voice
    expect(live).to_contain_text("本回答由人工智能生成")  # and its notices
    assert live.locator("a, button").count() == 0  # nothing to Tab to in what is not seen
    assert live.evaluate("el => el.getBoundingClientRect().width") <= 1
