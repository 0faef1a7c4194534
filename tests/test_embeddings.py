"""The e5 query cache: a question asked again is not embedded again, and the cache stays
within its bound."""

from __future__ import annotations

import numpy as np

from assistant.embeddings import E5Embedder, VectorCache


def test_a_question_asked_again_gets_the_same_vector_without_an_e5_call(
    embedder: E5Embedder,
) -> None:
    question = "DeepSeek降低了推理成本以后，算力需求为什么没有下降？（缓存）"
    first = embedder.embed_query(question)
    calls = embedder.calls
    again = embedder.embed_query(question)
    assert embedder.calls == calls  # served from the cache
    assert again == first
    computed = embedder.embed_batch([question], is_query=True)[0]
    assert np.allclose(again, computed, atol=1e-4)  # what e5 gives for that text
    other = embedder.embed_query(question.replace("下降", "减少"))
    assert embedder.calls > calls and not np.allclose(other, first, atol=1e-4)


def test_changing_a_returned_vector_does_not_change_the_cached_one() -> None:
    cache = VectorCache(4)
    cache.put("q", [1.0, 2.0])
    got = cache.get("q")
    assert got is not None
    got[0] = 99.0
    assert cache.get("q") == [1.0, 2.0]


def test_the_cache_keeps_only_the_most_recently_used_questions() -> None:
    cache = VectorCache(3)
    for n in range(3):
        cache.put(f"q{n}", [float(n)])
    assert cache.get("q0") == [0.0]  # q0 is now the most recent
    cache.put("q3", [3.0])  # q1, the least recently used, goes
    assert len(cache) == 3
    assert cache.get("q1") is None
    assert [cache.get(f"q{n}") for n in (0, 2, 3)] == [[0.0], [2.0], [3.0]]
    assert (cache.hits, cache.misses) == (4, 1)


def test_a_cache_of_size_zero_keeps_nothing() -> None:
    cache = VectorCache(0)
    cache.put("q", [1.0])
    assert cache.get("q") is None and len(cache) == 0


def test_a_remote_embedder_keeps_its_base_urls_path_and_sends_its_query(fake_llm, tmp_path) -> None:
    # A gateway that takes its version in the query (?api-version=…): the openai client joined
    # "embeddings" onto the URL as written, so the request went to "/v1/?api-version=…".
    import openai
    import pytest

    from assistant.embeddings import OpenAIEmbedder
    from tests.conftest import settings_for

    settings = settings_for(
        tmp_path,
        embedder="openai",
        embedding_base_url=f"{fake_llm.base_url}/v1?api-version=2024-10-21",
    )
    with pytest.raises(openai.NotFoundError):  # the fake serves chat, not embeddings
        OpenAIEmbedder(settings).embed_batch(["推理算力"], is_query=True)
    assert [r["path"] for r in fake_llm.requests] == ["/v1/embeddings?api-version=2024-10-21"]
