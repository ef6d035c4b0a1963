"""Many points: values given on the command line or in --vars, readers of CSV/TSV/JSON Lines, writers of
result rows, grids, descent steps, and the forward and backward passes over NumPy arrays.

May import: bpcli.core, bpcli.language, bpcli.errors, bpcli.files. Only this package imports numpy."""

# The row formats that readers read and writers write, named here: the command line lists them without
# importing either.
ROW_FORMATS = ("csv", "tsv", "jsonl")
