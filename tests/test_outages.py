"""Outages of the model API, end to end: the engine against the fake DeepSeek server.

In every fault, in each mode (investor / advisor, streamed / not): the user gets an answer with
the disclosure (excerpts when the model cannot answer), the audit row says what happened, and
once the fault clears the next question is answered by the model again. Then the circuit
breaker (a long outage costs each user nothing once it is open; a half-open probe recovers it)
and the second model that takes over before the excerpts.

Deadlines are 2 s and the backoff base 10 ms, so "keep-alive for minutes" and "slower than the
deadline" cost two seconds each, not minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from assistant.answer import Answer, AnswerEngine, Delta
from assistant.breaker import CircuitBreaker
from assistant.errors import ConfigurationError
from assistant.factory import build_engine
from assistant.failover import FailoverChat
from assistant.llm import ChatModel, OpenAICompatibleChat, model_mode
from assistant.web import create_app
from assistant.web.services import Services
from assistant.web.ui.render import status_line
from tests.conftest import expected_disclosure, settings_for
from tests.fakellm import FakeLLM

QUESTION = "为什么说DeepSeek反而利好算力?"
FOLLOW_UP = "推理算力需求会怎样变化？"
EXCERPT_LABEL = "以下为2025年2月文章的原文摘录"


class Clock:
    """A clock the breaker reads, moved by the test instead of waiting out a cooldown."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def model(
    settings: Any, *, endpoint: str = "primary", clock: Clock | None = None, **breaker: Any
) -> OpenAICompatibleChat:
    return OpenAICompatibleChat(
        settings,
        backoff_base=0.01,
        backoff_cap=0.05,
        endpoint=endpoint,
        breaker=CircuitBreaker(endpoint, clock=clock or Clock(), **breaker),
    )


def engine_for(store: Any, settings: Any, chat: ChatModel) -> AnswerEngine:
    return build_engine(settings, store=store, chat=chat)


def online_settings(fake: FakeLLM, tmp: Path, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "api_key": "sk-main-secret",
        "base_url": fake.base_url,
        "answer_deadline": 2.0,
        "stream_idle_timeout": 1.0,
        "max_retries": 2,
    }
    return settings_for(tmp, **{**values, **overrides})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def engine(seeded, fake_llm: FakeLLM, tmp_path: Path, clock: Clock) -> AnswerEngine:
    settings = online_settings(fake_llm, tmp_path)
    return engine_for(seeded[1], settings, model(settings, clock=clock))


def answer_of(
    engine: AnswerEngine, question: str, audience: str, streamed: bool
) -> tuple[Answer, list[str]]:
    if not streamed:
        return engine.ask(question, mode=audience, channel="api"), []  # type: ignore[arg-type]
    events = list(engine.stream(question, mode=audience, channel="web", session="s-1"))  # type: ignore[arg-type]
    final = events[-1]
    assert isinstance(final, Answer) and all(isinstance(e, Delta) for e in events[:-1])
    return final, [e.text for e in events[:-1] if isinstance(e, Delta)]


def assert_shown_with_disclosure(engine: AnswerEngine, answer: Answer) -> None:
    assert answer.answer.strip()
    assert answer.disclosure == expected_disclosure(engine.store, answer)
    assert "投资有风险" in answer.disclosure


FAULTS = {
    # fault: (script, mode, why, failed attempts as the audit row names them)
    "429-burst-with-retry-after": (
        [{"status": 429, "retry_after": 0.1}] * 2,
        "llm",
        None,
        ["429 rate_limited", "429 rate_limited"],
    ),
    "429-past-the-retries": (
        [{"status": 429, "retry_after": 0.1}] * 3,
        "fallback",
        "rate_limited",
        ["429 rate_limited"] * 3,
    ),
    "500": ([500] * 3, "fallback", "overloaded", ["500 overloaded"] * 3),
    "503": ([503] * 3, "fallback", "overloaded", ["503 overloaded"] * 3),
    "401": ([401], "fallback", "auth", ["401 auth"]),
    "402": ([402], "fallback", "balance", ["402 balance"]),
    "keepalive-for-minutes": ([{"keepalive": 600}] * 3, "fallback", "timeout", None),
    "slower-than-the-deadline": ([{"slow": 600}] * 3, "fallback", "timeout", None),
    "stream-cut-midway": (["cut"], "fallback", "truncated", ["truncated"]),
    "malformed-json-chunk": (["malformed"], "fallback", "malformed", ["malformed"]),
    "empty-content": (["empty"], "fallback", "empty", ["empty"]),
}


@pytest.mark.parametrize("streamed", [True, False], ids=["stream", "ask"])
@pytest.mark.parametrize("audience", ["investor", "advisor"])
@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_fault_still_answers_is_recorded_and_the_model_is_back_next_time(
    engine: AnswerEngine, fake_llm: FakeLLM, fault: str, audience: str, streamed: bool
) -> None:
    steps, mode, why, failures = FAULTS[fault]
    fake_llm.script(*steps)

    answer, deltas = answer_of(engine, QUESTION, audience, streamed)

    assert answer.mode == mode
    assert_shown_with_disclosure(engine, answer)
    if mode == "fallback":
        assert answer.answer.startswith(EXCERPT_LABEL) and answer.citations
        assert any("在线模型暂时不可用" in n for n in answer.notices)
    [row] = engine.audit.turns(limit=1)  # type: ignore[union-attr]
    assert (row["turn_id"], row["outcome"], row["mode"], row["why"]) == (
        answer.turn_id,
        "complete",
        mode,
        why,
    )
    assert row["audience"] == audience and row["answer"] == answer.answer
    assert row["streamed"] == deltas
    [call] = row["calls"]
    assert call["outcome"] == ("ok" if mode == "llm" else why)
    if failures is not None:
        assert call["failures"] == failures
    else:
        assert call["failures"] and set(call["failures"]) == {"timeout"}

    fake_llm.reset()  # the fault clears
    again, _ = answer_of(engine, FOLLOW_UP, audience, streamed)
    assert again.mode == "llm" and again.model == "deepseek-flash"
    assert_shown_with_disclosure(engine, again)
    [row] = engine.audit.turns(limit=1)  # type: ignore[union-attr]
    assert (row["mode"], row["why"], row["calls"][0]["outcome"]) == ("llm", None, "ok")


@pytest.mark.parametrize("fault", ["cut", "malformed"])
def test_sentences_shown_before_a_failure_are_in_the_row_beside_the_excerpts_that_replaced_them(
    engine: AnswerEngine, fake_llm: FakeLLM, fault: str
) -> None:
    text = (
        "杰文斯悖论说明总消耗上升[1]。推理阶段同样需要大量的算力，科技巨头的资本开支也在增加[2]。"
    )
    # Four deltas: the first sentence is whole (and shown) before the break after the second.
    fake_llm.script(
        {"text": text, "malformed": 2} if fault == "malformed" else {"text": text, "cut": "clean"}
    )

    events = list(engine.stream(QUESTION, channel="web"))

    deltas = [e.text for e in events if isinstance(e, Delta)]
    final = events[-1]
    assert isinstance(final, Answer) and final.mode == "fallback"
    assert deltas and "杰文斯悖论" in deltas[0]  # shown before the stream broke
    assert "杰文斯悖论说明" not in final.answer  # the final answer is the excerpts
    [row] = engine.audit.turns(limit=1)  # type: ignore[union-attr]
    assert row["streamed"] == deltas and row["answer"] == final.answer
    assert row["why"] == ("truncated" if fault == "cut" else "malformed")


# --- the circuit breaker -------------------------------------------------------------------------


@pytest.fixture
def fragile(seeded, fake_llm: FakeLLM, tmp_path: Path, clock: Clock) -> AnswerEngine:
    """An engine whose endpoint's breaker opens after 2 failed requests, for 30 s."""
    settings = online_settings(fake_llm, tmp_path, max_retries=1)
    chat = model(settings, clock=clock, failures=2, cooldown=30)
    return engine_for(seeded[1], settings, chat)


def test_a_long_outage_opens_the_breaker_so_later_users_do_not_wait_and_a_probe_recovers(
    fragile: AnswerEngine, fake_llm: FakeLLM, clock: Clock
) -> None:
    fake_llm.script(*[503] * 100)
    for _ in range(2):  # two users wait out the retries (2 requests each): the breaker opens
        assert fragile.ask(QUESTION).mode == "fallback"
    assert len(fake_llm.chat_requests) == 4

    for _ in range(3):  # the next users get the excerpts without a request to the API
        answer = fragile.ask(QUESTION)
        assert answer.mode == "fallback"
        assert_shown_with_disclosure(fragile, answer)
    assert len(fake_llm.chat_requests) == 4
    rows = fragile.audit.turns(limit=3)  # type: ignore[union-attr]
    assert {(r["why"], r["calls"][0]["attempts"]) for r in rows} == {("circuit_open", 0)}

    clock.now += 29  # still cooling down
    assert fragile.ask(QUESTION).mode == "fallback"
    assert len(fake_llm.chat_requests) == 4

    clock.now += 2  # cooldown over; the outage is too: one probe goes and closes the breaker
    fake_llm.reset()
    assert fragile.ask(QUESTION).mode == "llm"
    assert fragile.ask(FOLLOW_UP).mode == "llm"
    assert len(fake_llm.chat_requests) == 2


def test_a_failed_probe_opens_the_breaker_again(
    fragile: AnswerEngine, fake_llm: FakeLLM, clock: Clock
) -> None:
    fake_llm.script(*[503] * 100)
    for _ in range(2):
        fragile.ask(QUESTION)
    clock.now += 31
    assert fragile.ask(QUESTION).mode == "fallback"  # the probe: one request, retried once
    assert len(fake_llm.chat_requests) == 6
    assert fragile.ask(QUESTION).mode == "fallback"  # open again: no request
    assert len(fake_llm.chat_requests) == 6


def test_only_one_request_probes_and_a_probe_whose_reader_left_lets_the_next_one_probe(
    clock: Clock,
) -> None:
    breaker = CircuitBreaker("test", failures=1, cooldown=10, clock=clock)
    breaker.failure(breaker.acquire())
    assert breaker.state == "open" and breaker.acquire() is None
    clock.now += 10
    probe = breaker.acquire()
    assert probe is not None and breaker.state == "half_open"
    assert breaker.acquire() is None  # others fail at once while the probe is out
    breaker.release(probe)  # its reader left: nothing learnt
    second = breaker.acquire()
    assert second is not None
    breaker.success(second)
    assert breaker.state == "closed" and breaker.acquire() is not None


def test_questions_the_provider_refuses_on_their_merits_do_not_open_the_breaker(
    fragile: AnswerEngine, fake_llm: FakeLLM
) -> None:
    fake_llm.script("empty", "empty", {"finish_reason": "content_filter"}, 422)
    for _ in range(4):
        assert fragile.ask(QUESTION).mode == "fallback"
    assert fragile.ask(QUESTION).mode == "llm"
    assert len(fake_llm.chat_requests) == 5


# --- a second model -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def second_server() -> Iterator[FakeLLM]:
    fake = FakeLLM().start()
    yield fake
    fake.stop()


@pytest.fixture
def second_llm(second_server: FakeLLM) -> Iterator[FakeLLM]:
    second_server.reset()
    yield second_server
    assert not second_server.crashes


@pytest.fixture
def with_fallback(
    seeded, fake_llm: FakeLLM, second_llm: FakeLLM, tmp_path: Path, clock: Clock
) -> AnswerEngine:
    settings = online_settings(fake_llm, tmp_path, max_retries=1, answer_deadline=3.0)
    backup = settings.model_copy(
        update={
            "base_url": second_llm.base_url,
            "api_key": SecretStr("sk-backup-secret"),
            "model": "backup-model",
        }
    )
    chat = FailoverChat(
        model(settings, clock=clock, failures=2, cooldown=30),
        model(backup, endpoint="fallback", clock=clock, failures=2, cooldown=30),
    )
    return engine_for(seeded[1], settings, chat)


@pytest.mark.parametrize("streamed", [True, False], ids=["stream", "ask"])
@pytest.mark.parametrize(
    ("steps", "kind"),
    [([503, 503], "overloaded"), ([401], "auth"), ([{"keepalive": 600}] * 2, "timeout")],
    ids=["503", "401", "keepalive"],
)
def test_the_second_model_answers_before_the_excerpts_and_says_so(
    with_fallback: AnswerEngine,
    fake_llm: FakeLLM,
    second_llm: FakeLLM,
    steps: list[Any],
    kind: str,
    streamed: bool,
) -> None:
    fake_llm.script(*steps)

    answer, _ = answer_of(with_fallback, QUESTION, "investor", streamed)

    assert answer.mode == "llm" and answer.model == "backup-model"
    assert any("backup-model" in n and "备用模型" in n for n in answer.notices)
    assert_shown_with_disclosure(with_fallback, answer)
    [request] = second_llm.chat_requests
    assert request["body"]["model"] == "backup-model"
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert headers["authorization"] == "Bearer sk-backup-secret"  # never the main key
    [row] = with_fallback.audit.turns(limit=1)  # type: ignore[union-attr]
    assert (row["model"], row["why"]) == ("backup-model", f"failover:{kind}")
    assert [(c["endpoint"], c["outcome"]) for c in row["calls"]] == [
        ("primary", kind),
        ("fallback", "ok"),
    ]


def test_when_both_models_fail_the_excerpts_answer_and_the_row_has_both_failures(
    with_fallback: AnswerEngine, fake_llm: FakeLLM, second_llm: FakeLLM
) -> None:
    fake_llm.script(402)
    second_llm.script(503, 503)

    answer = with_fallback.ask(QUESTION)

    assert answer.mode == "fallback" and answer.answer.startswith(EXCERPT_LABEL)
    assert_shown_with_disclosure(with_fallback, answer)
    [row] = with_fallback.audit.turns(limit=1)  # type: ignore[union-attr]
    assert [(c["endpoint"], c["outcome"]) for c in row["calls"]] == [
        ("primary", "balance"),
        ("fallback", "overloaded"),
    ]


def test_with_the_main_breaker_open_the_second_model_answers_at_once(
    with_fallback: AnswerEngine, fake_llm: FakeLLM, second_llm: FakeLLM
) -> None:
    fake_llm.script(*[503] * 100)
    for _ in range(2):
        with_fallback.ask(QUESTION)
    before = len(fake_llm.chat_requests)

    answer = with_fallback.ask(QUESTION)

    assert answer.model == "backup-model"
    assert len(fake_llm.chat_requests) == before
    [row] = with_fallback.audit.turns(limit=1)  # type: ignore[union-attr]
    assert row["why"] == "failover:circuit_open"


def test_the_factory_wires_the_second_endpoint_from_settings(
    seeded, fake_llm: FakeLLM, second_llm: FakeLLM, tmp_path: Path
) -> None:
    settings = online_settings(
        fake_llm,
        tmp_path,
        fallback_base_url=second_llm.base_url,
        fallback_api_key="sk-backup-secret",
        fallback_model="backup-model",
    )
    engine = build_engine(settings, store=seeded[1], check_model=False)
    fake_llm.script(401)

    answer = engine.ask(QUESTION)

    assert answer.model == "backup-model"
    assert len(second_llm.chat_requests) == 1


def test_a_second_endpoint_without_its_own_key_is_refused_at_start(
    seeded, fake_llm: FakeLLM, second_llm: FakeLLM, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = online_settings(fake_llm, tmp_path, fallback_base_url=second_llm.base_url)
    with pytest.raises(ConfigurationError, match="DEEPSEEK_FALLBACK_API_KEY"):
        build_engine(settings, store=seeded[1], check_model=False)

    caplog.set_level(logging.DEBUG)
    same_host = online_settings(fake_llm, tmp_path, fallback_model="deepseek-v4-pro")
    engine = build_engine(same_host, store=seeded[1], check_model=False)
    fake_llm.script(401)
    assert engine.ask(QUESTION).model == "deepseek-v4-pro"
    assert "sk-main-secret" not in caplog.text


def test_health_and_the_page_say_so_while_the_breaker_is_open(
    fragile: AnswerEngine, fake_llm: FakeLLM, clock: Clock, tmp_path: Path
) -> None:
    settings = online_settings(fake_llm, tmp_path)
    client = TestClient(create_app(settings, Services(fragile), ui="none"))
    assert client.get("/healthz").json()["mode"] == "llm"
    fake_llm.script(*[503] * 100)
    for _ in range(2):
        fragile.ask(QUESTION)
    assert client.get("/healthz").json()["mode"] == "fallback"
    line = status_line("zh", model_mode(fragile.chat), "deepseek-flash", 1)
    assert "在线模型暂不可用" in line and "deepseek-flash 连续请求失败" in line
    assert "在线模型：" not in line

    clock.now += 31  # the cooldown over, the next request may probe: not "unavailable" any more
    assert client.get("/healthz").json()["mode"] == "llm"
    assert "在线模型：" in status_line("zh", model_mode(fragile.chat), "deepseek-flash", 1)
