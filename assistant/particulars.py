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

Not caught: a particular without a figure or a title ("退休了", "孙女上大学"), and a single-digit
figure, which ``figures`` does not read as one (3年). The drafting prompt asks the model not to
restate any of them.

Pure functions: the engine withholds such a sentence from a model's draft (``gate``), and the
advisor's desk marks it in an edited draft and exports none while one stands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .figures import Figure, find_figures, unsupported_figures
from .store import StoredChunk
from .text import sentence_spans, simplified_in_place

_TITLES = "老先生|老太太|先生|女士|小姐|太太|夫人|阿姨|叔叔|伯伯|大爷|大妈|大姐|大哥"
# A surname before a title; not a word that stands there in "这位女士", "65岁的先生".
_CN_NAME = re.compile(rf"([^\W\d_a-zA-Z的位名个这那该此每其])(?:{_TITLES})")
_EN_NAME = re.compile(r"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr)\.?\s+([A-Z][A-Za-z'-]+)")


@dataclass(frozen=True)
class Particulars:
    figures: tuple[Figure, ...] = ()  # the topic's figures no source states
    surnames: tuple[str, ...] = ()  # "王" of 王女士 (any title restates it), "Wang" of Mr Wang

    def __bool__(self) -> bool:
        return bool(self.figures or self.surnames)

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
    return Particulars(told, tuple(dict.fromkeys(names)))


def _same(told: Figure, said: Figure) -> bool:
    """One figure, as values of one kind: the one claims a value the other's interval holds."""
    if told.kind != said.kind:
        return False
    return told.low <= said.value <= told.high or said.low <= told.value <= said.high
