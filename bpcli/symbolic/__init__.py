"""Symbolic derivatives: the backward pass over formulas (bpcli diff), simplified, written in bpcli or LaTeX.

May import: bpcli.core and below."""
