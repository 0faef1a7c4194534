"""Chunking: sentences, packing, sections, ids, and the LangChain face of it."""

from __future__ import annotations

import dataclasses
import itertools
import re
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_text_splitters import TextSplitter

from assistant.chunking import (
    ChineseTextSplitter,
    Chunk,
    chunk_article,
    split_sentences,
    to_langchain_documents,
)
from assistant.documents import Article, Block, load_article
from assistant.text import normal_form

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "knowledge" / "000_bb0ece290725cdd0.txt"
ENDS_SENTENCE = re.compile(r"[。！？；!?;.][”’\"'）)】」』》\]]*$")


@pytest.fixture(scope="module")
def seed() -> Article:
    return load_article(SEED, "knowledge/000_bb0ece290725cdd0.txt", 20 * 2**20)


@pytest.fixture(scope="module")
def chunks(seed: Article) -> list[Chunk]:
    return chunk_article(seed)


def article_of(*blocks: Block, path: str = "a.txt") -> Article:
    return Article(path=path, title="t", blocks=blocks, content_hash="h")


# -- sentences ------------------------------------------------------------------------------------


def test_sentences_split_at_chinese_and_half_width_terminators() -> None:
    assert split_sentences("底层逻辑如何?本文为大家梳理。训练阶段;推理阶段！真的吗？是的") == [
        "底层逻辑如何?",
        "本文为大家梳理。",
        "训练阶段;",
        "推理阶段！",
        "真的吗？",
        "是的",
    ]


def test_decimals_and_versions_are_not_sentence_ends() -> None:
    assert split_sentences("相较2023年增长6.8%。DeepSeek V3.5版本发布。") == [
        "相较2023年增长6.8%。",
        "DeepSeek V3.5版本发布。",
    ]


def test_quotations_stay_whole_with_their_closing_marks() -> None:
    text = "官方声明称,“当前服务器资源紧张。存量充值金额可继续调用,敬请谅解!”。因此,观点被证伪。"
    assert split_sentences(text) == [
        "官方声明称,“当前服务器资源紧张。存量充值金额可继续调用,敬请谅解!”。",
        "因此,观点被证伪。",
    ]
    assert split_sentences("他说：“好。”（注：数据截至2024年。）然后走了。") == [
        "他说：“好。”（注：数据截至2024年。）然后走了。"
    ]


def test_english_sentences_respect_abbreviations_urls_and_list_numbers() -> None:
    text = (
        '1. Investing involves risk. Dr. Smith said "It works." Spending grew 6.8% in the U.S. '
        "last year! See www.example.com/a?b=1 for more."
    )
    assert split_sentences(text) == [
        "1. Investing involves risk.",
        'Dr. Smith said "It works."',
        "Spending grew 6.8% in the U.S. last year!",
        "See www.example.com/a?b=1 for more.",
    ]


# -- the seed -------------------------------------------------------------------------------------


def test_seed_caption_and_attribution_stay_with_the_jevons_paragraph(chunks: list[Chunk]) -> None:
    [chunk] = [c for c in chunks if "图:人工智能基本原理" in c.text]
    assert "应用到DeepSeek问题上" in chunk.text
    assert chunk.text.endswith(
        "上升。\n图:人工智能基本原理:大模型的训练与应用\n(信息来源:德邦证券)"
    )
    assert chunk.section == "二、为何DeepSeek实际可能促进AI算力的市场空间? > (1)杰文斯悖论的存在"
    [it_chunk] = [c for c in chunks if "(信息来源:国信证券)" in c.text]
    assert "增长6.8%。\n图:2020-2024年全球IT支出情况\n(信息来源:国信证券)" in it_chunk.text


def test_seed_chunks_never_split_a_sentence(seed: Article, chunks: list[Chunk]) -> None:
    paragraphs = [b.text for b in seed.blocks if b.kind != "heading"]
    for chunk in chunks:
        last_line = chunk.text.split("\n")[-1]
        ends_paragraph = any(p.endswith(last_line) for p in paragraphs)
        assert ENDS_SENTENCE.search(chunk.text) or ends_paragraph, chunk.text[-20:]
        first_line = chunk.text.split("\n")[0]
        assert any(first_line in p for p in paragraphs)


def test_seed_chunk_sizes_are_near_the_target(chunks: list[Chunk]) -> None:
    assert 10 <= len(chunks) <= 16
    assert all(len(c.text) <= 350 for c in chunks)
    sections = [c.section for c in chunks]
    for chunk, following in zip(chunks, sections[1:], strict=False):
        if following == chunk.section:  # not the last chunk of its section
            assert len(chunk.text) >= 100, chunk.text


def test_seed_chunks_carry_sections_without_repeating_headings(chunks: list[Chunk]) -> None:
    assert chunks[0].section is None
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    headings = ("一、为什么有声音", "(1)杰文斯悖论的存在", "今日指数", "风险提示")
    assert not any(h in c.text for c in chunks for h in headings)
    assert any(
        c.section == "今日指数" and "相关产品:科创板人工智能ETF(588930)" in c.text for c in chunks
    )
    assert chunks[1].embed_text.startswith("一、为什么有声音认为DeepSeek利空算力股?\nDeepSeek引起")


def test_seed_disclosure_is_chunked_as_disclosure(seed: Article, chunks: list[Chunk]) -> None:
    disclosure = [c for c in chunks if c.kind == "disclosure"]
    assert disclosure and all(c.section == "风险提示" for c in disclosure)
    assert all(c.kind == "body" for c in chunks if c.section != "风险提示")
    assert disclosure[0].text.startswith("尊敬的投资者:投资有风险,投资需谨慎。")
    assert disclosure[-1].text.endswith("也不表明投资于基金没有风险。")
    assert seed.disclosure is not None
    assert all(c.text.replace("\n", "") in seed.disclosure.replace("\n", "") for c in disclosure)


def test_seed_chunk_ids_are_stable_and_follow_the_text(seed: Article, chunks: list[Chunk]) -> None:
    again = chunk_article(seed)
    assert [c.chunk_id for c in again] == [c.chunk_id for c in chunks]
    assert all(re.fullmatch(r"[0-9a-f]{32}", c.chunk_id) for c in chunks)
    assert len({c.chunk_id for c in chunks}) == len(chunks)

    edited = list(seed.blocks)
    index = next(i for i, b in enumerate(edited) if b.text.startswith("据测算"))
    edited[index] = dataclasses.replace(
        edited[index], text=edited[index].text.replace("6.8%", "7.1%")
    )
    changed = chunk_article(dataclasses.replace(seed, blocks=tuple(edited)))
    old_ids = {c.chunk_id for c in chunks}
    assert [c.chunk_id for c in changed if c.chunk_id not in old_ids] == [
        c.chunk_id for c in changed if "7.1%" in c.text
    ]
    assert len([c for c in changed if c.chunk_id not in old_ids]) == 1


def test_overlap_repeats_whole_sentences_within_a_section(chunks: list[Chunk]) -> None:
    overlapping = 0
    for previous, chunk in itertools.pairwise(chunks):
        first_sentence = split_sentences(chunk.text.split("\n")[0])[0]
        if previous.section == chunk.section and previous.text.endswith(first_sentence):
            overlapping += 1
            assert len(first_sentence) <= 60
        elif previous.section != chunk.section:
            assert first_sentence not in previous.text
    assert overlapping >= 1


# -- packing rules --------------------------------------------------------------------------------


def test_every_heading_starts_a_chunk_and_overlap_stays_in_its_section() -> None:
    article = article_of(
        Block("heading", "一、甲", level=1),
        Block("paragraph", "短句一。短句二。"),
        Block("heading", "二、乙", level=1),
        Block("paragraph", "短句三。"),
    )
    chunks = chunk_article(article, target_chars=300, overlap_chars=60)
    assert [(c.section, c.text) for c in chunks] == [
        ("一、甲", "短句一。短句二。"),
        ("二、乙", "短句三。"),
    ]


def test_paragraphs_of_a_section_pack_together_with_newlines() -> None:
    article = article_of(Block("paragraph", "第一段。"), Block("paragraph", "Second one. Done."))
    assert [c.text for c in chunk_article(article)] == ["第一段。\nSecond one. Done."]


def test_overlap_is_whole_trailing_sentences_up_to_the_limit() -> None:
    sentence = "这是一个二十个字左右的完整句子用于测试。"  # 20 characters
    article = article_of(Block("paragraph", sentence * 6))
    chunks = chunk_article(article, target_chars=60, overlap_chars=45)
    # Sentences 1-3, then two sentences of overlap and one new: 2-4, 3-5, 4-6.
    assert [c.text for c in chunks] == [sentence * 3] * 4
    assert [c.text for c in chunk_article(article, 60, 39)] == [sentence * 3] * 2 + [sentence * 2]


def test_long_sentence_is_split_at_commas_then_cut() -> None:
    clause = "这是一个很长的从句没有句号" * 2 + "，"  # 27 characters
    long_sentence = clause * 12 + "结束。"
    chunks = chunk_article(article_of(Block("paragraph", long_sentence)), 100, 0)
    assert "".join(c.text for c in chunks) == long_sentence
    assert all(c.text.endswith(("，", "。")) for c in chunks)
    assert all(len(c.text) <= 150 for c in chunks)

    run_on = "字" * 700
    pieces = chunk_article(article_of(Block("paragraph", run_on)), 100, 0)
    assert "".join(c.text for c in pieces) == run_on
    assert max(len(c.text) for c in pieces) <= 150


def test_sentence_under_twice_the_target_is_never_cut() -> None:
    sentence = "甲" * 180 + "。"
    chunks = chunk_article(article_of(Block("paragraph", "短句。" + sentence + "短句。")), 100, 0)
    assert sentence in [c.text for c in chunks] or any(sentence in c.text for c in chunks)


def test_identical_chunks_in_one_section_get_distinct_ids() -> None:
    paragraph = "同样的一句话出现了两次。" * 20
    article = article_of(Block("paragraph", paragraph), Block("paragraph", paragraph))
    chunks = chunk_article(article, target_chars=240, overlap_chars=0)
    assert [c.text for c in chunks] == [paragraph, paragraph]
    assert chunks[0].chunk_id != chunks[1].chunk_id
    assert [c.chunk_id for c in chunk_article(article, 240, 0)] == [c.chunk_id for c in chunks]


def test_chunk_ids_depend_on_the_article_path() -> None:
    blocks = (Block("paragraph", "同一句话。"),)
    one = chunk_article(article_of(*blocks, path="a.txt"))[0]
    other = chunk_article(article_of(*blocks, path="b.txt"))[0]
    assert one.chunk_id != other.chunk_id


def test_pdf_pages_carry_into_chunks() -> None:
    article = article_of(
        Block("paragraph", "Page one.", page=1), Block("paragraph", "Two.", page=2)
    )
    assert [c.page for c in chunk_article(article)] == [1]
    assert [c.page for c in chunk_article(article, target_chars=10, overlap_chars=0)] == [1, 2]


# -- LangChain ------------------------------------------------------------------------------------


def test_chinese_text_splitter_is_a_langchain_splitter_with_the_same_rules() -> None:
    splitter = ChineseTextSplitter(chunk_size=30, chunk_overlap=10)
    assert isinstance(splitter, TextSplitter)
    text = "官方声明称,“当前资源紧张。敬请谅解!”。增长6.8%。\n第二段第一句。第二句话比较长一些。"
    assert splitter.split_text(text) == [
        "官方声明称,“当前资源紧张。敬请谅解!”。增长6.8%。",
        "增长6.8%。\n第二段第一句。第二句话比较长一些。",
    ]
    documents = splitter.create_documents([text], metadatas=[{"path": "x"}])
    assert [d.metadata for d in documents] == [{"path": "x"}, {"path": "x"}]


def test_langchain_documents_carry_metadata_without_none(
    seed: Article, chunks: list[Chunk]
) -> None:
    documents = to_langchain_documents(seed, chunks, disclosure_id="d1")
    assert all(isinstance(d, Document) for d in documents)
    assert [d.id for d in documents] == [c.chunk_id for c in chunks]
    first, jevons = documents[0], documents[2]
    assert first.metadata == {
        "chunk_id": chunks[0].chunk_id,
        "path": "knowledge/000_bb0ece290725cdd0.txt",
        "doc_hash": seed.content_hash,
        "doc_chunks": len(chunks),
        "title": "DeepSeek暂停API充值：AI算力逻辑再梳理",
        "publisher": "银华基金",
        "source": "金融界",
        "published": "2025-02",
        "kind": "body",
        "ordinal": 0,
        "products": "科创板人工智能ETF 588930",
        "risk_level": "R4",  # from the sidecar: the gradio app's suitability check reads it
        "disclosure_id": "d1",
    }
    assert jevons.metadata["section"] == chunks[2].section
    assert jevons.page_content == chunks[2].embed_text
    assert all(v is not None for d in documents for v in d.metadata.values())


# -- the normal form, where it meets the chunker ----------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("基⾦ ⻛险提⽰", "基金风险提示"),  # Kangxi radicals and radical-supplement forms
        ("\uf900\U0002f800", "豈丽"),  # compatibility ideographs
        ("在承认 DeepSeek 的成功之后 , 全球", "在承认 DeepSeek 的成功之后,全球"),
        ("ＥＴＦ５８８９３０涨６．８％", "ETF588930涨6.8%"),
        ("ﬁle\u00a0name\u00ad", "file name"),
        ("AI 大模型。", "AI 大模型。"),  # a writer's space between Latin and CJK stays
        ("阶段\t份额  净值", "阶段\t份额  净值"),  # column alignment in plain-text tables stays
        ("尊敬的投资者:投资有风险,投资需谨慎。", "尊敬的投资者:投资有风险,投资需谨慎。"),
        ("（一）①-③：“引号”，", "（一）①-③：“引号”，"),  # CJK punctuation as written
    ],
)
def test_the_normal_form_folds_lookalikes_and_extraction_spaces_only(raw: str, normal: str) -> None:
    assert normal_form(raw) == normal
    assert normal_form(normal) == normal  # idempotent


def test_the_seed_text_is_already_in_the_normal_form() -> None:
    text = SEED.read_text(encoding="utf-8")
    assert normal_form(text) == text


def test_full_width_decimals_do_not_split_sentences_once_normalised() -> None:
    splitter = ChineseTextSplitter(chunk_size=100, chunk_overlap=0)
    assert splitter.split_text("增长６．８％。⻛险较⾼。") == ["增长6.8%。风险较高。"]
