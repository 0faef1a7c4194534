"""A question about the article as a whole — what it argues, which sources it cites — is answered
from the article's argument and its attribution lines, not searched for: "这篇文章讲了什么？" was
declined as not in the documents. Real engine and store; the fake model online."""

from __future__ import annotations

import re

import pytest

from assistant.answer import Answer
from assistant.prompts import DraftOptions, message
from assistant.questions import about_the_article
from tests.conftest import expected_disclosure
from tests.fakellm import FakeLLM

# The seed's thesis, the conclusion its case ends with, and the sources its charts credit.
THESIS = "唱衰AI算力股的观点得到阶段性证伪"
CONCLUSION = "整体而言,DeepSeek的火热与成功可能进一步促进了AI算力的成长空间"
BROKERS = ("德邦证券", "国信证券")
# The article's counterpoint and the disclosure: no step of its case.
NOT_THE_CASE = ("进而可能会影响AI算力的成长空间", "投资有风险")

# How readers ask for the article's gist (written before the patterns), and near misses that
# ask about a subject of their own.
OUTLINE = [
    "这篇文章讲了什么？", "这篇文章的结论是什么？", "文章的核心观点是什么？", "文章的主要观点有哪些？",
    "用一句话概括这篇文章", "总结一下这篇文章", "概括一下文章的观点", "文章主要说了什么",
    "这篇文章想表达什么？", "作者的观点是什么？", "文章的论据有哪些？", "文章是怎么论证的？",
    "本文的主旨是什么", "这篇文章的逻辑是什么？", "這篇文章的結論是什麼？", "簡單介紹一下這篇文章",
    "帮我梳理一下这篇文章的逻辑", "文章要点", "这篇文章说的是啥",
    "What is the main point of the article?", "What is the conclusion of this article?",
    "Summarize the article.", "Summarise this article for me", "What does the article argue?",
    "What is the article about?", "Can you give me the gist of the article?",
    "What are the key takeaways of this article?", "How does the article make its case?",
    "TL;DR of the article", "What's the author's main argument?", "这篇文章主要讲什么",
    "What's this article about?", "Give me a summary of the article", "给客户解释一下这篇文章的主要观点",
]  # fmt: skip
CITED_SOURCES = [
    "文章提到了哪些券商的数据？", "文章引用了哪些机构的数据？", "Which brokers' data does the article cite?",
    "文章的数据来源是什么？", "数据来源是哪里？", "文章引用了哪些来源", "What sources does the article cite?",
    "Where do the article's figures come from?", "这篇文章的数据出自哪里", "文章的图表来自哪些机构？",
]  # fmt: skip
NEITHER = [
    "总结一下", "summarise that", "What does the article say about domestic chip substitution?",
    "文章怎么看DeepSeek对算力的影响？", "文章的风险提示说了什么？", "这篇文章是谁写的？",
    "这篇文章是什么时候发的？", "有什么反方观点？", "全球IT支出那张图的数据出自哪家券商？",
    "DeepSeek的核心观点是什么", "杰文斯悖论的主要内容是什么", "在文章的标题中，机器希望终结什么？",
    "Who wrote the paper that the graph was based on?", "What is the main point of the Jevons paradox?",
    "这篇文章的标题是什么？", "文章提到的ETF代码是多少？", "What does the article say about Stargate?",
    "文章中DeepSeek的训练成本是多少？",
]  # fmt: skip


def quotes(answer: Answer) -> list[str]:
    return re.findall(r"^“(.+)”\[\d+\]$", answer.answer, re.MULTILINE)


def assert_sourced(engine, answer: Answer) -> None:
    assert answer.citations, answer.answer
    assert answer.disclosure == expected_disclosure(engine.store, answer)
    for citation in answer.citations:
        assert citation.quote in citation.text and citation.path  # clickable: a passage, a file


def test_what_asks_about_the_article_as_a_whole() -> None:
    assert [q for q in OUTLINE if about_the_article(q) != "outline"] == []
    assert [q for q in CITED_SOURCES if about_the_article(q) != "cited_sources"] == []
    assert [q for q in NEITHER if about_the_article(q) is not None] == []


@pytest.mark.parametrize(
    "question",
    ["这篇文章讲了什么？", "What is the main point of the article?", "這篇文章的結論是什麼？"],
)
def test_the_articles_gist_is_its_argument_in_order_offline(offline, question: str) -> None:
    answer = offline.ask(question)
    assert_sourced(offline, answer)
    said = quotes(answer)
    assert THESIS in said[0], answer.answer  # the view first, then its case, to its conclusion
    assert any(CONCLUSION in q for q in said)
    assert not any(n in q for q in said for n in NOT_THE_CASE), said
    lang = "en" if question.isascii() else "zh"
    label = message(lang, "outline_label", date="\0").split("\0")[0]
    if "這" in question:  # our words in the reader's script
        label = label.replace("为", "為")
    assert answer.answer.startswith(label), answer.answer
    # Every quote stands in the passage its marker cites.
    by_n = {c.n: c.text for c in answer.citations}
    for line in answer.answer.splitlines():
        if found := re.fullmatch(r"“(.+)”\[(\d+)\]", line):
            assert found[1] in by_n[int(found[2])]


def test_the_sources_an_article_cites_are_its_attribution_lines_offline(offline) -> None:
    for question in ("文章引用了哪些机构的数据？", "Which brokers' data does the article cite?"):
        answer = offline.ask(question)
        assert_sourced(offline, answer)
        said = "".join(quotes(answer))
        assert all(broker in said for broker in BROKERS), answer.answer
        assert "全球IT支出" in said  # the chart each credits


def test_the_articles_gist_online_gives_the_model_its_argument(online, fake_llm: FakeLLM) -> None:
    answer = online.ask("这篇文章的核心观点是什么？")
    assert answer.mode == "llm" and answer.citations, answer.answer
    assert answer.disclosure == expected_disclosure(online.store, answer)
    system = fake_llm.chat_requests[-1]["body"]["messages"][0]["content"]
    sources = system.split("<<<资料开始>>>")[1].split("<<<资料结束>>>")[0]
    task = system.split("<<<资料结束>>>")[1]
    assert THESIS in sources and THESIS in task and CONCLUSION in task
    assert "整体讲了什么" in task and not any(n in task for n in NOT_THE_CASE)


def test_the_audit_row_says_the_article_as_a_whole_was_asked(offline) -> None:
    assert offline.audit is not None
    for question, conversation in (
        ("文章讲了什么？", "outline"),
        ("数据来源是哪里？", "cited_sources"),
    ):
        row = offline.audit.turn(offline.ask(question).turn_id)
        assert row is not None and row["conversation"] == conversation, row


@pytest.mark.parametrize(("length", "n"), [("short", 2), ("medium", 3), ("long", 5)])
def test_a_drafts_length_abridges_the_gist_but_keeps_its_view_and_conclusion(
    offline, length: str, n: int
) -> None:
    # A short draft of "the article's main points" quoted every step of the case (eight).
    answer = offline.ask(
        "给客户解释一下这篇文章的主要观点",
        mode="advisor",
        draft=DraftOptions(client_level="C4", length=length),  # type: ignore[arg-type]
    )
    said = quotes(answer)
    assert len(said) == n, answer.answer
    assert THESIS in said[0] and any(CONCLUSION in q for q in said), said
    assert "投资有风险" in answer.disclosure
