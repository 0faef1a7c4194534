"""The HTTP edge: routes, SSE, error translation, and `python app.py` on a fresh checkout."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.factory import build_engine
from assistant.web import Services, create_app
from tests.conftest import ROOT, clean_env, free_port, settings_for

QUESTION = "为什么说DeepSeek反而利好算力?"


@pytest.fixture
def client(seeded, tmp_path: Path) -> TestClient:
    _, store = seeded
    settings = settings_for(tmp_path)
    return TestClient(create_app(settings, Services(build_engine(settings, store=store))))


def sse_events(text: str) -> list[tuple[str, dict[str, object]]]:
    events = []
    for frame in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def test_healthz_reports_mode_and_counts(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["mode"] == "offline"
    assert body["documents"] == 1 and body["chunks"] >= 10


def test_chat_route_returns_the_answer_object(client: TestClient) -> None:
    response = client.post("/api/chat", json={"message": QUESTION})
    assert response.status_code == 200
    answer = response.json()
    assert answer["mode"] == "offline" and answer["citations"]
    assert answer["disclosure"].startswith("风险提示")


def test_chat_route_produces_a_stream(client: TestClient) -> None:
    with client.stream("POST", "/api/chat", json={"message": QUESTION, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.read().decode())
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and set(kinds[:-1]) == {"delta"}
    done = events[-1][1]
    assert "".join(str(data["text"]) for _, data in events[:-1]).strip() == done["answer"]
    assert done["disclosure"].startswith("风险提示")


def test_bad_requests_get_specific_statuses(client: TestClient) -> None:
    empty = client.post("/api/chat", json={"message": "  "})
    assert empty.status_code == 400 and "empty" in empty.json()["error"]
    assert "投资有风险" in empty.json()["disclosure"]
    long = client.post("/api/chat", json={"message": "算" * 5000, "stream": True})
    assert long.status_code == 413 and "ASSISTANT_MAX_QUESTION_CHARS" in long.json()["error"]
    bad_history = client.post(
        "/api/chat", json={"message": QUESTION, "history": [{"role": "system", "content": "x"}]}
    )
    assert bad_history.status_code == 400 and "role" in bad_history.json()["error"]
    assert client.post("/api/chat", json={"text": QUESTION}).status_code == 422


def test_feedback_is_kept_with_its_turn(client: TestClient) -> None:
    answer = client.post("/api/chat", json={"message": QUESTION}).json()
    assert len(answer["turn_id"]) == 32
    sent = {"turn_id": answer["turn_id"], "rating": "down", "comment": "引用的段落不对"}
    assert client.post("/api/feedback", json=sent).status_code == 204
    audit = client.app.state.services.engine.audit  # type: ignore[attr-defined]
    assert [(f["rating"], f["comment"]) for f in audit.feedback(answer["turn_id"])] == [
        ("down", "引用的段落不对")
    ]
    unknown = client.post("/api/feedback", json={**sent, "turn_id": "nope"})
    assert unknown.status_code == 404 and "nope" in unknown.json()["error"]
    assert client.post("/api/feedback", json={**sent, "rating": "meh"}).status_code == 422


def test_index_page_is_served(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "风险提示" in page.text and "/api/chat" in page.text


def test_app_py_ingests_an_empty_store_and_serves(workdir: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=workdir,
        env=clean_env(ASSISTANT_PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 240
        health = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json()
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        assert health == {
            "status": "ok",
            "mode": "offline",
            "documents": 1,
            "chunks": health and health["chunks"],
        }
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/chat", json={"message": QUESTION}, timeout=60
        ).json()
        assert answer["disclosure"].startswith("风险提示")
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "DEEPSEEK_API_KEY" in output  # the log says why it runs offline
