"""Online regret against sqrt(T): Theorem 1 and Corollary 1 of the paper (Section 4.1, Appendix C.1).

Claims ``theorem-1`` (R(T) <= the right-hand side of Theorem 1 under v_t <= v_{t+1} and
gamma = beta1/sqrt(beta2) < 1, for the method without bias correction) and ``corollary-1``
(R(T)/T = O~(1/sqrt(T)) with beta1_t = beta1 lam^t), checked on a subject (default AdaMomentum) and
on ``adamomentum-max``, the registry member for which v_t <= v_{t+1} holds by construction; Reddi et
al.'s 1-D problem (Adam -> +1, AMSGrad -> -1) and a counterexample search sit alongside. Roles:
:mod:`.problems` (the online problems and their comparators), :mod:`.simulate` (the batched runs of
one update rule, Theorem 1's right-hand side and its hypothesis monitors), :mod:`.summary` (intervals
over seeds, bound checks, the Reddi reproduction), :mod:`.search` (counterexample search, replayable
configs), :mod:`.verdicts` (ledger rows for a subject), :mod:`.figures` (every output file) and
:mod:`.experiment` (configs, presets, ``run``, ``run_scale``, ``ledger_rows``). Nothing is imported
here: ``from simulations.regret import experiment``.
"""
