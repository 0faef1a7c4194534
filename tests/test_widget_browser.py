"""The widget on a third-party page, in a real headless Chromium (Debian's) driven by Playwright.

The assistant runs under uvicorn on one port; "the fund's page" is a plain page served from
another port (another origin), with its own styles, that pastes the one-line embed. Screenshots
go to the test's tmp dir (``pytest --basetemp=…`` to keep them).
"""

from __future__ import annotations

import contextlib
import html
import re
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Browser, Frame, Page, expect

from assistant.answer import AnswerEngine
from assistant.factory import build_engine, build_store, sync_knowledge
from assistant.web import Services, create_app
from tests.conftest import MISREAD, ROOT, online_engine, serving, settings_for
from tests.fakellm import FakeLLM

QUESTION = "为什么说DeepSeek反而利好算力?"
pytestmark = pytest.mark.browser

HOST_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>某基金公司 · 产品页</title>
<style>
  body {{ font: 20px/1.4 serif; color: rgb(10, 20, 30); margin: 2rem; }}
  button {{ background: rgb(255, 0, 0); color: white; font-size: 18px; }}
  div {{ border: 0 solid rgb(0, 128, 0); }}
  p {{ max-width: 40em; }}
</style></head>
<body>
<h1>科创板人工智能ETF</h1>
<p>这是基金公司自己的页面。下面的按钮和样式属于这个页面，小部件不得改变它们。</p>
<button id="host-button" type="button">页面自己的按钮</button>
<script src="{assistant}/widget.js" data-lang="{lang}" data-title="银华·资料问答" data-color="#c8102e" async></script>
</body></html>
"""
# A national day of mourning: Chinese sites turn grey for a day, often with a filter on <body>,
# which makes <body> the box that fixed elements are placed in (a transform does the same).
GREY_PAGE = """<style>body { filter: grayscale(100%); }</style>
<p style="height: 3000px">一页很长的公告。</p>
"""


class ThirdPartySite:
    """A fund's own page on its own origin (port), with the embed line pointing at the assistant.

    The port is bound here (port 0: the system's choice, so nothing can take it in between);
    the page is served once ``serve`` names the assistant, whose settings need this origin."""

    def __init__(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                lang = query.get("lang", ["zh"])[0]  # data-lang
                page = HOST_PAGE.format(assistant=site.assistant, lang=html.escape(lang))
                if "grey" in query:
                    page = page.replace("</title>", "</title>" + GREY_PAGE, 1)
                page = page.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.assistant = ""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def serve(self, assistant: str) -> None:
        self.assistant = assistant
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        if self.assistant:  # serve_forever is running (shutdown would wait for it forever)
            self.server.shutdown()
        self.server.server_close()


def embed_frame(page: Page) -> Frame:
    """The widget's iframe (it lives in the widget's shadow root, where frames are still frames)."""
    for _ in range(100):
        for frame in page.frames:
            if "/embed" in frame.url:
                return frame
        page.wait_for_timeout(100)
    raise AssertionError(f"no /embed frame among {[f.url for f in page.frames]}")


def open_widget_with_keyboard(page: Page) -> Frame:
    page.locator("#host-button").focus()
    page.keyboard.press("Tab")  # the widget's button comes after the page's own
    expect(page.locator("fund-thesis-widget button.fab")).to_be_focused()
    page.keyboard.press("Enter")
    frame = embed_frame(page)
    expect(frame.locator("#q")).to_be_focused(timeout=10_000)
    return frame


def host_styles(page: Page) -> dict[str, str]:
    return page.evaluate(
        """() => {
          const b = getComputedStyle(document.getElementById('host-button'));
          const body = getComputedStyle(document.body);
          return {button: b.backgroundColor + ' ' + b.fontSize, body: body.fontFamily + ' '
            + body.fontSize + ' ' + body.color, sheets: String(document.styleSheets.length),
            children: [...document.body.children].map(e => e.tagName).join(','),
            root: [...document.documentElement.children].map(e => e.tagName).join(',')};
        }"""
    )


def record_answer_text(frame: Frame) -> None:
    """Keep every text node added to the log, to see the answer arrive in pieces, and whether
    the log (a live region) was marked busy as it was added (``__busy``, one per text)."""
    frame.evaluate(
        """() => { window.__seen = []; window.__busy = [];
          const log = document.getElementById('log');
          new MutationObserver(rs => rs.forEach(r => r.addedNodes.forEach(n => {
            const text = n.nodeType === 3 ? n.textContent : n.nodeType === 1
              && n.matches('span[lang]') ? n.textContent : null;
            if (text === null) return;
            window.__seen.push(text); window.__busy.push(log.getAttribute('aria-busy')); })))
            .observe(document.getElementById('log'), {childList: true, subtree: true}); }"""
    )


def on_screen(page: Page, locator: Any) -> bool:
    """Whether the element lies within the screen as it is (Playwright's box is relative to it)."""
    box, screen = locator.bounding_box(), page.viewport_size
    assert box is not None and screen is not None
    return box["y"] >= 0 and box["y"] + box["height"] <= screen["height"]


def keep(page: Page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path))
    shots = ROOT / "bench" / "out" / "screenshots"  # git-ignored: for a person to look at
    shots.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, shots / path.name)
    return path


@contextlib.contextmanager
def sites(
    engine: AnswerEngine, tmp_path: Path, **overrides: object
) -> Iterator[tuple[str, str, str]]:
    """(the assistant serving ``engine``, an allowed fund page, a page on a site not allowed)."""
    allowed, other = ThirdPartySite(), ThirdPartySite()
    settings = settings_for(tmp_path, allowed_origins=allowed.url, **overrides)
    try:
        with serving(create_app(settings, Services(engine))) as assistant:
            allowed.serve(assistant)
            other.serve(assistant)
            yield assistant, allowed.url, other.url
    finally:
        allowed.close()
        other.close()


@pytest.fixture
def offline_site(seeded, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    _, store = seeded
    with sites(build_engine(settings_for(tmp_path), store=store), tmp_path) as urls:
        yield urls


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    yield context.new_page()
    context.close()


def test_a_fund_page_embeds_the_widget_and_an_investor_asks(
    desktop: Page, offline_site: tuple[str, str, str], tmp_path: Path
) -> None:
    _, fund_page, _ = offline_site
    page = desktop
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    console: list[str] = []  # the fund's own console: the widget must not litter it
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.goto(fund_page)
    expect(page.locator("fund-thesis-widget button.fab")).to_be_visible()
    styles = host_styles(page)
    assert styles["button"] == "rgb(255, 0, 0) 18px" and "serif" in styles["body"]
    assert styles["children"] == "H1,P,BUTTON,SCRIPT"
    assert styles["root"] == "HEAD,BODY,FUND-THESIS-WIDGET"  # one element, beside the body

    frame = open_widget_with_keyboard(page)
    expect(frame.locator("#status")).to_contain_text("离线摘录模式")
    expect(frame.locator("h1")).to_have_text("银华·资料问答")
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    expect(frame.locator(".disclosure-text").first).to_contain_text("投资有风险", timeout=60_000)
    expect(frame.locator(".answer").first).to_contain_text("原文摘录")
    expect(frame.locator(".badge").first).to_have_text("离线摘录")
    expect(frame.locator(".notices").first).to_contain_text("人工智能生成")
    citation = frame.locator(".cite").first
    citation.focus()
    page.keyboard.press("Enter")  # citations are buttons: the keyboard opens them too
    source = frame.locator(".source").first
    expect(source).to_contain_text("《DeepSeek暂停API充值")
    expect(source.locator("mark")).not_to_be_empty()
    expect(citation).to_have_attribute("aria-expanded", "true")
    # Every text in a voice that speaks it (the intro ends with a sentence in English).
    assert frame.evaluate(MISREAD, ["body"]) == []
    keep(page, tmp_path, "widget-desktop-offline")

    assert host_styles(page) == styles  # the page's own look is untouched, panel open or not
    assert not [line for line in console if line.startswith(("warning", "error"))], console
    assert all(url.startswith(("http://127.0.0.1", "data:")) for url in requests)
    assert not [url for url in requests if "gradio" in url]

    frame.locator("#q").focus()
    page.keyboard.press("Escape")  # closes the panel and gives the focus back to the button
    expect(page.locator("fund-thesis-widget .panel")).to_be_hidden()
    expect(page.locator("fund-thesis-widget button.fab")).to_be_focused()


def test_a_page_greyed_for_mourning_still_shows_the_button_and_panel_on_screen(
    desktop: Page, offline_site: tuple[str, str, str], tmp_path: Path
) -> None:
    # A filter on <body> placed the "fixed" button at the foot of the long page, 3,000 px below
    # the screen's bottom edge: a visitor saw no assistant at all.
    _, fund_page, _ = offline_site
    page = desktop
    page.goto(f"{fund_page}?grey=1")
    fab = page.locator("fund-thesis-widget button.fab")
    expect(fab).to_be_visible()
    assert on_screen(page, fab) and page.evaluate("scrollY") == 0
    fab.click()
    expect(embed_frame(page).locator("#q")).to_be_focused(timeout=10_000)
    assert on_screen(page, page.locator("fund-thesis-widget .panel"))
    assert page.evaluate("scrollY") == 0
    keep(page, tmp_path, "widget-grey-page")


def test_a_site_in_hong_kong_or_taiwan_shows_the_widget_in_traditional_characters(
    desktop: Page, offline_site: tuple[str, str, str], tmp_path: Path
) -> None:
    _, fund_page, _ = offline_site
    page = desktop
    page.goto(f"{fund_page}/?lang=zh-Hant")  # the fund's page says data-lang="zh-Hant"
    button = page.locator("fund-thesis-widget button.fab")
    expect(button).to_have_attribute("aria-label", "打開資料問答: 银华·资料问答")
    frame = open_widget_with_keyboard(page)
    expect(frame.locator("html")).to_have_attribute("lang", "zh-Hant")
    expect(frame.locator("h1")).to_have_text("银华·资料问答")  # the site's own title, as given
    expect(frame.locator("#send")).to_have_text("提問")
    expect(frame.locator("#status")).to_contain_text("離線摘錄模式")
    page.keyboard.type("為什麼說DeepSeek反而利好算力？")
    page.keyboard.press("Enter")
    disclosure = frame.locator("details.disclosure").first
    expect(disclosure.locator(".disclosure-text")).to_contain_text("投资有风险", timeout=60_000)
    expect(disclosure.locator("summary")).to_have_text("風險提示")
    expect(frame.locator(".badge").first).to_have_text("離線摘錄")
    expect(frame.locator(".notices").first).to_contain_text("僅供參考")  # asked in 繁體
    keep(page, tmp_path, "widget-traditional")


def test_an_english_reader_with_a_larger_browser_font_reads_the_widget(
    desktop: Page, offline_site: tuple[str, str, str], tmp_path: Path
) -> None:
    _, fund_page, _ = offline_site
    page = desktop
    # An older reader's browser font is 24 px (a setting, not a zoom): the panel's text, sized
    # in px, stayed at 15 px.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Page.enable")
    cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 24, "fixed": 24}})
    page.goto(f"{fund_page}/?lang=en")
    frame = open_widget_with_keyboard(page)
    page.keyboard.type("What is the Jevons paradox?")
    page.keyboard.press("Enter")
    expect(frame.locator(".disclosure-text").first).to_contain_text("投资有风险", timeout=60_000)
    px = "el => parseFloat(getComputedStyle(el).fontSize)"
    assert frame.locator(".answer").first.evaluate(px) >= 22  # 15 px of 16 is 22.5 of 24
    assert frame.locator("#q").evaluate(px) >= 22
    # The Chinese sources, quoted to an English reader, are read in a Chinese voice.
    # The panel widens with the font (400 px held 15 characters a line at 24 px).
    assert page.locator("fund-thesis-widget .panel").evaluate("el => el.offsetWidth") >= 560
    # A footnote is a button a screen reader names by what it opens, not "[1]"; it names the
    # box it controls only once that box exists.
    cite = frame.get_by_role("button", name="source 1", exact=True).first
    expect(cite).to_be_visible()
    assert cite.get_attribute("aria-controls") is None
    frame.locator(".cite").first.click()
    expect(frame.locator(".source").first).to_be_visible()
    controlled = frame.locator(".cite").first.get_attribute("aria-controls")
    assert controlled and frame.locator(f"#{controlled}").count() == 1
    # and say they are the articles' own words, not a translation
    expect(frame.locator(".source .where").first).to_contain_text("in the original Chinese")
    expect(frame.locator("details.disclosure summary").first).to_have_text(
        "Risk disclosure · in the original Chinese"
    )
    assert frame.evaluate(MISREAD, ["body"]) == []
    keep(page, tmp_path, "widget-english-large-font")


def test_an_investor_over_the_rate_limit_is_told_in_their_language_when_to_ask_again(
    desktop: Page, seeded: Any, tmp_path: Path
) -> None:
    # The widget showed the server's sentence for developers, in English whatever the page's
    # language: "Too many requests from this client: the limit is 1/minute
    # (ASSISTANT_RATE_LIMIT). Try again in 60 s. 请在60秒后重试。"
    engine = build_engine(settings_for(tmp_path), store=seeded[1])
    with sites(engine, tmp_path, rate_limit="1/minute") as (_, fund_page, _):
        page = desktop
        page.goto(fund_page)
        frame = open_widget_with_keyboard(page)
        page.keyboard.type(QUESTION)
        page.keyboard.press("Enter")
        expect(frame.locator(".disclosure-text").first).to_contain_text("投资有风险")
        page.keyboard.type("什么是杰文斯悖论？")
        page.keyboard.press("Enter")
        error = frame.locator(".turn").nth(1).locator(".error")
        expect(error).to_have_text(re.compile(r"^提问过于频繁，请\d+秒后再试。$"))
        # still with the disclosure, as every refusal
        expect(frame.locator(".turn").nth(1).locator(".disclosure-text")).to_contain_text(
            "投资有风险"
        )


def test_when_the_assistant_cannot_be_reached_the_widget_says_so(
    desktop: Page, offline_site: tuple[str, str, str]
) -> None:
    assistant, fund_page, _ = offline_site
    page = desktop
    page.goto(fund_page)
    frame = open_widget_with_keyboard(page)
    expect(frame.locator("#status")).to_contain_text("离线摘录模式")
    # The assistant's server goes away (the fund's page and the browser's network stay up).
    page.context.route(f"{assistant}/embed/chat", lambda route: route.abort())
    page.context.route(f"{assistant}/healthz", lambda route: route.abort())
    page.keyboard.type(QUESTION)
    page.keyboard.press("Enter")
    expect(frame.locator(".answer .error").first).to_have_text("连接中断，请重试。")
    expect(frame.locator("#status")).to_have_text("暂时无法连接服务，请稍后再试。")
    expect(frame.locator("#status")).to_have_class("bad")


@pytest.mark.parametrize("width,height", [(390, 844), (844, 390)])
def test_the_widget_fills_a_phone_screen(
    browser: Browser, offline_site: tuple[str, str, str], tmp_path: Path, width: int, height: int
) -> None:
    # Held sideways (844 × 390), the panel was a 400 × 280 box with 90 px for the answer: a line
    # and a half of it, the disclosure below the fold of a box within the page.
    _, fund_page, _ = offline_site
    context = browser.new_context(
        viewport={"width": width, "height": height}, is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(fund_page)
    page.locator("fund-thesis-widget button.fab").tap()
    frame = embed_frame(page)
    expect(frame.locator("#q")).to_be_visible()
    box = page.locator("fund-thesis-widget .panel").bounding_box()
    assert box == {"x": 0, "y": 0, "width": width, "height": height}
    expect(page.locator("fund-thesis-widget button.fab")).to_be_hidden()
    frame.locator("#q").fill("What is the Jevons paradox argument?")
    frame.locator("#send").tap()
    expect(frame.locator(".disclosure-text").first).to_be_visible(timeout=60_000)
    keep(page, tmp_path, f"widget-phone-{width}")
    frame.locator("#close").tap()  # the page's own close button, since the panel covers all
    expect(page.locator("fund-thesis-widget .panel")).to_be_hidden()
    context.close()


def test_a_site_that_is_not_allowed_cannot_frame_the_assistant(
    desktop: Page, offline_site: tuple[str, str, str], tmp_path: Path
) -> None:
    assistant, _, other_site = offline_site
    page = desktop
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(other_site)
    # The widget itself declines to appear on a site its server does not list.
    page.wait_for_function("() => document.readyState === 'complete'")
    # It hashes the page's origin first (the script lists hashes, not the partner sites).
    for _ in range(100):
        if any("ASSISTANT_ALLOWED_ORIGINS" in line for line in console):
            break
        page.wait_for_timeout(50)
    assert any("ASSISTANT_ALLOWED_ORIGINS" in line for line in console), console
    assert page.locator("fund-thesis-widget").count() == 0
    # And a page that frames /embed by hand is refused by the browser (CSP frame-ancestors).
    page.evaluate(
        """url => { const f = document.createElement('iframe');
          f.src = url; f.style.cssText = 'width:400px;height:500px';
          document.body.append(f); }""",
        f"{assistant}/embed",
    )
    page.wait_for_timeout(1500)
    framed = [f for f in page.frames if f.url.startswith(assistant)]
    assert not [f for f in framed if f.locator("#q").count()], "the assistant was framed"
    assert any("frame-ancestors" in line for line in console), console
    keep(page, tmp_path, "widget-refused-origin")


def test_the_answer_streams_from_the_model_with_citations_and_disclosure(
    desktop: Page, seeded, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    _, store = seeded
    page = desktop
    with sites(online_engine(store, fake_llm, tmp_path), tmp_path) as (_, fund_page, _):
        page.goto(fund_page)
        frame = open_widget_with_keyboard(page)
        record_answer_text(frame)
        page.keyboard.type(QUESTION)
        page.keyboard.press("Enter")
        badge = frame.locator(".badge").first
        expect(badge).to_have_text("模型回答 · deepseek-flash", timeout=60_000)
        answer = frame.locator(".answer").first.inner_text()
        seen = frame.evaluate("() => window.__seen")
        # The first sentence was on screen alone before the whole answer was.
        assert any(text and "[1]" in text and len(text) < len(answer) - 5 for text in seen), seen
        # A screen reader is not read each growing piece from the top again (the log is a live
        # region): the log is busy while the answer streams, and says the whole of it after.
        busy = frame.evaluate("() => window.__busy")
        pieces = [b for text, b in zip(seen, busy, strict=True) if "[1]" in text]
        assert pieces and pieces[0] == "true", (seen, busy)
        expect(frame.locator("#log")).not_to_have_attribute("aria-busy", "true")
        expect(frame.locator(".disclosure-text").first).to_contain_text("投资有风险")
        frame.locator(".cite").first.click()
        expect(frame.locator(".source").first).to_contain_text("《DeepSeek暂停API充值")
        keep(page, tmp_path, "widget-desktop-model")


XSS_ARTICLE = (
    "DeepSeek降低了AI模型的训练成本<img src=x onerror=\"window.parent.__xss='doc-img'\">，"
    "这并没有减少对算力的需求。\n\n"
    "杰文斯悖论说明，效率提高以后算力的总消耗反而可能上升<script>window.__xss='doc-script'</script>。\n\n"
    "推理需求增加，科技巨头的资本开支继续增长<a href=\"javascript:window.__xss='doc-link'\">链接</a>。\n"
)


@pytest.fixture(scope="module")
def xss_store(embedder, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("xss")
    knowledge = tmp / "knowledge"
    knowledge.mkdir()
    (knowledge / "xss.txt").write_text(XSS_ARTICLE, encoding="utf-8")
    (knowledge / "xss.meta.toml").write_text(
        'title = "<img src=x onerror=window.__xss=\'title\'>算力与DeepSeek"\npublished = "2025-02"\n',
        encoding="utf-8",
    )
    settings = settings_for(tmp)
    store = build_store(settings, embedder)
    assert sync_knowledge(settings, store).ok
    return store


def test_markup_in_questions_and_documents_is_shown_as_text(
    desktop: Page, xss_store, tmp_path: Path
) -> None:
    page = desktop
    question = (
        "<img src=x onerror=\"window.parent.__xss='q'\">DeepSeek为什么没有减少算力需求?"
        "<script>window.__xss='q2'</script>"
    )
    engine = build_engine(settings_for(tmp_path), store=xss_store)
    with sites(engine, tmp_path) as (_, fund_page, _):
        page.goto(fund_page)
        frame = open_widget_with_keyboard(page)
        frame.locator("#q").fill(question)
        page.keyboard.press("Enter")
        expect(frame.locator(".disclosure-text").first).to_be_visible(timeout=60_000)
        expect(frame.locator(".question").first).to_have_text(question)
        expect(frame.locator(".answer").first).to_contain_text("<img src=x onerror=")
        frame.locator(".cite").first.click()
        expect(frame.locator(".source .where").first).to_contain_text("<img src=x onerror=")
        assert frame.locator("main img, main script, main a").count() == 0
        page.wait_for_timeout(300)  # an onerror would have fired by now
        assert page.evaluate("() => window.__xss") is None
        assert frame.evaluate("() => window.__xss") is None
        keep(page, tmp_path, "widget-xss-inert")


def test_widget_js_and_embed_stay_small_and_self_contained(
    offline_site: tuple[str, str, str],
) -> None:
    import httpx

    assistant, _, _ = offline_site
    page = httpx.get(f"{assistant}/embed").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sorted(assets) == ["/embed/app.css", "/embed/app.js"]  # nothing from elsewhere
    total = len(page.encode()) + len(httpx.get(f"{assistant}/widget.js").content)
    total += sum(len(httpx.get(f"{assistant}{asset}").content) for asset in assets)
    assert total < 100_000
