"""The CPU each question costs in the app's own Python, and a check that a speed-up changed nothing.

    python bench/hotpath.py --record    # before a change: the outputs and timings, recorded
    python bench/hotpath.py             # after it: timings against the record, outputs compared
    python bench/hotpath.py --profile   # cProfile of the timed passes, the top 30 by own time

The store is the real one (``knowledge/`` through ``sync_knowledge`` into a temporary folder,
the real e5). The questions: the seed, held-out and off-topic sets, and variants of each
(traditional characters, a polite opening, a follow-up ending; an English one lower-cased or
introduced): 374 distinct ones.

Timed, CPU of this thread (``time.thread_time``) per question, in a first pass ("new": every
question asked for the first time, the caches of passages warming as it goes) and in further
passes ("again": every cache warm):

- ``offline``: ``AnswerEngine.ask`` with no key (validation, retrieval, excerpts, compliance,
  the audit row), first, so in the first pass the question is new to it;
- ``retrieval``: ``Retriever.search`` and ``relevance`` again, as the engine calls them;
- ``gate``: a model-like answer (the best passages' first sentences with markers, in deltas of
  four characters) through ``SentenceGate.feed``, as an online answer is checked.

The e5 query vectors are computed before the first pass and come from the embedder's cache in
every pass: e5 runs outside the interpreter lock and is not what this measures.

Compared, for every question: the retrieved ids and scores (to 1e-9), the dense, lexical and
evidence figures, the decision's score, the offline answer's text and the gate's text.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.answer import AnswerEngine  # noqa: E402
from assistant.config import Settings  # noqa: E402
from assistant.embeddings import E5Embedder  # noqa: E402
from assistant.factory import build_engine, build_store, sync_knowledge  # noqa: E402
from assistant.gate import SentenceGate  # noqa: E402
from assistant.prompts import prompt  # noqa: E402
from assistant.retrieval import Hit  # noqa: E402
from assistant.text import split_sentences  # noqa: E402

RECORD = ROOT / "bench" / "out" / "hotpath-record.json"
FIXTURES = ROOT / "tests" / "fixtures"


def questions() -> list[str]:
    import opencc

    to_traditional = opencc.OpenCC("s2t")
    base = []
    for name in ("seed_questions.jsonl", "heldout_questions.jsonl", "offtopic_questions.jsonl"):
        for line in (FIXTURES / name).read_text(encoding="utf-8").splitlines():
            if line.strip():
                case = json.loads(line)
                base.append((case["lang"], case["question"]))
    out: list[str] = []
    for lang, question in base:
        out.append(question)
        if lang == "zh":
            out += [
                to_traditional.convert(question),
                "请问，" + question,
                question.rstrip("？?") + "，能具体说说吗？",
            ]
        else:
            out += [question.lower(), "Could you tell me: " + question]
    return list(dict.fromkeys(out))


def model_like(hits: list[Hit]) -> list[str]:
    """An answer as a model streams it: two sentences of each best passage, with markers."""
    text = "".join(
        sentence.rstrip() + f"[{n}]"
        for n, hit in enumerate(hits[:3], 1)
        for sentence in split_sentences(hit.chunk.text)[:2]
    )
    return [text[i : i + 4] for i in range(0, len(text), 4)]


def one(engine: AnswerEngine, question: str, timings: dict[str, list[float]]) -> dict[str, Any]:
    settings = engine.settings
    start = time.thread_time()
    answer = engine.ask(question)  # first: in the first pass, the question is new to it
    middle = time.thread_time()
    retriever = engine.retriever.on(engine.store.snapshot())
    hits = retriever.search(question, settings.top_k)
    score = retriever.relevance(
        question,
        hits,
        floor=settings.relevance_floor,
        floor_other=settings.relevance_floor_other,
    )
    after = time.thread_time()
    gate = SentenceGate([h.chunk.text for h in hits], secrets=[prompt("system")])
    for delta in model_like(hits):
        gate.feed(delta)
    gate.close()
    end = time.thread_time()
    timings["offline"].append((middle - start) * 1000)
    timings["retrieval"].append((after - middle) * 1000)
    timings["gate"].append((end - after) * 1000)
    return {
        "question": question,
        "hits": [
            [
                h.chunk.chunk_id,
                round(h.score, 9),
                round(h.dense, 9),
                round(h.lexical, 9),
                [round(x, 9) for x in vars(h.evidence).values()],
                round(h.names, 9),
            ]
            for h in hits
        ],
        "decision": round(score, 9),
        "answer": answer.answer,
        "mode": answer.mode,
        "retrieved": [[r.chunk_id, round(r.score, 9)] for r in answer.retrieved],
        "gate": gate.text,
        "findings": len(gate.findings),
    }


def summary(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(values):6.2f} ms  p95 {p95:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--record", action="store_true", help="write the record (before a change)")
    parser.add_argument("--profile", action="store_true", help="cProfile the timed pass")
    parser.add_argument("--passes", type=int, default=2, help="timed passes (the median is kept)")
    parser.add_argument(
        "--engine",
        choices=("auto", "bundled"),
        default="auto",
        help="e5's engine (ASSISTANT_E5_ENGINE): compare the two with --record on one",
    )
    args = parser.parse_args()

    asked = questions()
    print(f"{len(asked)} questions; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        shutil.copytree(ROOT / "knowledge", tmp / "knowledge")
        settings = Settings(  # type: ignore[call-arg]
            _env_file=None,
            data_dir=tmp / "data",
            knowledge_dir=tmp / "knowledge",
            api_key=None,
            chroma_host=None,
        )
        embedder = E5Embedder(query_cache=4096, engine=args.engine)
        store = build_store(settings, embedder)
        cwd = Path.cwd()
        os.chdir(tmp)
        try:
            assert sync_knowledge(settings, store).ok
            engine = build_engine(settings, store=store)
            for question in asked:  # e5 first (its cache then answers), nothing else warmed
                engine.retriever.query_vector(engine.retriever.dense_text(question))
            profiler = cProfile.Profile() if args.profile else None
            per_pass = []
            outputs: list[dict[str, Any]] = []
            for n in range(1 + args.passes):
                timings: dict[str, list[float]] = {"retrieval": [], "offline": [], "gate": []}
                if profiler:
                    profiler.enable()
                got = [one(engine, q, timings) for q in asked]
                if profiler:
                    profiler.disable()
                assert n == 0 or got == outputs, "a question asked again answered differently"
                outputs = got
                per_pass.append(timings)
        finally:
            os.chdir(cwd)
    timings = {f"new {key}": values for key, values in per_pass[0].items()}
    timings.update(
        {
            f"again {key}": [
                statistics.median(p[key][i] for p in per_pass[1:]) for i in range(len(asked))
            ]
            for key in per_pass[0]
        }
    )
    for when in ("new", "again"):
        timings[f"{when} total"] = [
            sum(timings[f"{when} {key}"][i] for key in per_pass[0]) for i in range(len(asked))
        ]
    print(f"load average after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.record:
        RECORD.parent.mkdir(parents=True, exist_ok=True)
        RECORD.write_text(
            json.dumps({"outputs": outputs, "timings": timings}, ensure_ascii=False),
            encoding="utf-8",
        )
        for key, values in timings.items():
            print(f"{key:15s} {summary(values)}  (CPU per question, recorded)")
        print(f"recorded {len(outputs)} questions to {RECORD.relative_to(ROOT)}")
    else:
        record = json.loads(RECORD.read_text(encoding="utf-8"))
        before = record["outputs"]
        same = sum(a == b for a, b in zip(outputs, before, strict=True))
        for key, values in timings.items():
            print(f"{key:15s} before {summary(record['timings'][key])}   after {summary(values)}")
        print(f"identical: {same} of {len(before)}")
        for a, b in zip(outputs, before, strict=True):
            if a != b:
                print("differs:", a["question"])
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats("assistant", 45)


if __name__ == "__main__":
    main()
