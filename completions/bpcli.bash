_bpcli_completion() {
    local IFS=$'\n'
    local response completion type value
    response=$(env COMP_LINE="${COMP_LINE:0:$COMP_POINT}" COMP_WORDBREAKS="$COMP_WORDBREAKS" \
        _BPCLI_COMPLETE=bash_complete $1 2>/dev/null)
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

_bpcli_completion_setup() {
    complete -o nosort -F _bpcli_completion bpcli
}

_bpcli_completion_setup;
