"""The advisor tab in a real headless Chromium: a draft, its re-check, and its export."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from playwright.sync_api import expect

from assistant.answer import AnswerEngine
from assistant.compliance import lint

pytestmark = pytest.mark.browser
TOPIC = "DeepSeek降低训练成本后算力需求为什么可能上升"
TITLE = "科创板人工智能ETF 588930 · 资料说明"  # the file names the product, not the topic typed


def download(page: Any, button: str, folder: Path) -> Path:
    page.locator(button).click()
    link = page.locator("#export-file a[download]").first
    expect(link).to_be_visible()
    with page.expect_download() as info:
        link.click()
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return path


def test_an_advisor_drafts_edits_rechecks_and_exports(
    offline_ui: tuple[str, AnswerEngine], page: Any, tmp_path: Path
) -> None:
    url, engine = offline_ui
    assert engine.audit is not None
    page.goto(url)
    page.get_by_role("tab", name="顾问草稿").click()
    page.locator("#export-docx").click()
    expect(page.locator("#advisor-status")).to_contain_text("请先生成草稿")
    # The status line is a live region: a screen reader says what a sighted advisor reads.
    expect(page.get_by_role("status").filter(has_text="请先生成草稿")).to_have_count(1)

    page.locator("#topic textarea").fill(TOPIC)
    page.locator("#client-level input").click()
    page.get_by_role("option", name="C2（稳健型）").click()
    page.get_by_label("正式").check()
    page.locator("#make-draft").click()
    draft = page.locator("#draft textarea")
    expect(page.locator("#draft-extras")).to_contain_text("风险提示（导出时原文附在文末")
    text = draft.input_value()
    assert text.startswith(  # said to the client, whom the draft addresses
        "适当性提示：您的风险承受等级为C2，低于科创板人工智能ETF 588930的风险等级R4。"
    )
    assert "原文摘录" in text and "[1]" in text
    expect(page.locator("#findings")).to_contain_text("未发现不合规表述")
    extras = page.locator("#draft-extras")
    expect(extras.locator(".draft-sources")).to_contain_text(
        "[1] 《DeepSeek暂停API充值：AI算力逻辑再梳理》 · 银华基金 · 2025-02"
    )
    row = engine.audit.turns(1)[0]
    assert row["channel"] == "advisor"
    assert "低于科创板人工智能ETF 588930的风险等级R4" in row["notices"][0]
    page.screenshot(path=str(tmp_path / "1-draft.png"), full_page=True)

    # The advisor edits in a promise of returns; re-check finds and marks it.
    edited = f"{text}\n我们保证年化收益15%，请放心购买。"
    draft.fill(edited)
    page.locator("#recheck").click()
    found = lint(edited).findings
    assert found and found[0].text.startswith("保证")
    named = len(found) + 1  # and the figure no source holds, 15% (FIGURE-001)
    expect(page.locator("#findings li")).to_have_count(named)
    expect(page.locator("#findings li", has_text="FIGURE-001")).to_contain_text("15%")
    expect(page.locator("#findings mark.finding").first).to_contain_text("保证年化收益")
    guarantee = page.locator("#findings li", has_text="GUARANTEE-001")
    expect(guarantee).to_contain_text("《公开募集证券投资基金销售机构监督管理办法》")
    page.screenshot(path=str(tmp_path / "2-recheck.png"), full_page=True)

    # Export: the file carries the edit, the numbered sources, the disclosure, the date, the line.
    docx = download(page, "#export-docx", tmp_path)
    assert docx.name == f"科创板人工智能ETF_588930_C2_{date.today().isoformat()}.docx"
    expect(page.locator("#advisor-status")).to_contain_text(f"仍有 {named} 处不合规表述")
    paragraphs = [p.text for p in Document(str(docx)).paragraphs]
    assert paragraphs[0] == TITLE
    assert next(p for p in paragraphs if p.startswith("资料来源于2025年2月的文章"))
    assert "我们保证年化收益15%，请放心购买。" in paragraphs
    assert any(p.startswith("[1] 《DeepSeek暂停API充值：AI算力逻辑再梳理》") for p in paragraphs)
    disclosure = row["disclosure"]
    assert "\n".join(p for p in paragraphs if p in disclosure) == "\n".join(
        line.strip() for line in disclosure.splitlines() if line.strip()
    )
    assert paragraphs[-2:] == [f"日期：{date.today().isoformat()}", "AI辅助起草 · 复核人：____"]
    exported = engine.audit.turns(1)[0]
    assert exported["channel"] == "advisor" and exported["kind"] == "export"
    assert exported["parent_turn"] == row["turn_id"]
    assert exported["answer"] == "\n".join(p for p in paragraphs if p)
    assert "GUARANTEE-001" in [f["rule"] for f in exported["findings"]]
    page.screenshot(path=str(tmp_path / "3-exported.png"), full_page=True)

    markdown = download(page, "#export-md", tmp_path).read_text(encoding="utf-8")
    assert markdown.startswith(f"# {TITLE}\n") and "我们保证年化收益15%" in markdown
    assert disclosure.splitlines()[1] in markdown and "AI辅助起草 · 复核人：____" in markdown
    assert engine.audit.turns(1)[0]["answer"] == markdown


def drafted(page: Any, url: str, topic: str = TOPIC) -> None:
    """The advisor tab with ``topic`` drafted offline: the draft, its sources and disclosure
    shown."""
    page.goto(url)
    page.get_by_role("tab", name="顾问草稿").click()
    page.locator("#topic textarea").fill(topic)
    page.locator("#make-draft").click()
    expect(page.locator("#draft textarea")).not_to_have_value("")
    expect(page.locator("#draft-extras")).to_contain_text("风险提示")


def test_a_new_draft_takes_away_the_last_clients_download(
    offline_ui: tuple[str, AnswerEngine], page: Any, tmp_path: Path
) -> None:
    # The advisor exported one client's draft, then drafted for the next client: the first
    # client's file stayed offered under the new draft, one click from going to the wrong person.
    drafted(page, offline_ui[0])
    first = download(page, "#export-md", tmp_path)
    first_text = first.read_text(encoding="utf-8")
    assert first_text.startswith(f"# {TITLE}\n")

    page.locator("#topic textarea").fill("杰文斯悖论是什么意思")
    page.locator("#make-draft").click()
    expect(page.locator("#draft textarea")).to_have_value(re.compile("杰文斯"), timeout=30_000)
    expect(page.locator("#export-file a[download]")).to_have_count(0)
    page.screenshot(path=str(tmp_path / "next-client.png"), full_page=True)
    second = download(page, "#export-md", tmp_path)  # and the next export is offered again
    second_text = second.read_text(encoding="utf-8")  # the next client's draft, same subject
    assert second_text.startswith(f"# {TITLE}\n") and second_text != first_text


def test_a_draft_that_is_not_made_leaves_the_last_one_as_the_advisor_edited_it(
    offline_ui: tuple[str, AnswerEngine], page: Any, tmp_path: Path
) -> None:
    # A topic too long (an article pasted in its place) or none at all is refused with a
    # sentence; the draft the advisor had edited went blank with it, and could not be exported.
    drafted(page, offline_ui[0])
    draft = page.locator("#draft textarea")
    edited = draft.input_value() + "\n张女士：以上要点供您参考，欢迎来电讨论。"
    draft.fill(edited)
    # So is a topic the engine declines: personal advice is no text to send a client.
    advice = "客户65岁，退休金50万，要不要全部买588930？"
    for topic, said in (("文" * 2001, "2000字的上限"), ("", "请先"), (advice, "没有生成草稿")):
        page.locator("#topic textarea").fill(topic)
        page.locator("#make-draft").click()
        expect(page.locator("#advisor-status")).to_contain_text(said)
        expect(draft).to_have_value(edited)
        expect(page.locator("#draft-extras")).to_contain_text("风险提示")
    page.screenshot(path=str(tmp_path / "refused-kept.png"), full_page=True)
    markdown = download(page, "#export-md", tmp_path).read_text(encoding="utf-8")
    assert "张女士：以上要点供您参考，欢迎来电讨论。" in markdown


def test_a_draft_restating_the_clients_particulars_is_marked_and_not_exported(
    offline_ui: tuple[str, AnswerEngine], page: Any, tmp_path: Path
) -> None:
    # The client's age and savings, typed in the topic, went into the client's file when the
    # draft repeated them ("对于65岁、退休金50万元的您…").
    url, engine = offline_ui
    assert engine.audit is not None
    drafted(page, url, f"客户王女士65岁，退休金50万，想了解{TOPIC}")
    draft = page.locator("#draft textarea")
    made = draft.input_value()
    assert "原文摘录" in made and "65岁" not in made
    draft.fill(f"{made}\n王女士，对于65岁、退休金50万元的您，以上内容值得参考。")
    page.locator("#recheck").click()
    findings = page.locator("#findings")
    expect(findings).to_contain_text("PRIVACY-002")
    expect(findings.locator("mark.finding")).to_contain_text("65岁")
    rows = len(engine.audit.turns(100))
    page.locator("#export-docx").click()
    expect(page.locator("#advisor-status")).to_contain_text("没有导出")
    expect(page.locator("#export-file a[download]")).to_have_count(0)
    # Nothing left the app; the attempt is recorded without its text.
    (attempt,) = engine.audit.turns(100)[: len(engine.audit.turns(100)) - rows]
    assert (attempt["outcome"], attempt["why"], attempt["answer"]) == ("refused", "particulars", "")
    page.screenshot(path=str(tmp_path / "particulars.png"), full_page=True)
    draft.fill(made)  # the advisor deletes the sentence
    text = "\n".join(
        p.text for p in Document(str(download(page, "#export-docx", tmp_path))).paragraphs
    )
    assert "原文摘录" in text and "65岁" not in text and "王女士" not in text
