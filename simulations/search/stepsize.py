"""Section 3.1's stepsize statements, searched over (eps, beta2, vhat') in closed form.

The actual stepsizes with bias correction (Section 3.1, Algorithm 1; vhat' = the debiased EMA of
k_t^2 without eps): AdaMomentum a / sqrt(vhat' + eps / (1 - b2)) (eps inside, accumulated),
Adam a / (sqrt(vhat') + eps). The premise "vhat' ~ 0, far below eps" is read as vhat' <= 0.01 eps
(``printed``) or vhat' <= 1e-6 eps (``strict``: "far below" as six orders of magnitude).

* sec3.1-limiting-stepsizes: each stepsize is within 10% of its stated limit,
  sqrt(1 - b2) a / sqrt(eps) and a / eps; ratio = max over the two of |stepsize / limit - 1| / 0.1.
* sec3.1-stepsize-ordering: AdaMomentum's stepsize is smaller than Adam's at the same vhat' (ratio =
  AdaMomentum / Adam, violated above 1); ``much-smaller`` reads "<<" as at least tenfold (ratio / 0.1).
"""
from __future__ import annotations

import math

from simulations.search.common import check_planted, margin, planted_factor
from simulations.search.space import Param, Variant

LIMITING_READINGS = ("printed", "strict")
ORDERING_READINGS = ("printed", "much-smaller")
PREMISE = {"printed": 1e-2, "strict": 1e-6, "much-smaller": 1e-2}
TOLERANCE = 0.1  # "approximately": within 10%


def stepsizes(eps: float, beta2: float, vhat: float, a: float = 1.0) -> tuple[float, float]:
    """(AdaMomentum's, Adam's) actual stepsize at the same vhat' (bias-corrected forms)."""
    return a / math.sqrt(vhat + eps / (1 - beta2)), a / (math.sqrt(vhat) + eps)


class _Stepsize:
    claim = ""
    readings: tuple = ()
    printed = True

    def __init__(self, reading="printed", planted=None):
        check_planted(planted)
        if planted == "no-sqrt-T":
            raise ValueError("planted 'no-sqrt-T' needs a horizon T; Section 3.1's statements have none")
        if reading not in self.readings:
            raise ValueError(f"{self.claim}: reading must be one of {self.readings}, got {reading!r}")
        self.reading, self.planted = reading, planted
        self.printed = reading == "printed"
        self.options = {"planted": planted}

    def variants(self):
        top = PREMISE[self.reading]
        return [Variant("closed-form", {}, (Param("eps", 1e-16, 1e-4, log=True),
                                            Param("one_minus_beta2", 1e-4, 0.1, log=True),
                                            Param("vhat_over_eps", top * 1e-10, top, log=True)))]

    def evaluate(self, configs, device="cpu", dtype="float64"):
        out = []
        for c in configs:
            eps, b2 = float(c["eps"]), 1 - float(c["one_minus_beta2"])
            vhat = float(c["vhat_over_eps"]) * eps
            am, ad = stepsizes(eps, b2, vhat)
            premise = PREMISE[self.reading]
            hyp = {f"vhat' <= {premise:g} eps (far below eps)": vhat <= premise * eps * (1 + 1e-12),
                   "0 < beta2 < 1": 0 < b2 < 1, "eps > 0": eps > 0}
            ratio, measured = self._ratio(eps, b2, am, ad)
            measured.update({"adamomentum_stepsize": am, "adam_stepsize": ad, "vhat": vhat})
            out.append({"ratio": ratio * planted_factor(self.planted, 1.0), "hypotheses": hyp, "margin": margin(hyp),
                        "confirmed": True, "measured": measured})
        return out


class LimitingStepsizes(_Stepsize):
    claim = "sec3.1-limiting-stepsizes"
    readings = LIMITING_READINGS
    description = "stepsizes within 10% of sqrt(1-b2) a/sqrt(eps) (AdaMomentum) and a/eps (Adam) when vhat' << eps"

    def _ratio(self, eps, b2, am, ad):
        lim_am, lim_ad = math.sqrt(1 - b2) / math.sqrt(eps), 1.0 / eps
        err_am, err_ad = abs(am / lim_am - 1), abs(ad / lim_ad - 1)
        return max(err_am, err_ad) / TOLERANCE, {"relative_error_adamomentum": err_am, "relative_error_adam": err_ad}


class StepsizeOrdering(_Stepsize):
    claim = "sec3.1-stepsize-ordering"
    readings = ORDERING_READINGS
    description = "AdaMomentum's stepsize (eps inside the sqrt) below Adam's at the same vhat' when vhat' << eps"

    def _ratio(self, eps, b2, am, ad):
        scale = 1.0 / TOLERANCE if self.reading == "much-smaller" else 1.0
        return am / ad * scale, {"stepsize_ratio": am / ad}
