"""Question sets (SQuAD files, our .jsonl sets) and the cached stores they are asked against."""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import Settings
from ..embeddings import Embedder
from ..factory import build_store, sync_knowledge
from ..store import KnowledgeStore, StoredChunk
from ..text import has_han

# -- questions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One question and what counts as finding it."""

    qid: str
    lang: str
    question: str
    context: str | None = None  # file stem of the question's own context (SQuAD)
    expect: tuple[str, ...] = ()  # substrings a relevant chunk contains (seed set)
    answers: tuple[str, ...] = ()  # gold answers for the offline-answer check

    def relevant(self, chunk: StoredChunk) -> bool:
        if self.context is not None:
            return Path(chunk.path).stem == self.context
        return any(s in chunk.text for s in self.expect)


@dataclass(frozen=True)
class Squad:
    contexts: list[str]
    cases: list[Case]


def context_name(index: int) -> str:
    return f"c{index:04d}"


def _language(text: str) -> str:
    return "zh" if has_han(text) else "en"


def load_squad(path: Path) -> Squad:
    """Contexts in file order and one case per question, pointing at its context's file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    contexts: list[str] = []
    cases: list[Case] = []
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            name = context_name(len(contexts))
            contexts.append(paragraph["context"])
            for qa in paragraph["qas"]:
                answers = tuple(dict.fromkeys(a["text"] for a in qa["answers"] if a["text"]))
                question = qa["question"]
                cases.append(Case(str(qa["id"]), _language(question), question, name, (), answers))
    return Squad(contexts, cases)


def cross_lingual(questions: Squad, contexts: Squad) -> Squad:
    """``questions``' cases against ``contexts``' passages, matched by id (answers from there)."""
    by_id = {case.qid: case for case in contexts.cases}
    cases = [
        Case(c.qid, c.lang, c.question, by_id[c.qid].context, (), by_id[c.qid].answers)
        for c in questions.cases
        if c.qid in by_id
    ]
    return Squad(contexts.contexts, cases)


def load_jsonl_cases(path: Path) -> list[Case]:
    """A seed or off-topic question set: one JSON object per line."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise ValueError(f"{path}:{number}: each line needs a JSON object with a question.")
        answer = row.get("answer")
        cases.append(
            Case(
                qid=str(row.get("id", number)),
                lang=str(row.get("lang") or _language(row["question"])),
                question=row["question"],
                expect=tuple(row.get("expect", ())),
                answers=(answer,) if answer else (),
            )
        )
    return cases


def half(qid: str) -> str:
    """Which half of its set a question belongs to: "tune" (constants may be chosen on it) or
    "held" (only ever reported). Fixed by a hash of the id, before any tuning."""
    return "tune" if hashlib.sha256(qid.encode()).digest()[0] % 2 == 0 else "held"


def sample(cases: Sequence[Case], limit: int | None, seed: int) -> list[Case]:
    if limit is None or limit >= len(cases):
        return list(cases)
    return random.Random(seed).sample(list(cases), limit)


# -- the store ---------------------------------------------------------------------------------


def cache_key(source: bytes, settings: Settings, embedder_name: str) -> str:
    """Names a cached store: what it was built from, how it was chunked, which embedder."""
    digest = hashlib.sha256(source)
    digest.update(f"{settings.chunk_chars}/{settings.chunk_overlap}/{embedder_name}".encode())
    return digest.hexdigest()[:12]


def write_contexts(contexts: Sequence[str], folder: Path) -> None:
    """One file per context (files already holding the same text are left alone)."""
    folder.mkdir(parents=True, exist_ok=True)
    for index, text in enumerate(contexts):
        path = folder / f"{context_name(index)}.txt"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")


def isolated(base: Settings, data_dir: Path, knowledge_dir: Path) -> Settings:
    """``base`` with its own data and knowledge folders, offline, on the embedded store."""
    folders = {"data_dir": data_dir.resolve(), "knowledge_dir": knowledge_dir.resolve()}
    return base.model_copy(update={**folders, "api_key": None, "chroma_host": None})


def open_synced(settings: Settings, embedder: Embedder | None) -> tuple[KnowledgeStore, float]:
    """The store of ``settings.knowledge_dir``, synced (incrementally), and the seconds it took."""
    from tqdm import tqdm

    store = build_store(settings, embedder)
    started = time.perf_counter()
    with (
        contextlib.chdir(settings.knowledge_dir.parent),
        tqdm(desc="ingest", unit="file", disable=None, file=sys.stderr) as bar,
    ):
        report = sync_knowledge(
            settings, store, progress=bar.update, on_total=lambda n: bar.reset(total=n)
        )
    if not report.ok:
        print(report.summary(), file=sys.stderr)
    return store, time.perf_counter() - started
