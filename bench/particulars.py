"""A client's circumstances in words: how often a draft sentence restating them is missed, and
how often one that does not is caught (``assistant.particulars``).

    python bench/particulars.py [--split NAME] [--show]

``tests/fixtures/particulars_labelled.jsonl``: an advisor's topic and a draft sentence, labelled
restates or not (retirement, health, family, work, money, housing and place, in Chinese and
English, beside sentences that state what the sources say of investors, risk tolerance, savings
and 养老 products), all written on 2026-12-02 by the engineer who wrote the lexicon, in four
halves cut by topic when they were written:

- ``tune`` and ``held`` (20 topics, 86 sentences), written before the detector; the first
  lexicon was written against ``tune``, but by the same hand in the same hour, so ``held`` is
  no blind figure.
- ``held2`` (9 topics, 37 sentences), written after the first lexicon froze and measured once
  (missed 7/19, caught wrongly 0/18); the second pass was tuned on it, so it is a tune half now.
- ``held3`` (10 topics, 39 sentences), written after the second pass froze and never tuned on:
  the figure to quote.

The sources are the seed article's text and record, plus a row's ``source`` passage where it has
one (a 养老 product, or pension money, the sources describe).

Missed: share of the restating sentences not caught (the client's circumstances reach the file).
Caught wrongly: share of the others caught (a sentence of the sources' that the advisor cannot
export, or the engine withholds from a model's draft).
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant import particulars  # noqa: E402
from assistant.snapshot import StoredChunk  # noqa: E402

LABELLED = ROOT / "tests" / "fixtures" / "particulars_labelled.jsonl"


def seed() -> StoredChunk:
    """The seed article as one passage, with its record (``particulars.of`` reads text, date and
    products)."""
    text = next((ROOT / "knowledge").glob("000_*.txt"))
    meta = tomllib.loads(text.with_suffix(".meta.toml").read_text("utf-8"))
    record = {"published": meta["published"], "products": "；".join(meta["products"])}
    return StoredChunk("seed", text.read_text("utf-8"), record)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--split", help="tune, held, held2, held3 (default: each in turn)")
    parser.add_argument("--show", action="store_true", help="print each error")
    args = parser.parse_args(argv)
    rows = [json.loads(line) for line in LABELLED.read_text("utf-8").splitlines() if line]
    splits = [args.split] if args.split else list(dict.fromkeys(r["split"] for r in rows))
    for split in splits:
        measure(split, [r for r in rows if r["split"] == split], args.show)
    return 0


def measure(split: str, rows: list[dict[str, Any]], show: bool) -> None:
    """Print the two error rates of ``rows`` (and each error, with ``show``)."""
    article = seed()
    missed = wrongly = restating = others = 0
    for row in rows:
        sources = [article, *([StoredChunk("row", row["source"], {})] if "source" in row else [])]
        caught = particulars.of(row["topic"], sources).restated(row["sentence"])
        if row["restates"]:
            restating += 1
            missed += not caught
        else:
            others += 1
            wrongly += caught
        if show and caught != row["restates"]:
            print(
                f"{'missed' if row['restates'] else 'caught'}: {row['sentence']}  <- {row['topic']}"
            )
    topics = len({r["topic"] for r in rows})
    print(f"split {split}: {topics} topics, {restating} restating sentences, {others} others")
    print(
        f"missed (restating, not caught):  {missed}/{restating} = {missed / max(restating, 1):.1%}"
    )
    print(f"caught wrongly (others caught):  {wrongly}/{others} = {wrongly / max(others, 1):.1%}")


if __name__ == "__main__":
    raise SystemExit(main())
