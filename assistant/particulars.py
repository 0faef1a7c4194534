"""A client's particulars in an advisor's topic, and the sentences of a draft that restate them.

An advisor types the client's situation into the topic ("客户王女士65岁，退休金50万，要不要全部买
588930？"): it tells the model what the client asked, but a draft that repeats it ("对于65岁、退休
金50万元的您，…", "For a 65-year-old with 500,000 in savings…") carries personal data wherever
the client's file travels and reads as advice for that person, which the desk may not send.

The particulars are what the topic says that no source says: its figures that none of the
retrieved passages (nor their dates) states, compared as values (``figures``: an age, an amount,
a holding, a year; the product's code 588930 is the sources', not the client's), and the people
it names by title (王女士, 张先生, Mr Wang). A sentence restates them when it states one of those
figures, in any notation (50万, 500,000 and 五十万 are one), or names one of those people.

The client's circumstances stated in words are particulars too ("客户退休了，身体不好，想给孙女
攒学费": health is sensitive personal information under PIPL): the kinds the topic states, of
retirement, health, family, work, money and housing, and the place the client lives
(``resources/circumstances.toml``). A sentence restates a kind the topic told when it says one of
that kind's words, in either language ("您已退休、身体欠佳", "As a retiree in poor health"): not
the topic's own word, since a draft restates in other words. The sources speak of investors and
of 养老 products in general, so a word the sources also use restates only in a sentence about the
client ("您", "客户", "you"): "养老目标基金适合在退休前长期持有[1]" states what the sources say;
"临近退休的您…" restates. A group's wording is no one's circumstance ("退休人群", "retirees as
a group"). ``bench/particulars.py`` prints both error rates on the held half of a labelled set.

Not caught: a circumstance in words the lexicon lacks, and a single-digit figure, which
``figures`` does not read as one (3年). The drafting prompt asks the model not to restate any of
them.

Pure functions: the engine withholds such a sentence from a model's draft (``gate``), and the
advisor's desk marks it in an edited draft and exports none while one stands.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from .figures import Figure, find_figures, unsupported_figures
from .store import StoredChunk
from .text import sentence_spans, simplified_in_place

_TITLES = "老先生|老太太|先生|女士|小姐|太太|夫人|阿姨|叔叔|伯伯|大爷|大妈|大姐|大哥"
# A surname before a title; not a word that stands there in "这位女士", "65岁的先生".
_CN_NAME = re.compile(rf"([^\W\d_a-zA-Z的位名个这那该此每其])(?:{_TITLES})")
_EN_NAME = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+([A-Z][A-Za-z'-]+)")


@dataclass(frozen=True)
class _Lexicon:
    kinds: dict[str, re.Pattern[str]]  # "health": its words, either language
    places: re.Pattern[str]  # the places named as such
    names: dict[str, tuple[str, ...]]  # a place's name, case-folded: its names in either language
    after: re.Pattern[str]  # a place after "住在", "lives in" (group 1)
    about: re.Pattern[str]  # a sentence about the client
    general: re.Pattern[str]  # after a word: a group's, not a person's


@cache
def _lexicon() -> _Lexicon:
    raw = resources.files("assistant").joinpath("resources/circumstances.toml").read_bytes()
    data = tomllib.loads(raw.decode("utf-8"))

    def either(patterns: list[str]) -> re.Pattern[str]:
        return re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)

    named: list[list[str]] = data["places"]["named"]
    names = {n.casefold(): tuple(m.casefold() for m in pair) for pair in named for n in pair}
    spelled = [rf"\b{re.escape(n)}\b" if n.isascii() else re.escape(n) for n in names]
    return _Lexicon(
        kinds={kind: either(words) for kind, words in data["kinds"].items()},
        places=either(spelled),
        names=names,
        after=re.compile("|".join(data["places"]["after"])),
        about=either(data["about"]),
        general=re.compile(data["general"], re.IGNORECASE),
    )


def _said(pattern: re.Pattern[str], text: str) -> list[str]:
    """The words of ``pattern`` in ``text``, case-folded, but not a group's ("退休人群")."""
    general = _lexicon().general
    return [
        m.group().casefold() for m in pattern.finditer(text) if not general.match(text, m.end())
    ]


@dataclass(frozen=True)
class Particulars:
    figures: tuple[Figure, ...] = ()  # the topic's figures no source states
    surnames: tuple[str, ...] = ()  # "王" of 王女士 (any title restates it), "Wang" of Mr Wang
    kinds: tuple[str, ...] = ()  # the kinds of circumstance the topic states ("health")
    places: tuple[str, ...] = ()  # where the client lives ("杭州"), case-folded
    sourced: frozenset[str] = frozenset()  # the lexicon's words the sources use, case-folded
    # The sources' own sentences that speak to a reader in those words ("当您购买基金产品时…
    # 银行储蓄"), bare (``_bare``): a draft quoting one restates nothing.
    quoted: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.figures or self.surnames or self.kinds or self.places)

    def _circumstance(self, plain: str) -> bool:
        """Whether ``plain`` says a kind of circumstance or a place the topic told."""
        lexicon = _lexicon()
        said = [w for kind in self.kinds for w in _said(lexicon.kinds[kind], plain)]
        folded = plain.casefold()
        said += [place for place in self.places if place in folded]
        if not said:
            return False
        if any(w not in self.sourced for w in said):
            return True
        if not lexicon.about.search(plain):
            return False
        bare = _bare(plain)
        return not any(bare in quote or quote in bare for quote in self.quoted)

    def restated(self, sentence: str) -> bool:
        """Whether ``sentence`` states one of the figures or names one of the people."""
        if not self:
            return False
        plain = simplified_in_place(sentence)
        for surname in self.surnames:
            if surname.isascii():
                if re.search(rf"\b{re.escape(surname)}\b", plain):
                    return True
            elif re.search(rf"{re.escape(surname)}(?:{_TITLES})", plain):
                return True
        if self._circumstance(plain):
            return True
        return any(_same(told, said) for said in find_figures(plain) for told in self.figures)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of each sentence of ``text`` that restates them."""
        if not self:
            return []
        return [(s, e) for s, e in sentence_spans(text) if self.restated(text[s:e])]


NONE = Particulars()  # an outline alone: no topic, nothing told


def of(topic: str, sources: Iterable[StoredChunk]) -> Particulars:
    """The particulars ``topic`` gives that none of the passages ``sources`` states, nor their
    articles' dates and products."""
    plain = simplified_in_place(topic)
    texts = [
        text
        for chunk in sources
        for text in (chunk.text, chunk.meta("published"), chunk.meta("products"))
        if text
    ]
    told = tuple(unsupported_figures(plain, texts))
    names = [m.group(1) for m in _CN_NAME.finditer(plain)]
    names += [m.group(1) for m in _EN_NAME.finditer(plain)]
    lexicon = _lexicon()
    kinds = tuple(kind for kind, words in lexicon.kinds.items() if _said(words, plain))
    places = _said(lexicon.places, plain)
    places += [g.casefold() for m in lexicon.after.finditer(plain) for g in m.groups() if g]
    places = [name for place in places for name in lexicon.names.get(place, (place,))]
    theirs = "\n".join(texts)
    # Any use by the sources counts, a group's too ("退休人群" makes 退休 the sources' word).
    sourced = {
        m.group().casefold() for words in lexicon.kinds.values() for m in words.finditer(theirs)
    }
    sourced |= {p for p in places if p in theirs.casefold()}
    quoted = [
        bare
        for text in texts
        for s, e in sentence_spans(text)
        if lexicon.about.search(text[s:e])
        and any(words.search(text[s:e]) for words in lexicon.kinds.values())
        and len(bare := _bare(text[s:e])) >= 8
    ]
    return Particulars(
        told,
        tuple(dict.fromkeys(names)),
        kinds,
        tuple(dict.fromkeys(places)),
        frozenset(sourced),
        tuple(dict.fromkeys(quoted)),
    )


def _bare(sentence: str) -> str:
    """``sentence`` without its citation markers, punctuation and spaces, case-folded."""
    return re.sub(r"\[\d+\]|[\W_]", "", simplified_in_place(sentence)).casefold()


def _same(told: Figure, said: Figure) -> bool:
    """One figure, as values of one kind: the one claims a value the other's interval holds."""
    if told.kind != said.kind:
        return False
    return told.low <= said.value <= told.high or said.low <= told.value <= said.high
