"""The argument map in a real headless Chromium: the investor's card above the chat (steps in the
article's order, a citation opening its passage, "ask about this step"), and the advisor's outline
pulled into the draft. Offline, on the same store as the other browser tests (the seed, and an
article whose title and text hold markup)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from assistant.answer import AnswerEngine
from assistant.thesis import ArgumentMap, ThesisService
from tests.conftest import HOSTILE, SEED_STEPS

pytestmark = pytest.mark.browser
SEED_TITLE = "DeepSeek暂停API充值：AI算力逻辑再梳理"
KINDS_ZH = {"fact": "事实", "figure": "数据", "view": "作者观点", "forecast": "预测"}


def seed_map(engine: AnswerEngine) -> ArgumentMap:
    """The seed's map as the app keeps it (the page built it; this reads the kept one)."""
    (kept,) = ThesisService(engine).maps(path="000_bb0ece290725cdd0.txt")
    return kept


def test_the_map_card_shows_the_argument_and_asks_about_a_step(
    offline_ui: tuple[str, AnswerEngine], page: Any, tmp_path: Path
) -> None:
    url, engine = offline_ui
    page.goto(url)
    cards = page.locator("#thesis-map .map-card")
    expect(cards).to_have_count(2)  # the seed and the article with markup
    card = cards.filter(has_text=SEED_TITLE)
    summary = card.locator("summary").first
    expect(summary).to_contain_text(f"《{SEED_TITLE}》")
    expect(summary).to_contain_text("银华基金 · 2025年2月 · 距今约")
    expect(summary).to_contain_text("7 步论证")
    # Folded, the card is compact; the disclosure under it is there all the same.
    expect(card.locator("li.step").first).to_be_hidden()
    expect(card.locator("details.disclosure summary")).to_contain_text("投资有风险")
    page.screenshot(path=str(tmp_path / "1-folded.png"), full_page=True)

    shown = seed_map(engine)
    row = next(r for r in engine.audit.turns(20) if r["turn_id"] == shown.turn_id)  # type: ignore[union-attr]
    assert row["kind"] == "thesis" and row["channel"] == "web"
    summary.click()
    steps = card.locator("li.step")
    expect(steps).to_have_count(len(SEED_STEPS))
    expect(steps.locator(".claim")).to_contain_text([claim for claim, _, _ in SEED_STEPS])
    expect(steps.locator(".kind")).to_have_text([KINDS_ZH[kind] for _, _, kind in SEED_STEPS])
    expect(steps.nth(1)).to_contain_text("600万美元：2025年2月文章发表时的数字，所指时期以原文为准")
    counter = card.locator(".map-counter")
    expect(counter.locator(".point.from-article")).to_contain_text("可能会影响AI算力的成长空间")
    expect(counter.locator(".point.from-disclosure").first).to_contain_text("损失")

    # A step's footnote opens its passage with the supporting sentence marked.
    second = steps.nth(2)  # the Jevons paradox
    second.locator(".claim a.cite").first.click()
    source = second.locator(".source.active")
    expect(source).to_be_visible()
    expect(source).to_be_in_viewport()
    expect(source.locator("mark")).to_have_text(shown.steps[2].citations[0].quote)
    expect(source.locator(".source-meta")).to_contain_text(f"《{SEED_TITLE}》 · 银华基金 · 2025-02")
    assert SEED_STEPS[2][1] in source.locator(".passage").inner_text()
    page.screenshot(path=str(tmp_path / "2-open-citation.png"), full_page=True)

    # "Ask about this step" sends the step's question; the answer comes with its disclosure.
    second.locator("button.ask-step").click()
    turn = page.locator("#transcript .turn.done")
    expect(turn).to_have_count(1)
    expect(turn.locator(".question p")).to_have_text(shown.steps[2].ask)
    expect(turn.locator(".answer")).to_contain_text("杰文斯悖论")
    expect(turn.locator("details.disclosure summary")).to_contain_text("投资有风险")
    asked = engine.audit.turns(1)[0]  # type: ignore[union-attr]
    assert asked["question"] == shown.steps[2].ask and asked["channel"] == "web"
    assert asked["disclosure"].startswith("风险提示")
    page.screenshot(path=str(tmp_path / "3-asked.png"), full_page=True)

    # Markup in an article is text; an article with no case against itself says so plainly.
    other = cards.filter(has_text="HBM")
    other.locator("summary").first.click()
    expect(other.locator(".map-title")).to_have_text(f"《HBM内存说明{HOSTILE}》")
    expect(other.locator(".step").first).to_contain_text(HOSTILE)
    expect(other.locator(".plain-notice")).to_have_text("资料中没有反方观点，也没有风险说明。")
    assert page.locator("#thesis-map img, #thesis-map script").count() == 0
    assert page.dialogs == []

    # English labels around the article's own words.
    page.get_by_label("English").check()
    expect(steps.locator(".kind").nth(0)).to_have_text("reported fact")
    ask = card.locator("button.ask-step").first
    expect(ask).to_have_text("Ask about this step")
    # Named in the page's language; the step's Chinese claim describes it in its own voice
    # (a name in two languages is read in one).
    expect(ask).to_have_accessible_name("Ask about this step")
    claim = card.locator(f"#{ask.get_attribute('aria-describedby')}")
    expect(claim).to_have_count(1)
    expect(ask).to_have_accessible_description(claim.inner_text())
    assert (claim.get_attribute("lang") or "").startswith("zh")
    expect(card.locator(".map-counter h4")).to_have_text("Counterpoints and risks")
    expect(summary).to_contain_text("February 2025")
    # The map's notices (offline, the source's age, the AI label) are the reader's to read too.
    notices = card.locator("ul.notices li")
    expect(notices).to_have_text(
        [
            "No online model is connected: the map quotes the article's structure, "
            "not rewritten by a model.",
            re.compile(r"^The source is an article from February 2025 \(about .+ ago\)"),
            re.compile(r"^This argument map was compiled by an AI system"),
        ]
    )
    page.screenshot(path=str(tmp_path / "4-english.png"), full_page=True)

    # An English reader asks about a step in English, and reads the answer's words in it.
    second.locator("button.ask-step").click()
    english = page.locator("#transcript .turn.done").nth(1)
    expect(english.locator(".question p")).to_have_text(
        f"Please explain this step of the article's argument: {shown.steps[2].claim}"
    )
    expect(english.locator(".answer")).to_contain_text("Excerpts from the article")


def test_on_a_phone_the_map_fits_and_the_advisor_inserts_its_outline(
    offline_ui: tuple[str, AnswerEngine], page: Any, tmp_path: Path
) -> None:
    url, engine = offline_ui
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(url)
    card = page.locator("#thesis-map .map-card").filter(has_text=SEED_TITLE)
    # The maps come first and push the question box down: it stays on the screen all the same.
    expect(card).to_be_visible()
    expect(page.locator("#send")).to_be_in_viewport()
    card.locator("summary").first.click()
    card.locator("li.step").nth(3).locator("a.cite").first.click()
    expect(card.locator(".source.active")).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "5-phone.png"), full_page=True)

    page.get_by_role("tab", name="顾问草稿").click()
    outline = page.locator("#thesis-outlines .outline-card").filter(has_text=SEED_TITLE)
    outline.locator("button.insert-outline").click()
    draft = page.locator("#draft textarea")
    expect(page.locator("#advisor-status")).to_contain_text("论证提纲插入草稿")
    text = draft.input_value()
    shown = seed_map(engine)
    assert text.startswith(f"## 《{SEED_TITLE}》")
    positions = [text.index(step.claim) for step in shown.steps]
    assert positions == sorted(positions)
    assert "【作者观点】" in text and "[1]" in text
    extras = page.locator("#draft-extras")
    expect(extras.locator(".draft-sources")).to_contain_text(
        f"[1] 《{SEED_TITLE}》 · 银华基金 · 2025-02"
    )
    expect(extras.locator(".disclosure-text")).to_have_text(shown.disclosure)
    # Re-check lints the outline as any draft.
    page.locator("#recheck").click()
    expect(page.locator("#findings")).to_contain_text("未发现不合规表述")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "6-advisor-outline.png"), full_page=True)


# What the page cuts off: a text box whose placeholder does not fit it (an empty box's
# scrollHeight is its placeholder's), or a box that clips content wider than itself. Gradio's
# screen-reader-only labels (1 px wide) and boxes that scroll on purpose are not cut.
CUT_OFF = """() => [...document.querySelectorAll('.gradio-container *')].filter(e => {
    const box = e.getBoundingClientRect(), style = getComputedStyle(e);
    if (box.width <= 2 || box.height <= 2 || style.visibility === 'hidden') return false;
    const scrolls = ['auto', 'scroll'].includes(style.overflowX);
    const tall = e.matches('textarea, input') && e.scrollHeight > e.clientHeight + 1;
    return tall || (e.scrollWidth > e.clientWidth + 1 && !scrolls);
  }).map(e => `${e.tagName}#${e.id}.${e.className}: ${(e.placeholder || e.innerText).slice(0, 40)}`)"""


@pytest.mark.parametrize("width, height", [(375, 812), (768, 1024)])
def test_on_a_phone_and_a_tablet_nothing_on_the_page_is_cut_off(
    offline_ui: tuple[str, AnswerEngine], page: Any, tmp_path: Path, width: int, height: int
) -> None:
    url, _ = offline_ui
    page.set_viewport_size({"width": width, "height": height})
    page.goto(url)
    page.locator("#thesis-map .map-card").filter(has_text=SEED_TITLE).locator(
        "summary"
    ).first.click()
    question = page.locator("#question textarea")
    for language, example, tabs in (
        ("简体", "例如", ("顾问草稿", "投资者问答")),
        ("English", "e.g.", ("Advisor drafts", "Investor Q&A")),
    ):
        page.locator("#language").get_by_label(language).check()
        expect(question).to_have_attribute("placeholder", re.compile(f"^{re.escape(example)}"))
        # The example question in the box is read whole, in either language (it was cut to one
        # line and a half on a phone).
        assert page.evaluate(CUT_OFF) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        page.screenshot(path=str(tmp_path / f"{width}-{language}.png"))
        page.get_by_role("tab", name=tabs[0]).click()
        expect(page.locator("#thesis-outlines .outline-card").first).to_be_visible()
        assert page.evaluate(CUT_OFF) == []
        page.get_by_role("tab", name=tabs[1]).click()
