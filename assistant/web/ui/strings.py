"""The interface's words, read from ``assistant/resources/ui.toml`` (Chinese first, English)."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from ...prompts import Lang

_FILE = Path(__file__).resolve().parents[2] / "resources" / "ui.toml"
LANGS: tuple[Lang, ...] = ("zh", "en")
LANG_CHOICES = [("中文", "zh"), ("English", "en")]


@cache
def _table() -> dict[str, Any]:
    with _FILE.open("rb") as handle:
        return tomllib.load(handle)


def t(lang: Lang, key: str, **values: object) -> str:
    """The interface string ``key`` in ``lang``, with ``{placeholders}`` filled."""
    return str(_table()[lang][key]).format(**values)


def choices(lang: Lang, key: str) -> list[str]:
    """A list-valued string (the client levels)."""
    return [str(item) for item in _table()[lang][key]]


def examples() -> list[str]:
    return [str(q) for q in _table()["examples"]["questions"]]


def draft_text(lang: Lang, key: str, **values: object) -> str:
    """Words of an exported draft, in the draft's language."""
    return str(_table()["draft"][lang][key]).format(**values)
