"""`bpcli diff`'s result: the derivatives as formulas and the program they share (bpcli.api.diff makes it)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from bpcli.core.graph import Graph
from bpcli.symbolic.reverse import Derivation


@dataclass(frozen=True)
class Derivatives:
    """`bpcli diff`: every derivative of the output up to `order` as formulas, and the program they share.

    Keys are tuples of input names in the order of differentiation: ("x",) for ∂f/∂x, ("x", "y") for
    ∂²f/∂x∂y. A derivative whose formula written out whole is at most `inline` characters is `whole`, and
    its formula is that; another one's formula is its last line in `program`, over the program's names.
    With a point (`inputs`), `values` holds every derivative there and `gradient` bpcli grad's numbers.
    """

    graph: Graph
    derivation: Derivation
    order: int
    wrt: list[str]
    formulas: dict[tuple[str, ...], str]
    whole: dict[tuple[str, ...], bool]
    conditions: list[str]   # what simplifying cancelled (x/x): the formulas hold where each is not 0
    inline: int
    inputs: dict[str, float] | None = None
    values: dict[tuple[str, ...], float] | None = None
    gradient: dict[str, float] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def output(self) -> str:
        return self.graph.output_name

    def program(self, keys: Iterable[tuple[str, ...]] | None = None, latex: bool = False) -> list[str]:
        """The steps the derivatives `keys` (default: all) need, one `name = formula` line each, the
        derivatives' own lines last."""
        from bpcli.symbolic import text

        notation = text.LATEX if latex else text.BPCLI
        chosen = list(self.formulas if keys is None else keys)
        holders = [self.derivation.derivatives[k] for k in chosen]
        needed = self.derivation.needed(holders)
        last = set(holders)
        ordered = [s for s in needed if s.name not in last] + [self.derivation.step(h) for h in holders]
        return [f"{notation.name(s.name)} = {text.written(s.expr, notation)}" for s in ordered]

    def alone(self, key: tuple[str, ...]) -> str:
        """One derivative as bpcli input: its formula when whole, else the program that computes it."""
        return self.formulas[key] if self.whole[key] else "\n".join(self.program([key]))

    def latex(self, key: tuple[str, ...]) -> str:
        """One derivative's formula in LaTeX (over the program's names when it is not whole)."""
        from bpcli.symbolic import reverse, text

        step = self.derivation.step(self.derivation.derivatives[key])
        if self.whole[key]:
            (found,) = reverse.expand(self.derivation, [step.expr], _FOREVER)
            assert found is not None   # it was whole at the limit
            return text.written(found, text.LATEX)
        return text.written(step.expr, text.LATEX)


_FOREVER = 1 << 62
