"""Compliance engine figures: recall and false positives per category, and latency.

    python bench/compliance.py [--runs N] [--split all|batch7|SPLIT ...] [--model PATH]

Two sets. ``compliance_sentences.jsonl`` (287) was written alongside the rules. The fresh set,
``compliance_fresh.json`` (public-source phrasing), comes in batches, each split before any
measurement (see its ``about``): tune, heldout, heldout2, heldout3 by the first engineer;
batch4_tune and batch4_heldout (``batch4`` = both) by a second engineer who had not read the
rules; batch5_tune and batch5_heldout (``batch5``), written before the model beside the rules
existed (``assistant/compliance_model.py``); batch6_tune and batch6_heldout (``batch6``), written
before round 7 changed the rules or the model; batch7_tune and batch7_heldout (``batch7``),
written blind by a separate engineer and measured once on the rules and model frozen before it;
batch8_train, 400 sentences by a third engineer, training data only. Since the seventh pass the
rules were tuned on batch7_tune and batch8_train too and the model trains on every split but
batch7_heldout. batch9_tune and batch9_heldout (``batch9``, 200) and batch10_tune and
batch10_heldout (``batch10``, 400), written blind by a fourth and a fifth engineer after the
seventh pass froze; their tune halves are tuned and trained on since the ninth pass, their held
halves since the tenth. batch12_train, 385 sentences by a sixth engineer, training data only.
batch11_tune and batch11_heldout (``batch11``, 400), written blind during the tenth pass,
measured once whole on it frozen and its held half on the eleventh; its tune half is trained on.
batch13 (``batch13``), written blind during the twelfth pass and merged after it froze, and
batch14, written blind after the ``about`` rules (2026-12-01, fifth session), each measured once
whole, were cut by a hash of the text into batch13_tune / batch13_heldout and batch14_tune /
batch14_heldout before any sentence was read (thirteenth pass): the tune halves are tuned and
trained on, the held halves (with batch11_heldout) were the splits the model never trained on.
Since the fourteenth pass every one of them is training data, and batch15 (written blind during
it, merged after it froze; whole, or cut by the lead into batch15_tune / batch15_heldout) is the
only held-out split. ``--split all`` measures the splits the fixture has: a split named here that
it lacks (batch15 before it is merged) is left out, and ``--split batch15`` says it has no
sentences. Each split is measured with the rules alone
and with rules plus model. Recall for a category: share of its violations given a finding of
that category.
False positives for a category: share of the compliant sentences written close to its line
(``near``) given any finding at all. Latency: ``check_text`` on a 1,000-character answer built
from the seed article with a few violations mixed in, rules alone and with the model.
``--model`` measures the fresh set with another model file beside the rules (one trained with
``scripts/train_compliance_model.py --exclude batch8 --out PATH``, say) instead of the shipped one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.compliance import check_rules, check_text  # noqa: E402
from assistant.compliance_model import Model, load_model, model  # noqa: E402

MEASUREMENT_SET = ROOT / "tests" / "fixtures" / "compliance_sentences.jsonl"
FRESH_SET = ROOT / "tests" / "fixtures" / "compliance_fresh.json"
SEED = ROOT / "knowledge" / "000_bb0ece290725cdd0.txt"
SPLITS = (
    "tune",
    "heldout",
    "heldout2",
    "heldout3",
    "batch4_tune",
    "batch4_heldout",
    "batch5_tune",
    "batch5_heldout",
    "batch6_tune",
    "batch6_heldout",
    "batch7_tune",
    "batch7_heldout",
    "batch8_train",
    "batch9_tune",
    "batch9_heldout",
    "batch10_tune",
    "batch10_heldout",
    "batch11_tune",
    "batch11_heldout",
    "batch12_train",
    "batch13_tune",
    "batch13_heldout",
    "batch14_tune",
    "batch14_heldout",
    "batch15",
    "batch15_tune",
    "batch15_heldout",
)
# Each batch by name (every split of it): batch4 … batch15.
BATCHES = tuple(dict.fromkeys(s.split("_")[0] for s in SPLITS if s.startswith("batch")))


def quality() -> None:
    rows = [json.loads(line) for line in MEASUREMENT_SET.read_text("utf-8").splitlines() if line]
    labelled: Counter[str] = Counter()
    flagged: Counter[str] = Counter()
    hits: Counter[str] = Counter()
    fine = fine_flagged = 0
    for row in rows:
        found = {f.category for f in check_text(row["text"])}
        for category in found:
            flagged[category] += 1
        if row["category"] is None:
            fine += 1
            fine_flagged += bool(found)
        else:
            labelled[row["category"]] += 1
            hits[row["category"]] += row["category"] in found
    violations = sum(labelled.values())
    print(f"measurement set: {len(rows)} sentences, {violations} violations, {fine} fine")
    print(f"{'category':<22}{'n':>4}{'precision':>11}{'recall':>9}")
    for category in sorted(labelled | flagged):
        precision = hits[category] / flagged[category] if flagged[category] else float("nan")
        recall = hits[category] / labelled[category] if labelled[category] else float("nan")
        print(f"{category:<22}{labelled[category]:>4}{precision:>11.3f}{recall:>9.3f}")
    print(f"overall recall        {sum(hits.values()) / sum(labelled.values()):.3f}")
    print(f"false-positive rate   {fine_flagged / fine:.3f} ({fine_flagged}/{fine} fine sentences)")


def fresh(split: str, classifier: Model | None = None) -> None:
    """Recall and false positives per category: the rules alone, and rules plus the model (the
    shipped one, or ``classifier``)."""
    sentences = json.loads(FRESH_SET.read_text("utf-8"))["sentences"]
    rows = [r for r in sentences if r["split"] == split or r["split"].startswith(split + "_")]
    if not rows:
        print(f"fresh set, {split}: no sentences")
        return
    labelled: Counter[str] = Counter()
    near: Counter[str] = Counter()
    hits = {"rules": Counter[str](), "both": Counter[str]()}
    flagged = {"rules": Counter[str](), "both": Counter[str]()}
    for row in rows:
        found = {
            "rules": {f.category for f in check_rules(row["text"])},
            "both": {f.category for f in check_text(row["text"], classifier=classifier)},
        }
        for kind, categories in found.items():
            if row["category"] is None:
                flagged[kind][row["near"]] += bool(categories)
            else:
                hits[kind][row["category"]] += row["category"] in categories
        if row["category"] is None:
            near[row["near"]] += 1
        else:
            labelled[row["category"]] += 1
    en = sum(row["lang"] == "en" for row in rows)
    print(f"fresh set, {split}: {len(rows)} sentences ({en} English), ", end="")
    print(f"{sum(labelled.values())} violations, {sum(near.values())} compliant")
    print(f"{'':<22}{'rules alone':>24}{'rules + model':>26}")
    print(f"{'category':<22}{'recall':>10}{'false pos.':>14}{'recall':>12}{'false pos.':>14}  met")
    for category in sorted(labelled | near):
        line = f"{category:<22}"
        for kind in ("rules", "both"):
            width = 10 if kind == "rules" else 12
            line += f"{hits[kind][category]}/{labelled[category]:<3}".rjust(width)
            line += f"{flagged[kind][category]}/{near[category]:<3}".rjust(14)
        recall = hits["both"][category] / labelled[category] if labelled[category] else 1.0
        fp = flagged["both"][category] / near[category] if near[category] else 0.0
        print(line + ("  yes" if recall >= 0.95 and fp <= 0.05 else "  no"))
    for kind, name in (("rules", "rules alone"), ("both", "rules + model")):
        total_recall = sum(hits[kind].values()) / sum(labelled.values())
        total_fp = sum(flagged[kind].values()) / sum(near.values())
        print(f"{name:<14} overall recall {total_recall:.3f}; false-positive rate {total_fp:.3f}")


def answer_of_1000_chars() -> str:
    seed = SEED.read_text("utf-8").split("风险提示\n", 1)[0]
    extra = "本基金保本保收益，欲购从速！强烈推荐这只ETF。该基金近一年收益率为25%。"
    text = ""
    for index, line in enumerate(seed.splitlines()):
        text += line + "[1]\n" + (extra if index % 4 == 0 else "")
        if len(text) >= 1000:
            break
    return text[:1000]


def latency(runs: int) -> None:
    text = answer_of_1000_chars()
    check_text(text)  # load and compile the rules and the model outside the timing
    print(f"on {len(text)} chars ({len(check_text(text))} findings), {runs} runs:")
    # Wall time is what a user waits; CPU time shows the engine's own cost when the machine is busy.
    memory = model().memory
    checks = (
        ("check_rules (rules alone)", check_rules, False),
        ("check_text, sentences new to the model", check_text, True),
        ("check_text again (the final check after the gate's)", check_text, False),
    )
    for name, check, forget in checks:
        wall, cpu = [], []
        for _ in range(runs):
            if forget:
                memory.clear()
            start, start_cpu = time.perf_counter(), time.process_time()
            check(text)
            wall.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
        print(f"  {name}:")
        for kind, samples in (("wall", wall), ("cpu", cpu)):
            samples.sort()
            p95 = samples[min(len(samples) - 1, round(0.95 * len(samples)) - 1)]
            median = statistics.median(samples)
            print(f"    {kind:<5} median {median:.2f} ms, p95 {p95:.2f} ms (target < 5 ms)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=1000, help="timed runs (at least 500)")
    parser.add_argument(
        "--split",
        nargs="+",
        choices=[*SPLITS, *BATCHES, "all"],
        default=["all"],
        help="fresh-set splits to measure; batch4 ... batch15 = every split of that batch",
    )
    parser.add_argument(
        "--model", type=Path, help="a model file to use beside the rules on the fresh set"
    )
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    classifier = load_model(args.model.read_bytes()) if args.model else None
    if classifier is not None:
        print(f"fresh set measured with the model {args.model}")
    quality()
    present = {r["split"] for r in json.loads(FRESH_SET.read_text("utf-8"))["sentences"]}
    for split in [s for s in SPLITS if s in present] if "all" in args.split else args.split:
        fresh(split, classifier)
    latency(max(500, args.runs))
    print(f"load average at end: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
