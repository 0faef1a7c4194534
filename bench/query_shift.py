"""Estimate e5's English→Chinese query shift and measure it on questions it was not estimated from.

    python bench/query_shift.py [--write]

A multilingual encoder keeps a per-language offset in its vectors: English questions sit in
one region, Chinese questions in another, and a Chinese passage is nearer to the Chinese
phrasing of a question than to the English one. Adding the difference of the two languages'
mean question vectors to an English question's vector ("language centring") removes most of
that offset. XQuAD asks the same 1,190 questions in English and Chinese:

1. The shift is the mean e5 query vector of the Chinese questions minus that of the English
   ones, over the even-numbered questions only.
2. The odd-numbered English questions are searched, dense only, against the chunks of the
   Chinese contexts, with and without the shift (and, for reference, their Chinese versions):
   hit@1, hit@5 and the median best cosine.

``--write`` saves the shift to ``assistant/resources/e5_query_shift.npy``, which the retriever
adds to every non-Chinese question when the store was built by e5.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import load_settings  # noqa: E402
from assistant.embeddings import QUERY_SHIFT_FILE, E5Embedder  # noqa: E402
from assistant.eval import (  # noqa: E402
    cache_key,
    isolated,
    load_squad,
    open_synced,
    write_contexts,
)

DATA = ROOT.parent / "shared" / "eval-data"


def unit(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=-1, keepdims=True)


def dense_figures(
    questions: np.ndarray, gold: Sequence[str], chunks: np.ndarray, owners: Sequence[str]
) -> str:
    """hit@1, hit@5 (by context) and the median best cosine of ``questions`` over ``chunks``."""
    scores = unit(questions) @ chunks.T
    hit1 = hit5 = 0
    for row, context in zip(scores, gold, strict=True):
        ranked = list(dict.fromkeys(owners[j] for j in np.argsort(-row)))
        hit1 += ranked[0] == context
        hit5 += context in ranked[:5]
    n = len(gold)
    return f"hit@1 {hit1 / n:.3f}  hit@5 {hit5 / n:.3f}  median best cosine {np.median(scores.max(1)):.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--write", action="store_true", help=f"save the shift to {QUERY_SHIFT_FILE}"
    )
    args = parser.parse_args(argv)

    zh, en = load_squad(DATA / "xquad.zh.json"), load_squad(DATA / "xquad.en.json")
    chinese = {case.qid: case for case in zh.cases}
    pairs = [(case, chinese[case.qid]) for case in en.cases if case.qid in chinese]
    embedder = E5Embedder()
    print(f"embedding {len(pairs)} question pairs …", file=sys.stderr)
    english = np.array([embedder.embed_query(e.question) for e, _ in pairs])
    chinese_q = np.array([embedder.embed_query(z.question) for _, z in pairs])
    estimate = np.arange(len(pairs)) % 2 == 0
    shift = (chinese_q[estimate].mean(0) - english[estimate].mean(0)).astype(np.float32)

    base = load_settings()
    source = DATA / "xquad.zh.json"
    root = (
        ROOT
        / "bench"
        / "out"
        / "eval-xquad.zh"
        / cache_key(source.read_bytes(), base, embedder.name)
    )
    write_contexts(zh.contexts, root / "knowledge")
    store, _ = open_synced(isolated(base, root / "data", root / "knowledge"), embedder)
    held = store.snapshot().collection.get(include=["embeddings", "metadatas"])
    chunks = np.asarray(held["embeddings"], dtype=np.float32)
    owners = [Path(str(m["path"])).stem for m in held["metadatas"]]

    test = ~estimate
    gold = [str(pairs[i][1].context) for i in np.flatnonzero(test)]
    print(f"shift estimated on {estimate.sum()} pairs; norm {np.linalg.norm(shift):.3f}")
    print(
        f"held-out {test.sum()} English questions → Chinese contexts ({len(chunks)} chunks), dense only:"
    )
    print(f"  as asked:        {dense_figures(english[test], gold, chunks, owners)}")
    print(f"  with the shift:  {dense_figures(english[test] + shift, gold, chunks, owners)}")
    print(f"  Chinese version: {dense_figures(chinese_q[test], gold, chunks, owners)}")
    if args.write:
        np.save(QUERY_SHIFT_FILE, shift)
        print(f"wrote {QUERY_SHIFT_FILE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
