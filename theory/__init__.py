"""The paper's mathematics as code: the Adam-type family, AdaMomentum, bounds and monitors.

Pure functions, no I/O and no plots; nothing here imports :mod:`simulations` or
:mod:`proofs_check`.
"""
from theory.family import REGISTRY, Hyper, Member, State, get_member, init_state, step_
from theory.optim import AdaMomentum

__all__ = ["AdaMomentum", "REGISTRY", "Hyper", "Member", "State", "get_member", "init_state", "step_"]
