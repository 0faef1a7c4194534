"""Retrieval and offline-answer quality on public QA sets and on our own seed questions.

    python -m assistant.eval DATASET [--limit N] [--seed S] [--cross-lingual CONTEXTS.json]
                                     [--offline-answers] [--offtopic FILE] [--components]
                                     [--half tune|held] [--json]

- A SQuAD v1 JSON (``../shared/eval-data/*.json``): every context becomes its own file
  (``c0000.txt`` …) in a cached knowledge folder, ingested by the real pipeline into a data
  directory beside it under ``bench/out/eval-<name>/<key>/``. The key hashes the contexts file,
  the chunk settings and the embedder, so a re-run embeds nothing. A hit is a retrieved chunk
  from the question's own context file.
- ``--cross-lingual OTHER.json`` asks DATASET's questions against OTHER's contexts, matched by
  question id (XQuAD: English questions, Chinese contexts); gold answers come from OTHER.
- A ``.jsonl`` seed set (``tests/fixtures/seed_questions.jsonl``) runs against the real knowledge
  folder; a hit is a retrieved chunk that contains one of the question's ``expect`` substrings.
  ``--offtopic FILE`` adds the relevance signals the engine's floor sees (best dense cosine,
  lexical weight) for on- and off-topic questions, per language, to tune the floor.

Retrieval goes through the engine's own ``Retriever`` (top 5); its latency is timed per call.
``--offline-answers`` also asks the real ``AnswerEngine`` without a model and counts answers
that contain a gold answer. ``--components`` adds dense-only and lexical-only rows (the same
candidates and near-copy filtering, without fusion) to show what fusion adds or costs.

``--half`` keeps one half of the (sampled) questions, split by a hash of the question id
(``datasets.half``): constants are tuned on "tune" and reported on "held".

Store keys are made relative to the knowledge folder's parent (ingest runs there), so a cache
stays valid whatever directory the harness is started from.
"""

from .datasets import (
    Case,
    Squad,
    cache_key,
    context_name,
    half,
    isolated,
    load_jsonl_cases,
    load_squad,
    open_synced,
    write_contexts,
)
from .figures import misses, rank_figures, render
from .harness import Options, evaluate, main
from .running import Outcome, Probes, engine_gate, run_cases

__all__ = [
    "Case",
    "Options",
    "Outcome",
    "Probes",
    "Squad",
    "cache_key",
    "context_name",
    "engine_gate",
    "evaluate",
    "half",
    "isolated",
    "load_jsonl_cases",
    "load_squad",
    "main",
    "misses",
    "open_synced",
    "rank_figures",
    "render",
    "run_cases",
    "write_contexts",
]
