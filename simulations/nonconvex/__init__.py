"""Nonconvex gradient-norm decay against Theorem 2 and Corollary 2 (Section 4.2, Appendix C.2).

``problems`` holds the stochastic test problems with known smoothness L and gradient bound H
(Assumptions 2 and 4); ``simulate`` runs any update rule on them, batched over seeds, and monitors
Theorem 2's hypotheses (Chen et al.'s framework alpha_t m_t / sqrt(v_t)); ``summary`` turns the
runs into min_t E||grad f||^2 with intervals, the fitted rate next to Corollary 2's
(1 + log T)/sqrt(T) envelope, and Theorem 2's right-hand side; ``verdicts`` gives the ledger rows
theorem-2, corollary-2, assumption-2 and assumption-4 for a subject (default AdaMomentum) and a
baseline (default Adam); ``figures`` draws them; ``experiment`` holds the configuration, the
presets and ``run_scale`` / ``ledger_rows``. Nothing is imported here: use
``from simulations.nonconvex import experiment``.
"""
