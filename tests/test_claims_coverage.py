"""Every numbered statement of the paper has a claim in the ledger, and every claim says where it
is and what it states."""
import re
from pathlib import Path

import pytest

from proofs_check import ledger as L

PAPER = Path(__file__).resolve().parents[2] / "shared" / "paper" / "adamomentum-paper.txt"
KINDS = ("Definition", "Assumption", "Lemma", "Proposition", "Theorem", "Corollary")
# The numbered statements of the paper (main text and appendices), as the scan below finds them.
NUMBERED = {
    "definition": range(1, 3), "assumption": range(1, 6), "lemma": range(1, 12),
    "proposition": range(1, 2), "theorem": range(1, 6), "corollary": range(1, 3),
}


def _ids(numbered):
    return {f"{kind}-{n}" for kind, ns in numbered.items() for n in ns}


def test_every_numbered_statement_has_a_claim():
    missing = _ids(NUMBERED) - set(L.CLAIM_IDS)
    assert not missing, f"numbered statements without a claim: {sorted(missing)}"


@pytest.mark.skipif(not PAPER.exists(), reason="the paper text is not next to the repository")
def test_the_numbered_list_is_the_papers():
    text = PAPER.read_text(encoding="utf-8")
    found: dict[str, set[int]] = {}
    for kind, number in re.findall(rf"\b({'|'.join(KINDS)}) (\d+)\b", text):
        found.setdefault(kind.lower(), set()).add(int(number))
    # "Lemma 1" is OCR'd as "LemmaL" where it is stated; it is named elsewhere ("Proof of Lemma 1").
    assert {k: sorted(v) for k, v in found.items()} == {k: list(v) for k, v in NUMBERED.items()}


def test_every_claim_has_where_statement_and_sources():
    assert len(set(L.CLAIM_IDS)) == len(L.CLAIM_IDS)
    for claim in L.CLAIMS:
        assert claim["where"].strip() and claim["statement"].strip() and claim["sources"], claim["id"]


def test_claims_without_a_check_say_what_would_check_them():
    checked = {claim for claim, _ in L.symbolic_checks()}
    for claim in L.CLAIMS:
        if claim.get("unchecked"):
            assert claim["id"] not in checked, f"{claim['id']} has a check and an 'unchecked' text"
            assert len(claim["unchecked"]) > 30
    ledger = L.build_ledger([])
    reasons = {e["claim"]: e.get("reason", "") for e in ledger}
    assert "Zhou et al. (2020)" in reasons["theorem-4"] and "Chen et al. (2019)" in reasons["lemma-7"]


def test_every_new_claim_has_a_check_or_a_reason():
    checked = {claim for claim, _ in L.symbolic_checks()}
    for claim in L.CLAIMS:
        if claim["sources"] == ["proofs"]:
            assert claim["id"] in checked or claim.get("unchecked"), claim["id"]


# ---- the checks of proofs_check.paper_claims: each one can change its verdict ------------------

from proofs_check import paper_claims as P  # noqa: E402


def test_lemma_1_log_condition_and_its_variants():
    assert P.check_lemma_1_log_condition().verdict == "holds"
    assert P.check_lemma_1_log_condition(beta1=0.4, beta2=0.999).verdict == "unchecked"  # b2 > 2 b1: outside Assumption 3
    assert P.check_lemma_1_vs_theorem_3_log_condition().verdict == "fails"
    assert P.check_lemma_1_vs_theorem_3_log_condition(upsilon=1.0).verdict == "holds"  # the readings meet at 1
    assert P.check_lemma_1_measure_strictness().verdict == "fails"


def test_rate_checks():
    t1 = P.check_theorem_1_rate()
    assert t1.verdict == "fails" and abs(t1.details["numeric_slope"] - 1.5) < 0.01
    c1 = P.check_corollary_1_rate()
    assert c1.verdict == "fails" and "O~ reading holds" in c1.evidence
    assert P.check_corollary_1_vanishing_regret().verdict == "proved"
    assert P.check_corollary_2_rate().verdict == "proved"


def test_consistency_checks_and_variants():
    assert P.check_beta1_schedule_consistency().verdict == "fails"
    assert P.check_diameter_consistency().verdict == "fails"
    assert P.check_diameter_consistency(iterates=(1.0, 1.1), theta_star=1.05).verdict == "holds"
    assert P.check_eps_consistency().verdict == "fails"
    assert P.check_eps_consistency(eps_value=0.0).verdict == "holds"
    assert P.check_eta_consistency().verdict == "fails"
    assert P.check_eta_consistency(alpha=10.0, horizons=(1, 10, 100)).verdict == "holds"
    assert P.check_escape_set_consistency(reading="in").verdict == "fails"  # as OCR'd: complements
    assert P.check_escape_set_consistency(reading="not-in").verdict == "holds"  # Zhou et al.'s symbol
    assert P.check_escape_set_consistency().verdict == "unchecked"  # the OCR cannot tell them apart


def test_debiased_stepsize_factor_is_a_step_and_can_fail():
    row = P.check_debiased_stepsize_factor()
    assert row.verdict == "holds" and row.scope == "step"
    assert P.check_debiased_stepsize_factor(beta1=0.0, beta2=0.999).verdict == "holds"
    # a slowly debiased momentum (b1 near 1) with a small b2: the factor exceeds 1 at t = 1
    assert P.check_debiased_stepsize_factor(beta1=0.9999, beta2=0.5, horizon=2000).verdict == "fails"


def test_theorem_2_conditions_example_and_variant():
    assert P.check_theorem_2_conditions_example().verdict == "fails"  # the stepsize condition, beta1/t reading
    assert P.check_theorem_2_conditions_example(g_after=1.0, literal_schedule=True).verdict == "fails"  # 1/t
    # the beta1/t reading with a gradient that does not shrink meets the conditions
    assert P.check_theorem_2_conditions_example(g_after=1.0, literal_schedule=False).verdict == "holds"
    assert P.check_theorem_2_conditions_example(literal_schedule=False).verdict == "fails"


def test_tuning_tables():
    dep = P.default_departures()
    assert dep["AdaMomentum"]["departures"] == [("table-12", "alpha", 0.0005)]
    assert dep["AdaMomentum"]["tables"] == 6 and dep["RAdam"]["departures"] == []
    assert dep["Adam"]["unreadable"] == [("table-10", "beta1")]
    assert P.check_default_setting().verdict == "holds"
    little = P.check_little_tuning()
    assert little.verdict == "unchecked" and "RAdam" in little.evidence


@pytest.mark.skipif(not PAPER.exists(), reason="the paper text is not next to the repository")
def test_hyperparameter_lines_are_the_papers():
    lines = PAPER.read_text(encoding="utf-8").split("\n")
    data = P.load_hyperparameters()
    for table in data["tables"]:
        assert lines[table["caption_line"] - 1].strip() == table["caption"]
        for name, number in table["lines"].items():
            assert lines[number - 1] == table["raw"][name]
            for value in (v[name] for v in table["values"].values()):
                assert value is None or value > 0
        printed = [float(x) for x in re.findall(r"\d+\.\d+", table["raw"]["alpha"])]
        assert printed == [v["alpha"] for v in table["values"].values()], table["table"]
