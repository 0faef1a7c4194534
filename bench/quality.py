"""Answers that hold on questions nobody tuned for: ranking, the answer/decline decision,
offline answers, English and traditional Chinese, each on a held-out half.

    python bench/quality.py [--limit-cmrc 1000] [--tune] [--answers] [--json FILE]

Every question set is split in two by a hash of its question id (``datasets.half``), fixed
before any tuning: the "tune" half may be used to choose constants, the "held" half is only
ever reported. ``--tune`` fits the second stage's weights and the decision's coefficients on
the tune halves and prints them as TOML for ``assistant/resources/retrieval.toml``; without it
the shipped constants are measured as they are.

Sets (stores are the evaluation harness's cached ones under ``bench/out/eval-*``):

- answerable, Chinese: CMRC 2018 dev (a seeded sample), XQuAD-zh, both again converted to
  traditional characters (OpenCC ``s2tw``), and the seed and held-out seed questions;
- answerable, English: XQuAD-en over the Chinese XQuAD contexts; English seed questions;
- unanswerable: CMRC questions against the XQuAD store, XQuAD zh and en questions against the
  CMRC store (one encyclopedia's questions asked of another), and the off-topic sets;
- near-duplicates (never tuned on): the 240 XQuAD-zh contexts, every other one with two reposts
  of the same story, one cut to its first half (a lead-only repost) and one with the sentences
  that hold the answers removed (an edited copy). A hit must hold a gold answer. Only held-out
  questions about the reposted stories are asked, in Chinese and in English.

A "false refusal" is an answerable question declined; a "false acceptance" an unanswerable one
answered. Both are printed for every set; hit@k for the answerable ones; with ``--answers``
the share of offline answers (the engine without a model) that contain a gold answer.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant import retrieval  # noqa: E402
from assistant.config import Settings, load_settings  # noqa: E402
from assistant.embeddings import E5Embedder, Embedder  # noqa: E402
from assistant.eval.datasets import (  # noqa: E402
    Case,
    cache_key,
    cross_lingual,
    half,
    isolated,
    load_jsonl_cases,
    load_squad,
    open_synced,
    sample,
    write_contexts,
)
from assistant.eval.running import holds_answer  # noqa: E402
from assistant.evidence import Evidence, Wording, evidence, reach  # noqa: E402
from assistant.retrieval import Retriever, decision_features, fuse  # noqa: E402
from assistant.store import KnowledgeStore  # noqa: E402
from assistant.text import near_duplicate, search_form, split_sentences  # noqa: E402
from assistant.transliteration import names, share  # noqa: E402

DATA = ROOT.parent / "shared" / "eval-data"
if not DATA.is_dir():
    DATA = Path("/work/shared/eval-data")
FIXTURES = ROOT / "tests" / "fixtures"
OUT = ROOT / "bench" / "out"
DEPTH = 15
K = 5


class CachedEmbedder(E5Embedder):
    """e5 with a memory of the queries it embedded (one question is asked of several stores)."""

    def __init__(self) -> None:
        super().__init__()
        self._asked: dict[str, list[float]] = {}

    def embed_query(self, text: str) -> list[float]:
        if text not in self._asked:
            self._asked[text] = super().embed_query(text)
        return self._asked[text]


# -- stores ------------------------------------------------------------------------------------


def squad_store(
    name: str, base: Settings, embedder: Embedder, contexts: Sequence[str], source: Path
) -> KnowledgeStore:
    root = OUT / f"eval-{source.stem}" / cache_key(source.read_bytes(), base, base.embedder)
    write_contexts(contexts, root / "knowledge")
    store, seconds = open_synced(isolated(base, root / "data", root / "knowledge"), embedder)
    print(f"store {name}: {store.count()} chunks (sync {seconds:.0f} s)", file=sys.stderr)
    return store


def seed_store(base: Settings, embedder: Embedder) -> KnowledgeStore:
    knowledge = base.knowledge_dir.resolve()
    root = OUT / "eval-seed" / cache_key(str(knowledge).encode(), base, base.embedder)
    store, _ = open_synced(isolated(base, root / "data", knowledge), embedder)
    return store


def neardup_store(
    base: Settings, embedder: Embedder, contexts: Sequence[str], cases: Sequence[Case]
) -> KnowledgeStore:
    """XQuAD-zh contexts plus a lead-only and an answer-less repost of each (see docstring).

    Starts from a copy of the XQuAD-zh store, so only the reposts are embedded.
    """
    source = DATA / "xquad.zh.json"
    original = OUT / "eval-xquad.zh" / cache_key(source.read_bytes(), base, base.embedder)
    root = OUT / "quality-neardup"
    if not (root / "data").exists():
        shutil.copytree(original / "data", root / "data")
    answers: dict[str, list[str]] = {}
    for case in cases:
        answers.setdefault(str(case.context), []).extend(case.answers)
    texts = {f"c{i:04d}": text for i, text in enumerate(contexts)}
    for name, text in list(texts.items())[::2]:  # every other context gets its reposts
        sentences = split_sentences(text)
        lead = "".join(sentences[: max(1, len(sentences) // 2)])
        edited = "".join(
            s for s in sentences if not any(a and a in s for a in answers.get(name, []))
        )
        texts[f"{name}-lead"] = lead
        if edited and edited != text:
            texts[f"{name}-edit"] = edited
    folder = root / "knowledge"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        path = folder / f"{name}.txt"
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    store, seconds = open_synced(isolated(base, root / "data", folder), embedder)
    print(f"store neardup: {store.count()} chunks (sync {seconds:.0f} s)", file=sys.stderr)
    return store


# -- what one search shows ---------------------------------------------------------------------


@dataclass
class Candidate:
    chunk_id: str
    text: str
    fused: float
    dense: float
    coverage: float
    support: float
    entities: float
    relevant: bool
    names: float = 0.0  # share of an English question's unrendered names held (by sound)


@dataclass
class Probe:
    set: str
    case: Case
    answerable: bool
    lang: str
    candidates: list[Candidate]
    corpus: float  # the question's corpus coverage (lexical weight)
    latency_ms: float


def relevant_to(case: Case, neardup: bool) -> Callable[[Any], bool]:
    def check(chunk: Any) -> bool:
        if neardup:
            stem = Path(chunk.path).stem.split("-")[0]
            return stem == case.context and holds_answer(chunk.text, case.answers)
        return case.relevant(chunk)

    return check


def probe(
    retriever: Retriever, case: Case, set_name: str, answerable: bool, neardup: bool = False
) -> Probe:
    """The fused candidates with their second-stage evidence (what ``search`` computes)."""
    store = retriever.store
    started = time.perf_counter()
    text = retriever.searched_text(case.question)
    n = max(retriever.candidates, K * 3)
    dense = store.dense_search(retriever.query_vector(retriever.dense_text(case.question)), n)
    lexical = store.lexical().search(text, n)
    weight = retriever.lexical_weight(text) if lexical else 0.0
    fused = fuse(dense, lexical, retrieval.tuning()["fusion"]["lexical_share"] * weight)
    order = sorted(fused, key=lambda cid: (-fused[cid], -dict(dense).get(cid, 0.0)))
    question = retriever.question(case.question)
    named = unrendered(retriever, case)
    check = relevant_to(case, neardup)
    candidates = []
    dense_score = dict(dense)
    index = store.lexical()
    for chunk in store.get(order[:DEPTH]):
        found = evidence(question, chunk.text, index.sentences(chunk.chunk_id))
        candidates.append(
            Candidate(
                chunk.chunk_id, chunk.text, fused[chunk.chunk_id],
                dense_score.get(chunk.chunk_id, 0.0), found.coverage, found.support,
                found.entities, check(chunk), share(named, chunk.text),
            )
        )  # fmt: skip
    latency = (time.perf_counter() - started) * 1000
    return Probe(set_name, case, answerable, case.lang, candidates, weight, latency)


def unrendered(retriever: Retriever, case: Case) -> list[str]:
    """The question's names the second stage looks for by sound (``Retriever.search``)."""
    if case.lang == "zh":
        return []
    return names(search_form(case.question), retriever.known)


Weights = dict[str, dict[str, float]]  # "zh" / "other" → second-stage weights


def ranked(p: Probe, ws: Weights) -> list[Candidate]:
    """The candidates after the second stage with the question's language's weights."""
    w = ws["zh" if p.lang == "zh" else "other"]
    scored = sorted(
        p.candidates,
        key=lambda c: -(
            c.fused + w["coverage"] * c.coverage + w["support"] * c.support
            + w["entities"] * c.entities + w.get("names", 0.0) * c.names
        ),
    )  # fmt: skip
    chosen: list[Candidate] = []
    for c in scored:
        if not any(near_duplicate(c.text, o.text) for o in chosen):
            chosen.append(c)
        if len(chosen) == K:
            break
    return chosen


def rank_of(p: Probe, w: Weights) -> int | None:
    return next((i for i, c in enumerate(ranked(p, w), start=1) if c.relevant), None)


def hits(probes: Sequence[Probe], w: Weights) -> dict[str, float]:
    ranks = [rank_of(p, w) for p in probes]
    n = len(ranks) or 1
    return {
        f"hit@{k}": round(sum(r is not None and r <= k for r in ranks) / n, 3) for k in (1, 3, 5)
    }


# -- the decision ------------------------------------------------------------------------------

FEATURES = retrieval.DECISION


class Decision:
    """The decision's features per probe (``retrieval.decision_features``, the engine's own),
    with each question's wording read once from its store's index."""

    def __init__(self, retrievers: Retrievers, floors: dict[str, float]) -> None:
        self.retrievers, self.floors = retrievers, floors
        self._wording: dict[tuple[str, str], Wording] = {}

    def features(self, p: Probe, ws: Weights) -> np.ndarray:
        top = ranked(p, ws)
        if not top:
            return np.zeros(len(FEATURES))
        w = ws["zh" if p.lang == "zh" else "other"]
        key = (STORE_OF[p.set], p.case.question)
        if key not in self._wording:
            self._wording[key] = self.retrievers[key[0]].wording(p.case.question)
        found = decision_features(
            Evidence(top[0].coverage, top[0].support, top[0].entities),
            [c.fused + w["coverage"] * c.coverage + w["support"] * c.support
             + w["entities"] * c.entities + w.get("names", 0.0) * c.names for c in top],
            [c.dense for c in top],
            self.floors["zh"] if p.lang == "zh" else self.floors["other"],
            p.corpus,
            reach(self._wording[key], [c.text for c in top]),
        )  # fmt: skip
        return np.array([found[k] for k in FEATURES])


def fit_logistic(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float = 0.01) -> np.ndarray:
    """Weighted, L2-regularised logistic regression by Newton's method on standardised
    features (so the penalty treats them alike); returns [bias, *coef] on the raw ones."""
    mean, spread = x.mean(0), x.std(0)
    spread[spread == 0] = 1.0
    scaled = _fit((x - mean) / spread, y, weight, l2)
    coef = scaled[1:] / spread
    return np.r_[scaled[0] - mean @ coef, coef]


def _fit(x: np.ndarray, y: np.ndarray, weight: np.ndarray, l2: float) -> np.ndarray:
    design = np.hstack([np.ones((len(x), 1)), x])
    beta = np.zeros(design.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-np.clip(design @ beta, -30, 30)))
        gradient = design.T @ (weight * (p - y)) + l2 * np.r_[0, beta[1:]]
        hessian = (design * (weight * p * (1 - p))[:, None]).T @ design + l2 * np.eye(len(beta))
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-8:
            break
    return beta


def expand(x: np.ndarray) -> np.ndarray:
    """The features and their pairwise products (``retrieval.decision_score``'s order)."""
    rows, cols = np.triu_indices(x.shape[1])
    return np.hstack([x, x[:, rows] * x[:, cols]])


def columns(names: Sequence[str]) -> list[int]:
    """Where the named features sit in ``FEATURES`` (a language's model reads these)."""
    return [FEATURES.index(name) for name in names]


def decide(x: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """The decision's probability for raw features ``x`` (the model's own, in its order);
    ``beta`` = [bias, *linear, *pairs] (``retrieval.decision_score``)."""
    return 1 / (1 + np.exp(-np.clip(beta[0] + expand(x) @ beta[1:], -30, 30)))


def fold_of(qid: str, folds: int = 5) -> int:
    """A question's fold within its tune half (out-of-fold scores set the decision's bias)."""
    return hashlib.sha256(f"fold {qid}".encode()).digest()[0] % folds


# -- sets --------------------------------------------------------------------------------------


def held_half(cases: Sequence[Case]) -> list[Case]:
    return [c for c in cases if half(c.qid) == "held"]


def traditional(cases: Sequence[Case]) -> list[Case]:
    import opencc

    convert = opencc.OpenCC("s2tw").convert
    return [replace(c, question=convert(c.question)) for c in cases]  # same id, same half


# The store each set is asked of.
STORE_OF = {
    "cmrc": "cmrc", "cmrc-tw": "cmrc", "xquad-zh": "xquad", "xquad-zh-tw": "xquad",
    "xquad-en": "xquad", "seed": "seed", "cmrc→xquad": "xquad", "xquad-zh→cmrc": "cmrc",
    "xquad-en→cmrc": "cmrc", "offtopic": "seed", "neardup": "neardup", "neardup-en": "neardup",
}  # fmt: skip


class Retrievers(dict[str, Retriever]):
    """The evaluation's stores, each opened (and synced) when first asked for."""

    def __init__(self, base: Settings, embedder: Embedder) -> None:
        super().__init__()
        self.base, self.embedder = base, embedder

    def __missing__(self, name: str) -> Retriever:
        base, embedder = self.base, self.embedder
        if name == "seed":
            store = seed_store(base, embedder)
        elif name == "neardup":
            xzh = load_squad(DATA / "xquad.zh.json")
            store = neardup_store(base, embedder, xzh.contexts, xzh.cases)
        else:
            source = DATA / ("cmrc2018_dev.json" if name == "cmrc" else "xquad.zh.json")
            store = squad_store(name, base, embedder, load_squad(source).contexts, source)
        self[name] = Retriever(store, embedder)
        return self[name]


def build_probes(args: argparse.Namespace, retrievers: Retrievers) -> list[Probe]:
    cmrc = load_squad(DATA / "cmrc2018_dev.json")
    xzh = load_squad(DATA / "xquad.zh.json")
    xen = cross_lingual(load_squad(DATA / "xquad.en.json"), xzh)
    cmrc_cases = sample(cmrc.cases, args.limit_cmrc, 0)
    seed = [*load_jsonl_cases(FIXTURES / "seed_questions.jsonl"),
            *load_jsonl_cases(FIXTURES / "heldout_questions.jsonl")]  # fmt: skip
    offtopic = [*load_jsonl_cases(FIXTURES / "offtopic_questions.jsonl"),
                *load_jsonl_cases(FIXTURES / "heldout_offtopic.jsonl")]  # fmt: skip
    plan: list[tuple[str, str, list[Case], bool]] = [
        ("cmrc", "cmrc", cmrc_cases, True),
        ("cmrc-tw", "cmrc", traditional(held_half(cmrc_cases)), True),
        ("xquad-zh", "xquad", xzh.cases, True),
        ("xquad-zh-tw", "xquad", traditional(held_half(xzh.cases)), True),
        ("xquad-en", "xquad", xen.cases, True),
        ("seed", "seed", seed, True),
        ("cmrc→xquad", "xquad", cmrc_cases, False),
        ("xquad-zh→cmrc", "cmrc", xzh.cases, False),
        ("xquad-en→cmrc", "cmrc", xen.cases, False),
        ("offtopic", "seed", offtopic, False),
    ]
    probes = []
    wanted = set(args.sets.split(",")) if args.sets else None
    for set_name, store_name, cases, answerable in plan:
        if wanted is not None and set_name not in wanted:
            continue
        started = time.perf_counter()
        cases = sample(cases, args.per_set, 1)  # a seeded sample of big sets (the machine is small)
        retriever = retrievers[store_name]
        retriever.search("warm-up 预热", K)
        probes += [probe(retriever, c, set_name, answerable) for c in cases]
        print(f"{set_name}: {len(cases)} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.neardup:
        probes += neardup_probes(retrievers)
    return probes


def neardup_probes(retrievers: Retrievers) -> list[Probe]:
    xzh = load_squad(DATA / "xquad.zh.json")
    xen = cross_lingual(load_squad(DATA / "xquad.en.json"), xzh)
    reposted = {f"c{i:04d}" for i in range(0, len(xzh.contexts), 2)}
    retriever = retrievers["neardup"]
    retriever.search("warm-up 预热", K)
    probes = []
    for name, cases in (("neardup", xzh.cases), ("neardup-en", xen.cases)):
        held = [c for c in cases if half(c.qid) == "held" and c.context in reposted]
        probes += [probe(retriever, c, name, True, neardup=True) for c in held]
    return probes


# -- offline answers ---------------------------------------------------------------------------

# The excerpt settings compared (extractive.py). The first, ``{}``, is the shipped setting; each
# other varies it (a key not named keeps its shipped value). The constants were chosen on the tune
# halves one at a time in earlier passes (focus, typed and beside, the slot rule, antecedent); what
# is left shows what they are worth: the sentences weighed by their words alone (no e5 sense),
# each sentence read alone (no antecedent), and three quoted sentences instead of four, which buys
# length with gold answers (the mean characters are printed beside; four were chosen on the tune
# halves).
ANSWER_GRID: list[dict[str, Any]] = [{}, {"meaning": 0.0}, {"antecedent": False}, {"limit": 3}]


def offline_answers(
    probes: Sequence[Probe], retrievers: Retrievers, floors: dict[str, float]
) -> dict[str, dict[str, Any]]:
    """Share of offline answers holding a gold answer, per set, half and excerpt setting.

    The answer is what the engine shows without a model: declined (not relevant) counts as a
    miss; otherwise the excerpts chosen from the searched hits.
    """
    from assistant.extractive import render, select_sentences

    store_of = {
        "cmrc": "cmrc", "cmrc-tw": "cmrc", "xquad-zh": "xquad", "xquad-zh-tw": "xquad",
        "xquad-en": "xquad",  # English questions, Chinese passages: the quotes hold the gold?
    }  # fmt: skip
    table: dict[str, dict[str, Any]] = {}
    for set_name, store_name in store_of.items():
        if not any(p.set == set_name for p in probes):
            continue
        retriever = retrievers[store_name]
        idf = retriever.store.lexical().idf
        for which in ("tune", "held"):
            chosen = [p for p in probes if p.set == set_name and half(p.case.qid) == which]
            if not chosen:
                continue  # the traditional sets are held halves only
            found = [0] * len(ANSWER_GRID)
            length = [0] * len(ANSWER_GRID)
            first = 0  # the shipped excerpts' first quoted sentence holds a gold answer
            declined = quoted = 0  # declined; a gold answer in the passages quoted from
            for p in chosen:
                hits = retriever.search(p.case.question, K)
                if not retriever.relevant(p.case.question, hits, floor=floors["zh"],
                                          floor_other=floors["other"]):  # fmt: skip
                    declined += 1
                    continue
                quoted += any(holds_answer(h.chunk.text, p.case.answers) for h in hits[:3])
                searched = retriever.searched_text(p.case.question)
                likeness = retriever.likeness(p.case.question)
                for i, params in enumerate(ANSWER_GRID):
                    params = {"likeness": likeness, **params}
                    text, _ = render(select_sentences(searched, hits, idf, **params))
                    found[i] += holds_answer(text, p.case.answers)
                    length[i] += len(text)
                    if not i:
                        first += holds_answer(text.split("\n")[0], p.case.answers)
            n = len(chosen)
            table[f"{set_name} {which}"] = {
                "n": len(chosen),
                "declined": round(declined / n, 3),
                "gold in passages": round(quoted / n, 3),
                "gold in the first sentence": round(first / n, 3),
                **{json.dumps(g): round(f / n, 3) for g, f in zip(ANSWER_GRID, found, strict=True)},
                **{
                    f"chars {json.dumps(g)}": round(c / max(1, len(chosen) - declined))
                    for g, c in zip(ANSWER_GRID, length, strict=True)
                },
            }
            print(f"answers {set_name} {which}: done", file=sys.stderr)
    return table


# -- tuning and the report ---------------------------------------------------------------------


def tune_second_stage(probes: Sequence[Probe], lang: str) -> dict[str, float]:
    """The weights that maximise mean hit@1 over the answerable sets' tune halves."""
    tune = [
        p for p in probes
        if p.answerable and half(p.case.qid) == "tune" and (p.lang == "zh") == (lang == "zh")
    ]  # fmt: skip
    sets = sorted({p.set for p in tune})
    best, best_w = -1.0, {}
    grid = [0.0, 0.25, 0.5, 1.0, 1.5, 2.0]
    for cov in grid:
        for sup in grid:
            for ent in [0.0, 0.25, 0.5, 1.0]:
                w = {"coverage": cov, "support": sup, "entities": ent}
                ws = {"zh": w, "other": w}
                mean = sum(hits([p for p in tune if p.set == s], ws)["hit@1"] for s in sets)
                if mean > best:
                    best, best_w = mean, w
    return best_w


def tune_names(probes: Sequence[Probe], w: Weights) -> float:
    """The weight of an English question's names found by sound: best mean hit@1 over the
    English answerable sets' tune halves, then best MRR@5 (a finer tie-break)."""
    tune = [p for p in probes if p.answerable and p.lang != "zh" and half(p.case.qid) == "tune"]
    sets = sorted({p.set for p in tune})

    def quality(weight: float) -> tuple[float, float]:
        ws = {**w, "other": {**w["other"], "names": weight}}
        mean = sum(hits([p for p in tune if p.set == s], ws)["hit@1"] for s in sets)
        ranks = [rank_of(p, ws) for p in tune]
        return mean, sum(1 / r for r in ranks if r) / (len(ranks) or 1)

    return max([0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0], key=quality)


# The model's form per language: which of ``FEATURES`` it reads (printed with ``--tune`` as the
# table's ``features``), and the L2 penalty on standardised features. Chosen on the tune halves alone (fifth pass): of linear or
# quadratic over the first 13 or all 19 features, penalty 0.3, 1, 3, 10 or 30, the one with the
# lowest mean out-of-fold false acceptance over the language's unanswerable sets at the refusal
# budgets below (Chinese: quadratic, 19, 0.3; English: quadratic, 13, 0.3: the six fourth-pass
# features read a Chinese question's own characters, and its 14 off-topic tune questions are
# too few for 190 pairs). ``bench/out/p5/explore.py`` was the scratch script; the grid's figures
# are in docs/measurements.md (the decision, fifth pass).
#
# Tried after the acceptance audit (bench/acceptance_audit.py) and not kept: ``gap`` counts a
# hit only BM25 returned as a cosine of 0 (a question about what the corpus lacks often has
# three such hits in five, and then ``gap`` is the best cosine itself); the Chinese model
# reading the gap among returned cosines instead had the lower out-of-fold false acceptance on
# the tune halves at the same budget (0.092 → 0.079; XQuAD-zh → CMRC 0.212 → 0.173; with two
# other fold assignments 0.114 → 0.075 and 1.0 → 0.094, where this form's bias, set by the 15
# Chinese seed tune questions, gave way). Refitted and read once on the held halves: XQuAD-zh →
# CMRC 0.226 → 0.200, but CMRC → XQuAD 0.053 → 0.063, false refusals CMRC 0.002 → 0.004 and
# XQuAD-zh 0.010 → 0.015, and "哪个佛罗里达城市的人口最多？" was accepted of the seed articles
# (tests/test_retrieval.py). No better out of fold on the tune halves (Chinese 0.092, English
# 0.334): the gap between the two best cosines counted the same way (0.102); a Chinese
# question's transliterated name (a run of three transliteration characters) missing from the
# best three passages (0.093; with a flag for holding such a name at all 0.080, but that flag
# tells XQuAD's questions from CMRC's, not answered from unanswered); an English question's
# names found by sound in none of them (0.339); the BM25-only hits among the five (0.107); the
# source files among the three (0.093).
DECISION_FORM: dict[str, tuple[tuple[str, ...], float]] = {
    "zh": (FEATURES[:19], 0.3),
    "other": (FEATURES[:13], 0.3),
}


def _out_of_fold(
    probes: Sequence[Probe], w: Weights, decision: Decision, lang: str, names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One language's tune-half decision as fitted there: the design (features and pairs),
    the labels, each question's set, the fit on the whole tune half, and each question's
    logit from the fit on the other four folds (5 folds of the tune half)."""
    tune = [p for p in probes if half(p.case.qid) == "tune" and (p.lang == "zh") == (lang == "zh")]
    tune = [p for p in tune if not p.set.startswith("neardup")]  # never tuned on
    l2 = DECISION_FORM[lang][1]
    x = expand(np.array([decision.features(p, w)[columns(names)] for p in tune]))
    y = np.array([1.0 if p.answerable else 0.0 for p in tune])
    sets = np.array([p.set for p in tune])
    folds = np.array([fold_of(p.case.qid) for p in tune])
    # Each set weighs the same, answerable and unanswerable sides alike.
    counts = {s: int((sets == s).sum()) for s in set(sets)}
    weight = np.array([1.0 / counts[s] for s in sets])
    weight *= len(tune) / weight.sum()
    beta = fit_logistic(x, y, weight, l2)
    unseen = np.zeros(len(tune))
    for f in range(5):
        part = fit_logistic(x[folds != f], y[folds != f], weight[folds != f], l2)
        unseen[folds == f] = part[0] + x[folds == f] @ part[1:]
    return y, sets, beta, unseen, _refusal_shift(unseen, y, sets, lang)


def _refusal_shift(unseen: np.ndarray, y: np.ndarray, sets: np.ndarray, lang: str) -> float:
    """The logit under which the refusal budget of the worst answerable set falls (out of fold).

    The refusal budgets, fixed before any held figure of this pass was looked at (fifth pass,
    08:07 UTC): Chinese 1.5% out of fold (half a point under the 2% target: the held XQuAD-zh
    half was refused 1.3% by the third pass, and no set may get worse beyond one question),
    English 4% (a point under its 5%: the near-duplicate reposts, never tuned on, are refused
    more often)."""
    target = 0.015 if lang == "zh" else 0.04
    return min(
        float(np.quantile(unseen[(sets == s) & (y == 1)], target)) for s in set(sets[y == 1])
    )


def tune_decision(probes: Sequence[Probe], w: Weights, decision: Decision, lang: str) -> np.ndarray:
    """[bias, *linear, *pairs, online_cut] for one language, fitted on the tune halves.

    A logistic model over the features and their pairwise products, each set weighing the
    same. Its bias is then moved so that, by out-of-fold scores (5 folds of the tune half),
    no answerable set is refused more than the target share: an in-sample quantile flatters a
    model with this many weights (refusals on new questions come out higher than fitted).
    """
    y, _, beta, unseen, shift = _out_of_fold(probes, w, decision, lang, DECISION_FORM[lang][0])
    beta[0] -= shift
    # Online, the model reads the passages too: refuse only what is clearly off-topic (the cut
    # under which at most 0.5% of the answerable tune questions fall), out of fold as well: the
    # in-sample scores of the answerable questions sit too high to place it (fifth pass: the cut
    # came out at 0.49, all but the offline one, and the held online refusals rose).
    probability = 1 / (1 + np.exp(-np.clip(unseen[y == 1] - shift, -30, 30)))
    online = float(np.quantile(probability, 0.005))
    return np.r_[beta, min(0.5, online)]


# An excerpt answer scoring under the sure cut says the passages may not answer the question.
# The cut is the lowest (in steps of 0.01, from 0.5) at which no unanswerable tune set of at
# least SURE_SETS questions is accepted more than SURE_BUDGET of the time out of fold: two
# points under issue 11's 10% target, as the refusal budgets sit under theirs (the off-topic
# sets, 11 and 14 tune questions, are too small to place a cut). Fixed before the held figures.
SURE_BUDGET = 0.08
SURE_SETS = 100


def tune_sure(
    probes: Sequence[Probe], w: Weights, decision: Decision, lang: str, names: Sequence[str]
) -> float:
    """The sure cut of one language's decision (reading ``names``), out of fold on its tune half."""
    y, sets, _, unseen, shift = _out_of_fold(probes, w, decision, lang, names)
    probability = 1 / (1 + np.exp(-np.clip(unseen - shift, -30, 30)))
    large = [s for s in set(sets[y == 0]) if (sets == s).sum() >= SURE_SETS]
    for cut in np.arange(0.5, 1.0, 0.01):
        if all((probability[sets == s] >= cut).mean() <= SURE_BUDGET for s in large):
            return round(float(cut), 2)
    return 1.0


class _Unpickler(pickle.Unpickler):
    """Reads probes pickled by this script run as ``__main__`` from any importer too."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "__main__":
            module = __name__
        return super().find_class(module, name)


def cached_probes(retrievers: Retrievers) -> list[Probe]:
    """The last run's probes (``--reuse``), with the names found by sound measured again
    (probes saved before them lack them)."""
    with (OUT / "quality-probes.pickle").open("rb") as handle:
        probes: list[Probe] = _Unpickler(handle).load()
    for p in probes:
        named = unrendered(retrievers[STORE_OF[p.set]], p.case)
        for c in p.candidates:
            c.names = share(named, c.text)
    return probes


def shipped_constants() -> tuple[Weights, dict[str, np.ndarray], dict[str, Sequence[str]]]:
    """The second stage's weights, each language's decision as [bias, *linear, *pairs,
    online_cut], and the features it reads, as ``retrieval.toml`` ships them."""
    shipped = retrieval.tuning()
    w = {
        lang: {k: shipped[f"second_stage_{lang}"][k] for k in ("coverage", "support", "entities")}
        for lang in ("zh", "other")
    }
    w["other"]["names"] = shipped["second_stage_names"]["other"]
    tables = {lang: shipped[f"decision_{lang}"] for lang in ("zh", "other")}
    betas = {
        lang: np.array([t["bias"], *t["linear"], *t["pairs"], t["online_cut"]])
        for lang, t in tables.items()
    }
    return w, betas, {lang: t["features"] for lang, t in tables.items()}


def shipped_sure() -> dict[str, float]:
    """Each language's sure cut as ``retrieval.toml`` ships it."""
    return {lang: retrieval.tuning()[f"decision_{lang}"]["sure_cut"] for lang in ("zh", "other")}


def decision_score(
    p: Probe, w: Weights, betas: dict[str, np.ndarray], read: dict[str, Sequence[str]],
    decision: Decision,
) -> float:  # fmt: skip
    """The decision's probability for one probe (offline it answers at 0.5 and above)."""
    return probability(p, decision.features(p, w), betas, read)


def probability(
    p: Probe, features: np.ndarray, betas: dict[str, np.ndarray], read: dict[str, Sequence[str]]
) -> float:
    """``decision_score`` from the probe's features (``Decision.features``) already read."""
    lang = "zh" if p.lang == "zh" else "other"
    x = features[columns(read[lang])]
    return float(decide(x[None, :], betas[lang][:-1])[0])


def report(
    probes: Sequence[Probe], w: Weights, betas: dict[str, np.ndarray],
    read: dict[str, Sequence[str]], decision: Decision, which: str, sure: dict[str, float],
) -> dict[str, dict[str, Any]]:  # fmt: skip
    """hit@k and both error rates per set; ``read``: the features each language's model reads.

    With the sure cuts: "hedged", the answerable questions answered with excerpts that say the
    passages may not answer them; "sure acceptance", the unanswerable ones answered without."""
    rows: dict[str, dict[str, Any]] = {}
    for set_name in dict.fromkeys(p.set for p in probes):
        chosen = [p for p in probes if p.set == set_name and half(p.case.qid) in which]
        if not chosen:
            continue
        row: dict[str, Any] = {"n": len(chosen)}
        accepted, online, certain = [], [], []
        for p in chosen:
            features = decision.features(p, w)
            lang = "zh" if p.lang == "zh" else "other"
            found = features[FEATURES.index("found")]
            verdict = retrieval.Verdict(
                probability(p, features, betas, read), betas[lang][-1], sure[lang],
                grounded=found > 0,
            )  # fmt: skip
            accepted.append(verdict.answers)
            online.append(verdict.for_model)
            certain.append(verdict.sure)
        if chosen[0].answerable:
            none = {"coverage": 0.0, "support": 0.0, "entities": 0.0}
            fused_only = {"zh": none, "other": none}
            row |= {
                **hits(chosen, w),
                "fused hit@1": hits(chosen, fused_only)["hit@1"],
                "dense hit@1": dense_hit1(chosen),
                "false refusal": round(1 - sum(accepted) / len(chosen), 3),
                "online": round(1 - sum(online) / len(chosen), 3),
                "hedged": round((sum(accepted) - sum(certain)) / len(chosen), 3),
            }
        else:
            row["false acceptance"] = round(sum(accepted) / len(chosen), 3)
            row["online"] = round(sum(online) / len(chosen), 3)
            row["sure acceptance"] = round(sum(certain) / len(chosen), 3)
        row["p50 ms"] = round(float(np.percentile([p.latency_ms for p in chosen], 50)), 1)
        rows[set_name] = row
    return rows


def dense_hit1(probes: Sequence[Probe]) -> float:
    """hit@1 by the dense side alone: the candidate with the highest cosine."""
    found = [max(p.candidates, key=lambda c: c.dense).relevant if p.candidates else False
             for p in probes]  # fmt: skip
    return round(sum(found) / (len(found) or 1), 3)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/quality.py")
    parser.add_argument("--limit-cmrc", type=int, default=1000)
    parser.add_argument("--per-set", type=int, help="ask at most this many questions per set")
    parser.add_argument("--tune", action="store_true", help="fit the constants on the tune halves")
    parser.add_argument(
        "--keep-stage", action="store_true", help="with --tune: keep the shipped second stage"
    )
    parser.add_argument(
        "--neardup", action="store_true", help="also build and ask the near-dup set"
    )
    parser.add_argument("--answers", action="store_true", help="offline answers' gold share")
    parser.add_argument(
        "--sure", action="store_true", help="place the sure cuts on the tune halves, then report"
    )
    parser.add_argument("--reuse", action="store_true", help="reuse the last run's probes")
    parser.add_argument("--sets", help="comma-separated set names to ask (default: all)")
    parser.add_argument(
        "--again", help="with --reuse: ask these sets again (comma-separated; neardup: both)"
    )
    parser.add_argument("--json", type=Path, help="write the report here too")
    args = parser.parse_args(argv)
    print(f"load average at start: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    base = load_settings()
    floors = {"zh": base.relevance_floor, "other": base.relevance_floor_other}
    embedder = CachedEmbedder()
    saved = OUT / "quality-probes.pickle"
    retrievers = Retrievers(base, embedder)
    if args.reuse and saved.is_file():
        # The candidates and their evidence as the last run measured them: re-tune or re-report
        # without asking again (valid while retrieval's first stage and evidence are unchanged).
        probes = cached_probes(retrievers)
        if args.again:  # what a change to the first stage moved, asked again
            again = set(args.again.split(","))
            neardup = any(name.startswith("neardup") for name in again)
            probes = [p for p in probes if p.set not in again]
            probes += build_probes(
                argparse.Namespace(**{**vars(args), "sets": args.again, "neardup": False}),
                retrievers,
            )
            if neardup:
                args.neardup = True
        if args.neardup:
            probes = [p for p in probes if not p.set.startswith("neardup")]
            probes += neardup_probes(retrievers)
        if args.again or args.neardup:
            saved.write_bytes(pickle.dumps(probes))
    else:
        probes = build_probes(args, retrievers)
        saved.write_bytes(pickle.dumps(probes))
    decision = Decision(retrievers, floors)
    w, betas, read = shipped_constants()
    sure = shipped_sure()
    if args.tune:
        if not args.keep_stage:
            w = {lang: tune_second_stage(probes, lang) for lang in ("zh", "other")}
            w["other"]["names"] = tune_names(probes, w)
        betas = {lang: tune_decision(probes, w, decision, lang) for lang in ("zh", "other")}
        for lang, weights in w.items():
            print(f"[second_stage_{lang}]")
            for key, value in weights.items():
                if key != "names":  # its own table, at the file's end
                    print(f"{key} = {value}")
        print(f"\n[second_stage_names]\nother = {w['other'].get('names', 0.0)}")
        read = {lang: DECISION_FORM[lang][0] for lang in ("zh", "other")}
    if args.tune or args.sure:
        sure = {lang: tune_sure(probes, w, decision, lang, read[lang]) for lang in ("zh", "other")}
        print(f"sure cuts (out of fold, tune halves): {sure}")
    if args.tune:
        for lang, beta in betas.items():
            n = len(read[lang])
            print(f"\n[decision_{lang}]")
            print("features = [" + ", ".join(f'"{name}"' for name in read[lang]) + "]")
            print(f"bias = {beta[0]:.6g}\nonline_cut = {beta[-1]:.6g}")
            print(f"sure_cut = {sure[lang]}")
            print("linear = [" + ", ".join(f"{v:.6g}" for v in beta[1 : n + 1]) + "]")
            print("pairs = [" + ", ".join(f"{v:.6g}" for v in beta[n + 1 : -1]) + "]")
    result = {
        "load_average": os.getloadavg()[0],
        "tune": report(probes, w, betas, read, decision, "tune", sure),
        "held": report(probes, w, betas, read, decision, "held", sure),
    }
    if args.answers:
        result["answers"] = offline_answers(probes, retrievers, floors)
        for name, row in result["answers"].items():
            print(f"  answers {name}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    for which in ("tune", "held"):
        print(f"\n{which} half:")
        for name, row in result[which].items():
            print(f"  {name:<15} " + "  ".join(f"{k} {v}" for k, v in row.items()))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
