"""The public edge, measured on a real server: what the widget weighs, how many answers per
second ``/api/chat`` sustains offline, and how long our server takes before the model is asked.

    python bench/edge.py [--seconds 20] [--clients 4] [--rounds 3]

It runs ``python app.py`` in a scratch folder (a copy of ``knowledge/``, its own data dir; the
first start ingests), on a free port, with the rate limit lifted, and measures over HTTP:

1. **Bytes**: ``/widget.js``, ``/embed`` and everything ``/embed`` loads (it names its assets;
   nothing else is fetched), as sent (no compression) and gzipped.
2. **Answers per second offline**: ``--clients`` threads post the seed questions to
   ``/api/chat`` (JSON) round-robin for ``--seconds``; every answer is checked for its
   disclosure. Reports answers/s and the latency each client saw, and how long ``/healthz``
   takes meanwhile (answers run in their own threads, so it should not wait behind them).
3. **Time before the model's first token**: the same app with a key and ``DEEPSEEK_BASE_URL``
   pointed at the fake model server (``tests/fakellm.py``, in this process: one clock for all).
   For each Chinese seed question (no history: one model call), streamed: from the client's
   request to the model request's arrival at the fake (retrieval, checks, prompt: the time our
   server adds), and from there to the first ``delta`` the client reads (the fake answers at
   once, so this is the sentence gate and the framing, not the model). ``--rounds`` passes.

Figures under load are upper bounds: the load average is printed at the start of each part.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fakellm import FakeLLM  # noqa: E402

QUESTIONS = [
    json.loads(line)
    for line in (ROOT / "tests" / "fixtures" / "seed_questions.jsonl")
    .read_text("utf-8")
    .splitlines()
    if line.strip()
]


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} / {five:.2f} / {fifteen:.2f} (1 / 5 / 15 min), {os.cpu_count()} cores"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@contextmanager
def app_server(workdir: Path, **env: str) -> Iterator[str]:
    """``python app.py`` in ``workdir`` until it answers /healthz; yields its base URL."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DEEPSEEK_", "ASSISTANT_"))}
    clean.update(
        PYTHONPATH=str(ROOT),
        ASSISTANT_PORT=str(port),
        ASSISTANT_RATE_LIMIT="1000000/minute",
        ASSISTANT_DATA_DIR=str(workdir / "data"),
        **env,
    )
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=workdir,
        env=clean,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit("app.py exited before it served")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def measure_bytes(url: str) -> None:
    page = httpx.get(f"{url}/embed").content
    assets = re.findall(r'(?:src|href)="([^"]+)"', page.decode())
    parts = {"/widget.js": httpx.get(f"{url}/widget.js").content, "/embed": page}
    parts.update({asset: httpx.get(f"{url}{asset}").content for asset in assets})
    print("\n## Bytes: the widget and everything it loads")
    for name, body in parts.items():
        print(f"  {name:<16} {len(body):>7,} B   gzip {len(gzip.compress(body, 9)):>6,} B")
    total = sum(len(b) for b in parts.values())
    zipped = sum(len(gzip.compress(b, 9)) for b in parts.values())
    print(f"  {'total':<16} {total:>7,} B   gzip {zipped:>6,} B   ({len(parts)} requests)")


def measure_throughput(url: str, seconds: float, clients: int) -> None:
    print(f"\n## /api/chat offline: {clients} clients for {seconds:g} s; {load()}")
    stop = time.monotonic() + seconds
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        with httpx.Client(timeout=60) as http:
            n = offset
            while time.monotonic() < stop:
                question = QUESTIONS[n % len(QUESTIONS)]["question"]
                n += clients
                started = time.monotonic()
                response = http.post(f"{url}/api/chat", json={"message": question})
                took = time.monotonic() - started
                ok = response.status_code == 200 and "投资有风险" in response.json()["disclosure"]
                with lock:
                    (latencies if ok else failures).append(took if ok else response.text[:200])

    health: list[float] = []

    def prober() -> None:  # /healthz while the answers run: it must not wait behind them
        with httpx.Client(timeout=60) as http:
            while time.monotonic() < stop:
                began = time.monotonic()
                http.get(f"{url}/healthz").raise_for_status()
                health.append(time.monotonic() - began)
                time.sleep(0.2)

    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    threads.append(threading.Thread(target=prober))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    print(
        f"  answers: {len(latencies)} in {elapsed:.1f} s = {len(latencies) / elapsed:.1f} answers/s"
    )
    print(
        f"  latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms; failures {len(failures)}"
    )
    for failure in failures[:3]:
        print(f"  failure: {failure}")
    print(
        f"  /healthz meanwhile: p50 {statistics.median(health) * 1000:.0f} ms, "
        f"p95 {percentile(health, 0.95) * 1000:.0f} ms (n = {len(health)})"
    )


def measure_first_token(workdir: Path, rounds: int) -> None:
    fake = FakeLLM().start()
    chinese = [q["question"] for q in QUESTIONS if q["lang"] == "zh"]
    try:
        env = {"DEEPSEEK_API_KEY": "sk-bench", "DEEPSEEK_BASE_URL": fake.base_url}
        with app_server(workdir, **env) as url, httpx.Client(timeout=60) as http:
            print(f"\n## Streamed /api/chat with the fake model: {load()}")
            http.post(f"{url}/api/chat", json={"message": chinese[0]})  # warm-up
            before_model: list[float] = []
            after_model: list[float] = []
            for _ in range(rounds):
                for question in chinese:
                    fake.reset()
                    started = time.monotonic()
                    body = {"message": question, "stream": True}
                    with http.stream("POST", f"{url}/api/chat", json=body) as response:
                        lines = response.iter_lines()
                        for line in lines:
                            if line == "event: delta":
                                first_delta = time.monotonic()
                                break
                        for _ in lines:  # the rest of the answer, to its done event
                            pass
                    asked = fake.chat_requests[0]["at"]
                    before_model.append(asked - started)
                    after_model.append(first_delta - asked)
            n = len(before_model)
            print(
                f"  request → model asked (our server's work): p50 "
                f"{statistics.median(before_model) * 1000:.0f} ms, p95 "
                f"{percentile(before_model, 0.95) * 1000:.0f} ms  (n = {n})"
            )
            print(
                f"  model asked → first delta read (instant model; gate and framing): p50 "
                f"{statistics.median(after_model) * 1000:.0f} ms, p95 "
                f"{percentile(after_model, 0.95) * 1000:.0f} ms"
            )
    finally:
        fake.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"bench/edge.py: {load()}")
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as scratch:
        workdir = Path(scratch)
        shutil.copytree(ROOT / "knowledge", workdir / "knowledge")
        with app_server(workdir) as url:
            measure_bytes(url)
            httpx.post(f"{url}/api/chat", json={"message": QUESTIONS[0]["question"]}, timeout=60)
            measure_throughput(url, args.seconds, args.clients)
        measure_first_token(workdir, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
