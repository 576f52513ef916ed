"""The toy experiments: Section 5.1.1 / Figure 2 / Appendix A and Section 3.1 / Figure 1.

``problems`` holds Appendix A's four 2-D functions (Sphere, Three-Hump Camel, Beale, Ackley) with
their stratified starts and Figure 1's 1-D loss curve with its areas A, B, C; ``simulate`` runs any
update rule from every start at once (paired gradient noise); ``summary`` turns hitting times into
restricted means, reach proportions and paired subject-minus-other intervals; ``stepsize`` is the
Figure 1 sweep (effective stepsizes of a subject and a baseline along the curve, per area);
``verdicts`` gives the ledger rows ``sec5.1.1-toy-fastest`` ("the subject reaches the optimum the
fastest in all the cases") and ``sec3.1-area-A/B/C``; ``figures`` draws Figures 1 and 2 and writes
the record; ``experiment`` holds the configs, the presets, ``run_scale`` and ``ledger_rows``.
Nothing is imported here: use ``from simulations.toys import experiment``.
"""
