"""The views: tables, the expression tree, --explain, the Hessian, the progress bar (Rich), and JSON, DOT
and Mermaid.

May import: bpcli.api and everything below it. Only this package imports rich."""
