"""The interface's words, read from ``assistant/resources/ui.toml`` (Chinese first, English).

The interface speaks ``Ui``: Chinese in simplified characters, Chinese in traditional ones (a
reader in Hong Kong or Taiwan: ``?lang=zh-Hant``, or a browser that prefers zh-TW, zh-HK or
zh-Hant) or English. Traditional labels are the simplified ones through the project's one
conversion (``text.traditional_in_place``, OpenCC ``s2tw``), not a second table to keep in step.
Only our words are converted: what a label frames (the disclosure, titles, quotes, answers) is
shown as written, since the disclosure is a legal text and the rest are the sources' words.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any, Literal

from ...prompts import Lang
from ...text import traditional_in_place

_FILE = Path(__file__).resolve().parents[2] / "resources" / "ui.toml"
Ui = Literal["zh", "zh-Hant", "en"]  # the interface's language and, for Chinese, its script
LANGS: tuple[Lang, ...] = ("zh", "en")
LANG_CHOICES: list[tuple[str, Ui]] = [("简体", "zh"), ("繁體", "zh-Hant"), ("English", "en")]
# The ``lang`` attribute of each (the page's, and that of a text in another language than it).
HTML_LANG: dict[Ui, str] = {"zh": "zh-Hans", "zh-Hant": "zh-Hant", "en": "en"}
_TRADITIONAL = ("zh-hant", "zh-tw", "zh-hk", "zh-mo")  # tags (and their prefixes) read in 繁體
_SIMPLIFIED = ("zh-hans", "zh-cn", "zh-sg", "zh")


def base(ui: Ui) -> Lang:
    """The language the engine speaks for this interface (answers, maps, drafts)."""
    return "en" if ui == "en" else "zh"


def in_script(ui: Ui, text: str) -> str:
    """Our own words (a label, a notice we wrote) in the interface's script."""
    return traditional_in_place(text) if ui == "zh-Hant" else text


def _tag(tag: str) -> Ui | None:
    tag = tag.strip().lower().replace("_", "-")
    if tag.startswith(_TRADITIONAL):
        return "zh-Hant"
    if tag.startswith(_SIMPLIFIED):
        return "zh"
    return "en" if tag == "en" or tag.startswith("en-") else None


def preferred(query: str | None, accept_language: str | None) -> Ui:
    """The interface a page opens in: ``?lang=`` when it names one we have; else traditional
    characters when the browser's first preference is written in them (zh-TW, zh-HK, zh-Hant);
    else Chinese in simplified characters, the app's first language (an English browser gets
    the switch, as before: the articles and most readers are Chinese)."""
    if query and (asked := _tag(query)):
        return asked
    ranked: list[tuple[float, int, str]] = []
    for i, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag.strip() and weight > 0:
            ranked.append((-weight, i, tag))
    first = min(ranked)[2] if ranked else ""
    return "zh-Hant" if _tag(first) == "zh-Hant" else "zh"


@cache
def _table() -> dict[str, Any]:
    with _FILE.open("rb") as handle:
        return tomllib.load(handle)


def t(ui: Ui, key: str, **values: object) -> str:
    """The interface string ``key`` in ``ui``, with ``{placeholders}`` filled (the values as
    given: a model's name or an error is not ours to convert)."""
    return in_script(ui, str(_table()[base(ui)][key])).format(**values)


def choices(ui: Ui, key: str) -> list[str]:
    """A list-valued string (the client levels)."""
    return [in_script(ui, str(item)) for item in _table()[base(ui)][key]]


def examples() -> list[str]:
    return [str(q) for q in _table()["examples"]["questions"]]


def draft_text(lang: Lang, key: str, **values: object) -> str:
    """Words of an exported draft, in the draft's language."""
    return str(_table()["draft"][lang][key]).format(**values)
