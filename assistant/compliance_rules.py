"""The compliance rule table: ``resources/compliance_rules.toml`` parsed, validated and compiled once.

The table is data so that compliance staff can read and amend it without reading the matcher;
this module only turns it into typed, compiled objects and fails loudly (``ValueError`` naming the
rule and field) when the file is malformed, because a silently skipped rule is a compliance gap.
``assistant.compliance`` does the matching.
"""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from .once import once
from .text import CJK

Severity = Literal["block", "warn"]
Scope = Literal["answer", "question", "any"]

CATEGORIES = frozenset(
    {
        "guarantee",
        "forecast",
        "risk_hiding",
        "superlative",
        "urgency",
        "endorsement",
        "peer_disparagement",
        "inducement",
        "personalised_advice",
        "unsupported_figure",
        "past_performance",
        "personal_data",
    }
)
SEVERITIES: frozenset[str] = frozenset({"block", "warn"})
SCOPES: frozenset[str] = frozenset({"answer", "question", "any"})
_FLAGS = re.IGNORECASE
_CJK = re.compile(f"[{CJK}]")  # one CJK range for the whole product (text.py)
# `re`'s own parser, to read which characters can start a pattern (_trigger). Private modules
# (sre_parse is their deprecated public alias); imported by name so the types stay Any.
_SRE_PARSER: Any = importlib.import_module("re._parser")
_SRE_CONSTANTS: Any = importlib.import_module("re._constants")


class QuestionIntent(StrEnum):
    """What an investor's question asks for; a question may carry several."""

    ORDINARY = "ordinary"
    PERSONALISED_ADVICE = "personalised_advice"
    PREDICTION = "prediction"
    RULE_CHANGE = "rule_change"


@dataclass(frozen=True)
class Condition:
    """What a statement needs to be allowed (期间, 数据来源…): any of its patterns, in the hit's
    sentence or the sentences either side of it."""

    name: str
    patterns: tuple[re.Pattern[str], ...]


@dataclass(frozen=True)
class Rule:
    """One row of the table, with its regexes compiled."""

    id: str
    category: str
    severity: Severity
    scope: Scope
    patterns: tuple[re.Pattern[str], ...]  # at most two alternations (Chinese, Latin); () = in code
    exclusions: tuple[re.Pattern[str], ...]
    conditions: tuple[Condition, ...]  # all present in context: the statement is allowed
    # Each further group must also match in the hit's clause (or sentence, with
    # together_in = "sentence"): 保证 … 收益, a promise and what it promises.
    together: tuple[re.Pattern[str], ...]
    together_in: Literal["clause", "sentence"]
    # Any match in the hit's clause excuses it: the clause states the other side (涨跌, may
    # lose money), so it is not the one-sided claim the rule is about.
    unless: tuple[re.Pattern[str], ...]
    negatable: bool
    basis: str
    suggestion: str
    examples_positive: tuple[str, ...]
    examples_negative: tuple[str, ...]
    # What the rule is about (``[about]`` in the table, named by the rule): a hit counts only
    # where its sentence or the sentences either side name it, outside the hit.
    about: re.Pattern[str] | None
    # Per pattern, a scanner (None: none could be built) that matches one character where the
    # pattern matches: [F](?<=(?=P)[F]), F the characters a match can start with. `re` skips
    # ahead on a leading character class in C, which it cannot do for an alternation whose
    # branches open with a look-behind or \b; check_text then matches the pattern only there.
    triggers: tuple[re.Pattern[str] | None, ...] = ()


@dataclass(frozen=True)
class RuleTable:
    """Every rule plus the shared negation cues and the question classifier's patterns."""

    rules: tuple[Rule, ...]
    negation_cues: re.Pattern[str]
    negation_window: int
    negation_window_latin: int
    clause_delimiters: str
    prohibition_cues: re.Pattern[str]
    after_cues: re.Pattern[str]  # right after the hit, in its clause: 门槛低不代表风险低
    mentions: tuple[re.Pattern[str], ...]
    reports: re.Pattern[str] | None  # anywhere in the sentence: it reports a case, not a claim
    introducers: re.Pattern[str] | None  # ends a clause that introduces the next (…跟我说，)
    # A promise or a prediction whose content is the hit: when the verb itself is negated
    # (没人能保证…, "nobody can promise that…"), the hit is what is denied, not claimed.
    frames: re.Pattern[str] | None
    questions: Mapping[QuestionIntent, re.Pattern[str]]
    # Cues of an intent that count only in a question about investing (``investing``): "should
    # I" asks for advice when the question names a fund, a holding or savings, not a sunburn.
    questions_about_investing: Mapping[QuestionIntent, re.Pattern[str]]
    investing: re.Pattern[str] | None
    # The suggestion of a model-only finding: {category}, {probability}, {suggestion} (the
    # category's first rule's).
    likely_note: str
    # A phrase that sells the product beside it ("…的有力工具"): its clause is a sales line.
    promotion: re.Pattern[str] | None = None

    def primary(self, category: str) -> Rule:
        """The first rule of ``category`` in the table: its basis and suggestion stand for the
        category when the model, not a rule, finds it."""
        for rule in self.rules:
            if rule.category == category:
                return rule
        raise KeyError(f"No compliance rule of category {category!r}.")

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(
            f"No compliance rule {rule_id!r}; see assistant/resources/compliance_rules.toml."
        )


def _strings(raw: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    value = raw.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"{where}: {key!r} must be a list of strings.")
    return tuple(cast(list[str], value))


def _text(raw: Mapping[str, Any], key: str, where: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}: {key!r} must be a non-empty string.")
    return value


def _compile(patterns: Sequence[str], where: str) -> tuple[re.Pattern[str], ...]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern, _FLAGS))
        except re.error as error:
            raise ValueError(f"{where}: bad regex {pattern!r}: {error}.") from error
    return tuple(compiled)


def _alternation(patterns: Sequence[str], where: str) -> re.Pattern[str] | None:
    if not patterns:
        return None
    _compile(patterns, where)  # report the faulty pattern by itself
    return re.compile("|".join(f"(?:{p})" for p in patterns), _FLAGS)


def _alternations(patterns: Sequence[str], where: str) -> tuple[re.Pattern[str], ...]:
    # Two alternations, not one: `re` can skip ahead on the first characters of an all-Chinese
    # alternation, which one mixed with \b-led English branches defeats (about twice as slow).
    chinese = [p for p in patterns if _CJK.search(p)]
    latin = [p for p in patterns if not _CJK.search(p)]
    groups = (_alternation(chinese, where), _alternation(latin, where))
    return tuple(group for group in groups if group is not None)


@cache
def _digits() -> frozenset[str]:
    return frozenset(c for c in map(chr, range(sys.maxunicode + 1)) if c.isdecimal())


def _first(items: Any) -> tuple[set[str] | None, bool]:
    """The characters that can start a match of a parsed sequence (None: any), and whether the
    sequence can match empty. Zero-width items (\b, look-arounds) are stepped over."""
    const = _SRE_CONSTANTS
    found: set[str] = set()
    for op, av in items:
        if op is const.LITERAL:
            return found | {chr(av)}, False
        if op is const.IN:
            for kind, value in av:
                if kind is const.LITERAL:
                    found.add(chr(value))
                elif kind is const.RANGE and value[1] - value[0] < 256:
                    found.update(map(chr, range(value[0], value[1] + 1)))
                elif kind is const.CATEGORY and value is const.CATEGORY_DIGIT:
                    found.update(_digits())
                else:
                    return None, False
            return found, False
        if op in (const.AT, const.ASSERT, const.ASSERT_NOT):
            continue
        if op is const.SUBPATTERN:
            branches = [av[3]]
        elif op is const.BRANCH:
            branches = av[1]
        elif op in (const.MAX_REPEAT, const.MIN_REPEAT, const.POSSESSIVE_REPEAT):
            branches = [av[2]]
        else:
            return None, False
        empty = op in (const.MAX_REPEAT, const.MIN_REPEAT, const.POSSESSIVE_REPEAT) and av[0] == 0
        for branch in branches:
            chars, nullable = _first(branch)
            if chars is None:
                return None, False
            found |= chars
            empty = empty or nullable
        if not empty:
            return found, False
    return found, True


def _trigger(pattern: re.Pattern[str]) -> re.Pattern[str] | None:
    chars, nullable = _first(_SRE_PARSER.parse(pattern.pattern, pattern.flags))
    if chars is None or nullable:
        return None
    if pattern.flags & re.IGNORECASE:
        chars |= {c.lower() for c in chars} | {c.upper() for c in chars}
    first = "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"
    # Case-sensitive outside (a cased class defeats the skip; both cases are in it), the
    # pattern's own flags inside.
    inner = f"(?i:{pattern.pattern})" if pattern.flags & re.IGNORECASE else pattern.pattern
    return re.compile(f"{first}(?<=(?={inner}){first})")


def _rule(raw: Mapping[str, Any], index: int, subjects: Mapping[str, re.Pattern[str]]) -> Rule:
    where = f"compliance rule #{index + 1} ({raw.get('id', '?')})"
    about = raw.get("about")
    if about is not None and about not in subjects:
        raise ValueError(f"{where}: about must name a list of [about]: {sorted(subjects)}.")
    category = _text(raw, "category", where)
    severity = _text(raw, "severity", where)
    scope = _text(raw, "scope", where)
    if category not in CATEGORIES:
        raise ValueError(f"{where}: unknown category {category!r}; add it to CATEGORIES first.")
    if severity not in SEVERITIES or scope not in SCOPES:
        raise ValueError(f"{where}: severity must be block|warn and scope answer|question|any.")
    negatable = raw.get("negatable", True)
    if not isinstance(negatable, bool):
        raise ValueError(f"{where}: negatable must be a boolean.")
    conditions = raw.get("conditions", {})
    if not isinstance(conditions, dict):
        raise ValueError(f"{where}: conditions must be a table of name = [patterns].")
    groups = raw.get("together", [])
    if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
        raise ValueError(f"{where}: together must be a list of pattern lists.")
    together_in = raw.get("together_in", "clause")
    if together_in not in ("clause", "sentence"):
        raise ValueError(f"{where}: together_in must be clause or sentence.")
    together = []
    for group in groups:
        pattern = _alternation(_strings({"g": group}, "g", where), where)
        if pattern is None:
            raise ValueError(f"{where}: an empty group in together.")
        together.append(pattern)
    patterns = _alternations(_strings(raw, "patterns", where), where)
    return Rule(
        id=_text(raw, "id", where),
        category=category,
        severity=cast(Severity, severity),
        scope=cast(Scope, scope),
        patterns=patterns,
        exclusions=_compile(_strings(raw, "exclusions", where), where),
        conditions=tuple(
            Condition(name, _compile(_strings(conditions, name, where), where))
            for name in conditions
        ),
        together=tuple(together),
        together_in=cast(Literal["clause", "sentence"], together_in),
        unless=_compile(_strings(raw, "unless", where), where),
        negatable=negatable,
        basis=_text(raw, "basis", where),
        suggestion=_text(raw, "suggestion", where),
        examples_positive=_strings(raw, "examples_positive", where),
        examples_negative=_strings(raw, "examples_negative", where),
        about=None if about is None else subjects[about],
        triggers=tuple(_trigger(pattern) for pattern in patterns),
    )


def parse_rules(raw: Mapping[str, Any]) -> RuleTable:
    """Validate and compile a parsed rule file."""
    subjects: dict[str, re.Pattern[str]] = {}
    for name in raw.get("about", {}):
        found = _alternation(_strings(raw["about"], name, "[about]"), "[about]")
        if found is None:
            raise ValueError(f"compliance rules: [about] {name} needs patterns.")
        subjects[name] = found
    rules = tuple(_rule(item, i, subjects) for i, item in enumerate(raw.get("rule", [])))
    ids = [rule.id for rule in rules]
    if len(set(ids)) != len(ids):
        raise ValueError("compliance rules: rule ids must be unique.")
    negation = raw.get("negation", {})
    questions = raw.get("questions", {})
    windows = (negation.get("window"), negation.get("window_latin"))
    if not all(isinstance(w, int) and w > 0 for w in windows):
        raise ValueError(
            "compliance rules: [negation] needs positive integers window, window_latin."
        )
    intents: dict[QuestionIntent, re.Pattern[str]] = {}
    about_investing: dict[QuestionIntent, re.Pattern[str]] = {}
    for intent in QuestionIntent:
        if intent is QuestionIntent.ORDINARY:
            continue
        pattern = _alternation(_strings(questions, intent.value, "[questions]"), "[questions]")
        if pattern is None:
            raise ValueError(f"compliance rules: [questions] needs patterns for {intent.value}.")
        intents[intent] = pattern
        where = f"[questions] {intent.value}_about_investing"
        found = _alternation(_strings(questions, f"{intent.value}_about_investing", where), where)
        if found is not None:
            about_investing[intent] = found
    investing = _alternation(_strings(questions, "investing", "[questions]"), "[questions]")
    if about_investing and investing is None:
        raise ValueError("compliance rules: [questions] has cues about investing but no investing.")
    cues = _alternation(_strings(negation, "cues", "[negation]"), "[negation]")
    prohibitions = _alternation(_strings(negation, "sentence_cues", "[negation]"), "[negation]")
    after = _alternation(_strings(negation, "after_cues", "[negation]"), "[negation]")
    if cues is None or prohibitions is None or after is None:
        raise ValueError("compliance rules: [negation] needs cues, sentence_cues and after_cues.")
    return RuleTable(
        rules=rules,
        negation_cues=cues,
        negation_window=cast(int, windows[0]),
        negation_window_latin=cast(int, windows[1]),
        clause_delimiters=_text(negation, "clause_delimiters", "[negation]"),
        prohibition_cues=prohibitions,
        after_cues=after,
        mentions=_compile(_strings(negation, "mentions", "[negation]"), "[negation]"),
        reports=_alternation(_strings(negation, "reports", "[negation]"), "[negation]"),
        introducers=_alternation(
            [f"(?:{p})\\s*$" for p in _strings(negation, "introducers", "[negation]")],
            "[negation]",
        ),
        frames=_alternation(_strings(negation, "frames", "[negation]"), "[negation]"),
        questions=intents,
        questions_about_investing=about_investing,
        investing=investing,
        likely_note=_text(raw.get("model", {}), "likely_note", "[model]"),
        promotion=_alternation(
            [re.escape(p) for p in _strings(raw.get("promotion", {}), "phrases", "[promotion]")],
            "[promotion]",
        ),
    )


def load_rules(path: Path | None = None) -> RuleTable:
    """Read a rule file (default: the one shipped beside this module)."""
    if path is None:
        data = resources.files("assistant").joinpath("resources/compliance_rules.toml").read_bytes()
    else:
        data = path.read_bytes()
    return parse_rules(tomllib.loads(data.decode("utf-8")))


@once
def default_rules() -> RuleTable:
    """The shipped table, loaded and compiled once per process."""
    return load_rules()
