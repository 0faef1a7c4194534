"""The investor tab with a model (the fake server speaking chat completions), in Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from assistant.breaker import CircuitBreaker
from tests.conftest import online_engine, serving_engine
from tests.fakellm import FakeLLM
from tests.test_browser_investor import QUESTION, ask

pytestmark = pytest.mark.browser

# Records every state of the last turn, so a test can see the answer as it was streamed.
RECORDER = """() => {
  window.seen = [];
  const log = document.querySelector('#transcript');
  new MutationObserver(() => {
    const turn = log.querySelector('.turn:last-child');
    const answer = turn && turn.querySelector('.answer');
    if (answer) window.seen.push([turn.className, answer.innerText]);
  }).observe(log, {subtree: true, childList: true, characterData: true});
}"""


@pytest.fixture(scope="module")
def url(
    ui_store: Any, fake_llm_server: FakeLLM, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    _, store = ui_store
    # Deadlines long enough for a paced stream on a busy machine; a failure is scripted.
    engine = online_engine(
        store,
        fake_llm_server,
        tmp_path_factory.mktemp("ui-llm"),
        answer_deadline=30.0,
        stream_idle_timeout=5.0,
    )
    with serving_engine(engine) as served:
        yield served


def open_app(page: Any, url: str) -> None:
    """Load the page and wait for its argument maps: the first load drafts them with the model,
    and a test's scripted reply must go to its question, not to a map."""
    page.goto(url)
    expect(page.locator("#thesis-map .map-card").first).to_be_visible(timeout=60_000)


def test_a_model_answer_grows_sentence_by_sentence(
    url: str, fake_llm: FakeLLM, page: Any, tmp_path: Path
) -> None:
    open_app(page, url)
    fake_llm.script({"pace": 0.5})
    expect(page.locator("#status")).to_contain_text("在线模型：deepseek-flash")
    page.locator("#transcript").wait_for(state="attached")
    page.evaluate(RECORDER)
    page.locator("#question textarea").fill(QUESTION)
    page.locator("#send").click()
    page.locator(".turn.streaming .answer p:not(.waiting)").wait_for()
    page.screenshot(path=str(tmp_path / "llm-streaming.png"), full_page=True)
    turn = page.locator(".turn.done")
    expect(turn).to_have_count(1)
    final = turn.locator(".answer").inner_text()
    streamed = [
        text
        for cls, text in page.evaluate("window.seen")
        if "streaming" in cls and text and text != "正在检索资料并作答…"
    ]
    # The first sentence was on the page, alone, before the second arrived.
    assert streamed and len(streamed[0]) < len(final)
    assert all(final.startswith(text) for text in streamed)
    expect(turn.locator(".badges")).to_contain_text("模型：deepseek-flash")
    turn.locator("a.cite").first.click()
    expect(page.locator(".source.active mark")).not_to_be_empty()
    expect(turn.locator("details.disclosure summary")).to_contain_text("投资有风险")
    page.screenshot(path=str(tmp_path / "llm.png"), full_page=True)


def test_a_model_failure_is_said_on_that_answer(
    url: str, fake_llm: FakeLLM, page: Any, tmp_path: Path
) -> None:
    open_app(page, url)
    fake_llm.script(401)
    turn = ask(page, QUESTION)
    expect(turn.locator(".badges")).to_contain_text("在线模型不可用，本回答为原文摘录")
    expect(turn.locator(".notices")).to_contain_text("在线模型暂时不可用")
    expect(turn.locator(".answer")).to_contain_text("原文摘录")
    expect(turn.locator("details.disclosure summary")).to_contain_text("投资有风险")
    expect(turn.locator("a.cite").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "fallback.png"), full_page=True)


def test_a_question_typed_while_an_answer_streams_stays_in_the_box(
    url: str, fake_llm: FakeLLM, page: Any
) -> None:
    open_app(page, url)
    fake_llm.script({"pace": 0.5})
    box = page.locator("#question textarea")
    box.fill(QUESTION)
    page.locator("#send").dblclick()  # a double click asks once, and says nothing of an empty box
    page.locator(".turn.streaming .answer p:not(.waiting)").wait_for()
    # The reader types the next question as the answer grows (each sentence used to wipe it).
    follow_up = "那风险呢？"
    box.fill(follow_up)
    # Meanwhile the buttons that would ask look inert (a send would do nothing until it ends).
    expect(page.locator("#send")).to_have_css("opacity", "0.5")
    expect(page.locator("#examples button").first).to_have_css("cursor", "progress")
    done = page.locator(".turn.done")
    expect(done).to_have_count(1)
    expect(box).to_have_value(follow_up)
    expect(page.locator("#send")).to_have_css("opacity", "1")
    page.locator("#send").click()
    expect(done).to_have_count(2)
    expect(done.nth(1).locator(".question")).to_contain_text(follow_up)
    expect(box).to_have_value("")
    expect(page.locator(".toast-body")).to_have_count(0)


def asked_slowly(page: Any, url: str, fake_llm: FakeLLM) -> Any:
    """The page with QUESTION sent and its answer streaming at a sentence every half second,
    its first sentence shown; returns the question box."""
    open_app(page, url)
    fake_llm.script({"pace": 0.5})
    box = page.locator("#question textarea")
    box.fill(QUESTION)
    page.locator("#send").click()
    page.locator(".turn.streaming .answer p:not(.waiting)").wait_for()
    return box


def test_enter_while_an_answer_streams_waits_like_the_send_button(
    url: str, fake_llm: FakeLLM, page: Any
) -> None:
    # Sent with the button, then a follow-up sent with Enter as the answer grew: the box's Enter
    # is another event than the button's, so it asked at once, beside the answer in flight and
    # without it as history ("它" then meant nothing to the model).
    box = asked_slowly(page, url, fake_llm)
    follow_up = "那它对算力芯片有什么影响？"
    box.fill(follow_up)
    box.press("Enter")
    done = page.locator(".turn.done")
    expect(done).to_have_count(1)
    expect(page.locator(".turn")).to_have_count(1)  # the follow-up waited, in the box
    expect(box).to_have_value(follow_up)
    asked = len(fake_llm.chat_requests)
    box.press("Enter")
    expect(done).to_have_count(2)
    expect(done.nth(1).locator(".question")).to_contain_text(follow_up)
    # Asked with the first exchange as its history (rewritten, then answered with it).
    roles = [m["role"] for m in fake_llm.chat_requests[-1]["body"]["messages"]]
    assert len(fake_llm.chat_requests) == asked + 2 and roles == [
        "system",
        "user",
        "assistant",
        "user",
    ]


def test_a_new_chat_begun_while_an_answer_streams_stays_new(
    url: str, fake_llm: FakeLLM, page: Any
) -> None:
    # "New chat" emptied the page, then the answer still streaming wrote its question and
    # answer back into it, sentence by sentence, and the next question waited for it to end.
    box = asked_slowly(page, url, fake_llm)
    page.locator("#new-chat").click()
    expect(page.locator(".turn")).to_have_count(0)
    page.wait_for_timeout(1500)  # three of the old answer's sentences' time
    expect(page.locator(".turn")).to_have_count(0)
    box.fill("杰文斯悖论是什么？")
    box.press("Enter")
    expect(page.locator(".turn.done")).to_have_count(1)
    expect(page.locator(".turn .question")).to_have_text(re.compile("杰文斯悖论是什么？"))


def test_the_language_switched_while_an_answer_streams_is_the_answers_too(
    url: str, fake_llm: FakeLLM, page: Any
) -> None:
    # The answer went on streaming in the labels it was asked under: an English page with
    # "来源", "展开全文" and footnotes read out as "来源1" under its last answer.
    asked_slowly(page, url, fake_llm)
    page.get_by_label("English").check()
    done = page.locator(".turn.done")
    expect(done).to_have_count(1)
    expect(done.locator(".sources h4")).to_have_text("Sources")
    expect(done.locator("a.cite").first).to_have_attribute("aria-label", "source 1")
    expect(done.locator("details.disclosure summary")).to_contain_text("Risk disclosure")


def test_the_language_switched_while_a_draft_streams_is_the_drafts_panels_too(
    url: str, fake_llm: FakeLLM, page: Any
) -> None:
    open_app(page, url)
    page.get_by_role("tab", name="顾问草稿").click()
    fake_llm.script({"pace": 0.5})
    page.locator("#topic textarea").fill("杰文斯悖论和算力需求")
    page.locator("#make-draft").click()
    expect(page.locator("#draft textarea")).not_to_have_value("")
    page.locator("#language").get_by_label("English").check()  # the page's, not the draft's
    extras = page.locator("#draft-extras")
    expect(extras).to_contain_text("Sources (appended on export)", timeout=30_000)
    expect(extras).not_to_contain_text("来源（导出时附在文末）")


def test_the_status_line_follows_the_model_going_away_and_coming_back(
    ui_store: Any, fake_llm: FakeLLM, page: Any, tmp_path: Path
) -> None:
    _, store = ui_store
    engine = online_engine(store, fake_llm, tmp_path, answer_deadline=30.0)
    # A failure opens this engine's breaker at once, for a second.
    engine.chat.breaker = CircuitBreaker("fake", failures=1, cooldown=1.0)  # type: ignore[union-attr]
    with serving_engine(engine) as served:
        open_app(page, served)
        status = page.locator("#status")
        expect(status).to_contain_text("在线模型：deepseek-flash")
        fake_llm.script(401)
        turn = ask(page, QUESTION)
        expect(turn.locator(".badges")).to_contain_text("在线模型不可用")
        # The next question would be answered by excerpts too: the status line says so now,
        # not after a reload.
        expect(status).to_contain_text("在线模型暂不可用")
        expect(status).to_contain_text("模型恢复后自动切回")
        page.wait_for_timeout(1200)  # the cooldown: the next question probes the model
        ask(page, QUESTION)
        expect(status).to_contain_text("在线模型：deepseek-flash")
