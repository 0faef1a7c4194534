"""Sync a folder of articles into the store: idempotent, incremental, safe on bad input.

- Every article is known by a key and a version (see ``inventory``): an unchanged file is
  skipped without being parsed.
- A sync writes the next generation of the store beside the one being served (see ``store``):
  unchanged articles' chunks are copied with their vectors, and for a changed article only
  chunks whose text is new are embedded. Nothing is served from the new generation until it is
  complete and published; a crash or Ctrl-C before that leaves the old one serving, and the
  next run resumes the unfinished generation (what it embedded is kept).
- Writes go to Chroma in batches of several articles: each write call costs about 0.2 s
  whatever its size (measured on CMRC: 170 s of 187 s outside the embedder when written one
  article at a time), so small articles written one by one would cost more than embedding them.
- A file that fails keeps its previous version in the store; files gone from a synced folder
  are removed. The published generation comes with a :class:`~assistant.inventory.SyncRecord`,
  from which the next run can tell it has nothing to do without opening the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from langchain_core.documents import Document

from .chunking import chunk_article, to_langchain_documents
from .documents import NO_DISCLOSURE, Article, load_article
from .errors import IngestError
from .inventory import FileWarning, SyncReport, article_version, default_disclosure, scan
from .store import Build, KnowledgeStore, disclosure_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Prepared:
    """One article chunked and compared with what the store holds, ready to be written."""

    key: str
    documents: list[Document]  # every chunk of the new version
    new: int  # chunks whose text the store has not seen (to embed)
    updated: bool
    opening: str | None = None  # its first passage of body text


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
        batch_chunks: int = 128,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.chunk_chars = chunk_chars
        self.chunk_overlap = chunk_overlap
        self.default_disclosure_dir = default_disclosure_dir
        self.batch_chunks = batch_chunks
        self.progress = progress or (lambda n: None)

    def sync(
        self,
        paths: Sequence[Path],
        *,
        on_total: Callable[[int], None] | None = None,
        root: Path | None = None,
        fresh: bool = False,
    ) -> SyncReport:
        """Sync ``paths`` (keys relative to ``root``, default the working directory); with
        ``fresh`` the new generation starts empty (``--rebuild``)."""
        report = SyncReport()
        found = scan(
            paths,
            max_bytes=self.max_bytes,
            chunk_chars=self.chunk_chars,
            chunk_overlap=self.chunk_overlap,
            root=root,
        )
        report.failed.extend(found.failed)
        state = {} if fresh else self.store.index_state()
        default = default_disclosure(found.folders, self.default_disclosure_dir)
        versions = {key: _single(chunks.values()) for key, chunks in state.items()}

        pending: list[tuple[str, Path]] = []
        for key, (path, version) in found.versions.items():
            stored = state.get(key, {})
            if stored and set(stored.values()) == {version}:
                report.unchanged.append(key)
            else:
                pending.append((key, path))
        gone = found.gone(state)
        if on_total is not None:
            on_total(len(pending))
        if not (pending or gone or fresh) and (disclosure_id(default) if default else None) == (
            self.store.snapshot().default_disclosure_id
        ):
            self.store.record_unchanged(versions, default)
            report.chunks = self.store.count()
            return report

        with self.store.building(fresh=fresh) as build:
            default_id = self.store.put_disclosure(default) if default else None
            replaced: set[str] = set()
            batch: list[_Prepared] = []
            openings: dict[str, str] = {}  # an article's first passage → its key (this run)
            leaving = frozenset(gone)
            for key, path in pending:
                try:
                    article = load_article(path, key, self.max_bytes)
                except IngestError as error:
                    report.failed.append(IngestError(key, error.reason))
                    self.progress(1)
                    continue  # its previous version, if any, is carried below
                report.warnings.extend(
                    FileWarning(key, _NO_DEFAULT if w == NO_DISCLOSURE and not default else w)
                    for w in article.warnings
                )
                article = replace(article, content_hash=self._version(article.content_hash))
                prepared = self._prepare(article, state.get(key, {}), default_id)
                if (original := self._copied(prepared, openings, leaving)) is not None:
                    report.warnings.append(FileWarning(key, _COPY.format(original=original)))
                batch.append(prepared)
                replaced.add(key)
                versions[key] = article.content_hash
                if sum(p.new for p in batch) >= self.batch_chunks:
                    self._write(build, batch, report)
                    batch = []
            self._write(build, batch, report)

            for key in gone:
                report.removed.append(key)
                versions.pop(key, None)
            kept = [key for key in state if key not in replaced and key not in gone]
            build.carry([chunk_id for key in kept for chunk_id in state[key]])
            snapshot = self.store.publish(build, versions=versions, default_disclosure=default)
        report.chunks = snapshot.count()
        return report

    def _version(self, content_hash: str) -> str:
        return article_version(content_hash, self.chunk_chars, self.chunk_overlap)

    def _prepare(
        self, article: Article, stored: dict[str, str], default_id: str | None
    ) -> _Prepared:
        disclosure_key = (
            self.store.put_disclosure(article.disclosure) if article.disclosure else default_id
        )
        chunks = chunk_article(article, self.chunk_chars, self.chunk_overlap)
        documents = to_langchain_documents(article, chunks, disclosure_id=disclosure_key)
        return _Prepared(
            key=article.path,
            documents=documents,
            new=sum(1 for d in documents if d.id not in stored),
            updated=bool(stored),
            opening=next((c.text for c in chunks if c.kind == "body"), None),
        )

    def _copied(
        self, prepared: _Prepared, openings: dict[str, str], leaving: frozenset[str]
    ) -> str | None:
        """Another article that opens with this one's first passage, word for word: one read
        in this run, else one the store holds (not one this run removes). A copy under another
        name comes back beside the original in every search, and is cited twice."""
        opening, key = prepared.opening, prepared.key
        if opening is None:
            return None
        if (first := openings.setdefault(opening, key)) != key:
            return first
        found = [chunk_id for chunk_id, _ in self.store.lexical().search(opening, 3)]
        for chunk in self.store.get(found):
            if chunk.text == opening and chunk.path != key and chunk.path not in leaving:
                return chunk.path
        return None

    def _write(self, build: Build, batch: Sequence[_Prepared], report: SyncReport) -> None:
        """Store a batch of articles in the build (one write for all of them)."""
        if not batch:
            return
        embedded = build.put([d for p in batch for d in p.documents])
        for prepared in batch:
            (report.updated if prepared.updated else report.added).append(prepared.key)
            log.info("stored %s: %d chunks", prepared.key, len(prepared.documents))
        log.info("batch of %d articles: %d chunks embedded", len(batch), embedded)
        self.progress(len(batch))


# A folder without its own default disclosure leaves such an article the assistant's one generic
# sentence: the operator should know that, and that the file to add is theirs to write.
_NO_DEFAULT = (
    "it has no risk disclosure (风险提示) of its own, and its folder has no "
    "_default_disclosure.txt, so answers citing it carry only the assistant's generic sentence "
    "(投资有风险，投资需谨慎…); add the section to the article, a disclosure field to its "
    ".meta.toml, or your company's standard disclosure as _default_disclosure.txt in the folder."
)
_COPY = (
    "it opens with the same passage as {original}, word for word: if it is a copy, remove one "
    "of them, or answers will quote both and cite the same text twice."
)


def _single(values: Iterable[str]) -> str | None:
    """The one value all of ``values`` share, or None when they differ."""
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None
