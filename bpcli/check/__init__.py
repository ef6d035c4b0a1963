"""The check: difference quotients (central, forward, complex step), kinks, and the verdict on each
gradient that --perturb prints.

May import: bpcli.core, bpcli.errors, bpcli.numfmt."""

# The perturbation methods (bpcli.check.quotient computes them), named here: the command line lists them
# without importing the check.
METHODS = ("central", "forward", "complex")
