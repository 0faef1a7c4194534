"""Figures in any notation: reading them, comparing them with their sources, and what the reader
sees when a figure is not supported (the answer marks it, a finding names it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.answer import Answer
from assistant.figures import find_figures, mark_unverified, unsupported_by_citations
from assistant.figures import unsupported_figures as unsupported
from tests.conftest import online_engine
from tests.fakellm import FakeLLM

SEED = "DeepSeek V3版本的训练成本为600万美元。据测算，2024年全球IT总支出达5万亿美元，相较2023年增长6.8%。"


@pytest.mark.parametrize(
    ("text", "value", "kind"),
    [
        ("600万美元", 6e6, "amount"),
        ("六千万美元", 6e7, "amount"),
        ("六百万", 6e6, "amount"),
        ("1.5万亿", 1.5e12, "amount"),
        ("一万五千亿", 1.5e12, "amount"),
        ("15,000亿", 1.5e12, "amount"),
        ("两千亿", 2e11, "amount"),
        ("6 million", 6e6, "amount"),
        ("six million dollars", 6e6, "amount"),
        ("$5.6m", 5.6e6, "amount"),
        ("US$2.5 bn", 2.5e9, "amount"),
        ("百分之十", 10.0, "percent"),
        ("百分之零点五", 0.5, "percent"),
        ("两成", 20.0, "percent"),
        ("三分之一", 100 / 3, "percent"),
        ("ten percent", 10.0, "percent"),
        ("6.8%", 6.8, "percent"),
        ("３倍", 3.0, "times"),
        ("three times", 3.0, "times"),
        ("二〇二五年", 2025.0, "amount"),
        ("六千萬美元", 6e7, "amount"),  # traditional characters, as Hong Kong and Taiwan write
        ("一萬五千億", 1.5e12, "amount"),
        ("兩成", 20.0, "percent"),
    ],
)
def test_a_figure_is_read_as_its_value_in_any_notation(text: str, value: float, kind: str) -> None:
    (figure,) = find_figures(text)
    assert figure.value == pytest.approx(value) and figure.kind == kind
    assert text[figure.start : figure.end] == figure.text


@pytest.mark.parametrize(
    "text",
    [
        "本文为大家一一梳理",
        "这一点十分重要",
        "分为两大阶段",
        "第一阶段",
        "DeepSeek V3版本",
        "一成不变",
    ],
)
def test_words_that_hold_numerals_are_not_figures(text: str) -> None:
    assert find_figures(text) == []


def test_qualifiers_and_ranges_widen_what_a_figure_claims() -> None:
    (about,) = find_figures("约600万")
    assert about.text == "约600万" and about.low < 5.5e6 and about.high > 6.5e6
    (over,) = find_figures("三成以上")
    assert over.low < 30 < 60 == over.high
    (more,) = find_figures("600多万")
    assert (more.low, more.high) == (6e6, 7e6)
    (span,) = find_figures("一到两成")
    assert span.points == (10.0, 20.0) and span.kind == "percent"
    (years,) = find_figures("2020-2024年")
    assert years.points == (2020.0, 2024.0)
    assert [f.text for f in find_figures("2025-02-06")] == ["2025"]  # a date, not a range


@pytest.mark.parametrize(
    "claim",
    [
        "训练成本为6,000,000美元",
        "训练成本为六百万美元",
        "训练成本约为550万美元",
        "训练成本不到1000万美元",
        "训练成本为600多万美元",
        "IT支出超过4万亿美元",
        "IT支出达五万亿美元",
        "IT支出为5 trillion dollars",
        "支出增长近7%",
        "支出增长百分之六点八",
        "支出增长7%",  # 6.8 rounds to 7 at the precision written
        "训练成本为600万美金",
        "it cost $6 million",
        "it cost US$6 million",
        "it cost USD 6 million",
        "it cost 6 million US dollars",
        "训练成本为600万",  # no currency written: the number is the claim
    ],
)
def test_a_figure_the_source_states_in_another_notation_is_supported(claim: str) -> None:
    assert unsupported(claim, [SEED]) == []


@pytest.mark.parametrize(
    ("claim", "figure"),
    [
        ("训练成本为六千万美元", "六千万"),  # ten times the source, in numerals
        ("训练成本超过700万美元", "超过700万"),
        ("IT支出超过1亿美元", "超过1亿"),  # true of 5万亿, but not what the source says
        ("训练成本为560万美元", "560万"),  # more precise than the source
        ("IT支出达6万亿美元", "6万亿"),
        ("支出增长两成", "两成"),
        ("支出增长6.8倍", "6.8倍"),  # a multiple is not a percentage
        ("增长了5%-7%", "5%-7%"),  # a range claims both its ends
        # The same number in another currency is another amount (600万元 is about 86万美元).
        ("训练成本为600万元", "600万"),
        ("训练成本为600万元人民币", "600万"),
        ("训练成本为600万欧元", "600万"),
        ("训练成本为600万港元", "600万"),
        ("it cost HK$6 million", "6 million"),
        ("it cost 6 million yuan", "6 million"),
        ("it cost RMB 6 million", "6 million"),
    ],
)
def test_a_figure_the_source_does_not_state_is_unsupported(claim: str, figure: str) -> None:
    assert [f.text for f in unsupported(claim, [SEED])] == [figure]


def test_each_sentence_is_checked_against_the_sources_it_cites() -> None:
    sources = ["训练成本为600万美元。", "2024年全球IT总支出达5万亿美元。"]
    answer = "训练成本为600万美元[1]。IT支出达5万亿美元[1]。总体看，IT支出达5万亿美元。"
    found = unsupported_by_citations(answer, sources, extra=["2025-02"])
    # [1] does not say 5万亿; the last sentence cites nothing, so any source may support it.
    assert [(f.text, f.start) for f in found] == [("5万亿", answer.index("5万亿"))]


def test_the_marker_follows_the_figure_and_its_currency() -> None:
    answer = "训练成本为六千万美元[1]。"
    marked, moved = mark_unverified(answer, unsupported(answer, [SEED]), "（未核实）")
    assert marked == "训练成本为六千万美元（未核实）[1]。"
    assert [marked[f.start : f.end] for f in moved] == ["六千万"]


def test_the_marker_follows_the_measure_word_of_what_is_counted() -> None:
    answer = "美国采购了1200万张GPU[1]，成本是原来的30倍[1]。"
    marked, _ = mark_unverified(answer, unsupported(answer, [SEED]), "（未核实）")
    assert marked == "美国采购了1200万张（未核实）GPU[1]，成本是原来的30倍（未核实）[1]。"


@pytest.mark.parametrize(
    ("question", "reply", "marked", "marker"),
    [
        (
            "DeepSeek训练花了多少钱？",
            "DeepSeek V3的训练成本为六千万美元[1]。",
            "六千万美元（未核实）[1]",
            "（未核实）",
        ),
        (
            "How much did DeepSeek's training cost?",
            "DeepSeek V3 cost sixty million dollars to train [1].",
            "sixty million dollars (unverified) to train",
            " (unverified)",
        ),
    ],
)
def test_an_unsupported_figure_is_marked_in_the_answer_and_reported(
    seeded, fake_llm: FakeLLM, tmp_path: Path, question: str, reply: str, marked: str, marker: str
) -> None:
    engine = online_engine(seeded[1], fake_llm, tmp_path)
    condense = {"text": f"Q: {question}\nZH: DeepSeek V3的训练成本是多少？"}
    fake_llm.script(*([] if question.isascii() is False else [condense]), {"text": reply})
    answer = engine.ask(question)
    assert isinstance(answer, Answer) and answer.mode == "llm"
    assert marked in answer.answer, answer.answer
    figures = [f for f in answer.findings if f["rule"] == "FIGURE-001"]
    assert len(figures) == 1 and answer.answer.count(marker) == 1
    start, end = int(figures[0]["start"]), int(figures[0]["end"])
    assert answer.answer[start:end] == figures[0]["text"]
    assert any("(unverified)" in n or "未核实" in n for n in answer.notices)
