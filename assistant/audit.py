"""The audit trail (留痕): every answer shown, with what it rested on, kept in SQLite.

One row per turn: when, through which channel, the question and the history length, the
standalone question retrieval used, the retrieved chunk ids with the content hash of the article
version they came from, the answer exactly as shown, its citations, notices and findings, the
mode and model, and the disclosure shown (by content hash; each distinct disclosure text is kept
once in its own table). Rows are only ever inserted; the reader's feedback on a turn is a row
of its own that names the turn. Secrets never reach this table: nothing
from the settings is written.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    turn_id TEXT UNIQUE,
    at TEXT NOT NULL,
    channel TEXT NOT NULL,
    mode TEXT NOT NULL,
    model TEXT,
    question TEXT NOT NULL,
    history_turns INTEGER NOT NULL,
    retrieved TEXT NOT NULL,
    citations TEXT NOT NULL,
    answer TEXT NOT NULL,
    notices TEXT NOT NULL,
    findings TEXT NOT NULL,
    disclosure_hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS disclosures (
    hash TEXT PRIMARY KEY,
    text TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    turn_id TEXT NOT NULL,
    at TEXT NOT NULL,
    rating TEXT NOT NULL,
    comment TEXT NOT NULL
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class AuditLog:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(turns)")}
        if columns and "turn_id" not in columns:  # a log written before turns had ids
            self._db.execute("ALTER TABLE turns ADD COLUMN turn_id TEXT")
        self._db.executescript(_SCHEMA)

    def record(
        self,
        *,
        turn_id: str,
        channel: str,
        question: str,
        history_turns: int,
        retrieved: Sequence[dict[str, Any]],
        answer: dict[str, Any],
    ) -> int:
        disclosure = str(answer["disclosure"])
        digest = hashlib.sha256(disclosure.encode("utf-8")).hexdigest()
        row = (
            turn_id,
            _now(),
            channel,
            answer["mode"],
            answer["model"],
            question,
            history_turns,
            json.dumps(list(retrieved), ensure_ascii=False),
            json.dumps([c["chunk_id"] for c in answer["citations"]]),
            answer["answer"],
            json.dumps(answer["notices"], ensure_ascii=False),
            json.dumps(answer["findings"], ensure_ascii=False),
            digest,
        )
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO disclosures VALUES (?, ?)", (digest, disclosure)
            )
            cursor = self._db.execute(
                "INSERT INTO turns (turn_id, at, channel, mode, model, question, history_turns, "
                "retrieved, citations, answer, notices, findings, disclosure_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
        return int(cursor.lastrowid or 0)

    def add_feedback(self, turn_id: str, rating: str, comment: str) -> bool:
        """Keep a reader's rating of a turn; False when no turn has that id."""
        with self._lock:
            known = self._db.execute("SELECT 1 FROM turns WHERE turn_id = ?", (turn_id,)).fetchone()
            if known is None:
                return False
            self._db.execute(
                "INSERT INTO feedback (turn_id, at, rating, comment) VALUES (?, ?, ?, ?)",
                (turn_id, _now(), rating, comment),
            )
        return True

    def feedback(self, turn_id: str) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute(
                "SELECT at, rating, comment FROM feedback WHERE turn_id = ? ORDER BY id", (turn_id,)
            )
            return [dict(zip(("at", "rating", "comment"), row, strict=True)) for row in cursor]

    def turns(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute(
                "SELECT t.*, d.text AS disclosure FROM turns t JOIN disclosures d "
                "ON d.hash = t.disclosure_hash ORDER BY t.id DESC LIMIT ?",
                (limit,),
            )
            names = [c[0] for c in cursor.description]
            return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]

    def close(self) -> None:
        with self._lock:
            self._db.close()
