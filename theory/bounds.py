"""Right-hand sides of the paper's bounds, computed from a run's own quantities.

Pure functions (torch or numpy in, floats or tensors out); no I/O. Sections:
Theorem 1 / Corollary 1 (online regret), Theorem 2 / Corollary 2 (nonconvex),
Lemma 1 / Proposition 1 quantities (escape set, ellipsoid volume).
"""
from __future__ import annotations

# ---- Theorem 1 / Corollary 1 (online convex regret) ---------------------------------------

# ---- Theorem 2 / Corollary 2 (nonconvex) ----------------------------------------------------

# ---- Lemma 1 / Proposition 1 (escape set, ellipsoid volume) --------------------------------
