"""Sync a folder of articles into the store: idempotent, incremental, safe on bad input.

- Every article is known by a key: its path relative to the working directory (absolute when
  outside it). Its ``doc_hash`` covers the raw bytes, the sidecar metadata and the pipeline
  version, so an unchanged file is skipped without being read past its bytes.
- Chunk ids are content hashes. For a changed article only chunks whose text is new are
  embedded; the old chunks are deleted only after the new ones are stored. A crash or Ctrl-C
  in between leaves both (the store stays queryable) and the next run finishes the job,
  because an article counts as unchanged only when every chunk carries the current hash.
- A file that fails keeps its previous version in the store; files gone from a synced folder
  are removed.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from .chunking import chunk_article, to_langchain_documents
from .documents import Article, content_hash_of, load_article
from .errors import IngestError
from .store import KnowledgeStore

log = logging.getLogger(__name__)

DEFAULT_DISCLOSURE = "_default_disclosure.txt"


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[IngestError] = field(default_factory=list)
    chunks: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_dict(self) -> dict[str, object]:
        return {
            "added": len(self.added),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "removed": len(self.removed),
            "chunks": self.chunks,
            "failed": [{"path": e.path, "error": e.reason} for e in self.failed],
        }

    def summary(self) -> str:
        lines = [
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed, "
            f"{len(self.failed)} refused; {self.chunks} chunks in the store."
        ]
        lines += [f"  refused {e.path}: {e.reason}" for e in self.failed]
        return "\n".join(lines)


def key_for(path: Path) -> str:
    """The store's name for a file: relative to the working directory when inside it."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def is_article(path: Path) -> bool:
    name = path.name
    return not (name.startswith((".", "_")) or name.endswith(".meta.toml"))


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """The article files under ``paths`` (sorted) and the folders that were synced whole."""
    files: list[Path] = []
    folders: list[Path] = []
    for path in paths:
        if path.is_dir():
            folders.append(path)
            files.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file()
                    and is_article(p)
                    and not any(part.startswith(".") for part in p.relative_to(path).parts)
                )
            )
        else:
            files.append(path)
    return files, folders


def _default_disclosure(folders: Sequence[Path], fallback: Path) -> str | None:
    for folder in [*folders, fallback]:
        candidate = folder / DEFAULT_DISCLOSURE
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8-sig").strip()
            if text:
                return text
    return None


class Ingestor:
    """Runs one sync of files into a store."""

    def __init__(
        self,
        store: KnowledgeStore,
        *,
        max_bytes: int,
        chunk_chars: int,
        chunk_overlap: int,
        default_disclosure_dir: Path,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.chunk_chars = chunk_chars
        self.chunk_overlap = chunk_overlap
        self.default_disclosure_dir = default_disclosure_dir
        self.progress = progress or (lambda n: None)

    def sync(
        self, paths: Sequence[Path], *, on_total: Callable[[int], None] | None = None
    ) -> SyncReport:
        report = SyncReport()
        files, folders = discover(paths)
        state = self.store.index_state()
        default = _default_disclosure(folders, self.default_disclosure_dir)
        default_id = self.store.put_disclosure(default, default=True) if default else None

        seen: set[str] = set()
        pending: list[tuple[str, Path, str]] = []
        for path in files:
            key = key_for(path)
            seen.add(key)
            try:
                doc_hash = self._version(content_hash_of(path, self.max_bytes))
            except IngestError as error:
                report.failed.append(IngestError(key, error.reason))
                continue
            stored = state.get(key, {})
            if stored and set(stored.values()) == {doc_hash}:
                report.unchanged.append(key)
            else:
                pending.append((key, path, doc_hash))

        if on_total is not None:
            on_total(len(pending))
        for key, path, _ in pending:
            try:
                article = load_article(path, key, self.max_bytes)
            except IngestError as error:
                report.failed.append(IngestError(key, error.reason))
                self.progress(1)
                continue
            article = replace(article, content_hash=self._version(article.content_hash))
            self._store_article(article, state.get(key, {}), default_id)
            (report.updated if key in state else report.added).append(key)
            self.progress(1)

        for key in sorted(state):
            if key not in seen and _under(key, folders, paths):
                self.store.delete(list(state[key]))
                report.removed.append(key)

        # Always reconciled (a cheap fingerprint check): a run interrupted after storing chunks
        # but before indexing them leaves nothing "changed" for the next run to notice.
        self.store.sync_lexical()
        report.chunks = self.store.count()
        return report

    def _version(self, content_hash: str) -> str:
        """The stored version of an article: its content and how it was chunked."""
        spec = f"{content_hash}|{self.chunk_chars}|{self.chunk_overlap}"
        return hashlib.sha256(spec.encode()).hexdigest()

    def _store_article(
        self, article: Article, stored: dict[str, str], default_id: str | None
    ) -> None:
        disclosure_key = (
            self.store.put_disclosure(article.disclosure, default=False)
            if article.disclosure
            else default_id
        )
        chunks = chunk_article(article, self.chunk_chars, self.chunk_overlap)
        documents = to_langchain_documents(article, chunks, disclosure_id=disclosure_key)
        # Only text the store has not seen is embedded; kept chunks get the new metadata.
        self.store.add_documents([d for d in documents if d.id not in stored])
        kept = [d for d in documents if d.id in stored]
        self.store.update_metadata([str(d.id) for d in kept], [d.metadata for d in kept])
        current = {c.chunk_id for c in chunks}
        self.store.delete([chunk_id for chunk_id in stored if chunk_id not in current])
        log.info(
            "stored %s: %d chunks (%d embedded)", article.path, len(chunks), len(chunks) - len(kept)
        )


def _under(key: str, folders: Sequence[Path], paths: Sequence[Path]) -> bool:
    """Whether a stored article belongs to what this run synced (so its absence means deletion)."""
    stored = Path(key) if os.path.isabs(key) else Path.cwd() / key
    stored = stored.resolve()
    for folder in folders:
        if stored.is_relative_to(folder.resolve()):
            return True
    return any(stored == Path(p).resolve() for p in paths if not Path(p).is_dir())
