"""Loading articles: the real seed, every supported format, encodings, and refused input."""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from assistant.documents import (
    PIPELINE_VERSION,
    Article,
    Block,
    content_hash_of,
    decode_text,
    load_article,
    parse_blocks,
)
from assistant.errors import IngestError
from assistant.inventory import FileWarning, SyncReport

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "knowledge" / "000_bb0ece290725cdd0.txt"
LIMIT = 20 * 2**20

SEED_HEADINGS = [
    (1, "一、为什么有声音认为DeepSeek利空算力股?"),
    (1, "二、为何DeepSeek实际可能促进AI算力的市场空间?"),
    (2, "(1)杰文斯悖论的存在"),
    (2, "(2)大模型的推理算力需求可能更高"),
    (2, "(3)全球科技巨头仍然在加码算力基建"),
    (1, "今日指数"),
    (1, "风险提示"),
]


@pytest.fixture(scope="module")
def seed() -> Article:
    return load_article(SEED, "knowledge/000_bb0ece290725cdd0.txt", LIMIT)


def seed_copy(tmp_path: Path, name: str = "article.txt", *, sidecar: bool = False) -> Path:
    target = tmp_path / name
    shutil.copyfile(SEED, target)
    if sidecar:
        shutil.copyfile(
            SEED.with_name(f"{SEED.stem}.meta.toml"), tmp_path / f"{target.stem}.meta.toml"
        )
    return target


def refused(path: Path, max_bytes: int = LIMIT) -> str:
    with pytest.raises(IngestError) as caught:
        load_article(path, "the-key", max_bytes)
    assert caught.value.path == "the-key"
    return caught.value.reason


# -- the seed -------------------------------------------------------------------------------------


def test_seed_disclosure_is_found_verbatim(seed: Article) -> None:
    assert seed.disclosure is not None
    assert seed.disclosure.startswith("风险提示\n尊敬的投资者:投资有风险,投资需谨慎。")
    # The seed writes this sentence with half-width commas; it must come back exactly so.
    assert "不保证基金一定盈利,也不保证最低收益" in seed.disclosure
    assert seed.disclosure.endswith("也不表明投资于基金没有风险。")
    assert seed.disclosure in SEED.read_text(encoding="utf-8")


def test_seed_disclosure_blocks_run_to_the_end(seed: Article) -> None:
    start = seed.blocks.index(Block("heading", "风险提示", level=1))
    tail = seed.blocks[start + 1 :]
    assert len(tail) == 8
    assert all(block.kind == "disclosure" for block in tail)
    assert all(block.kind != "disclosure" for block in seed.blocks[:start])


@pytest.mark.parametrize(
    ("name", "text"),
    [
        (
            "inline.md",
            "# 月报\n\n风险提示：本材料仅供参考，不构成投资建议。基金有风险，投资需谨慎。\n\n"
            "## 一、观点\n\n我们判断，模型成本的下降会扩大调用量。\n\n"
            "## 二、风险\n\n若应用变现不及预期，云厂商可能放缓资本开支。\n",
        ),
        (
            "section.html",
            "<html><body><h1>月报</h1><h2>风险提示</h2><p>本材料仅供参考，不构成投资建议。"
            "基金有风险，投资需谨慎。</p><h2>一、观点</h2><p>我们判断，模型成本的下降会扩大调用量。"
            "</p><h2>二、风险</h2><p>若应用变现不及预期，云厂商可能放缓资本开支。</p></body></html>",
        ),
    ],
    ids=["markdown-line", "html-section"],
)
def test_a_disclosure_placed_first_ends_at_the_next_heading(
    tmp_path: Path, name: str, text: str
) -> None:
    # Fund notes often open with the 风险提示. It ran "to the end": the whole article became
    # its disclosure, shown under every answer, and nothing of it was left to cite.
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    article = load_article(path, name, LIMIT)
    assert article.disclosure is not None
    assert article.disclosure.endswith("本材料仅供参考，不构成投资建议。基金有风险，投资需谨慎。")
    assert "模型成本" not in article.disclosure
    body = [(b.kind, b.text) for b in article.blocks if b.kind != "disclosure"]
    assert ("heading", "一、观点") in body and ("heading", "二、风险") in body
    assert ("paragraph", "我们判断，模型成本的下降会扩大调用量。") in body
    assert ("paragraph", "若应用变现不及预期，云厂商可能放缓资本开支。") in body


@pytest.mark.parametrize(
    ("name", "text", "heading"),
    [
        (
            "hk.txt",
            "DeepSeek的訓練成本為600萬美元。\n風險提示\n投資有風險，入市需謹慎。基金的過往業績並不預示其未來表現。\n",
            "風險提示",
        ),
        (
            "tw.md",
            "# 月報\n\n推理需求持續增長。\n\n## 免責聲明\n\n本資料僅供參考，不構成投資建議。\n",
            "免責聲明",
        ),
    ],
    ids=["txt-line", "markdown-heading"],
)
def test_an_article_in_traditional_characters_keeps_its_own_disclosure(
    tmp_path: Path, name: str, text: str, heading: str
) -> None:
    # A Hong Kong or Taiwan article's 風險提示 was read as a paragraph: its risks were cited as
    # content, and answers quoting it carried the default disclosure instead of its own.
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    article = load_article(path, name, LIMIT)
    assert article.disclosure is not None and article.disclosure.startswith(heading)
    assert article.warnings == ()
    assert all(b.kind != "paragraph" or "投資建議" not in b.text for b in article.blocks)
    assert ("heading", heading) in [(b.kind, b.text) for b in article.blocks]


def test_seed_metadata_comes_from_the_sidecar(seed: Article) -> None:
    assert seed.title == "DeepSeek暂停API充值：AI算力逻辑再梳理"
    assert seed.publisher == "银华基金"
    assert seed.source == "金融界"
    assert seed.published == "2025-02"
    assert seed.products == ("科创板人工智能ETF 588930",)
    assert seed.path == "knowledge/000_bb0ece290725cdd0.txt"


def test_seed_source_line_gives_the_source_and_is_not_a_block(tmp_path: Path) -> None:
    article = load_article(seed_copy(tmp_path), "k", LIMIT)
    assert article.source == "金融界"
    assert article.publisher is None
    assert article.title == "一、为什么有声音认为DeepSeek利空算力股?"  # first heading
    assert not any("来源:金融界" in block.text for block in article.blocks)
    assert "来源:金融界" not in (article.disclosure or "")


def test_seed_navigation_line_appears_nowhere(seed: Article) -> None:
    assert not any("上一篇" in block.text for block in seed.blocks)
    assert "上一篇" not in (seed.disclosure or "")


def test_seed_headings_are_recognised(seed: Article) -> None:
    headings = [(b.level, b.text) for b in seed.blocks if b.kind == "heading"]
    assert headings == SEED_HEADINGS


def test_numbered_heading_keeps_its_paragraph_after_the_colon(seed: Article) -> None:
    index = seed.blocks.index(Block("heading", "(1)杰文斯悖论的存在", level=2))
    following = seed.blocks[index + 1]
    assert following.kind == "paragraph"
    assert following.text.startswith("所谓杰文斯悖论,简单来说就是,")


def test_product_line_with_content_after_the_colon_is_body_text(seed: Article) -> None:
    assert Block("paragraph", "相关产品:科创板人工智能ETF(588930)") in seed.blocks


def test_captions_and_attributions_follow_their_paragraph(seed: Article) -> None:
    caption = seed.blocks.index(Block("caption", "图:人工智能基本原理:大模型的训练与应用"))
    assert seed.blocks[caption - 1].kind == "paragraph"
    assert seed.blocks[caption - 1].text.startswith("应用到DeepSeek问题上")
    assert seed.blocks[caption + 1] == Block("attribution", "(信息来源:德邦证券)")
    assert Block("attribution", "(信息来源:国信证券)") in seed.blocks


def test_content_hash_covers_bytes_sidecar_and_pipeline_version(tmp_path: Path) -> None:
    path = seed_copy(tmp_path, sidecar=True)
    first = load_article(path, "k", LIMIT).content_hash
    assert first == content_hash_of(path, LIMIT)
    assert len(first) == 64 and PIPELINE_VERSION
    assert content_hash_of(path, LIMIT) == first  # same bytes, same hash
    (tmp_path / "article.meta.toml").write_text('publisher = "银华基金"\n', encoding="utf-8")
    with_new_sidecar = content_hash_of(path, LIMIT)
    path.write_bytes(path.read_bytes() + b"\n")
    with_new_bytes = content_hash_of(path, LIMIT)
    assert len({first, with_new_sidecar, with_new_bytes}) == 3


def test_sidecar_values_win_over_the_text(tmp_path: Path) -> None:
    path = seed_copy(tmp_path)
    (tmp_path / "article.meta.toml").write_text(
        'source = "银华基金官网"\npublished = 2025-02-06\nproducts = []\n', encoding="utf-8"
    )
    article = load_article(path, "k", LIMIT)
    assert article.source == "银华基金官网"
    assert article.published == "2025-02-06"  # a TOML date becomes ISO text
    assert article.products == ()


def test_broken_sidecar_is_refused_with_its_name(tmp_path: Path) -> None:
    path = seed_copy(tmp_path)
    (tmp_path / "article.meta.toml").write_text('title = "unterminated\n', encoding="utf-8")
    reason = refused(path)
    assert "article.meta.toml" in reason and "TOML" in reason


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ('"2025-13"', ["'published'", "'2025-13'", "month must be in 1..12"]),
        ('"2025-02-30"', ["'published'", "day is out of range"]),
        ('"February 2025"', ["'published'", "2025-02-06"]),
        ('"1066-10"', ["year is out of range"]),
        ("true", ["'published'", "must be text"]),
    ],
)
def test_a_sidecar_date_that_is_no_date_refuses_the_file(
    tmp_path: Path, value: str, words: list[str]
) -> None:
    path = seed_copy(tmp_path)
    (tmp_path / "article.meta.toml").write_text(f"published = {value}\n", encoding="utf-8")
    reason = refused(path)
    assert all(word in reason for word in words), reason
    assert "article.meta.toml" in reason or value == "true"


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("2025", "2025"),
        ("2025-2", "2025-02"),
        ("2025/02/06", "2025-02-06"),
        ("2025年2月", "2025-02"),
    ],
)
def test_sidecar_dates_are_stored_in_one_form(tmp_path: Path, value: str, stored: str) -> None:
    path = seed_copy(tmp_path)
    (tmp_path / "article.meta.toml").write_text(f'published = "{value}"\n', encoding="utf-8")
    assert load_article(path, "k", LIMIT).published == stored


def test_risk_level_is_read_from_the_sidecar_and_checked(tmp_path: Path) -> None:
    path = seed_copy(tmp_path)
    sidecar = tmp_path / "article.meta.toml"
    sidecar.write_text('risk_level = "r3"\n', encoding="utf-8")
    assert load_article(path, "k", LIMIT).risk_level == "R3"
    sidecar.write_text('risk_level = "R6"\n', encoding="utf-8")
    reason = refused(path)
    assert "'risk_level'" in reason and "R1, R2, R3, R4, R5" in reason


def test_the_seed_etf_carries_its_risk_level(seed: Article) -> None:
    assert seed.risk_level == "R4"


def test_an_unknown_sidecar_field_is_refused_by_name(tmp_path: Path) -> None:
    path = seed_copy(tmp_path)
    (tmp_path / "article.meta.toml").write_text('publised = "2025-02"\n', encoding="utf-8")
    reason = refused(path)
    assert "'publised'" in reason and "published" in reason and "article.meta.toml" in reason


def test_a_two_column_series_keeps_its_column_name(tmp_path: Path) -> None:
    # "年份 | HBM市场规模" over years is a series, not name–value pairs: each row keeps the
    # quantity's name ("年份：HBM市场规模" and "2023：约60亿美元" said neither what nor when).
    path = tmp_path / "hbm.md"
    path.write_text(
        "# HBM需求测算\n\n| 年份 | HBM市场规模 |\n|---|---|\n| 2023 | 约60亿美元 |\n"
        "| 2024年 | 约170亿美元 |\n\n| 项目 | 内容 |\n|---|---|\n| 基金主代码 | 588930 |\n",
        encoding="utf-8",
    )
    texts = [block.text for block in load_article(path, "k", LIMIT).blocks]
    assert "2023 | HBM市场规模：约60亿美元" in texts
    assert "2024年 | HBM市场规模：约170亿美元" in texts
    assert "基金主代码：588930" in texts  # a facts table is still read as pairs


def test_a_sidecar_with_several_problems_is_refused_naming_each(tmp_path: Path) -> None:
    # The author fixes the file once, not once per problem.
    path = seed_copy(tmp_path)
    (tmp_path / "article.meta.toml").write_text(
        'published = "2025-13"\nrisk_level = "R9"\ncolour = "red"\nproducts = 5\n',
        encoding="utf-8",
    )
    reason = refused(path)
    assert reason.startswith("4 problems: (1) ")
    for named in ("'colour'", "'2025-13'", "'products'", "'R9'"):
        assert named in reason


def test_an_article_without_a_disclosure_gets_a_warning_a_sidecar_can_answer(
    tmp_path: Path,
) -> None:
    path = tmp_path / "note.md"
    path.write_text("# 笔记\n\n推理需求持续增长。\n", encoding="utf-8")
    article = load_article(path, "k", LIMIT)
    assert article.disclosure is None
    assert len(article.warnings) == 1 and "风险提示" in article.warnings[0]
    assert "disclosure" in article.warnings[0] and ".meta.toml" in article.warnings[0]
    (tmp_path / "note.meta.toml").write_text(
        'disclosure = """\n风险提示\n  基金有风险，投资需谨慎。\n"""\n', encoding="utf-8"
    )
    article = load_article(path, "k", LIMIT)
    assert article.disclosure == "风险提示\n基金有风险，投资需谨慎。"
    assert article.warnings == ()


def test_the_ingest_summary_lists_warnings_after_refusals() -> None:
    report = SyncReport(added=["a.md"], failed=[IngestError("b.pdf", "no text layer.")])
    report.warnings.append(FileWarning("a.md", "it has no risk disclosure."))
    assert report.summary().splitlines()[1:] == [
        "  refused b.pdf: no text layer.",
        "  warning a.md: it has no risk disclosure.",
    ]
    assert report.to_dict()["warnings"] == [
        {"path": "a.md", "warning": "it has no risk disclosure."}
    ]


# -- encodings ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("encoding", "prefix"),
    [
        ("gbk", b""),
        ("gb18030", b""),
        ("utf-16-le", b"\xff\xfe"),
        ("utf-16-be", b"\xfe\xff"),
        ("utf-16-le", b""),  # no BOM: recognised by where its NUL bytes fall
        ("utf-8", b"\xef\xbb\xbf"),
    ],
)
def test_every_encoding_gives_the_same_blocks(
    tmp_path: Path, seed: Article, encoding: str, prefix: bytes
) -> None:
    text = SEED.read_text(encoding="utf-8")
    path = tmp_path / "article.txt"
    path.write_bytes(prefix + text.encode(encoding))
    article = load_article(path, "k", LIMIT)
    assert article.blocks == seed.blocks
    assert article.disclosure == seed.disclosure
    assert article.source == "金融界"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("The manager's naïve café résumé: déjà vu in Q3.", "latin-1"),  # read as cp1250 before
        ("naïve café", "cp1252"),  # too short for a guess (cp1006: "naﺅve cafﻠ")
        # Every accented letter here is followed by a letter: the bytes are valid GB18030 too,
        # and were read as Chinese ("Die M黮ler GmbH f黵 Gr鲞e").
        ("Die Müller GmbH für Größe und Qualität. Zürich, München, Düsseldorf.", "latin-1"),
        ("Ärger über Öl: Anleger prüfen die Kostenquote.", "cp1252"),
        ("Zażółć gęślą jaźń, powiedział zarządzający funduszem.", "cp1250"),
        ("Фонд вырос на 5%, сказал управляющий.", "cp1251"),
    ],
)
def test_a_single_byte_article_reads_in_its_own_letters(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding)) == text


def test_crlf_and_zero_width_characters_are_normalised() -> None:
    assert (
        decode_text("一、标题\r\n正文\u200b内容。\r旧行尾".encode())
        == "一、标题\n正文内容。\n旧行尾"
    )


def test_full_width_punctuation_is_kept() -> None:
    blocks = parse_blocks("投资有风险，投资需谨慎！（以上）")
    assert blocks == [Block("paragraph", "投资有风险，投资需谨慎！（以上）")]


# -- refused input --------------------------------------------------------------------------------


def junk_bytes(size: int) -> bytes:
    return random.Random(7).randbytes(size)


@pytest.mark.parametrize(
    ("name", "content", "keywords"),
    [
        ("empty.txt", b"", ["empty"]),
        ("blank.txt", b" \n\t\n   \r\n", ["no text", "whitespace"]),
        ("blank.md", b"---\ntitle: x\n---\n\n   \n", ["no text"]),
        ("junk.txt", b"\x00" * 3000 + junk_bytes(500), ["does not look like text", "binary"]),
        ("broken.pdf", junk_bytes(4000), ["not a readable PDF", "damaged"]),
        ("broken.docx", b"PK not really a zip" + junk_bytes(300), ["not a readable Word .docx"]),
        ("table.xlsx", b"PK\x03\x04", ["file type .xlsx is not supported", ".docx", ".txt"]),
        ("notes", b"hello", ["(no extension) is not supported"]),
    ],
)
def test_bad_input_is_refused_with_a_specific_reason(
    tmp_path: Path, name: str, content: bytes, keywords: list[str]
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    reason = refused(path)
    for keyword in keywords:
        assert keyword in reason
    assert reason.endswith(".") and ".)" not in reason and ".." not in reason  # one sentence


def test_oversized_file_names_its_size_limit_and_setting(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes("很长的文章。".encode() * 200_000)  # 3.6 MB
    reason = refused(path, max_bytes=2 * 2**20)
    assert "3.4 MB" in reason and "2 MB limit" in reason and "ASSISTANT_MAX_FILE_MB" in reason


def test_missing_file_is_refused(tmp_path: Path) -> None:
    assert "does not exist" in refused(tmp_path / "gone.txt")


def test_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "folder.txt").mkdir()
    assert "not a regular file" in refused(tmp_path / "folder.txt")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions")
def test_unreadable_file_is_refused(tmp_path: Path) -> None:
    path = seed_copy(tmp_path)
    path.chmod(0)
    assert "permission denied" in refused(path)


def test_pdf_without_text_is_refused_as_scanned(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(minimal_pdf([[], []]))
    reason = refused(path)
    assert reason.startswith("no text layer") and "scan" in reason and "OCR" in reason


# -- formats --------------------------------------------------------------------------------------


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def minimal_pdf(pages: list[list[str]]) -> bytes:
    """A valid PDF with one Helvetica text line per string, built by hand (no PDF writer needed)."""
    page_ids = [4 + 2 * i for i in range(len(pages))]
    kids = " ".join(f"{p} 0 R" for p in page_ids)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for page_id, lines in zip(page_ids, pages, strict=True):
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 720 Td"]
        ops += [f"({_pdf_escape(line)}) Tj T*" for line in lines]
        stream = "\n".join([*ops, "ET"]).encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream))
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def test_pdf_text_keeps_page_numbers_and_finds_the_disclosure(tmp_path: Path) -> None:
    path = tmp_path / "outlook.pdf"
    path.write_bytes(
        minimal_pdf(
            [
                [
                    "1. Market outlook",
                    "Demand for AI compute kept growing in 2024 as",
                    "inference spread to phones, cars and factories.",
                    "",  # a paragraph gap: the next line is as wide, so only the gap tells
                    "Big tech raised capital spending by 6.8% again.",
                ],
                [
                    "Risk warning",
                    "Investing involves risk. Past performance does not",
                    "predict future results.",
                    "Source: Example Fund Management",
                ],
            ]
        )
    )
    article = load_article(path, "k", LIMIT)
    assert article.blocks == (
        Block("heading", "1. Market outlook", level=2, page=1),
        Block(
            "paragraph",
            "Demand for AI compute kept growing in 2024 as inference spread to phones, cars and "
            "factories.",
            page=1,
        ),
        Block("paragraph", "Big tech raised capital spending by 6.8% again.", page=1),
        Block("heading", "Risk warning", level=1, page=2),
        Block(
            "disclosure",
            "Investing involves risk. Past performance does not predict future results.",
            page=2,
        ),
    )
    assert article.source == "Example Fund Management"
    assert article.disclosure == (
        "Risk warning\nInvesting involves risk. Past performance does not predict future results."
    )
    assert article.title == "1. Market outlook"


def test_docx_heading_styles_become_headings(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("算力逻辑再梳理", level=0)
    document.add_heading("市场回顾", level=1)
    document.add_paragraph("DeepSeek暂停了API服务充值。存量充值金额可继续调用。")
    document.add_heading("杰文斯悖论", level=2)
    document.add_paragraph("效率提高后，总消耗反而上升。")
    document.add_paragraph("图1：全球IT支出", style="Caption")
    document.add_paragraph("1. 这一行不是标题，因为文件自己标出了标题。")
    document.add_heading("风险提示", level=1)
    document.add_paragraph("投资有风险，投资需谨慎。")
    path = tmp_path / "note.docx"
    document.save(str(path))

    article = load_article(path, "k", LIMIT)
    assert article.title == "算力逻辑再梳理"
    assert article.blocks == (
        Block("heading", "市场回顾", level=1),
        Block("paragraph", "DeepSeek暂停了API服务充值。存量充值金额可继续调用。"),
        Block("heading", "杰文斯悖论", level=2),
        Block("paragraph", "效率提高后，总消耗反而上升。"),
        Block("caption", "图1：全球IT支出"),
        Block("paragraph", "1. 这一行不是标题，因为文件自己标出了标题。"),
        Block("heading", "风险提示", level=1),
        Block("disclosure", "投资有风险，投资需谨慎。"),
    )
    assert article.disclosure == "风险提示\n投资有风险，投资需谨慎。"


HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>算力逻辑 - 金融界</title>
<style>p { color: red }</style><script>var tracking = "上一篇";</script></head>
<body>
<header><a href="/">金融界首页</a></header>
<nav><ul><li>基金</li><li>股票</li></ul></nav>
<article>
  <h1>DeepSeek暂停API充值</h1>
  <p>2月6日晚间，DeepSeek暂停了
     API服务充值。<!-- ad slot --></p>
  <h2>一、为什么有声音认为DeepSeek利空算力股？</h2>
  <p>低算力成本<b>引起</b>关注。<br>第二行。</p>
  <figure><img src="x.png"><figcaption>图：全球IT支出</figcaption></figure>
  <p>整体而言，需求上升。</p>
  <p>来源：金融界</p>
</article>
<aside>热门文章</aside>
<footer>版权所有 金融界</footer>
<script>console.log("x")</script>
</body></html>
"""


def test_html_keeps_the_main_text_only(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(HTML, encoding="utf-8")
    article = load_article(path, "k", LIMIT)
    assert article.title == "DeepSeek暂停API充值"
    assert article.source == "金融界"
    assert article.blocks == (
        # A source line break inside CJK text vanishes; before Latin text it is a space.
        Block("paragraph", "2月6日晚间，DeepSeek暂停了 API服务充值。"),
        Block("heading", "一、为什么有声音认为DeepSeek利空算力股？", level=2),
        Block("paragraph", "低算力成本引起关注。"),
        Block("paragraph", "第二行。"),
        Block("caption", "图：全球IT支出"),
        Block("paragraph", "整体而言，需求上升。"),
    )
    everything = " ".join(block.text for block in article.blocks)
    for dropped in ("tracking", "console", "首页", "股票", "热门", "版权", "color", "ad slot"):
        assert dropped not in everything


def test_html_in_gbk_declared_by_meta_charset_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "page.htm"
    path.write_bytes(HTML.replace('charset="utf-8"', 'charset="gbk"').encode("gbk"))
    assert load_article(path, "k", LIMIT).title == "DeepSeek暂停API充值"


ENGLISH_MD = """---
title: "Why cheap training did not hurt AI compute"
publisher: Example Funds
published: 2025-02
products:
  - STAR AI ETF 588930
---

# Why cheap training did not hurt AI compute

An *introductory* paragraph that is wrapped
over two lines. It cites [the filing](https://example.com/filing).

## 1. The Jevons paradox

When a resource gets cheaper to use, people use **more** of it, not less. Total demand
grew 6.8% in 2024. Dr. Smith agreed.

![Figure 1: Global IT spending](chart.png)

- First point: inference needs compute.
- Second point: capex keeps rising.

## Risk warning

Investing involves risk. Past performance does not predict future results.

Source: Reuters
"""


def test_english_markdown_article(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text(ENGLISH_MD, encoding="utf-8")
    article = load_article(path, "k", LIMIT)
    assert article.title == "Why cheap training did not hurt AI compute"
    assert article.publisher == "Example Funds"
    assert article.published == "2025-02"
    assert article.products == ("STAR AI ETF 588930",)
    assert article.source == "Reuters"
    assert article.blocks == (
        Block(
            "paragraph",
            "An introductory paragraph that is wrapped over two lines. It cites the filing.",
        ),
        Block("heading", "1. The Jevons paradox", level=2),
        Block(
            "paragraph",
            "When a resource gets cheaper to use, people use more of it, not less. Total demand "
            "grew 6.8% in 2024. Dr. Smith agreed.",
        ),
        Block("caption", "Figure 1: Global IT spending"),
        Block("paragraph", "First point: inference needs compute."),
        Block("paragraph", "Second point: capex keeps rising."),
        Block("heading", "Risk warning", level=1),
        Block(
            "disclosure",
            "Investing involves risk. Past performance does not predict future results.",
        ),
    )
    assert article.disclosure == (
        "Risk warning\nInvesting involves risk. Past performance does not predict future results."
    )


def test_hard_wrapped_english_text_is_unwrapped(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text(
        "Compute demand\n\n"
        "Demand for AI compute kept growing in 2024 as inference spread\n"
        "to phones, cars and factories, and big tech raised its capital\n"
        "spending again.\n\n"
        "Risk disclosure: Investing involves risk.\n",
        encoding="utf-8",
    )
    article = load_article(path, "k", LIMIT)
    assert article.blocks[0] == Block("paragraph", "Compute demand")
    assert article.blocks[1].text == (
        "Demand for AI compute kept growing in 2024 as inference spread to phones, cars and "
        "factories, and big tech raised its capital spending again."
    )
    assert article.disclosure == "Risk disclosure: Investing involves risk."
    assert article.blocks[2:] == (
        Block("heading", "Risk disclosure", level=1),
        Block("disclosure", "Risk disclosure: Investing involves risk."),
    )


# -- plain-text structure -------------------------------------------------------------------------


def test_label_line_is_a_heading_and_nests_under_a_heading_directly_above() -> None:
    blocks = parse_blocks("一、市场回顾\n行业表现：\n电子行业上涨。\n今日指数:\n指数上涨。")
    assert [(b.kind, b.level, b.text) for b in blocks] == [
        ("heading", 1, "一、市场回顾"),
        ("heading", 2, "行业表现"),
        ("paragraph", 0, "电子行业上涨。"),
        ("heading", 1, "今日指数"),
        ("paragraph", 0, "指数上涨。"),
    ]


def test_numbered_lines_that_are_sentences_stay_paragraphs() -> None:
    blocks = parse_blocks(
        "1. 本基金的过往业绩并不预示其未来表现。\n"
        "2024年全球IT总支出达5万亿美元。\n"
        "1.5%的涨幅来自科技股。"
    )
    assert [b.kind for b in blocks] == ["paragraph", "paragraph", "paragraph"]


def test_caption_needs_a_number_or_colon_after_its_figure_word() -> None:
    blocks = parse_blocks(
        "图灵测试是经典方法。\n图一时之快不可取。\n图一：训练与推理\n图3 全球IT支出"
    )
    assert [b.kind for b in blocks] == ["paragraph", "paragraph", "caption", "caption"]


def test_source_line_followed_by_body_text_sources_the_paragraph_above() -> None:
    blocks = parse_blocks("全球IT支出增长6.8%。\n来源：国信证券\n整体而言，算力需求上升。")
    assert blocks[1] == Block("attribution", "来源：国信证券")
    assert blocks[2].kind == "paragraph"


def test_source_line_after_a_figure_attribution_is_the_articles_source(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text(
        "增长6.8%。\n图:全球IT支出\n(信息来源:国信证券)\n来源:金融界\n", encoding="utf-8"
    )
    article = load_article(path, "k", LIMIT)
    assert article.source == "金融界"
    assert [b.kind for b in article.blocks] == ["paragraph", "caption", "attribution"]


def test_navigation_lines_are_dropped() -> None:
    text = "正文一句。\n分享到：微信 微博\n下一篇：另一篇文章\n返回首页\nNext article: Something"
    assert parse_blocks(text) == [Block("paragraph", "正文一句。")]


@pytest.mark.parametrize(
    ("stated", "level"),
    [
        ("本基金风险等级为R3（中风险），适合C3及以上投资者。", "R3"),
        ("The fund's risk rating: R4 (medium-high).", "R4"),
        (
            "甲基金风险等级为R3，乙基金风险等级为R4。",
            None,
        ),  # several products: the sidecar's to say
        ("风险等级说明见基金合同。", None),
    ],
)
def test_a_risk_level_the_disclosure_states_is_the_articles(
    tmp_path: Path, stated: str, level: str | None
) -> None:
    # "What is the risk level of the data centre fund?" was answered "none is recorded" for an
    # article whose own disclosure states it; the desk's suitability check had nothing to read.
    path = tmp_path / "article.txt"
    path.write_text(f"数据中心的电力约束\n正文一段。\n风险提示\n投资有风险。{stated}\n", "utf-8")
    assert load_article(path, "k", LIMIT).risk_level == level
    path.with_name("article.meta.toml").write_text('risk_level = "R2"\n', "utf-8")
    assert load_article(path, "k", LIMIT).risk_level == "R2"  # the sidecar wins
