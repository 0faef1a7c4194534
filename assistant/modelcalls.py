"""What one request to a chat model cost and how it went, kept per request.

The caller owns a ``ModelCall`` list for each request it makes (the engine: one per turn and
stage) and the model appends to it, so two answers streaming at once never see each other's
token counts, as they did when usage was one attribute of the shared model object. The audit
trail and the operator's cost report read these records; this module imports nothing heavy so
that ``python -m assistant audit`` need not load the model client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# DeepSeek adds the prompt-cache counts to the usual three (hits are billed at a lower rate).
USAGE_FIELDS = (
    *("prompt_tokens", "completion_tokens", "total_tokens"),
    *("prompt_cache_hit_tokens", "prompt_cache_miss_tokens"),
)


@dataclass
class Usage:
    """Token counts as the provider reported them (zero when it reported none)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    prompt_cache_hit_tokens: int = 0
    prompt_cache_miss_tokens: int = 0

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> Usage:
        """The counts of a provider's ``usage`` object; unknown or missing fields are ignored."""
        return cls(**{k: int(report[k]) for k in USAGE_FIELDS if report.get(k) is not None})

    def add(self, other: Usage) -> None:
        for name in USAGE_FIELDS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in USAGE_FIELDS}


@dataclass
class ModelCall:
    """One request to one endpoint, retries included: filled in by the model as it goes.

    ``outcome`` is ``"ok"``, the kind of the ``ModelUnavailableError`` that ended it, or
    ``"closed"`` when the caller stopped reading first. ``failures`` lists each failed attempt
    in order (``"503 overloaded"``, ``"timeout"``, …), including the ones a retry cured.
    """

    model: str
    endpoint: str = "primary"  # "primary" or "fallback"; never the URL (it may hold a password)
    attempts: int = 0
    failures: list[str] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    outcome: str = "pending"
    first_token_ms: float | None = None
    elapsed_ms: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def total_usage(calls: list[ModelCall]) -> Usage:
    usage = Usage()
    for call in calls:
        usage.add(call.usage)
    return usage
