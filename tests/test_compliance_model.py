"""The meaning-level model beside the rules: what it adds, what it leaves alone, what it says."""

from __future__ import annotations

import json
import sys
from pathlib import Path

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


def test_the_model_never_trained_on_a_held_out_sentence() -> None:
    """The held halves of batches 11, 13 and 14 are never training data, whatever door a sentence
    might come in by; every other split is (see the trainer). A batch left out to validate a setting
    (``--validate``) is left out whole, rule examples and knowledge sentences included."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from train_compliance_model import held_out, training_rows
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    assert held_out("batch13_heldout") and held_out("batch14_heldout")
    assert held_out("batch11_heldout")
    spent_splits = ("batch7_heldout", "batch10_heldout", "batch11_tune", "batch12_train")
    spent_splits += ("batch13_tune", "batch14_tune")
    assert not any(held_out(s) for s in spent_splits)
    rows = json.loads(FRESH_SET.read_text(encoding="utf-8"))["sentences"]
    held = {r["text"] for r in rows if held_out(r["split"])}
    spent = {r["text"] for r in rows if not held_out(r["split"])}
    trained = {text for text, _ in training_rows()}
    assert len(trained) >= 2900 and spent <= trained
    assert not held & trained
    twelfth = {r["text"] for r in rows if r["split"] == "batch12_train"}
    assert len(twelfth) == 385
    assert not twelfth & {text for text, _ in training_rows(("batch12",))}


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
    assert recall == 1.0 and false_positives <= 0.05  # 440 of 440 · 18 of 360 (9 the rules')
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
    # 1 of 230 then; 3 since the model also trains on batches 7 and 8 (the rules' own: 1).
    assert false_positives <= 0.015
