"""Loading articles: bytes -> text -> structure.

- **Bytes to text.** Encodings are detected, never assumed: a BOM, then strict UTF-8, then
  BOM-less UTF-16 recognised by where its NUL bytes fall, then strict GB18030 (a superset of
  GBK) unless its Han characters stand alone among Latin letters (German in Latin-1), then
  charset_normalizer's guess. Text that still holds NULs or control characters is
  refused as binary. Newlines are normalised and zero-width characters removed. PDFs are read
  by :mod:`assistant.pdf`, the other formats by :mod:`assistant.formats`.
- **One normal form**: every extracted line, whatever its format, is brought to
  :func:`assistant.text.normal_form` (look-alike radicals and compatibility ideographs folded,
  full-width alphanumerics to ASCII, extraction spaces inside Chinese text removed; CJK
  punctuation stays, since answers quote verbatim) before its structure is read, so a PDF's
  "⻛险提⽰" opens the disclosure as the text file's 风险提示 does.
- **Text to structure** (:func:`parse_structure`, pure): the format's own headings
  (:mod:`assistant.formats`), else numbered lines (一、 level 1; （一） (1) 1、 1. level 2) and
  short label lines ending in a colon (今日指数:). A label is level 1, because in these pieces
  it opens a new topic after the numbered argument (the seed's 今日指数 must not be filed under
  二、(3)); directly under a heading it is that heading's child. Numbered-line guesses are off
  when the format marked its headings itself. Figure captions (图:, Figure 1:) and their
  attribution ((信息来源:…)) become their own blocks; the chunker keeps them with the paragraph
  before them. The source line (来源:金融界) is metadata, not content, when no body text follows
  it; otherwise it sources the paragraph above it. Scraped navigation (上一篇:…) and a web
  page's menu bar, breadcrumb and copyright footer are dropped, as are a WeChat account's calls
  to action (长按识别二维码…), and an END line ends the article; table rows stay as they are. From
  a line starting 风险提示 (风险揭示, 重要提示, 免责声明, their traditional twins 風險提示…, Risk
  warning, Important information…) to the end is the risk disclosure: a heading block, then
  ``disclosure`` blocks, and ``Article.disclosure`` holds those lines verbatim. A disclosure placed first ends where the
  format marks the next section: a heading of its own rank or higher (any heading after a
  disclosure that is a line, "风险提示：…"); numbered lines guessed as headings do not end it,
  since a disclosure's own items are numbered (一、依据投资对象的不同…).
- **Metadata** (:mod:`assistant.metadata`): a ``<stem>.meta.toml`` sidecar wins over what the
  file says (front matter, ``<h1>``, a WeChat page's account and publish time, the source line,
  a date line near the top such as 公告送出日期：…), and every value is validated; the title
  falls back to a first line above the first heading that is no sentence, the first heading,
  the first line, the stem.
- **Warnings**: an article read without a disclosure of its own carries a warning (the ingest
  summary names it), as does a PDF with pages that have no text layer.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from charset_normalizer import from_bytes

from . import formats, metadata
from .errors import IngestError
from .formats import Extracted, Line
from .pdf import read_pdf
from .text import has_cjk, has_han, normal_form

log = logging.getLogger(__name__)

# Part of every content hash: bump it whenever parsing or chunking changes what an article
# becomes, so the next ingest re-processes unchanged files.
PIPELINE_VERSION = "documents-5/chunking-2"

SUPPORTED_SUFFIXES = (".docx", ".htm", ".html", ".md", ".markdown", ".pdf", ".txt")

BlockKind = Literal["heading", "paragraph", "caption", "attribution", "disclosure"]


@dataclass(frozen=True)
class Block:
    """One structural unit of an article, in reading order."""

    kind: BlockKind
    text: str
    level: int = 0  # heading depth: 1 for 一、二、, 2 for (1)(2); 0 for non-headings
    page: int | None = None  # 1-based page for PDFs


@dataclass(frozen=True)
class Article:
    """A source article with its metadata and structure."""

    path: str  # the key the store knows it by (see ingest)
    title: str
    blocks: tuple[Block, ...]
    content_hash: str  # sha256 hex of the raw file bytes plus its sidecar metadata
    publisher: str | None = None
    source: str | None = None  # 来源: line or sidecar
    published: str | None = None  # "2025-02" or "2025-02-06"
    products: tuple[str, ...] = field(default_factory=tuple)
    disclosure: str | None = None  # the risk disclosure section, verbatim, or None
    risk_level: str | None = None  # the product's risk rating, "R1" … "R5" (sidecar)
    warnings: tuple[str, ...] = ()  # what the operator should know although it was read


@dataclass(frozen=True)
class Structure:
    """What :func:`parse_structure` finds in an article's lines."""

    blocks: tuple[Block, ...]
    source: str | None = None  # the value of a trailing 来源:/Source: line
    disclosure: str | None = None


# -- bytes to text --------------------------------------------------------------------------------

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"), None)
_BOMS = (
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 shows itself by NULs: ASCII characters put theirs all on one side of each pair."""
    if len(data) < 4 or len(data) % 2:
        return None
    even, odd = data[0::2].count(0), data[1::2].count(0)
    threshold = max(2, len(data) // 100)
    if odd >= threshold and even * 10 <= odd:
        encoding = "utf-16-le"
    elif even >= threshold and odd * 10 <= even:
        encoding = "utf-16-be"
    else:
        return None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError:
        return None


def _gb18030(data: bytes) -> str | None:
    """GB18030's text, unless it reads as Western text in a single-byte code page does.

    Most byte pairs are valid GB18030, so German or French in Latin-1 often decodes whole:
    each accented letter takes the next byte with it ("Müller" → "M黮ler"). Chinese comes in
    runs of Han characters, or one beside a figure (2025年2月); there, nearly every one stands
    alone among Latin letters, spaces and punctuation."""
    text = _strict(data, "gb18030")
    if text is None:
        return None
    han = [i for i, ch in enumerate(text) if has_han(ch)]

    def alone(i: int) -> bool:
        near = text[max(0, i - 1) : i] + text[i + 1 : i + 2]
        return not has_han(near) and not any(ch.isdigit() for ch in near)

    lone = sum(map(alone, han))
    return None if lone >= 3 and lone * 4 >= len(han) * 3 else text


def _candidates(data: bytes) -> Iterator[str | None]:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            yield _strict(data, encoding)
            return
    yield _strict(data, "utf-8")
    yield _utf16_without_bom(data)
    yield _gb18030(data)
    best = from_bytes(data).best()
    if best is not None:
        yield _single_byte(data, best.encoding)
    yield str(best) if best is not None else None


# Code pages a guess may name for Latin-script text. Short Western text is often guessed as
# Central European or worse (cp1250 reads "naïve" as "naďve", cp1006 as "naﺅve"): Windows-1252,
# as browsers read Latin-1, is read instead when its accented letters sit inside words, where a
# language puts them, better than the guess's do (on a tie, when the guess is a Latin code page).
_LATIN_PAGES = frozenset(
    {"cp1250", "cp1252", "cp1254", "cp1257", "latin_1", "iso8859_2", "iso8859_15", "mac_latin2"}
)
_WORD = re.compile(r"[^\W\d_]+")


def _fit(text: str) -> int:
    """Latin accented letters inside words that hold plain letters too, less other letters
    there and stray symbols."""
    score = 0
    for word in _WORD.findall(text):
        if any(ch.isascii() for ch in word):
            for ch in word:
                if not ch.isascii():
                    score += 1 if unicodedata.name(ch, "").startswith("LATIN") else -1
    return score - sum(
        1 for ch in text if not ch.isascii() and unicodedata.category(ch)[0] in "NSP"
    )


def _single_byte(data: bytes, guessed: str) -> str | None:
    """The guess's text, or Windows-1252's when it reads better (above); None when the guess is
    not a single-byte code page (the guess itself is tried next)."""
    guess = _strict(data, guessed)
    if guess is None or len(guess) != len(data):
        return None
    western = _strict(data, "cp1252")
    if western is None:
        return guess
    ahead = _fit(western) - _fit(guess)
    return western if ahead > 0 or (ahead == 0 and guessed in _LATIN_PAGES) else guess


def _looks_binary(text: str) -> bool:
    """NULs, or more than 1% control, unassigned, private-use or replacement characters."""
    if "\x00" in text:
        return True
    junk = sum(
        1
        for ch in text
        if ch == "\ufffd"
        or (unicodedata.category(ch) in ("Cc", "Cn", "Co", "Cs") and ch not in "\t\n\r\f\v")
    )
    return junk > len(text) / 100


def normalize_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_ZERO_WIDTH)


def decode_text(data: bytes) -> str | None:
    """The text of ``data``, or None when no encoding decodes it to something that is text."""
    for candidate in _candidates(data):
        if candidate is not None and not _looks_binary(candidate):
            return normalize_text(candidate)
    return None


# -- text to structure ----------------------------------------------------------------------------

_TERMINATORS = "。！？；!?;."
_NAVIGATION = re.compile(
    r"^(?:上一篇|下一篇|上一条|下一条|返回首页|返回顶部|返回列表|分享到|打印本页|关闭窗口|责任编辑"
    r"|【(?:打印|关闭|返回)】|(?i:previous (?:article|post)|next (?:article|post)|back to top"
    r"|share (?:this|on)))"
)
# A WeChat account's calls to action inside the article body (关注, QR code, 在看), and the line
# that ends a WeChat article (END, -END-, — THE END —): what follows it is the account's, so a
# disclosure that runs "to the end" stops there instead of swallowing 长按识别二维码….
_SOCIAL = re.compile(
    r"^(?:点击上方.{0,10}关注|长按(?:识别)?二维码|扫码关注|扫描(?:下方)?二维码|(?:分享|点赞|在看)[、，,\s]*"
    r"(?:分享|点赞|在看)|点个?[“\"]?在看|预览时标签不可点|微信扫一扫|关注该公众号|阅读原文$)"
)
_END = re.compile(r"^[-—–_=*·\s]*(?:(?i:the\s+)?END|全文完|[(（]完[)）])[-—–_=*·\s]*$")
# What a web page prints besides the article: site navigation and the copyright footer.
_BREADCRUMB = re.compile(r"^(?:您的|当前)位置\s*[:：]")
_MENU = re.compile(r"^(?:[^|｜>›»]{1,8}\s*[|｜>›»]\s*){2,}[^|｜>›»]{1,8}$")
_MENU_WORDS = ("首页", "主页", "关于我们", "联系我们", "网站地图")
_SITE_FOOTER = re.compile(
    r"版权所有|(?i:copyright\s*(?:©|\(c\)|\d{4}))|©|ICP备|ICP证|公网安备"
    r"|(?:网站地图|联系我们|法律声明|隐私政策|关于我们).*(?:网站地图|联系我们|法律声明|隐私政策|关于我们)"
)
# A notice's or report's own date line near its top (公告送出日期：2026年6月10日).
_DATE_LINE = re.compile(
    r"^(?:发布|公告送出|公告|报告|发稿|成文)?(?:日期|时间)\s*[:：]\s*"
    r"(\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}日?)"
)
_SOURCE = re.compile(r"^(?:来源|文章来源|本文来源|(?i:source))\s*[:：]\s*(\S.{0,60})$")
# The product's risk rating as a disclosure states it ("风险等级为R3（中风险）", "risk rating: R4").
_RISK_LEVEL = re.compile(
    r"(?:风险(?:等级|级别|评级)|\brisk (?:level|rating|class)(?: of)?)\s*(?:为|是|属于|[:：])?\s*"
    r"[（(]?\s*(R[1-5])(?![\d])",
    re.IGNORECASE,
)
_ATTRIBUTION = re.compile(
    r"^(?:[(（\[【]\s*(?:信息|资料|数据|图片|图表)?来源\s*[:：].*[)）\]】]"
    r"|(?:信息|资料|数据|图片|图表)来源\s*[:：].+"
    r"|(?i:\(\s*(?:data\s+)?sources?\s*:.*\)|(?:data\s+source|sources)\s*:.+))$"
)
_CAPTION = re.compile(
    r"^(?:图表?\s*(?:\d+|[一二三四五六七八九十]+(?=\s|[:：]))?\s*[:：]|图表?\s*\d+|表\s*\d+"
    r"|(?i:(?:figure|fig\.|chart|exhibit|table)\s*\d*\s*[:：.]\s|(?:figure|fig\.|exhibit)\s*\d+\b))"
)
# The headings in traditional characters too: a Hong Kong or Taiwan article's 風險提示.
_DISCLOSURE = re.compile(
    r"^(风险提示|风险揭示书?|重要提示|免责声明|風險提示|風險揭示書?|免責聲明"
    r"|(?i:risk warnings?|risk disclosures?|important information|important notice|disclaimer))"
    r"\s*(?:[:：.]\s*(.*))?$"
)
_NUMBERED = (
    (re.compile(r"^[一二三四五六七八九十]{1,3}[、．.]"), 1),
    (re.compile(r"^[(（][一二三四五六七八九十]{1,3}[)）]"), 2),
    (re.compile(r"^[(（]\d{1,2}[)）]"), 2),
    (re.compile(r"^\d{1,2}(?:、|[.．](?!\d))"), 2),
)
_COLON = re.compile(r"(?<!\d):(?!\d)|：")


def _site_furniture(text: str) -> bool:
    """A menu, breadcrumb or copyright footer line of a web page, printed or saved (any format)."""
    if len(text) > 150:
        return False
    if _SITE_FOOTER.search(text) or _BREADCRUMB.match(text):
        return True
    return _MENU.match(text) is not None and any(word in text for word in _MENU_WORDS)


def is_caption(line: str) -> bool:
    """Whether a line is a figure or table caption (图:…, Figure 1: …)."""
    return _CAPTION.match(line.strip()) is not None


def is_attribution(line: str) -> bool:
    """Whether a line only says where a figure or passage comes from ((信息来源:…), Source: …)."""
    return _ATTRIBUTION.match(line.strip()) is not None


def strip_numbering(heading: str) -> str:
    """A heading without its list number: 一、… (1)… 1. … → the words after it."""
    for pattern, _level in _NUMBERED:
        if number := pattern.match(heading):
            return heading[number.end() :].strip()
    return heading.strip()


def _short(text: str, cjk_limit: int) -> bool:
    return len(text) <= (cjk_limit if has_cjk(text) else cjk_limit * 2)


def _numbered_heading(text: str) -> tuple[int, str, str] | None:
    """(level, heading, rest) for 一、… (1)… 1. … lines that are titles, else None.

    "(1)杰文斯悖论的存在:所谓…" is a heading up to the colon with its paragraph after it.
    """
    for pattern, level in _NUMBERED:
        number = pattern.match(text)
        if not number:
            continue
        rest = text[number.end() :].strip()
        if not rest:
            return None
        colon = _COLON.search(text, number.end())
        if colon:
            head = text[number.end() : colon.start()].strip()
            if head and _short(head, 30) and not any(t in head for t in _TERMINATORS):
                return level, text[: colon.start()].strip(), text[colon.end() :].strip()
        if _short(rest, 40) and not text.endswith(tuple("。；;!！.…")):
            return level, text.rstrip(":：").strip(), ""
        return None
    return None


def _label_heading(text: str) -> str | None:
    """The label of a short line that only announces what follows, like 今日指数:."""
    if text[-1:] not in (":", "：") or not _short(text, 20):
        return None
    label = text[:-1].strip()
    if not label or any(t in label for t in _TERMINATORS + ":：，,"):
        return None
    return label


def _label_level(blocks: Sequence[Block]) -> int:
    """Level 1, or one below a heading directly above it (一、市场回顾 / 行业表现:)."""
    return blocks[-1].level + 1 if blocks and blocks[-1].kind == "heading" else 1


def parse_structure(lines: Sequence[Line], *, numbered_headings: bool = True) -> Structure:
    """Classify lines into blocks; find the source line and the risk disclosure (pure)."""
    blocks: list[Block] = []
    sources: list[tuple[int, str, int | None]] = []  # (index in blocks, line, page)
    disclosure: list[str] | None = None
    disclosure_start = 0
    inside = False  # in the disclosure section: up to a heading of its rank, or the end
    rank: int | None = None  # the format's rank of the heading that opened it (None: a line)
    for line in lines:
        text = line.text.strip()
        if _END.match(text) and blocks:
            break
        if not text or _NAVIGATION.match(text) or (not line.table and _site_furniture(text)):
            continue
        if len(text) <= 40 and _SOCIAL.match(text):
            continue
        page = line.page
        if inside and line.heading and (rank is None or line.heading <= rank):
            inside = False  # the next section of the article: the disclosure came first
        if line.table:  # a table row is content as it stands, even inside the disclosure
            if disclosure is not None and inside:
                disclosure.append(text)
            blocks.append(Block("disclosure" if inside else "paragraph", text, page=page))
            continue
        source = _SOURCE.match(text)
        after_caption = bool(blocks) and blocks[-1].kind == "caption"
        if source and not after_caption:
            sources.append((len(blocks), text, page))
            continue
        if disclosure is not None and inside:
            disclosure.append(text)
            blocks.append(Block("disclosure", text, page=page))
            continue
        opening = _DISCLOSURE.match(text)
        if opening and (not line.heading or not opening[2]):
            if disclosure is None:
                disclosure, disclosure_start = [text], len(blocks)
            else:  # a second disclosure section: both are the article's
                disclosure.append(text)
            inside, rank = True, line.heading
            blocks.append(Block("heading", opening[1], level=1, page=page))
            if opening[2]:
                blocks.append(Block("disclosure", text, page=page))
            continue
        if line.caption or _CAPTION.match(text):
            blocks.append(Block("caption", text, page=page))
        elif _ATTRIBUTION.match(text) or source:
            blocks.append(Block("attribution", text, page=page))
        elif line.heading:
            level = line.heading
            blocks.append(
                Block("heading", text.rstrip(":：").strip() or text, level=level, page=page)
            )
        elif numbered_headings and (numbered := _numbered_heading(text)):
            level, heading, rest = numbered
            blocks.append(Block("heading", heading, level=level, page=page))
            if rest:
                blocks.append(Block("paragraph", rest, page=page))
        elif numbered_headings and (label := _label_heading(text)):
            blocks.append(Block("heading", label, level=_label_level(blocks), page=page))
        else:
            blocks.append(Block("paragraph", text, page=page))
    body_end = disclosure_start if disclosure is not None and inside else len(blocks)
    article_source: str | None = None
    # Inserting from the back keeps the recorded indices valid.
    for index, text, page in reversed(sources):
        if index < body_end:  # body text follows: it sources the paragraph above it
            blocks.insert(index, Block("attribution", text, page=page))
        elif match := _SOURCE.match(text):
            article_source = match[1].strip().rstrip("。.").strip()
    return Structure(
        tuple(blocks), article_source, "\n".join(disclosure) if disclosure is not None else None
    )


def parse_blocks(text: str) -> list[Block]:
    """The blocks of plain text (the ``.txt`` rules; see the module docstring)."""
    return list(parse_structure(formats.read_text(normal_form(normalize_text(text))).lines).blocks)


# -- files ----------------------------------------------------------------------------------------


def _read_bytes(path: Path, key: str, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise IngestError(key, "the path is not a regular file; point ingest at article files.")
        if size > max_bytes:
            raise IngestError(
                key,
                f"the file is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:g} MB limit; "
                "raise ASSISTANT_MAX_FILE_MB to ingest it.",
            )
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise IngestError(key, "the file does not exist; check the path.") from exc
    except PermissionError as exc:
        raise IngestError(
            key, "the file cannot be read (permission denied); make it readable for this user."
        ) from exc
    except OSError as exc:
        raise IngestError(key, f"the file cannot be read ({exc.strerror}).") from exc


def _hash(raw: bytes, sidecar: bytes) -> str:
    digest = hashlib.sha256(raw)
    digest.update(b"\x00sidecar\x00" + sidecar)
    digest.update(b"\x00pipeline\x00" + PIPELINE_VERSION.encode())
    return digest.hexdigest()


def content_hash_of(path: Path, max_bytes: int) -> str:
    """The content hash :func:`load_article` would give ``path``, without parsing it."""
    key = str(path)
    return _hash(_read_bytes(path, key, max_bytes), metadata.read_sidecar(path, key)[0])


_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?([A-Za-z0-9_-]+)", re.IGNORECASE)


def _declared_html_text(raw: bytes) -> str | None:
    """The page's own ``<meta charset>``, when it names a codec that decodes the bytes cleanly."""
    declared = _META_CHARSET.search(raw[:4096])
    if declared is None or raw.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return None
    try:
        text = raw.decode(declared[1].decode("ascii"))
    except (LookupError, UnicodeDecodeError):
        return None
    return None if _looks_binary(text) else normalize_text(text)


def _extract(suffix: str, raw: bytes, key: str) -> Extracted:
    if suffix == ".pdf":
        return read_pdf(raw, key)
    if suffix == ".docx":
        return formats.read_docx(raw, key)
    text = _declared_html_text(raw) if suffix in (".html", ".htm") else None
    text = text if text is not None else decode_text(raw)
    if text is None:
        raise IngestError(
            key,
            "the file does not look like text (binary data or an unknown encoding); "
            "save it as UTF-8 text.",
        )
    if suffix in (".md", ".markdown"):
        return formats.read_markdown(text)
    if suffix in (".html", ".htm"):
        return formats.read_html(text)
    return formats.read_text(text)


def _fallback_title(blocks: Sequence[Block], stem: str) -> str:
    """The first line when it stands above the first heading and is no sentence (a notice's
    "…关于基金经理变更的公告" above "1. 公告基本信息"), else the first heading, the first line,
    the file's stem."""
    lead = blocks[0] if blocks else None
    if (
        lead is not None
        and lead.kind == "paragraph"
        and len(lead.text) <= 80
        and not lead.text.endswith(tuple(_TERMINATORS + "…"))
        and any(b.kind == "heading" for b in blocks)
    ):
        return lead.text
    heading = next((b.text for b in blocks if b.kind == "heading"), None)
    if heading:
        return heading
    first = next((b.text for b in blocks if b.kind == "paragraph"), "").split("\n")[0]
    if first:
        return first if len(first) <= 40 else first[:40].rstrip() + "…"
    return stem


NO_DISCLOSURE = (
    "it has no risk disclosure (风险提示) of its own, so answers citing it carry the default "
    "one; add the section to the article or a disclosure field to its .meta.toml."
)


def load_article(path: Path, key: str, max_bytes: int) -> Article:
    """Read one article file; raise :class:`IngestError` with a reason the user can act on.

    Anything else that goes wrong while reading one file (a parser's RecursionError on a
    malformed PDF, say) refuses that file only, with the error named: the rest still ingest.
    """
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        shown = path.suffix or "(no extension)"
        raise IngestError(
            key,
            f"the file type {shown} is not supported; supported types are "
            f"{', '.join(SUPPORTED_SUFFIXES)}.",
        )
    raw = _read_bytes(path, key, max_bytes)
    if not raw:
        raise IngestError(key, "the file is empty; add the article text or remove the file.")
    sidecar_bytes, sidecar = metadata.read_sidecar(path, key)
    try:
        return _article(path, key, raw, sidecar_bytes, sidecar)
    except IngestError:
        raise
    except Exception as exc:  # a bug or a parser's failure on this file: refuse it alone
        log.warning("reading %s failed unexpectedly", key, exc_info=True)
        raise IngestError(
            key,
            f"reading it failed unexpectedly ({type(exc).__name__}: {str(exc)[:200]}); "
            "export the file again, or report it with the log.",
        ) from exc


def _article(
    path: Path, key: str, raw: bytes, sidecar_bytes: bytes, sidecar: dict[str, object]
) -> Article:
    extracted = _extract(path.suffix.lower(), raw, key)
    lines = [replace(line, text=normal_form(line.text)) for line in extracted.lines]
    structure = parse_structure(lines, numbered_headings=not extracted.explicit_headings)
    if not any(b.kind in ("paragraph", "disclosure", "caption") for b in structure.blocks):
        raise IngestError(
            key, "the file contains no text (only whitespace or markup); add the article text."
        )
    dated = (_DATE_LINE.match(b.text) for b in structure.blocks[:6] if b.kind == "paragraph")
    published = next((re.sub(r"\s", "", m[1]) for m in dated if m), None)
    # A rating the text states is the article's when it states one only (several products'
    # levels are the sidecar's to say).
    levels = {m[1].upper() for b in structure.blocks for m in _RISK_LEVEL.finditer(b.text)}
    found: dict[str, object] = {
        "source": structure.source,
        "published": published,
        "risk_level": levels.pop() if len(levels) == 1 else None,
        **extracted.meta,
    }
    meta = metadata.resolve(found, sidecar, metadata.sidecar_path(path).name, key)
    disclosure = meta.disclosure or structure.disclosure
    warnings = list(extracted.warnings)
    if disclosure is None:
        warnings.append(NO_DISCLOSURE)
    return Article(
        path=key,
        title=meta.title or _fallback_title(structure.blocks, path.stem),
        blocks=structure.blocks,
        content_hash=_hash(raw, sidecar_bytes),
        publisher=meta.publisher,
        source=meta.source,
        published=meta.published,
        products=meta.products,
        disclosure=disclosure,
        risk_level=meta.risk_level,
        warnings=tuple(warnings),
    )
