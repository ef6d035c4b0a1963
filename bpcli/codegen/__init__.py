"""Code generation: the plan (one assignment per gate, one line per edge) and the target languages
(Python, C, JavaScript) that spell it.

May import: bpcli.core, bpcli.errors."""

# The languages emit.LANGUAGES writes, named here: the command line lists them without importing the
# code generator.
LANGUAGES = ("python", "c", "javascript")
