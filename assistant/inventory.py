"""What a sync covers and what it left behind: article files, their versions, the sync record.

This module is light on purpose (the standard library and ``documents`` for hashing): an
unchanged re-run of ``python ingest.py`` is decided here, from file hashes, before Chroma,
LangChain or the embedder are imported, which is most of the cost of a run that has nothing to do.

- Every article is known by a key: its path relative to the working directory (absolute when
  outside it). Its version covers the raw bytes, the sidecar metadata, the pipeline version and
  the chunk settings, so an unchanged file is recognised without being parsed.
- :class:`SyncRecord` describes the generation a complete sync published (see ``store``): which
  generation, and each article's version in it. It is withdrawn just before a generation is
  published and written just after, so it never vouches for contents the store no longer
  serves. While it exists and every file's version matches it, the run has nothing to do. A
  shared Chroma server (``CHROMA_HOST``) can be written by other clients, so it gets no record
  and every run asks the server.
- Keys are relative to a root (the working directory of whoever asked for the sync: a running
  app syncs for ``ingest.py`` with that process's working directory, so the keys are the same
  whichever process does the work).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .config import Settings
from .documents import PIPELINE_VERSION, content_hash_of
from .errors import IngestError
from .lexical import TOKENIZER_VERSION

DEFAULT_DISCLOSURE = "_default_disclosure.txt"
_RECORD_FORMAT = 2


@dataclass(frozen=True)
class FileWarning:
    """Something the operator should act on about a file that was nevertheless ingested."""

    path: str
    message: str


@dataclass
class SyncReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    failed: list[IngestError] = field(default_factory=list)
    # Per file read in this run (added or updated): an unchanged file is not read again.
    warnings: list[FileWarning] = field(default_factory=list)
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
            "warnings": [{"path": w.path, "warning": w.message} for w in self.warnings],
        }

    def summary(self) -> str:
        lines = [
            f"{len(self.added)} added, {len(self.updated)} updated, "
            f"{len(self.unchanged)} unchanged, {len(self.removed)} removed, "
            f"{len(self.failed)} refused; {self.chunks} chunks in the store."
        ]
        lines += [f"  refused {e.path}: {e.reason}" for e in self.failed]
        lines += [f"  warning {w.path}: {w.message}" for w in self.warnings]
        return "\n".join(lines)


def key_for(path: Path, root: Path | None = None) -> str:
    """The store's name for a file: relative to ``root`` (the working directory) when inside it."""
    resolved = path.resolve()
    try:
        return resolved.relative_to((root or Path.cwd()).resolve()).as_posix()
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


def default_disclosure(folders: Sequence[Path], fallback: Path) -> str | None:
    """The text of ``_default_disclosure.txt`` in the first synced folder that has one."""
    for folder in [*folders, fallback]:
        candidate = folder / DEFAULT_DISCLOSURE
        if candidate.is_file():
            text = candidate.read_text(encoding="utf-8-sig").strip()
            if text:
                return text
    return None


def covers(
    key: str, folders: Sequence[Path], paths: Sequence[Path], root: Path | None = None
) -> bool:
    """Whether a stored article belongs to what this run synced (so its absence means deletion)."""
    stored = Path(key) if os.path.isabs(key) else (root or Path.cwd()) / key
    stored = stored.resolve()
    for folder in folders:
        if stored.is_relative_to(folder.resolve()):
            return True
    return any(stored == Path(p).resolve() for p in paths if not Path(p).is_dir())


def article_version(content_hash: str, chunk_chars: int, chunk_overlap: int) -> str:
    """The stored version of an article: its content and how it was chunked."""
    spec = f"{content_hash}|{chunk_chars}|{chunk_overlap}"
    return hashlib.sha256(spec.encode()).hexdigest()


@dataclass(frozen=True)
class Scan:
    """The article files one sync covers: each one's key and version, and those unreadable."""

    versions: dict[str, tuple[Path, str]]  # key -> (path, version)
    failed: list[IngestError]
    folders: list[Path]  # synced whole: a stored article under one whose file is gone is removed
    paths: Sequence[Path]
    root: Path | None = None  # what keys are relative to (None: the working directory)

    def gone(self, stored: Iterable[str]) -> list[str]:
        """The stored article keys this sync covers whose files are no longer there."""
        seen = set(self.versions) | {error.path for error in self.failed}
        return sorted(
            key
            for key in stored
            if key not in seen and covers(key, self.folders, self.paths, self.root)
        )


def scan(
    paths: Sequence[Path],
    *,
    max_bytes: int,
    chunk_chars: int,
    chunk_overlap: int,
    root: Path | None = None,
) -> Scan:
    """Discover the files under ``paths`` and version each from its bytes (nothing is parsed)."""
    files, folders = discover(paths)
    versions: dict[str, tuple[Path, str]] = {}
    failed: list[IngestError] = []
    for path in files:
        key = key_for(path, root)
        try:
            content_hash = content_hash_of(path, max_bytes)
        except IngestError as error:
            failed.append(IngestError(key, error.reason))
            continue
        versions[key] = (path, article_version(content_hash, chunk_chars, chunk_overlap))
    return Scan(versions, failed, folders, paths, root)


def _sha256(text: str | bytes | None) -> str | None:
    if text is None:
        return None
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


class SyncRecord:
    """What the published generation of an embedded store holds (``<data dir>/last-sync.json``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.enabled = not settings.chroma_host
        self.path = settings.data_dir / "last-sync.json"

    def _setup(self) -> str:
        """Everything besides the files that decides what a sync would store."""
        s = self.settings
        return json.dumps(
            [
                _RECORD_FORMAT,
                PIPELINE_VERSION,
                TOKENIZER_VERSION,
                str(s.chroma_dir.resolve()),
                s.collection,
                s.embedder,
                s.embedding_model if s.embedder == "openai" else "",
                (s.embedding_query_model or "") if s.embedder == "openai" else "",
                s.chunk_chars,
                s.chunk_overlap,
                s.max_file_bytes,
            ]
        )

    def _lexical_manifest(self, generation: object) -> str | None:
        if not isinstance(generation, str) or not generation:
            return None
        try:
            return _sha256((self.settings.lexical_dir / generation / "manifest.json").read_bytes())
        except OSError:
            return None

    def _store_identity(self) -> str | None:
        """Which Chroma database file this is: a deleted and re-created store is another one."""
        try:
            stat = (self.settings.chroma_dir / "chroma.sqlite3").stat()
        except OSError:
            return None
        return f"{stat.st_dev}:{stat.st_ino}"

    def invalidate(self) -> None:
        """Called before a generation is published: only the sync that published it vouches."""
        if self.enabled:
            self.path.unlink(missing_ok=True)

    def write(
        self,
        versions: Mapping[str, str | None],
        chunks: int,
        default_disclosure: str | None,
        generation: str,
    ) -> None:
        """Record a complete sync: the generation it published and each article's version in it
        (None when its chunks disagree)."""
        if not self.enabled:
            return
        record = {
            "setup": self._setup(),
            "generation": generation,
            "articles": dict(versions),
            "chunks": chunks,
            "default_disclosure": _sha256(default_disclosure),
            "lexical": self._lexical_manifest(generation),
            "store": self._store_identity(),
        }
        # A name of its own: two writers never share a half-written file.
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.path)

    def unchanged(self, paths: Sequence[Path]) -> SyncReport | None:
        """The report of a sync of ``paths``, when the record shows it would change nothing.

        None whenever anything might differ (a file added, edited, deleted or unreadable, other
        settings, a store written since): the caller then runs the real sync.
        """
        if not self.enabled:
            return None
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("setup") != self._setup():
            return None
        generation = record.get("generation")
        lexical = self._lexical_manifest(generation)
        for part, now in (("lexical", lexical), ("store", self._store_identity())):
            if now is None or record.get(part) != now:
                return None
        stored = record.get("articles")
        chunks = record.get("chunks")
        if not isinstance(stored, dict) or not isinstance(chunks, int):
            return None  # not a record this program wrote
        s = self.settings
        found = scan(
            paths,
            max_bytes=s.max_file_bytes,
            chunk_chars=s.chunk_chars,
            chunk_overlap=s.chunk_overlap,
        )
        if found.failed:
            return None  # the real sync explains the refusal
        default = default_disclosure(found.folders, s.knowledge_dir)
        if _sha256(default) != record.get("default_disclosure"):
            return None
        if any(stored.get(key) != version for key, (_, version) in found.versions.items()):
            return None
        if found.gone(stored):
            return None  # an article was deleted
        return SyncReport(unchanged=list(found.versions), chunks=chunks)
