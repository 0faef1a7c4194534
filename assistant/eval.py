"""Retrieval and offline-answer quality on public QA sets and on our own seed questions.

    python -m assistant.eval DATASET [--limit N] [--seed S] [--cross-lingual CONTEXTS.json]
                                     [--offline-answers] [--offtopic FILE] [--components] [--json]

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

Store keys are made relative to the knowledge folder's parent (ingest runs there), so a cache
stays valid whatever directory the harness is started from.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import random
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import Settings, load_settings
from .embeddings import Embedder
from .errors import AssistantError
from .factory import build_store, sync_knowledge
from .store import KnowledgeStore, StoredChunk

if TYPE_CHECKING:  # the engine side is imported when an evaluation runs, not at parse time
    from .answer import AnswerEngine
    from .retrieval import Hit, Retriever

K = 5
_HIT_AT = (1, 3, 5)
_WARMUP = "warm-up query 预热"


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
    return "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"


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


# -- running questions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    case: Case
    rank: int | None  # 1-based rank of the first relevant chunk in the top K; None = missed
    latency_ms: float
    best_dense: float  # what the engine compares with its relevance floor
    lexical_weight: float  # the lexical side's coverage for the text searched
    answered: bool | None = None  # the offline answer holds a gold answer (None = not checked)
    declined: bool | None = None  # the engine answered "not in the documents"
    accepted: bool | None = None  # the retriever's relevance rule let the question through
    ranks: dict[str, int | None] = field(default_factory=dict)  # per component (dense, lexical)


def first_relevant(case: Case, chunks: Iterable[StoredChunk]) -> int | None:
    return next((n for n, chunk in enumerate(chunks, start=1) if case.relevant(chunk)), None)


def normalise(text: str) -> str:
    """For answer matching: full-width forms folded (NFKC), whitespace dropped, lower case."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).lower()


def holds_answer(text: str, answers: Sequence[str]) -> bool:
    body = normalise(text)
    return any(normalise(a) in body for a in answers if normalise(a))


def _distinct(store: KnowledgeStore, ids: Sequence[str], k: int) -> list[StoredChunk]:
    """The first ``k`` chunks of ``ids`` without near-copies, as the retriever picks them."""
    from .retrieval import near_duplicate

    chosen: list[StoredChunk] = []
    for chunk in store.get(list(ids[: k * 3])):
        if not any(near_duplicate(chunk.text, other.text) for other in chosen):
            chosen.append(chunk)
        if len(chosen) == k:
            break
    return chosen


def searched_text(question: str) -> str:
    """What ``Retriever.search`` sends to both sides without a model: a question in another
    language gets the glossary's Chinese terms appended (mirrors the retriever; keep in step)."""
    from .retrieval import glossary_terms, is_chinese

    return question if is_chinese(question) else f"{question} {glossary_terms(question)}".strip()


def component_ranks(retriever: Retriever, case: Case) -> dict[str, int | None]:
    """Rank of the first relevant chunk by dense retrieval alone and by BM25 alone."""
    store = retriever.store
    n = max(retriever.candidates, K * 3)
    text = searched_text(case.question)
    dense = store.dense_search(retriever.query_vector(text), n)
    lexical = store.lexical().search(text, n)
    return {
        "dense": first_relevant(case, _distinct(store, [cid for cid, _ in dense], K)),
        "lexical": first_relevant(case, _distinct(store, [cid for cid, _ in lexical], K)),
    }


def _answer_checks(engine: AnswerEngine, case: Case) -> tuple[bool | None, bool]:
    answer = engine.ask(case.question, channel="eval")
    declined = not answer.citations
    return (holds_answer(answer.answer, case.answers) if case.answers else None), declined


Gate = Callable[[str, list["Hit"]], bool]


def engine_gate(retriever: Retriever, settings: Settings) -> Gate:
    """The engine's relevance rule with its configured floors."""

    def gate(question: str, hits: list[Hit]) -> bool:
        floors = {"floor": settings.relevance_floor, "floor_other": settings.relevance_floor_other}
        return retriever.relevant(question, hits, **floors)

    return gate


@dataclass(frozen=True)
class Probes:
    """What to measure besides the retriever's ranking and latency."""

    engine: AnswerEngine | None = None  # ask it for the offline answer
    components: bool = False  # rank by dense and by BM25 alone too
    gate: Gate | None = None  # apply the engine's relevance rule


def run_case(retriever: Retriever, case: Case, probes: Probes = Probes()) -> Outcome:
    started = time.perf_counter()
    hits = retriever.search(case.question, K)
    latency = (time.perf_counter() - started) * 1000
    engine = probes.engine
    answered, declined = _answer_checks(engine, case) if engine else (None, None)
    return Outcome(
        case=case,
        rank=first_relevant(case, (h.chunk for h in hits)),
        latency_ms=latency,
        best_dense=max((h.dense for h in hits), default=0.0),
        lexical_weight=retriever.lexical_weight(searched_text(case.question)),
        answered=answered,
        declined=declined,
        ranks=component_ranks(retriever, case) if probes.components else {},
        accepted=probes.gate(case.question, hits) if probes.gate else None,
    )


def run_cases(
    retriever: Retriever, cases: Sequence[Case], probes: Probes = Probes()
) -> list[Outcome]:
    """Every case through the retriever (after one untimed warm-up query)."""
    from tqdm import tqdm

    retriever.search(_WARMUP, K)
    return [
        run_case(retriever, case, probes)
        for case in tqdm(cases, desc="questions", disable=None, file=sys.stderr)
    ]


# -- figures -----------------------------------------------------------------------------------


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def _ms(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


def rank_figures(ranks: Sequence[int | None]) -> dict[str, float | None]:
    figures: dict[str, float | None] = {
        f"hit@{k}": _share([r is not None and r <= k for r in ranks]) for k in _HIT_AT
    }
    figures[f"mrr@{K}"] = round(sum(1 / r for r in ranks if r) / len(ranks), 4) if ranks else None
    return figures


def summarise(outcomes: Sequence[Outcome], component: str | None = None) -> dict[str, Any]:
    """hit@k, MRR, and (for the fused ranking) latency and the offline-answer shares."""
    ranks = [o.ranks.get(component) if component else o.rank for o in outcomes]
    row: dict[str, Any] = {"questions": len(outcomes), **rank_figures(ranks)}
    if component is None:
        latencies = [o.latency_ms for o in outcomes]
        row["p50_ms"], row["p95_ms"] = _ms(latencies, 50), _ms(latencies, 95)
        row["answer_has_gold"] = _share([o.answered for o in outcomes if o.answered is not None])
        row["declined"] = _share([o.declined for o in outcomes if o.declined is not None])
    return row


def report_rows(outcomes: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    """Rows by language (when there are several), overall, and per component when measured."""
    rows: dict[str, dict[str, Any]] = {}
    langs = sorted({o.case.lang for o in outcomes})
    if len(langs) > 1:
        for lang in langs:
            rows[lang] = summarise([o for o in outcomes if o.case.lang == lang])
    rows["hybrid"] = summarise(outcomes)
    for component in ("dense", "lexical"):
        if outcomes and component in outcomes[0].ranks:
            rows[f"{component} only"] = summarise(outcomes, component)
    return rows


def misses(outcomes: Sequence[Outcome], k: int = 3) -> list[str]:
    return [o.case.qid for o in outcomes if o.rank is None or o.rank > k]


def _signal(values: Sequence[float], name: str, stats: Sequence[tuple[str, int]]) -> dict[str, Any]:
    if not values:
        return {}
    return {f"{name}_{label}": round(float(np.percentile(values, q)), 3) for label, q in stats}


def _scored(outcome: Outcome) -> str:
    return f"{outcome.case.qid} ({outcome.best_dense:.3f}/{outcome.lexical_weight:.2f})"


def relevance_signals(on: Sequence[Outcome], off: Sequence[Outcome]) -> dict[str, dict[str, Any]]:
    """Per language: where on-topic questions' signals start and off-topic ones' end."""
    low, high = (
        (("min", 0), ("p10", 10), ("median", 50)),
        (("max", 100), ("p90", 90), ("median", 50)),
    )
    table: dict[str, dict[str, Any]] = {}
    for lang in sorted({o.case.lang for o in [*on, *off]}):
        ons = [o for o in on if o.case.lang == lang]
        offs = [o for o in off if o.case.lang == lang]
        row: dict[str, Any] = {"on": len(ons), "off": len(offs)}
        for signal in ("best_dense", "lexical_weight"):
            row[signal] = {
                **_signal([getattr(o, signal) for o in ons], "on", low),
                **_signal([getattr(o, signal) for o in offs], "off", high),
            }
        row["declined_on"] = [_scored(o) for o in ons if o.accepted is False]
        row["answered_off"] = [_scored(o) for o in offs if o.accepted]
        table[lang] = row
    return table


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
    cache_dir: Path = Path("bench/out")


def _engine(settings: Settings, store: KnowledgeStore) -> tuple[Retriever, AnswerEngine]:
    from .factory import build_engine

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
        "rows": report_rows(outcomes),
        "missed_at_3": misses(outcomes),
    }
    if options.offtopic:
        off = run_cases(retriever, load_jsonl_cases(options.offtopic), Probes(gate=gate))
        report["floors"] = {"zh": settings.relevance_floor, "other": settings.relevance_floor_other}
        report["signals"] = relevance_signals(outcomes, off)
    return report


# -- printing ----------------------------------------------------------------------------------

_COLUMNS = (
    ("n", "questions", "{:>5}"),
    ("hit@1", "hit@1", "{:>6.3f}"),
    ("hit@3", "hit@3", "{:>6.3f}"),
    ("hit@5", "hit@5", "{:>6.3f}"),
    ("MRR@5", "mrr@5", "{:>6.3f}"),
    ("gold", "answer_has_gold", "{:>6.3f}"),
    ("decl.", "declined", "{:>6.3f}"),
    ("p50 ms", "p50_ms", "{:>7.1f}"),
    ("p95 ms", "p95_ms", "{:>7.1f}"),
)


def _cell(fmt: str, value: object) -> str:
    width = int(re.sub(r"\D", "", fmt.split(".")[0]) or 0)
    return fmt.format(value) if value is not None else " " * (width - 1) + "-"


def render_rows(rows: dict[str, dict[str, Any]]) -> list[str]:
    header = f"{'':<13}" + " ".join(f"{title:>{len(fmt.format(0))}}" for title, _, fmt in _COLUMNS)
    lines = [header]
    for label, row in rows.items():
        cells = " ".join(_cell(fmt, row.get(key)) for _, key, fmt in _COLUMNS)
        lines.append(f"{label:<13}{cells}")
    return lines


_SIDES = (("on", ("min", "p10", "median")), ("off", ("max", "p90", "median")))


def _joined(values: dict[str, float], side: str, stats: Sequence[str]) -> str:
    return "/".join(f"{values.get(f'{side}_{s}', float('nan')):.3f}" for s in stats)


def render_signals(report: dict[str, Any]) -> list[str]:
    floors = report["floors"]
    lines = [
        "relevance signals (on-topic low end | off-topic high end); engine floors "
        f"zh {floors['zh']}, other {floors['other']}; (best dense/lexical weight):"
    ]
    for lang, row in report["signals"].items():
        for signal in ("best_dense", "lexical_weight"):
            on, off = (_joined(row[signal], side, stats) for side, stats in _SIDES)
            lines.append(f"  {lang} {signal:<14} on min/p10/med {on} | off max/p90/med {off}")
        for label, key, total in (("on-topic declined", "declined_on", row["on"]),
                                  ("off-topic answered", "answered_off", row["off"])):  # fmt: skip
            lines.append(f"  {lang} {label} {len(row[key])}/{total}: {', '.join(row[key])}")
    return lines


def render(report: dict[str, Any]) -> str:
    source = f" against {report['contexts']}" if report.get("contexts") else ""
    lines = [
        f"{report['dataset']}{source}: {report['documents']} documents, {report['chunks']} chunks "
        f"(sync {report['ingest_s']} s); {report['questions']} of {report['of']} questions, "
        f"seed {report['seed']}, top {K}",
        *render_rows(report["rows"]),
    ]
    missed = report["missed_at_3"]
    lines.append(f"missed at 3 ({len(missed)}): {', '.join(missed[:20]) or 'none'}")
    if "signals" in report:
        lines += render_signals(report)
    return "\n".join(lines)


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


if __name__ == "__main__":
    sys.exit(main())
