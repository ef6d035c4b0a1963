"""The shells' side of completion: bpcli's bash and fish classes, registered with Click when imported.

Imported only when a Tab is answered or a script written (`bpcli.cli.complete.ready`), so a plain run does
not import click.shell_completion.

Bash splits the word being completed at `=`, `:` and `(` (COMP_WORDBREAKS), so `-v w=5,<Tab>` would
reach Click as three words. Our bash script sends the line up to the cursor instead (COMP_LINE), Python
splits it as the shell would, and each candidate is trimmed to the part bash will replace.
"""

from __future__ import annotations

import os

from click.shell_completion import (BashComplete, CompletionItem, FishComplete, add_completion_class,
                                     split_arg_string)


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
