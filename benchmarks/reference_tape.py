"""The plain-Python reference for benchmarks/huge_expressions.py: an iterative shunting-yard parser and
a tape, reading an expression on stdin and values from a file of name=value lines (the file given to
bpcli's --vars), writing value and gradient as JSON. Only what the benchmark's expressions use: numbers,
names, + - * / ^, unary -, parentheses, sin/cos/tanh/exp/log. No error handling: it is a yardstick, not
a tool."""

import json
import math
import re
import sys

TOKEN = re.compile(r"\s*(?:(\d+\.?\d*(?:[eE][+-]?\d+)?)|([A-Za-z_]\w*)|(\*\*|[-+*/^(),]))")
PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "^": 4}
FUNCS = {"sin": (math.sin, math.cos), "cos": (math.cos, lambda a: -math.sin(a)),
         "tanh": (math.tanh, lambda a: 1 - math.tanh(a) ** 2), "exp": (math.exp, math.exp),
         "log": (math.log, lambda a: 1 / a)}


def main() -> None:
    text = sys.stdin.read()
    with open(sys.argv[1]) as values_file:
        env = {k: float(v) for k, v in (line.split("=") for line in values_file.read().split())}
    values, args, ops, names = [], [], [], {}   # the tape: value, argument slots, op
    out, stack, prev = [], [], None

    def emit(op):
        if op in FUNCS:
            a = out.pop()
            values.append(FUNCS[op][0](values[a])); args.append((a,)); ops.append(op)
        elif op == "neg":
            a = out.pop()
            values.append(-values[a]); args.append((a,)); ops.append(op)
        else:
            b, a = out.pop(), out.pop()
            x, y = values[a], values[b]
            values.append({"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else math.inf, "^": x ** y}[op])
            args.append((a, b)); ops.append(op)
        out.append(len(values) - 1)

    for num, name, sym in TOKEN.findall(text):
        if num:
            values.append(float(num)); args.append(()); ops.append("const"); out.append(len(values) - 1)
            prev = "operand"
        elif name in FUNCS:
            stack.append(name); prev = None
        elif name:
            if name not in names:
                values.append(env[name]); args.append(()); ops.append("input"); names[name] = len(values) - 1
            out.append(names[name]); prev = "operand"
        elif sym == "(":
            stack.append("("); prev = None
        elif sym == ")":
            while stack[-1] != "(":
                emit(stack.pop())
            stack.pop()
            if stack and stack[-1] in FUNCS:
                emit(stack.pop())
            prev = "operand"
        else:
            op = "^" if sym == "**" else sym
            if op == "-" and prev != "operand":
                op = "neg"
            while stack and stack[-1] in PREC and (PREC[stack[-1]] > PREC[op] or
                                                   (PREC[stack[-1]] == PREC[op] and op not in ("^", "neg"))):
                emit(stack.pop())
            stack.append(op); prev = None
    while stack:
        emit(stack.pop())

    grads = [0.0] * len(values)
    grads[out[-1]] = 1.0
    for i in range(len(values) - 1, -1, -1):
        op, g = ops[i], grads[i]
        if op in ("const", "input") or not g:
            continue
        a = args[i]
        if op in FUNCS:
            grads[a[0]] += g * FUNCS[op][1](values[a[0]])
        elif op == "neg":
            grads[a[0]] -= g
        else:
            x, y = values[a[0]], values[a[1]]
            if op in "+-":
                da, db = 1.0, (1.0 if op == "+" else -1.0)
            elif op == "*":
                da, db = y, x
            elif op == "/":
                da, db = 1 / y, -x / (y * y)
            else:
                da, db = y * x ** (y - 1), (values[i] * math.log(x) if x > 0 else 0.0)
            grads[a[0]] += g * da
            grads[a[1]] += g * db
    print(json.dumps({"value": values[out[-1]], "gradient": {n: grads[i] for n, i in names.items()}}))


if __name__ == "__main__":
    main()
