"""What the outcomes add up to (hit@k, MRR, latency, relevance signals) and how it is printed."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .running import K, Outcome

_HIT_AT = (1, 3, 5)


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
        f"seed {report['seed']}{', ' + report['half'] + ' half' if report.get('half') else ''}, "
        f"top {K}",
        *render_rows(report["rows"]),
    ]
    missed = report["missed_at_3"]
    lines.append(f"missed at 3 ({len(missed)}): {', '.join(missed[:20]) or 'none'}")
    if "signals" in report:
        lines += render_signals(report)
    return "\n".join(lines)
