"""The HTTP surface on the open web: Host header, origins (CORS, the widget's door), API keys,
per-client rate limits, body size, and settings that would send a key in the clear."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import re
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.config import load_settings
from assistant.errors import ConfigurationError
from assistant.factory import build_engine
from assistant.web import Services, create_app
from assistant.web.refusals import Refusal
from assistant.web.security import Policy, RateLimits
from assistant.web.ui.admission import admission
from assistant.web.ui.advisor import Drafting
from tests.conftest import settings_for
from tests.test_api import QUESTION, assert_refusal

SITE = "https://fund.example.com"


@pytest.fixture
def make_client(seeded, tmp_path: Path):  # type: ignore[no-untyped-def]
    _, store = seeded

    def make(client: tuple[str, int] = ("127.0.0.1", 50000), **overrides: Any) -> TestClient:
        settings = settings_for(tmp_path, **overrides)
        app = create_app(settings, Services(build_engine(settings, store=store)))
        return TestClient(app, client=client)

    return make


def ask(client: TestClient, path: str = "/api/chat", **headers: str) -> httpx.Response:
    return client.post(path, json={"message": QUESTION}, headers=headers)


def test_only_allowed_host_names_are_answered(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client()
    rebinding = client.get("/healthz", headers={"Host": "attacker.example:7860"})
    assert_refusal(rebinding, 400, "attacker.example", "ASSISTANT_ALLOWED_HOSTS")
    assert_refusal(ask(client, Host="evil.example"), 400)
    assert client.get("/healthz", headers={"Host": "localhost:7860"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "127.0.0.1"}).status_code == 200
    anywhere = make_client(allowed_hosts="*")
    assert anywhere.get("/healthz", headers={"Host": "assistant.example.com"}).status_code == 200


def test_browsers_on_other_sites_are_refused_unless_allowed(make_client) -> None:  # type: ignore[no-untyped-def]
    closed = make_client()
    assert_refusal(ask(closed, Origin=SITE), 403, SITE, "ASSISTANT_ALLOWED_ORIGINS")
    assert ask(closed, Origin="http://testserver").status_code == 200  # our own pages
    assert ask(closed).status_code == 200  # no Origin: not a browser

    open_to_site = make_client(allowed_origins=SITE)
    allowed = ask(open_to_site, Origin=SITE)
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == SITE
    preflight = open_to_site.options(
        "/v1/chat/completions",
        headers={
            "Origin": SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == SITE
    other = open_to_site.options(
        "/api/chat",
        headers={"Origin": "https://other.example", "Access-Control-Request-Method": "POST"},
    )
    assert_refusal(other, 403, "https://other.example")


def test_the_widgets_door_takes_only_its_own_page(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(allowed_origins=SITE)
    assert ask(client, "/embed/chat", Origin="http://testserver").status_code == 200
    # A listed site's own scripts use /api/chat; the widget's door is for the /embed page only.
    assert_refusal(ask(client, "/embed/chat", Origin=SITE), 403, "own pages")
    assert_refusal(ask(client, "/embed/chat"), 403, "/api/chat")


def test_embed_may_be_framed_only_by_allowed_sites(make_client) -> None:  # type: ignore[no-untyped-def]
    closed = make_client().get("/embed").headers["content-security-policy"]
    assert closed.endswith("frame-ancestors 'self'")  # same origin only
    listed = make_client(allowed_origins=f"{SITE},http://127.0.0.1:9000")
    policy = listed.get("/embed").headers["content-security-policy"]
    assert policy.endswith(f"frame-ancestors 'self' {SITE} http://127.0.0.1:9000")
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy


def test_no_other_site_may_frame_the_web_app(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(allowed_origins=SITE)
    assert "gradio" in client.get("/").text  # the web app itself (mounted at /), not a refusal
    replies = [client.get(path) for path in ("/", "/config", "/healthz", "/api/thesis", "/nope")]
    replies += [client.get("/", headers={"Host": "evil.example"}), client.post("/api/chat")]
    for reply in replies:
        assert reply.headers["content-security-policy"] == "frame-ancestors 'self'", reply.url
        assert reply.headers["x-content-type-options"] == "nosniff"
    # The widget's page keeps its own policy: the sites allowed to frame it.
    policy = client.get("/embed").headers.get_list("content-security-policy")
    assert len(policy) == 1 and policy[0].endswith(f"frame-ancestors 'self' {SITE}")


def test_api_keys_guard_api_and_v1_but_not_the_widget(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(api_keys="key-one, key-two")
    missing = ask(client)
    assert_refusal(missing, 401, "missing", "Authorization: Bearer")
    assert missing.headers["www-authenticate"] == "Bearer"
    assert_refusal(ask(client, Authorization="Bearer key-three"), 401, "not accepted")
    assert_refusal(client.get("/v1/models"), 401)
    assert ask(client, Authorization="Bearer key-two").status_code == 200
    assert client.get("/v1/models", headers={"Authorization": "Bearer key-one"}).status_code == 200
    assert client.get("/healthz").status_code == 200
    widget = ask(client, "/embed/chat", Origin="http://testserver")
    assert widget.status_code == 200  # a page on the open web cannot keep a key
    assert "key-one" not in missing.text and "key-two" not in missing.text


def test_keys_are_compared_with_every_configured_key() -> None:
    policy = Policy(
        hosts=frozenset(), origins=frozenset(), keys=(b"alpha", b"beta"), proxies=(), max_body=1
    )
    assert policy.key_index("Bearer beta") == 1 and policy.key_index("bearer alpha") == 0
    assert policy.key_index("Bearer alph") is None and policy.key_index("Basic alpha") is None
    assert policy.key_index("Bearer ") is None and policy.key_index(None) is None


def test_too_many_answers_get_429_with_retry_after(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(rate_limit="2/minute;100/day")
    assert [ask(client).status_code for _ in range(2)] == [200, 200]
    refused = ask(client)
    assert_refusal(refused, 429, "2 per 1 minute", "ASSISTANT_RATE_LIMIT")
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # The OpenAI route shares the bucket: a client cannot double its answers by switching.
    v1 = client.post(
        "/v1/chat/completions",
        json={"model": "fund-thesis-assistant", "messages": [{"role": "user", "content": "x"}]},
    )
    assert_refusal(v1, 429)
    assert client.get("/healthz").status_code == 200  # the cheap routes are not counted


def test_a_rate_limit_window_moves_and_a_refusal_counts_in_none() -> None:
    now = [1000.0]
    limits = RateLimits("2/minute;3/hour", clock=lambda: now[0])
    limits.hit("answers", "ip:a")
    now[0] += 30
    limits.hit("answers", "ip:a")
    with pytest.raises(Refusal) as refused:
        limits.hit("answers", "ip:a")
    assert refused.value.status_code == 429
    assert refused.value.headers == {"Retry-After": "30"}  # when the first one leaves the minute
    limits.hit("answers", "ip:b")  # another client, another window
    limits.hit("feedback", "ip:a")  # another bucket, too
    now[0] += 31  # the first request has left the minute's window; the refused one never counted
    limits.hit("answers", "ip:a")
    now[0] += 60
    with pytest.raises(Refusal) as refused:  # three in the hour
        limits.hit("answers", "ip:a")
    assert "3 per 1 hour" in str(refused.value.detail)
    assert refused.value.headers == {"Retry-After": str(3600 - 121)}
    now[0] += 3600  # long quiet: the sweep forgets every window and the client starts afresh
    limits.hit("answers", "ip:a")
    assert len(limits._windows) == 2  # this client's two windows, made again


def test_rate_limits_are_per_key_else_per_address(make_client) -> None:  # type: ignore[no-untyped-def]
    keyed = make_client(rate_limit="1/minute", api_keys="a-key,b-key")
    assert ask(keyed, Authorization="Bearer a-key").status_code == 200
    assert ask(keyed, Authorization="Bearer a-key").status_code == 429
    assert ask(keyed, Authorization="Bearer b-key").status_code == 200

    direct = make_client(rate_limit="1/minute")
    assert ask(direct, **{"X-Forwarded-For": "198.51.100.1"}).status_code == 200
    # Not from a trusted proxy: the header is not believed, so it is the same client.
    assert ask(direct, **{"X-Forwarded-For": "198.51.100.2"}).status_code == 429


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit(
    make_client,  # type: ignore[no-untyped-def]
) -> None:
    proxied = make_client(
        client=("10.0.0.5", 50000), rate_limit="1/minute", trusted_proxies="10.0.0.0/8"
    )
    first = {"X-Forwarded-For": "198.51.100.1"}
    assert ask(proxied, **first).status_code == 200
    assert ask(proxied, **first).status_code == 429
    # A client cannot escape by prepending addresses: only the proxies' own entries count.
    spoofed = {"X-Forwarded-For": "203.0.113.9, 198.51.100.1"}
    assert ask(proxied, **spoofed).status_code == 429
    assert ask(proxied, **{"X-Forwarded-For": "198.51.100.2, 10.0.0.7"}).status_code == 200


def test_client_address_reads_forwarded_for_from_the_right() -> None:
    policy = Policy(
        hosts=frozenset(),
        origins=frozenset(),
        keys=(),
        proxies=(ipaddress.ip_network("10.0.0.0/8"),),
        max_body=1,
    )
    assert policy.client("192.0.2.1", ["198.51.100.1"]) == "192.0.2.1"  # untrusted peer
    assert policy.client("10.0.0.1", ["198.51.100.1, 10.0.0.2"]) == "198.51.100.1"
    assert policy.client("10.0.0.1", ["1.1.1.1", "198.51.100.1"]) == "198.51.100.1"
    assert policy.client("10.0.0.1", ["garbage, 10.0.0.2"]) == "10.0.0.2"
    assert policy.client("10.0.0.1", []) == "10.0.0.1"


def test_bodies_over_the_limit_are_refused_with_413(make_client) -> None:  # type: ignore[no-untyped-def]
    client = make_client(max_body_kb=1)
    history = [{"role": "user", "content": "算" * 300}] * 3
    big = client.post("/api/chat", json={"message": QUESTION, "history": history})
    assert_refusal(big, 413, "ASSISTANT_MAX_BODY_KB")

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"message": "' + "算".encode() * 600 + b'"}'

    chunked = client.post(
        "/api/chat", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_refusal(chunked, 413, "ASSISTANT_MAX_BODY_KB")
    # The web app's own calls are bounded too: one 200 MB body there held 600 MB of memory.
    call = "/gradio_api/call/ask"
    assert_refusal(client.post(call, json={"data": history}), 413, "ASSISTANT_MAX_BODY_KB")
    sent = client.post(call, content=chunks(), headers={"content-type": "application/json"})
    assert_refusal(sent, 413, "ASSISTANT_MAX_BODY_KB")
    assert client.post("/gradio_api/call/ask", json={"data": [QUESTION, [], "zh"]}).is_success


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"api_key": "sk-x", "base_url": "http://api.example.com"}, "DEEPSEEK_BASE_URL"),
        (
            {"embedding_base_url": "http://embed.example.com/v1", "embedding_api_key": "k"},
            "ASSISTANT_EMBEDDING_BASE_URL",
        ),
        ({"allowed_origins": "https://a.example.com/"}, "ASSISTANT_ALLOWED_ORIGINS"),
        ({"rate_limit": "plenty"}, "ASSISTANT_RATE_LIMIT"),
        ({"trusted_proxies": "10.0.0.1,proxy"}, "ASSISTANT_TRUSTED_PROXIES"),
    ],
)
def test_unsafe_or_malformed_web_settings_stop_the_start(
    overrides: dict[str, str], variable: str
) -> None:
    with pytest.raises(ConfigurationError) as error:
        load_settings(_env_file=None, **overrides)
    assert variable in str(error.value)


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"port": 99999}, "ASSISTANT_PORT"),  # uvicorn served another port than it printed
        ({"port": -1}, "ASSISTANT_PORT"),
        ({"chroma_port": 0}, "CHROMA_PORT"),
        ({"allowed_hosts": "https://assistant.example.com"}, "ASSISTANT_ALLOWED_HOSTS"),
        ({"allowed_hosts": "assistant.example.com:443"}, "ASSISTANT_ALLOWED_HOSTS"),
        ({"allowed_hosts": " "}, "ASSISTANT_ALLOWED_HOSTS"),  # every request refused
        ({"api_keys": " , "}, "ASSISTANT_API_KEYS"),  # meant keys, would have been open
        ({"collection": "fund articles!"}, "ASSISTANT_COLLECTION"),  # Chroma's traceback
        ({"embedding_base_url": "localhost:8080/v1"}, "ASSISTANT_EMBEDDING_BASE_URL"),
        ({"chunk_chars": 300, "chunk_overlap": 300}, "ASSISTANT_CHUNK_OVERLAP"),
        ({"chroma_host": "http://chroma.internal:8000"}, "CHROMA_HOST"),  # "…:8000:8000"
        # past capacity a question would wait for a thread instead of a 503 at once
        ({"max_concurrent_answers": 256, "answer_threads": 100}, "ASSISTANT_ANSWER_THREADS"),
    ],
)
def test_a_setting_that_cannot_work_stops_the_start_naming_its_variable(
    overrides: dict[str, object], variable: str
) -> None:
    # Each of these was accepted, then served a surprise: another port, no request answered,
    # an open API, a traceback from Chroma or the embeddings client, chunks of repeats.
    with pytest.raises(ConfigurationError) as error:
        load_settings(_env_file=None, **overrides)
    assert variable in str(error.value)


def test_settings_that_work_still_load() -> None:
    settings = load_settings(
        _env_file=None,
        port=8080,
        allowed_hosts="assistant.example.com, 10.0.0.5, [::1], localhost, my_host",
        api_keys="k1, k2",
        collection="fund-articles.v2",
        embedding_base_url="http://localhost:8080/v1",
        chunk_chars=300,
        chunk_overlap=299,
        chroma_host="chroma.internal",
    )
    assert settings.accepted_keys == ("k1", "k2") and "[::1]" in settings.hosts
    # Unset, the answer threads follow the capacity, whatever it is set to.
    assert load_settings(_env_file=None, max_concurrent_answers=500).answer_threads == 516
    assert load_settings(_env_file=None, allowed_hosts="*", api_keys="").accepted_keys == ()


def test_app_py_port_override_is_checked_like_the_setting(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.conftest import ROOT, clean_env

    (tmp_path / "knowledge").mkdir()
    env = clean_env(ASSISTANT_DATA_DIR=str(tmp_path / "data"))
    env["ASSISTANT_KNOWLEDGE_DIR"] = str(tmp_path / "knowledge")
    started = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--port", "99999"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert started.returncode == 2 and "ASSISTANT_PORT" in started.stderr


@pytest.mark.parametrize("script", ["app.py", "ingest.py"])
def test_a_knowledge_folder_that_is_not_there_stops_the_start_naming_its_variable(
    tmp_path: Path, script: str
) -> None:
    # app.py served an empty store, its log saying "refused …: the file does not exist";
    # ingest.py said "no such file or folder" without naming where the path came from.
    import subprocess
    import sys

    from tests.conftest import ROOT, clean_env, free_port

    env = clean_env(ASSISTANT_DATA_DIR=str(tmp_path / "data"))
    env["ASSISTANT_KNOWLEDGE_DIR"] = str(tmp_path / "knowlege")  # a typo
    args = ["--port", str(free_port())] if script == "app.py" else []
    started = subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert started.returncode == 2
    assert "ASSISTANT_KNOWLEDGE_DIR" in started.stderr and "knowlege" in started.stderr


def test_a_key_may_go_over_plain_http_only_to_a_local_or_private_host() -> None:
    for url in ("http://127.0.0.1:8000", "http://localhost:11434/v1", "http://10.1.2.3:8000"):
        assert load_settings(_env_file=None, api_key="sk-x", base_url=url).online
    assert not load_settings(_env_file=None, base_url="http://api.example.com").online


def ask_the_page(client: TestClient, **headers: str) -> httpx.Response:
    """The investor's question through Gradio's API, as a script imitating the page sends it."""
    started = client.post(
        "/gradio_api/call/ask", json={"data": [QUESTION, [], "zh"]}, headers=headers
    )
    if started.status_code != 200:
        return started
    return client.get(f"/gradio_api/call/ask/{started.json()['event_id']}")


def shown(events: httpx.Response) -> str:
    """What the page's API streamed: its events' data, decoded."""
    lines = events.text.splitlines()
    return "\n".join(
        json.dumps(json.loads(line[6:]), ensure_ascii=False)
        for line in lines
        if line.startswith("data: ")
    )


def test_the_web_apps_answers_count_against_the_same_rate_limit(make_client) -> None:  # type: ignore[no-untyped-def]
    # Gradio's API answers like the page, without a key: it must not be a way around the limit.
    with make_client(rate_limit="2/minute;100/day") as client:
        answered = ask_the_page(client)
        assert answered.status_code == 200 and "event: complete" in answered.text
        assert "风险提示" in shown(answered) and QUESTION in shown(answered)  # the transcript
        assert ask(client).status_code == 200  # /api/chat: the second answer of this address
        refused = ask_the_page(client)  # the third, through the page's API: not answered
        assert QUESTION not in shown(refused) and "风险提示" not in shown(refused)
        assert_refusal(ask(client), 429)


def test_other_sites_may_not_drive_the_web_app(make_client) -> None:  # type: ignore[no-untyped-def]
    with make_client(allowed_origins=SITE) as client:
        # Not even an allowed site: those embed the widget, or call /api and /v1.
        for origin in ("https://evil.example", SITE, "null"):
            assert_refusal(ask_the_page(client, Origin=origin), 403, "widget")
        own = ask_the_page(client, Origin="http://testserver")
        assert own.status_code == 200 and "event: complete" in own.text


def test_a_reader_past_the_limit_is_told_when_to_try_again(seeded, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, store = seeded
    engine = build_engine(settings_for(tmp_path), store=store)
    admit = admission(RateLimits("1/minute"))
    request = gr.Request(client={"host": "203.0.113.7", "port": 1}, headers={})
    drafting = Drafting(engine, 500, admit)
    options = ("C3", "plain", "short", "zh", "zh", "", None)  # no draft before
    first = list(drafting.draft("DeepSeek与算力需求", *options, request))  # type: ignore[arg-type]
    assert "风险提示" in first[-1][2]  # drafted, with the disclosure
    second = list(drafting.draft("DeepSeek与算力需求", *options, request))  # type: ignore[arg-type]
    assert len(second) == 1 and second[0][0] == gr.skip()  # nothing drafted, the editor kept
    assert re.search(r"提问过于频繁，请\d+秒后再试", second[0][3])
    # Another address has its own window.
    other = gr.Request(client={"host": "203.0.113.8", "port": 1}, headers={})
    assert "风险提示" in list(drafting.draft("DeepSeek与算力需求", *options, other))[-1][2]  # type: ignore[arg-type]


def test_a_path_nobody_serves_is_refused_like_any_other(make_client) -> None:  # type: ignore[no-untyped-def]
    # The paths the routes leave to the web app (Gradio's router) included: not its bare
    # {"detail": "Not Found"}, but the sentence and the disclosure.
    client = make_client()
    for path in ("/nope", "/gradio_api/nope", "/api/nope", "/embed/nope"):
        assert_refusal(client.get(path), 404, "no such page or route")
    # Gradio's file route refuses what it does not serve with a bare {"detail": ...} 403.
    for path in ("/gradio_api/file=/etc/passwd", "/gradio_api/file=../README.md"):
        assert_refusal(client.get(path), 403, "not served here")
    assert client.get("/").status_code == 200 and "gradio" in client.get("/").text
    # A method the web app's routes do not take: the sentence, the disclosure and Allow.
    for method, path in (("POST", "/"), ("OPTIONS", "/"), ("PUT", "/gradio_api/queue/join")):
        refused = client.request(method, path)
        assert_refusal(refused, 405, "does not accept that method")
        assert refused.headers["allow"]


def test_no_client_can_fill_the_error_log_through_gradios_queue(make_client, caplog) -> None:  # type: ignore[no-untyped-def]
    # Gradio answers an unknown queue session with an event stream, then raises its 404 inside
    # it: two ERROR tracebacks a request, at any client's will. One warning line now.
    client = make_client()
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            events = client.get("/gradio_api/queue/data?session_hash=nobody")
            assert "session_not_found" in events.text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert sum("ended after its response began" in r.getMessage() for r in caplog.records) == 3


def test_every_page_and_file_answers_head_as_get_without_the_body(make_client) -> None:  # type: ignore[no-untyped-def]
    # Uptime monitors and link checkers ask HEAD; /healthz answered it 405.
    client = make_client()
    for path in ("/healthz", "/widget.js", "/embed", "/embed/app.js", "/v1/models"):
        got, head = client.get(path), client.head(path)
        assert head.status_code == 200, (path, head.status_code)
        assert head.headers["content-type"] == got.headers["content-type"] and head.content == b""
    assert client.head("/api/chat").headers["allow"] == "POST"
    for path in ("/nope", "/gradio_api/nope"):  # a refusal's headers, as GET gets them
        got, head = client.get(path), client.head(path)
        assert (head.status_code, head.headers["content-length"], head.content) == (
            404,
            got.headers["content-length"],
            b"",
        )


def test_the_widget_script_does_not_list_the_partner_sites(make_client) -> None:  # type: ignore[no-untyped-def]
    """widget.js is public, fetched by every visitor of every partner page: it carries each
    allowed site's SHA-256, which the visitor's page can be checked against, not the list."""
    client = make_client(allowed_origins=f"{SITE},https://bank.example.net")
    script = client.get("/widget.js").text
    assert "fund.example.com" not in script and "bank.example.net" not in script
    assert hashlib.sha256(SITE.encode()).hexdigest() in script


def test_a_wrong_audit_url_stops_app_py_before_it_ingests(tmp_path: Path) -> None:
    # It was found only after the first ingest had embedded every article.
    import subprocess
    import sys

    from tests.conftest import ROOT, clean_env, free_port

    knowledge = tmp_path / "knowledge"
    knowledge.mkdir()
    (knowledge / "note.md").write_text("# 笔记\n\n算力需求每年翻倍。\n", encoding="utf-8")
    env = clean_env(ASSISTANT_DATA_DIR=str(tmp_path / "data"))
    env["ASSISTANT_KNOWLEDGE_DIR"] = str(knowledge)
    env["ASSISTANT_AUDIT_URL"] = "nosuch://audit"
    started = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--port", str(free_port())],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert started.returncode == 2 and "ASSISTANT_AUDIT_URL" in started.stderr
    assert "ingesting" not in started.stderr
    assert not (tmp_path / "data" / "chroma").exists()
