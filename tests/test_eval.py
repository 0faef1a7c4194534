"""The evaluation harness end to end on a tiny SQuAD file, and retrieval on the seed questions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.config import Settings
from assistant.embeddings import E5Embedder
from assistant.eval import load_jsonl_cases, main, misses, rank_figures, run_cases
from assistant.retrieval import Retriever
from assistant.store import KnowledgeStore
from tests.conftest import ROOT, SEED, settings_for

DATA = ROOT / "tests" / "fixtures"

TINY = [
    (
        "大熊猫是中国特有的哺乳动物，主要栖息在四川、陕西和甘肃的山区竹林中。成年大熊猫每天要花十多个"
        "小时进食，竹子占其食物的百分之九十九。野生大熊猫的寿命一般为十八到二十年。",
        [("大熊猫主要生活在哪些省份？", "四川、陕西和甘肃"), ("大熊猫的食物主要是什么？", "竹子")],
    ),
    (
        "长江全长约六千三百公里，是亚洲第一长河，发源于青藏高原的唐古拉山脉，最终在上海注入东海。"
        "三峡大坝位于湖北省宜昌市，是世界上装机容量最大的水电站。",
        [("长江在哪里入海？", "上海"), ("三峡大坝位于哪个城市？", "宜昌市")],
    ),
    (
        "围棋起源于中国，至今已有四千多年历史。棋盘由纵横各十九条线组成，共三百六十一个交叉点。"
        "2016年，人工智能程序AlphaGo以四比一战胜了职业棋手李世石。",
        [("围棋棋盘有多少个交叉点？", "三百六十一"), ("AlphaGo战胜了哪位棋手？", "李世石")],
    ),
    (
        "豆腐的制作要先把黄豆浸泡一夜，再磨成豆浆并煮沸，然后加入石膏或卤水点浆，使蛋白质凝固，"
        "最后压去水分成型。相传豆腐是西汉淮南王刘安发明的。",
        [("做豆腐用什么来点浆？", "石膏或卤水"), ("传说豆腐是谁发明的？", "刘安")],
    ),
    (
        "马拉松比赛的标准距离是四十二点一九五公里。这项运动源于古希腊的传说：一名士兵从马拉松平原"
        "跑回雅典报告胜利的消息。首届现代奥运会于1896年在雅典举行。",
        [
            ("马拉松的标准距离是多少？", "四十二点一九五公里"),
            ("首届现代奥运会在哪一年举办？", "1896年"),
        ],
    ),
]


def write_tiny_squad(path: Path) -> None:
    paragraphs = [
        {
            "context": context,
            "qas": [
                {
                    "id": f"t{i}-{j}",
                    "question": question,
                    "answers": [{"text": answer, "answer_start": context.find(answer)}],
                }
                for j, (question, answer) in enumerate(qas)
            ],
        }
        for i, (context, qas) in enumerate(TINY)
    ]
    squad = {"version": "v1.0", "data": [{"title": "tiny", "paragraphs": paragraphs}]}
    path.write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")


def run_eval(args: list[str], settings: Settings, embedder: E5Embedder) -> str:
    printed: list[str] = []
    assert main(args, settings=settings, embedder=embedder, out=printed.append) == 0
    return "\n".join(printed)


def test_eval_finds_every_squad_question_in_its_own_context(
    tmp_path: Path, embedder: E5Embedder
) -> None:
    dataset = tmp_path / "tiny.json"
    write_tiny_squad(dataset)
    args = [str(dataset), "--cache-dir", str(tmp_path / "out"), "--offline-answers"]
    settings = settings_for(tmp_path)

    report = json.loads(run_eval([*args, "--components", "--json"], settings, embedder))

    assert (report["documents"], report["questions"]) == (5, 10)
    hybrid = report["rows"]["hybrid"]
    assert hybrid["hit@5"] == 1.0
    for key in ("hit@1", "hit@3", "mrr@5", "p50_ms", "p95_ms", "answer_has_gold", "declined"):
        assert hybrid[key] is not None, key
    assert {"dense only", "lexical only"} <= set(report["rows"])

    # A second run reuses the cached store and prints the table.
    table = run_eval(args, settings, embedder)
    assert "hit@1" in table and "MRR@5" in table and "p95 ms" in table
    assert "5 documents" in table and "10 of 10 questions" in table


def test_seed_questions_find_their_passage_in_the_top_three(
    seeded: tuple[Settings, KnowledgeStore],
) -> None:
    _, store = seeded
    outcomes = run_cases(
        Retriever(store, store.embedder), load_jsonl_cases(DATA / "seed_questions.jsonl")
    )
    assert rank_figures([o.rank for o in outcomes])["hit@3"] == 1.0, misses(outcomes)


@pytest.mark.parametrize(
    "name, minimum",
    [
        ("seed_questions.jsonl", 40),
        ("offtopic_questions.jsonl", 30),
        ("heldout_questions.jsonl", 25),
        ("heldout_offtopic.jsonl", 25),
    ],
)
def test_question_sets_are_bilingual_and_large_enough(name: str, minimum: int) -> None:
    cases = load_jsonl_cases(DATA / name)
    zh = sum(case.lang == "zh" for case in cases)
    assert len(cases) >= minimum and len({case.qid for case in cases}) == len(cases)
    assert 0.35 <= zh / len(cases) <= 0.6


@pytest.mark.parametrize("name", ["seed_questions.jsonl", "heldout_questions.jsonl"])
def test_seed_expectations_are_quoted_from_the_article(name: str) -> None:
    article = SEED.read_text(encoding="utf-8")
    for case in load_jsonl_cases(DATA / name):
        assert case.expect, case.qid
        for text in (*case.expect, *case.answers):
            assert text in article, (case.qid, text)
