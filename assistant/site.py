"""What a deployment's articles are about, in its operator's words.

Readers are offered topics to ask about when a question is not covered, when they ask what the
assistant does, and when a pasted text's subject is not in the articles. Those topics are the
fund company's, not the product's: its knowledge folder may hold ``_site.toml`` (a file whose name
starts with "_" is no article), with the topics in each language::

    [zh]
    topics = "DeepSeek与算力需求的关系、杰文斯悖论，或相关的风险提示"
    [en]
    topics = "DeepSeek and demand for AI compute, the Jevons paradox, or the risk disclosure"

and, at its top, the example questions the chat offers (``examples = ["…", "…"]``). Without
them, readers are offered the questions every article answers (its gist, its sources, the case
against it: ``topics`` in ``resources/messages.toml``) and the example questions of
``resources/ui.toml``. Read when the engine is built.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from .errors import ConfigurationError
from .prompts import Lang, message

SITE_FILE = "_site.toml"


@dataclass(frozen=True)
class Site:
    topics: dict[Lang, str]  # offered to readers, by language
    examples: tuple[str, ...] = ()  # the chat's example questions; () for the product's own


def read(knowledge_dir: Path) -> Site:
    """The folder's ``_site.toml``, with our words where it says nothing."""
    path = knowledge_dir / SITE_FILE
    data: dict[str, object] = {}
    if path.is_file():
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigurationError(f"{path} is not valid TOML: {error}") from error
    topics: dict[Lang, str] = {}
    for lang in get_args(Lang):
        table = data.get(lang)
        said = table.get("topics") if isinstance(table, dict) else None
        if said is not None and not (isinstance(said, str) and said.strip()):
            raise ConfigurationError(f"{path}: [{lang}] topics must be a non-empty string.")
        topics[lang] = (
            said.strip().rstrip("。.") if isinstance(said, str) else message(lang, "topics")
        )
    examples = data.get("examples", [])
    if not (isinstance(examples, list) and all(isinstance(q, str) and q.strip() for q in examples)):
        raise ConfigurationError(f"{path}: examples must be a list of questions.")
    return Site(topics, tuple(q.strip() for q in examples))
