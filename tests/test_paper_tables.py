"""Tables 2-6: the transcription against the paper text, Welch and Holm against scipy and hand
computations, and the verdict rule (holds / not-significant / fails) on planted tables."""
import copy
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from proofs_check import tables as T

PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper" / "adamomentum-paper.txt"


def _normalise(raw: str) -> str:
    """The OCR repairs the transcription documents ('o∙19', '0∙19' -> 0.19), spaces around ± removed."""
    return re.sub(r"\s*±\s*", "±", raw.replace("o∙", "0.").replace("0∙", "0."))


def test_holm_matches_a_hand_computed_case():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> running max 0.06
    assert T.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02], abs=1e-15)
    assert T.holm([0.5, 0.9]) == [1.0, 1.0]  # capped at 1
    assert T.holm([]) == []
    assert T.holm([0.2]) == [0.2]
    with pytest.raises(ValueError, match="p-values"):
        T.holm([0.1, 1.5])


def test_holm_rejects_what_bonferroni_rejects_and_is_monotone():
    rng = np.random.default_rng(0)
    for _ in range(200):
        p = rng.uniform(0, 0.2, size=rng.integers(1, 12)).tolist()
        adj = T.holm(p)
        m = len(p)
        assert all(a <= min(1.0, m * x) + 1e-15 and a >= x - 1e-15 for a, x in zip(adj, p))
        order = np.argsort(p, kind="stable")
        assert all(adj[order[i]] <= adj[order[i + 1]] + 1e-15 for i in range(m - 1))


def test_welch_from_summary_matches_scipy_on_samples():
    rng = np.random.default_rng(1)
    a, b = rng.normal(12.0, 0.2, 5), rng.normal(12.5, 0.15, 5)
    ref = stats.ttest_ind(a, b, equal_var=False)
    got = T.welch(a.mean(), a.std(ddof=1), 5, b.mean(), b.std(ddof=1), 5)
    assert got["t"] == pytest.approx(ref.statistic, rel=1e-12)
    assert got["p"] == pytest.approx(ref.pvalue, rel=1e-10)
    assert got["dof"] == pytest.approx(float(ref.df), rel=1e-12)


def test_welch_matches_the_closed_form_on_table_2():
    # AdaMomentum 12.06 +- 0.21 vs AdaBelief 12.52 +- 0.16, 5 seeds each
    se = math.sqrt(0.21**2 / 5 + 0.16**2 / 5)
    dof = se**4 / ((0.21**2 / 5) ** 2 / 4 + (0.16**2 / 5) ** 2 / 4)
    got = T.welch(12.06, 0.21, 5, 12.52, 0.16, 5)
    assert got["t"] == pytest.approx((12.06 - 12.52) / se, rel=1e-12)
    assert got["dof"] == pytest.approx(dof, rel=1e-12)
    assert got["p"] == pytest.approx(2 * stats.t.sf(abs(got["t"]), dof), rel=1e-10)


def test_welch_and_f_test_reject_bad_input():
    with pytest.raises(ValueError, match="n_a"):
        T.welch(1, 1, 1, 1, 1, 5)
    with pytest.raises(ValueError, match="std_b"):
        T.welch(1, 1, 5, 1, 0, 5)
    with pytest.raises(ValueError, match="stds"):
        T.variance_f_test(0, 5, 1, 5)


def test_variance_f_test_closed_form():
    assert T.variance_f_test(0.2, 5, 0.2, 5)["p"] == pytest.approx(1.0, abs=1e-12)
    got = T.variance_f_test(0.24, 5, 0.11, 5)
    f = 0.24**2 / 0.11**2
    assert got["F"] == pytest.approx(f, rel=1e-12)
    assert got["p"] == pytest.approx(2 * stats.f(4, 4).sf(f), rel=1e-10)


def test_every_number_is_in_its_quoted_line_in_column_order():
    for table in T.load_tables().values():
        assert table["seeds"] == 5 and table["seeds_quote"] and table["caption"]
        for row in table["rows"]:
            assert list(row["cells"]) == table["columns"]
            text = _normalise(row["raw"])
            position = 0
            for name, cell in row["cells"].items():
                token = f"{cell['mean']:.2f}±{cell['std']:.2f}"
                found = text.find(token, position)
                assert found >= 0, (table["table"], row["row"], name, token, text)
                position = found + len(token)


@pytest.mark.skipif(not PAPER.exists(), reason="the paper text is not next to the repository")
def test_quoted_lines_are_the_papers_lines():
    lines = PAPER.read_text(encoding="utf-8").split("\n")
    for table in T.load_tables().values():
        assert lines[table["seeds_line"] - 1].strip() == table["seeds_quote"]
        assert lines[table["caption_line"] - 1].strip() in table["caption"]
        for row in table["rows"]:
            assert lines[row["line"] - 1] == row["raw"]
        for claim in table["claims"]:
            assert lines[claim["quote_line"] - 1].strip() in claim["quote"]


def test_paper_verdicts_carry_their_numbers():
    results = {t: T.row_verdicts(t) for t in T.load_tables()}
    verdicts = {t: [(r.details["row"], r.details["kind"], r.verdict) for r in rs] for t, rs in results.items()}
    assert verdicts["table-2"] == [("SN-GAN, CIFAR-10", "better_than", "holds")]
    # AdaBelief 94.74±0.14 vs 95.08±0.19: raw p 0.014, Holm over the 18 'beats' tests only (the three
    # SGDM 'as good as' rows, which can never confirm anything, form their own family): significant.
    assert ("DenseNet-121", "better_than", "holds") in verdicts["table-3"]
    assert all(v == "unchecked" for _, kind, v in verdicts["table-3"] if kind == "as_good_as")
    assert verdicts["table-4"] == [("ResNet-18, ImageNet", "better_than", "not-significant")]
    assert {v for _, _, v in verdicts["table-5"]} == {"holds"}
    assert ("Transformer small, IWSLT'14 DE-EN", "lowest_std", "not-significant") in verdicts["table-6"]
    for rs in results.values():
        for r in rs:
            assert "line" in r.evidence
            for comp in r.details.get("comparisons", []):
                assert f"{comp['theirs']['mean']:g}" in r.evidence or comp["other"] in r.evidence


def _planted(ours, other, better="higher"):
    base = copy.deepcopy(T.load_tables())
    table = base["table-4"]
    table["better"] = better
    table["columns"] = ["X", "AdaMomentum"]
    table["rows"] = [{"row": "r", "line": 1, "raw": "", "cells": {"X": {"mean": other, "std": 0.1},
                                                               "AdaMomentum": {"mean": ours, "std": 0.1}}}]
    table["claims"] = [{"quote_line": 1, "quote": "", "rows": ["r"], "better_than": ["X"], "as_good_as": []}]
    return base


@pytest.mark.parametrize("ours, other, better, expected", [
    (10.0, 9.0, "higher", "holds"),
    (10.0, 9.98, "higher", "not-significant"),
    (9.0, 10.0, "higher", "fails"),
    (9.0, 10.0, "lower", "holds"),
    (10.0, 9.0, "lower", "fails"),
])
def test_verdict_rule_on_planted_tables(ours, other, better, expected):
    (result,) = T.row_verdicts("table-4", _planted(ours, other, better))
    assert result.verdict == expected
