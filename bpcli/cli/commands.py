"""The command line: options in, library calls, results out. No math and no table building here.

The one `except BpcliError` lives in `_Bpcli.main`: it prints the error on stderr and exits with its code.
"""

from __future__ import annotations

import os
import sys

import click

from bpcli import __version__, check, codegen
from bpcli import files
from bpcli.cli import actions, formats
from bpcli.cli.actions import flushed as _flushed, perturbation, report as _report, say, split_names, warn
from bpcli.cli.batch import run_batch
from bpcli.cli.complete import complete_names, ready, script
from bpcli.cli.options import (Number, NoRepeats, comma_hint, dash_expression_hint, exit_statuses, negative_perturb,
                               point_options, program_options)
from bpcli.errors import BpcliError, DomainError, InputError
from bpcli.points import ROW_FORMATS


_NO_ARGS = getattr(click.exceptions, "NoArgsIsHelpError", ())  # Click >= 8.2


def _hint(err: click.UsageError, args) -> str:
    """The likely mistake behind a usage error, said as "; …" (or "" when none is known)."""
    args = list(sys.argv[1:] if args is None else args)
    message = err.format_message()
    if "EXPR" in message and "--perturb" in args[:-1] and "-f" not in args and "--file" not in args:
        taken = args[args.index("--perturb") + 1]
        return f"; --perturb took {taken!r} as its step: put EXPR before --perturb"
    takes_expr = err.ctx is not None and any(p.name == "expression" for p in err.ctx.command.params)
    if isinstance(err, click.NoSuchOption) and takes_expr:
        return dash_expression_hint(args, err.option_name)
    if "unexpected extra argument" in message:
        return comma_hint(args)
    return ""


class _Bpcli(click.Group):
    """The bpcli group: every error, ours or Click's, becomes one line on stderr and its exit code."""

    command_class = NoRepeats

    ORDER = ("grad", "diff", "eval", "step", "graph", "code", "completion")  # as a newcomer needs them

    def list_commands(self, ctx: click.Context) -> list[str]:
        """The commands in ORDER (for --help and completion), then any others by name."""
        return [name for name in self.ORDER if name in self.commands] + sorted(self.commands.keys() - self.ORDER)

    def _main_shell_completion(self, ctx_args, prog_name: str, complete_var: str | None = None) -> None:
        """Click's check for a Tab, which every run makes. bpcli's bash and fish classes are registered only
        when the environment may ask for one (_BPCLI_COMPLETE, or another program name's variable), so
        other runs do not import click.shell_completion (start-up time)."""
        if any(name.endswith("_COMPLETE") for name in os.environ):
            ready()
        super()._main_shell_completion(ctx_args, prog_name, complete_var)

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        actions.settings.update(actions.DEFAULTS)
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
            code = rv if isinstance(rv, int) else 0
        except BpcliError as err:
            code = _report(err)
        except click.UsageError as err:
            if isinstance(err, _NO_ARGS) and err.ctx:  # plain `bpcli`: the help, as an answer
                click.echo(err.ctx.get_help())
                sys.exit(_flushed(0))
            if isinstance(err, click.NoSuchOption) and negative_perturb(err.option_name, args):
                say(f"bpcli: error: --perturb step must be a positive number, not {err.option_name}")
                sys.exit(_flushed(err.exit_code))
            hint = _hint(err, args)
            where = f" (see '{err.ctx.command_path} --help')" if err.ctx and not hint else ""
            say(f"bpcli: error: {err.format_message().rstrip('.')}{where}{hint}")
            code = err.exit_code
        except click.ClickException as err:
            say(f"bpcli: error: {err.format_message()}")
            code = err.exit_code
        except MemoryError:  # a 10⁶-variable JSON document under a memory limit, say
            # written as it is, with no allocation: the frames the error holds still hold the memory
            os.write(2, b"bpcli: error: not enough memory for this input\n")
            code = InputError.exit_code
        except click.Abort as err:  # Click turns Ctrl-C into Abort; 130 is 128 + SIGINT, as shells report it
            if not isinstance(err.__cause__, KeyboardInterrupt):
                raise
            click.echo("bpcli: interrupted", err=True)
            code = 130
        sys.exit(_flushed(code))


@click.group(cls=_Bpcli, epilog=exit_statuses(), context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bpcli")
def cli() -> None:
    """Differentiate an expression and show the work, as a lecture on backpropagation does.

    \b
      bpcli grad "(w+x*y)*z" -v w=5,x=3,y=2,z=4
      bpcli grad "(w+x*y)*z" -v w=5,x=3,y=2,z=4 --perturb
      bpcli diff "x^2*sin(x)"
      bpcli eval "sin(x)^2 + cos(x)^2" -v x=pi/3
    """


@cli.command(epilog=exit_statuses("completion"), short_help="Print a shell's tab-completion script.")
@click.argument("shell", type=click.Choice(("bash", "zsh", "fish")), required=False, metavar="[SHELL]")
@click.option("--write", "folder", type=click.Path(file_okay=False), metavar="DIR",
              help="Write all three scripts into DIR (how completions/ is made) instead of printing one.")
def completion(shell: str | None, folder: str | None) -> None:
    """Print the tab-completion script for SHELL; completions/ holds the same scripts.

    \b
      bash:  d=~/.local/share/bash-completion/completions
             mkdir -p $d && bpcli completion bash > $d/bpcli
      zsh:   mkdir -p ~/.zfunc && bpcli completion zsh > ~/.zfunc/_bpcli
             and in ~/.zshrc:
             fpath=(~/.zfunc $fpath); autoload -Uz compinit && compinit
      fish:  mkdir -p ~/.config/fish/completions
             bpcli completion fish > ~/.config/fish/completions/bpcli.fish
      all:   bpcli completion --write completions
    """
    if folder:
        from bpcli.cli.complete import write_all

        write_all(cli, folder)
    elif shell:
        click.echo(script(cli, shell), nl=False)
    else:
        raise click.UsageError("name a shell (bash, zsh or fish), or give --write DIR")


@cli.command(epilog=exit_statuses("grad"), short_help="Gradient of EXPR at a point, gate by gate.")
@point_options(formats.GRAD)
@click.option("--wrt", multiple=True, metavar="NAME[,…]", shell_complete=complete_names,
              help="Show the gradient for these inputs only.")
@click.option("--perturb", "perturb", is_flag=False, flag_value="auto", default=None, metavar="[STEP]",
              help="Check every gradient numerically; STEP fixes the nudge (default: scaled to each input).")
@click.option("--perturb-method", type=click.Choice(check.METHODS), default=None,
              help="central (default), forward (the lecture's one-sided nudge) or complex (complex step). "
                   "Implies --perturb.")
@click.option("--batch", "batch_file", type=click.Path(dir_okay=False, allow_dash=True), metavar="FILE",
              help="Many points: one per row of FILE (CSV/TSV with a header, or JSON Lines); - is stdin.")
@click.option("--batch-format", type=click.Choice(ROW_FORMATS), default=None,
              help="The --batch input's format (default: from the file name's ending; stdin and other "
                   "names: jsonl if it starts with {, else csv).")
@click.option("--grid", multiple=True, metavar="NAME=START:END:STEP",
              help="Sweep an input over START, START+STEP, … END (repeat for a product of grids).")
@click.option("--on-error", type=click.Choice(("stop", "skip", "null")), default="stop", show_default=True,
              help="A batch row that fails: stop there, skip it, or write it with empty fields (exit 3 either way).")
@click.option("--explain", is_flag=True, help="Write out the chain rule for each input: every path from "
              "the output as a product of local gradients (grouped when there are too many).")
@click.option("--order", type=int, default=1, show_default=True, metavar="N",
              help="1: the gradient; 2: the Hessian too (with --perturb, checked against differences of "
                   "the gradient). One point, table or json.")
def grad(source, values: dict, fmt: str, wrt: tuple[str, ...], perturb: str | None,
         perturb_method: str | None, batch_file: str | None, batch_format: str | None, grid: tuple[str, ...],
         on_error: str, explain: bool, order: int) -> None:
    """Forward pass, backward pass and gradient of EXPR at a point (with --order 2, the Hessian too).

    \b
      bpcli grad "(w+x*y)*z" -v w=5,x=3,y=2,z=4
      bpcli grad "(w+x*y)*z" -v w=5,x=3,y=2,z=4 --perturb-method forward
      bpcli grad "max(x,y)" -v x=1,y=1 --format json
      bpcli grad "x^2*y^3" -v x=2,y=3 --order 2 --perturb

    EXPR "-" reads the expression from standard input. An expression that
    starts with "-" goes last, after "--", or starts with a space:

    \b
      bpcli grad -v x=3 -- "-x^2"
      bpcli grad " -x^2" -v x=3
    """
    actions.check_grad_options(fmt, order, bool(perturb or perturb_method or explain), batch_file, batch_format, grid)
    if batch_file or grid:
        return run_batch(source, values, split_names(wrt), fmt, batch_file, batch_format, grid, on_error)
    actions.grad(source, values, fmt, split_names(wrt), perturbation(perturb, perturb_method), explain, order)


@cli.command(epilog=exit_statuses("diff"), short_help="Derivatives of EXPR as formulas, to any order.")
@point_options(formats.DIFF)
@click.option("--wrt", multiple=True, metavar="NAME[,…]", shell_complete=complete_names,
              help="Derivatives for these inputs only, in this order (default: all).")
@click.option("--order", type=click.IntRange(min=1, max=8), default=1, show_default=True, metavar="N",
              help="Derivatives of order N: 2 gives every second partial (mixed ones once).")
@click.option("--inline", type=click.IntRange(min=0), default=120, show_default=True, metavar="CHARS",
              help="Write a derivative whole when it is at most CHARS characters; longer ones are a "
                   "program of named steps.")
def diff(source, values: dict, fmt: str, wrt: tuple[str, ...], order: int, inline: int) -> None:
    """Derivatives of EXPR as formulas, built by the backward pass, to any order.

    \b
      bpcli diff "x^2*sin(x)"
      bpcli diff "(w+x*y)*z" --format plain --wrt x
      bpcli diff "x^2*y^3" --order 2 --format latex
      bpcli grad "$(bpcli diff 'x^3' --format plain)" -v x=2

    With -v, each formula's value at the point too, beside bpcli grad's.
    Every formula and program printed is bpcli input.
    """
    from bpcli import api

    result = api.diff(source, values, split_names(wrt), order, inline)
    if not result.wrt:
        warn(f"{result.output} has no variables: there is nothing to differentiate")
    actions.write(formats.DIFF, fmt, result)


@cli.command("eval", epilog=exit_statuses("eval"), short_help="Value of EXPR at a point, gate by gate.")
@point_options(formats.EVAL)
def eval_(source, values: dict, fmt: str) -> None:
    """Forward pass only: the value of EXPR at a point, gate by gate.

    \b
      bpcli eval "(w+x*y)*z" -v w=5,x=3,y=2,z=4
    """
    actions.evaluate(source, values, fmt)


@cli.command(epilog=exit_statuses("code"), short_help="The two passes as straight-line code.")
@program_options
@click.option("--lang", type=click.Choice(codegen.LANGUAGES), default="python", show_default=True,
              help="The language to write.")
def code(source, lang: str) -> None:
    """The forward and backward passes as straight-line code, as in the lecture's pseudo-code.

    \b
      bpcli code "(w+x*y)*z"
      bpcli code "(w+x*y)*z" --lang c > grad_f.c

    The code defines grad_f(inputs…), which returns f and every input's gradient (in C it fills
    grad[] in input order). Every line comes from the same table of rules the engine uses.
    """
    from bpcli.codegen import emit
    from bpcli import api

    graph = api.compile_source(source)
    actions.echo(emit.LANGUAGES[lang](graph))
    for warning in graph.unused:
        warn(warning)


@cli.command(epilog=exit_statuses("graph"), short_help="The computational graph: tree, DOT, Mermaid.")
@point_options(formats.GRAPH)
@click.option("--render", "render_to", type=click.Path(dir_okay=False), metavar="FILE.svg|png|pdf",
              help="Draw the graph into FILE with Graphviz's dot (which must be installed).")
def graph(source, values: dict, fmt: str, render_to: str | None) -> None:
    """The computational graph: a tree in the terminal, Graphviz DOT, or a Mermaid flowchart.

    \b
      bpcli graph "(w+x*y)*z"
      bpcli graph "(w+x*y)*z" -v w=5,x=3,y=2,z=4 --format dot
      bpcli graph "(w+x*y)*z" -v w=5,x=3,y=2,z=4 --render graph.svg

    With -v each node shows its value and its gradient (in red), like the lecture's slides; without
    it, the structure alone. Shared nodes are drawn once with several edges.
    """
    from bpcli import api

    if render_to:
        _not_read("--render", render_to, source, ("drawn", "draw into"), vars_too=True)
    result = api.grad(source, values) if values else None
    graph_ = result.graph if result else api.compile_source(source)
    if render_to:
        formats.render(graph_, result, render_to)
    else:
        formats.GRAPH[fmt](graph_, result)
    for warning in result.warnings if result else graph_.unused:
        warn(warning)


@cli.command(epilog=exit_statuses("step"), short_help="Gradient descent on the inputs.")
@point_options(formats.STEP)
@click.option("--lr", type=Number(), default=0.1, show_default=True, help="Learning rate: x ← x − lr·∂loss/∂x.")
@click.option("--steps", type=click.IntRange(min=0), default=1, show_default=True, help="How many steps.")
@click.option("--wrt", multiple=True, metavar="NAME[,…]", shell_complete=complete_names,
              help="Train these inputs only (default: all).")
@click.option("--target", type=Number(), default=None,
              help="Minimise ½(f − T)² instead of f: bring f to the target T.")
@click.option("--save", type=click.Path(dir_okay=False), metavar="FILE",
              help="Write the final values as `name = value` lines, which --vars reads back.")
def step(source, values: dict, fmt: str, lr: float, steps: int, wrt: tuple[str, ...], target: float | None,
         save: str | None) -> None:
    """Gradient descent: move inputs against the gradient, x ← x − lr·∂loss/∂x.

    \b
      bpcli step "(w+x*y)*z" -v w=5,x=3,y=2,z=4 --target 33 --lr 0.001 --steps 200
      bpcli step -f examples/lecture_network.bp \\
          --vars examples/lecture_network.vars --lr 0.5 --steps 100 \\
          --wrt a10,a11,a12,a20,a21,a22,b10,b11,b12,b20,b21,b22

    The loss is f, or ½(f − T)² with --target T. The last line of the output is the new values
    as a -v argument, ready for another bpcli command.
    """
    from bpcli import api

    if save:  # onto the --vars file is fine: `--vars s.vars --save s.vars` resumes training
        _not_read("--save", save, source, ("run", "save to"), vars_too=False)
    run = api.step(source, values, split_names(wrt, required=False), lr, steps, target)  # computed as written
    formats.STEP[fmt](run, fmt)
    if save:
        _save(save, run.final)
    if run.diverged:
        raise DomainError(run.diverged)


def _save(path: str, final: dict[str, float]) -> None:
    """--save: the final values as `name = value` lines. A run that diverged at the start has none to save,
    and the file keeps what it holds."""
    if final:
        files.write_whole(path, "".join(f"{name} = {value!r}\n" for name, value in final.items()))
    else:
        warn(f"--save {path}: not written, as no step had a finite loss and gradient")


def _not_read(option: str, path: str, source, words: tuple[str, str], vars_too: bool) -> None:
    """InputError when `path`, under any name, is a file this command reads: the program (-f) or, with
    `vars_too`, the --vars file. Checked before anything runs, so neither is ever written over. `words`:
    what is done with the program, and what to do instead (`drawn`, `draw into`)."""
    done, instead = words
    read = [(source.origin, f"the program being {done} (-f {source.origin})")] \
        if source.origin not in (None, "<stdin>") else []
    vars_file = click.get_current_context().meta.get("bpcli.vars_file")
    if vars_too and vars_file:
        read.append((vars_file, "the --vars file the values come from"))
    for name, what in read:
        if files.same_file(path, name):
            raise InputError(f"{option} {path} is {what}: {instead} another file")


def main() -> None:
    """Run the command line with Click's reader, once the process is ready (actions.start)."""
    actions.start()
    cli(prog_name="bpcli")


if __name__ == "__main__":
    main()
