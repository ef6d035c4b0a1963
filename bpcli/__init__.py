"""bpcli: a command-line expression differentiator that shows its work, and its Python API.

    >>> import bpcli
    >>> r = bpcli.grad("(w+x*y)*z", w=5, x=3, y=2, z=4)
    >>> r.value, r.gradient
    (44.0, {'w': 4.0, 'x': 8.0, 'y': 12.0, 'z': 11.0})

The functions (grad, eval, diff, graph, code, compile) and the errors are loaded when first used, so that
`import bpcli`, which the command line does first, costs nothing: importing bpcli imports neither Click
nor Rich, and the engine does not import Lark. docs/api.md documents them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_FUNCTIONS = ("grad", "eval", "diff", "graph", "code", "compile")
_ERRORS = ("BpcliError", "InputError", "DomainError", "CheckFailed", "OutputError")
__all__ = ["grad", "eval", "diff", "graph", "code", "compile", "BpcliError", "InputError", "DomainError", "CheckFailed",
           "OutputError", "__version__"]

if TYPE_CHECKING:
    from bpcli.errors import BpcliError, CheckFailed, DomainError, InputError, OutputError
    from bpcli.library import code, compile, diff, eval, grad, graph


def __getattr__(name: str) -> Any:
    if name in _FUNCTIONS:
        from bpcli import library

        return getattr(library, name)
    if name in _ERRORS:
        from bpcli import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'bpcli' has no attribute {name!r}")
