"""Frozen: the base of the records every run makes (the graph, the results), as a frozen dataclass would
make them, less its price. Importing dataclasses imports inspect, about 10 ms of every process (as much
again as Python's own start-up), and defining one costs about a millisecond."""

from __future__ import annotations

from typing import Any


class Frozen:
    """Fields named in `_fields`, set once by `_set`; a repr that lists them; no assignment after."""

    __slots__ = ()
    _fields: tuple[str, ...] = ()

    def _set(self, *values: Any) -> None:
        for name, value in zip(self._fields, values, strict=True):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to {name!r}: a {type(self).__name__} is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete {name!r}: a {type(self).__name__} is immutable")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{name}={getattr(self, name)!r}' for name in self._fields)})"
