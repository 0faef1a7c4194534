"""``AuditLog``: writes the chained rows, keeps feedback, reads them back, verifies, purges."""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.pool import ConnectionPoolEntry

from ..errors import ConfigurationError
from ..text import disclosure_id
from .record import AuditRecord
from .schema import CHAINED, GENESIS, chains, disclosures, feedback, metadata, row_hash, turns

log = logging.getLogger(__name__)
_PAGE = 500  # rows per read: memory stays flat on a long trail
# An advisor's drafts and exports are suitability records: kept at least 20 years whatever the
# retention setting (适当性管理: 保存期限不少于20年).
RECORD_CHANNELS = ("advisor",)
RECORD_DAYS = 20 * 366
_ADVANCE = update(chains).where(chains.c.name == bindparam("n")).values(seq=chains.c.seq + 1)
_HEAD = select(chains.c.seq, chains.c.hash).where(chains.c.name == bindparam("n"))
_SET_HEAD = update(chains).where(chains.c.name == bindparam("n")).values(hash=bindparam("h"))
# Built once: a statement object built anew for each row is coerced and keyed for SQLAlchemy's
# compiled cache again each time.
_ADVANCE_RETURNING = _ADVANCE.returning(chains.c.seq, chains.c.hash)
_INSERT = {name: insert(table) for name, table in CHAINED.items()}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Verification:
    """What ``audit verify`` found: rows per chain, each chain's head, the first break of each."""

    rows: dict[str, int] = field(default_factory=dict)
    heads: dict[str, str] = field(default_factory=dict)
    breaks: list[str] = field(default_factory=list)
    unwritten: int = 0  # records waiting in the spill file

    @property
    def ok(self) -> bool:
        return not self.breaks


class AuditLog:
    def __init__(self, engine: Engine, *, spill: Path | None = None) -> None:
        self.engine = engine
        self.spill = spill
        self._lock = threading.Lock()  # in-process writers queue here, not on the DB's lock
        self._stored_disclosures: set[str] = set()  # ids known to be in the table already
        self.failing = False  # the last ``write_or_spill`` could not write to the database
        self._counted: tuple[tuple[int, int, int] | None, int] = (None, 0)  # ``unwritten``'s
        try:
            try:
                metadata.create_all(engine)
            except SQLAlchemyError:  # another process created them between check and create
                metadata.create_all(engine)
            for name in CHAINED:
                self._ensure_chain(name)
        except SQLAlchemyError as error:
            where = engine.url.render_as_string(hide_password=True)
            raise ConfigurationError(
                f"The audit database at {where} cannot be opened ({type(error).__name__}: "
                f"{error.orig if hasattr(error, 'orig') else error}): check ASSISTANT_AUDIT_URL "
                "and that the database server is running."
            ) from error

    @classmethod
    def open(cls, target: str | Path, *, spill: Path | None = None) -> AuditLog:
        """A SQLite file path, or any SQLAlchemy URL (``postgresql://`` uses psycopg 3)."""
        if isinstance(target, Path):
            target.parent.mkdir(parents=True, exist_ok=True)
            url: URL = URL.create("sqlite", database=str(target))
        else:
            try:
                url = make_url(target)
            except ArgumentError as error:
                raise ConfigurationError(
                    "ASSISTANT_AUDIT_URL is not a database URL: use e.g. "
                    "postgresql://user:password@host/dbname or sqlite:///path/audit.sqlite3."
                ) from error
            if url.drivername in ("postgresql", "postgres"):
                url = url.set(drivername="postgresql+psycopg")
        try:
            engine = create_engine(url, pool_pre_ping=True)
        except (ArgumentError, ImportError) as error:
            raise ConfigurationError(
                f"ASSISTANT_AUDIT_URL names a database this install cannot use ({error}): "
                "SQLite and PostgreSQL (psycopg) are supported."
            ) from error
        if engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        return cls(engine, spill=spill)

    def _ensure_chain(self, name: str) -> None:
        with self.engine.begin() as conn:
            if conn.execute(select(chains.c.name).where(chains.c.name == name)).first():
                return
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(chains).values(
                        name=name, seq=0, hash=GENESIS, anchor_seq=0, anchor_hash=GENESIS
                    )
                )
        except IntegrityError:
            pass  # another process created it first

    # -- writing -----------------------------------------------------------------------------

    def write(self, record: AuditRecord) -> int:
        """Append the record to the chain; its position (``seq``). Raises on a database error."""
        return self._append_turn(_columns(record), _disclosures(record))

    def write_or_spill(self, record: AuditRecord) -> bool:
        """``write``, and when the database fails, say so loudly and keep the record in the spill
        file for ``audit replay``: the answer still reaches the user either way. The log says
        where the record is: in the spill file, or (when that cannot be written either) only in
        the log line itself."""
        try:
            self.write(record)
            self.failing = False
            return True
        except Exception:
            failure = sys.exc_info()
            self.failing = True
        line = json.dumps(
            {"row": _columns(record), "disclosures": _disclosures(record)}, ensure_ascii=False
        )
        try:
            if self.spill is None:
                raise OSError("no spill file is configured")
            self.spill.parent.mkdir(parents=True, exist_ok=True)
            with self._lock, self.spill.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")
            kept, lost = f"it is kept in {self.spill} for `python -m assistant audit replay`", False
        except OSError as error:
            kept, lost = f"nor could it be kept in the spill file ({error})", True
        log.error(
            "AUDIT WRITE FAILED for turn %s (%s, %s): the reader still gets the answer, but the "
            "turn is not in the audit trail yet; %s.",
            record.turn_id,
            record.channel,
            record.outcome,
            kept,
            exc_info=failure,
        )
        if lost:
            log.critical("AUDIT RECORD LOST unless taken from this log line: %s", line)
        return False

    def _append_turn(self, row: dict[str, Any], texts: Mapping[str, str]) -> int:
        with self._lock, self.engine.begin() as conn:
            seq, prev = self._advance(conn, "turns")
            new = [key for key in texts if key not in self._stored_disclosures]
            if new:
                found = conn.execute(select(disclosures.c.id).where(disclosures.c.id.in_(new)))
                stored = set(found.scalars().all())
                for key in new:
                    if key not in stored:
                        conn.execute(insert(disclosures), {"id": key, "text": texts[key]})
            self._insert(conn, "turns", {**row, "seq": seq, "prev_hash": prev})
        self._stored_disclosures.update(texts)  # after the commit: they are in the table now
        return seq

    def _advance(self, conn: Connection, name: str) -> tuple[int, str]:
        """Take the chain's lock (the update) and the next position and previous hash."""
        if conn.dialect.update_returning:  # SQLite ≥ 3.35 and PostgreSQL: one round trip
            head = conn.execute(_ADVANCE_RETURNING, {"n": name}).one()
        else:
            conn.execute(_ADVANCE, {"n": name})
            head = conn.execute(_HEAD, {"n": name}).one()
        return int(head.seq), str(head.hash)

    @staticmethod
    def _insert(conn: Connection, name: str, row: dict[str, Any]) -> None:
        table = CHAINED[name]
        row["hash"] = row_hash(table, row)
        # Statements built once with bound parameters: SQLAlchemy compiles each only once.
        conn.execute(_INSERT[name], row)
        conn.execute(_SET_HEAD, {"n": name, "h": row["hash"]})

    def replay(self) -> int:
        """Write the records the spill file kept while the database failed; how many."""
        if self.spill is None or not self.spill.exists():
            return 0
        with self._lock:
            lines = self.spill.read_text(encoding="utf-8").splitlines()
        done = 0
        for line in lines:
            kept = json.loads(line)
            with self.engine.connect() as conn:
                exists = conn.execute(
                    select(turns.c.seq).where(turns.c.turn_id == kept["row"]["turn_id"])
                ).first()
            if not exists:
                self._append_turn(kept["row"], kept["disclosures"])
            done += 1
        with self._lock:
            rest = self.spill.read_text(encoding="utf-8").splitlines()[len(lines) :]
            self.spill.write_text("".join(f"{line}\n" for line in rest), encoding="utf-8")
        return done

    def unwritten(self) -> int:
        """Records waiting in the spill file: its lines, read in blocks, and counted again only
        when the file has changed (``/healthz`` asks on every probe, and an outage's spill can
        hold hours of turns)."""
        if self.spill is None:
            return 0
        try:
            stat = self.spill.stat()
            seen = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
            if self._counted[0] != seen:
                with self.spill.open("rb") as handle:
                    blocks = iter(lambda: handle.read(1 << 20), b"")
                    self._counted = (seen, sum(block.count(b"\n") for block in blocks))
        except FileNotFoundError:
            return 0
        return self._counted[1]

    # -- feedback ----------------------------------------------------------------------------

    def add_feedback(self, turn_id: str, rating: str, comment: str) -> bool:
        """Keep a reader's rating of a turn; False when no turn has that id."""
        with self._lock, self.engine.begin() as conn:
            if not conn.execute(select(turns.c.seq).where(turns.c.turn_id == turn_id)).first():
                return False
            seq, prev = self._advance(conn, "feedback")
            row = {"turn_id": turn_id, "at": now(), "rating": rating, "comment": comment}
            self._insert(conn, "feedback", {**row, "seq": seq, "prev_hash": prev})
        return True

    def feedback(self, turn_id: str) -> list[dict[str, Any]]:
        return self._feedback([turn_id]).get(turn_id, [])

    def _feedback(self, turn_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        query = (
            select(feedback.c.turn_id, feedback.c.at, feedback.c.rating, feedback.c.comment)
            .where(feedback.c.turn_id.in_(list(turn_ids)))
            .order_by(feedback.c.seq)
        )
        found: dict[str, list[dict[str, Any]]] = {}
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                found.setdefault(row.turn_id, []).append(
                    {"at": row.at, "rating": row.rating, "comment": row.comment}
                )
        return found

    # -- reading -----------------------------------------------------------------------------

    def turns(self, limit: int = 100) -> list[dict[str, Any]]:
        """The newest turns first, each as ``rows`` gives it."""
        with self.engine.connect() as conn:
            last = conn.execute(select(func.max(turns.c.seq))).scalar() or 0
        rows = list(self.rows(after=max(0, int(last) - limit)))
        return rows[::-1]

    def turn(self, turn_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            seq = conn.execute(select(turns.c.seq).where(turns.c.turn_id == turn_id)).scalar()
        if seq is None:
            return None
        return next(self.rows(after=int(seq) - 1, limit=1))

    def rows(
        self, *, since: str | None = None, after: int = 0, limit: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Turns in chain order: columns, the JSON detail spread in, the disclosures shown
        (``disclosure``: their text as shown) and the feedback given."""
        texts: dict[str, str] = {}
        given = 0
        while limit is None or given < limit:
            query = select(turns).where(turns.c.seq > after).order_by(turns.c.seq).limit(_PAGE)
            if since:
                query = query.where(turns.c.at >= since)
            with self.engine.connect() as conn:
                page = [dict(r._mapping) for r in conn.execute(query)]
                wanted = {k for r in page for k in json.loads(r["disclosure_ids"])} - set(texts)
                if wanted:
                    found = conn.execute(select(disclosures).where(disclosures.c.id.in_(wanted)))
                    texts.update({r.id: r.text for r in found})
            if not page:
                return
            notes = self._feedback([r["turn_id"] for r in page])
            for row in page:
                yield _expand(row, texts, notes.get(row["turn_id"], []))
                given += 1
                if limit is not None and given >= limit:
                    return
            after = int(page[-1]["seq"])

    # -- integrity and retention -------------------------------------------------------------

    def verify(self, *, kept_heads: Sequence[str] = ()) -> Verification:
        """Recompute every chain; the first broken link of each, in words. ``kept_heads``: chain
        heads an earlier verify printed, which must still be rows' hashes (or a purge's anchor)."""
        result = Verification(unwritten=self.unwritten())
        for name, table in CHAINED.items():
            with self.engine.connect() as conn:
                head = conn.execute(select(chains).where(chains.c.name == name)).one()
            expected_seq, expected_prev, count = int(head.anchor_seq), str(head.anchor_hash), 0
            broken = None
            after = expected_seq
            while broken is None:
                query = select(table).where(table.c.seq > after).order_by(table.c.seq).limit(_PAGE)
                with self.engine.connect() as conn:
                    page = [dict(r._mapping) for r in conn.execute(query)]
                if not page:
                    break
                for row in page:
                    broken = _check_link(name, row, expected_seq, expected_prev)
                    if broken:
                        break
                    expected_seq, expected_prev, count = int(row["seq"]), row["hash"], count + 1
                after = int(page[-1]["seq"])
            if broken is None and (int(head.seq), str(head.hash)) != (expected_seq, expected_prev):
                broken = (
                    f"{name}: the chain head records row {head.seq} but the last intact row is "
                    f"{expected_seq}: rows at the end were removed or altered."
                )
            if broken:
                result.breaks.append(broken)
            result.rows[name] = count
            result.heads[name] = expected_prev
        with self.engine.connect() as conn:
            for kept in conn.execute(select(disclosures).order_by(disclosures.c.id)):
                if disclosure_id(kept.text) != kept.id:
                    result.breaks.append(
                        f"disclosures: the text kept under id {kept.id} was altered "
                        "(its content no longer hashes to its id)."
                    )
                    break
            lost = (self._lost(conn, head) for head in kept_heads)
            result.breaks += [why for why in lost if why]
        return result

    @staticmethod
    def _lost(conn: Connection, head: str) -> str | None:
        """Why a head kept elsewhere is not in the chains, or None when it is."""
        head = head.strip().lower()
        for table in CHAINED.values():
            if conn.execute(select(table.c.seq).where(table.c.hash == head)).first():
                return None
        starts = conn.execute(
            select(chains.c.name, chains.c.anchor_hash, chains.c.anchor_seq)
        ).all()
        if head == GENESIS or head in {str(row.anchor_hash) for row in starts}:
            return None
        first = ", ".join(f"{row.name} at row {int(row.anchor_seq) + 1}" for row in starts)
        return (
            f"the head you kept, {head[:16]}…, is in neither chain: rows up to it were "
            "removed from the end or rewritten since you kept it (or the retention period "
            f"purged it: the chains now start at {first})."
        )

    def purge(self, *, older_than_days: int) -> dict[str, int]:
        """Delete the oldest rows written before the cutoff; the chain stays verifiable.

        Only a prefix of each chain goes, so it stops at the first suitability record (an
        advisor's turn) younger than ``RECORD_DAYS``: those outlive any shorter setting."""

        def before(days: int) -> str:
            return (datetime.now(UTC) - timedelta(days=days)).isoformat(timespec="milliseconds")

        cutoff, records = before(older_than_days), before(max(older_than_days, RECORD_DAYS))
        removed = {}
        for name, table in CHAINED.items():
            young = table.c.at >= cutoff
            if table is turns:
                young = young | ((table.c.channel.in_(RECORD_CHANNELS)) & (table.c.at >= records))
            with self._lock, self.engine.begin() as conn:
                conn.execute(update(chains).where(chains.c.name == name).values(seq=chains.c.seq))
                # Only a prefix of the chain goes: up to the first row young enough to keep.
                first_kept = conn.execute(select(func.min(table.c.seq)).where(young)).scalar()
                bound = select(func.max(table.c.seq))
                if first_kept is not None:
                    bound = bound.where(table.c.seq < first_kept)
                last = conn.execute(bound).scalar()
                if last is None:
                    removed[name] = 0
                    continue
                anchor = conn.execute(select(table.c.hash).where(table.c.seq == last)).scalar()
                result = conn.execute(table.delete().where(table.c.seq <= last))
                conn.execute(
                    update(chains)
                    .where(chains.c.name == name)
                    .values(anchor_seq=last, anchor_hash=anchor)
                )
                removed[name] = int(result.rowcount or 0)
        if any(removed.values()):
            log.warning(
                "Audit retention: removed %d turns and %d feedback rows written before %s.",
                removed["turns"],
                removed["feedback"],
                cutoff,
            )
        return removed

    def close(self) -> None:
        self.engine.dispose()


def _sqlite_pragmas(connection: Any, _: ConnectionPoolEntry) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA busy_timeout=30000")  # writers from other processes wait their turn
    cursor.close()


def _columns(record: AuditRecord) -> dict[str, Any]:
    usage = record.usage
    return {
        "turn_id": record.turn_id,
        "at": record.at,
        "kind": record.kind,
        "channel": record.channel,
        "session": record.session,
        "outcome": record.outcome,
        "mode": record.mode,
        "why": record.why,
        "model": record.model,
        "question": record.question,
        "standalone": record.standalone,
        "answer": record.answer,
        "disclosure_ids": json.dumps(record.disclosure_ids),
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "cache_hit_tokens": usage.prompt_cache_hit_tokens,
        "cache_miss_tokens": usage.prompt_cache_miss_tokens,
        "detail": json.dumps(record.detail(), ensure_ascii=False, sort_keys=True),
    }


def _disclosures(record: AuditRecord) -> dict[str, str]:
    return {d.id: d.text for d in record.disclosures}


def _expand(
    row: dict[str, Any], texts: Mapping[str, str], notes: list[dict[str, Any]]
) -> dict[str, Any]:
    detail = json.loads(row.pop("detail"))
    ids = json.loads(row["disclosure_ids"])
    return {
        **row,
        **detail,
        "disclosure_ids": ids,
        "disclosure": "\n\n".join(texts.get(k, f"[missing disclosure {k}]") for k in ids),
        "feedback": notes,
    }


def _check_link(name: str, row: Mapping[str, Any], seq: int, prev: str) -> str | None:
    where = f"{name}: row {row['seq']} (turn {row['turn_id']})"
    if int(row["seq"]) != seq + 1:
        return f"{name}: rows {seq + 1}–{int(row['seq']) - 1} are missing (after row {seq})."
    if row["prev_hash"] != prev:
        return (
            f"{where} does not follow row {seq}: its previous hash is not that row's hash "
            "(a row before it was changed or replaced)."
        )
    if row_hash(CHAINED[name], row) != row["hash"]:
        return f"{where} was altered: its hash does not match its contents."
    return None
