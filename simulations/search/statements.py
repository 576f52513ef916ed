"""The registry: (claim, reading) -> a statement the engine searches.

``printed`` readings decide a verdict; the others (what the proof needs) are evidence beside it.
"""
from __future__ import annotations


def _builders() -> dict:
    from simulations.search import assumption5, nonconvex, online, proposition1, smooth, stepsize

    return {
        "control-gd-smooth-convex": (smooth.GradientDescentBound, ("printed",)),
        "theorem-1": (online.Theorem1, online.THEOREM1_READINGS),
        "corollary-1": (online.Corollary1, online.COROLLARY1_READINGS),
        "theorem-2": (nonconvex.Theorem2, nonconvex.THEOREM2_READINGS),
        "corollary-2": (nonconvex.Corollary2, nonconvex.COROLLARY2_READINGS),
        "sec3.1-limiting-stepsizes": (stepsize.LimitingStepsizes, stepsize.LIMITING_READINGS),
        "sec3.1-stepsize-ordering": (stepsize.StepsizeOrdering, stepsize.ORDERING_READINGS),
        "assumption-5": (assumption5.Assumption5, assumption5.READINGS),
        "proposition-1": (proposition1.Proposition1, proposition1.READINGS),
    }


def claims() -> tuple[str, ...]:
    return tuple(_builders())


def readings(claim: str) -> tuple[str, ...]:
    builders = _builders()
    if claim not in builders:
        raise ValueError(f"unknown statement {claim!r}; valid: {', '.join(builders)}")
    return builders[claim][1]


def make(claim: str, reading: str | None = None, **options):
    """Build one statement; a bad claim, reading or option fails here, before any work."""
    cls, valid = _builders().get(claim, (None, ()))
    if cls is None:
        raise ValueError(f"unknown statement {claim!r}; valid: {', '.join(_builders())}")
    reading = valid[0] if reading is None else reading
    if reading not in valid:
        raise ValueError(f"statement {claim}: reading must be one of {valid}, got {reading!r}")
    try:
        return cls(reading=reading, **options)
    except TypeError as err:
        raise ValueError(f"statement {claim}: bad option ({err})") from None
