"""Section 3.2 (Lemma 1, Proposition 1, Assumptions 1, 3, 5): Levy-driven escape times from a basin.

The paper models an optimizer near a minimum by eq. (3), d theta = -q R^-1 m dt + upsilon R^-1 sigma dL
(alpha-stable L), and claims that the expected escape time E Gamma scales like upsilon / m(Upsilon)
(Lemma 1) and that AdaMomentum stays longer than Adam in flat basins and asymmetric valleys
(Proposition 1). This subpackage simulates three dynamics side by side: ``flow`` (the driftless /
quadratic Levy flow with known exit times: Getoor, Imkeller-Pavlyukevich), ``sde`` (eq. (3) itself,
family members only) and ``discrete`` (any update rule stepped with noisy gradients), and checks each
statement's hypotheses along the same runs. Roles: :mod:`.problems` (basins, known answers),
:mod:`.simulate` (batched torch simulators), :mod:`.estimate` (censored mean escape time, ratios,
fitted exponents), :mod:`.reference` (per-path float64 loops, the test oracle), :mod:`.summary`
(one run's numbers and assumption checks), :mod:`.verdicts` (ledger rows for a subject against a
baseline), :mod:`.figures`, :mod:`.experiment` (configs, presets, ``run_scale``, ``ledger_rows``).
"""
