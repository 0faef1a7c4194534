"""What the web faces are given: the engine (and through it the store and the audit trail), and
the argument maps built on it (one instance, so every face shares its kept maps)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..answer import AnswerEngine
from ..thesis import ThesisService


@dataclass
class Services:
    engine: AnswerEngine
    thesis: ThesisService = field(init=False)

    def __post_init__(self) -> None:
        self.thesis = ThesisService(self.engine)
