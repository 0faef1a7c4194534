"""The audit trail out: rows as JSON lines or CSV, and the operator's tokens and cost per day.

JSON lines are the record verbatim. CSV is for spreadsheets, which run a cell that starts with
``=``, ``+``, ``-`` or ``@`` as a formula: a visitor who asks "=HYPERLINK(…)" must not plant a
live link (or worse) in the file a compliance officer opens. Such a text cell starts with an
apostrophe, which spreadsheets take as "this is text" and do not show (OWASP's CSV injection
advice); numbers are written as numbers.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, TextIO

from ..errors import InputError

# CSV columns, in order; nested values are JSON in their cell.
CSV_COLUMNS = (
    *("seq", "turn_id", "at", "kind", "parent_turn", "channel", "session", "audience"),
    *("outcome", "mode", "why", "model", "question", "history_turns", "standalone"),
    *("lexical_query", "retrieved", "streamed", "model_text", "answer", "citations", "record_of"),
    *("notices", "findings"),
    *("disclosure_ids", "disclosure", "calls", "intents", "conversation", "latency_ms"),
    *("prompt_tokens", "completion_tokens", "cache_hit_tokens", "cache_miss_tokens", "feedback"),
    *("prev_hash", "hash"),
)


def since_bound(value: str | None) -> str | None:
    """``--since`` (a date, or a date and time; UTC unless it says otherwise) as the ISO string
    the ``at`` column is compared with."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"--since {value!r} is not a date: use YYYY-MM-DD or YYYY-MM-DDTHH:MM."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def write_jsonl(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    count = 0
    for row in rows:
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(rows: Iterable[dict[str, Any]], out: TextIO) -> int:
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in CSV_COLUMNS])
        count += 1
    return count


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


@dataclass(frozen=True)
class Prices:
    """Per million tokens; DeepSeek bills prompt tokens served from its cache at a lower rate."""

    cache_hit: float
    cache_miss: float
    output: float
    currency: str


@dataclass
class CostLine:
    day: str
    model: str
    turns: int = 0
    requests: int = 0
    cache_hit_tokens: int = 0
    cache_miss_tokens: int = 0
    completion_tokens: int = 0

    def cost(self, prices: Prices) -> float:
        return (
            self.cache_hit_tokens * prices.cache_hit
            + self.cache_miss_tokens * prices.cache_miss
            + self.completion_tokens * prices.output
        ) / 1_000_000


def costs(rows: Iterable[dict[str, Any]]) -> list[CostLine]:
    """Tokens per day and model, from every model request each turn made."""
    lines: dict[tuple[str, str], CostLine] = {}
    for row in rows:
        counted: set[str] = set()
        for call in row.get("calls") or []:
            day, model = str(row["at"])[:10], str(call["model"])
            line = lines.setdefault((day, model), CostLine(day, model))
            if model not in counted:
                line.turns += 1
                counted.add(model)
            usage = call["usage"]
            hit = int(usage.get("prompt_cache_hit_tokens", 0))
            miss = int(usage.get("prompt_cache_miss_tokens", 0))
            if hit + miss == 0:  # a provider without cache counts: all prompt tokens are misses
                miss = int(usage.get("prompt_tokens", 0))
            line.requests += 1
            line.cache_hit_tokens += hit
            line.cache_miss_tokens += miss
            line.completion_tokens += int(usage.get("completion_tokens", 0))
    return sorted(lines.values(), key=lambda line: (line.day, line.model))


def cost_table(lines: list[CostLine], prices: Prices) -> Iterator[str]:
    header = (
        f"{'day':<10}  {'model':<20} {'turns':>6} {'requests':>8} {'cache hit':>10} "
        f"{'cache miss':>10} {'completion':>10} {'est. ' + prices.currency:>12}"
    )
    yield header
    yield "-" * len(header)
    total = 0.0
    for line in lines:
        cost = line.cost(prices)
        total += cost
        yield (
            f"{line.day:<10}  {line.model[:20]:<20} {line.turns:>6} {line.requests:>8} "
            f"{line.cache_hit_tokens:>10,} {line.cache_miss_tokens:>10,} "
            f"{line.completion_tokens:>10,} {cost:>12.4f}"
        )
    yield "-" * len(header)
    yield f"{'total':<10}  {'':<20} {'':>6} {'':>8} {'':>10} {'':>10} {'':>10} {total:>12.4f}"
    yield (
        f"Prices per million tokens: cache hit {prices.cache_hit:g}, cache miss "
        f"{prices.cache_miss:g}, output {prices.output:g} {prices.currency} "
        "(ASSISTANT_PRICE_*); an estimate, not the provider's bill."
    )


def cost_json(lines: list[CostLine], prices: Prices) -> dict[str, Any]:
    return {
        "currency": prices.currency,
        "prices_per_million": {
            "cache_hit": prices.cache_hit,
            "cache_miss": prices.cache_miss,
            "output": prices.output,
        },
        "days": [
            {
                "day": line.day,
                "model": line.model,
                "turns": line.turns,
                "requests": line.requests,
                "cache_hit_tokens": line.cache_hit_tokens,
                "cache_miss_tokens": line.cache_miss_tokens,
                "completion_tokens": line.completion_tokens,
                "estimated_cost": round(line.cost(prices), 6),
            }
            for line in lines
        ],
    }


def default_since(days: int = 30) -> str:
    today = date.today()
    return date.fromordinal(today.toordinal() - days).isoformat()
