"""How long an argument map takes to build: offline, and against the fake model server.

    python bench/thesis.py [--runs 30]

The articles of ``knowledge/`` are ingested once into ``bench/out/thesis-store/``. Each run then
builds every article's map from nothing (a fresh ``ThesisService`` with an empty map folder),
through the same path ``GET /api/thesis`` takes: the store's refresh and scan, the chunks'
fetch, the map (extracted, or drafted by the model and checked line by line), the compliance
check, the audit row and the kept file. Timed too: showing a kept map (the common case).

The fake model answers at once, so the online figure is this program's own cost around a model
call (prompt, HTTP, parsing, gate, figure check), not the model's: a real model adds its time
to write about 300 tokens. The fake is scripted with a draft of six lines, one with a figure the
source does not hold and one with a prohibited claim, so both drops are paid for.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.answer import AnswerEngine  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.factory import build_engine, build_store, sync_knowledge  # noqa: E402
from assistant.llm import OpenAICompatibleChat  # noqa: E402
from assistant.thesis import ThesisService  # noqa: E402
from tests.fakellm import FakeLLM  # noqa: E402

STORE = ROOT / "bench" / "out" / "thesis-store"
DRAFT = (ROOT / "tests" / "fixtures" / "thesis_draft.txt").read_text(encoding="utf-8")


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": STORE / "data",
        "knowledge_dir": STORE / "knowledge",
        "api_key": None,
        "chroma_host": None,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def timed(build: Callable[[], object], runs: int) -> list[float]:
    build()  # warm-up: imports, the rule table, SQLite pages
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        build()
        out.append((time.perf_counter() - start) * 1000)
    return out


def fresh_build(
    engine: AnswerEngine, before: Callable[[], None] = lambda: None
) -> Callable[[], object]:
    def build() -> object:
        before()
        with tempfile.TemporaryDirectory() as kept:
            return ThesisService(engine, cache_dir=Path(kept)).maps(channel="cli")

    return build


def report(name: str, values: list[float]) -> None:
    q = statistics.quantiles(values, n=20)
    print(
        f"{name:<42} p50 {statistics.median(values):7.1f} ms   p95 {q[18]:7.1f} ms   (n={len(values)})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    print(
        f"load average at start: {os.getloadavg()[0]:.2f} (2 cores; timings under load are upper bounds)"
    )

    if not (STORE / "data").exists():
        shutil.copytree(ROOT / "knowledge", STORE / "knowledge", dirs_exist_ok=True)
    offline_settings = settings()
    store = build_store(offline_settings)
    print(sync_knowledge(offline_settings, store).summary())  # seconds when nothing changed
    articles = store.documents()
    print(f"{articles} article(s), {store.count()} chunks")

    offline = build_engine(offline_settings, store=store)
    report("offline map, built from nothing", timed(fresh_build(offline), args.runs))
    kept = ThesisService(offline, cache_dir=STORE / "kept")
    report("offline map, kept (shown again)", timed(lambda: kept.maps(channel="cli"), args.runs))

    fake = FakeLLM().start()
    try:
        online_settings = settings(api_key="sk-bench", base_url=fake.base_url)
        chat = OpenAICompatibleChat(online_settings)
        online = build_engine(online_settings, store=store, chat=chat)
        scripted = fresh_build(online, before=lambda: fake.script({"text": DRAFT}))
        report("fake model, drafted and checked", timed(scripted, args.runs))
        drafted = scripted()
        assert isinstance(drafted, list)
        print(
            f"  (a drafted map keeps {len(drafted[0].steps)} of 5 steps; notices: {drafted[0].notices[:2]})"
        )
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
