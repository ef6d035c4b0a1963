"""Grids of points (`--grid x=0:10:0.1`): each grid's values, and the product of several, a chunk at a time."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bpcli.points.np_exact import np


@dataclass(frozen=True)
class Grid:
    """`x=0:10:0.1`: the points start + i·step for i = 0 … count−1 (no drift), end included when on the grid,
    and never a point past end (one that passes it by rounding, 0.30000000000000004 for 0:0.3:0.1, is end)."""

    name: str
    start: float
    step: float
    count: int
    end: float = math.inf

    def points(self, index: np.ndarray) -> np.ndarray:
        """The grid's values at positions `index`."""
        with np.errstate(over="ignore"):
            points = self.start + index * self.step
        if not np.isfinite(points).all():  # index·step overflowed: halve, then double (both exact)
            points = np.where(np.isfinite(points), points, (self.start / 2 + index * (self.step / 2)) * 2)
        return np.minimum(points, self.end) if self.step > 0 else np.maximum(points, self.end)


def grid_chunks(grids: Sequence[Grid], size: int) -> Iterator[dict[str, np.ndarray]]:
    """The product of the grids (the last varies fastest), `size` points at a time."""
    shape = tuple(g.count for g in grids)
    total = math.prod(shape)
    for start in range(0, total, size):
        flat = np.arange(start, min(start + size, total), dtype=np.int64)
        positions = np.unravel_index(flat, shape)
        yield {g.name: g.points(p) for g, p in zip(grids, positions)}
