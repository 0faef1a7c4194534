"""What the web faces are given: the engine (and through it the store and the audit trail)."""

from __future__ import annotations

from dataclasses import dataclass

from ..answer import AnswerEngine


@dataclass
class Services:
    engine: AnswerEngine
