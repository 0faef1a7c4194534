"""The chat model against the fake DeepSeek server: answers, retries, deadlines, broken streams.

The ``fake_llm`` fixture comes from tests/fakellm.py through conftest.py.
Deadlines here are 1–3 s and the backoff base is 10 ms, so the whole file runs in a few seconds.
"""

from __future__ import annotations

import itertools
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from assistant import llmstream
from assistant.cancel import Cancel, StreamCancelled, cancel_on
from assistant.config import Settings
from assistant.errors import ConfigurationError, ModelUnavailableError
from assistant.llm import OpenAICompatibleChat, to_openai_messages
from assistant.modelcalls import ModelCall
from tests.fakellm import FakeLLM, compose_answer

KEY = "sk-test-secret"
SOURCES = (
    "根据以下资料回答问题。\n"
    "[1] DeepSeek V3版本的训练成本为600万美元。这一数字引发了市场对算力需求的担忧。\n"
    "[2] 杰文斯悖论认为，技术进步提高资源使用效率后，资源总消耗反而可能增加。\n"
    "[3] 科创板人工智能指数覆盖算力与应用。\n"
    "问题：DeepSeek的训练成本是多少？"
)
ANSWER = (
    "DeepSeek V3版本的训练成本为600万美元[1]。"
    "杰文斯悖论认为，技术进步提高资源使用效率后，资源总消耗反而可能增加[2]。"
)
MESSAGES: list[BaseMessage] = [SystemMessage("你是基金公司的投教助手。"), HumanMessage(SOURCES)]

MakeModel = Callable[..., OpenAICompatibleChat]


def settings(base_url: str, **overrides: Any) -> Settings:
    """Settings for the tests, whatever the developer's environment or .env file says."""
    fields: dict[str, Any] = {
        "api_key": KEY,
        "base_url": base_url,
        "model": "deepseek-flash",
        "answer_deadline": 2.0,
        "stream_idle_timeout": 1.5,
        "max_retries": 3,
        **overrides,
    }
    return Settings(_env_file=None, **fields)


@pytest.fixture
def make_model(fake_llm: FakeLLM) -> MakeModel:
    def make(**overrides: Any) -> OpenAICompatibleChat:
        return OpenAICompatibleChat(settings(fake_llm.base_url, **overrides), backoff_base=0.01)

    return make


def deadline_in(seconds: float) -> float:
    return time.monotonic() + seconds


def collect(model: OpenAICompatibleChat, seconds: float = 2.0) -> tuple[list[str], Exception]:
    """The deltas yielded before the error the stream must end with."""
    deltas: list[str] = []
    with pytest.raises(ModelUnavailableError) as caught:
        for delta in model.stream(MESSAGES, deadline=deadline_in(seconds)):
            deltas.append(delta)
    return deltas, caught.value


def workers() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "llm-stream"]


def closed_upstream(fake: FakeLLM, within: float) -> bool:
    """Whether the model server saw the client close the request (within ``within`` s)."""
    ends = time.monotonic() + within
    while time.monotonic() < ends:
        if fake.chat_requests and fake.chat_requests[-1].get("outcome") == "client closed":
            return True
        time.sleep(0.02)
    return False


def wait_for_no_workers(within: float) -> bool:
    ends = time.monotonic() + within
    while workers() and time.monotonic() < ends:
        time.sleep(0.02)
    return not workers()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# --- answers -------------------------------------------------------------------------------------


def test_stream_yields_the_answer_composed_from_the_sources(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    deltas = list(make_model().stream(MESSAGES, deadline=deadline_in(2)))

    assert len(deltas) > 1
    assert "".join(deltas) == ANSWER


def test_request_disables_thinking_streams_and_sends_the_key(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    make_model().complete(MESSAGES, deadline=deadline_in(2))

    [request] = fake_llm.chat_requests
    body = request["body"]
    assert body["thinking"] == {"type": "disabled"}
    assert body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == pytest.approx(0.3)
    assert body["model"] == "deepseek-flash"
    # The messages exactly as given (they travel in extra_body, past the client's transform).
    assert body["messages"] == [
        {"role": role, "content": str(message.text)}
        for role, message in zip(("system", "user"), MESSAGES, strict=True)
    ]
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert headers["authorization"] == f"Bearer {KEY}"


def test_thinking_mode_enables_thinking_and_omits_temperature(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    make_model(thinking=True).complete(MESSAGES, deadline=deadline_in(2))

    body = fake_llm.chat_requests[0]["body"]
    assert body["thinking"] == {"type": "enabled"}
    assert "temperature" not in body


def test_complete_returns_the_whole_answer_and_records_usage_per_request(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    model = make_model()
    first: list[ModelCall] = []
    second: list[ModelCall] = []
    assert model.complete(MESSAGES, deadline=deadline_in(2), calls=first) == ANSWER
    model.complete(MESSAGES, deadline=deadline_in(2), calls=second)

    [one], [two] = first, second
    assert (one.outcome, one.attempts, one.failures) == ("ok", 1, [])
    assert one.usage.prompt_tokens > 0 and one.usage.completion_tokens > 0
    assert one.usage.prompt_cache_hit_tokens == 0
    assert one.usage.prompt_cache_miss_tokens == one.usage.prompt_tokens
    assert two.usage.prompt_cache_hit_tokens > 0  # same system prompt: a cached prefix
    assert one.usage.prompt_cache_hit_tokens == 0  # the second request did not overwrite it


def test_concurrent_requests_keep_their_own_usage(fake_llm: FakeLLM, make_model: MakeModel) -> None:
    # Two answers streaming at once on one model object: each request's usage is its own
    # (it was one attribute of the shared model, so the later one overwrote the earlier).
    model = make_model()
    short = [SystemMessage("你是基金公司的投教助手。"), HumanMessage("[1] 短。")]
    fake_llm.script({"keepalive": 0.4})  # whichever arrives first waits: the two overlap
    calls: dict[str, list[ModelCall]] = {"long": [], "short": []}
    long_thread = threading.Thread(
        target=model.complete,
        args=(MESSAGES,),
        kwargs={"deadline": deadline_in(3), "calls": calls["long"]},
    )
    long_thread.start()
    model.complete(short, deadline=deadline_in(3), calls=calls["short"])
    long_thread.join()

    [long], [brief] = calls["long"], calls["short"]
    assert long.usage.completion_tokens > 5 * brief.usage.completion_tokens
    assert long.usage.prompt_tokens > 2 * brief.usage.prompt_tokens


def test_reasoning_is_never_yielded(fake_llm: FakeLLM, make_model: MakeModel) -> None:
    fake_llm.script("reasoning", {"text": "答案[1]。", "reasoning": "SECRET-THOUGHT"})
    model = make_model()

    assert model.complete(MESSAGES, deadline=deadline_in(2)) == ANSWER
    assert model.complete(MESSAGES, deadline=deadline_in(2)) == "答案[1]。"


def test_messages_convert_to_chat_completion_roles() -> None:
    converted = to_openai_messages([SystemMessage("s"), HumanMessage("q"), AIMessage("a")])

    assert converted == [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a"},
    ]


def test_a_missing_key_is_a_configuration_error(fake_llm: FakeLLM) -> None:
    with pytest.raises(ConfigurationError, match="DEEPSEEK_API_KEY"):
        OpenAICompatibleChat(settings(fake_llm.base_url, api_key=""))


# --- retries -------------------------------------------------------------------------------------


def test_a_429_is_retried(fake_llm: FakeLLM, make_model: MakeModel) -> None:
    fake_llm.script(429)

    assert make_model().complete(MESSAGES, deadline=deadline_in(2)) == ANSWER
    assert len(fake_llm.chat_requests) == 2


def test_two_503s_are_retried(fake_llm: FakeLLM, make_model: MakeModel) -> None:
    fake_llm.script(503, 503, "ok")

    assert make_model().complete(MESSAGES, deadline=deadline_in(2)) == ANSWER
    assert len(fake_llm.chat_requests) == 3


def test_500_forever_gives_up_after_max_retries(fake_llm: FakeLLM, make_model: MakeModel) -> None:
    fake_llm.script(*[500] * 10)

    deltas, error = collect(make_model(max_retries=3))

    assert deltas == []
    assert isinstance(error, ModelUnavailableError)
    assert (error.kind, error.status) == ("overloaded", 500)
    assert "after 4 attempts" in str(error)
    assert len(fake_llm.chat_requests) == 4


def test_429_forever_is_rate_limited(fake_llm: FakeLLM, make_model: MakeModel) -> None:
    fake_llm.script(*[429] * 10)

    _, error = collect(make_model(max_retries=1))

    assert isinstance(error, ModelUnavailableError)
    assert error.kind == "rate_limited"
    assert "after 2 attempts" in str(error)
    assert len(fake_llm.chat_requests) == 2


def test_retry_after_is_honoured(fake_llm: FakeLLM, make_model: MakeModel) -> None:
    fake_llm.script({"status": 429, "retry_after": 0.5})
    started = time.monotonic()

    assert make_model().complete(MESSAGES, deadline=deadline_in(2)) == ANSWER
    assert time.monotonic() - started >= 0.5


def test_retry_after_past_the_deadline_gives_up_at_once(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    fake_llm.script({"status": 503, "retry_after": 10})
    started = time.monotonic()

    _, error = collect(make_model(), seconds=2)

    assert time.monotonic() - started < 5.0  # not the 10 s Retry-After asks
    assert isinstance(error, ModelUnavailableError)
    assert error.kind == "overloaded"
    assert "left no time for another attempt" in str(error)
    assert len(fake_llm.chat_requests) == 1


@pytest.mark.parametrize(
    ("status", "kind", "message"),
    [
        (401, "auth", "The API key was rejected (401): check DEEPSEEK_API_KEY."),
        (
            402,
            "balance",
            "The account has no balance (402): top up at the provider; requests are not retried.",
        ),
        (400, "bad_request", None),
        (422, "bad_request", None),
    ],
)
def test_client_errors_are_not_retried(
    fake_llm: FakeLLM, make_model: MakeModel, status: int, kind: str, message: str | None
) -> None:
    fake_llm.script(status, "ok")

    _, error = collect(make_model())

    assert isinstance(error, ModelUnavailableError)
    assert (error.kind, error.status) == (kind, status)
    if message:
        assert str(error) == message
    assert len(fake_llm.chat_requests) == 1


def test_an_unreachable_api_is_a_connection_error() -> None:
    model = OpenAICompatibleChat(settings(closed_port_url(), max_retries=1), backoff_base=0.01)

    _, error = collect(model)

    assert isinstance(error, ModelUnavailableError)
    assert error.kind == "connection"
    assert "DEEPSEEK_BASE_URL" in str(error)


# --- deadlines -----------------------------------------------------------------------------------


def test_keepalives_shorter_than_the_idle_timeout_do_not_break_the_answer(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    fake_llm.script({"keepalive": 1.0})

    model = make_model(stream_idle_timeout=4.0)  # room for a loaded machine

    assert model.complete(MESSAGES, deadline=deadline_in(8)) == ANSWER
    assert len(fake_llm.chat_requests) == 1


def test_keepalives_do_not_count_as_tokens_for_the_idle_timeout(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    # Keep-alives for 10 s would satisfy any per-read timeout; the idle timer gives up after
    # 0.6 s without a token and the retry gets the answer.
    fake_llm.script({"keepalive": 10})
    started = time.monotonic()

    model = make_model(stream_idle_timeout=0.6)

    assert model.complete(MESSAGES, deadline=deadline_in(3)) == ANSWER
    assert len(fake_llm.chat_requests) == 2
    assert time.monotonic() - started < 6.0  # not the 10 s of keep-alives


def test_keepalives_past_the_deadline_time_out_within_it(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    fake_llm.script({"keepalive": 30})
    started = time.monotonic()

    _, error = collect(make_model(stream_idle_timeout=10), seconds=1.5)

    assert time.monotonic() - started < 10.0  # not the 30 s of keep-alives
    assert isinstance(error, ModelUnavailableError)
    assert error.kind == "timeout"
    assert "deadline of 1.5 s" in str(error)
    assert wait_for_no_workers(within=1.0), "a reader thread outlived its closed stream"
    assert closed_upstream(fake_llm, within=2.0)


def test_a_silent_server_times_out_at_the_deadline(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    fake_llm.script({"slow": 30})
    started = time.monotonic()

    _, error = collect(make_model(stream_idle_timeout=10), seconds=1.0)

    assert time.monotonic() - started < 10.0  # not the 30 s of silence
    assert isinstance(error, ModelUnavailableError)
    assert error.kind == "timeout"
    assert wait_for_no_workers(within=2.0), "a reader thread outlived its read timeout"


def test_a_slow_reader_does_not_trip_the_idle_timeout(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    deltas = []
    for delta in make_model(stream_idle_timeout=0.2).stream(MESSAGES, deadline=deadline_in(3)):
        deltas.append(delta)
        time.sleep(0.25)  # chunks wait in the socket meanwhile

    assert "".join(deltas) == ANSWER


def test_a_reader_that_stops_early_closes_the_stream(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    fake_llm.script({"keepalive": 0.4, "text": "一二三四五六七八"})
    stream = make_model().stream(MESSAGES, deadline=deadline_in(2))
    assert isinstance(stream, Generator)

    assert next(stream)
    stream.close()

    assert wait_for_no_workers(within=1.0)


def test_a_cancel_wakes_a_read_waiting_on_a_silent_stream(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    # The first delta, then 20 s of silence: no byte would end the read before then.
    fake_llm.script({"pace": 20, "text": "一二三四五六七八九十"})
    stop = Cancel()
    chat = make_model(stream_idle_timeout=100)
    started = time.monotonic()
    seen = []
    with cancel_on(stop), pytest.raises(StreamCancelled):
        for delta in chat.stream(MESSAGES, deadline=deadline_in(100)):
            seen.append(delta)
            threading.Timer(0.3, stop.set).start()
    assert len(seen) == 1
    assert time.monotonic() - started < 10  # not the 20 s the next byte would take


@pytest.fixture
def paced_fake() -> Generator[FakeLLM, None, None]:
    """A model at a model's pace: three characters a chunk, a chunk every 20 ms."""
    fake = FakeLLM(pace=150, piece=3).start()
    yield fake
    fake.stop()


def bursts(times: list[float], gap: float = 0.01) -> int:
    """How many groups of deltas came, a group ending where ``gap`` seconds pass without one."""
    return 1 + sum(1 for a, b in itertools.pairwise(times) if b - a > gap)


def test_a_streamed_answer_is_read_a_few_times_a_second_and_still_streams(
    paced_fake: FakeLLM,
) -> None:
    text = "算力需求并没有因为训练成本下降而减少[1]。" * 6  # 40 chunks, 0.8 s at the fake's pace
    paced_fake.script({"text": text})
    model = OpenAICompatibleChat(settings(paced_fake.base_url, answer_deadline=10))
    times, deltas = [], []
    started = time.monotonic()
    for delta in model.stream(MESSAGES, deadline=deadline_in(10)):
        times.append(time.monotonic())
        deltas.append(delta)
    elapsed = time.monotonic() - started

    assert "".join(deltas) == text
    # Each read of the socket brings what came since the last: at most one group of deltas a
    # FASTEST, the pace of a stream read alone (read as each chunk came, the 40 chunks came as
    # about 40 groups)...
    assert bursts(times) <= elapsed / llmstream.FASTEST + 1
    # ...and the text still arrives as it is written, not all at the end.
    assert bursts(times) >= 2 and times[0] - started < elapsed / 2


def test_a_reply_wanted_whole_is_read_as_it_comes(paced_fake: FakeLLM) -> None:
    # The question's rewrite (``complete``): the answer waits for all of it, so it is not paced.
    text = "算力需求并没有因为训练成本下降而减少[1]。" * 6
    paced_fake.script({"text": text})
    model = OpenAICompatibleChat(settings(paced_fake.base_url, answer_deadline=10))
    times, deltas = [], []
    started = time.monotonic()
    with llmstream.unpaced():
        for delta in model.stream(MESSAGES, deadline=deadline_in(10)):
            times.append(time.monotonic())
            deltas.append(delta)
    elapsed = time.monotonic() - started

    assert "".join(deltas) == text
    assert bursts(times) > elapsed / llmstream.FASTEST + 1


def test_a_cancel_ends_the_wait_between_two_reads(paced_fake: FakeLLM) -> None:
    paced_fake.script({"text": "算力需求并没有因为训练成本下降而减少[1]。" * 6})
    model = OpenAICompatibleChat(settings(paced_fake.base_url, answer_deadline=10))
    stop = Cancel()
    with cancel_on(stop), pytest.raises(StreamCancelled):
        for _ in model.stream(MESSAGES, deadline=deadline_in(10)):
            stop.set()  # the reader waits before its next read: the cancel ends that wait
            cancelled = time.monotonic()
    assert time.monotonic() - cancelled < 0.1
    assert closed_upstream(paced_fake, within=1.0)


# --- broken answers ------------------------------------------------------------------------------


@pytest.mark.parametrize("step", ["cut", "drop"])
def test_a_cut_stream_is_truncated_after_partial_text(
    fake_llm: FakeLLM, make_model: MakeModel, step: str
) -> None:
    fake_llm.script(step)

    deltas, error = collect(make_model())

    assert deltas and ANSWER.startswith("".join(deltas)) and "".join(deltas) != ANSWER
    assert isinstance(error, ModelUnavailableError)
    assert error.kind == "truncated"
    assert len(fake_llm.chat_requests) == 1  # text was shown: the caller falls back


def test_stop_without_content_is_empty(fake_llm: FakeLLM, make_model: MakeModel) -> None:
    fake_llm.script("empty")

    deltas, error = collect(make_model())

    assert deltas == []
    assert isinstance(error, ModelUnavailableError)
    assert error.kind == "empty"


@pytest.mark.parametrize(
    ("finish_reason", "kind"), [("length", "truncated"), ("content_filter", "filtered")]
)
def test_other_finish_reasons_fail(
    fake_llm: FakeLLM, make_model: MakeModel, finish_reason: str, kind: str
) -> None:
    fake_llm.script({"finish_reason": finish_reason})

    _, error = collect(make_model())

    assert isinstance(error, ModelUnavailableError)
    assert error.kind == kind


def test_insufficient_resources_before_any_text_is_retried(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    fake_llm.script({"text": "", "finish_reason": "insufficient_system_resource"})

    assert make_model().complete(MESSAGES, deadline=deadline_in(2)) == ANSWER
    assert len(fake_llm.chat_requests) == 2


# --- the connection ------------------------------------------------------------------------------


def test_answers_in_a_row_share_one_connection(fake_llm: FakeLLM, make_model: MakeModel) -> None:
    model = make_model()
    for _ in range(3):
        assert model.complete(MESSAGES, deadline=deadline_in(2)) == ANSWER

    ports = [request["port"] for request in fake_llm.chat_requests]
    assert len(ports) == 3 and len(set(ports)) == 1  # the body read to its end, kept alive


@pytest.mark.parametrize("step", ["cut", "drop", "malformed"])
def test_a_broken_stream_leaves_its_connection_and_the_next_answer_whole(
    fake_llm: FakeLLM, make_model: MakeModel, step: str
) -> None:
    model = make_model()
    fake_llm.script(step)
    collect(model)

    assert model.complete(MESSAGES, deadline=deadline_in(2)) == ANSWER
    broken, whole = fake_llm.chat_requests
    assert broken["port"] != whole["port"]


def test_a_body_held_open_after_done_does_not_hold_the_answer(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    # Without a bound of its own the read after [DONE] would wait for the 5 s the body lingers.
    model = make_model(answer_deadline=20, stream_idle_timeout=15)
    fake_llm.script({"linger": 5})
    started = time.monotonic()

    assert model.complete(MESSAGES, deadline=deadline_in(20)) == ANSWER
    assert time.monotonic() - started < 4.0  # not the 5 s the body lingers
    assert model.complete(MESSAGES, deadline=deadline_in(2)) == ANSWER  # on a new connection
    lingered, after = fake_llm.chat_requests
    assert lingered["port"] != after["port"]


# --- the key stays secret ------------------------------------------------------------------------


def test_the_key_appears_in_no_error_and_no_log_line(
    fake_llm: FakeLLM, make_model: MakeModel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake_llm.script(
        {"status": 400, "message": f"Invalid key {KEY} in request."},
        401,
        402,
        503,
        {"status": 429, "message": f"Too many requests for {KEY}."},
        "cut",
        "empty",
        {"keepalive": 5},
    )
    model = make_model(max_retries=1, stream_idle_timeout=0.3)
    errors = [collect(model)[1] for _ in range(6)]
    errors.append(collect(make_model(max_retries=0, stream_idle_timeout=0.3))[1])
    model.check_model()

    assert len(errors) == 7
    for error in errors:
        assert KEY not in str(error) and KEY not in repr(error.__cause__)
    assert "[the API key]" in str(errors[0])
    assert caplog.records
    assert KEY not in caplog.text


# --- the model list ------------------------------------------------------------------------------


def test_check_model_accepts_a_listed_model(fake_llm: FakeLLM, make_model: MakeModel) -> None:
    model = make_model()

    assert model.list_models() == ["deepseek-flash", "deepseek-v4-pro"]
    assert model.check_model() is None


def test_a_base_url_with_a_query_keeps_its_path_and_sends_the_query(fake_llm: FakeLLM) -> None:
    # A gateway that takes its version or token in the query (Azure's ?api-version=…): the
    # openai client joined "models" and "chat/completions" onto the URL as written, so every
    # request went to "/v1/?api-version=…" (404) and each answer fell back to excerpts.
    url = f"{fake_llm.base_url}/v1?api-version=2024-10-21"
    model = OpenAICompatibleChat(settings(url), backoff_base=0.01)

    assert model.check_model() is None
    assert model.complete(MESSAGES, deadline=deadline_in(2)) == ANSWER
    paths = [request["path"] for request in fake_llm.requests]
    assert paths == [
        "/v1/models?api-version=2024-10-21",
        "/v1/chat/completions?api-version=2024-10-21",
    ]


def test_check_model_warns_about_an_unlisted_model(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    fake_llm.models = ["deepseek-v4-pro"]

    warning = make_model().check_model()

    assert warning is not None
    assert "DEEPSEEK_MODEL=deepseek-flash" in warning and "deepseek-v4-pro" in warning


def test_check_model_says_deepseek_chat_was_switched_off(
    fake_llm: FakeLLM, make_model: MakeModel
) -> None:
    warning = make_model(model="deepseek-chat").check_model()

    assert warning is not None
    assert "2026-07-24" in warning and "deepseek-flash" in warning


def test_check_model_warns_quickly_when_the_list_is_unreachable() -> None:
    model = OpenAICompatibleChat(settings(closed_port_url()))
    started = time.monotonic()

    warning = model.check_model(timeout=1.0)

    assert warning is not None and "Could not check DEEPSEEK_MODEL" in warning
    assert time.monotonic() - started < 2.0


# --- the fake itself -----------------------------------------------------------------------------


def test_the_fake_says_when_no_sources_are_given() -> None:
    chinese = compose_answer([{"role": "user", "content": "今天天气如何？"}])
    english = compose_answer([{"role": "user", "content": "What is the weather?"}])

    assert "文档" in chinese
    assert "documents" in english


def test_the_fake_is_scriptable_over_http(fake_llm: FakeLLM, make_model: MakeModel) -> None:
    with httpx.Client(base_url=fake_llm.base_url) as http:
        http.post("/_fake/script", json=[503, {"text": "你好。"}]).raise_for_status()
        assert make_model().complete(MESSAGES, deadline=deadline_in(2)) == "你好。"
        recorded = http.get("/_fake/requests").json()
        http.post("/_fake/reset").raise_for_status()

    assert [r["path"] for r in recorded] == ["/chat/completions"] * 2
    assert fake_llm.requests == []


def test_the_fake_answers_without_streaming_after_blank_lines(fake_llm: FakeLLM) -> None:
    fake_llm.script({"keepalive": 0.5})
    client = openai.OpenAI(api_key=KEY, base_url=f"{fake_llm.base_url}/v1", max_retries=0)

    with client:
        completion = client.chat.completions.create(
            model="deepseek-flash", messages=to_openai_messages(MESSAGES)
        )

    assert completion.choices[0].message.content == ANSWER
    assert completion.usage is not None
    assert json.loads(completion.usage.model_dump_json())["prompt_cache_miss_tokens"] > 0
