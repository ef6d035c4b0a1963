"""The shells' side of completion: bpcli's bash and fish classes, registered with Click when imported.

Imported only when a Tab is answered or a script written (`bpcli.cli.complete.ready`), so a plain run does
not import click.shell_completion.

Bash splits the word being completed at `=`, `:` and `(` (COMP_WORDBREAKS), so `-v w=5,<Tab>` would
reach Click as three words. Our bash script sends the line up to the cursor instead (COMP_LINE), Python
splits it as the shell would, and each candidate is trimmed to the part bash will replace.
"""

from __future__ import annotations

import os

from click.shell_completion import BashComplete, CompletionItem, FishComplete, add_completion_class

from bpcli.cli.complete import bash_item, bash_words, fish_item, fish_words


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
        args, self._incomplete = bash_words(os.environ)
        return args, self._incomplete

    def format_completion(self, item: CompletionItem) -> str:
        return bash_item(item.type, item.value, getattr(self, "_incomplete", ""), os.environ)


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
        return fish_words(os.environ)

    def format_completion(self, item: CompletionItem) -> str:
        return fish_item(item.type, item.value, item.help)


add_completion_class(LineBashComplete, "bash")
add_completion_class(LineFishComplete, "fish")
