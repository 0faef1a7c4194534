"""Figures in any notation, and whether a source supports them.

Every figure an answer states (amounts, percentages, multiples, years, codes) must be supported by
the passage it cites. Figures are compared as values, so 600万美元, 6 million and 6,000,000 are one
figure, and so are 一万五千亿, 1.5万亿 and 15,000亿; 百分之十, 10% and 一成 are one percentage.
``cn2an`` reads the Chinese numerals; what a figure claims, and when a source supports it, is ours:

- A figure claims an interval. Written plainly it is exact to its last written digit (557.6万 is
  557.55–557.65万; 600万 is 599.5–600.5万), so a model that rounds 557.6万 to 600万 without saying
  约 is caught, while 5.58 million for 5.576 million is not. A numeral written in words is read as
  its digits (六百万 as 600万).
- Qualifiers widen it: 约/about ±10%; 近/nearly up to 10% below; 超过/more than from the value up;
  不到/less than up to it (each within a factor of two); 600多万 600–700万; ranges (6%–8%, 一到两成) claim each end.
- A source figure supports a claim when a value the source states falls inside the claimed
  interval (a range in the source states both its ends). A percentage is only supported by a
  percentage, a multiple (3倍, 3x) only by a multiple, and an amount in a currency (美元, $,
  元, ¥, HK$, 欧元…) only by one in the same currency or in none written: 600万元 is not the
  source's 600万美元.

Pure functions over strings; the answer engine decides what to do with an unsupported figure.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import cn2an  # type: ignore[import-untyped]

from .compliance import sentence_spans
from .text import simplified_in_place

Kind = Literal["amount", "percent", "times"]

_FULLWIDTH = str.maketrans("０１２３４５６７８９．，％～－", "0123456789.,%~-")
_CN_DIGITS = "零〇一二两三四五六七八九"
_CN_PLACES = "十百千万亿"
_CN_MAGNITUDE = {"十": 10.0, "百": 1e2, "千": 1e3, "万": 1e4, "亿": 1e8}
_EN_MAGNITUDE = {
    "trillion": 1e12,
    "tn": 1e12,
    "billion": 1e9,
    "bn": 1e9,
    "million": 1e6,
    "mn": 1e6,
    "m": 1e6,
    "thousand": 1e3,
    "k": 1e3,
}
_EN_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
    "ninety": 90,
}  # fmt: skip
_EN_NUMBER = (
    r"(?:(?:twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety)(?:[- ](?:one|two|three|four|"
    r"five|six|seven|eight|nine))?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|"
    r"twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen)"
)

# One figure: a number in digits, Chinese numerals or English words, then its magnitude and unit.
_FIGURE = re.compile(
    r"(?P<frac>(?P<den>\d+|[零〇一二两三四五六七八九十百千万]+)分之(?P<numr>\d+(?:\.\d+)?|"
    rf"[{_CN_DIGITS}十百千点]+))"
    rf"|(?:(?P<num>\d+(?:,\d{{3}})*(?:\.\d+)?)|(?P<cn>[{_CN_DIGITS}十][{_CN_DIGITS}{_CN_PLACES}]*"
    rf"(?:点[{_CN_DIGITS}]+)?[万亿]*)|(?P<en>\b{_EN_NUMBER}\b))"
    r"(?P<more>多|余)?"
    r"(?P<mag>\s*(?:万亿|千亿|百亿|千万|百万|十万|亿|万|千)"
    r"|\s*\b(?:trillion|billion|million|thousand|tn|bn|mn)\b|k\b)?"
    r"(?P<unit>\s*(?:%|percent\b|per cent\b|个百分点|percentage points?\b|pp\b)"
    r"|成(?![份分本交立长功为员都绩不])|\s*倍|\s*(?:times\b|x\b))?",
    re.IGNORECASE,
)
_RANGE_JOIN = re.compile(r"\s*(?:-|–|—|~|至|到|\bto\b)\s*", re.IGNORECASE)
_DATE = re.compile(r"(?<!\d)(\d{4})[-/.]\d{1,2}(?:[-/.]\d{1,2})?(?!\d)")
_PERIOD_AFTER = re.compile(r"\s*(?:个)?(?:年|月|日|天|周|季度|期|交易日)")
_TRAILING_UNIT = re.compile(
    r"(?:美元|港元|港币|欧元|日元|英镑|人民币|美金|元|\s*(?:US )?dollars?\b|\s*yuan\b|\s*RMB\b"
    # A measure word counts what the number counts: 1200万只 is one figure, marked after 只.
    r"|个|只|张|块|台|家|位|名|人|次|倍|颗|枚|辆|件|座|份|篇|项|条|户|套|片|卡|吨)",
    re.IGNORECASE,
)
_CURRENCY_BEFORE = re.compile(r"(?:US\$|HK\$|\$|¥|￥|€|£)\s*$")
# Which currency an amount is in: the word after it (600万美元, 6 million yuan) or the sign or
# code before it (HK$6m, RMB 6 million). Checked in this order: 美元 before 元, HK$ before $.
_CURRENCY_AFTER = (
    ("USD", re.compile(r"美元|美金|\s*(?:US )?dollars?\b|\s*USD\b", re.IGNORECASE)),
    ("HKD", re.compile(r"港元|港币|\s*HKD\b|\s*(?:HK|Hong Kong) dollars?\b", re.IGNORECASE)),
    ("EUR", re.compile(r"欧元|\s*euros?\b|\s*EUR\b", re.IGNORECASE)),
    ("JPY", re.compile(r"日元|\s*yen\b|\s*JPY\b", re.IGNORECASE)),
    ("GBP", re.compile(r"英镑|\s*pounds?\b|\s*GBP\b", re.IGNORECASE)),
    ("CNY", re.compile(r"元|人民币|\s*yuan\b|\s*RMB\b|\s*CNY\b", re.IGNORECASE)),
)
_CURRENCY_SIGN = (
    ("HKD", re.compile(r"(?:HK\$|HKD|港币|港元)\s*$", re.IGNORECASE)),
    ("USD", re.compile(r"(?:US\$|\$|USD|美元)\s*$", re.IGNORECASE)),
    ("EUR", re.compile(r"(?:€|EUR)\s*$", re.IGNORECASE)),
    ("GBP", re.compile(r"(?:£|GBP)\s*$", re.IGNORECASE)),
    ("CNY", re.compile(r"(?:¥|￥|RMB|CNY|人民币)\s*$", re.IGNORECASE)),
)
_ABOUT = re.compile(
    r"(?:约为?|约合|大约|大概|估计|近似|\b(?:about|around|approximately|approx\.|roughly|"
    r"circa|some)\s+|~\s*)$",
    re.IGNORECASE,
)
_NEARLY = re.compile(
    r"(?:将近|接近|逼近|几乎|近|\b(?:nearly|almost|close to|just under)\s+)$", re.IGNORECASE
)
_OVER = re.compile(
    r"(?:超过|超|逾|多于|大于|高于|不低于|不少于|至少|突破|\b(?:over|more than|above|at least|"
    r"exceeding|in excess of|upwards of)\s+)$",
    re.IGNORECASE,
)
_UNDER = re.compile(
    r"(?:不到|不足|低于|少于|小于|不超过|最多|至多|\b(?:under|below|less than|fewer than|"
    r"at most|up to|no more than)\s+)$",
    re.IGNORECASE,
)
_SUFFIX_ABOUT = re.compile(r"^(?:左右|上下)")
_SUFFIX_OVER = re.compile(r"^(?:以上|\+|\s*or more\b|\s*plus\b)", re.IGNORECASE)
_SUFFIX_UNDER = re.compile(r"^(?:以下|以内|之内|\s*or less\b)", re.IGNORECASE)
_CITED = re.compile(r"\[(\d+)\]")
ABOUT = 0.10  # 约/about: a source value within 10% either way supports it
# 超过/more than X claims up to BOUND × X, 不到/less than X down to X / BOUND: "超过1亿" is not
# supported by a source's 5万亿 merely because 5万亿 is more.
BOUND = 2.0


@dataclass(frozen=True)
class Figure:
    """A figure as written (``text``, offsets in the checked text) and what it claims.

    ``value`` is the number as written (a range: its low end); ``points`` every number stated (a
    range: both ends); ``low``–``high`` the interval a source value must fall in to support it.
    """

    text: str
    start: int
    end: int
    value: float
    kind: Kind
    points: tuple[float, ...]
    low: float
    high: float
    currency: str | None = None  # "USD", "CNY"…: as written next to an amount, else None

    @property
    def percent(self) -> bool:
        return self.kind == "percent"


def _cn_number(text: str) -> float | None:
    try:
        return float(cn2an.cn2an(text, "normal"))
    except (ValueError, KeyError, IndexError):
        return None  # 十四五, 一五一十: words, not quantities


def _en_number(words: str) -> float:
    parts = re.split(r"[- ]", words.lower())
    return float(sum(_EN_WORDS[p] for p in parts))


def _magnitude(text: str) -> float:
    word = text.strip().lower()
    if word in _EN_MAGNITUDE:
        return _EN_MAGNITUDE[word]
    factor = 1.0
    for char in word:
        factor *= _CN_MAGNITUDE.get(char, 1.0)
    return 1e12 if word == "万亿" else factor


def _trailing_magnitude(cn: str) -> float:
    """六百万 is 600万: its precision is that of its trailing 万/亿, as the digits would be."""
    tail = re.search(r"[万亿]+$", cn)
    return _magnitude(tail.group()) if tail else 1.0


@dataclass(frozen=True)
class _Raw:
    start: int
    end: int
    value: float  # the number times its magnitude (a percentage in percent)
    half: float  # half the place value of the last written digit, same units
    step: float  # place value of the last non-zero digit's run (for 600多万: 100万)
    kind: Kind
    unit_written: bool  # a magnitude or unit was written (a range's first end may omit it)
    more: bool


def _parse(match: re.Match[str], text: str) -> _Raw | None:
    if match.group("frac"):
        den = _number_of(match.group("den"))
        num = _number_of(match.group("numr"))
        if not den or num is None:
            return None
        return _Raw(match.start(), match.end(), 100 * num / den, 0.5, 1.0, "percent", True, False)
    number, cn, en = match.group("num"), match.group("cn"), match.group("en")
    mag_text = match.group("mag") or ""
    unit = (match.group("unit") or "").strip().lower()
    magnitude = _magnitude(mag_text) if mag_text.strip() else 1.0
    end = match.end()
    millions = re.match(r"[mM](?![A-Za-z])", text[end:])
    if millions and not (mag_text or unit) and currency_before(text, match.start()):
        magnitude, end, mag_text = 1e6, end + millions.end(), "m"  # $5.6m
    if number is not None:
        value = float(number.replace(",", ""))
        decimals = len(number.split(".")[1]) if "." in number else 0
        half = 0.5 * 10.0**-decimals
        digits = number.replace(",", "").split(".")[0]
        step = 10.0 ** (len(digits) - len(digits.rstrip("0"))) if decimals == 0 else 1.0
    elif cn is not None:
        parsed = _cn_number(cn)
        if parsed is None:
            return None
        value, half, step = parsed, 0.5 * _trailing_magnitude(cn), _trailing_magnitude(cn)
        tail = re.search(r"[十百千]$", cn.rstrip("万亿"))
        if tail:
            step *= _CN_MAGNITUDE[tail.group()]
    else:
        value, half, step = _en_number(en), 0.5, 1.0
    kind: Kind = "amount"
    if unit in ("%", "percent", "per cent", "个百分点", "pp") or unit.startswith("percentage"):
        kind = "percent"
    elif unit == "成":
        kind, value, half, step = "percent", value * 10, half * 10, step * 10
        magnitude = 1.0
    elif unit in ("倍", "times", "x"):
        kind = "times"
    return _Raw(
        match.start(),
        end,
        value * magnitude,
        half * magnitude,
        step * magnitude,
        kind,
        bool(mag_text.strip() or unit),
        bool(match.group("more")),
    )


def _number_of(text: str) -> float | None:
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    return _cn_number("一" + text if text[0] in _CN_PLACES else text)  # 百分之 is 一百分之


def _is_figure(raw: _Raw, match: re.Match[str], text: str) -> bool:
    start = raw.start
    if start > 0 and text[start - 1] == "[" and text[raw.end : raw.end + 1] == "]":
        return False  # a citation marker
    if start > 0 and text[start - 1] == "第":
        return False  # an ordinal: 第一, 第十
    before = text[start - 1] if start > 0 else ""
    if match.group("num") and before.isascii() and (before.isalnum() or before == "."):
        return False  # part of a word or code (V3, e5, 3.5.1)
    cn = match.group("cn")
    if cn and not raw.unit_written:
        if raw.value < 10 or text[raw.end : raw.end + 1] == "分":
            return False  # 一些, 两个阶段, 三大, 十分: words, not figures
        if not re.search(f"[{_CN_PLACES}]", cn) and len(cn) < 3:
            return False  # 一一梳理: digits read one by one (二〇二五 is a year)
    if match.group("en") and not raw.unit_written and raw.value < 10:
        return False
    written = match.group("num") or ""
    return not (
        not raw.unit_written and "." not in written and len(written.replace(",", "")) == 1
    )  # "2 stages", list numbers


def _qualify(raw: _Raw, text: str) -> tuple[float, float, int, int]:
    """The interval the figure claims, and its span widened to the qualifiers around it."""
    before = text[max(0, raw.start - 14) : raw.start]
    after = text[raw.end : raw.end + 10]
    value, half = raw.value, raw.half
    start, end = raw.start, raw.end
    if raw.more:
        return value, value + raw.step, start, end
    if m := _SUFFIX_ABOUT.match(after):
        return value * (1 - ABOUT) - half, value * (1 + ABOUT) + half, start, end + m.end()
    if m := _SUFFIX_OVER.match(after):
        return value - half, value * BOUND, start, end + m.end()
    if m := _SUFFIX_UNDER.match(after):
        return value / BOUND, value + half, start, end + m.end()
    if (m := _ABOUT.search(before)) is not None:
        return value * (1 - ABOUT) - half, value * (1 + ABOUT) + half, start - len(m.group()), end
    period = _PERIOD_AFTER.match(after)
    if (m := _NEARLY.search(before)) is not None and not (m.group() == "近" and period):
        return value * (1 - ABOUT) - half, value + half, start - len(m.group()), end
    if (m := _OVER.search(before)) is not None:
        return value - half, value * BOUND, start - len(m.group()), end
    if (m := _UNDER.search(before)) is not None:
        return value / BOUND, value + half, start - len(m.group()), end
    return value - half, value + half, start, end


def _raw_figures(normal: str) -> list[tuple[_Raw, re.Match[str]]]:
    # 2025-02-06: the year is a figure, the month and day are not (nor a range "02-06").
    skip = [(m.end(1), m.end()) for m in _DATE.finditer(normal)]
    found = []
    for match in _FIGURE.finditer(normal):
        if not match.group(0).strip() or any(a <= match.start() < b for a, b in skip):
            continue
        raw = _parse(match, normal)
        if raw is not None:
            found.append((raw, match))
    return found


def find_figures(text: str) -> list[Figure]:
    """Amounts, percentages, multiples, years and codes, in digits, Chinese numerals or words.

    Single-digit bare numbers ("2 stages", 两个阶段), ordinals (第一), citation markers and the
    digits inside words (V3) are not figures. A range (6%-8%, 一到两成, 5 to 10 million) is one
    figure whose first end takes the unit of the second when it has none.
    """
    normal = simplified_in_place(text).translate(_FULLWIDTH)  # 六千萬 reads as 六千万
    raws = _raw_figures(normal)
    figures: list[Figure] = []
    index = 0
    while index < len(raws):
        raw, match = raws[index]
        joined = None
        if index + 1 < len(raws):
            nxt, _ = raws[index + 1]
            gap = normal[raw.end : nxt.start]
            if _RANGE_JOIN.fullmatch(gap) and (raw.kind == nxt.kind or not raw.unit_written):
                scale = nxt.value / _unitless(nxt, normal) if not raw.unit_written else 1.0
                low_value = raw.value * scale
                if low_value < nxt.value:
                    joined = (low_value, raw.half * scale, nxt)
        if joined is not None:
            low_value, low_half, nxt = joined
            figures.append(
                Figure(
                    text=text[raw.start : nxt.end].strip(),
                    start=raw.start,
                    end=raw.start + len(normal[raw.start : nxt.end].rstrip()),
                    value=low_value,
                    kind=nxt.kind,
                    points=(low_value, nxt.value),
                    low=low_value - low_half,
                    high=nxt.value + nxt.half,
                    currency=_currency(normal, raw.start, nxt.end, nxt.kind),
                )
            )
            index += 2
            continue
        index += 1
        if not _is_figure(raw, match, normal):
            continue
        low, high, start, end = _qualify(raw, normal)
        end = start + len(normal[start:end].rstrip())
        currency = _currency(normal, raw.start, raw.end, raw.kind)
        figures.append(
            Figure(
                text[start:end], start, end, raw.value, raw.kind, (raw.value,), low, high, currency
            )
        )
    return figures


def _currency(normal: str, start: int, end: int, kind: Kind) -> str | None:
    """The currency of the amount written at ``normal[start:end]``, or None."""
    if kind != "amount":
        return None
    for code, word in _CURRENCY_AFTER:
        if word.match(normal, end):
            return code
    before = normal[max(0, start - 8) : start]
    for code, sign in _CURRENCY_SIGN:
        if sign.search(before):
            return code
    return None


def _unitless(raw: _Raw, text: str) -> float:
    """The value of ``raw`` without its written magnitude (for 5到10亿: 10, so 5 means 5亿)."""
    match = _FIGURE.match(text, raw.start)
    if match is None:
        return raw.value
    bare = _parse_bare(match)
    return bare if bare else raw.value


def _parse_bare(match: re.Match[str]) -> float | None:
    if match.group("num"):
        value = float(match.group("num").replace(",", ""))
    elif match.group("cn"):
        value = _cn_number(match.group("cn")) or 0.0
    elif match.group("en"):
        value = _en_number(match.group("en"))
    else:
        return None
    return value


Points = dict[Kind, list[tuple[float, str | None]]]  # each value stated, with its currency


def _points(texts: Iterable[str]) -> Points:
    found: Points = {"amount": [], "percent": [], "times": []}
    for text in texts:
        for kind, currency, points in _points_of(text):
            found[kind].extend((point, currency) for point in points)
    return found


# The same passages are checked for every sentence of an answer and cited again by the next
# answers; parsing one is most of the check's cost under load (bench/load.py): remembered.
@functools.lru_cache(maxsize=4096)
def _points_of(text: str) -> tuple[tuple[Kind, str | None, tuple[float, ...]], ...]:
    return tuple((figure.kind, figure.currency, figure.points) for figure in find_figures(text))


def supports(claim: Figure, points: Points) -> bool:
    """Whether a value the sources state falls in the interval ``claim`` claims.

    A range claims both its ends: each must be stated (to the precision it is written with).
    Where both name a currency, it must be the same one.
    """
    candidates = [
        p
        for p, currency in points[claim.kind]
        if claim.currency is None or currency is None or currency == claim.currency
    ]
    if len(claim.points) == 2:
        low_end, high_end = claim.points
        spread_low = low_end - claim.low
        spread_high = claim.high - high_end
        return any(abs(p - low_end) <= spread_low for p in candidates) and any(
            abs(p - high_end) <= spread_high for p in candidates
        )
    return any(claim.low <= p <= claim.high for p in candidates)


def unsupported_figures(
    answer: str, sources: Sequence[str], extra: Iterable[str] = ()
) -> list[Figure]:
    """Figures of ``answer`` that no figure of ``sources`` (nor of ``extra``) supports."""
    points = _points([*sources, *extra])
    return [f for f in find_figures(answer) if not supports(f, points)]


def trailing_unit_end(text: str, end: int) -> int:
    """Where a figure ending at ``end`` really ends: after a currency word (600万美元) or a
    measure word (1200万张)."""
    match = _TRAILING_UNIT.match(text, end)
    return match.end() if match else end


def currency_before(text: str, start: int) -> bool:
    """Whether a currency sign stands just before ``start`` ($6m means six million)."""
    return _CURRENCY_BEFORE.search(text[max(0, start - 4) : start]) is not None


def unsupported_by_citations(
    answer: str, cited: Sequence[str], extra: Iterable[str] = ()
) -> list[Figure]:
    """Figures of ``answer`` that the passages their sentence cites do not support.

    ``cited[n - 1]`` is the text of source [n]. A sentence's figures are checked against the
    sources its own markers name; a sentence without markers (a lead notice, a label) against all
    of them. ``extra`` (the sources' dates) counts for every sentence.
    """
    known = [*extra]
    every = _points([*cited, *known])
    found: list[Figure] = []
    for start, end in sentence_spans(answer):
        sentence = answer[start:end]
        numbers = {int(n) for n in _CITED.findall(sentence)}
        named = [cited[n - 1] for n in sorted(numbers) if 1 <= n <= len(cited)]
        points = _points([*named, *known]) if named else every
        for figure in find_figures(sentence):
            if not supports(figure, points):
                found.append(_shifted(figure, start))
    return found


def _shifted(figure: Figure, offset: int) -> Figure:
    return Figure(
        figure.text,
        figure.start + offset,
        figure.end + offset,
        figure.value,
        figure.kind,
        figure.points,
        figure.low,
        figure.high,
        figure.currency,
    )


def mark_unverified(text: str, figures: Sequence[Figure], marker: str) -> tuple[str, list[Figure]]:
    """``text`` with ``marker`` after each figure (after its currency word: 900万美元（未核实）),
    and the figures at their offsets in the marked text."""
    out: list[str] = []
    moved: list[Figure] = []
    cursor = shift = 0
    for figure in sorted(figures, key=lambda f: f.start):
        at = trailing_unit_end(text, figure.end)
        out.append(text[cursor:at] + marker)
        moved.append(_shifted(figure, shift))
        shift += len(marker)
        cursor = at
    out.append(text[cursor:])
    return "".join(out), moved
