"""The core: the table of primitives and their derivative rules, the graph, and the two passes (forward
values, backward gradients) that know no op. Pure Python on floats and complex numbers.

May import: bpcli.errors, bpcli.numfmt, bpcli.language (to read rules). Imports no lark, rich, click or numpy."""
