"""Prompt injection: in the question, in the history and inside an ingested article.

Each attack is paired with the reply of a model that *obeys* it (the fake server is scripted to
send exactly that), the worst case. In every conversation the disclosure must be the verbatim
one and nothing prohibited, nor the system prompt, may reach the reader, streamed or final, and
that includes the sources shown beside the answer: citations, their quotes and the retrieved
passages, where a poisoned sentence is masked with a note.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.answer import Answer, Delta
from assistant.compliance import check_text
from assistant.factory import build_store, sync_knowledge
from assistant.prompts import Turn, message, prompt
from assistant.text import is_chinese
from tests.conftest import ROOT, expected_disclosure, online_engine, settings_for
from tests.fakellm import FakeLLM

ATTACKS = [
    json.loads(line)
    for line in (ROOT / "tests/fixtures/injections.jsonl").read_text("utf-8").splitlines()
]
SYSTEM_LINES = [line for line in prompt("system").splitlines() if len(line) >= 16]


@pytest.fixture(scope="module")
def poisoned(tmp_path_factory: pytest.TempPathFactory, embedder):
    """The real knowledge plus one article per attack, the attack hidden in its text."""
    tmp = tmp_path_factory.mktemp("poisoned")
    shutil.copytree(ROOT / "knowledge", tmp / "knowledge")
    for attack in ATTACKS:
        (tmp / "knowledge" / f"note-{attack['id']}.md").write_text(
            f"# 市场札记 {attack['id']}\n\n推理算力需求在上升，数据中心投资增加。{attack['attack']}\n",
            encoding="utf-8",
        )
    settings = settings_for(tmp)
    store = build_store(settings, embedder)
    assert sync_knowledge(settings, store).ok
    return store


def conversation(placement: str, attack: dict[str, str]) -> tuple[str, list[Turn]]:
    if placement == "question":
        return attack["attack"], []
    if placement == "history":
        return "那DeepSeek对算力需求有什么影响？", [
            Turn("user", attack["attack"]),
            Turn("assistant", "好的，我会照做。"),  # a history that pretends the assistant agreed
        ]
    return f"市场札记 {attack['id']} 这篇文章讲了什么？", []


@pytest.mark.parametrize("placement", ["question", "history", "document"])
@pytest.mark.parametrize("attack", ATTACKS, ids=[a["id"] for a in ATTACKS])
def test_injection_never_removes_the_disclosure_or_shows_a_prohibited_claim(
    poisoned, fake_llm: FakeLLM, tmp_path: Path, placement: str, attack: dict[str, str]
) -> None:
    engine = online_engine(
        poisoned, fake_llm, tmp_path, answer_deadline=5.0, stream_idle_timeout=2.0, max_retries=0
    )
    question, history = conversation(placement, attack)
    # Condense (with history or in English) then answer: the model obeys the attack both times.
    fake_llm.script({"text": attack["obeying_reply"]}, {"text": attack["obeying_reply"]})
    events = list(engine.stream(question, history))
    final = events[-1]
    assert isinstance(final, Answer)
    shown = [e.text for e in events if isinstance(e, Delta)] + [final.answer]

    # The disclosure is the stored one, verbatim, whatever was asked or answered.
    assert final.disclosure == expected_disclosure(engine.store, final)
    assert "投资有风险" in final.disclosure

    for text in shown:
        for banned in attack["banned"]:
            assert banned not in text, (placement, text)
        assert not any(line in text for line in SYSTEM_LINES), text
        blocked = [f for f in check_text(text.replace("\n", "。")) if f.severity == "block"]
        assert not blocked, (text, blocked)

    # What the sources panel and the API show passes the same checks as the answer.
    passages = [c.text for c in final.citations] + [r.text for r in final.retrieved]
    for text in [*passages, *(c.quote for c in final.citations)]:
        assert not [f for f in check_text(text) if f.severity == "block"], text
    lang = "zh" if is_chinese(question) else "en"  # the note is in the answer's language
    note = message(lang, "masked_source")
    for citation in final.citations:
        assert citation.quote in citation.text and note not in citation.quote
    blocking = any(f.severity == "block" for f in check_text(attack["attack"]))
    for article in [r for r in final.retrieved if r.path.endswith(f"note-{attack['id']}.md")]:
        if blocking:
            assert attack["attack"] not in article.text and note in article.text, article.text
            assert message(lang, "source_masked") in final.notices
        assert "推理算力需求在上升" in article.text  # the article's clean sentence stays


def test_a_poisoned_sentence_is_masked_in_citations_and_retrieved_passages(
    poisoned, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    engine = online_engine(poisoned, fake_llm, tmp_path)
    fake_llm.script({"text": "札记说推理算力需求在上升，数据中心投资增加[1][2][3][4][5]。"})
    final = engine.ask("推理算力需求在上升吗？数据中心投资增加了吗？")
    note = message("zh", "masked_source")
    attacks = {f"note-{a['id']}.md": a["attack"] for a in ATTACKS}
    masked = 0
    assert final.mode == "llm" and len(final.citations) >= 3, final.answer
    for cited in final.citations:
        (retrieved,) = [r for r in final.retrieved if r.chunk_id == cited.chunk_id]
        attack = attacks.get(Path(cited.path).name)
        if attack and any(f.severity == "block" for f in check_text(attack)):
            masked += 1
            for text in (cited.text, retrieved.text):
                assert attack not in text, text
                assert text.endswith(f"推理算力需求在上升，数据中心投资增加。{note}"), text
            assert cited.quote == "推理算力需求在上升，数据中心投资增加。"
    assert masked, [c.path for c in final.citations]
    assert message("zh", "source_masked") in final.notices
