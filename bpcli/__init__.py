"""bpcli: a command-line expression differentiator that shows its work.

The library can be used without the command line::

    >>> from bpcli.api import grad
    >>> result = grad("(w+x*y)*z", {"w": 5, "x": 3, "y": 2, "z": 4})
    >>> result.value, result.gradient
    (44.0, {'w': 4.0, 'x': 8.0, 'y': 12.0, 'z': 11.0})

Importing bpcli imports neither Click nor Rich; the engine does not import Lark.
"""

__version__ = "0.1.0"
