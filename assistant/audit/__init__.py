"""The audit trail (留痕): every turn shown to anyone, with what it rested on, chained by hashes.

One row per turn from every channel (web, advisor, widget, api, openai, cli), written however
the turn ended: complete, interrupted by a client that left mid-stream, fell back to excerpts,
refused, or failed; and one more row for each advisor draft exported (``kind`` "export", the
text as exported, ``parent_turn`` naming the answer it came from), or refused export (outcome
refused, no text: it held a client's particulars). A row (``AuditRecord``) holds:

- ``at`` (UTC, when the turn ended), ``channel``, an anonymous ``session`` id, the ``audience``
  (investor or advisor), the ``question``, the number of history turns, the ``standalone``
  question retrieval used and its Chinese ``lexical_query`` when the model gave one;
- ``retrieved``: every chunk id with its rank, score, article path and article version
  (``doc_hash``);
- what was shown, in order: ``streamed`` (every delta, including sentences a fallback later
  replaced), then ``answer`` (the final text), ``citations`` (chunk id and quote), ``notices``,
  ``findings``, and ``disclosure_ids``: the store's own 16-character disclosure ids
  (``assistant.text.disclosure_id``), so a row joins the store's disclosure versions; each text
  is also kept once here (``audit_disclosures``), content-addressed;
- ``outcome``, ``mode`` and ``why`` (the fallback's cause kind, e.g. ``overloaded``,
  ``circuit_open``; the refusal's reason; ``failover:<kind>`` when the second model answered),
  the ``model`` whose text was shown, every model request (``calls``: endpoint, attempts, each
  failed attempt, outcome, token usage with DeepSeek's cache hit / miss counts), the token
  totals of this request as columns, and per-stage ``latency_ms``;
- later, the reader's feedback (``audit_feedback``, a chained row of its own naming the turn).

Tamper-evident: each row's hash covers all its columns and the previous row's hash; the chain
head (last position and hash) is updated in the same transaction, and writers from any number
of threads or processes serialise on it. ``python -m assistant audit verify`` recomputes the
chains and names the first broken link. A chain cannot prove its own newest rows were not all
removed together with its head: keep the head hash ``verify`` prints somewhere else.

Retention (``ASSISTANT_AUDIT_RETENTION_DAYS``) deletes only the oldest prefix of each chain and
records where the remainder starts (its anchor), so the chain still verifies.

Storage: SQLite in the data folder by default, any SQLAlchemy URL (PostgreSQL) by
``ASSISTANT_AUDIT_URL``. A failed write never costs the user the answer: it is logged loudly
and the record goes to a spill file (``audit-unwritten.jsonl``) that ``audit replay`` writes
later. Secrets never reach the trail: nothing from the settings is written.
"""

from .log import AuditLog, Verification
from .record import AuditRecord, CallRef, CitationRef, DisclosureRef, RetrievedRef

__all__ = [
    "AuditLog",
    "AuditRecord",
    "CallRef",
    "CitationRef",
    "DisclosureRef",
    "RetrievedRef",
    "Verification",
]
