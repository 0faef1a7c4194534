"""The web faces' own words (``resources/web_strings.toml``), by language."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

Lang = Literal["zh", "en"]
_FILE = Path(__file__).resolve().parent.parent / "resources" / "web_strings.toml"


@cache
def web_strings(lang: Lang) -> dict[str, str]:
    """Every string of one language (the widget's script and page get the whole table)."""
    with _FILE.open("rb") as handle:
        table = tomllib.load(handle)[lang]
    return {key: str(value) for key, value in table.items()}
