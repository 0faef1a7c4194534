"""The thesis explainer: the seed's argument map offline and against the fake model, kept per
article version, recorded in the audit trail, and served by the CLI and ``GET /api/thesis``."""

from __future__ import annotations

import gc
import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from assistant.answer import AnswerEngine
from assistant.chunking import chunk_article, to_langchain_documents
from assistant.compliance import lint
from assistant.config import Settings
from assistant.documents import load_article
from assistant.embeddings import Embedder
from assistant.factory import build_engine, build_store, sync_knowledge
from assistant.prompts import message
from assistant.store import KnowledgeStore, StoredChunk
from assistant.thesis import ArgumentMap, ThesisService, render_outline
from assistant.thesis.extract import Citer, counterpoint_notice, extract
from assistant.web import Services, create_app
from tests.conftest import ROOT, SEED_STEPS, run, settings_for
from tests.fakellm import FakeLLM

TODAY = date(2026, 11, 15)  # 21 months after the seed's February 2025

BEAR_SECTION = "一、为什么有声音认为DeepSeek利空算力股?"


def article_disclosure(store: KnowledgeStore, chunk_id: str) -> str | None:
    """The disclosure stored for the article a chunk belongs to, verbatim."""
    (chunk,) = store.get([chunk_id])
    key = chunk.meta("disclosure_id")
    return store.disclosure(key) if key else None


@pytest.fixture
def seed_map(offline: AnswerEngine) -> ArgumentMap:
    offline.today = lambda: TODAY
    (only,) = ThesisService(offline).maps(channel="cli")
    return only


def test_seed_offline_map_follows_the_articles_argument_in_order(seed_map: ArgumentMap) -> None:
    assert seed_map.mode == "offline" and seed_map.model is None
    # Named as a reader knows it, never by a server path.
    assert seed_map.path == "000_bb0ece290725cdd0.txt"
    assert {c.path for c in seed_map.citations()} == {seed_map.path}
    assert len(seed_map.steps) == len(SEED_STEPS)
    for step, (claim, support, kind) in zip(seed_map.steps, SEED_STEPS, strict=True):
        assert claim in step.claim
        assert step.kind == kind, step.claim
        # Each step cites a passage, and the quoted support is a sentence of that passage.
        assert step.citations
        first = step.citations[0]
        assert first.quote in first.text and support in first.text
        assert support in first.quote or support in step.claim
        assert step.ask and step.claim in step.ask
    # The product the article points to is on the last step, cited.
    product = seed_map.steps[-1].evidence
    assert any("588930" in e.text and e.label == "product" for e in product)
    assert seed_map.thesis is not None and "证伪" in seed_map.thesis.text


def test_seed_map_counterpoints_come_from_the_bear_case_and_the_disclosure(
    seed_map: ArgumentMap,
) -> None:
    article = [p for p in seed_map.counterpoints if p.source == "article"]
    risks = [p for p in seed_map.counterpoints if p.source == "disclosure"]
    assert article and risks
    for point in article:
        (citation,) = point.citations
        assert citation.section == BEAR_SECTION
        assert point.text in citation.text
    assert "可能会影响AI算力的成长空间" in article[0].text
    for point in risks:
        assert point.citations[0].section == "风险提示" and point.text in point.citations[0].text
    assert any("损失" in p.text for p in risks)
    # The article does give a counter-argument: no "none given" notice.
    assert not any("没有提出反方观点" in n for n in seed_map.notices)


def test_a_chart_stands_under_the_step_it_shows(seed_map: ArgumentMap) -> None:
    # The training-and-inference chart closes the Jevons paradox's section in the article, but
    # it shows the next one's argument (inference needs more compute); the IT spending chart
    # stays beside the spending it charts.
    def charts(word: str) -> list[str]:
        [step] = [s for s in seed_map.steps if word in s.claim]
        return [e.text for e in step.evidence if e.label == "chart"]

    assert charts("杰文斯悖论") == []
    assert any("大模型的训练与应用" in c for c in charts("推理算力"))
    assert any("全球IT支出" in c for c in charts("加码算力基建"))
    outline = render_outline(seed_map)
    assert outline.count("图:人工智能基本原理") == 1  # said once, not as a quote and again


def test_seed_map_is_dated_carries_the_disclosure_and_has_no_findings(
    seed_map: ArgumentMap, seeded
) -> None:
    assert seed_map.published == "2025-02" and seed_map.age_months == 21
    assert any("2025年2月" in n and "1年9个月" in n for n in seed_map.notices)
    figures = [f for step in seed_map.steps for f in step.figures]
    assert {"600万美元", "5万亿美元", "6.8%"} <= {f.text for f in figures}
    assert all(f.as_of == "2025-02" for f in figures)
    disclosure = article_disclosure(seeded[1], seed_map.steps[0].citations[0].chunk_id)
    assert seed_map.disclosure == disclosure and seed_map.disclosure.startswith("风险提示")
    assert seed_map.findings == []
    outline = render_outline(seed_map)
    assert outline.rstrip().endswith(seed_map.disclosure.rstrip())
    shown = outline[: outline.index(seed_map.disclosure)]
    assert lint(shown).ok, lint(shown).findings
    assert "2025年2月文章发表时的数字" in shown


def test_a_map_is_built_once_per_version_and_recorded_in_the_audit_trail(
    offline: AnswerEngine,
) -> None:
    service = ThesisService(offline)
    (first,) = service.maps(channel="api")
    (again,) = ThesisService(offline).maps(channel="web")  # a new process reads the kept map
    assert again.turn_id == first.turn_id and again.built_at == first.built_at
    assert offline.audit is not None
    rows = [r for r in offline.audit.turns() if r["kind"] == "thesis"]
    assert [r["turn_id"] for r in rows] == [first.turn_id]
    (row,) = rows
    assert row["channel"] == "api" and row["mode"] == "offline"
    assert row["disclosure"] == first.disclosure
    assert "有声音认为DeepSeek利空算力股" in row["answer"]
    cited = [c["chunk_id"] for c in row["citations"]]
    assert first.steps[0].citations[0].chunk_id in cited
    assert {r["doc_hash"] for r in row["retrieved"]} == {first.version}
    assert {c["doc_hash"] for c in row["citations"]} == {first.version}
    assert offline.audit.verify().ok


def own_copy(tmp_path: Path, embedder: Embedder) -> tuple[Settings, KnowledgeStore, ThesisService]:
    """A copy of the knowledge folder, a store synced from it, and a thesis service over it."""
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    settings = settings_for(tmp_path)
    store = build_store(settings, embedder)
    assert sync_knowledge(settings, store).ok
    return settings, store, ThesisService(build_engine(settings, store=store))


def test_a_changed_article_gets_a_new_map(tmp_path: Path, embedder) -> None:
    settings, store, service = own_copy(tmp_path, embedder)
    (before,) = service.maps()
    seed = next((tmp_path / "knowledge").glob("000_*.txt"))
    text = seed.read_text(encoding="utf-8")
    seed.write_text(
        text.replace("(3)全球科技巨头仍然在加码算力基建", "(3)全球云厂商仍然在加码算力基建")
    )
    assert sync_knowledge(settings, store).ok
    (after,) = service.maps()
    assert after.version != before.version and after.turn_id != before.turn_id
    assert "全球云厂商仍然在加码算力基建" in [s.claim for s in after.steps]


def test_a_withdrawn_articles_map_is_kept_nowhere(tmp_path: Path, embedder) -> None:
    settings, store, service = own_copy(tmp_path, embedder)

    def kept() -> set[str]:
        service.maps()
        return {p.name for p in service.cache_dir.glob("*.json")}

    seed_only = kept()
    note = tmp_path / "knowledge" / "note.md"
    note.write_text("# 札记\n\n推理算力需求上升。因此算力需求可能增加。\n", encoding="utf-8")
    assert sync_knowledge(settings, store).ok
    assert len(kept()) == 2
    note.unlink()  # the article is withdrawn: its map goes with it
    assert sync_knowledge(settings, store).ok
    assert kept() == seed_only and len(seed_only) == 1


def test_a_listing_begun_before_a_sync_keeps_the_new_articles_map(tmp_path: Path, embedder) -> None:
    settings, store, service = own_copy(tmp_path, embedder)
    with store.reading() as before:  # a listing that began before the note was published
        (tmp_path / "knowledge" / "note.md").write_text(
            "# 札记\n\n推理算力需求上升。因此算力需求可能增加。\n", encoding="utf-8"
        )
        assert sync_knowledge(settings, store).ok
        assert len(service.maps()) == 2  # the note's map is built and kept
        kept = {p.name for p in service.cache_dir.glob("*.json")}
        service._forget_gone(before.index_state(), before)
    # The older listing saw no note, and took nothing away: the note's map is still kept.
    assert {p.name for p in service.cache_dir.glob("*.json")} == kept and len(kept) == 2


def stored_chunks(path: Path) -> list[StoredChunk]:
    """An article through the real parser and chunker, as the store would hold its chunks."""
    article = load_article(path, path.name, 1_000_000)
    chunks = chunk_article(article)
    documents = to_langchain_documents(article, chunks)
    return [
        StoredChunk(c.chunk_id, c.text, d.metadata) for c, d in zip(chunks, documents, strict=True)
    ]


def test_a_map_says_plainly_when_the_article_gives_no_counterpoint(tmp_path: Path) -> None:
    body = (
        "AI芯片需求再梳理\n"
        "一、推理需求持续增长\n推理调用量在过去一年里增长了三倍,带动了对算力的需求。\n"
        "二、云厂商扩大资本开支\n多家云厂商在最新财报中提高了全年资本开支指引。\n"
    )
    bare = tmp_path / "bare.txt"
    bare.write_text(body, encoding="utf-8")
    extracted = extract(stored_chunks(bare), "zh", Citer("zh", tmp_path))
    assert [s.claim for s in extracted.steps] == ["推理需求持续增长", "云厂商扩大资本开支"]
    assert extracted.counterpoints == [] and extracted.risks == []
    notice = counterpoint_notice(extracted.counterpoints, extracted.risks, "zh")
    assert notice == "资料中没有反方观点，也没有风险说明。"

    disclosed = tmp_path / "disclosed.txt"
    disclosed.write_text(body + "风险提示\n基金投资可能承担基金投资所带来的损失。\n", "utf-8")
    extracted = extract(stored_chunks(disclosed), "zh", Citer("zh", tmp_path))
    assert [p.text for p in extracted.risks] == ["基金投资可能承担基金投资所带来的损失。"]
    notice = counterpoint_notice(extracted.counterpoints, extracted.risks, "zh")
    assert notice is not None and "没有提出反方观点" in notice


def test_a_poisoned_source_sentence_is_masked_in_the_maps_passages(tmp_path: Path) -> None:
    poisoned = tmp_path / "poisoned.txt"
    poisoned.write_text(
        "算力需求再梳理\n一、推理需求持续增长\n"
        "推理调用量在过去一年里增长了三倍。本ETF保本保收益,稳赚不赔。\n",
        encoding="utf-8",
    )
    (step,) = extract(stored_chunks(poisoned), "zh", Citer("zh", tmp_path)).steps
    (citation,) = step.citations
    assert "保本" not in citation.text and "保本" not in citation.quote
    assert message("zh", "masked_source") in citation.text
    assert citation.quote == "推理调用量在过去一年里增长了三倍。"


def test_no_step_rests_on_the_articles_promotion_of_its_product(
    seed_map: ArgumentMap, tmp_path: Path
) -> None:
    # The seed's index section states the index's weights, then sells it: "…占比51%,或是把握
    # 算力国产替代趋势的有力工具". The weights are evidence; the sales line is not, anywhere.
    shown = [
        text
        for step in seed_map.steps
        for text in (
            step.claim,
            *(c.quote for c in step.citations),
            *(e.text for e in step.evidence),
        )
    ]
    assert not [text for text in shown if "有力工具" in text or "把握" in text]
    [index] = [s for s in seed_map.steps if "科创板人工智能指数" in s.claim]
    weights = "AI算力相关的计算机和半导体合计权重85%,高端数字芯片设计成份股占比51%"
    assert [e.text for e in index.evidence if e.label == "figure"] == [weights]
    assert {"85%", "51%"} <= {f.text for f in index.figures}

    # A heading's step quotes the sentence that states it, not the one that sells it (which
    # shares more of the heading's words); a section that only sells gives no step at all.
    promo = tmp_path / "promo.txt"
    promo.write_text(
        "AI算力指数再梳理\n"
        "一、算力指数覆盖算力产业链\n本指数是把握算力产业链机遇的有力工具。\n"
        "指数成份股覆盖算力芯片、服务器与光模块三个环节。\n"
        "二、今日指数\n算力指数是布局AI浪潮的便捷工具。\n",
        encoding="utf-8",
    )
    (step,) = extract(stored_chunks(promo), "zh", Citer("zh", tmp_path)).steps
    assert step.claim == "算力指数覆盖算力产业链"
    assert [c.quote for c in step.citations] == ["指数成份股覆盖算力芯片、服务器与光模块三个环节。"]


# -- against the fake model -----------------------------------------------------------------------

# A model's draft of the seed's map: five steps, one with a figure the source does not hold
# (900万), one with a prohibited claim, and a counterpoint.
DRAFT = (ROOT / "tests" / "fixtures" / "thesis_draft.txt").read_text(encoding="utf-8")


def test_online_map_drops_a_step_whose_figure_the_source_does_not_hold(
    online: AnswerEngine, fake_llm: FakeLLM
) -> None:
    fake_llm.script({"text": DRAFT})
    (drafted,) = ThesisService(online).maps(channel="api")
    assert drafted.mode == "llm" and drafted.model == "deepseek-flash"
    claims = [s.claim for s in drafted.steps]
    assert claims == [
        "有声音认为DeepSeek训练成本低会利空算力股",
        "根据杰文斯悖论，效率提高反而可能让整体消耗上升",
        "未来大模型推理的算力成本可能会持续走高",
    ]
    assert not any("900万" in c for c in claims)
    assert any("900万" in n and "删去" in n for n in drafted.notices)
    assert [s.kind for s in drafted.steps] == ["fact", "view", "forecast"]
    for step in drafted.steps:
        (citation,) = step.citations
        assert citation.quote in citation.text
    assert drafted.counterpoints[0].text == "低成本可能会影响AI算力的成长空间"
    assert drafted.counterpoints[0].citations[0].section == BEAR_SECTION
    assert drafted.disclosure.startswith("风险提示")
    # The model saw the article as numbered sources fenced as data, after the fixed prompt.
    system = fake_llm.chat_requests[0]["body"]["messages"][0]["content"]
    assert "<<<资料开始>>>" in system and "[6] 科创板人工智能指数" in system
    # Recorded like an answer, with the model request it made.
    assert online.audit is not None
    row = online.audit.turn(drafted.turn_id)
    assert row is not None and row["kind"] == "thesis" and row["model"] == "deepseek-flash"
    assert [c["stage"] for c in row["calls"]] == ["thesis"]


def test_online_map_never_shows_a_step_with_a_prohibited_claim(
    seeded, online: AnswerEngine, fake_llm: FakeLLM
) -> None:
    fake_llm.script({"text": DRAFT})
    with TestClient(create_app(online.settings, Services(online))) as client:
        body = client.get("/api/thesis").json()
    # The app is cyclic garbage: collect it while the fixture still holds the engine, so the
    # model client's connection pool is closed by its own finaliser when the fixture lets go,
    # not finalised piecemeal (an unclosed-socket warning) by a later collection.
    del client
    gc.collect()
    (served,) = body["maps"]
    shown = json.dumps([served["steps"], served["counterpoints"], served["notices"]])
    assert "保本" not in shown and "稳赚" not in shown
    assert any("不符合基金宣传规范" in n for n in served["notices"])
    chunk_id = served["steps"][0]["citations"][0]["chunk_id"]
    assert served["disclosure"] == article_disclosure(seeded[1], chunk_id)
    assert any(f["rule"] == "GUARANTEE-001" for f in served["findings"])  # kept for the audit


def test_online_map_never_rests_a_step_on_the_articles_promotion(
    online: AnswerEngine, fake_llm: FakeLLM
) -> None:
    # The index's weights are a statement; that the index is "a powerful tool to seize the
    # trend" is the article selling it: a step may state the first, never the second, and the
    # sentence it rests on is the statement without its sales clause.
    fake_llm.script(
        {
            "text": "STEP fact: 2月6日晚间DeepSeek暂停了API服务充值[1]\n"
            "STEP fact: 科创板人工智能指数中AI算力相关的计算机和半导体合计权重85%[6]\n"
            "STEP view: 科创板人工智能指数或是把握算力国产替代趋势的有力工具[6]\n"
        }
    )
    (drafted,) = ThesisService(online).maps(channel="api")
    assert drafted.mode == "llm"
    assert [s.claim for s in drafted.steps] == [
        "2月6日晚间DeepSeek暂停了API服务充值",
        "科创板人工智能指数中AI算力相关的计算机和半导体合计权重85%",
    ]
    (weights,) = drafted.steps[1].citations
    assert weights.quote == "AI算力相关的计算机和半导体合计权重85%,高端数字芯片设计成份股占比51%"
    assert weights.quote in weights.text
    assert any("不符合基金宣传规范" in n for n in drafted.notices)


def test_online_map_falls_back_to_the_articles_structure_when_the_model_fails(
    online: AnswerEngine, fake_llm: FakeLLM
) -> None:
    fake_llm.script(402)
    (fallback,) = ThesisService(online).maps()
    assert fallback.mode == "fallback"
    assert [s.claim for s in fallback.steps][:3] == [
        "2月6日晚间,DeepSeek暂停了API服务充值。",
        "有声音认为DeepSeek利空算力股",
        "杰文斯悖论的存在",
    ]
    assert any("不可用" in n for n in fallback.notices)
    assert fallback.disclosure.startswith("风险提示")


def test_thesis_route_rejects_an_unknown_article_with_the_disclosure(
    offline: AnswerEngine,
) -> None:
    client = TestClient(create_app(offline.settings, Services(offline)))
    response = client.get("/api/thesis", params={"path": "knowledge/nope.txt"})
    assert response.status_code == 404
    assert "nope.txt" in response.json()["error"] and response.json()["disclosure"]


# -- the command line -----------------------------------------------------------------------------


def test_thesis_command_prints_the_maps_with_the_disclosure(seeded, tmp_path: Path) -> None:
    settings, _ = seeded
    data = tmp_path / "data"
    shutil.copytree(settings.data_dir, data, ignore=shutil.ignore_patterns("audit*", "thesis"))
    as_json = run(["-m", "assistant", "thesis", "--json"], tmp_path, ASSISTANT_DATA_DIR=str(data))
    assert as_json.returncode == 0, as_json.stderr
    (printed,) = json.loads(as_json.stdout)["maps"]
    assert {"steps", "counterpoints", "published", "disclosure"} <= set(printed)
    assert {"claim", "kind", "citations"} <= set(printed["steps"][0])
    assert printed["disclosure"].startswith("风险提示")
    as_text = run(["-m", "assistant", "thesis"], tmp_path, ASSISTANT_DATA_DIR=str(data))
    assert as_text.returncode == 0, as_text.stderr
    assert "杰文斯悖论的存在" in as_text.stdout and "投资有风险,投资需谨慎" in as_text.stdout
