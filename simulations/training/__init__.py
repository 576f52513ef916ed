"""Real training at laptop scale: MNIST-1D and scikit-learn's digits (issue 12).

The premise of Section 3.2 (minibatch gradient noise is symmetric alpha-stable, alpha < 2) measured
during training, and its conclusion (AdaMomentum finds flatter minima that generalize better,
and stays longer near a minimum, Proposition 1) measured at the end. See ``docs/training.md``.
"""
