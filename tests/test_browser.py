"""The page in a real headless Chromium (Debian's), driven by Playwright, against a real server."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import expect, sync_playwright

from assistant.factory import build_engine
from assistant.web import Services, create_app
from tests.conftest import free_port, settings_for, wait_until_up

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.browser


@pytest.fixture
def server(seeded, tmp_path: Path) -> Iterator[str]:
    _, store = seeded
    settings = settings_for(tmp_path)
    app = create_app(settings, Services(build_engine(settings, store=store)))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    wait_until_up(f"{url}/healthz", 30)
    yield url
    server.should_exit = True
    thread.join(timeout=10)


def test_an_investor_asks_and_opens_a_citation(server: str, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = browser.new_page()
        page.goto(f"{server}/embed")  # the page the widget opens (the Gradio app takes /)
        page.fill("#q", "为什么说DeepSeek反而利好算力?")
        page.click("#send")
        disclosure = page.locator(".disclosure-text").first
        expect(disclosure).to_contain_text("投资有风险,投资需谨慎", timeout=60_000)
        expect(page.locator(".notices").first).to_contain_text("人工智能生成")
        expect(page.locator(".answer").first).to_contain_text("原文摘录")

        page.locator(".cite").first.click()
        source = page.locator(".source").first
        expect(source).to_contain_text("《DeepSeek暂停API充值")
        expect(source.locator("mark")).not_to_be_empty()
        page.screenshot(path=str(tmp_path / "answer.png"), full_page=True)

        page.fill("#q", "   ")
        page.fill("#q", "算" * 10)
        page.click("#send")
        expect(page.locator(".turn")).to_have_count(2, timeout=60_000)
        browser.close()
