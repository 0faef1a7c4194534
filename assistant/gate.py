"""The gate between the model's stream and the reader: whole sentences, checked, then shown.

Deltas are buffered until a sentence is complete (``text.sentence_spans``, the rule every
stage shares: the sentence is done once the next one has begun). Each sentence then has its citation markers
normalised (out-of-range ones dropped, a missing one repaired when one source clearly
supports the sentence) and renumbered in order of first use, and it is compliance-checked:
a sentence with a blocking finding, or one that echoes the system prompt, is never emitted;
nor is one the caller withholds (``withhold``: an advisor's draft restating the client's
particulars, ``particulars``).
Nor is a sentence in which the model speaks for the risk disclosure: one that opens with its
heading ("风险提示：无。") or names it citing nothing ("好的，不再附加风险提示。", "no disclaimer
needed"). The disclosure is code's to attach, verbatim; the model is told not to write it, and a
reader would take its words for the fund's.
So nothing is shown that has not passed the checks, even while streaming.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .citations import normalise_markers
from .compliance import Finding, check_text
from .text import MAY_END, near_duplicate, sentence_spans

# What may still grow into a citation marker that belongs to the sentence before it ("[", "[1,").
_MARKER_START = re.compile(r"\s*[\[【［]\^?\d{0,3}(?:\s*[,，、]\s*\d{0,3})*")


def _complete(buffer: str) -> int:
    """Where the buffer's first sentence ends (``text.sentence_spans``), once the next one has
    begun; 0 while it may still grow (no next sentence yet, or a marker still arriving). A
    buffer with nowhere a sentence can end is not split again: most deltas are such."""
    if not MAY_END.search(buffer):
        return 0
    spans = sentence_spans(buffer)
    if len(spans) < 2 or _MARKER_START.fullmatch(buffer, spans[0][1]):
        return 0
    return spans[1][0]


# The disclosure's names, in both scripts and English; as a heading: at the start, then a colon.
_DISCLOSURE = (
    r"风险(?:提示|揭示书?)|風險(?:提示|揭示書?)|免责声明|免責聲明"
    r"|(?i:disclaimers?|risk (?:disclosures?|warnings?))"
)
_NAMES_DISCLOSURE = re.compile(_DISCLOSURE)
_AS_HEADING = re.compile(rf"^[\s#*>|—-]*(?:{_DISCLOSURE})[\s*]*(?:[:：]|$)")


# A Markdown rule (---, ***) alone: the model closing its answer as our sources and disclosure
# open below it (on /v1 after a rule of our own), with nothing of its own to say.
_RULE = re.compile(r"\s*(?:[-*_—=]\s*){3,}")


def speaks_for_the_disclosure(plain: str, cited: bool) -> bool:
    """Whether a model's sentence (markers removed) writes the disclosure or talks about it."""
    return bool(_AS_HEADING.match(plain)) or (not cited and bool(_NAMES_DISCLOSURE.search(plain)))


_TERMINAL = re.compile(r"([。！？；!?;.]+[”’」』）)]*)\s*$")


class SentenceGate:
    def __init__(
        self,
        sources: Sequence[str],
        secrets: Sequence[str] = (),
        withhold: Callable[[str], bool] | None = None,
    ) -> None:
        self.sources = list(sources)
        self.secrets = [
            line.strip() for s in secrets for line in s.splitlines() if len(line.strip()) >= 16
        ]
        self.withhold = withhold
        self.findings: list[Finding] = []
        self.removed = 0
        self.withheld = 0  # sentences ``withhold`` kept back (their own notice, not ``removed``'s)
        self.mapping: dict[int, int] = {}  # shown number -> source number (1-based)
        self._reverse: dict[int, int] = {}
        self._buffer = ""
        self._shown: list[str] = []

    @property
    def text(self) -> str:
        return "".join(self._shown).strip()

    def feed(self, delta: str) -> list[str]:
        self._buffer += delta
        out = []
        while end := _complete(self._buffer):
            sentence, self._buffer = self._buffer[:end], self._buffer[end:]
            out.extend(self._admit(sentence))
        return out

    def close(self) -> list[str]:
        rest, self._buffer = self._buffer, ""
        return self._admit(rest) if rest.strip() else []

    def _admit(self, sentence: str) -> list[str]:
        sentence = normalise_markers(sentence, len(self.sources))
        plain = re.sub(r"\[\d+\]", "", sentence)
        if _RULE.fullmatch(plain):
            return []
        if any(secret in plain for secret in self.secrets):
            self.removed += 1
            return []
        if self.withhold is not None and self.withhold(plain):
            self.withheld += 1
            return []
        findings = check_text(plain.strip(), scope="answer")
        self.findings.extend(findings)
        if any(f.severity == "block" for f in findings):
            self.removed += 1
            return []
        cited = bool(re.search(r"\[\d+\]", sentence))
        if speaks_for_the_disclosure(plain.strip(), cited):
            self.removed += 1
            return []
        if not cited:
            sentence = self._repair(sentence, plain)
        sentence = re.sub(r"\[(\d+)\]", self._renumber, sentence)
        self._shown.append(sentence)
        return [sentence]

    def _repair(self, sentence: str, plain: str) -> str:
        """Attach the one source that clearly contains a marker-less claim."""
        claim = plain.strip()
        if len(re.sub(r"\W", "", claim)) < 12:
            return sentence
        supporting = [
            n for n, text in enumerate(self.sources, 1) if near_duplicate(claim, text, 0.6)
        ]
        if len(supporting) != 1:
            return sentence
        marker = f"[{supporting[0]}]"
        terminal = _TERMINAL.search(sentence.rstrip("\n"))
        if terminal:
            at = terminal.start()
            return sentence[:at] + marker + sentence[at:]
        return sentence.rstrip() + marker + ("\n" if sentence.endswith("\n") else "")

    def _renumber(self, match: re.Match[str]) -> str:
        source = int(match.group(1))
        if source not in self._reverse:
            self._reverse[source] = len(self._reverse) + 1
            self.mapping[self._reverse[source]] = source
        return f"[{self._reverse[source]}]"
