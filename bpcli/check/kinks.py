"""Kinks in the perturbation check: whether a nudge crosses a relu/abs/max/min kink, a smaller step that
stays off it, and the verdict where none does: backprop's subgradient must lie between the one-sided
slopes (PyTorch's gradcheck and JAX's check_grads report a false failure there).
"""

from __future__ import annotations

from collections.abc import Mapping

from bpcli.core import engine
from bpcli import primitives
from bpcli.core import rules
from bpcli.errors import DomainError
from bpcli.core.graph import Graph
from bpcli.check.quotient import Nudge, Quotient


def crosses(graph: Graph, inputs: Mapping[str, float], name: str, h: float) -> bool:
    """Whether some relu/abs/max/min gate takes a different branch at x−h, x or x+h."""
    x = inputs[name]
    seen = {_branches(graph, {**inputs, name: x + d}) for d in (-h, 0.0, h)}
    seen.discard(None)
    return len(seen) > 1


def _branches(graph: Graph, inputs: Mapping[str, float]) -> tuple | None:
    try:
        values = engine.forward(graph, inputs)
    except DomainError:
        return None
    out = []
    for i, node in enumerate(graph.nodes):
        if node.op in primitives.KINKED:
            args = [values[a] for a in node.args]
            kink = rules.rules(node.op, len(args)).kink
            assert kink is not None, f"{node.op} is kinked but has no kink rule"
            out.append(kink(*args, values[i]))
    return tuple(out)


def step_off(graph: Graph, inputs: Mapping[str, float], name: str, h: float) -> float | None:
    """The first of h/10, h/100, … whose nudge no longer crosses a kink, or None: x sits on the kink
    (within 1e-10 relative, where a nudge would be lost in rounding anyway)."""
    smallest = 1e-10 * max(1.0, abs(inputs[name]))
    while h / 10 >= smallest:
        h /= 10
        if not crosses(graph, inputs, name, h):
            return h
    return None


def between_the_sides(nudge: Nudge, q: Quotient, analytic: float, rtol: float) -> tuple[str, float]:
    """At a kink backprop's subgradient must lie between the one-sided slopes. Each is a secant with a
    truncation of its own (relu(x) - x^2 at 0: the left secant over h is h, not 0), estimated from the
    step 2h on its side; a slope outside a side that has not converged is no proof (a bound that is a
    guess). The tolerance returned is that of the side passed, or the wider one."""
    low, high = sorted((nudge.one_sided(q, -1), nudge.one_sided(q, 1)), key=lambda side: side.numeric)
    tols = [side.error + rtol * max(abs(analytic), abs(side.numeric)) for side in (low, high)]
    for side, tol, sign in ((low, tols[0], -1), (high, tols[1], 1)):
        if sign * (analytic - side.numeric) > tol:
            return ("mismatch" if side.converged else "unchecked"), tol
    return "ok", max(tols)
