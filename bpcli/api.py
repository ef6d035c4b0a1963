"""The front door: source text and input values in, results out (immutable records). Renderers read these.

    >>> r = grad("(w+x*y)*z", {"w": 5, "x": 3, "y": 2, "z": 4})
    >>> r.value, r.gradient["x"]
    (44.0, 8.0)
"""

from __future__ import annotations

import contextlib
import gc
import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, NamedTuple

from bpcli.core import engine
from bpcli.errors import LIST_LIMIT, DomainError, InputError, listed
from bpcli.numfmt import fmt
from bpcli.core.frozen import Frozen
from bpcli.core.graph import Graph
from bpcli.core.lowering import lower
from bpcli.language.parser import parse

if TYPE_CHECKING:  # imported where used: one point with no --perturb needs none of them (start-up time)
    from bpcli.points import descent
    from bpcli.check import gradcheck
    from bpcli.check import hessian as second_check
    from bpcli.check.gradcheck import Perturb
    from bpcli.core import explain as chain_rule
    from bpcli.symbolic.derivatives import Derivatives


class _Result(Frozen):
    """What the results share, as a frozen dataclass would give it: fields set once, a repr (Frozen), and
    equality field by field."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self._fields)

    __hash__ = None  # type: ignore[assignment]   # its fields are lists and dicts

    def __reduce__(self) -> tuple[type, tuple[Any, ...]]:   # pickle and copy: made again from the fields
        return type(self), tuple(getattr(self, name) for name in self._fields)


class Evaluation(_Result):
    """The forward pass: the graph, the inputs' values and every node's value."""

    __slots__ = ("graph", "inputs", "values", "warnings")
    _fields: tuple[str, ...] = __slots__
    graph: Graph
    inputs: dict[str, float]
    values: list[float]
    warnings: list[str]

    def __init__(self, graph: Graph, inputs: dict[str, float], values: list[float],
                 warnings: list[str] | None = None) -> None:
        self._set(graph, inputs, values, [] if warnings is None else warnings)

    @property
    def value(self) -> float:
        """The output's value, f."""
        return self.values[self.graph.output]


class Gradients(Evaluation):
    """Forward and backward passes; `gradient` holds ∂f/∂name for the chosen inputs (--wrt), in order.
    With order 2, `hessian` holds ∂²f/∂x∂y for x and y among the chosen inputs (full and symmetric), and
    `hessian_check` its check."""

    __slots__ = ("backward", "gradient", "check", "hessian", "hessian_check")
    _fields = Evaluation._fields + __slots__
    backward: engine.Backward | None
    gradient: dict[str, float]
    check: gradcheck.Report | None
    hessian: dict[str, dict[str, float]] | None
    hessian_check: second_check.Report | None

    def __init__(self, graph: Graph, inputs: dict[str, float], values: list[float],
                 warnings: list[str] | None = None, backward: engine.Backward | None = None,
                 gradient: dict[str, float] | None = None, check: gradcheck.Report | None = None,
                 hessian: dict[str, dict[str, float]] | None = None,
                 hessian_check: second_check.Report | None = None) -> None:
        self._set(graph, inputs, values, [] if warnings is None else warnings, backward,
                  {} if gradient is None else gradient, check, hessian, hessian_check)


class Source(NamedTuple):
    """Program text, the assigned name to differentiate (None: the last statement), and where it came
    from (a file name, "<stdin>", or None for the command line) for error messages. A NamedTuple, as the
    records every run defines: a dataclass costs start-up time to define."""

    text: str
    output: str | None = None
    origin: str | None = None


def __getattr__(name: str) -> Any:
    """`api.Perturb` and `api.Derivatives`, defined beside the check and the formulas they are for and
    imported on first use: defining them cost every grad start-up time, and a grad without --perturb
    needs neither."""
    if name == "Perturb":
        from bpcli.check.gradcheck import Perturb

        return Perturb
    if name == "Derivatives":
        from bpcli.symbolic.derivatives import Derivatives

        return Derivatives
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def compile_source(source: str | Source) -> Graph:
    """Parse and lower an expression or program (InputError on bad syntax, unknown functions, arity, …).

    The output is the program's last statement, or the assigned name `source.output`.
    """
    src = source if isinstance(source, Source) else Source(source)
    try:
        with _gc_paused():
            return lower(parse(src.text), src.text, src.output)
    except InputError as err:
        err.origin = src.origin
        raise


def evaluate(source: str | Source | Graph, values: Mapping[str, float]) -> Evaluation:
    """Run the forward pass at the point `values` (which must name every variable of the expression)."""
    graph = source if isinstance(source, Graph) else compile_source(source)
    try:
        inputs, warnings = _inputs(graph, values)
    except InputError as err:
        err.origin = source.origin if isinstance(source, Source) else None
        raise
    with _gc_paused():
        values_ = engine.forward(graph, inputs)
    return Evaluation(graph, inputs, values_, warnings)


def grad(source: str | Source | Graph, values: Mapping[str, float], wrt: Iterable[str] | None = None,
         perturb: Perturb | None = None, edges: bool = True, order: int = 1) -> Gradients:
    """Forward pass, backward pass, and optionally the perturbation check, at the point `values`. With
    order=2 also the Hessian of the chosen inputs, from the symbolic second derivatives (DomainError where
    an entry is not finite), and with `perturb` its check against differences of the gradient.

    edges=False skips recording the backward pass edge by edge (for output that shows only the gradient).
    """
    check_order(order)
    ev = evaluate(source, values)
    graph = ev.graph
    chosen = _wrt(graph, wrt)
    with _gc_paused():
        backward = engine.backward(graph, ev.values, None if wrt is None else chosen, edges)
    if wrt is None:  # every input, in order
        gradient = dict(zip(chosen, map(backward.grads.__getitem__, graph.inputs)))
    else:
        index = {graph.nodes[i].name: i for i in graph.inputs}
        gradient = {name: backward.grads[index[name]] for name in chosen}
    hessian = _hessian(graph, ev.inputs, chosen) if order == 2 else None
    check = second = None
    if perturb is not None:
        from bpcli.check import gradcheck

        noise = gradcheck.rounding_noise(ev.values, backward.grads)
        check = gradcheck.check(graph, ev.inputs, gradient, perturb.method, perturb.step, noise)
        if hessian is not None:
            from bpcli.check import hessian as hessian_check

            second = hessian_check.check(graph, ev.inputs, hessian, perturb.step)
    return Gradients(graph, ev.inputs, ev.values, ev.warnings, backward, gradient, check, hessian, second)


def check_order(order: int) -> None:
    """InputError unless `order` is one grad computes: 1 (the gradient) or 2 (the Hessian too)."""
    if order not in (1, 2):
        raise InputError(f"grad's --order is 1 (the gradient) or 2 (the Hessian too), not {order}: "
                         f"`bpcli diff --order {order}` gives the formulas of any order")


def _hessian(graph: Graph, point: dict[str, float], chosen: list[str]) -> dict[str, dict[str, float]]:
    """∂²f/∂x∂y at the point for x, y in `chosen`, from the second derivatives as formulas (each mixed
    one is made once, and fills both places). DomainError names the first entry that is not finite."""
    from bpcli.symbolic import evaluate as symbolic_values, reverse

    with _gc_paused():
        derivation = reverse.derive(graph, chosen, 2)
        holders = {k: h for k, h in derivation.derivatives.items() if len(k) == 2}
        found = symbolic_values.at(derivation, point, holders.values())
    hessian: dict[str, dict[str, float]] = {x: {} for x in chosen}
    for x in chosen:
        for y in chosen:
            key = (x, y) if (x, y) in holders else (y, x)
            hessian[x][y] = value = found[holders[key]]
            if not math.isfinite(value):
                from bpcli.check.hessian import entry

                at = listed([f"{n} = {fmt(v)}" for n, v in point.items()])
                what = "infinite or overflows double precision" if math.isinf(value) else "undefined"
                raise DomainError(f"the second derivative {entry(graph.output_name, *key)} is {what} at {at}")
    return hessian


INLINE = 120   # characters: a derivative longer than this written out is shown as a program


def diff(source: str | Source | Graph, values: Mapping[str, float] | None = None,
         wrt: Iterable[str] | None = None, order: int = 1, inline: int = INLINE) -> Derivatives:
    """Every derivative of the output up to `order` (1 or more) for the inputs `wrt` (default: all), as
    formulas; with `values` (which must name every variable) also their values there, beside the gradient
    of `grad`. A formula longer than `inline` characters is given as a program of named steps."""
    from bpcli.symbolic import evaluate, reverse, text
    from bpcli.symbolic.derivatives import Derivatives

    if order < 1:
        raise InputError(f"--order must be 1 or more, not {order}")
    if inline < 0:
        raise InputError(f"--inline must be 0 or more characters, not {inline}")
    point = None
    if values:
        result = grad(source, values, wrt)
        graph, point, gradient, warnings = result.graph, result.inputs, result.gradient, result.warnings
    else:
        graph = source if isinstance(source, Graph) else compile_source(source)
        gradient, warnings = None, list(graph.unused)
    chosen = _wrt(graph, wrt)
    with _gc_paused():
        derivation = reverse.derive(graph, chosen, order)
        keys = [k for k in derivation.derivatives if len(k) == order]
        holders = {k: derivation.derivatives[k] for k in keys}
        whole = reverse.expand(derivation, [derivation.step(h).expr for h in holders.values()], 2 * inline + 16)
        bases = list({b.id: b for b in derivation.algebra.conditions}.values())
        conditions = [text.written(b if e is None else e)
                      for b, e in zip(bases, reverse.expand(derivation, bases, 2 * inline + 16))]
    formulas: dict[tuple[str, ...], str] = {}
    is_whole: dict[tuple[str, ...], bool] = {}
    for (key, holder), found in zip(holders.items(), whole):
        written = text.written(found) if found is not None else ""
        is_whole[key] = found is not None and len(written) <= inline
        formulas[key] = written if is_whole[key] else text.written(derivation.step(holder).expr)
    numbers = None
    if point is not None:
        found_values = evaluate.at(derivation, point, holders.values())
        numbers = {k: found_values[h] for k, h in holders.items()}
        undefined = [k for k, v in numbers.items() if not math.isfinite(v)]
        if undefined:
            from bpcli.numfmt import fmt

            at = listed([f"{n} = {fmt(v)}" for n, v in point.items()])
            what = "infinite" if math.isinf(numbers[undefined[0]]) else "undefined"
            raise DomainError(f"{text.partial(graph.output_name, undefined[0])} = {formulas[undefined[0]]} is "
                              f"{what} at {at}")
    return Derivatives(graph, derivation, order, chosen, formulas, is_whole, conditions, inline, point, numbers,
                       gradient, warnings)


def explain(result: Gradients) -> list[chain_rule.Explanation]:
    """The chain rule, path by path, for every input in the result's gradient."""
    from bpcli.core import explain as chain_rule

    assert result.backward is not None   # grad always runs the backward pass
    return chain_rule.explain(result.graph, result.backward, list(result.gradient))


def step(source: str | Source | Graph, values: Mapping[str, float], wrt: Iterable[str] | None, lr: float,
         steps: int, target: float | None = None) -> descent.Descent:
    """Gradient descent on the chosen inputs (default: all) from the point `values`: the steps are computed
    as the result is iterated (once), then its `final` and `diverged` say how the run ended.

    InputError, before anything is computed, unless `lr` is a positive finite number, `steps` a whole
    number, 0 or more, `target` None or finite, and `wrt` None or not empty."""
    from bpcli.points import descent

    wrt = None if wrt is None else list(wrt)
    descent.check_settings(lr, steps, target, wrt)
    ev = evaluate(source, values)
    return descent.descend(ev.graph, ev.inputs, _wrt(ev.graph, wrt), lr, steps, target, ev.graph.source, ev.warnings)


class Batch(NamedTuple):
    """Many points: rows from a stream (`rows`, in `rows_format`) or the product of `grids` (NAME=A:B:STEP)."""

    rows: BinaryIO | None = None   # a binary stream
    rows_format: str = "csv"
    grids: tuple[str, ...] = ()
    out_format: str = "csv"
    on_error: str = "stop"
    # called as progress(points done, of total) after each grid chunk
    progress: Callable[[int, int], None] | None = None
    # called with each warning as soon as it is known (else they are returned)
    warn: Callable[[str], None] | None = None


def batch(source: str | Source | Graph, constants: Mapping[str, float], wrt: Iterable[str] | None,
          spec: Batch, out) -> tuple[list[str], list[str]]:
    """Value and gradients at many points, written to `out` as they are computed.

    Returns the warnings (none when `spec.warn` is told of each as it is known) and the failed rows
    ("row 12: …"; skipped or written empty by on_error "skip" or "null"). With on_error "stop" the first
    failing row raises DomainError, after the rows before it.
    """
    from bpcli.points import readers  # NumPy is imported only on this path

    graph = source if isinstance(source, Graph) else compile_source(source)
    chosen = _wrt(graph, wrt)
    names = set(graph.input_names)
    returned: list[str] = []
    tell = spec.warn or returned.append
    warnings = [*graph.unused, *_not_variables([n for n in constants if n not in names], graph.input_names)]
    values = {n: float(v) for n, v in constants.items() if n in names}
    grids = _grids(graph, spec.grids, constants, values, warnings) if spec.grids else None
    for warning in warnings:  # once the run is sure to start: a run refused says only why
        tell(warning)
    if grids:
        outcome = readers.run_grid(graph, grids, values, chosen, out, spec.out_format, spec.on_error,
                                  spec.progress)
    else:
        assert spec.rows is not None   # no grid: the points are the rows
        what = "key" if spec.rows_format == "jsonl" else "column"
        outcome = readers.run_rows(graph, spec.rows, spec.rows_format, values, chosen, out, spec.out_format,
                                  spec.on_error, lambda name: tell(f"-v {name}: takes precedence over the {name} "
                                                                   f"{what} of the batch input, which is ignored"))
    return returned, [f"row {row}: {message}" for row, message in outcome.failed]


def _grids(graph: Graph, texts, constants: Mapping[str, float], values: dict[str, float], warnings: list[str]):
    """The grids of --grid TEXT…, checked against the graph and the values; adds their warnings."""
    from bpcli.points import readers

    grids = [readers.parse_grid(text) for text in texts]
    readers.check_grids(grids)
    names = set(graph.input_names)
    warnings += [f"-v {g.name}: the --grid for {g.name} takes precedence" for g in grids if g.name in values]
    warnings += [f"--grid {g.name}: not a variable of the expression" for g in grids if g.name not in names]
    missing = [n for n in graph.input_names if n not in values and n not in {g.name for g in grids}]
    if missing:
        given = [*constants, *(g.name for g in grids)]
        raise InputError(f"no value for {listed(missing)}: give it a --grid or -v{_case_note(missing, given)}")
    return grids


@contextlib.contextmanager
def _gc_paused():
    """No cyclic garbage collection inside: parsing, lowering and the passes make a tuple or a list per
    node and no cycles, and on a 10⁵-node graph the collector's repeated scans of them cost a third of
    lowering (benchmarks/huge_expressions.py)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _inputs(graph: Graph, values: Mapping[str, float]) -> tuple[dict[str, float], list[str]]:
    names = graph.input_names
    clash = [n for n in values if n in graph.assigned] if graph.assigned else []
    if clash:
        raise InputError(f"-v {clash[0]}=…: {clash[0]} is assigned in the program, so it cannot be given a value",
                         graph.source, graph.assigned[clash[0]])
    try:
        inputs = {n: float(values[n]) for n in names}
    except KeyError:
        missing = [n for n in names if n not in values]
        given = ",".join(f"{n}=…" for n in missing) if len(missing) <= LIST_LIMIT else "NAME=VALUE,… or --vars FILE"
        raise InputError(f"no value for {listed(missing)}: give {'it' if len(missing) == 1 else 'them'} "
                         f"with -v {given}{_case_note(missing, values)}") from None
    except (TypeError, ValueError, OverflowError):
        inputs = {}
    if len(inputs) < len(names) or not all(map(math.isfinite, inputs.values())):
        # the command line reads only finite numbers; a library caller's nan would pass silently (relu(nan) = 0)
        bad = next(n for n in names if not _finite(values[n]))
        raise InputError(f"the value of {bad} is not a finite number")
    warnings = list(graph.unused)
    if len(values) > len(inputs):
        warnings += _not_variables([n for n in values if n not in inputs], names)
    return inputs, warnings


def _case_note(missing: list[str], given: Iterable[str]) -> str:
    """ (Z was given; names are case-sensitive): for given names that differ from missing ones only in case."""
    folded = {n.casefold() for n in missing}
    twins = [n for n in given if n.casefold() in folded]
    if not twins:
        return ""
    return f" ({listed(twins)} {'was' if len(twins) == 1 else 'were'} given; names are case-sensitive)"


def _not_variables(unused: list[str], names: list[str]) -> list[str]:
    """The warnings for values given for names the expression does not use."""
    folded = {n.casefold(): n for n in names} if unused else {}
    warnings = []
    for name in unused:
        twin = folded.get(name.casefold())
        also = f", {twin} is (names are case-sensitive)" if twin else ""
        warnings.append(f"{name} is not a variable of the expression{also}; its value is ignored")
        if len(warnings) == LIST_LIMIT and len(unused) > LIST_LIMIT:
            return warnings + [f"… and {len(unused) - LIST_LIMIT} more values for names the expression does not use"]
    return warnings


def _finite(value) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError, OverflowError):
        return False


def _wrt(graph: Graph, wrt: Iterable[str] | None) -> list[str]:
    names = graph.input_names
    if wrt is None:
        return names
    chosen = list(dict.fromkeys(wrt))
    known = set(names)
    unknown = [n for n in chosen if n not in known]
    if unknown:
        have = f"its variables are {listed(names)}" if names else "it has no variables"
        raise InputError(f"--wrt {listed(unknown)}: not a variable of the expression ({have})")
    return chosen
