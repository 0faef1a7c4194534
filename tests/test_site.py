"""The topics readers are offered are the fund company's (``knowledge/_site.toml``), not the
seed's: another company's assistant told its readers to ask about DeepSeek and 杰文斯悖论."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.errors import ConfigurationError
from assistant.factory import build_engine
from assistant.prompts import message
from assistant.site import read
from tests.conftest import ROOT, settings_for

SEED_TOPIC = "杰文斯悖论"


def _folder(tmp_path: Path, site: str | None) -> Path:
    folder = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", folder)
    (folder / "_site.toml").unlink()
    if site is not None:
        (folder / "_site.toml").write_text(site, encoding="utf-8")
    return folder


def test_the_seed_folder_offers_its_own_topics(seeded, tmp_path: Path) -> None:
    settings, store = seeded
    engine = build_engine(settings_for(tmp_path, knowledge_dir=settings.knowledge_dir), store=store)
    answer = engine.ask("比特币现在多少钱？")
    assert answer.answer.startswith("现有资料没有涉及这个问题") and SEED_TOPIC in answer.answer
    assert "投资有风险" in answer.disclosure


def test_a_folder_without_a_site_file_offers_what_every_article_answers(
    tmp_path: Path, seeded
) -> None:
    folder = _folder(tmp_path, None)
    engine = build_engine(settings_for(tmp_path, knowledge_dir=folder), store=seeded[1])
    for question, lang in (("比特币现在多少钱？", "zh"), ("What is the price of Bitcoin?", "en")):
        answer = engine.ask(question)
        assert SEED_TOPIC not in answer.answer and "DeepSeek" not in answer.answer, answer.answer
        assert message(lang, "topics") in answer.answer
    hello = engine.ask("你好")
    assert message("zh", "topics") in hello.answer and "DeepSeek" not in hello.answer


def test_a_companys_site_file_names_its_topics(tmp_path: Path, seeded) -> None:
    site = '[zh]\ntopics = "液冷数据中心的用电、光模块"\n[en]\ntopics = "liquid cooling"\n'
    folder = _folder(tmp_path, site)
    engine = build_engine(settings_for(tmp_path, knowledge_dir=folder), store=seeded[1])
    answer = engine.ask("比特币现在多少钱？")
    assert "可以问问液冷数据中心的用电、光模块。" in answer.answer, answer.answer
    assert "liquid cooling" in engine.ask("What is the price of Bitcoin?").answer


@pytest.mark.parametrize("site", ["[zh\ntopics = 1", '[zh]\ntopics = ""\n'])
def test_a_broken_site_file_is_a_clear_error(tmp_path: Path, site: str) -> None:
    folder = _folder(tmp_path, site)
    with pytest.raises(ConfigurationError, match=r"_site\.toml"):
        read(folder)


def test_a_companys_site_file_names_its_example_questions(tmp_path: Path) -> None:
    folder = _folder(tmp_path, 'examples = ["液冷的渗透率是多少？", "What limits data centres?"]\n')
    assert read(folder).examples == ("液冷的渗透率是多少？", "What limits data centres?")
    assert read(_folder(tmp_path / "plain", None)).examples == ()  # the chat's own, then
    with pytest.raises(ConfigurationError, match="examples"):
        read(_folder(tmp_path / "broken", "examples = 3\n"))
