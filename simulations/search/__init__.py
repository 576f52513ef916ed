"""Worst-case search under a statement's literal hypotheses (issue 11, items 1-5).

``space`` (parametrised instance spaces), ``engine`` (CMA-ES with restarts, budgets, replayable
cases), one module per group of statements (``online``: Theorem 1 / Corollary 1; ``nonconvex``:
Theorem 2 / Corollary 2; ``stepsize``: Section 3.1; ``assumption5``: Assumption 5's satisfiability;
``smooth``: gradient descent's tight bound, the engine's own control), the exponent fits of the
asymptotic statements (``rate``: Corollary 2's rate in T; ``escape_rate``: Lemma 1's exponent in
upsilon), ``statements`` (the registry) and ``experiment`` (the run contract).
"""
