"""Conversations as people have them: the case against, chained follow-ups, a request about the
last answer, a question pasted with an article. Real engine and store; the fake model online."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import gradio as gr
import httpx
import pytest
from fastapi.testclient import TestClient

from assistant.answer import Answer, Delta
from assistant.citations import markers_by_sentence
from assistant.config import Settings
from assistant.conversation import pasted
from assistant.errors import InputError
from assistant.factory import build_engine, build_store, sync_knowledge
from assistant.prompts import Lang, Turn, message, prompt
from assistant.store import KnowledgeStore
from assistant.text import split_sentences
from assistant.web import Services, create_app
from assistant.web.openai_compat import MODELS
from assistant.web.ui.investor import Chat
from assistant.web.widget import page_config
from tests.conftest import ROOT, expected_disclosure, online_engine, settings_for
from tests.fakellm import FakeLLM, parse_sources

FIXTURES = Path(__file__).parent / "fixtures"
# The seed's bear-case section concludes (its argument map's counterpoint):
BEAR_CASE = "进而可能会影响AI算力的成长空间"
# ... and the article's own case, which no counterpoint may be:
PITCH = ["促进了AI算力的成长空间", "杰文斯悖论", "持续加大AI资本开支", "有力工具", "得到阶段性证伪"]


def assert_sourced(engine, answer: Answer) -> None:
    assert answer.citations, answer.answer
    assert answer.disclosure == expected_disclosure(engine.store, answer)
    assert "投资有风险" in answer.disclosure
    for citation in answer.citations:
        assert citation.quote in citation.text and citation.path  # clickable: a passage, a file


def opening(lang: Lang, key: str) -> str:
    """A dated message's words before its date."""
    return message(lang, key, date="\0").split("\0")[0]


def quotes(answer: Answer) -> list[str]:
    return re.findall(r"^“(.+)”\[\d+\]$", answer.answer, re.MULTILINE)


# -- the case against --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question", ["有什么反方观点？", "What are the counterarguments?", "看空的理由是什么？"]
)
def test_a_request_for_the_counterarguments_gets_the_articles_own_offline(
    offline, question: str
) -> None:
    answer = offline.ask(question)
    assert_sourced(offline, answer)
    said = quotes(answer)
    assert any(BEAR_CASE in q for q in said), answer.answer
    assert any("风险" in q for q in said)  # the risks the disclosure names
    assert not any(p in q for q in said for p in PITCH), said
    assert message("en" if question.isascii() else "zh", "ai_label") in answer.notices


def test_a_request_for_the_counterarguments_gives_the_model_the_articles_own(
    online, fake_llm: FakeLLM
) -> None:
    answer = online.ask("有什么反方观点？")
    assert answer.mode == "llm" and answer.citations, answer.answer
    assert answer.disclosure == expected_disclosure(online.store, answer)
    system = fake_llm.chat_requests[-1]["body"]["messages"][0]["content"]
    sources = system.split("<<<资料开始>>>")[1].split("<<<资料结束>>>")[0]
    task = system.split("<<<资料结束>>>")[1]
    assert BEAR_CASE in sources and BEAR_CASE in task  # the passage, and named as the case against
    assert "反方观点" in task and not any(p in task for p in PITCH)
    cited = {c.chunk_id for c in answer.citations}
    assert any(BEAR_CASE in chunk.text for chunk in online.store.get(list(cited)))


def test_an_english_request_for_the_counterarguments_is_answered_online(
    online, fake_llm: FakeLLM
) -> None:
    # An English question is rewritten first; the rewrite keeps it a request for the case against.
    fake_llm.script({"text": "Q: What are the counterarguments?\nZH: 有哪些反方观点？"}, "ok")
    answer = online.ask("What are the counterarguments?")
    assert answer.mode == "llm" and answer.citations
    system = fake_llm.chat_requests[-1]["body"]["messages"][0]["content"]
    assert BEAR_CASE in system.split("<<<资料结束>>>")[1]


# A second article, newer than the seed, on a related subject, with its own case against.
ROBOTS = """6月以来,多家厂商发布人形机器人量产计划,产业链订单明显增加。
因此,人形机器人产业有望从样机阶段走向规模量产,本文梳理其中的逻辑。
一、为什么有人担忧人形机器人只是概念炒作?
人形机器人的核心零部件如减速器、伺服电机和灵巧手的成本仍然较高,单台整机售价远高于工业机器人。同时,真实工厂场景中的应用案例仍然有限,订单多为小批量试用。因此,短期内人形机器人的商业化进度可能低于市场预期,相关公司的业绩兑现存在不确定性。
二、为何人形机器人产业仍值得关注?
(1)成本下降路径清晰:随着国产零部件规模化生产,减速器和伺服电机的价格每年明显下降。
(2)大模型赋予机器人更强的理解能力:多模态大模型让机器人能够理解自然语言指令,完成分拣、搬运等任务。
整体而言,人形机器人产业链可能迎来从零到一的突破。
"""
ROBOTS_CASE = "短期内人形机器人的商业化进度可能低于市场预期"


@pytest.fixture(scope="module")
def two_articles(
    tmp_path_factory: pytest.TempPathFactory, embedder
) -> tuple[Settings, KnowledgeStore]:
    """The seed and a newer article on robots, ingested once for this module."""
    tmp = tmp_path_factory.mktemp("two-articles")
    shutil.copytree(ROOT / "knowledge", tmp / "knowledge")
    (tmp / "knowledge" / "robots.txt").write_text(ROBOTS, encoding="utf-8")
    (tmp / "knowledge" / "robots.meta.toml").write_text(
        'title = "人形机器人：量产元年的机会与分歧"\npublisher = "银华基金"\npublished = "2025-06"\n',
        encoding="utf-8",
    )
    settings = settings_for(tmp)
    store = build_store(settings, embedder)
    assert sync_knowledge(settings, store).ok
    return settings, store


def _paths(answer: Answer) -> set[str]:
    return {c.path for c in answer.citations}


@pytest.mark.parametrize("follow_up", ["有什么反方观点？", "那么有哪些看空的理由需要注意呢？"])
@pytest.mark.parametrize(
    ("asked", "case", "other", "path"),
    [
        ("人形机器人的零部件成本为什么高？", ROBOTS_CASE, BEAR_CASE, "robots.txt"),
        ("为什么说DeepSeek反而利好算力?", BEAR_CASE, ROBOTS_CASE, "000_bb0ece290725cdd0.txt"),
    ],
)
def test_the_case_against_after_a_conversation_is_that_of_the_article_it_is_about(
    two_articles, tmp_path: Path, asked: str, case: str, other: str, path: str, follow_up: str
) -> None:
    engine = build_engine(settings_for(tmp_path), store=two_articles[1])
    first, history = _first_turn(engine, asked)
    assert _paths(first) == {path}, first.answer
    answer = engine.ask(follow_up, history)
    assert_sourced(engine, answer)
    said = quotes(answer)
    assert any(case in q for q in said) and not any(other in q for q in said), answer.answer
    assert _paths(answer) == {path}
    assert not any(p in q for q in said for p in PITCH)


def test_the_case_against_with_no_conversation_is_the_newest_articles_said_so(
    two_articles, tmp_path: Path
) -> None:
    engine = build_engine(settings_for(tmp_path), store=two_articles[1])
    answer = engine.ask("有什么反方观点？")
    assert_sourced(engine, answer)
    assert any(ROBOTS_CASE in q for q in quotes(answer)), answer.answer
    assert _paths(answer) == {"robots.txt"}
    newest = message(
        "zh", "counter_newest", title="人形机器人：量产元年的机会与分歧", date="2025年6月"
    )
    assert newest in answer.notices, answer.notices


def test_the_case_against_a_subject_it_names_is_that_subjects_article(
    two_articles, tmp_path: Path
) -> None:
    engine = build_engine(settings_for(tmp_path), store=two_articles[1])
    history = [Turn("user", "人形机器人的零部件成本为什么高？"), Turn("assistant", "……[1]")]
    for asked in ("DeepSeek有什么反方观点？", "关于DeepSeek和算力，看空的理由是什么？"):
        answer = engine.ask(asked, history)
        assert any(BEAR_CASE in q for q in quotes(answer)), answer.answer
        newest = message("zh", "counter_newest", title="\0", date="\0").split("\0")[0]
        assert not any(n.startswith(newest) for n in answer.notices)


def test_the_case_against_online_after_a_conversation_gives_the_model_that_article(
    two_articles, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    engine = online_engine(two_articles[1], fake_llm, tmp_path)
    first, history = _first_turn(engine, "人形机器人的零部件成本为什么高？")
    assert _paths(first) == {"robots.txt"}, first.answer
    answer = engine.ask("那么有哪些看空的理由需要注意呢？", history)
    assert answer.mode == "llm" and _paths(answer) == {"robots.txt"}, answer.answer
    assert answer.disclosure == expected_disclosure(engine.store, answer)
    task = fake_llm.chat_requests[-1]["body"]["messages"][0]["content"].split("<<<资料结束>>>")[1]
    assert ROBOTS_CASE in task and BEAR_CASE not in task


@pytest.mark.parametrize(
    ("asked", "thesis", "path"),
    [
        (
            "人形机器人的零部件成本为什么高？",
            "人形机器人产业有望从样机阶段走向规模量产",
            "robots.txt",
        ),
        (
            "为什么说DeepSeek反而利好算力?",
            "唱衰AI算力股的观点得到阶段性证伪",
            "000_bb0ece290725cdd0.txt",
        ),
    ],
)
def test_the_gist_of_this_article_is_that_of_the_article_the_conversation_is_about(
    two_articles, tmp_path: Path, asked: str, thesis: str, path: str
) -> None:
    engine = build_engine(settings_for(tmp_path), store=two_articles[1])
    _, history = _first_turn(engine, asked)
    answer = engine.ask("这篇文章讲了什么？", history)
    assert_sourced(engine, answer)
    assert thesis in quotes(answer)[0], answer.answer
    assert _paths(answer) == {path}


def test_the_gist_with_no_conversation_and_several_articles_is_each_ones_view(
    two_articles, tmp_path: Path
) -> None:
    # "This article" with two articles and no conversation could be either: each one's view,
    # the newest first, and how to ask about one.
    engine = build_engine(settings_for(tmp_path), store=two_articles[1])
    answer = engine.ask("文章的核心观点是什么？")
    assert_sourced(engine, answer)
    assert answer.answer.startswith(opening("zh", "outlines_label")), answer.answer
    said = quotes(answer)
    assert "人形机器人产业有望从样机阶段走向规模量产" in said[0]  # the newer article's first
    assert any("唱衰AI算力股的观点得到阶段性证伪" in q for q in said[1:])
    assert _paths(answer) == {"robots.txt", "000_bb0ece290725cdd0.txt"}
    assert message("zh", "outlines_hint") in answer.notices


# -- chained follow-ups ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "turns",
    [
        ["DeepSeek是什么？", "它为什么便宜？", "它对算力需求有什么影响？"],
        ["What is DeepSeek?", "Why is it cheap?", "How does it affect demand for compute?"],
    ],
)
def test_a_chained_follow_up_borrows_the_last_topic_that_stood_alone_offline(
    offline, turns: list[str]
) -> None:
    history: list[Turn] = []
    for question in turns[:-1]:
        history += [
            Turn("user", question),
            Turn("assistant", offline.ask(question, history).answer),
        ]
    answer = offline.ask(turns[-1], history)
    assert_sourced(offline, answer)
    [row] = offline.audit.turns(limit=1)
    assert row["standalone"] == f"{turns[0]} {turns[-1]}"  # not "它为什么便宜？ 它对…"


def test_a_greeting_is_no_topic_to_borrow(offline) -> None:
    history = [
        Turn("user", "你好"),
        Turn("assistant", message("zh", "introduction", topics=offline.site.topics["zh"])),
    ]
    offline.ask("DeepSeek是什么？", history)
    [row] = offline.audit.turns(limit=1)
    assert row["standalone"] == "DeepSeek是什么？"


def test_a_follow_up_after_a_turn_to_something_new_borrows_that(offline) -> None:
    history = [
        Turn("user", "DeepSeek是什么？"),
        Turn("assistant", "……"),
        Turn("user", "那杰文斯悖论呢？"),
        Turn("assistant", "……"),
    ]
    offline.ask("它是什么意思？", history)
    [row] = offline.audit.turns(limit=1)
    assert row["standalone"] == "杰文斯悖论 它是什么意思？"


# -- a request about the last answer -----------------------------------------------------------


def _first_turn(engine, question: str) -> tuple[Answer, list[Turn]]:
    first = engine.ask(question)
    return first, [Turn("user", question), Turn("assistant", first.answer)]


@pytest.mark.parametrize(
    ("asked", "follow_up"),
    [("DeepSeek是什么？", "总结一下"), ("What is DeepSeek?", "summarise that")],
)
def test_a_summary_of_the_last_answer_rests_on_its_own_passages_offline(
    offline, asked: str, follow_up: str
) -> None:
    first, history = _first_turn(offline, asked)
    answer = offline.ask(follow_up, history)
    assert_sourced(offline, answer)
    assert quotes(answer) == quotes(first)  # what it quoted, nothing the store found for "总结"
    assert {c.chunk_id for c in answer.citations} == {c.chunk_id for c in first.citations}
    lang = "en" if asked.isascii() else "zh"
    assert answer.answer.startswith(opening(lang, "recap_label"))


@pytest.mark.parametrize(
    ("follow_up", "at"),
    [
        ("刚才第二点再说一遍", 1),
        ("第三点是什么意思？", 2),
        ("最后一点再说一遍", -1),
        ("Repeat the last point", -1),
    ],
)
def test_one_point_of_the_last_answer_is_said_again_with_its_source(
    offline, follow_up: str, at: int
) -> None:
    first, history = _first_turn(offline, "DeepSeek是什么？")
    answer = offline.ask(follow_up, history)
    meant = quotes(first)[at]
    assert quotes(answer) == [meant]
    [citation] = answer.citations
    assert meant in citation.text
    assert_sourced(offline, answer)


def test_a_summary_online_gives_the_model_the_last_answers_passages(
    online, fake_llm: FakeLLM
) -> None:
    first, history = _first_turn(online, "DeepSeek V3的训练成本是多少？")
    answer = online.ask("总结一下", history)
    assert answer.mode == "llm" and answer.citations
    before = {c.chunk_id for c in first.citations}
    assert {c.chunk_id for c in answer.citations} <= before
    request = fake_llm.chat_requests[-1]["body"]["messages"]
    # "总结一下" is not rewritten into a search: every request is the answer's own
    condense = prompt("condense")
    assert not any(r["body"]["messages"][0]["content"] == condense for r in fake_llm.chat_requests)
    assert [m["role"] for m in request] == ["system", "user", "assistant", "user"]
    for chunk in online.store.get(list(before)):
        assert chunk.text.split("。")[0] in request[0]["content"].replace("\n", " ")


@pytest.mark.parametrize("asked", ["DeepSeek V3的训练成本是多少？", "什么是杰文斯悖论？"])
def test_a_summary_online_cites_each_sentence_by_the_passage_that_holds_it(
    online, fake_llm: FakeLLM, asked: str
) -> None:
    # A model asked to sum up restates its last turn as it was shown: the markers it sees must
    # number the passages it is given now, not those of the turn before.
    first, history = _first_turn(online, asked)
    said = [claim for claim, numbers in markers_by_sentence(first.answer) if numbers]
    assert said, first.answer
    fake_llm.script("restate")
    answer = online.ask("总结一下", history)
    assert answer.mode == "llm", answer.notices
    restated = markers_by_sentence(answer.answer)
    assert [claim for claim, numbers in restated if numbers] == said  # nothing dropped
    cited = {c.n: c for c in answer.citations}
    for claim, numbers in restated:
        for n in numbers:
            assert claim.rstrip("。") in cited[n].text.replace("\n", ""), (claim, n, cited[n].text)
    shown = fake_llm.chat_requests[-1]["body"]["messages"]
    sources = parse_sources(shown[0]["content"])
    for claim, numbers in markers_by_sentence(shown[2]["content"]):  # the last answer, as sent
        assert all(claim.rstrip("。") in " ".join(sources[n].split()) for n in numbers), claim


def test_a_summary_with_the_model_down_quotes_the_last_answers_passages(
    online, fake_llm: FakeLLM
) -> None:
    first, history = _first_turn(online, "DeepSeek V3的训练成本是多少？")
    fake_llm.script(503, 503, 503)  # the model is down for the summary
    answer = online.ask("总结一下", history)
    assert answer.mode == "fallback" and answer.citations
    # The app is not offline: the model is unavailable, as the notice says, and the label agrees.
    label = answer.answer.splitlines()[0]
    assert label.startswith("以下为上一回答所引的") and "离线" not in label
    assert {c.chunk_id for c in answer.citations} <= {c.chunk_id for c in first.citations}
    assert answer.disclosure == expected_disclosure(online.store, answer)


def test_a_summary_with_nothing_answered_before_is_asked_as_a_question(offline) -> None:
    history = [
        Turn("user", "比特币现在多少钱？"),
        Turn("assistant", message("zh", "not_found", topics=offline.site.topics["zh"])),
    ]
    answer = offline.ask("总结一下", history)
    assert not answer.answer.startswith(opening("zh", "recap_label"))


# -- a question pasted with an article ---------------------------------------------------------


def _pasted(name: str, asked: str = "这篇文章说得对吗？") -> tuple[str, str]:
    text = (FIXTURES / name).read_text(encoding="utf-8").strip()
    return text, f"{text}\n\n{asked}"


def test_what_reads_as_a_pasted_text_and_the_readers_question_about_it() -> None:
    text, _ = _pasted("pasted_compute.txt")
    asked = "这篇文章说得对吗？"
    for message_ in (f"{text}\n\n{asked}", f"{asked}\n{text}", f"{text}{asked}"):
        found = pasted(message_)
        assert found is not None and found.asked == asked
        assert found.text.split() == text.split()  # the text whole, the question apart
    # A reader who describes their situation at length asks a question; they paste nothing.
    long_question = (
        "我今年六十岁，刚刚退休，每个月有一笔退休金，另外还有一些存款放在银行做定期，"
        "最近看到很多关于人工智能和算力的新闻，身边的朋友也在讨论相关的基金产品，"
        "我对这方面不太了解，平时也很少买基金，家里人的意见也不统一，有的说风险太大，"
        "有的说可以少量配置一些，我自己也拿不定主意，想先弄清楚这个主题本身到底讲的是什么，"
        "所以想请问一下，DeepSeek的出现对算力需求到底有什么影响？"
    )
    assert len(long_question) >= 150 and pasted(long_question * 2) is None
    assert pasted("DeepSeek是什么？") is None


@pytest.mark.parametrize(
    ("name", "asked", "lang"),
    [
        ("pasted_compute.txt", "这篇文章说得对吗？", "zh"),
        ("pasted_compute_en.txt", "Is this article right?", "en"),
    ],
)
def test_a_pasted_article_on_our_subject_is_answered_from_our_sources_offline(
    offline, name: str, asked: str, lang: Lang
) -> None:
    text, question = _pasted(name, asked)
    answer = offline.ask(question)
    assert answer.answer.startswith(message(lang, "pasted_note"))
    assert_sourced(offline, answer)
    pasted_sentences = [s for s in re.split(r"(?<=[。？！.?!])\s*", text) if len(s) > 12]
    assert not any(s in answer.answer for s in pasted_sentences)  # never shown as a source
    assert not any(s in c.text for c in answer.citations for s in pasted_sentences)
    assert any("推理" in q or "算力" in q for q in quotes(answer))


def test_a_pasted_article_on_another_subject_is_declined_in_words_that_say_why(offline) -> None:
    _, question = _pasted("pasted_property.txt")
    answer = offline.ask(question)
    assert answer.answer == message("zh", "pasted_declined", topics=offline.site.topics["zh"])
    assert not answer.citations
    assert "投资有风险" in answer.disclosure


def test_a_pasted_article_is_never_sent_to_the_model(online, fake_llm: FakeLLM) -> None:
    text, question = _pasted("pasted_compute.txt")
    events = list(online.stream(question))
    answer = events[-1]
    assert isinstance(answer, Answer)
    assert events[0].text.strip() == message("zh", "pasted_note")  # said first, as it is shown
    assert answer.mode == "llm" and answer.citations
    assert answer.answer.startswith(message("zh", "pasted_note"))
    # What streamed is the answer (SSE, /v1): the note stood glued to the model's first sentence.
    assert "".join(e.text for e in events if isinstance(e, Delta)) == answer.answer
    sent = "\n".join(m["content"] for r in fake_llm.chat_requests for m in r["body"]["messages"])
    assert text[40:80] not in sent and "这篇文章说得对吗？" in sent
    assert answer.disclosure == expected_disclosure(online.store, answer)


def test_a_pasted_article_is_not_sent_to_the_model_on_the_turns_after_it_either(
    online, fake_llm: FakeLLM
) -> None:
    # The turn that pasted kept the text from the model; the next turn's history sent it whole
    # (and its first 500 characters to the question rewrite).
    text, question = _pasted("pasted_compute.txt")
    history = [Turn("user", question), Turn("assistant", online.ask(question).answer)]
    fake_llm.reset()
    answer = online.ask("那推理阶段的算力呢？", history)
    assert answer.mode == "llm" and answer.citations
    requests = fake_llm.chat_requests
    assert len(requests) == 2  # the rewrite, then the answer
    for request in requests:
        sent = "\n".join(str(m["content"]) for m in request["body"]["messages"])
        assert text[:40] not in sent and text[400:440] not in sent, sent
        assert "这篇文章说得对吗？" in sent  # what the reader asked of it is still theirs


def test_the_audit_row_says_what_the_conversation_asked(offline) -> None:
    # A recap, the case against and a pasted text left rows like any question's (why: no_key):
    # the trail could not be searched for the answers built from the last one, from the article's
    # own counterpoints, or for the turns whose question holds a text that is not ours.
    first = offline.ask("为什么说DeepSeek反而利好算力?")
    history = [Turn("user", "为什么说DeepSeek反而利好算力?"), Turn("assistant", first.answer)]
    _, question = _pasted("pasted_compute.txt")
    asked = {
        "recap": offline.ask("总结一下", history),
        "counterpoints": offline.ask("有什么反方观点？"),
        "pasted": offline.ask(question),
        None: first,
    }
    assert offline.audit is not None
    for conversation, answer in asked.items():
        row = offline.audit.turn(answer.turn_id)
        assert row is not None and row["conversation"] == conversation, (conversation, row)
    assert offline.audit.verify().ok


# -- a pasted article longer than a question -----------------------------------------------------


def _long_paste(times: int = 1) -> tuple[str, str]:
    """A news article of about 2,900 characters (``times`` of it), and the reader's question."""
    text, _ = _pasted("pasted_compute_long.txt")
    text = "\n\n".join([text] * times)
    return text, f"{text}\n\n这篇文章说得对吗？"


def test_a_pasted_news_article_longer_than_a_question_is_answered_offline(offline) -> None:
    text, question = _long_paste()
    settings = offline.settings
    assert settings.max_question_chars < len(question) <= settings.max_pasted_chars
    answer = offline.ask(question)
    assert answer.answer.startswith(message("zh", "pasted_note")), answer.answer
    assert_sourced(offline, answer)
    assert not any(s in answer.answer for s in split_sentences(text) if len(s) > 12)


def test_a_text_too_long_is_refused_in_words_that_say_what_was_read(offline) -> None:
    _, question = _long_paste(4)  # a report of about 11,600 characters
    assert len(question) > offline.settings.max_pasted_chars
    with pytest.raises(InputError) as refused:
        offline.ask(question)
    said = str(refused.value)
    assert "pasted" in said and "ASSISTANT_MAX_PASTED_CHARS" in said, said
    assert f"{len(question)}" in said and f"{offline.settings.max_pasted_chars}" in said
    # What pastes nothing is a question, held to the question's limit as before.
    with pytest.raises(InputError, match="ASSISTANT_MAX_QUESTION_CHARS"):
        offline.ask("算" * 2500)


@pytest.fixture
def app_client(seeded, tmp_path: Path) -> TestClient:
    """The HTTP app (/api/chat, the widget's door, /v1) on the seeded store, with no key."""
    settings = settings_for(tmp_path)
    return TestClient(create_app(settings, Services(build_engine(settings, store=seeded[1]))))


def _asked(client: TestClient, path: str, question: str, history: list[Turn]) -> httpx.Response:
    turns = [{"role": t.role, "content": t.content} for t in history]
    if path == "/v1/chat/completions":
        messages = [*turns, {"role": "user", "content": question}]
        return client.post(path, json={"model": next(iter(MODELS)), "messages": messages})
    body = {"message": question, "history": turns}
    return client.post(path, json=body, headers={"Origin": "http://testserver"})


@pytest.mark.parametrize("path", ["/api/chat", "/embed/chat", "/v1/chat/completions"])
def test_every_http_path_answers_a_long_paste_and_refuses_a_longer_one_alike(
    app_client: TestClient, path: str
) -> None:
    note = message("zh", "pasted_note")
    _, question = _long_paste()
    answered = _asked(app_client, path, question, [])
    assert answered.status_code == 200, answered.text
    body = answered.json()
    said = body["choices"][0]["message"]["content"] if "choices" in body else body["answer"]
    assert said.startswith(note) and "投资有风险" in json.dumps(body, ensure_ascii=False)
    # The turn after it carries the paste in its history (here one of about 5,800 characters,
    # over ASSISTANT_MAX_TURN_CHARS): the follow-up is answered, not refused.
    _, twice = _long_paste(2)
    assert len(twice) > settings_for(Path()).max_turn_chars
    history = [Turn("user", twice), Turn("assistant", note)]
    follow_up = _asked(app_client, path, "那推理阶段的算力呢？", history)
    assert follow_up.status_code == 200, follow_up.text
    _, too_long = _long_paste(4)
    refused = _asked(app_client, path, too_long, [])
    assert refused.status_code == 413, refused.text
    error = refused.json()["error"]
    sentence = error["message"] if isinstance(error, dict) else error
    assert "pasted" in sentence and "ASSISTANT_MAX_PASTED_CHARS" in sentence, sentence


def test_the_widget_lets_a_reader_paste_what_the_server_accepts(seeded, tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    _, question = _long_paste()
    assert page_config(settings, "zh", None, None)["limits"]["question"] >= len(question)  # type: ignore[index]


def test_the_web_chat_answers_a_long_paste_and_says_why_it_refuses_a_longer_one(
    offline,
) -> None:
    chat = Chat(offline, offline.settings.max_question_chars, lambda request: None)
    _, question = _long_paste()
    *_, (_, turns, _) = chat.ask(question, [], "zh", gr.Request())
    assert turns[-1].answer is not None and not turns[-1].error
    assert turns[-1].answer.answer.startswith(message("zh", "pasted_note"))
    _, too_long = _long_paste(4)
    with pytest.warns(UserWarning) as warned:  # gr.Warning, outside a page
        list(chat.ask(too_long, [], "zh", gr.Request()))
    said = str(warned[0].message)
    limit = offline.settings.max_pasted_chars
    assert said == message("zh", "pasted_too_long", n=len(too_long.strip()), limit=limit)
