"""Questions on the seed article's topic that it does not answer, and what the decision does.

    python bench/neartopic.py

``bench/neartopic.jsonl``: 24 questions (12 Chinese, 12 English) written on 2026-12-02 after the
sure cut was fixed and never tuned on: who founded DeepSeek, V3's parameters, the ETF's fee,
the Stargate project's total, a forecast for 2025 the article does not make. The article names
their subjects (DeepSeek, the ETF, Stargate, Guosen Securities) and states none of the facts
asked. Each is asked of the seed store as the engine asks it offline: declined, answered with
the note that the excerpts may not answer it (``Verdict.sure`` false), or answered for sure,
which is the failure a reader meets. Online every one that is not declined goes to the model,
which reads the passages and is told to say when they do not cover the question.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from quality import CachedEmbedder, seed_store  # noqa: E402

from assistant.config import load_settings  # noqa: E402
from assistant.retrieval import Retriever  # noqa: E402

QUESTIONS = Path(__file__).with_name("neartopic.jsonl")


def main() -> int:
    print(f"load average at start: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    base = load_settings()
    embedder = CachedEmbedder()
    retriever = Retriever(seed_store(base, embedder), embedder)
    rows = [json.loads(line) for line in QUESTIONS.read_text("utf-8").splitlines() if line]
    outcomes: Counter[tuple[str, str]] = Counter()
    for row in rows:
        hits = retriever.search(row["question"], base.top_k)
        verdict = retriever.verdict(
            row["question"],
            hits,
            floor=base.relevance_floor,
            floor_other=base.relevance_floor_other,
        )
        outcome = "sure" if verdict.sure else "noted" if verdict.answers else "declined"
        outcomes[(row["lang"], outcome)] += 1
        print(f"{outcome:<9}{verdict.score:6.3f}  {row['question']}")
    for lang in ("zh", "en"):
        n = sum(v for (lg, _), v in outcomes.items() if lg == lang)
        shares = {o: outcomes[(lang, o)] / n for o in ("declined", "noted", "sure")}
        print(f"{lang}: " + ", ".join(f"{o} {s:.3f}" for o, s in shares.items()) + f" (n {n})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
