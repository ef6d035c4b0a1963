"""The language: text to graph. The grammar (grammar/bpcli.lark, via Lark) and its fast path, the syntax
tree, lowering into a graph of primitives, and the names given to intermediates.

May import: bpcli.errors, bpcli.primitives (which names are functions). Only this package imports lark."""
