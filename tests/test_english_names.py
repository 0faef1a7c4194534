"""English questions meet Chinese passages: names by their sound, words by their dictionary form."""

from __future__ import annotations

import pytest

from assistant.bilingual import terms
from assistant.factory import build_store, sync_knowledge
from assistant.retrieval import Retriever
from assistant.transliteration import build_table, holds, names, pattern, readings, spelling
from tests.conftest import settings_for

TRANSLITERATED = [
    ("Tesla", "发明家尼古拉·特斯拉生于斯米良", "特斯拉"),
    ("Normandy", "诺曼人在诺曼底定居", "诺曼底"),
    ("Carolina", "卡罗来纳黑豹队", "卡罗来纳"),
    ("Fresno", "弗雷斯诺位于加州中部", "弗雷斯诺"),
    ("Jacksonville", "杰克逊维尔的球场", "杰克逊维尔"),
    ("Lavoisier", "化学家拉瓦锡的实验", "拉瓦锡"),
    ("Sicily", "西西里岛", "西西里"),
    ("Wittenberg", "学生们涌入威腾博格去听演讲", "威腾博格"),
    ("Gilmore", "吉尔摩先生", "吉尔摩"),
    ("Kowalski", "科瓦尔斯基说", "科瓦尔斯基"),
]


@pytest.mark.parametrize(("name", "text", "run"), TRANSLITERATED)
def test_an_english_name_finds_the_chinese_characters_that_spell_it(
    name: str, text: str, run: str
) -> None:
    assert holds(name, text)
    assert spelling(name, text) == run


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("Tesla", "特别是"),  # te-bie-shi: a b where the name has an s
        ("Tesla", "斯拉特"),  # the right sounds in the wrong order
        ("Tesla", "特斯林"),  # a syllable that runs on past the name (Tesling)
        ("Normandy", "诺曼人"),  # Norman, not Normandy
        ("Mortimer", "莫蒂"),  # the name's last consonant missing
        ("Kowalski", "科瓦尔"),
        ("Baxter", "巴斯特"),  # Baster: the x's k missing
        ("Tesla", "Teslas 和 Teslin"),  # Latin words that only begin like it
    ],
)
def test_a_run_that_merely_resembles_the_name_does_not_match(name: str, text: str) -> None:
    assert not holds(name, text)
    assert spelling(name, text) is None


def test_a_name_kept_in_latin_letters_is_found_and_short_names_are_not_guessed() -> None:
    assert holds("Tesla", "特斯拉（Tesla）的专利")
    assert holds("Oslo", "挪威首都Oslo") and not holds("Oslo", "挪威首都奥斯陆")
    assert pattern("Oslo") is None  # two consonants: chance runs would match too often


def test_only_capitalised_words_no_dictionary_renders_are_looked_for_by_sound() -> None:
    question = "What did Baxter and Fenwick sell in Warsaw's market before the Depression?"
    found = names(question, lambda word: True)
    assert found == ["baxter", "fenwick"]  # Warsaw → 华沙, depression → a dictionary word
    assert names(question.replace("Baxter", "baxter"), lambda word: True) == ["fenwick"]


def test_the_table_is_what_cc_cedict_s_name_entries_give() -> None:
    assert build_table() == readings()
    assert {"特", "斯", "拉", "诺", "曼", "底"} <= readings().keys()


def test_english_words_find_their_dictionary_form() -> None:
    found = dict(terms("Where was Warsaw's university established and who founded it?"))
    assert "华沙" in found["warsaw"]  # a possessive, and a CC-CEDICT gloss "Warsaw, capital of …"
    assert found["established"] and found["founded"]  # establish, found
    assert dict(terms("Which designs were considered?"))["considered"]


# Baxter's passage never says London; Fenwick's says it twice and also repairs watches, so a
# Baxter question's other words lean to Fenwick's; its name, 巴克斯特, is in no dictionary.
WATCHMAKERS = {
    "baxter": "1920年，巴克斯特离开家乡，在里昂的老城开了一家钟表店，专门修理怀表和座钟。",
    "fenwick": "1921年，芬威克离开伦敦，在伦敦港口附近经营一间钟表店，每天清晨修理怀表。",
    "mortimer": "1922年，莫蒂默告别伦敦，去了波尔多，在葡萄园旁边开了一家旧书店，收藏了许多地图。",
}


def test_a_name_found_only_as_a_transliteration_ranks_its_passage_first(tmp_path, embedder) -> None:
    settings = settings_for(tmp_path)
    settings.knowledge_dir.mkdir(parents=True)
    for name, text in WATCHMAKERS.items():
        (settings.knowledge_dir / f"{name}.txt").write_text(text, encoding="utf-8")
    store = build_store(settings, embedder)
    assert sync_knowledge(settings, store).ok
    retriever = Retriever(store, embedder)
    for question, name in [
        ("What did Baxter repair after leaving London?", "baxter"),
        ("Where did Fenwick open a watch shop?", "fenwick"),
        ("Where did Mortimer open a shop after leaving London?", "mortimer"),
    ]:
        hits = retriever.search(question, 3)
        assert hits[0].chunk.text == WATCHMAKERS[name], [h.chunk.text[5:9] for h in hits]
        # The name was met by its sound in its own passage and in no other.
        assert [h.names for h in hits] == [1.0, 0.0, 0.0]
