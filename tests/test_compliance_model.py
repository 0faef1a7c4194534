"""The meaning-level model beside the rules: what it adds, what it leaves alone, what it says."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from assistant.compliance import check_rules, check_text, lint, remove_blocked, rules
from assistant.compliance_model import model
from tests.test_compliance import FRESH_SET, split_figures

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "knowledge" / "000_bb0ece290725cdd0.txt"

# Written for these tests, after training: no rule phrase and no training sentence has them.
UNSEEN_PROMISE = "We'll make sure you never lose a cent on this one."
UNSEEN_MAKE_GOOD = "放心买，亏了公司给你补上。"


def test_a_promise_in_words_no_rule_lists_is_a_likely_guarantee() -> None:
    assert check_rules(UNSEEN_PROMISE) == []
    (finding,) = check_text(UNSEEN_PROMISE)
    assert finding.category == "guarantee"
    assert finding.rule == "LIKELY-GUARANTEE"
    assert (finding.start, finding.end) == (0, len(UNSEEN_PROMISE))
    assert not lint(UNSEEN_PROMISE).ok


def test_a_likely_finding_names_its_category_legal_basis_and_that_it_is_likely() -> None:
    findings = [f for f in check_text(UNSEEN_MAKE_GOOD) if f.rule.startswith("LIKELY-")]
    assert [f.category for f in findings] == ["guarantee"]
    guarantee = rules().primary("guarantee")
    assert findings[0].basis == guarantee.basis
    assert "第二十四条" in findings[0].basis
    assert findings[0].suggestion.startswith("疑似违规（likely guarantee")
    assert findings[0].suggestion.endswith(guarantee.suggestion)


def test_a_likely_finding_is_a_warning_and_the_sentence_stays() -> None:
    text = f"推理需求在上升。{UNSEEN_MAKE_GOOD}"
    likely = [f for f in check_text(text) if f.rule.startswith("LIKELY-")]
    assert likely and all(f.severity == "warn" for f in likely)
    assert remove_blocked(text, likely) == text


def test_sourced_comparison_and_required_disclosures_are_not_flagged() -> None:
    for text in (
        "截至2024年12月31日，本基金近一年净值增长率为12.3%，同期业绩比较基准收益率为9.1%，"
        "同类平均为8.1%（数据来源：基金2024年年度报告）。",
        "Over the five years to 31 December 2024 the fund returned 41% against 35% for its "
        "benchmark and a peer average of 30% (source: Morningstar).",
        "基金管理人不保证基金一定盈利，也不保证最低收益。",
        "The fund is not guaranteed and you may get back less than you invested.",
        "本基金风险等级为R3，适合风险承受能力为C3及以上的投资者。",
        "本回答由人工智能生成，不构成投资建议。",
    ):
        assert check_text(text) == [], text


def test_the_whole_seed_article_has_no_finding_from_rules_or_model() -> None:
    assert check_text(SEED.read_text(encoding="utf-8")) == []


def test_a_sentence_that_forbids_or_reports_is_left_to_the_rules() -> None:
    # The model sees the promise in both; the rules know a prohibition and a case report.
    assert check_text(f"销售人员不得对投资者说“{UNSEEN_MAKE_GOOD[:-1]}”。") == []
    assert model().likely([UNSEEN_MAKE_GOOD])[0]


def _trainer() -> ModuleType:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import train_compliance_model
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    return train_compliance_model


def test_the_model_never_trained_on_a_held_out_sentence() -> None:
    """Every split in the fixture is training data since the fourteenth pass (the held halves of
    batches 11, 13 and 14 were measured and are spent); batch 15 is held out, whole or in halves,
    whatever door a sentence might come in by. A batch left out to validate a setting
    (``--validate``) is left out whole, rule examples and knowledge sentences included."""
    trainer = _trainer()
    assert all(trainer.held_out(s) for s in ("batch15", "batch15_tune", "batch15_heldout"))
    spent_splits = ("batch7_heldout", "batch10_heldout", "batch11_tune", "batch12_train")
    spent_splits += ("batch11_heldout", "batch13_heldout", "batch14_heldout", "batch14_tune")
    assert not any(trainer.held_out(s) for s in spent_splits)
    rows = json.loads(FRESH_SET.read_text(encoding="utf-8"))["sentences"]
    held = {r["text"] for r in rows if trainer.held_out(r["split"])}
    spent = {r["text"] for r in rows if not trainer.held_out(r["split"])}
    trained = {text for text, _ in trainer.training_rows()}
    assert len(trained) >= 4400 and spent <= trained
    assert not held & trained
    twelfth = {r["text"] for r in rows if r["split"] == "batch12_train"}
    assert len(twelfth) == 385
    assert not twelfth & {text for text, _ in trainer.training_rows(("batch12",))}


def test_batch_fifteen_is_never_trained_on_when_it_arrives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lead merges batch 15 after the freeze, whole or cut in halves; neither the batch nor a
    sentence of it that is also a rule example or a knowledge sentence comes into training."""
    trainer = _trainer()
    doc = json.loads(FRESH_SET.read_text(encoding="utf-8"))
    example = rules().primary("guarantee").examples_positive[0]
    arriving = [
        {"text": "这只基金闭着眼睛买，年底翻倍没问题。", "category": "forecast", "near": None},
        {"text": example, "category": "guarantee", "near": None},
        {
            "text": "Past returns say nothing about next year's.",
            "category": None,
            "near": "forecast",
        },
    ]
    for fixture in ("compliance_sentences.jsonl", "compliance_fresh.json"):
        (tmp_path / fixture).write_bytes((trainer.FIXTURES / fixture).read_bytes())
    monkeypatch.setattr(trainer, "FIXTURES", tmp_path)
    before = {text for text, _ in trainer.training_rows()}
    assert example in before
    for splits in (["batch15"] * 3, ["batch15_tune", "batch15_heldout", "batch15_tune"]):
        extra = [{**row, "split": split} for row, split in zip(arriving, splits, strict=True)]
        merged = {**doc, "sentences": [*doc["sentences"], *extra]}
        (tmp_path / "compliance_fresh.json").write_text(json.dumps(merged), encoding="utf-8")
        trained = {text for text, _ in trainer.training_rows()}
        assert not {row["text"] for row in arriving} & trained
        assert trained == before - {example}


def test_seventh_and_eighth_batches_stay_at_their_figures_as_training_data() -> None:
    """batch7_tune and batch8_train are tuned on by the rules and trained on by the model since
    the seventh pass: in-sample figures, a regression guard and not a measure of generalisation."""
    rows = json.loads(FRESH_SET.read_text(encoding="utf-8"))["sentences"]
    tune = [r for r in rows if r["split"] == "batch7_tune"]
    train = [r for r in rows if r["split"] == "batch8_train"]
    assert (len(tune), len(train)) == (100, 400)
    recall, false_positives = split_figures(tune)
    assert recall == 1.0 and false_positives <= 0.025  # 1 of 40, the model's, since the ninth pass
    recall, false_positives = split_figures(train)
    # 0.995 · 0.045 (9, the model's) since the tenth pass trains on 700 more sentences (7 before).
    assert recall >= 0.99 and false_positives <= 0.045


def test_spent_held_halves_and_batch_twelve_stay_at_their_figures_as_training_data() -> None:
    """Both halves of batches 7, 9 and 10 and batch12_train are tuned on by the rules and trained
    on by the model since the tenth pass (README, "Tenth pass"): in-sample figures, a regression
    guard and not a measure of generalisation; the leave-one-batch-out figures are that."""
    rows = json.loads(FRESH_SET.read_text(encoding="utf-8"))["sentences"]
    spent = [r for r in rows if r["split"].startswith(("batch7_", "batch9_", "batch10_"))]
    twelfth = [r for r in rows if r["split"] == "batch12_train"]
    assert (len(spent), len(twelfth)) == (800, 385)
    recall, false_positives = split_figures(spent)
    # 440 of 440 · 18 of 360 (9 the rules') until the fourteenth pass; 438 · 12 since the model
    # also trains on the held halves of batches 11, 13 and 14: two batch10_tune violations told as
    # a shrug ("all you need to know is it goes up", "12,000 members already on board") lost.
    assert recall >= 0.995 and false_positives <= 0.05
    recall, false_positives = split_figures(twelfth)
    # 195 of 195 · 14 of 190 (10 the rules' own) until the thirteenth pass; 194 · 10 (9 the
    # rules') since the model reads a sentence whole across its semicolons and was retrained with
    # the tune halves of batches 13 and 14: it lost one guarantee told as a roadshow Q&A.
    assert recall >= 0.99 and false_positives <= 0.075


def test_batches_four_to_six_stay_at_their_figures_as_training_data() -> None:
    """Since the sixth pass both halves of batches 4-6 are training data (README, "Sixth pass"):
    in-sample figures, a regression guard and not a measure of generalisation."""
    rows = json.loads(FRESH_SET.read_text(encoding="utf-8"))["sentences"]
    batches = [r for r in rows if r["split"].startswith(("batch4", "batch5", "batch6"))]
    assert len(batches) == 590
    recall, false_positives = split_figures(batches)
    assert recall >= 0.98  # 1.000 (360 violations) when the sixth pass froze the model
    # 1 of 230 then; 3 since the model also trains on batches 7 and 8 (the rules' own: 1); 4
    # since the fourteenth pass (a minimum subscription amount read as a likely inducement).
    assert false_positives <= 0.0175
