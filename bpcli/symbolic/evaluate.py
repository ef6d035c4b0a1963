"""A derivation's steps evaluated at a point, on floats, with the gates' own compiled rules."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bpcli.core import rules as rule_forms
from bpcli.symbolic.algebra import NUM, PROD, SUM, SYM, Expr, nodes_under
from bpcli.symbolic.reverse import Derivation


def at(derivation: Derivation, point: Mapping[str, float], names: Iterable[str]) -> dict[str, float]:
    """The values of the named steps (and of every step they need) at the point: inf or nan where a step
    is undefined there."""
    names = list(names)
    env: dict[str, float] = dict(point)
    memo: dict[int, float] = {}
    power = rule_forms.rules("pow", 2).forward
    for step in derivation.needed(names):
        env[step.name] = _value(step.expr, env, memo, power)
    return {n: env[n] for n in names}


def _value(x: Expr, env: Mapping[str, float], memo: dict[int, float], power) -> float:
    for n in nodes_under((x,)):
        if n.id in memo:
            continue
        if n.kind == NUM:
            v = float(n.num)
        elif n.kind == SYM:
            v = env[n.name] if n.value is None else n.value
        elif n.kind == SUM:
            v = float(n.num) + sum(float(k) * memo[a.id] for a, k in zip(n.args, n.coefs))
        elif n.kind == PROD:
            v = float(n.num)
            for a, e in zip(n.args, n.coefs):
                v *= memo[a.id] if e == 1 else power(memo[a.id], float(e))
        else:
            v = rule_forms.rules(n.name, len(n.args)).forward(*(memo[a.id] for a in n.args))
        memo[n.id] = v
    return memo[x.id]
