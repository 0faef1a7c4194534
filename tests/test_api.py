"""The HTTP edge: routes, SSE, error translation, cancellation, and `python app.py` on a fresh
checkout. Security (hosts, origins, keys, limits, sizes) is in test_security.py."""

from __future__ import annotations

import json
import logging
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from langchain_core.messages import HumanMessage

from assistant.answer import shown_path
from assistant.cancel import StreamCancelled, cancel_on
from assistant.errors import ModelUnavailableError
from assistant.factory import build_engine, build_store
from assistant.llm import OpenAICompatibleChat
from assistant.redact import RedactURLs
from assistant.web import Services, create_app
from tests.conftest import ROOT, clean_env, free_port, online_engine, serving, settings_for
from tests.fakellm import FakeLLM

QUESTION = "为什么说DeepSeek反而利好算力?"


@pytest.fixture
def client(seeded, tmp_path: Path) -> TestClient:
    _, store = seeded
    settings = settings_for(tmp_path)
    return TestClient(create_app(settings, Services(build_engine(settings, store=store))))


def sse_events(text: str) -> list[tuple[str, dict[str, object]]]:
    """The events of a stream, with ``("comment", {})`` for each keep-alive comment."""
    events: list[tuple[str, dict[str, object]]] = []
    for frame in text.strip().split("\n\n"):
        if frame.startswith(":"):
            events.append(("comment", {}))
            continue
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        events.append((lines["event"], json.loads(lines["data"])))
    return events


def assert_refusal(response: httpx.Response, status: int, *words: str) -> dict[str, str]:
    """A refusal: the status, JSON {"error": sentence, "disclosure": …} (on /v1 OpenAI's
    {"error": {"message": sentence, …}, "disclosure": …}), no traceback. Returns
    {"error": sentence, "disclosure": text}."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "disclosure"}, body
    if response.request.url.path.startswith("/v1/"):
        assert body["error"]["code"] == str(status)
        body = {"error": body["error"]["message"], "disclosure": body["disclosure"]}
    assert body["error"].endswith((".", "。")) and "Traceback" not in response.text
    assert "投资有风险" in body["disclosure"]
    for word in words:
        assert word in body["error"], body["error"]
    return body


def test_healthz_reports_mode_and_counts(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["mode"] == "offline"
    assert body["documents"] == 1 and body["chunks"] >= 10 and body["problems"] == []
    assert client.get("/readyz").json() == {"status": "ready", "problems": []}


def test_health_names_an_empty_store_and_failing_audit_writes(embedder, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    empty = TestClient(
        create_app(
            settings, Services(build_engine(settings, store=build_store(settings, embedder)))
        )
    )
    # The store is empty: the process is alive, but no question can be answered.
    assert "python ingest.py" in empty.get("/healthz").json()["problems"][0]
    ready = empty.get("/readyz")
    assert ready.status_code == 503 and "python ingest.py" in ready.json()["problems"][0]


def test_health_says_when_audit_writes_fail_and_records_wait(client: TestClient) -> None:
    audit = client.app.state.services.engine.audit  # type: ignore[attr-defined]
    with sqlite3.connect(str(audit.engine.url.database)) as db:
        db.execute(
            "CREATE TRIGGER full BEFORE INSERT ON audit_turns "
            "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
        )
    assert client.post("/api/chat", json={"message": QUESTION}).status_code == 200
    problems = client.get("/healthz").json()["problems"]
    assert len(problems) == 1 and "Audit writes are failing" in problems[0]
    assert client.get("/readyz").status_code == 200  # answers still go out, each one recorded

    with sqlite3.connect(str(audit.engine.url.database)) as db:
        db.execute("DROP TRIGGER full")
    assert client.post("/api/chat", json={"message": QUESTION}).status_code == 200
    assert client.get("/healthz").json()["problems"] == [
        "1 audit record waits in the spill file: run `python -m assistant audit replay`."
    ]


def test_chat_route_returns_the_answer_object(client: TestClient) -> None:
    response = client.post("/api/chat", json={"message": QUESTION})
    assert response.status_code == 200
    answer = response.json()
    assert answer["mode"] == "offline" and answer["citations"]
    assert answer["disclosure"].startswith("风险提示")


def test_answers_name_articles_relative_to_the_knowledge_folder(seeded, tmp_path: Path) -> None:
    settings, store = seeded  # the store was ingested from settings.knowledge_dir
    app = create_app(settings, Services(build_engine(settings, store=store)))
    answer = TestClient(app).post("/api/chat", json={"message": QUESTION}).json()
    paths = {c["path"] for c in answer["citations"]} | {r["path"] for r in answer["retrieved"]}
    assert paths == {"000_bb0ece290725cdd0.txt"}
    assert str(settings.knowledge_dir.parent) not in json.dumps(answer, ensure_ascii=False)


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("{k}/sub/a.md", "sub/a.md"),  # absolute, inside the knowledge folder
        ("knowledge/sub/b.md", "sub/b.md"),  # relative to another process's working directory
        ("/srv/elsewhere/c.txt", "c.txt"),  # ingested from outside: the file name only
    ],
)
def test_an_article_is_named_by_its_path_inside_the_knowledge_folder(
    key: str, shown: str, tmp_path: Path
) -> None:
    knowledge = tmp_path / "knowledge"
    assert shown_path(key.format(k=knowledge), knowledge) == shown


def test_chat_route_produces_a_stream(client: TestClient) -> None:
    with client.stream("POST", "/api/chat", json={"message": QUESTION, "stream": True}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.read().decode())
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "done" and set(kinds[:-1]) == {"delta"}
    done = events[-1][1]
    assert "".join(str(data["text"]) for _, data in events[:-1]).strip() == done["answer"]
    assert done["disclosure"].startswith("风险提示")


def test_a_slow_model_gets_keepalive_comments_then_deltas_then_done(
    seeded, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    _, store = seeded
    engine = online_engine(store, fake_llm, tmp_path, stream_idle_timeout=3.0)
    settings = settings_for(tmp_path, sse_keepalive=0.2)
    fake_llm.script({"keepalive": 1.2})  # the model waits, then answers
    client = TestClient(create_app(settings, Services(engine)))
    with client.stream("POST", "/api/chat", json={"message": QUESTION, "stream": True}) as response:
        events = sse_events(response.read().decode())
    kinds = [kind for kind, _ in events]
    first_delta = kinds.index("delta")
    assert kinds[:first_delta].count("comment") >= 3  # while the first sentence was pending
    assert kinds[-1] == "done" and set(kinds[first_delta:-1]) <= {"delta", "comment"}
    done = events[-1][1]
    assert done["mode"] == "llm" and "[1]" in str(done["answer"])
    assert str(done["disclosure"]).startswith("风险提示")


def test_an_advisor_answer_does_not_restate_the_clients_particulars_on_the_api(
    seeded, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    # The desk withheld the model's sentence repeating a client's age, savings and name; asked
    # for an advisor's text on /api/chat (and /v1's advisor model), the sentence was shown, kept
    # in the audit row's answer, and read as advice to that person.
    _, store = seeded
    engine = online_engine(store, fake_llm, tmp_path)
    client = TestClient(create_app(settings_for(tmp_path), Services(engine)))
    told = "客户王女士65岁，退休金50万，想了解杰文斯悖论和算力需求"
    fake_llm.script(
        {
            "text": "对于65岁、退休金50万元的王女士，建议关注算力需求的变化。"
            "据2025年2月的文章，效率提升反而可能带来更多的算力需求[1]。"
        }
    )
    body = client.post("/api/chat", json={"message": told, "mode": "advisor"}).json()
    assert "效率提升反而可能带来更多的算力需求[1]" in body["answer"]
    assert any("复述客户个人情况" in n for n in body["notices"])
    row = engine.audit.turn(body["turn_id"]) if engine.audit else None
    assert row is not None and row["question"] == told
    for shown in (body["answer"], row["answer"], *row["streamed"], *row["notices"]):
        assert not any(p in shown for p in ("65", "50万", "王女士")), shown


def test_bad_requests_get_specific_statuses(client: TestClient) -> None:
    assert_refusal(client.post("/api/chat", json={"message": "  "}), 400, "empty")
    long = client.post("/api/chat", json={"message": "算" * 5000, "stream": True})
    assert_refusal(long, 413, "5000", "ASSISTANT_MAX_QUESTION_CHARS")
    bad_history = client.post(
        "/api/chat", json={"message": QUESTION, "history": [{"role": "system", "content": "x"}]}
    )
    assert_refusal(bad_history, 422, "history[0].role")
    assert_refusal(client.post("/api/chat", json={"text": QUESTION}), 422, "message")
    # Each refusal says what to send instead, and names every field that was wrong.
    assert_refusal(client.post("/api/chat"), 422, "no body", "send a JSON object")
    form = client.post("/api/chat", data={"message": QUESTION})
    assert_refusal(form, 422, "not a JSON object", "Content-Type: application/json")
    two = client.post("/api/chat", json={"message": 5, "mode": "trader"})
    assert_refusal(two, 422, "message: ", "mode: ", "'investor' or 'advisor'", "send it again")
    not_json = client.post(
        "/api/chat", content=b'{"message": ', headers={"content-type": "application/json"}
    )
    assert_refusal(not_json, 400, "not valid JSON")
    assert_refusal(client.get("/api/nothing-here"), 404)
    assert_refusal(client.get("/api/chat"), 405)


def test_history_is_bounded_in_turns_and_size(client: TestClient) -> None:
    turn = {"role": "user", "content": "DeepSeek是什么?"}
    many = client.post("/api/chat", json={"message": QUESTION, "history": [turn] * 11})
    assert_refusal(many, 413, "11", "ASSISTANT_MAX_HISTORY_TURNS")
    big = {"role": "assistant", "content": "算" * 4001}
    assert_refusal(
        client.post("/api/chat", json={"message": QUESTION, "history": [big]}),
        413,
        "history[0].content",
        "ASSISTANT_MAX_TURN_CHARS",
    )
    ok = client.post("/api/chat", json={"message": QUESTION, "history": [turn] * 10})
    assert ok.status_code == 200 and ok.json()["disclosure"].startswith("风险提示")


def test_an_empty_store_is_503_with_the_disclosure(embedder, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    engine = build_engine(settings, store=build_store(settings, embedder))
    client = TestClient(create_app(settings, Services(engine)))
    for stream in (False, True):
        response = client.post("/api/chat", json={"message": QUESTION, "stream": stream})
        body = assert_refusal(response, 503, "python ingest.py")
        assert "投资有风险" in body["disclosure"]  # the built-in text, with no article to quote


def test_the_widgets_turns_are_kept_with_their_channel_and_session(client: TestClient) -> None:
    body = {"message": QUESTION, "session": "tab-1f2e"}
    answer = client.post("/embed/chat", json=body, headers={"Origin": "http://testserver"})
    audit = client.app.state.services.engine.audit  # type: ignore[attr-defined]
    row = audit.turn(answer.json()["turn_id"])
    assert (row["channel"], row["session"], row["outcome"]) == ("widget", "tab-1f2e", "complete")
    bad = client.post("/api/chat", json={**body, "session": "<script>"})
    assert_refusal(bad, 422, "session")


def test_feedback_is_kept_with_its_turn(client: TestClient) -> None:
    answer = client.post("/api/chat", json={"message": QUESTION}).json()
    assert len(answer["turn_id"]) == 32
    sent = {"turn_id": answer["turn_id"], "rating": "down", "comment": "引用的段落不对"}
    assert client.post("/api/feedback", json=sent).status_code == 204
    audit = client.app.state.services.engine.audit  # type: ignore[attr-defined]
    assert [(f["rating"], f["comment"]) for f in audit.feedback(answer["turn_id"])] == [
        ("down", "引用的段落不对")
    ]
    assert_refusal(client.post("/api/feedback", json={**sent, "turn_id": "nope"}), 404, "nope")
    assert_refusal(client.post("/api/feedback", json={**sent, "rating": "meh"}), 422, "rating")


def _wait_for(condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_client_that_disconnects_cancels_the_model_request(
    seeded, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    _, store = seeded
    engine = online_engine(
        store, fake_llm, tmp_path, answer_deadline=30.0, stream_idle_timeout=20.0
    )
    settings = settings_for(tmp_path, sse_keepalive=0.2)
    fake_llm.script({"keepalive": 25})  # the model would hold the request open for 25 s
    with serving(create_app(settings, Services(engine))) as url:
        with httpx.stream(
            "POST", f"{url}/api/chat", json={"message": QUESTION, "stream": True}, timeout=10
        ) as response:
            for line in response.iter_lines():
                if line.startswith(": keep-alive"):
                    break  # the answer is waiting for the model: hang up now
        left = time.monotonic()
        assert _wait_for(lambda: "ended" in fake_llm.chat_requests[0], 3)
        request = fake_llm.chat_requests[0]
        assert request["outcome"] == "client closed" and request["ended"] - left < 1.5
        time.sleep(0.5)
        assert len(fake_llm.chat_requests) == 1  # and no retry went out for nobody
    assert engine.audit is not None
    assert _wait_for(lambda: engine.audit.turns(1), 2)  # the engine heard of it and kept a row
    row = engine.audit.turns(1)[0]
    assert (row["outcome"], row["why"], row["channel"]) == (
        "interrupted",
        "client_disconnected",
        "api",
    )
    assert [call["outcome"] for call in row["calls"]] == ["closed"]


def test_a_json_client_that_gives_up_cancels_the_model_request(
    seeded, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    _, store = seeded
    engine = online_engine(
        store, fake_llm, tmp_path, answer_deadline=30.0, stream_idle_timeout=20.0
    )
    fake_llm.script({"keepalive": 25})
    with serving(create_app(settings_for(tmp_path), Services(engine))) as url:
        with pytest.raises(httpx.ReadTimeout):
            httpx.post(f"{url}/api/chat", json={"message": QUESTION}, timeout=1.0)
        left = time.monotonic()
        assert _wait_for(lambda: "ended" in fake_llm.chat_requests[0], 3)
        request = fake_llm.chat_requests[0]
        assert request["outcome"] == "client closed" and request["ended"] - left < 1.5


def test_cancel_ends_a_model_stream_waiting_on_keepalives(
    fake_llm: FakeLLM, tmp_path: Path
) -> None:
    settings = settings_for(
        tmp_path, api_key="sk-test", base_url=fake_llm.base_url, stream_idle_timeout=20.0
    )
    chat = OpenAICompatibleChat(settings)
    fake_llm.script({"keepalive": 25})
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    with cancel_on(stop), pytest.raises(StreamCancelled):
        list(chat.stream([HumanMessage(QUESTION)], deadline=time.monotonic() + 30))
    assert time.monotonic() - started < 10.0  # not the 25 s of keep-alives
    assert _wait_for(lambda: fake_llm.chat_requests[0].get("outcome") == "client closed", 2)


def test_a_base_url_with_credentials_never_reaches_a_log_or_response(
    seeded, fake_llm: FakeLLM, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(RedactURLs())  # what configure_logging puts on app.py's handlers
    _, store = seeded
    # A gateway that takes credentials in its URL: requests go through and get logged.
    gateway = fake_llm.base_url.replace("http://", "http://bob:s3cret-pass@")
    settings = settings_for(tmp_path, api_key="sk-test", base_url=gateway)
    engine = build_engine(settings, store=store, chat=OpenAICompatibleChat(settings))
    client = TestClient(create_app(settings, Services(engine)))
    online = client.post("/api/chat", json={"message": QUESTION})
    assert online.json()["mode"] == "llm" and "HTTP Request: POST" in caplog.text
    # The same gateway unreachable: its URL is named in messages, redacted.
    down = f"http://bob:s3cret-pass@127.0.0.1:{free_port()}/v1?token=s3cret-token"
    settings = settings_for(tmp_path, api_key="sk-test", base_url=down, max_retries=0)
    chat = OpenAICompatibleChat(settings)
    warning = chat.check_model(timeout=1)
    with pytest.raises(ModelUnavailableError) as failure:
        chat.complete([HumanMessage(QUESTION)], deadline=time.monotonic() + 3)
    engine = build_engine(settings, store=store, chat=chat)
    fallback = TestClient(create_app(settings, Services(engine))).post(
        "/api/chat", json={"message": QUESTION}
    )
    assert fallback.json()["mode"] == "fallback"
    assert "http://***@127.0.0.1" in str(failure.value)  # the host is still named, for the operator
    shown = [warning or "", str(failure.value), online.text, fallback.text, caplog.text]
    assert not [text for text in shown if "s3cret" in text or "bob" in text]


def test_app_py_ingests_an_empty_store_and_serves(workdir: Path) -> None:
    port = free_port()
    tmp = workdir / "tmp"  # the app's temporary files, to see what it leaves behind
    tmp.mkdir()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=workdir,
        env=clean_env(ASSISTANT_PORT=str(port), TMPDIR=str(tmp), ASSISTANT_RATE_LIMIT="2/minute"),
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
            "problems": [],
        }
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/chat", json={"message": QUESTION}, timeout=60
        ).json()
        assert answer["disclosure"].startswith("风险提示")
        assert answer["citations"][0]["path"] == "000_bb0ece290725cdd0.txt"
        # No proxy is trusted (ASSISTANT_TRUSTED_PROXIES unset): a client on this machine that
        # names another address in X-Forwarded-For is still one client to the rate limit.
        statuses = [
            httpx.post(
                f"http://127.0.0.1:{port}/api/chat",
                json={"message": QUESTION},
                headers={"X-Forwarded-For": f"203.0.113.{n}"},
                timeout=60,
            ).status_code
            for n in (1, 2)
        ]
        assert statuses == [200, 429]
        # The web app follows the API: a starting page that reloads itself, then the app.
        while time.monotonic() < deadline:
            page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
            assert page.status_code == 200
            if "gradio_config" in page.text:
                break
            assert 'http-equiv="refresh"' in page.text
            time.sleep(0.5)
        assert "gradio_config" in page.text
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "DEEPSEEK_API_KEY" in output  # the log says why it runs offline
    debug = [line for line in output.splitlines() if "DEBUG " in line]
    assert not debug, debug  # libraries' debug lines stay out of the operator's console
    # Not a terminal: the ingest's progress is two log lines, not a bar's frames.
    assert re.search(r"ingest: 1 file to read\n.*ingest: 1 of 1 read in", output, re.S)
    assert "\r" not in output and "it/s" not in output and "file/s" not in output
    assert list(tmp.glob("assistant-exports-*")) == []  # no folder for client documents left


def test_a_request_larger_than_the_limit_is_refused_before_its_body_arrives(
    seeded, tmp_path: Path
) -> None:
    _, store = seeded
    settings = settings_for(tmp_path, max_body_kb=16)
    app = create_app(settings, Services(build_engine(settings, store=store)))
    with (
        serving(app) as url,
        socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1]))) as sock,
    ):
        sock.settimeout(5)
        # Headers that announce 100 MB, and not one byte of the body: the refusal must not wait.
        sock.sendall(
            b"POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 104857600\r\n\r\n"
        )
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413")
    assert "ASSISTANT_MAX_BODY_KB" in json.loads(body)["error"]
