"""Retrieval latency before the first token with ≥ 10,000 chunks in the store, on this machine.

    python bench/retrieval.py [--questions 200] [--target 10000] [--rebuild]

The store (built once, cached in ``bench/out/retrieval-store/``):

- **Real chunks**: the CMRC dev and XQuAD-zh contexts, one file each, through the real pipeline
  (``sync_knowledge``: chunking, e5 embeddings, Chroma) — about 3,000 chunks.
- **Synthetic chunks** to reach the target without 25 more minutes of embedding: windowed
  variants of the real chunks (a random start in the first quarter, 60–90 % of the length),
  whose vector is the parent chunk's real e5 vector plus Gaussian noise (σ = 0.017 per
  dimension, re-normalised: cosine ≈ 0.95 to the parent). They are written into the store's
  next generation with explicit embeddings and the pipeline's metadata (path, title,
  doc_hash, ordinal, kind, section) plus ``variant``, which is published like any sync (its
  BM25 index built from all of it). So the HNSW graph, the BM25 vocabulary and the fetches
  work at full size, and questions meet near-copies the retriever has to skip — a harsher mix
  than distinct articles would be, not a gentler one.

Timed: ``Retriever.search`` (the engine's retriever, top 5) for real CMRC questions after one
warm-up, then each step of it on its own (query embedding, dense search, BM25 search, lexical
weight, fetch of the candidates, near-copy filtering), and the offline engine up to its first
delta (validation, compliance intent check, search, relevance rule, excerpts). Target: search
p50 ≤ 40 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.answer import AnswerEngine  # noqa: E402
from assistant.config import load_settings  # noqa: E402
from assistant.eval import load_squad, write_contexts  # noqa: E402
from assistant.factory import build_engine, build_store, sync_knowledge  # noqa: E402
from assistant.retrieval import Retriever  # noqa: E402
from assistant.store import KnowledgeStore  # noqa: E402
from assistant.text import near_duplicate  # noqa: E402

DATA = ROOT.parent / "shared" / "eval-data"
if not DATA.is_dir():  # a worktree beside the others: the shared folder of the workplace
    DATA = Path("/work/shared/eval-data")
STORE = ROOT / "bench" / "out" / "retrieval-store"
SOURCES = {"cmrc": DATA / "cmrc2018_dev.json", "xquad-zh": DATA / "xquad.zh.json"}
SIGMA = 0.017


# -- building the store ----------------------------------------------------------------------


def real_chunks(store: KnowledgeStore, rebuild: bool) -> None:
    """The real contexts through the real pipeline (incremental: cached after the first run)."""
    for name, path in SOURCES.items():
        write_contexts(load_squad(path).contexts, STORE / "knowledge" / name)
    with contextlib.chdir(STORE):
        report = sync_knowledge(store.settings, store, rebuild=rebuild)
    print(f"real chunks: {report.summary().splitlines()[0]}")


def parents(store: KnowledgeStore) -> dict[str, list[Any]]:
    """Ids, vectors, documents and metadata of the real (non-variant) chunks."""
    got = store.snapshot().collection.get(include=["embeddings", "documents", "metadatas"])
    keep = [i for i, meta in enumerate(got["metadatas"]) if "variant" not in meta]
    return {
        key: [got[key][i] for i in keep] for key in ("ids", "embeddings", "documents", "metadatas")
    }


def window(document: str, section: str, rng: random.Random) -> str:
    """A window of the chunk text (the heading line, when there is one, stays in front)."""
    prefix = section + "\n" if section and document.startswith(section + "\n") else ""
    text = document[len(prefix) :]
    start = rng.randrange(0, max(1, len(text) // 4))
    length = max(20, int(len(text) * rng.uniform(0.6, 0.9)))
    return prefix + text[start : start + length]


def noisy(vector: Sequence[float], rng: np.random.Generator) -> list[float]:
    moved = np.asarray(vector, dtype=np.float64) + rng.normal(0.0, SIGMA, len(vector))
    return list(moved / np.linalg.norm(moved))


def variants(real: dict[str, list[Any]], needed: int, seed: int = 0) -> dict[str, list[Any]]:
    """``needed`` windowed, noise-shifted copies of the real chunks, round-robin over them."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    out: dict[str, list[Any]] = {"ids": [], "embeddings": [], "documents": [], "metadatas": []}
    for n in range(needed):
        i, generation = n % len(real["ids"]), n // len(real["ids"]) + 1
        meta = dict(real["metadatas"][i], variant=generation)
        out["ids"].append(f"{real['ids'][i]}~v{generation}")
        out["embeddings"].append(noisy(real["embeddings"][i], nrng))
        out["documents"].append(window(real["documents"][i], str(meta.get("section", "")), rng))
        out["metadatas"].append(meta)
    return out


def add_variants(store: KnowledgeStore, target: int) -> None:
    real = parents(store)
    needed = target - store.count()
    if needed <= 0:
        return
    extra = variants(real, needed)
    current = store.snapshot()
    versions = {
        key: next(iter(set(chunks.values()))) for key, chunks in store.index_state().items()
    }
    with store.building() as build:  # the next generation: the real chunks and the variants
        build.carry(current.lexical().ids)
        build.put_vectors(extra["ids"], extra["embeddings"], extra["documents"], extra["metadatas"])
        store.publish(build, versions=versions, default_disclosure=current.default_disclosure())
    cosines = [
        float(np.dot(a, b))
        for a, b in zip(extra["embeddings"][:500], real["embeddings"][:500], strict=True)
    ]
    mean = np.mean(cosines)
    print(f"synthetic chunks: {needed} windowed variants, mean cosine to parent {mean:.3f}")


def open_store(target: int, rebuild: bool) -> tuple[Any, KnowledgeStore]:
    settings = load_settings(
        data_dir=STORE / "data", knowledge_dir=STORE / "knowledge", api_key=None, chroma_host=None
    )
    store = build_store(settings)
    if rebuild or store.count() < target:
        started = time.perf_counter()
        real_chunks(store, rebuild)
        add_variants(store, target)
        print(f"built in {time.perf_counter() - started:.0f} s")
    return settings, store


# -- timing ----------------------------------------------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return (time.perf_counter() - started) * 1000, value


def steps(retriever: Retriever, question: str, k: int = 5) -> dict[str, float]:
    """Each step of ``Retriever.search`` on its own, in milliseconds."""
    store, n = retriever.store, max(retriever.candidates, k * 3)
    ms: dict[str, float] = {}
    ms["query embedding"], vector = timed(lambda: retriever.embedder.embed_query(question))
    ms["dense search"], dense = timed(lambda: store.dense_search(vector, n))
    ms["BM25 search"], _ = timed(lambda: store.lexical().search(question, n))
    ms["lexical weight"], _ = timed(lambda: retriever.lexical_weight(question))
    ms["fetch candidates"], chunks = timed(lambda: store.get([cid for cid, _ in dense][: k * 3]))

    def distinct() -> None:
        chosen: list[Any] = []
        for chunk in chunks:
            if not any(near_duplicate(chunk.text, other.text) for other in chosen):
                chosen.append(chunk)

    ms["near-copy filter"], _ = timed(distinct)
    return ms


def first_delta(engine: AnswerEngine, question: str) -> float:
    started = time.perf_counter()
    events = engine.stream(question, channel="bench")
    next(events)
    events.close()  # stop before the answer is finished and recorded
    return (time.perf_counter() - started) * 1000


def percentiles(values: Sequence[float]) -> str:
    return f"p50 {np.percentile(values, 50):6.1f}  p95 {np.percentile(values, 95):6.1f}"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=int, default=200, help="CMRC questions to time")
    parser.add_argument("--target", type=int, default=10_000, help="chunks in the store")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached store")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings, store = open_store(args.target, args.rebuild)
    engine = build_engine(settings, store=store, chat=None, check_model=False)
    retriever = engine.retriever
    cases = load_squad(SOURCES["cmrc"]).cases
    questions = [c.question for c in random.Random(0).sample(cases, args.questions)]
    retriever.search("预热", 5)  # model load, BM25 load: not part of a question's cost
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    total = [timed(lambda q=q: retriever.search(q, 5))[0] for q in questions]
    parts = [steps(retriever, q) for q in questions]
    engine_ms = [first_delta(engine, q) for q in questions]

    real = sum(
        1
        for m in store.snapshot().collection.get(include=["metadatas"])["metadatas"]
        if "variant" not in m
    )
    print(f"store: {store.count()} chunks ({real} real, {store.count() - real} synthetic variants)")
    print(f"{len(questions)} CMRC questions, ms:")
    print(f"  Retriever.search (top 5)   {percentiles(total)}   (target p50 ≤ 40)")
    for step in parts[0]:
        print(f"    {step:<24} {percentiles([p[step] for p in parts])}")
    print(f"  engine to first delta      {percentiles(engine_ms)}   (offline, excerpts included)")
    summary = {"search_p50_ms": round(float(np.percentile(total, 50)), 1), "chunks": store.count()}
    (STORE / "last.json").write_text(json.dumps(summary), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
