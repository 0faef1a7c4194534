"""The web app's start-up, first answer character and first-load size, as a reader meets them.

    python bench/ui.py [--runs 5] [--questions 5]

All against `python app.py` run as a subprocess in a scratch folder whose store was ingested
first (``python ingest.py``), so the start is the "existing store" case:

- **start**: from launching ``python app.py`` to the first HTTP 200 of ``GET /`` (the
  starting page that holds ``/`` while the Gradio app is built: the API already answers), and
  to the Gradio page itself (polled every 20 ms), ``--runs`` times; with the CPU time its main thread had
  used by then (start-up runs on that one thread, so on an idle machine the wait is about this
  CPU time: a figure other work on the machine inflates far less than the wall clock; the
  embedder's warm-up, which starts once the server is up, runs on other threads);
- **first load**: the bytes the browser (Debian's Chromium, headless, cache empty) downloads
  for ``/`` until the page is usable (the send button shown): encoded body plus headers of
  every response, as Chromium's network layer counts them;
- **send → first character**: from the click on send to the first character of the answer in
  the transcript (a MutationObserver in the page, timed with ``performance.now()``): offline,
  and with the model at ``tests/fakellm.py`` (a local chat-completions server; its answer
  streams at once, so this is our own overhead plus the gate's first sentence). The first
  question after start is reported apart: it loads the embedder and the BM25 index.

Prints the load average at the start: numbers taken beside other work are upper bounds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, clean_env, free_port  # noqa: E402
from tests.fakellm import FakeLLM  # noqa: E402

QUESTIONS = [
    "为什么说DeepSeek反而利好算力?",
    "什么是杰文斯悖论？",
    "科技巨头还在加大AI资本开支吗？",
    "推理阶段的算力需求为什么可能更高？",
    "Why might cheaper models raise demand for AI compute?",
    "DeepSeek V3的训练成本是多少？",
]

# Timestamps the first character of the newest answer after the click (performance.now()).
OBSERVE = """() => new Promise((resolve) => {
  const log = document.querySelector('#transcript');
  const before = log.querySelectorAll('.turn').length;
  const seen = new MutationObserver(() => {
    const turns = log.querySelectorAll('.turn');
    const last = turns[turns.length - 1];
    const text = last && turns.length > before && last.querySelector('.answer p:not(.waiting)');
    if (text && text.textContent.trim()) { seen.disconnect(); resolve(performance.now() - window.clicked); }
  });
  seen.observe(log, {subtree: true, childList: true, characterData: true});
  window.clicked = performance.now();
  document.querySelector('#send').click();
})"""


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process's main thread (Linux /proc)."""
    fields = Path(f"/proc/{pid}/task/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def app_py(workdir: Path, **env: str) -> Iterator[tuple[str, float, float, float]]:
    """``python app.py`` in ``workdir``; yields its URL, the seconds to the first 200 of /,
    the CPU seconds its main thread had used by then, and the seconds to the Gradio page."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=workdir,
        env=clean_env(ASSISTANT_PORT=str(port), **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    first: tuple[float, float] | None = None
    try:
        with httpx.Client(timeout=2) as client:
            while True:
                if process.poll() is not None:
                    raise SystemExit(f"app.py exited with {process.returncode}")
                try:
                    page = client.get(f"{url}/")
                except httpx.HTTPError:
                    page = None
                if page is not None and page.status_code == 200:
                    if first is None:
                        first = time.perf_counter() - started, cpu_seconds(process.pid)
                    if "gradio_config" in page.text:
                        break
                time.sleep(0.02)
        yield url, *first, time.perf_counter() - started
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def first_load_bytes(browser: Any, url: str) -> tuple[int, int]:
    context = browser.new_context()
    page = context.new_page()
    responses: list[Any] = []
    page.on("requestfinished", lambda request: responses.append(request))
    page.goto(url)
    page.wait_for_selector("#send")
    page.wait_for_timeout(1500)  # lazy chunks the first render asks for
    total = 0
    for request in responses:
        sizes = request.sizes()
        total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
    context.close()
    return total, len(responses)


def send_to_first_character(browser: Any, url: str, questions: list[str]) -> list[float]:
    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#send")
    times = []
    for question in questions:
        page.locator("#question textarea").fill(question)
        times.append(page.evaluate(OBSERVE) / 1000)
        page.wait_for_selector(f"#transcript .turn.done >> nth={len(times) - 1}", timeout=60_000)
    context.close()
    return times


def describe(label: str, values: list[float], unit: str = "s") -> str:
    shown = ", ".join(f"{v:.2f}" for v in values)
    return f"{label}: median {statistics.median(values):.2f} {unit} ({shown})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="starts of app.py to time")
    parser.add_argument("--questions", type=int, default=5, help="questions per mode")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    workdir = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    shutil.copytree(ROOT / "knowledge", workdir / "knowledge")
    subprocess.run(
        [sys.executable, str(ROOT / "ingest.py")], cwd=workdir, env=clean_env(), check=True
    )
    questions = (QUESTIONS * 2)[: args.questions + 1]
    fake = FakeLLM().start()
    try:
        starts, cpu, ready = [], [], []
        for _ in range(args.runs):
            with app_py(workdir) as (_, seconds, used, gradio):
                starts.append(seconds)
                cpu.append(used)
                ready.append(gradio)
        print(describe("python app.py → first 200 of / (existing store)", starts))
        print(describe("  CPU time of its main thread by then", cpu))
        print(describe("python app.py → the Gradio page at /", ready))

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            with app_py(workdir) as (url, *_):
                size, count = first_load_bytes(browser, url)
                print(f"first load of /: {size:,} bytes in {count} responses")
                offline = send_to_first_character(browser, url, questions)
            online = {"DEEPSEEK_API_KEY": "sk-bench", "DEEPSEEK_BASE_URL": fake.base_url}
            with app_py(workdir, **online) as (url, *_):
                model = send_to_first_character(browser, url, questions)
            browser.close()
        for label, times in (("offline", offline), ("fake model server", model)):
            print(f"send → first character, {label}: first question {times[0]:.2f} s")
            print(describe(f"send → first character, {label}, later questions", times[1:]))
    finally:
        fake.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
