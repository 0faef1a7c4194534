"""What the audit trail costs each turn, and how many turns a second it can keep.

    python bench/audit.py [--rows 2000] [--threads 8]

For SQLite (the default, in a temporary folder) and PostgreSQL (a temporary cluster started as
the tests start theirs, from Debian's binaries; fsync left on here, unlike the tests): the
latency of one chained write (p50 / p95, one writer), the rows per second that one writer and
``--threads`` concurrent writers sustain (every write takes the chain's lock, so this is the
ceiling of turns per second), and the time ``verify`` takes over all the rows written. Records
are the size of a real turn (five retrieved chunks, a 600-character answer, two model calls).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.audit import (  # noqa: E402
    AuditLog,
    AuditRecord,
    CallRef,
    CitationRef,
    DisclosureRef,
    RetrievedRef,
)
from assistant.audit.log import now  # noqa: E402
from assistant.modelcalls import Usage  # noqa: E402
from assistant.text import disclosure_id  # noqa: E402

DISCLOSURE = "风险提示：投资有风险，投资需谨慎。" * 40


def turn() -> AuditRecord:
    answer = "杰文斯悖论说明效率提高后总消耗反而上升[1]。" * 25
    usage = Usage(2400, 300, 2700, 1800, 600)
    return AuditRecord(
        turn_id=uuid.uuid4().hex,
        at=now(),
        kind="turn",
        channel="web",
        session=uuid.uuid4().hex,
        outcome="complete",
        mode="llm",
        why=None,
        model="deepseek-flash",
        audience="investor",
        question="为什么说DeepSeek反而利好算力?",
        history_turns=2,
        standalone="为什么说DeepSeek反而利好算力?",
        retrieved=tuple(
            RetrievedRef(r, uuid.uuid4().hex, "knowledge/a.txt", "ab" * 32, 0.9) for r in range(5)
        ),
        streamed=tuple(answer[i : i + 24] for i in range(0, len(answer), 24)),
        answer=answer,
        citations=(CitationRef(1, uuid.uuid4().hex, answer[:24]),),
        notices=("本回答由人工智能生成，仅供参考，不构成投资建议。",),
        disclosures=(DisclosureRef(disclosure_id(DISCLOSURE), DISCLOSURE),),
        calls=tuple(
            CallRef(stage, "deepseek-flash", "primary", 1, (), "ok", usage, 400.0, 3000.0)
            for stage in ("rewrite", "answer")
        ),
        latency_ms={"retrieval": 35.0, "model": 3000.0, "total": 3100.0},
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(name: str, open_log: Callable[[], AuditLog], rows: int, threads: int) -> None:
    log = open_log()
    latencies = []
    for _ in range(rows // 4):
        began = time.perf_counter()
        log.write(turn())
        latencies.append((time.perf_counter() - began) * 1000)
    single = len(latencies) / (sum(latencies) / 1000)

    per_thread = rows // threads

    def writer() -> None:
        for _ in range(per_thread):
            log.write(turn())

    workers = [threading.Thread(target=writer) for _ in range(threads)]
    began = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    concurrent = per_thread * threads / (time.perf_counter() - began)

    began = time.perf_counter()
    result = log.verify()
    verify_s = time.perf_counter() - began
    assert result.ok, result.breaks
    total = result.rows["turns"]
    print(
        f"{name:<10}  write p50 {statistics.median(latencies):6.2f} ms  "
        f"p95 {percentile(latencies, 0.95):6.2f} ms  |  1 writer {single:6.0f} rows/s  "
        f"{threads} writers {concurrent:6.0f} rows/s  |  verify {total} rows "
        f"{verify_s:5.2f} s ({total / verify_s:,.0f} rows/s)"
    )
    log.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="rows the concurrent run writes")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")

    with tempfile.TemporaryDirectory() as folder:
        measure(
            "SQLite", lambda: AuditLog.open(Path(folder) / "audit.sqlite3"), args.rows, args.threads
        )

    from tests.postgres import running_server

    with running_server(durable=True) as server:
        url = server.url(server.create_database())
        measure("PostgreSQL", lambda: AuditLog.open(url), args.rows, args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
