"""Shell completion: the part of the command line that talks to bash, zsh and fish (through Click).

Part of the CLI layer (the only modules that import click are cli and this one). Every Tab runs a
fresh `bpcli`, so this path imports neither Rich nor NumPy, and it never prints an error: an unfinished
or invalid expression completes nothing.

Bash splits the word being completed at `=`, `:` and `(` (COMP_WORDBREAKS), so `-v w=5,<Tab>` would
reach Click as three words. Our bash script sends the line up to the cursor instead (COMP_LINE), Python
splits it as the shell would, and each candidate is trimmed to the part bash will replace.
"""

from __future__ import annotations

import os

import click
from click.shell_completion import (BashComplete, CompletionItem, FishComplete, add_completion_class,
                                     split_arg_string)

from bpcli.errors import BpcliError, InputError


def variables(ctx: click.Context) -> list[str]:
    """The variables of the expression typed so far (from EXPR or -f FILE); [] when it does not parse."""
    from bpcli import api

    # Click does not put an argument typed before the option into ctx.params (pallets/click#2184).
    expression = ctx.params.get("expression") or next(iter(ctx.args), None)
    try:
        if ctx.params.get("file"):
            from bpcli import files

            expression = files.read_path(ctx.params["file"]).decode("utf-8")
        if not expression or expression == "-":
            return []
        return api.compile_source(expression).input_names
    except (BpcliError, OSError, UnicodeDecodeError):
        return []


def complete_values(ctx: click.Context, _param, incomplete: str) -> list[CompletionItem]:
    """`-v <Tab>` → `w=` `x=` …, the variables with no value yet; after `w=5,` the remaining ones."""
    head, _, last = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    given = {pair.split("=", 1)[0].strip() for item in ctx.params.get("var") or () for pair in item.split(",")}
    given |= {pair.split("=", 1)[0].strip() for pair in head.split(",") if "=" in pair}
    return [CompletionItem(f"{prefix}{name}=") for name in variables(ctx)
            if name not in given and name.startswith(last)]


def complete_names(ctx: click.Context, _param, incomplete: str) -> list[CompletionItem]:
    """`--wrt <Tab>` → the variables (comma-separated lists too)."""
    head, _, last = incomplete.rpartition(",")
    prefix = head + "," if head else ""
    chosen = set(head.split(","))
    return [CompletionItem(prefix + name) for name in variables(ctx) if name not in chosen and name.startswith(last)]


class LineBashComplete(BashComplete):
    """Bash completion from the raw line (COMP_LINE up to the cursor) rather than COMP_WORDS."""

    source_template = """\
%(complete_func)s() {
    local IFS=$'\\n'
    local response completion type value
    response=$(env COMP_LINE="${COMP_LINE:0:$COMP_POINT}" COMP_WORDBREAKS="$COMP_WORDBREAKS" \\
        %(complete_var)s=bash_complete $1 2>/dev/null)
    for completion in $response; do
        IFS=',' read type value <<< "$completion"
        if [[ $type == 'dir' ]]; then
            COMPREPLY=()
            compopt -o dirnames
        elif [[ $type == 'file' ]]; then
            COMPREPLY=()
            compopt -o default
        elif [[ $type == 'plain' ]]; then
            COMPREPLY+=("$value")
            [[ $value == *[=,] ]] && compopt -o nospace
        fi
    done
    return 0
}

%(complete_func)s_setup() {
    complete -o nosort -F %(complete_func)s %(prog_name)s
}

%(complete_func)s_setup;
"""

    def get_completion_args(self) -> tuple[list[str], str]:
        line = os.environ.get("COMP_LINE", "")
        words = _split(line)
        incomplete = "" if not line or line[-1].isspace() else (words.pop() if words else "")
        self._incomplete = incomplete
        return words[1:], incomplete

    def format_completion(self, item: CompletionItem) -> str:
        # bash replaces only what follows the last word-break character of the current word
        breaks = os.environ.get("COMP_WORDBREAKS", "\"'><=;|&(:")
        incomplete = getattr(self, "_incomplete", "")
        cut = max((incomplete.rfind(ch) for ch in breaks if ch not in "\"'"), default=-1)
        value = item.value[cut + 1:] if cut >= 0 and item.value.startswith(incomplete[:cut + 1]) else item.value
        return f"{item.type},{value}"


def _split(line: str) -> list[str]:
    """Words as the shell would split them; an unterminated quote closes at the end of the line."""
    try:
        return split_arg_string(line)
    except ValueError:
        return split_arg_string(line + '"') if line.count('"') % 2 else []


class LineFishComplete(FishComplete):
    """Fish completion with one line per candidate (`type,value<TAB>help`).

    Click 8.4's fish template splits records at a newline it writes unescaped, which breaks the script.
    """

    source_template = """\
function %(complete_func)s;
    set -l response (env %(complete_var)s=fish_complete COMP_WORDS=(commandline -cp) \
COMP_CWORD=(commandline -t) %(prog_name)s);

    for completion in $response;
        set -l metadata (string split --max 1 "," -- $completion);

        if test $metadata[1] = "dir";
            __fish_complete_directories $metadata[2];
        else if test $metadata[1] = "file";
            __fish_complete_path $metadata[2];
        else if test $metadata[1] = "plain";
            echo $metadata[2];
        end;
    end;
end;

complete --no-files --command %(prog_name)s --arguments "(%(complete_func)s)";
"""

    def get_completion_args(self) -> tuple[list[str], str]:
        # As Click's, except that a blank current token (COMP_CWORD=" ") is an empty word: Click takes
        # the first word of an empty split (IndexError, a traceback in the user's terminal).
        words = _split(os.environ.get("COMP_WORDS", ""))
        token = os.environ.get("COMP_CWORD", "")
        incomplete = next(iter(_split(token)), "") if token else ""
        args = words[1:]
        if incomplete and args and args[-1] == incomplete:  # fish sends the partial word in both
            args.pop()
        return args, incomplete

    def format_completion(self, item: CompletionItem) -> str:
        help_ = (item.help or "").replace("\n", " ").replace("\t", " ")
        return f"{item.type},{item.value}\t{help_}" if help_ else f"{item.type},{item.value}"


add_completion_class(LineBashComplete, "bash")
add_completion_class(LineFishComplete, "fish")


def script(cli: click.Command, shell: str) -> str:
    """The completion script for `shell` (bash, zsh or fish), as `bpcli completion SHELL` prints it."""
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None   # bash, zsh and fish are all registered
    return cls(cli, {}, "bpcli", "_BPCLI_COMPLETE").source()


FILES = {"bash": "bpcli.bash", "zsh": "_bpcli", "fish": "bpcli.fish"}


def write_all(cli: click.Command, folder: str) -> None:
    """Write every shell's script into `folder`, under the names in FILES."""
    from bpcli import files

    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot write {err.filename or folder}: {err.strerror}") from None
    for shell, name in FILES.items():
        files.write_whole(os.path.join(folder, name), script(cli, shell))
