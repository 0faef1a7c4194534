"""The audit tables (SQLAlchemy Core, so SQLite and PostgreSQL share one definition) and the
hash that chains their rows.

Tables carry an ``audit_`` prefix: a data folder from before the hash chain keeps its old
``turns`` table untouched beside them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, Text

GENESIS = "0" * 64  # the previous hash of a chain's first row

metadata = MetaData()

turns = Table(
    "audit_turns",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),  # position in the chain
    Column("turn_id", String(64), nullable=False, unique=True),
    Column("at", String(32), nullable=False, index=True),  # UTC ISO 8601, when written
    Column("kind", String(16), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("session", String(128), index=True),
    Column("outcome", String(16), nullable=False),
    Column("mode", String(16)),
    Column("why", String(64)),
    Column("model", String(128)),
    Column("question", Text, nullable=False),
    Column("standalone", Text),
    Column("answer", Text),
    Column("disclosure_ids", Text, nullable=False),  # JSON list of the store's disclosure ids
    Column("prompt_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("cache_hit_tokens", Integer, nullable=False),
    Column("cache_miss_tokens", Integer, nullable=False),
    Column("detail", Text, nullable=False),  # JSON: the rest of the AuditRecord
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

feedback = Table(
    "audit_feedback",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("turn_id", String(64), nullable=False, index=True),
    Column("at", String(32), nullable=False),
    Column("rating", String(16), nullable=False),
    Column("comment", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# Each distinct disclosure text once, under the store's id (sha256 of the text, 16 hex digits):
# content-addressed, so ``audit verify`` checks every text against its id.
disclosures = Table(
    "audit_disclosures",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("text", Text, nullable=False),
)

# The head of each chain (its last seq and hash), updated in the same transaction as the row;
# writers serialise on this row. ``anchor_*`` is the last row a retention purge removed, where
# the remaining chain legitimately starts.
chains = Table(
    "audit_chains",
    metadata,
    Column("name", String(16), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("anchor_seq", BigInteger, nullable=False),
    Column("anchor_hash", String(64), nullable=False),
)

CHAINED: Mapping[str, Table] = {"turns": turns, "feedback": feedback}


def hashed_columns(table: Table) -> Sequence[str]:
    """The columns a row's hash covers: all but the hash itself."""
    return [c.name for c in table.columns if c.name != "hash"]


def row_hash(table: Table, row: Mapping[str, Any]) -> str:
    """sha256 over the row's columns (``prev_hash`` included, which chains it)."""
    values = [row[name] for name in hashed_columns(table)]
    canonical = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{table.name}\n{canonical}".encode()).hexdigest()
