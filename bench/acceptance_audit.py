"""What the "false acceptance" figures count: are the accepted unanswerable questions unanswerable?

    python bench/acceptance_audit.py [--list]

The unanswerable sets of ``bench/quality.py`` are one encyclopedia's questions asked of another
encyclopedia's store (CMRC → XQuAD, XQuAD zh and en → CMRC) and our off-topic questions. Both
encyclopedias are Chinese Wikipedia, so a question counted as falsely accepted may in fact be
answered by a passage of the other one. This lists, for the held halves and the shipped decision
(offline: accepted at 0.5), every unanswerable question accepted, with what the offline answer
shows: the excerpts it quotes and the passages it quotes from (``AnswerEngine._excerpts``: the
engine's search, ``select_sentences`` over the first three hits). It also lists a sample of the
refused ones (label noise cuts both ways). ``--list`` writes them to
``bench/out/acceptance-audit.jsonl`` for reading.

The judgements are a fixture, ``bench/acceptance_labels.jsonl`` (one line per judged
question: qid, set, decision, label, reason), written by reading the question and what is shown:
``answered`` (the excerpts or the three passages state the fact asked for: a reader gets it),
``partly`` (they are about the thing asked, the same person, place, event or idea, and do not
state it), ``unrelated`` (another subject that shares words or a kind of thing with the
question: another architect, another Gandhi); for a refused question, ``answered`` or ``not
answered``. Judged per set: the first ``SAMPLE`` accepted questions (all when fewer) and the
first ``REFUSED`` refused ones, in the order below.

Printed per set: the raw false acceptance, the shares of the judged accepted questions labelled
answered / partly / unrelated, and the false acceptance once the answered ones are removed, with
a 95% Wilson interval: over the set's questions when every accepted one was judged; else the
product of the raw rate's and the not-answered share's intervals (both uncertainties, so wider
than a 95% interval, never narrower). Then how many of the judged refused ones the shown
passages answer. The judged questions of a set are the first ones, accepted or refused, in a
fixed random order of the whole set (seed 0), so a change to the decision keeps the labels that
still apply and asks only for the new ones (printed as unjudged).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quality import (
    OUT,
    ROOT,
    STORE_OF,
    CachedEmbedder,
    Decision,
    K,
    Probe,
    Retrievers,
    cached_probes,
    decision_score,
    shipped_constants,
)

from assistant.config import load_settings
from assistant.eval.datasets import half
from assistant.eval.running import holds_answer
from assistant.extractive import LIMIT, render, select_sentences

LABELS = ROOT / "bench" / "acceptance_labels.jsonl"
LISTING = OUT / "acceptance-audit.jsonl"
SETS = ("cmrc→xquad", "xquad-zh→cmrc", "xquad-en→cmrc", "offtopic")
SAMPLE = 60  # accepted questions judged per set (all when fewer)
REFUSED = 20  # refused questions judged per set
KINDS = ("answered", "partly", "unrelated")


@dataclass
class Asked:
    probe: Probe
    score: float

    @property
    def qid(self) -> str:
        return self.probe.case.qid

    @property
    def accepted(self) -> bool:
        return self.score >= 0.5


def judged(items: Sequence[Asked], n: int, order: dict[str, int]) -> list[Asked]:
    """The first ``n`` of ``items`` in the set's fixed order (``shuffled``): all when fewer."""
    return sorted(items, key=lambda a: order[a.qid])[:n]


def shuffled(items: Sequence[Asked]) -> dict[str, int]:
    """Each question's place in its set's fixed random order (seed 0 over the sorted ids). The
    order does not depend on the decision, so another decision's sample keeps the questions
    judged before that it still accepts (or refuses), and only the new ones need a label."""
    ids = sorted(a.qid for a in items)
    random.Random(0).shuffle(ids)
    return {qid: i for i, qid in enumerate(ids)}


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of ``k`` in ``n``."""
    if not n:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - spread), min(1.0, centre + spread)


def shown(retrievers: Retrievers, a: Asked) -> dict[str, Any]:
    """What the offline answer shows for the question: its excerpts and the passages quoted from."""
    retriever = retrievers[STORE_OF[a.probe.set]]
    question = a.probe.case.question
    hits = retriever.search(question, K)
    searched = retriever.searched_text(question)
    excerpts = select_sentences(
        searched, hits, retriever.store.lexical().idf, limit=LIMIT,
        likeness=retriever.likeness(question),
    )  # fmt: skip
    quoted, _ = render(excerpts)
    answers = list(a.probe.case.answers)  # the gold answers in the question's own corpus
    return {
        "qid": a.qid,
        "set": a.probe.set,
        "decision": "accepted" if a.accepted else "refused",
        "score": round(a.score, 3),
        "question": question,
        "own_answers": answers,
        "excerpt": quoted,
        "own_answer_shown": bool(answers) and holds_answer(quoted, answers),
        "passages": [passage(h.chunk.path, h.chunk.text, answers) for h in hits[:3]],
    }


def passage(path: str, text: str, answers: Sequence[str]) -> dict[str, Any]:
    """A passage as listed: its file, its text, whether it holds the question's own answer."""
    return {"path": Path(path).stem, "text": text, "own_answer": holds_answer(text, answers)}


def table(asked: dict[str, list[Asked]], labels: dict[tuple[str, str], dict[str, str]]) -> None:
    print(
        f"{'set':<14} {'n':>4} {'raw FA':>12} {'judged':>6} {'answered':>8} {'partly':>7} "
        f"{'unrelated':>9} {'FA less answered (95%)':>26} {'refused: answered':>18}"
    )
    for set_name in SETS:
        items = asked[set_name]
        n = len(items)
        order = shuffled(items)
        accepted = [a for a in items if a.accepted]
        sample = judged(accepted, SAMPLE, order)
        got = [labels.get((set_name, a.qid), {}).get("label") for a in sample]
        counts = Counter(got)
        missing = sum(g not in KINDS for g in got)
        m = len(sample) - missing
        raw = len(accepted) / n
        share = {kind: counts[kind] / m if m else 0.0 for kind in KINDS}
        kept = m - counts["answered"]
        if len(sample) == len(accepted):  # every accepted one judged: an interval over the set
            low, high = wilson(kept, n)
            adjusted = kept / n
        else:  # the raw rate's interval times the kept share's: wider than 95%, not narrower
            (raw_low, raw_high), (kept_low, kept_high) = wilson(len(accepted), n), wilson(kept, m)
            low, high = raw_low * kept_low, raw_high * kept_high
            adjusted = raw * kept / m if m else raw
        refused = judged([a for a in items if not a.accepted], REFUSED, order)
        refused_labels = [labels.get((set_name, a.qid), {}).get("label") for a in refused]
        missing += refused_labels.count(None)
        print(
            f"{set_name:<14} {n:>4} {raw:>6.3f} ({len(accepted):>3}) {m:>6} "
            f"{share['answered']:>8.3f} {share['partly']:>7.3f} {share['unrelated']:>9.3f} "
            f"{adjusted:>9.3f} [{low:.3f}, {high:.3f}]      "
            f"{refused_labels.count('answered'):>3} of {len(refused)}"
            + (f"  ({missing} unjudged)" if missing else "")
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/acceptance_audit.py")
    parser.add_argument("--list", action="store_true", help=f"write what is shown to {LISTING}")
    args = parser.parse_args(argv)
    base = load_settings()
    floors = {"zh": base.relevance_floor, "other": base.relevance_floor_other}
    retrievers = Retrievers(base, CachedEmbedder())
    probes = [p for p in cached_probes(retrievers) if p.set in SETS and half(p.case.qid) == "held"]
    decision = Decision(retrievers, floors)
    w, betas, read = shipped_constants()
    asked: dict[str, list[Asked]] = {s: [] for s in SETS}
    for p in probes:
        asked[p.set].append(Asked(p, decision_score(p, w, betas, read, decision)))
    if args.list:
        with LISTING.open("w", encoding="utf-8") as out:
            for items in asked.values():
                order = shuffled(items)
                accepted = [a for a in items if a.accepted]
                chosen = {a.qid for a in judged(accepted, SAMPLE, order)}
                refused = judged([a for a in items if not a.accepted], REFUSED, order)
                for a in [*accepted, *refused]:
                    row = shown(retrievers, a) | {"judged": a.qid in chosen or not a.accepted}
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"wrote {LISTING}", file=sys.stderr)
    labels = {}
    if LABELS.is_file():
        for line in LABELS.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                labels[(row["set"], row["qid"])] = row
    table(asked, labels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
