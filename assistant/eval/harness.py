"""One evaluation end to end, and the ``python -m assistant.eval`` command."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import Settings, load_settings
from ..embeddings import Embedder
from ..errors import AssistantError
from ..store import KnowledgeStore
from .datasets import (
    Case,
    cache_key,
    cross_lingual,
    half,
    isolated,
    load_jsonl_cases,
    load_squad,
    open_synced,
    sample,
    write_contexts,
)
from .figures import misses, relevance_signals, render, report_rows
from .running import Probes, engine_gate, run_cases

if TYPE_CHECKING:
    from ..answer import AnswerEngine
    from ..retrieval import Retriever


# -- one evaluation ----------------------------------------------------------------------------


@dataclass
class Options:
    dataset: Path
    limit: int | None = None
    seed: int = 0
    cross_lingual: Path | None = None
    offline_answers: bool = False
    offtopic: Path | None = None
    components: bool = False
    half: str | None = None
    cache_dir: Path = Path("bench/out")


def _engine(settings: Settings, store: KnowledgeStore) -> tuple[Retriever, AnswerEngine]:
    from ..factory import build_engine

    engine = build_engine(settings, store=store, chat=None, check_model=False)
    return engine.retriever, engine


def _prepare(
    options: Options, base: Settings, embedder: Embedder | None
) -> tuple[Settings, list[Case], dict[str, Any]]:
    """Settings pointing at the (cached) store to evaluate, the cases and what the store holds."""
    name = embedder.name if embedder else base.embedder
    if options.dataset.suffix == ".jsonl":
        # The real knowledge folder; the incremental sync keeps the cached store in step with it.
        knowledge = base.knowledge_dir.resolve()
        root = options.cache_dir / "eval-seed" / cache_key(str(knowledge).encode(), base, name)
        return isolated(base, root / "data", knowledge), load_jsonl_cases(options.dataset), {}
    squad = load_squad(options.dataset)
    source = options.cross_lingual or options.dataset
    if options.cross_lingual:
        squad = cross_lingual(squad, load_squad(options.cross_lingual))
    root = options.cache_dir / f"eval-{source.stem}" / cache_key(source.read_bytes(), base, name)
    write_contexts(squad.contexts, root / "knowledge")
    info = {"contexts": source.name} if options.cross_lingual else {}
    return isolated(base, root / "data", root / "knowledge"), squad.cases, info


def evaluate(options: Options, base: Settings, embedder: Embedder | None = None) -> dict[str, Any]:
    """Run one evaluation and return its report (see ``render`` for the printed form)."""
    settings, cases, store_info = _prepare(options, base, embedder)
    store, ingest_s = open_synced(settings, embedder)
    retriever, engine = _engine(settings, store)
    chosen = sample(cases, options.limit, options.seed)
    if options.half:
        chosen = [case for case in chosen if half(case.qid) == options.half]
    gate = engine_gate(retriever, settings)
    engine_probe = engine if options.offline_answers else None
    outcomes = run_cases(retriever, chosen, Probes(engine_probe, options.components, gate))
    report: dict[str, Any] = {
        "dataset": options.dataset.name,
        **store_info,
        "documents": store.documents(),
        "chunks": store.count(),
        "ingest_s": round(ingest_s, 1),
        "questions": len(chosen),
        "of": len(cases),
        "seed": options.seed,
        "half": options.half,
        "rows": report_rows(outcomes),
        "missed_at_3": misses(outcomes),
    }
    if options.offtopic:
        off = run_cases(retriever, load_jsonl_cases(options.offtopic), Probes(gate=gate))
        report["floors"] = {"zh": settings.relevance_floor, "other": settings.relevance_floor_other}
        report["signals"] = relevance_signals(outcomes, off)
    return report


# -- the command -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m assistant.eval",
        description="Retrieval hit@k / MRR, latency and offline-answer quality on a SQuAD v1 "
        "JSON file or a .jsonl seed question set.",
    )
    parser.add_argument("dataset", type=Path, help="SQuAD v1 .json, or a .jsonl question set")
    parser.add_argument("--limit", type=int, help="ask a random sample of this many questions")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the sample")
    parser.add_argument(
        "--cross-lingual", type=Path, metavar="CONTEXTS.json",
        help="ask DATASET's questions against this file's contexts (matched by question id)",
    )  # fmt: skip
    parser.add_argument(
        "--offline-answers", action="store_true",
        help="also build each offline answer and count those that contain a gold answer",
    )  # fmt: skip
    parser.add_argument(
        "--offtopic", type=Path, metavar="FILE",
        help="with a seed set: off-topic questions, to compare the relevance signals",
    )  # fmt: skip
    parser.add_argument(
        "--components", action="store_true", help="add dense-only and lexical-only rows"
    )
    parser.add_argument(
        "--half", choices=("tune", "held"),
        help="only the questions of this half (fixed by a hash of the id; constants are tuned "
        "on 'tune', reported on 'held')",
    )  # fmt: skip
    parser.add_argument(
        "--cache-dir", type=Path, default=Path("bench/out"),
        help="where stores are cached between runs (default: bench/out)",
    )  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    settings: Settings | None = None,
    embedder: Embedder | None = None,
    out: Callable[[str], None] = print,
) -> int:
    args = build_parser().parse_args(argv)
    if args.offtopic and args.dataset.suffix != ".jsonl":
        print("--offtopic goes with a .jsonl seed question set.", file=sys.stderr)
        return 2
    files = (args.dataset, args.cross_lingual, args.offtopic)
    if missing := [str(p) for p in files if p and not p.exists()]:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    options = Options(**{f.name: getattr(args, f.name) for f in fields(Options)})
    try:
        report = evaluate(options, settings or load_settings(), embedder)
    except AssistantError as error:
        print(f"eval: {error}", file=sys.stderr)
        return 2
    out(json.dumps(report, ensure_ascii=False) if args.json else render(report))
    return 0
