"""Advisor drafts: the options reach the model, suitability is stated, exports are recorded."""

from __future__ import annotations

import html
import re
from datetime import date
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from docx import Document
from markdown_it import MarkdownIt

from assistant import particulars, suitability
from assistant.answer import Answer, AnswerEngine
from assistant.compliance import lint
from assistant.factory import build_engine
from assistant.prompts import DraftOptions
from assistant.snapshot import StoredChunk
from assistant.web.security import RateLimits
from assistant.web.ui import export
from assistant.web.ui.admission import Admit, admission
from assistant.web.ui.advisor import Drafted, Drafting
from assistant.web.ui.investor import HISTORY_TURNS, history
from assistant.web.ui.render import (
    ChatTurn,
    disclosure,
    draft_extras,
    esc,
    findings_panel,
    highlighted,
    marked,
    paragraphs,
    status_line,
)
from tests.conftest import online_engine, settings_for
from tests.fakellm import FakeLLM

TOPIC = "杰文斯悖论和算力需求"
MISMATCH = "适当性提示：客户的风险承受等级为C2，低于科创板人工智能ETF 588930的风险等级R4。"
# The same statement in the draft and the client's file: said to the client, whom they address.
TO_CLIENT = "适当性提示：您的风险承受等级为C2，低于科创板人工智能ETF 588930的风险等级R4。"
PRODUCT = "科创板人工智能ETF 588930"
# What an outside tester typed, playing an advisor: the client's age and savings, and advice asked.
ADVICE = "客户65岁，退休金50万，要不要全部买588930？"


def unlimited() -> Admit:
    """The web app's rate limit, out of the way of tests about something else."""
    return admission(RateLimits("100000/minute"))


@pytest.fixture(scope="module")
def engine(ui_store: Any, tmp_path_factory: pytest.TempPathFactory) -> AnswerEngine:
    _, store = ui_store
    return build_engine(settings_for(tmp_path_factory.mktemp("drafting")), store=store)


def last_row(engine: AnswerEngine) -> dict[str, Any]:
    assert engine.audit is not None
    return engine.audit.turns(1)[0]


def draft(engine: AnswerEngine, level: str, question: str = TOPIC, **options: Any) -> Answer:
    return engine.ask(
        question,
        mode="advisor",
        channel="advisor",
        draft=DraftOptions(client_level=level, **options),  # type: ignore[arg-type]
    )


def test_a_client_below_the_products_risk_level_is_told_so_at_the_top(engine: AnswerEngine) -> None:
    answer = draft(engine, "C2")
    assert answer.answer.startswith(TO_CLIENT)
    assert answer.notices[0].startswith(MISMATCH)
    assert last_row(engine)["notices"][0].startswith(MISMATCH)


def test_the_suitability_statement_speaks_to_each_reader_in_the_person_that_fits(
    engine: AnswerEngine, tmp_path: Path
) -> None:
    # The draft to the client ("您") opened "该产品与客户的风险承受能力不匹配，不应向客户推荐":
    # the client read about "the client", and an instruction meant for the advisor.
    legal = ("C2", "R4", "《证券期货投资者适当性管理办法》", "不构成推荐")
    for level, lang, advisor, client in (
        (
            "C2",
            "zh",
            ("客户的风险承受", "不应向客户推荐"),
            ("您的风险承受等级为C2", "与您的风险承受能力不匹配"),
        ),
        (
            "C2",
            "en",
            ("the client's", "must not be recommended to the client"),
            ("your risk tolerance level is C2", "does not match your risk tolerance"),
        ),
        (
            "unknown",
            "zh",
            ("尚未评估客户", "才能向客户介绍"),
            ("您尚未完成风险承受能力评估", "确认您的风险承受等级"),
        ),
        (
            "unknown",
            "en",
            ("the client's", "presented to the client"),
            ("your risk tolerance has not been assessed", "matches the product's risk level"),
        ),
    ):
        answer = draft(engine, level, language=lang)
        opening = answer.answer.split("\n")[0]  # what the client reads
        assert all(w in opening for w in client) and not any(w in opening for w in advisor)
        assert "客户" not in opening and "client" not in opening
        notice = answer.notices[0]  # what the advisor reads beside the draft, and the audit row
        assert all(w in notice for w in advisor) and last_row(engine)["notices"][0] == notice
        assert notice in html.unescape(draft_extras(answer, "zh"))  # the panel beside the draft
        if level == "C2":
            assert all(w in opening for w in legal[:3]) and (
                "不构成推荐" in opening or "not a recommendation" in opening
            )
        assert "R4" in opening
        made = export.make_draft(answer, PRODUCT, answer.answer, lang, date(2026, 12, 2))
        _, text = export.write(made, "md", tmp_path)
        assert opening in text and notice not in text
    # Deleted from the edit, it comes back in the client's words; a matching result in the
    # file's notes is said to the client too, while the advisor's panel keeps its own.
    below = draft(engine, "C2")
    made = export.make_draft(
        below, PRODUCT, below.answer.split("\n\n", 1)[1], "zh", date(2026, 12, 2)
    )
    assert made.body.startswith(TO_CLIENT) and "不应向客户推荐" not in made.body
    matched = draft(engine, "C5")
    said = f"适当性：您的风险承受等级C5不低于{PRODUCT}的风险等级R4。"
    assert export.client_notes(matched)[0] == said
    assert f"适当性：客户的风险承受等级C5不低于{PRODUCT}的风险等级R4。" in matched.notices
    # A declined topic's status line is the advisor's: it speaks of the client.
    *_, status, _ = drafted_by_the_desk(engine, ADVICE, "C1")[-1]
    assert "客户的风险承受等级为C1" in html.unescape(status) and "您的" not in html.unescape(status)


def test_an_unassessed_client_is_told_suitability_comes_first(engine: AnswerEngine) -> None:
    answer = draft(engine, "unknown")
    first = answer.answer.split("\n")[0]
    assert first.startswith("适当性提示：您尚未完成风险承受能力评估。须先完成风险测评")
    assert first.endswith("资料载明科创板人工智能ETF 588930的风险等级为R4。")
    notice = "适当性提示：尚未评估客户的风险承受能力。须先完成风险测评"
    assert last_row(engine)["notices"][0].startswith(notice)


def test_a_client_at_or_above_the_products_level_gets_a_notice_not_a_headline(
    engine: AnswerEngine,
) -> None:
    answer = draft(engine, "C5")
    assert not answer.answer.startswith("适当性")
    assert (
        "适当性：客户的风险承受等级C5不低于科创板人工智能ETF 588930的风险等级R4。" in answer.notices
    )


def test_a_source_without_a_risk_level_is_said_to_lack_one(engine: AnswerEngine) -> None:
    answer = draft(engine, "C3", question="HBM高带宽内存的产能怎么样？")
    assert answer.citations and all("HBM" in c.title for c in answer.citations)
    assert not answer.answer.startswith("适当性")
    assert any(n.startswith("适当性：资料未载明相关产品的风险等级") for n in answer.notices)


def test_a_draft_that_cites_nothing_still_states_suitability_from_the_products_article(
    engine: AnswerEngine,
) -> None:
    # Declined (personal advice the sources do not answer), the draft cited nothing, and the
    # C1 client asking about an R4 product was met with no word on suitability.
    below = draft(engine, "C1", question=ADVICE)
    assert not below.citations
    statement = "适当性提示：客户的风险承受等级为C1，低于科创板人工智能ETF 588930的风险等级R4。"
    assert below.answer.startswith(statement.replace("客户的", "您的"))
    assert below.notices[0].startswith(statement)
    assert last_row(engine)["notices"][0].startswith(statement)
    matched = draft(engine, "C5", question=ADVICE)
    assert not matched.citations and not matched.answer.startswith("适当性")
    assert f"适当性：客户的风险承受等级C5不低于{PRODUCT}的风险等级R4。" in matched.notices


def test_a_topic_about_no_product_states_no_products_risk_level(engine: AnswerEngine) -> None:
    # "明天北京天气怎么样？" for a C1 client read "…低于科创板人工智能ETF 588930的风险等级R4…不匹配":
    # the statement was made from whatever passages the search returned for a topic they do not
    # cover, about a product the topic never named.
    unassessed = "适当性提示：尚未评估客户的风险承受能力。须先完成风险测评"
    for topic in ("明天北京天气怎么样？", "易方达的人工智能ETF怎么样？"):
        below = draft(engine, "C1", question=topic)
        assert not below.citations and below.retrieved  # passages were found, none cited
        assert not any("适当性" in n for n in below.notices) and "R4" not in below.answer
        assert not any("适当性" in n for n in last_row(engine)["notices"])
        unknown = draft(engine, "unknown", question=topic)  # suitability still comes first
        assert unknown.answer.startswith("适当性提示：您尚未完成风险承受能力评估。须先完成风险测评")
        assert unknown.notices[0].startswith(unassessed) and "R4" not in unknown.answer
    *_, status, kept = drafted_by_the_desk(engine, "明天北京天气怎么样？", "C1")[-1]
    said = html.unescape(status)
    assert kept is None and "资料没有涉及这个主题" in said and "R4" not in said
    # A topic names the product by a word of its name, in either script and any case; part of
    # a word is not the name (another company's 人工智能ETF). The code: see ADVICE above.
    seed = engine.store.get([c.chunk_id for c in draft(engine, "C4").citations])
    assert seed and suitability.named("要不要買科創板人工智能etf？", seed) == seed
    assert suitability.named("易方达的人工智能ETF怎么样？", seed) == []


def test_investor_answers_carry_no_suitability_statement(engine: AnswerEngine) -> None:
    answer = engine.ask(TOPIC)
    assert not any("适当性" in notice for notice in answer.notices)


def test_draft_options_reach_the_model_and_set_the_language(
    ui_store: Any, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    _, store = ui_store
    engine = online_engine(store, fake_llm, tmp_path)
    answer = draft(engine, "C2", tone="formal", length="long", language="en")
    system = fake_llm.chat_requests[-1]["body"]["messages"][0]["content"]
    assert "语气正式、书面" in system and "分4到6段" in system
    assert "write the draft in English" in system
    assert answer.mode == "llm"
    assert answer.answer.startswith("Suitability: your risk tolerance level is C2")
    assert "This answer was generated by AI" in answer.notices[-1]

    investor = engine.ask(TOPIC)
    system = fake_llm.chat_requests[-1]["body"]["messages"][0]["content"]
    assert "请用3到5句话回答" in system and "草稿" not in system.split("<<<资料结束>>>")[1]
    assert investor.mode == "llm"


def test_a_model_draft_asked_in_traditional_characters_opens_with_its_suitability_in_them(
    ui_store: Any, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    # The model writes in the reader's script; our suitability line at the top stayed simplified,
    # so the desk could not find it to put back on export.
    _, store = ui_store
    engine = online_engine(store, fake_llm, tmp_path)
    answer = draft(engine, "C2", "為什麼說DeepSeek反而利好算力？")
    assert answer.mode == "llm"
    assert answer.answer.startswith("適當性提示：您的風險承受等級為C2"), answer.answer[:80]
    assert export.opening_statement(answer) is not None


def test_a_figure_the_sources_do_not_hold_is_a_finding_of_the_draft_its_recheck_and_export(
    ui_store: Any, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    # The panel beside a draft said "no findings" while the draft held an unverified figure, and
    # an export went out without a word; deleting the （未核实） mark left nothing to notice.
    _, store = ui_store
    engine = online_engine(store, fake_llm, tmp_path)
    fake_llm.script({"text": "据2025年2月的文章，DeepSeek V3版本的训练成本为600万元[1]。"})
    answer = draft(engine, "C2", question="DeepSeek V3的训练成本是多少?")
    assert answer.answer.startswith(TO_CLIENT) and "600万元（未核实）[1]" in answer.answer
    drafting = Drafting(engine, engine.settings.max_question_chars, unlimited())
    drafted = Drafted(answer, "zh")
    edited = answer.answer.replace("（未核实）", "")  # the advisor deletes the mark
    for text in (answer.answer, edited):
        panel = drafting.recheck(text, drafted, "zh")
        assert "FIGURE-001" in panel and "未发现不合规表述" not in panel
        assert '<mark class="finding' in panel and "600万" in panel
    _, status = drafting.export(edited, drafted, "md", "zh")
    assert "仍有 1 处不合规表述" in status
    row = last_row(engine)  # the export's audit row names the figure too, where it stands
    figure = [f for f in row["findings"] if f["rule"] == "FIGURE-001"]
    assert row["kind"] == "export" and len(figure) == 1
    assert row["answer"][figure[0]["start"] : figure[0]["end"]] == "600万"
    # The figure as the source states it, and the suitability statement's own, are no finding.
    fixed = edited.replace("600万元", "600万美元")
    assert "未发现不合规表述" in drafting.recheck(fixed, drafted, "zh")


def drafted_by_the_desk(
    engine: AnswerEngine, topic: str, level: str, before: Drafted | None = None
) -> list[tuple[Any, ...]]:
    """What the advisor tab's "make draft" shows, step by step (editor, findings, extras,
    status, the draft kept), after the draft ``before``."""
    drafting = Drafting(engine, engine.settings.max_question_chars, unlimited())
    request = gr.Request(client={"host": "198.51.100.4", "port": 1}, headers={})
    text = before.answer.answer if before else ""
    steps = drafting.draft(topic, level, "plain", "medium", "zh", "zh", text, before, request)  # type: ignore[arg-type]
    return list(steps)


def test_a_topic_asking_for_personal_advice_makes_no_draft_and_tells_the_advisor_why(
    engine: AnswerEngine,
) -> None:
    # The editor held "我无法根据您的个人情况给出…请咨询持牌投资顾问": the assistant talking to an
    # investor, in a document the adviser sends to a client, and it could be exported.
    editor, findings, extras, status, kept = drafted_by_the_desk(engine, ADVICE, "C1")[-1]
    assert editor == "" and findings == "" and extras == "" and kept is None
    said = html.unescape(status)
    assert "对客户个人的买卖建议" in said and "没有生成草稿" in said
    assert "低于科创板人工智能ETF 588930的风险等级R4" in said  # the suitability statement
    assert "我无法" not in said and "持牌投资顾问" not in said
    # A topic the sources do not cover is said so, in the advisor's terms.
    editor, *_, status, kept = drafted_by_the_desk(engine, "明天上海会下雨吗？", "C4")[-1]
    assert editor == "" and kept is None and "资料没有涉及这个主题" in html.unescape(status)
    # So is another company's product, and a greeting: neither is a draft to send a client.
    for topic in ("易方达的人工智能ETF怎么样？", "你好"):
        editor, *_, status, kept = drafted_by_the_desk(engine, topic, "C4")[-1]
        assert editor == "" and kept is None and "没有生成草稿" in html.unescape(status), topic
    # A topic the sources cover is drafted as before; a declined one leaves it in the editor.
    editor, *_, kept = drafted_by_the_desk(engine, TOPIC, "C4")[-1]
    assert "杰文斯悖论" in editor and kept is not None and kept.level == "C4"
    editor, findings, extras, status, after = drafted_by_the_desk(engine, ADVICE, "C4", kept)[-1]
    assert editor == kept.answer.answer and after is kept and "没有生成草稿" in status
    assert "未发现不合规表述" in findings and "draft-sources" in extras


def test_a_draft_on_a_topic_asking_for_advice_states_its_limit_in_the_advisers_voice(
    engine: AnswerEngine,
) -> None:
    # Drafted (the sources cover the topic), it still opened "我无法根据您的个人情况…请在完成
    # 风险测评后咨询持牌投资顾问": the assistant talking, in a text the adviser sends.
    asked = "客户问：现在该不该加仓算力ETF？"
    drafted = draft(engine, "C5", question=asked)
    assert drafted.citations
    opening = drafted.answer.split("\n")[0]
    assert opening.startswith("本文只说明资料的内容，不是针对您个人情况的买卖建议")
    assert "我无法" not in drafted.answer and "持牌投资顾问" not in drafted.answer
    assert "风险承受能力" in opening  # what suitability depends on is still said
    english = draft(engine, "C5", question=asked, language="en").answer.split("\n")[0]
    assert english.startswith("This text explains what the sources say; it is not personal advice")
    assert not lint(opening).findings and not lint(english).findings  # re-check finds nothing
    investor = engine.ask(asked)  # an investor is still told to see a licensed adviser
    assert (
        investor.answer.startswith("我无法根据您的个人情况") and "持牌投资顾问" in investor.answer
    )


def test_an_exported_file_is_named_for_the_product_and_the_client_level_not_the_clients_words(
    engine: AnswerEngine, tmp_path: Path
) -> None:
    # The topic an advisor typed became the file's name and title: a client's age and savings in
    # every mail attachment, download folder and log the file passes through.
    topic = "客户王女士65岁，退休金50万，想了解杰文斯悖论和算力需求"
    answer = draft(engine, "C2", question=topic)
    assert answer.citations
    drafting = Drafting(engine, engine.settings.max_question_chars, unlimited())
    day = engine.today().isoformat()
    for fmt in ("md", "docx"):
        update, _ = drafting.export(answer.answer, Drafted(answer, "zh"), fmt, "zh")  # type: ignore[arg-type]
        path = Path(update["value"])
        assert "王女士" not in path.name and "65" not in path.name and "50万" not in path.name
        assert path.name == f"科创板人工智能ETF_588930_{day}.{fmt}"
        text = last_row(engine)["answer"]  # the text as exported
        assert text.startswith(f"{'# ' if fmt == 'md' else ''}{PRODUCT} · 资料说明\n")
        assert "王女士" not in text.split("\n")[0] and "65岁" not in text.split("\n")[0]
    assert Document(str(path)).core_properties.title == f"{PRODUCT} · 资料说明"
    # The client's risk level the draft was written for: a C2 copy is not a C5 client's.
    update, _ = drafting.export(answer.answer, Drafted(answer, "zh", "C2"), "md", "zh")
    assert Path(update["value"]).name == f"科创板人工智能ETF_588930_C2_{day}.md"
    unassessed = Drafted(draft(engine, "unknown"), "zh", "unknown")
    update, _ = drafting.export(unassessed.answer.answer, unassessed, "md", "zh")
    assert Path(update["value"]).name == f"科创板人工智能ETF_588930_未评估_{day}.md"


def test_the_clients_file_carries_the_sources_age_and_a_matching_suitability_result(
    engine: AnswerEngine,
) -> None:
    # The answer said on screen that its source is a 2025 view, not today's; the client's file
    # did not. A C5 client's match with the product's level was in neither draft nor file.
    drafting = Drafting(engine, engine.settings.max_question_chars, unlimited())
    matched = draft(engine, "C5")
    age = next(n for n in matched.notices if n.startswith("资料来源于2025年2月的文章（距今约"))
    match = f"适当性：客户的风险承受等级C5不低于{PRODUCT}的风险等级R4。"
    assert match in matched.notices and match not in matched.answer  # the draft stays the text
    match = match.replace("客户的", "您的")  # the file's note is said to the client
    edited = f"{matched.answer}\n张先生：以上要点供您参考。"
    for fmt in ("md", "docx"):
        update, _ = drafting.export(edited, Drafted(matched, "zh"), fmt, "zh")  # type: ignore[arg-type]
        text = last_row(engine)["answer"]
        if fmt == "docx":
            assert text == "\n".join(p.text for p in Document(update["value"]).paragraphs)
        else:
            assert Path(update["value"]).read_text(encoding="utf-8") == text
        notes = text.index("请注意")  # after the advisor's text, before the sources
        assert text.index("张先生") < notes < text.index(age) < text.index("来源\n")
        assert text.count(match) == 1 and text.count(age) == 1
        assert "未连接在线模型" not in text  # a notice for the advisor, not the client
    below = draft(engine, "C2")  # the mismatch opens the file; the age is in the notes
    update, _ = drafting.export(below.answer, Drafted(below, "zh"), "md", "zh")
    text = Path(update["value"]).read_text(encoding="utf-8")
    assert text.count(TO_CLIENT) == 1 and "资料来源于2025年2月的文章" in text
    assert "不低于" not in text
    # A topic asked in traditional characters gets its notices in them: still the client's.
    traditional = draft(engine, "C5", question="傑文斯悖論和算力需求是什麼關係？")
    assert [n[:3] for n in export.client_notes(traditional)] == ["適當性", "資料來"]


def test_an_export_is_recorded_with_the_text_as_exported(engine: AnswerEngine) -> None:
    answer = draft(engine, "C2")
    text = f"{answer.answer}\n我们保证年化收益15%。"
    exported = engine.record_export(answer, text)
    row = last_row(engine)
    assert row["turn_id"] == exported.turn_id != answer.turn_id
    assert row["kind"] == "export" and row["parent_turn"] == answer.turn_id
    assert row["channel"] == "advisor" and row["answer"] == text
    versions = {
        c.chunk_id: c.meta("doc_hash")
        for c in engine.store.get([c.chunk_id for c in answer.citations])
    }
    assert row["citations"] and all(
        c["doc_hash"] == versions[c["chunk_id"]] for c in row["citations"]
    )
    assert row["disclosure"] == answer.disclosure
    assert MISMATCH in row["notices"][0]
    assert "GUARANTEE-001" in [f["rule"] for f in row["findings"]]
    assert all(f["text"] in text for f in row["findings"])


def test_exported_files_hold_the_edit_the_sources_and_the_disclosure(
    engine: AnswerEngine, tmp_path: Path
) -> None:
    answer = draft(engine, "C2")
    edited = f"{answer.answer}\n客户补充说明：关注长期配置。"
    made = export.make_draft(answer, 'AI/算力: 为什么"上升"?', edited, "en", date(2026, 11, 30))
    assert export.filename(made, "docx") == "AI_算力_为什么_上升_2026-11-30.docx"

    path, text = export.write(made, "docx", tmp_path)
    paragraphs_ = [p.text for p in Document(str(path)).paragraphs]
    assert paragraphs_[0] == 'AI/算力: 为什么"上升"?: what the sources say'
    assert "客户补充说明：关注长期配置。" in paragraphs_
    assert paragraphs_[paragraphs_.index("Sources") + 1].startswith("[1] 《DeepSeek暂停API充值")
    disclosure_lines = [line.strip() for line in answer.disclosure.splitlines() if line.strip()]
    start = paragraphs_.index(disclosure_lines[0])
    assert paragraphs_[start : start + len(disclosure_lines)] == disclosure_lines
    # An English reader is told the disclosure is in Chinese, above it, not by a Chinese heading.
    assert paragraphs_[start - 1] == "Risk disclosure (in the original Chinese)"
    assert paragraphs_[-2:] == ["Date: 2026-11-30", "AI-assisted draft · reviewed by: ____"]
    assert text == "\n".join(paragraphs_)

    md_path, markdown = export.write(made, "md", tmp_path)
    assert md_path.read_text(encoding="utf-8") == markdown
    assert markdown.startswith('# AI/算力: 为什么"上升"?: what the sources say\n')
    assert "\n- [1] 《DeepSeek暂停API充值" in markdown and disclosure_lines[-1] in markdown
    assert (
        "## Risk disclosure (in the original Chinese)" in markdown and "## 风险提示" not in markdown
    )


def test_a_word_export_says_what_it_is_not_which_library_wrote_it(
    engine: AnswerEngine, tmp_path: Path
) -> None:
    # The file's properties (what Word's Info pane and a file browser show the client) came
    # from python-docx's template: author "python-docx", "generated by python-docx", 2013.
    answer = draft(engine, "C3")
    made = export.make_draft(answer, PRODUCT, answer.answer, "zh", date(2026, 11, 30))
    path, _ = export.write(made, "docx", tmp_path)
    properties = Document(str(path)).core_properties
    assert properties.title == f"{PRODUCT} · 资料说明"
    shown = [properties.author, properties.comments, properties.last_modified_by]
    assert not any("python-docx" in value for value in shown)
    assert properties.created is not None and properties.created.date() == date(2026, 11, 30)
    assert properties.modified is not None and properties.modified.date() == date(2026, 11, 30)


@pytest.mark.parametrize("level", ["C2", "unknown"])
def test_an_edit_cannot_drop_the_suitability_statement_from_the_export(
    engine: AnswerEngine, tmp_path: Path, level: str
) -> None:
    # A client below the product's level (or not assessed): the draft opens with the statement
    # that the product does not match; the client's copy keeps it, as it keeps the disclosure.
    answer = draft(engine, level)
    statement = answer.answer.split("\n")[0]
    edited = answer.answer.split("\n\n", 1)[1]  # the advisor deletes the opening paragraph
    assert "适当性" not in edited
    made = export.make_draft(answer, PRODUCT, edited, "zh", date(2026, 11, 30))
    _, markdown = export.write(made, "md", tmp_path)
    assert markdown.startswith(f"# {PRODUCT} · 资料说明\n\n{statement}\n\n")
    path, _ = export.write(made, "docx", tmp_path)
    assert [p.text for p in Document(str(path)).paragraphs][1] == statement
    # The advisor is told; the audit row keeps the text as exported, statement included.
    drafting = Drafting(engine, engine.settings.max_question_chars, unlimited())
    _, status = drafting.export(edited, Drafted(answer, "zh"), "md", "zh")
    assert "并记入审计记录。草稿删去了开头的适当性提示：导出的文件已把它放回开头。" in status
    assert last_row(engine)["answer"].startswith(f"# {PRODUCT} · 资料说明\n\n{statement}")
    # Kept as it is where the advisor left it, and not added where the client matches.
    kept = export.make_draft(answer, TOPIC, answer.answer, "zh", date(2026, 11, 30))
    assert kept.body.count(statement) == 1
    matched = draft(engine, "C5")
    body = export.make_draft(matched, TOPIC, matched.answer, "zh", date(2026, 11, 30)).body
    assert not body.startswith("适当性")


def test_a_markdown_export_opened_in_a_viewer_shows_markup_in_a_source_as_text(
    tmp_path: Path,
) -> None:

    hostile = "<img src=x onerror=alert(1)>"
    link = "[点此](javascript:alert(2))"
    made = export.Draft(
        subject=f"HBM {hostile}",
        level=None,
        body=f"客户问到{link}与\\<b>。\n<script>alert(3)</script>",
        notes=(f"资料来源于{hostile}的文章。",),
        sources=(f"[1] 《HBM内存说明{hostile}》 · 测试基金 · 2025-03",),
        disclosure=f"风险提示\n投资有风险，投资需谨慎。{hostile}",
        lang="zh",
        day=date(2026, 12, 1),
    )
    _, text = export.write(made, "md", tmp_path)
    shown = MarkdownIt("commonmark").render(text)  # what a Markdown viewer makes of the file
    assert "<img" not in shown and "<script" not in shown and "<a " not in shown
    assert "<b>" not in shown
    visible = html.unescape(re.sub(r"<[^>]+>", "", shown))
    for line in (f"HBM {hostile}", f"客户问到{link}与\\<b>。", "<script>alert(3)</script>"):
        assert line in visible
    assert f"[1] 《HBM内存说明{hostile}》 · 测试基金 · 2025-03" in visible
    assert f"资料来源于{hostile}的文章。" in visible
    assert f"投资有风险，投资需谨慎。{hostile}" in visible  # the disclosure reads as written


def test_text_is_escaped_before_it_meets_markup() -> None:
    hostile = '<img src=x onerror=alert(1)> {{value}} ${1+1} `x` "q"'
    assert "<" not in esc(hostile) and "{" not in esc(hostile) and "$" not in esc(hostile)
    rendered = paragraphs(f"{hostile}[1][2]", "zh", {1: "src-a-1"})
    assert '<a class="cite" href="#src-a-1"' in rendered and "<img" not in rendered
    assert '<sup class="cite pending">[2]</sup>' in rendered
    assert (
        highlighted("前文<b>。支持句。后文", "支持句。")
        == "前文&lt;b&gt;。<mark>支持句。</mark>后文"
    )
    # Several rules hit "保证年化收益" and "稳赚不赔": overlapping spans are marked once (both
    # phrases are), every finding is listed.
    text = "本基金保证年化收益15%，稳赚不赔。"
    findings = lint(text).findings
    shown = marked(text, findings)
    assert 2 <= shown.count("<mark") < len(findings)
    assert "保证年化收益" in shown.split("<mark")[1] and "稳赚" in shown.split("<mark")[-1]
    assert findings_panel(text, findings, "zh").count("<li") == len(findings)


@pytest.mark.parametrize(
    ("text", "headline"),
    [
        ("风险提示\n尊敬的投资者:投资有风险,投资需谨慎。公开募集……", "投资有风险,投资需谨慎。"),
        ("风险提示\n投资有风险，投资需谨慎。基金的过往业绩……", "投资有风险，投资需谨慎。"),
        ("风险提示：投资有风险，投资需谨慎。基金的过往业绩……", "投资有风险，投资需谨慎。"),
        (
            "Risk disclosure\nInvesting involves risk. Past performance……",
            "Investing involves risk.",
        ),
    ],
)
def test_a_folded_disclosure_shows_its_warning_once(text: str, headline: str) -> None:
    # The fold reads "风险提示 <the warning> 展开全文": an article whose section opens with the
    # warning itself (no salutation) showed "风险提示 风险提示 投资有风险…".
    folded = re.search(r'class="disclosure-headline">([^<]*)<', disclosure(text, "zh", "k"))
    assert folded is not None and folded.group(1) == headline


def test_follow_ups_take_only_the_last_exchanges() -> None:
    def answered(n: int) -> ChatTurn:
        answer = Answer(f"答{n}", [], [], "风险提示", "offline", None)
        return ChatTurn(f"问{n}", "风险提示", answer=answer)

    turns = [answered(n) for n in range(6)] + [ChatTurn("进行中", "风险提示")]
    sent = history(turns)
    assert len(sent) == 2 * HISTORY_TURNS
    assert [t.content for t in sent[:2]] == ["问3", "答3"] and sent[-1].content == "答5"


def test_a_draft_that_cites_nothing_lists_no_empty_sections(engine: AnswerEngine) -> None:
    cited = draft(engine, "C4")
    declined = draft(engine, "C4", question="明天上海会下雨吗？")
    assert cited.citations and not declined.citations
    assert '<ol class="draft-sources"><li>' in draft_extras(cited, "zh")
    shown = draft_extras(declined, "zh")
    # A screen reader announces an empty list as "list, 0 items"; the disclosure is still there.
    assert not re.search(r"<(ol|ul)[^>]*>\s*</(ol|ul)>", shown)
    assert declined.disclosure in html.unescape(shown)


def test_the_library_count_reads_in_the_singular_for_one_article() -> None:
    assert "Library: 1 article<" in status_line("en", "offline", None, 1)
    assert "Library: 2 articles<" in status_line("en", "offline", None, 2)


# The client's particulars an advisor typed, and a model's draft that repeats them to the client.
TOLD = "客户王女士65岁，退休金50万，想了解杰文斯悖论和算力需求"
ECHO = "对于65岁、退休金50万元的王女士，建议关注算力需求的变化。"
CLAIM = "据2025年2月的文章，效率提升反而可能带来更多的算力需求[1]。"


def test_a_draft_does_not_restate_the_clients_particulars_in_any_path(
    ui_store: Any, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    # The model wrote "对于65岁、退休金50万元的您，建议…": the client's file carried their age and
    # savings, and read as advice for that person.
    _, store = ui_store
    engine = online_engine(store, fake_llm, tmp_path)
    fake_llm.script({"text": ECHO + CLAIM})
    steps = drafted_by_the_desk(engine, TOLD, "C4")
    system = fake_llm.chat_requests[-1]["body"]["messages"][0]["content"]
    assert "草稿中不要复述" in system  # the prompt asks it first
    editor, findings, extras, _, drafted = steps[-1]
    for shown in [step[0] for step in steps]:  # nothing of it streamed into the editor either
        assert "65岁" not in shown and "50万" not in shown and "王女士" not in shown
    assert "效率提升反而可能带来更多的算力需求[1]" in editor and "未发现不合规表述" in findings
    assert "复述客户个人情况" in html.unescape(extras)  # the advisor is told a sentence went
    row = last_row(engine)  # the turn's row keeps the topic as its question, and no more of it
    assert row["question"] == TOLD
    shown_in_row = [row["answer"], *row["streamed"], *row["notices"], str(row["findings"])]
    assert not any(p in s for s in shown_in_row for p in ("65岁", "50万", "王女士"))

    # The advisor types the particulars back in, in other words: re-check marks the sentence and
    # the draft is not exported until it is gone; each attempt is a row, without the text.
    drafting = Drafting(engine, engine.settings.max_question_chars, unlimited())
    typed = f"{editor}\n王阿姨您好，退休金500,000元的您可以参考以上内容。"
    panel = html.unescape(drafting.recheck(typed, drafted, "zh"))
    assert "PRIVACY-002" in panel and '<mark class="finding' in panel and "个人信息保护法" in panel
    assert engine.audit is not None
    rows = len(engine.audit.turns(100))
    for fmt in ("md", "docx"):
        update, status = drafting.export(typed, drafted, fmt, "zh")  # type: ignore[arg-type]
        assert update["value"] is None and "没有导出" in html.unescape(status)
    attempts = engine.audit.turns(100)[: len(engine.audit.turns(100)) - rows]
    assert len(attempts) == 2
    for attempt in attempts:
        assert (attempt["kind"], attempt["outcome"], attempt["why"]) == (
            "export",
            "refused",
            "particulars",
        )
        assert attempt["parent_turn"] == row["turn_id"] and attempt["answer"] == ""
        assert not any(p in str(attempt) for p in ("王阿姨", "500,000", "退休金"))
    update, status = drafting.export(editor, drafted, "docx", "zh")
    text = "\n".join(p.text for p in Document(update["value"]).paragraphs)
    assert "效率提升" in text and not any(p in text for p in ("65岁", "50万", "王女士", "王阿姨"))
    exported = last_row(engine)
    assert exported["kind"] == "export" and "效率提升" in exported["answer"]
    assert not any(p in str(exported) for p in ("65岁", "50万", "500,000", "王女士", "王阿姨"))

    # In English too: "For a 65-year-old with 500,000 in savings…" never reaches the editor.
    fake_llm.script(
        {
            "text": "For a 65-year-old with 500,000 in savings, this is worth a look. "
            "The February 2025 article says cheaper training can raise demand for compute [1]."
        }
    )
    answer = draft(engine, "C4", question=TOLD, language="en")
    assert "raise demand for compute[1]" in answer.answer and "65-year" not in answer.answer
    assert "500,000" not in answer.answer and any("particulars" in n for n in answer.notices)


def test_the_clients_particulars_are_what_the_topic_says_and_no_source_does(
    engine: AnswerEngine,
) -> None:
    passages = engine.store.get([r.chunk_id for r in draft(engine, "C4").retrieved])
    told = particulars.of(ADVICE.replace("客户", "客户王女士"), passages)
    for said in (
        "六十五岁的您",
        "约五十万元的积蓄",
        "A 65-year-old with 500,000 yuan",
        "王阿姨您好",
    ):
        assert told.restated(said), said
    # The product's code and the sources' dates are the sources' words, not the client's.
    assert not told.restated("据2025年2月的文章，588930跟踪科创板人工智能指数[1]。")
    assert not told.restated("这位女士关心的是产品的风险等级。")
    assert not particulars.of(TOPIC, passages) and not particulars.of("这位女士问算力", passages)


def test_a_draft_of_excerpts_tells_the_client_where_they_come_from_not_how_they_were_made(
    engine: AnswerEngine,
) -> None:
    # The client's file opened "以下为2025年2月文章的原文摘录（离线模式，未经模型改写）：": a note
    # about the app, for the advisor, in the text the client reads.
    editor, _, extras, _, kept = drafted_by_the_desk(engine, TOPIC, "C4")[-1]
    assert editor.startswith("以下为2025年2月文章的原文摘录：\n“") and "未经模型改写" not in editor
    assert "未连接在线模型" in html.unescape(extras)  # the advisor is still told why
    drafting = Drafting(engine, engine.settings.max_question_chars, unlimited())
    update, _ = drafting.export(editor, kept, "docx", "zh")
    paragraphs_ = [p.text for p in Document(update["value"]).paragraphs]
    assert "以下为2025年2月文章的原文摘录：" in paragraphs_
    assert not any("离线模式" in p or "未经模型改写" in p for p in paragraphs_)
    english = draft(engine, "C4", language="en").answer
    assert "(offline mode, not rewritten by a model):" in english
    client, unsure = export.for_the_client(english)
    said = "Excerpts from the article of February 2025, quoted as written:\n“"
    assert client.startswith(said) and "by a model" not in client and not unsure
    # "…请核对是否对应您的问题" asks the reader to check what the advisor must: the advisor is told.
    editor, _, _, status, _ = drafted_by_the_desk(engine, "算力ETF的费率是多少？", "C4")[-1]
    assert editor.startswith("以下为2025年2月文章的原文摘录：\n“") and "请核对" not in editor
    assert "资料可能没有直接回答这个主题" in html.unescape(status)


# The client's circumstances in words, with no figure or title: health, family, retirement.
CIRCUMSTANCES = "客户退休了，身体不好，想给孙女攒学费，想了解杰文斯悖论和算力需求"


def test_a_draft_does_not_restate_the_clients_circumstances_stated_in_words(
    ui_store: Any, fake_llm: FakeLLM, tmp_path: Path
) -> None:
    # "客户退休了，身体不好，想给孙女攒学费…" drafted "您已退休、身体欠佳，…": the client's health
    # (sensitive personal information), family and retirement, in the file sent to the client.
    _, store = ui_store
    engine = online_engine(store, fake_llm, tmp_path)
    fake_llm.script({"text": "您已退休、身体欠佳，为孙女攒学费宜稳健。" + CLAIM})
    editor, findings, extras, _, drafted = drafted_by_the_desk(engine, CIRCUMSTANCES, "C4")[-1]
    assert "效率提升反而可能带来更多的算力需求[1]" in editor and "未发现不合规表述" in findings
    assert not any(w in editor for w in ("退休", "身体", "孙女", "学费"))
    assert "复述客户个人情况" in html.unescape(extras)
    row = last_row(engine)
    assert not any(w in str(row["answer"]) + str(row["streamed"]) for w in ("身体", "孙女"))

    # The advisor types them back in other words: marked, and the draft is not exported.
    drafting = Drafting(engine, engine.settings.max_question_chars, unlimited())
    for typed in ("考虑到您的健康状况，本稿只说明资料。", "临近退休的您，可以参考以上内容。"):
        text = f"{editor}\n{typed}"
        panel = html.unescape(drafting.recheck(text, drafted, "zh"))
        assert "PRIVACY-002" in panel and '<mark class="finding' in panel, typed
        update, status = drafting.export(text, drafted, "md", "zh")
        assert update["value"] is None and "没有导出" in html.unescape(status), typed
    # What the sources and the rules say of investors in general is no one's circumstance.
    general = f"{editor}\n按《证券期货投资者适当性管理办法》，产品须与投资者的风险承受能力相匹配。"
    assert "未发现不合规表述" in drafting.recheck(general, drafted, "zh")
    update, _ = drafting.export(general, drafted, "md", "zh")
    assert update["value"] is not None

    # In English too: "As a retiree in poor health…" never reaches the draft.
    fake_llm.script(
        {
            "text": "As a retiree in poor health saving for your granddaughter, go carefully. "
            "The February 2025 article says cheaper training can raise demand for compute [1]."
        }
    )
    answer = draft(engine, "C4", question=CIRCUMSTANCES, language="en")
    assert "raise demand for compute[1]" in answer.answer
    assert not any(w in answer.answer for w in ("retiree", "health", "granddaughter"))
    assert any("particulars" in n for n in answer.notices)


def test_circumstances_are_the_topics_and_a_sources_word_restates_them_only_about_the_client(
    engine: AnswerEngine,
) -> None:
    passages = engine.store.get([r.chunk_id for r in draft(engine, "C4").retrieved])
    told = particulars.of("The client is retired and lives in Hangzhou; his wife is ill.", passages)
    for said in (
        "您的健康状况",
        "您与老伴",
        "退休后的生活",
        "在杭州生活的您",
        "Your wife's illness",
    ):
        assert told.restated(said), said
    # A passage that speaks to its reader in those words ("如果您即将退休…") is the sources':
    # quoted in an excerpt draft it restates nothing; said of the client, it does.
    passage = StoredChunk("p", "如果您即将退休，可以关注养老目标基金，它按年龄降低权益仓位。", {})
    soon = particulars.of("客户快退休了，想了解养老目标基金", [passage])
    assert not soon.restated("“如果您即将退休，可以关注养老目标基金，它按年龄降低权益仓位。”[1]")
    assert soon.restated("临近退休的您，可以参考以上内容。")
    # A group's wording is no one's circumstance, in the topic or the draft.
    assert not particulars.of("退休人群适合了解算力ETF吗？", passages)
    assert not told.restated("据2025年2月的文章，588930跟踪科创板人工智能指数[1]。")
