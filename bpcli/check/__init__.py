"""The check: difference quotients (central, forward, complex step), kinks, and the verdict on each
gradient that --perturb prints.

May import: bpcli.core, bpcli.errors, bpcli.numfmt."""
