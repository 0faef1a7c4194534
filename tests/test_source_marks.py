"""Bracketed numbers in source text ([4], 【1】, ［1］, footnote marks) are text, never our markers.

Generated source text full of them goes through the offline, online and fallback paths: no
crash, and every [n] in an answer is one of ours, pointing at a citation that exists.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.answer import Answer
from assistant.citations import markers_by_sentence, normalise_markers, without_marks
from assistant.extractive import render, select_sentences
from assistant.factory import build_engine, build_store, sync_knowledge
from assistant.gate import SentenceGate
from assistant.retrieval import Hit
from assistant.store import KnowledgeStore, StoredChunk
from tests.conftest import online_engine, settings_for
from tests.fakellm import FakeLLM

CLAUSES = [
    "全球科技巨头仍在加码算力基建",
    "推理阶段同样需要大量算力",
    "梧州空难发生在一九九零年代的山间",
    "训练成本下降反而带来更多的需求",
    "该指数由五十只科创板人工智能股票组成",
    "国信证券统计了全球IT支出的变化",
    "开放式基金可能面临巨额赎回的风险",
]
MARKS = ["[4]", "[29]", "【1】", "［1］", "[1,2]", "[^3]", "[注1]", "〔2〕", "[2024]", "[ 7 ]",
         "[3-5]", "[12]", "[1]", "[2]", "【12】"]  # fmt: skip
OUR_MARKER = re.compile(r"\[(\d+)\]")


@st.composite
def marked_text(draw: st.DrawFn) -> str:
    """Sentences of the clauses above with marks inside, after the terminator, or both."""
    sentences = []
    for _ in range(draw(st.integers(2, 8))):
        clause = draw(st.sampled_from(CLAUSES))
        inner = draw(st.sampled_from(["", *MARKS]))
        outer = draw(st.sampled_from(["", "", *MARKS]))
        stop = draw(st.sampled_from(["。", "！", "；", "。\n"]))
        cut = draw(st.integers(0, len(clause)))
        sentences.append(f"{clause[:cut]}{inner}{clause[cut:]}{stop}{outer}")
    return "".join(sentences)


def assert_markers_are_ours(answer: Answer) -> None:
    """Markers run 1..k, each names a citation, and no source mark is left in the answer."""
    numbers = [int(n) for n in OUR_MARKER.findall(answer.answer)]
    assert sorted(set(numbers)) == [c.n for c in answer.citations]
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert not re.search(r"[【［〔]\s*\d", answer.answer), answer.answer
    assert answer.disclosure.strip()


def hit(n: int, text: str) -> Hit:
    return Hit(StoredChunk(f"c{n}", text, {"path": f"a{n}.txt"}), 1.0 / n, 0.9, 1.0)


# -- pure functions: many examples, no store ---------------------------------------------------


@given(st.lists(marked_text(), min_size=1, max_size=4), st.sampled_from(CLAUSES))
@settings(max_examples=150, deadline=None)
def test_excerpts_of_marked_sources_are_numbered_from_what_they_quote(
    texts: list[str], question: str
) -> None:
    hits = [hit(n, text) for n, text in enumerate(texts, start=1)]
    excerpts = select_sentences(question, hits, lambda token: 1.0)
    quoted, sources = render(excerpts)
    assert [int(n) for n in OUR_MARKER.findall(quoted)] == [
        sources.index(e.source) + 1 for e in excerpts
    ]
    assert all(1 <= n <= len(hits) for n in sources)
    for excerpt in excerpts:
        assert without_marks(excerpt.text) == excerpt.text  # quoted without the source's marks


@given(marked_text(), st.integers(1, 5))
@settings(max_examples=150, deadline=None)
def test_a_model_that_copies_source_marks_gets_only_markers_that_name_sources(
    copied: str, n_sources: int
) -> None:
    gate = SentenceGate(["来源文本"] * n_sources)
    for piece in re.findall(r".{1,7}", copied + "[1]。", re.DOTALL):
        gate.feed(piece)
    gate.close()
    assert set(gate.mapping.values()) <= set(range(1, n_sources + 1))
    shown = {int(n) for n in OUR_MARKER.findall(gate.text)}
    assert shown == set(gate.mapping)
    for _, numbers in markers_by_sentence(gate.text):
        assert all(n in gate.mapping for n in numbers)


def test_bracketed_numbers_are_dropped_or_kept_by_the_number_of_sources() -> None:
    assert normalise_markers("一[4]。二［1］。三【2】。年[2024]。", 2) == "一。二[1]。三[2]。年。"
    assert without_marks("坠机事故[4]或梧州空难[5]，山间[29]。报告【1】［2］[注1]。") == (
        "坠机事故或梧州空难，山间。报告。"
    )


# -- the engine: offline, online and fallback over a real store --------------------------------


@pytest.fixture(scope="module")
def marked_store(tmp_path_factory: pytest.TempPathFactory, embedder) -> tuple[Path, KnowledgeStore]:
    tmp = tmp_path_factory.mktemp("marks")
    (tmp / "knowledge").mkdir()
    settings = settings_for(tmp)
    return tmp, build_store(settings, embedder)


def test_marked_sources_never_crash_or_confuse_any_answer_path(
    marked_store: tuple[Path, KnowledgeStore], fake_llm: FakeLLM
) -> None:
    tmp, store = marked_store
    offline = build_engine(settings_for(tmp), store=store)
    online = online_engine(store, fake_llm, tmp)
    answered = {"offline": 0, "llm": 0, "fallback": 0}

    @given(marked_text(), st.sampled_from(CLAUSES), st.sampled_from(MARKS))
    @settings(
        max_examples=8,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    def ask_all_paths(text: str, clause: str, copied_mark: str) -> None:
        (tmp / "knowledge" / "marks.txt").write_text(f"{clause}。{text}", encoding="utf-8")
        assert sync_knowledge(settings_for(tmp), store).ok
        question = f"{clause}吗？"

        answer = offline.ask(question)
        assert_markers_are_ours(answer)
        answered["offline"] += bool(answer.citations)

        # The model copies the source's first sentence, its marks whole, and cites it.
        first = re.match(r"[^。！；\n]*", text).group()  # type: ignore[union-attr]
        fake_llm.script("ok", {"text": f"{clause}{copied_mark}。{first}[1]。"})
        for _ in range(2):
            answer = online.ask(question)
            assert_markers_are_ours(answer)
            answered[answer.mode] += bool(answer.citations)

        fake_llm.script(401)
        answer = online.ask(question)
        assert answer.mode in ("fallback", "llm")  # "llm" only when the floor declined first
        assert_markers_are_ours(answer)
        answered[answer.mode] += bool(answer.citations)

    ask_all_paths()
    assert answered["offline"] and answered["llm"] and answered["fallback"], answered
