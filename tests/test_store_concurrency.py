"""The store while questions and syncs overlap: snapshots, failed syncs, the e5 worker, capacity."""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn

from assistant.answer import Answer, Delta
from assistant.capacity import Capacity
from assistant.embeddings import E5Embedder
from assistant.factory import build_engine, build_store, sync_knowledge
from assistant.llm import OpenAICompatibleChat
from assistant.web import Services, create_app
from tests.conftest import ROOT, free_port, run, settings_for
from tests.fakellm import FakeLLM

NOTE = "knowledge/note.md"
QUESTION = "量子比特的数量每年怎么变化？"


def note(text: str) -> str:
    return f"# 量子计算\n\n量子计算可能改变算力格局，{text}\n"


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    (tmp_path / NOTE).write_text(note("量子比特的数量每年翻倍。"), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # article keys are relative to the working directory
    return tmp_path


def wait_for(condition: object, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_a_question_in_flight_keeps_the_snapshot_it_started_on(folder: Path, embedder) -> None:
    settings = settings_for(folder)
    with build_store(settings, embedder) as store:
        sync_knowledge(settings, store)
        engine = build_engine(settings, store=store, chat=None, check_model=False)
        first = store.snapshot().generation
        old_version = set(store.index_state()[NOTE].values())

        events = engine.stream(QUESTION, channel="test")
        delta = next(events)  # retrieved: the question now holds its snapshot
        assert isinstance(delta, Delta) and "每年翻倍" in delta.text

        (folder / NOTE).write_text(note("量子比特的数量每两年翻倍。"), encoding="utf-8")
        report = sync_knowledge(settings, store)  # publishes the next generation meanwhile
        assert report.updated == [NOTE]
        assert store.snapshot().generation != first
        # Still held by the question in flight: not dropped under it.
        assert first in {g.name for g in store.generations.all()}

        answer = next(events)
        assert isinstance(answer, Answer) and "每年翻倍" in answer.answer
        row = engine.audit.turns(1)[0]  # type: ignore[union-attr]
        versions = row["retrieved"]
        # Every retrieved chunk's version is recorded, from the generation the answer used.
        assert len(versions) == len(answer.retrieved)
        assert {v["doc_hash"] for v in versions if v["path"] == NOTE} == old_version
        assert list(events) == []  # the question ends and lets go of its snapshot

        assert wait_for(lambda: first not in {g.name for g in store.generations.all()})
        assert not (settings.lexical_dir / str(first)).exists()
        after = engine.ask(QUESTION, channel="test")
        assert "每两年翻倍" in after.answer


def test_a_sync_that_fails_before_publishing_leaves_the_old_store_serving(
    folder: Path, embedder
) -> None:
    settings = settings_for(folder)
    with build_store(settings, embedder) as store:
        sync_knowledge(settings, store)
        engine = build_engine(settings, store=store, chat=None, check_model=False)
        first = store.snapshot().generation
        (folder / NOTE).write_text(note("量子比特的数量每两年翻倍。"), encoding="utf-8")
        # Something in the way of the next generation's BM25 folder: the sync fails late,
        # after embedding, before publishing.
        obstacle = settings.lexical_dir / "articles.g000002"
        obstacle.write_text("in the way", encoding="utf-8")
        before = embedder.passages
        with pytest.raises(OSError):
            sync_knowledge(settings, store)
        embedded = embedder.passages - before
        assert embedded >= 1
        assert store.snapshot().generation == first
        assert "每年翻倍" in engine.ask(QUESTION, channel="test").answer

        obstacle.unlink()
        before = embedder.passages  # (the offline answer above embedded its sentences)
        report = sync_knowledge(settings, store)
        assert report.updated == [NOTE] and store.snapshot().generation == "articles.g000002"
        assert embedder.passages == before  # the unfinished build was resumed: nothing again
        assert "每两年翻倍" in engine.ask(QUESTION, channel="test").answer


def _files(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` but Chroma's own database, with a hash of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "chroma" not in path.relative_to(folder).parts
    }


def test_first_questions_asked_together_write_nothing(folder: Path, embedder) -> None:
    settings = settings_for(folder)
    with build_store(settings, embedder) as store:
        sync_knowledge(settings, store)
    shutil.rmtree(settings.lexical_dir)  # lost: rebuilt when the store opens, not on a question
    with build_store(settings, embedder) as store:
        assert (settings.lexical_dir / str(store.snapshot().generation) / "manifest.json").is_file()
        engine = build_engine(settings, store=store, chat=None, check_model=False)
        audit = settings.data_dir / "audit.sqlite3"
        before = {k: v for k, v in _files(settings.data_dir).items() if "audit" not in k}
        questions = ["为什么说DeepSeek反而利好算力?", QUESTION, "杰文斯悖论是什么意思？"] * 3
        start = threading.Barrier(len(questions))
        answers: list[Answer] = []

        def ask(question: str) -> None:
            start.wait()
            answers.append(engine.ask(question, channel="test"))

        threads = [threading.Thread(target=ask, args=(q,)) for q in questions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert len(answers) == len(questions) and all(a.disclosure for a in answers)
        after = {k: v for k, v in _files(settings.data_dir).items() if "audit" not in k}
        assert after == before  # no index built, no record touched, no scratch file left
        assert audit.is_file()


def test_questions_never_wait_for_an_ingest_and_every_vector_is_e5s_own() -> None:
    e5 = E5Embedder(threads=2, passage_slice=2)
    e5.load()
    # Enough passages that the ingest is still running when the questions come, on either engine
    # (the one built for the CPU embeds a slice in about 10 ms).
    passages = [f"第{i}段：推理算力的需求随着模型调用次数增长。" for i in range(80)]
    questions = [f"第{i}个问题：算力需求会下降吗？" for i in range(6)]
    order: list[str] = []
    calls = e5.calls
    ingested: list[list[float]] = []

    def ingest() -> None:
        ingested.extend(e5.embed_documents(passages))
        order.append("passages")

    found: dict[int, list[float]] = {}

    def ask(i: int) -> None:
        found[i] = e5.embed_query(questions[i])
        order.append("question")

    ingesting = threading.Thread(target=ingest)
    ingesting.start()
    assert wait_for(lambda: e5.calls > calls)  # the ingest has the engines
    asking = [threading.Thread(target=ask, args=(i,)) for i in range(len(questions))]
    for thread in asking:
        thread.start()
    for thread in [ingesting, *asking]:
        thread.join(120)
    assert order[-1] == "passages"  # the questions went between the passages
    assert e5.calls - calls == len(passages) // e5.passage_slice + len(questions)
    for i, question in enumerate(questions):  # the worker that took it does not matter
        alone = e5.embed_batch([question], is_query=True)[0]  # not from the query cache
        assert np.allclose(found[i], alone, atol=1e-4)
    # The slices of one ingest went to both workers and came back in the passages' order.
    for passage, vector in zip(passages, ingested, strict=True):
        assert np.allclose(vector, e5.embed_batch([passage], is_query=False)[0], atol=1e-4)


@pytest.fixture
def server(seeded, fake_llm: FakeLLM, tmp_path: Path) -> Iterator[tuple[str, FakeLLM]]:
    """The web app on a real port, online against the fake model, with room for 45 answers."""
    _, store = seeded
    settings = settings_for(
        tmp_path,
        api_key="sk-test-secret",
        base_url=fake_llm.base_url,
        answer_deadline=60.0,
        stream_idle_timeout=60.0,
        max_concurrent_answers=45,
        rate_limit="100000/minute",  # one test client is everybody here
    )
    chat = OpenAICompatibleChat(settings, backoff_base=0.01, backoff_cap=0.05)
    engine = build_engine(settings, store=store, chat=chat)
    assert engine.capacity.limit == 45 and isinstance(engine.capacity, Capacity)
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, Services(engine)), host="127.0.0.1", port=port, log_level="warning"
    )
    app = uvicorn.Server(config)
    thread = threading.Thread(target=app.run, daemon=True)
    thread.start()
    assert wait_for(lambda: app.started)
    try:
        yield f"http://127.0.0.1:{port}", fake_llm
    finally:
        fake_llm.reset()
        app.should_exit = True
        thread.join(30)


def test_past_capacity_questions_get_503_and_healthz_never_waits_behind_answers(
    server: tuple[str, FakeLLM],
) -> None:
    base, fake = server
    held = 45  # more than the 40 threads a stream used to hold for its whole length
    fake.script(*[{"slow": 50} for _ in range(held)])
    results: list[tuple[int, str]] = []

    def stream() -> None:
        body = {"message": "为什么说DeepSeek反而利好算力?", "stream": True}
        with httpx.stream("POST", f"{base}/api/chat", json=body, timeout=120) as response:
            results.append((response.status_code, response.read().decode()))

    streams = [threading.Thread(target=stream) for _ in range(held)]
    for thread in streams:
        thread.start()
    assert wait_for(lambda: len(fake.chat_requests) >= held, 120), len(fake.chat_requests)

    health = httpx.get(f"{base}/healthz", timeout=10)
    assert health.status_code == 200 and health.json()["chunks"] >= 10

    refused = httpx.post(f"{base}/api/chat", json={"message": "算力需求会下降吗？"}, timeout=30)
    assert refused.status_code == 503
    assert int(refused.headers["retry-after"]) > 0
    assert "ASSISTANT_MAX_CONCURRENT_ANSWERS" in refused.json()["error"]
    assert "投资有风险" in refused.json()["disclosure"]

    fake.reset()  # the model answers again: every held stream completes
    for thread in streams:
        thread.join(120)
    assert [status for status, _ in results] == [200] * held
    assert all("event: done" in text for _, text in results)
    answered = httpx.post(f"{base}/api/chat", json={"message": "算力需求会下降吗？"}, timeout=60)
    assert answered.status_code == 200 and answered.json()["disclosure"]


def test_the_cli_is_told_who_holds_the_store(folder: Path, embedder) -> None:
    from assistant.storelock import lock_store, waits_for_ingest

    settings = settings_for(folder)
    with build_store(settings, embedder) as store:
        sync_knowledge(settings, store)
    lock = lock_store(settings.data_dir, "app", wait_for=waits_for_ingest)
    try:
        lock.announce(role="app", socket=None)
        result = run(["-m", "assistant", "ask", QUESTION], folder)
        assert result.returncode == 1
        assert "app.py" in result.stderr and "one process at a time" in result.stderr
        assert "Traceback" not in result.stderr
        maps = run(["-m", "assistant", "thesis"], folder)  # the route that gives maps instead
        assert maps.returncode == 1 and "GET /api/thesis" in maps.stderr
    finally:
        lock.release()
