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
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from train_compliance_model import HELD_OUT_SPLITS, training_rows
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    rows = json.loads(FRESH_SET.read_text(encoding="utf-8"))["sentences"]
    held = {r["text"] for r in rows if r["split"] in HELD_OUT_SPLITS}
    trained = {text for text, _ in training_rows()}
    assert len(held) == 400 and len(trained) >= 2300
    assert not held & trained


def test_seventh_batch_held_half_stays_at_its_measured_figures() -> None:
    """batch7_heldout (half of a batch written blind by a separate engineer; never trained on,
    measured once on the rules and model frozen before it; README, "Seventh pass"): a
    regression guard at the measured figure, not the issue's target, which it misses."""
    rows = json.loads(FRESH_SET.read_text(encoding="utf-8"))["sentences"]
    held = [r for r in rows if r["split"] == "batch7_heldout"]
    assert len(held) == 100
    recall, false_positives = split_figures(held)
    assert recall >= 0.80  # 0.800 (48 of 60); the sixth pass 0.700
    assert false_positives <= 0.10  # 0.100 (4 of 40); the sixth pass 0.150


def test_held_halves_of_batches_nine_and_ten_stay_at_their_measured_figures() -> None:
    """batch9_heldout and batch10_heldout (written blind by a fourth and a fifth engineer; never
    tuned or trained on; measured once on the ninth pass frozen; README, "Ninth pass"): a
    regression guard at the measured figures, not the issue's target, which they miss."""
    rows = json.loads(FRESH_SET.read_text(encoding="utf-8"))["sentences"]
    ninth = [r for r in rows if r["split"] == "batch9_heldout"]
    tenth = [r for r in rows if r["split"] == "batch10_heldout"]
    assert (len(ninth), len(tenth)) == (100, 200)
    recall, false_positives = split_figures(ninth)
    assert recall >= 0.86 and false_positives <= 0.075  # 0.867 (52 of 60) · 0.075 (3 of 40)
    recall, false_positives = split_figures(tenth)
    assert recall >= 0.85 and false_positives <= 0.06  # 0.850 (85 of 100) · 0.060 (6 of 100)


def test_tune_halves_of_batches_nine_and_ten_stay_at_their_figures_as_training_data() -> None:
    """batch9_tune and batch10_tune are tuned on by the rules and trained on by the model since
    the ninth pass (README, "Ninth pass"): in-sample figures, a regression guard and not a
    measure of generalisation. Their held halves are measured once, never trained on."""
    rows = json.loads(FRESH_SET.read_text(encoding="utf-8"))["sentences"]
    tune = [r for r in rows if r["split"] in ("batch9_tune", "batch10_tune")]
    assert len(tune) == 300
    recall, false_positives = split_figures(tune)
    assert recall == 1.0  # 160 of 160
    assert false_positives <= 0.025  # 3 of 140, all batch 10's and the model's


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
    assert recall >= 0.99 and false_positives <= 0.04  # ninth pass 0.995 · 0.035 (7, the model's)


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
