"""Shared fixtures: real parts everywhere, a fake only at the network boundary (tests/fakellm.py)."""

from __future__ import annotations

import ast
import contextlib
import functools
import gc
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from assistant.answer import AnswerEngine
from assistant.config import Settings
from assistant.embeddings import E5Embedder
from assistant.factory import build_engine, build_store, sync_knowledge
from assistant.llm import OpenAICompatibleChat
from assistant.store import KnowledgeStore
from tests.fakellm import FakeLLM, fake_llm, fake_llm_server  # noqa: F401  (fixtures)
from tests.postgres import postgres_server, postgres_url  # noqa: F401  (fixtures)


def _one_parse_at_a_time(parse: Any) -> Any:
    """``ast.parse`` behind a lock. CPython 3.11.7 (this machine's and CI's) counts the AST
    constructor's recursion depth in one place for all threads, so two threads parsing at once
    fail with "SystemError: AST constructor recursion depth mismatch" (python/cpython#106905,
    pytest-dev/pytest#10763).
    pytest parses every test module and plugin module it rewrites, on whichever thread imports
    it, while the servers' threads import Gradio, whose components parse their own source.
    The same bug strikes on one thread when a parse re-enters itself: a garbage collection
    inside the AST constructor finalizes an unclosed socket, pytest's unraisable hook formats
    the warning, and formatting parses a source line. So no collection runs during a parse, and
    the lock is re-entrant (a plain one deadlocked there, and once held CI for its whole budget,
    pytest-timeout's own stack dump waiting on it)."""
    lock = threading.RLock()

    @functools.wraps(parse)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            collecting = gc.isenabled()
            gc.disable()
            try:
                return parse(*args, **kwargs)
            finally:
                if collecting:
                    gc.enable()

    return locked


ast.parse = _one_parse_at_a_time(ast.parse)

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "knowledge" / "000_bb0ece290725cdd0.txt"


def settings_for(tmp: Path, **overrides: object) -> Settings:
    """Settings isolated from the developer's environment and .env."""
    values: dict[str, object] = {
        "data_dir": tmp / "data",
        "knowledge_dir": tmp / "knowledge",
        "api_key": None,
        "chroma_host": None,
        # Starlette's TestClient sends "Host: testserver"; servers in tests are on 127.0.0.1.
        "allowed_hosts": "127.0.0.1,localhost,testserver",
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def embedder() -> E5Embedder:
    """One loaded e5 model for the whole run (loading it is the slow part)."""
    return E5Embedder()


@pytest.fixture(scope="session")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, embedder: E5Embedder
) -> tuple[Settings, KnowledgeStore]:
    """The real knowledge folder ingested once into a temporary store; tests must not change it."""
    tmp = tmp_path_factory.mktemp("seeded")
    shutil.copytree(ROOT / "knowledge", tmp / "knowledge")
    settings = settings_for(tmp)
    store = build_store(settings, embedder)
    report = sync_knowledge(settings, store)
    assert report.ok and report.chunks > 0
    return settings, store


def clean_env(**extra: str) -> dict[str, str]:
    """Environment for a subprocess: none of the developer's assistant settings leak in."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DEEPSEEK_", "ASSISTANT_", "CHROMA_"))
    }
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture
def workdir(tmp_path: Path) -> Iterator[Path]:
    """A working directory with a copy of the knowledge folder, as a fresh clone has."""
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    yield tmp_path


def expected_disclosure(store: KnowledgeStore, answer: object) -> str:
    """The verbatim disclosure an answer must carry: that of the articles it cites (or retrieved)."""
    ids = [c.chunk_id for c in answer.citations] or [r.chunk_id for r in answer.retrieved]  # type: ignore[attr-defined]
    keys = dict.fromkeys(chunk.meta("disclosure_id") for chunk in store.get(ids))
    texts = [text for key in keys if key and (text := store.disclosure(key))]
    return "\n\n".join(texts) if texts else (store.default_disclosure() or "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_up(url: str, seconds: float = 60) -> None:
    """Poll ``url`` until it answers 200, or fail the test."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {seconds:.0f} s")


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` under a real uvicorn server on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{url}/healthz", 30)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def online_engine(
    store: KnowledgeStore, fake: FakeLLM, tmp: Path, **overrides: object
) -> AnswerEngine:
    """An engine whose model is the fake server (short deadlines, fast backoff)."""
    values: dict[str, object] = {
        "api_key": "sk-test-secret",
        "base_url": fake.base_url,
        "answer_deadline": 3.0,
        "stream_idle_timeout": 1.0,
        "max_retries": 2,
    }
    values.update(overrides)
    settings = settings_for(tmp, **values)
    chat = OpenAICompatibleChat(settings, backoff_base=0.01, backoff_cap=0.05)
    return build_engine(settings, store=store, chat=chat)


@pytest.fixture
def online(seeded, fake_llm: FakeLLM, tmp_path: Path) -> AnswerEngine:  # noqa: F811 (a fixture)
    """The engine on the seeded store, its model the fake server."""
    return online_engine(seeded[1], fake_llm, tmp_path)


@pytest.fixture
def offline(seeded, tmp_path: Path) -> AnswerEngine:
    """The engine on the seeded store with no key (offline excerpt mode)."""
    return build_engine(settings_for(tmp_path), store=seeded[1])


# --- the web app in a real browser ---------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE = "<img src=x onerror=alert(1)>"
# The seed's argument in the article's order: a phrase of each step's claim, a phrase the
# passage it cites must hold (the support, not just the same section), and the step's kind.
SEED_STEPS = [
    ("暂停了API服务充值", "暂停了API服务充值", "fact"),  # the event the thesis follows from
    ("利空算力股", "低算力成本", "fact"),
    ("杰文斯悖论", "整体消耗量反而上升", "view"),
    ("推理算力需求", "推理(调用)的算力成本也可能会持续走高", "forecast"),
    ("科技巨头", "持续加大AI资本开支", "fact"),
    ("国产替代", "给算力芯片的国产替代带来了更高的技术可行性", "view"),
    ("科创板人工智能指数", "科创板人工智能指数布局30只", "fact"),
]
HOSTILE_SCRIPT = "<script>alert(2)</script>"

# Text a screen reader would read in the wrong voice: mainly Chinese (a Han character for
# every four Latin letters, as ``text.is_chinese``) under a lang that is not Chinese, or
# English under a Chinese one. Each: the lang it inherits and its first words.
MISREAD = r"""(selectors) => {
  const out = [];
  for (const root of selectors.map((s) => document.querySelector(s))) {
    const walk = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node; (node = walk.nextNode()); ) {
      const text = node.textContent, el = node.parentElement;
      if (!el.getClientRects().length || el.closest("textarea")) continue;
      // Gradio's own "queue: 1/1" as an event waits its turn: not the app's words.
      if (el.closest('[data-testid="status-tracker"]')) continue;
      const han = (text.match(/[\u3400-\u9fff]/g) || []).length;
      const latin = (text.match(/[A-Za-z]/g) || []).length;
      const lang = el.closest("[lang]").getAttribute("lang");
      const chinese = han > 0 && han >= latin / 4;
      if (chinese ? !lang.startsWith("zh") : latin > 3 && lang !== "en")
        out.push(`${lang}: ${text.trim().slice(0, 30)}`);
    }
  }
  return out;
}"""


@pytest.fixture(scope="session")
def ui_store(
    tmp_path_factory: pytest.TempPathFactory, embedder: E5Embedder
) -> tuple[Settings, KnowledgeStore]:
    """The seed plus an article with markup in its text and title, ingested once.

    The seed's ETF is rated R4 in its fund documents (its sidecar says so): every seed chunk
    carries ``risk_level`` "R4", which the advisor's suitability line reads.
    """
    tmp = tmp_path_factory.mktemp("ui-store")
    shutil.copytree(ROOT / "knowledge", tmp / "knowledge")
    (tmp / "knowledge" / "hbm.txt").write_text(
        f"HBM高带宽内存{HOSTILE}是AI服务器的关键部件，HBM的产能仍然紧张。{HOSTILE_SCRIPT}\n"
        "推理阶段的AI服务器同样需要大量HBM高带宽内存，HBM供应商的订单已排到明年。\n",
        encoding="utf-8",
    )
    (tmp / "knowledge" / "hbm.meta.toml").write_text(
        f'title = "HBM内存说明{HOSTILE}"\npublisher = "测试基金"\npublished = "2025-03"\n',
        encoding="utf-8",
    )
    settings = settings_for(tmp)
    store = build_store(settings, embedder)
    report = sync_knowledge(settings, store)
    assert report.ok and report.chunks > 0
    seed_ids = list(store.index_state()[str(tmp / "knowledge" / SEED.name)])
    assert {c.meta("risk_level") for c in store.get(seed_ids)} == {"R4"}
    return settings, store


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium (Debian's) per test module; each test opens its own context.

    Per module, not per run: Playwright's sync API runs one instance per thread at a time, and
    other modules start their own."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("browser tests need Debian's chromium (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def serving_engine(engine: AnswerEngine) -> Any:
    """``serving`` the web app around ``engine`` (lifespan included, as `python app.py` does)."""
    from assistant.web import Services, create_app

    return serving(create_app(engine.settings, Services(engine)))


@pytest.fixture(scope="module")
def offline_ui(
    ui_store: tuple[Settings, KnowledgeStore], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, AnswerEngine]]:
    """The web app with no key on ``ui_store``, one server per test module: URL and engine."""
    engine = build_engine(settings_for(tmp_path_factory.mktemp("ui")), store=ui_store[1])
    with serving_engine(engine) as url:
        yield url, engine


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh page that may only talk to 127.0.0.1: any other host fails the test.

    Dialogs (``alert``) are recorded and dismissed: a test of hostile text asserts none fired.
    """
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    outside: list[str] = []

    def guard(route: Any) -> None:
        if httpx.URL(route.request.url).host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.dialogs = []  # type: ignore[attr-defined]
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
    page.set_default_timeout(60_000)
    yield page
    context.close()
    assert outside == [], f"the page asked another host: {outside}"
