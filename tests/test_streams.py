"""Files and streams as input: the installed `bpcli` as a real process with a full disk, closed descriptors,
endless input, FIFOs, Ctrl-C in the middle of its output, and several runs saving to one file at once.

What must hold: one line on stderr and a documented status (never a traceback, never 0 when output was
lost), files written whole or not at all, and every row written whole.
"""

from __future__ import annotations

import os
import random
import shlex
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import CLEAN_ENV, ROOT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX descriptors, devices and signals")

FULL = "cannot write standard output: No space left on device"
CLOSED = "cannot write standard output: Bad file descriptor"
LECTURE = "'(w+x*y)*z' -v w=5,x=3,y=2,z=4"


def sh(installed: Path, command: str, cwd: Path, input: bytes | None = None) -> subprocess.CompletedProcess:
    """`command` under bash with the installed bpcli first on PATH; memory is capped (an unbounded read
    must fail fast, not take the machine)."""
    env = {**CLEAN_ENV, "PATH": f"{installed}{os.pathsep}{CLEAN_ENV.get('PATH', '')}", "NO_COLOR": "1"}
    return subprocess.run(["bash", "-c", f"ulimit -v 2000000; {command}"], capture_output=True, input=input,
                          cwd=cwd, env=env, timeout=120)


def one_error(p: subprocess.CompletedProcess, code: int, message: str) -> None:
    """Exit `code` and exactly one line on stderr, `bpcli: error: <message>` (no traceback, nothing
    from Python's flush at exit)."""
    err = p.stderr.decode("utf-8", "replace")
    assert (p.returncode, err) == (code, f"bpcli: error: {message}\n")


# ---- standard output that cannot be written ------------------------------------------------------------

OUTPUTS = [
    f"grad {LECTURE}", f"grad {LECTURE} --perturb --explain", f"grad {LECTURE} --format json",
    f"grad {LECTURE} --format csv", f"grad {LECTURE} --format jsonl", "eval 'sin(x)' -v x=1",
    "grad 'x*y' --grid x=0:1000:1 -v y=2", "grad 'x*y' --grid x=0:300000:1 -v y=2 --format jsonl",
    "grad 'x*y' --batch rows.csv", "grad 'x*y' --batch - --batch-format csv < rows.csv",
    f"step {LECTURE} --target 33 --lr 0.001 --steps 5", f"step {LECTURE} --steps 5 --lr 0.001 --format csv",
    f"step {LECTURE} --steps 5 --lr 0.001 --format json", "code '(w+x*y)*z' --lang c",
    "completion bash", "completion fish", "graph '(w+x*y)*z' --format dot", "graph '(w+x*y)*z' --format mermaid",
    f"graph {LECTURE}", "--help", "grad --help", "--version",
]


@pytest.fixture
def rows(tmp_path) -> Path:
    (tmp_path / "rows.csv").write_text("x,y\n" + "".join(f"{i},{i % 7}\n" for i in range(20_000)))
    return tmp_path


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", OUTPUTS)
def test_a_full_disk_is_one_line_and_status_74(installed, rows, args):
    one_error(sh(installed, f"bpcli {args} > /dev/full", rows), 74, FULL)


@pytest.mark.parametrize("args", OUTPUTS)
def test_a_closed_stdout_is_one_line_and_status_74_never_0(installed, rows, args):
    one_error(sh(installed, f"bpcli {args} >&-", rows), 74, CLOSED)


def test_a_closed_stdout_is_not_reused_for_a_file_bpcli_opens(tmp_path):
    # With descriptor 1 closed, the next file opened would get number 1 and receive what stdout gets.
    probe = ("import os, sys\nfrom bpcli import files\nfiles.standard_streams()\n"
             "print(os.open('f', os.O_CREAT | os.O_WRONLY), file=sys.stderr)")
    p = subprocess.run(f"{shlex.quote(sys.executable)} -c {shlex.quote(probe)} >&-", shell=True, cwd=tmp_path,
                       capture_output=True, text=True, env={**CLEAN_ENV, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0 and int(p.stderr) > 2, p.stderr


def test_a_run_whose_output_is_lost_saves_nothing(installed, tmp_path):
    # The steps are written as they are computed: when stdout fails, the run stops there, and --save
    # (written whole, at the end) is not written at all rather than with values nobody saw.
    p = sh(installed, f"bpcli step {LECTURE} --lr 0.001 --save out.vars >&-", tmp_path)
    one_error(p, 74, CLOSED)
    assert not (tmp_path / "out.vars").exists()


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_an_error_keeps_its_status_when_stdout_fails_too(installed, tmp_path):
    # The table is still buffered when the descent reports its divergence; its loss is found at the end.
    p = sh(installed, "bpcli step x -v x=1e200 --target -1e200 > /dev/full", tmp_path)
    err = p.stderr.decode().splitlines()
    assert p.returncode == 3 and len(err) == 2
    assert err[0].startswith("bpcli: error: diverged at step 0: ") and err[1] == f"bpcli: error: {FULL}"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args,code", [("grad x", 2), ("grad 'log(x)' -v x=0", 3), (f"grad {LECTURE}", 0),
                                       ("grad 'x*y' -v x=1,y=2,z=3", 0)])
def test_a_full_stderr_loses_the_messages_and_keeps_the_status(installed, tmp_path, args, code):
    p = sh(installed, f"bpcli {args} 2> /dev/full", tmp_path)
    assert p.returncode == code
    p = sh(installed, f"bpcli {args} 2>&-", tmp_path)
    assert p.returncode == code


# ---- standard input that cannot be read, or does not end -------------------------------------------------

@pytest.mark.parametrize("args", ["grad - -v x=1", "grad -f - -v x=1", "grad 'x*y' --batch - -v y=2",
                                  "grad 'x*y' --batch - --batch-format jsonl -v y=2", "code -"])
def test_a_closed_stdin_is_bad_input(installed, tmp_path, args):
    one_error(sh(installed, f"bpcli {args} <&-", tmp_path), 2, "cannot read standard input: Bad file descriptor")


@pytest.mark.parametrize("args,where", [
    ("grad - -v x=1 < /dev/zero", "standard input"), ("grad -f /dev/zero -v x=1", "/dev/zero"),
    ("grad x --vars /dev/zero", "/dev/zero"), ("code - < /dev/zero", "standard input"),
    ("grad -f fifo -v x=1 & pid=$!; yes 'x+' > fifo 2> /dev/null & wait $pid", "fifo"),  # a writer that never stops
])
def test_input_read_whole_stops_at_64_mib(installed, tmp_path, args, where):
    os.mkfifo(tmp_path / "fifo")
    message = f"{where} is longer than 64 MiB: not an expression or values"
    one_error(sh(installed, f"bpcli {args}", tmp_path), 2, message)


@pytest.mark.parametrize("option", ["-f", "--vars"])
def test_input_of_exactly_64_mib_is_read_and_one_byte_more_is_not(installed, tmp_path, option):
    cap = 64 << 20
    text = b"x*y\n" if option == "-f" else b"x = 2\n"
    (tmp_path / "at").write_bytes(text + b"\n" * (cap - len(text)))  # blank lines at the end are dropped
    (tmp_path / "over").write_bytes(text + b"\n" * (cap + 1 - len(text)))
    given = "-f {} -v x=2" if option == "-f" else "'x*y' --vars {}"
    p = sh(installed, f"bpcli grad {given.format('at')} -v y=3 --format csv", tmp_path)
    assert (p.returncode, p.stdout) == (0, b"value,d_x,d_y\n6.0,3.0,2.0\n")
    one_error(sh(installed, f"bpcli grad {given.format('over')} -v y=3", tmp_path), 2,
              "over is longer than 64 MiB: not an expression or values")


def test_a_program_and_values_from_fifos(installed, tmp_path):
    os.mkfifo(tmp_path / "prog")
    os.mkfifo(tmp_path / "vals")
    p = sh(installed, "(echo 'x*y' > prog &); (printf 'x = 3\\ny = 4\\n' > vals &); "
                      "bpcli grad -f prog --vars vals --format csv", tmp_path)
    assert (p.returncode, p.stdout) == (0, b"value,d_x,d_y\n12.0,4.0,3.0\n")


# ---- files written whole or not at all ---------------------------------------------------------------

def test_a_diverged_step_keeps_the_saved_file_and_prints_the_last_finite_values(installed, tmp_path):
    (tmp_path / "s.vars").write_text("x = 0\ny = 5\n")
    p = sh(installed, "bpcli step 'sqrt(x)*y' --vars s.vars --save s.vars", tmp_path)
    assert p.returncode == 3 and b"diverged at step 0" in p.stderr
    assert p.stdout.decode().splitlines()[-1] == "x=0.0,y=5.0"
    assert (tmp_path / "s.vars").read_text().split() == ["x", "=", "0.0", "y", "=", "5.0"]


def test_a_step_with_nothing_finite_to_save_leaves_the_file_as_it_was(installed, tmp_path):
    (tmp_path / "s.vars").write_text("# mine\nx = 1e200\n")
    p = sh(installed, "bpcli step x --vars s.vars --target -1e200 --save s.vars", tmp_path)
    assert p.returncode == 3 and b"--save s.vars: not written" in p.stderr
    assert (tmp_path / "s.vars").read_text() == "# mine\nx = 1e200\n"


@pytest.mark.parametrize("save", ["prog.bp", "./prog.bp", "sub/../prog.bp", "link.bp", "{tmp}/prog.bp"])
def test_save_onto_the_program_is_refused_before_anything_runs(installed, tmp_path, save):
    (tmp_path / "sub").mkdir()
    (tmp_path / "prog.bp").write_text("x*y\n")
    (tmp_path / "link.bp").symlink_to("prog.bp")
    p = sh(installed, f"bpcli step -f prog.bp -v x=1,y=2 --save {save.format(tmp=tmp_path)}", tmp_path)
    assert p.returncode == 2 and p.stdout == b"" and b"is the program being run" in p.stderr
    assert (tmp_path / "prog.bp").read_text() == "x*y\n"


def test_render_onto_the_program_is_refused(installed, tmp_path):
    (tmp_path / "prog.svg").write_text("x*y\n")
    p = sh(installed, "bpcli graph -f prog.svg --render prog.svg", tmp_path)
    assert p.returncode == 2 and b"is the program being drawn" in p.stderr
    assert (tmp_path / "prog.svg").read_text() == "x*y\n"


def test_save_onto_the_vars_file_is_the_round_trip(installed, tmp_path):
    (tmp_path / "s.vars").write_text("x = 3\n")
    for _ in range(2):
        p = sh(installed, "bpcli step 'x^2' --vars s.vars --save s.vars --lr 0.25 > /dev/null", tmp_path)
        assert p.returncode == 0
    assert (tmp_path / "s.vars").read_text() == "x = 0.75\n"


def test_a_saved_file_keeps_its_mode_and_its_link_and_leaves_nothing_behind(installed, tmp_path):
    (tmp_path / "real.vars").write_text("x = 3\n")
    os.chmod(tmp_path / "real.vars", 0o640)
    (tmp_path / "link.vars").symlink_to("real.vars")
    assert sh(installed, "bpcli step 'x^2' -v x=3 --save link.vars > /dev/null", tmp_path).returncode == 0
    assert (tmp_path / "link.vars").is_symlink() and (tmp_path / "real.vars").read_text() == "x = 2.4\n"
    assert stat.S_IMODE((tmp_path / "real.vars").stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.vars", "real.vars"]


def test_save_to_a_device_or_a_fifo_writes_it_and_does_not_replace_it(installed, tmp_path):
    assert sh(installed, "bpcli step 'x^2' -v x=3 --save /dev/null > /dev/null", tmp_path).returncode == 0
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    os.mkfifo(tmp_path / "fifo")
    p = sh(installed, "cat fifo > got & bpcli step 'x^2' -v x=3 --save fifo > /dev/null; wait", tmp_path)
    assert p.returncode == 0 and (tmp_path / "got").read_text() == "x = 2.4\n"
    assert stat.S_ISFIFO(os.stat(tmp_path / "fifo").st_mode)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    from bpcli import files
    from bpcli.errors import InputError

    target = tmp_path / "s.vars"
    target.write_text("x = 1\n")

    def fail(*_args):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(files.os, "fsync", fail)
    with pytest.raises(InputError, match="cannot write .*s.vars: No space left on device"):
        files.write_whole(str(target), "x = 2\n")
    assert target.read_text() == "x = 1\n" and [p.name for p in tmp_path.iterdir()] == ["s.vars"]


def test_completion_write_replaces_the_scripts_whole(installed, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "bpcli.bash").write_text("old\n")
    assert sh(installed, "bpcli completion --write out", tmp_path).returncode == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["_bpcli", "bpcli.bash", "bpcli.fish"]
    assert (tmp_path / "out" / "bpcli.bash").read_bytes() == sh(installed, "bpcli completion bash", tmp_path).stdout


def _whole(text: str, names: int) -> bool:
    """A saved file of `names` lines x0 = c … that all hold one value: one run's file, whole."""
    lines = text.splitlines()
    values = {line.partition(" = ")[2] for line in lines}
    return len(lines) == names and text.endswith("\n") and len(values) == 1


def test_concurrent_saves_never_interleave_and_a_reader_never_sees_half_a_file(installed, tmp_path):
    names = 3000
    (tmp_path / "prog.bp").write_text("+".join(f"x{i}" for i in range(names)) + "\n")
    runs = 6
    for k in range(runs):
        (tmp_path / f"start{k}.vars").write_text("".join(f"x{i} = {k + 1}.5\n" for i in range(names)))
    saved = tmp_path / "same.vars"
    saved.write_text((tmp_path / "start0.vars").read_text())
    seen: list[str] = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            seen.append(saved.read_text())
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for _ in range(3):
            p = sh(installed, " & ".join(f"bpcli step -f prog.bp --vars start{k}.vars --steps 0 --save same.vars "
                                         "> /dev/null" for k in range(runs)) + " & wait", tmp_path)
            assert p.returncode == 0 and p.stderr == b""
    finally:
        done.set()
        watcher.join()
    assert seen and [i for i, text in enumerate(seen) if not _whole(text, names)] == []
    assert _whole(saved.read_text(), names)
    assert sorted(p.name for p in tmp_path.iterdir() if "same" in p.name) == ["same.vars"]


# ---- Ctrl-C in the middle of the output ----------------------------------------------------------------

def _interrupted(installed, tmp_path, args: list[str], seed: int) -> tuple[int, bytes, bytes]:
    """Run bpcli with stdout to a slow reader (so that it waits in the middle of writing), send SIGINT
    at a random moment after the first bytes arrive, and return its status, stdout and stderr."""
    p = subprocess.Popen([str(installed / "bpcli"), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         cwd=tmp_path, env=CLEAN_ENV)
    out = [p.stdout.read1(4096)]
    time_to_interrupt = time.monotonic() + random.Random(seed).uniform(0, 0.5)
    interrupted = False
    while chunk := p.stdout.read1(4096):
        out.append(chunk)
        if not interrupted and time.monotonic() >= time_to_interrupt:
            p.send_signal(signal.SIGINT)
            interrupted = True
        time.sleep(0.001)
    return p.wait(timeout=60), b"".join(out), p.stderr.read()


@pytest.mark.parametrize("seed", range(4))
def test_ctrl_c_during_a_long_grid_leaves_whole_rows_and_status_130(installed, tmp_path, seed):
    code, out, err = _interrupted(installed, tmp_path, ["grad", "x*y", "--grid", "x=0:10000000:1", "-v", "y=2",
                                                        "--format", "csv"], seed)
    assert (code, err.strip()) == (130, b"bpcli: interrupted")
    lines = out.decode().split("\n")
    assert lines[0] == "x,value,d_x,d_y" and lines[-1] == "", "the last row is cut"
    for line in lines[1:-1]:
        x, value, d_x, d_y = map(float, line.split(","))
        assert value == 2 * x and d_x == 2 and d_y == x, line


@pytest.mark.parametrize("seed", range(2))
def test_ctrl_c_during_step_rows_leaves_whole_rows_and_status_130(installed, tmp_path, seed):
    code, out, err = _interrupted(installed, tmp_path, ["step", "x^2", "-v", "x=1", "--lr", "0.0001", "--steps",
                                                        "30000", "--format", "csv"], seed)
    assert (code, err.strip()) in ((0, b""), (130, b"bpcli: interrupted"))  # it may end before Ctrl-C comes
    lines = out.decode().split("\n")
    assert lines[0] == "step,f,loss,x,d_x" and lines[-1] == "", "the last row is cut"
    assert all(len(line.split(",")) == 5 for line in lines[1:-1])


def test_sigpipe_still_ends_bpcli_silently_with_141(installed, tmp_path):
    p = sh(installed, "bpcli grad 'x*y' --grid x=0:1000000:1 -v y=2 | head -1; exit ${PIPESTATUS[0]}", tmp_path)
    assert (p.returncode, p.stdout, p.stderr) == (141, b"x,value,d_x,d_y\n", b"")


def test_a_stream_that_cannot_encode_the_tables_gets_escapes_not_a_traceback(installed, tmp_path):
    p = sh(installed, f"PYTHONIOENCODING=ascii bpcli grad {LECTURE} --explain", tmp_path)
    out = p.stdout.decode("ascii")
    assert (p.returncode, p.stderr) == (0, b"") and "\\u2202f/\\u2202x" in out


def test_a_reader_of_stderr_that_went_away_costs_only_the_messages(installed, tmp_path):
    read, write = os.pipe()
    os.close(read)  # a warning written to stderr now meets EPIPE
    try:
        p = subprocess.run([str(installed / "bpcli"), "grad", "x*y", "-v", "x=1,y=2,z=3", "--format", "csv"],
                           stdout=subprocess.PIPE, stderr=write, cwd=tmp_path, env=CLEAN_ENV, timeout=60)
    finally:
        os.close(write)
    assert (p.returncode, p.stdout) == (0, b"value,d_x,d_y\n2.0,2.0,1.0\n")


def test_running_out_of_memory_is_one_line(installed, tmp_path):
    (tmp_path / "many.txt").write_text("+".join(f"x{i}" for i in range(300_000)))
    p = sh(installed, "ulimit -v 300000; bpcli grad - < many.txt", tmp_path)
    one_error(p, 2, "not enough memory for this input")


def test_render_onto_the_vars_file_is_refused(installed, tmp_path):
    (tmp_path / "v.svg").write_text("x = 1\ny = 2\n")
    p = sh(installed, "bpcli graph 'x*y' --vars v.svg --render v.svg", tmp_path)
    assert p.returncode == 2 and (tmp_path / "v.svg").read_text() == "x = 1\ny = 2\n"


def test_a_cell_may_be_as_long_as_a_line(installed, tmp_path):
    (tmp_path / "long.csv").write_text("x,note\n1," + "a" * 200_000 + "\n")
    p = sh(installed, "bpcli grad x --batch long.csv", tmp_path)
    assert (p.returncode, p.stdout) == (0, b"x,value,d_x\n1.0,1.0,1.0\n")


@pytest.mark.parametrize("module", ["bpcli.cli.quick", "bpcli.cli.commands"])
def test_ctrl_c_while_the_command_line_is_imported_is_130(monkeypatch, capsys, module):
    """At the first import (the quick reader's) and at Click's, which a command it leaves imports."""
    import builtins

    import bpcli.__main__ as entry
    from bpcli.cli import actions

    real = builtins.__import__

    def interrupted(name, globals=None, locals=None, fromlist=(), level=0):
        package, _, last = module.rpartition(".")
        if name == module or (name == package and last in (fromlist or ())):
            raise KeyboardInterrupt
        return real(name, globals, locals, fromlist, level)

    monkeypatch.setattr(actions, "start", lambda: None)   # the test process keeps its streams
    monkeypatch.setattr(sys, "argv", ["bpcli", "diff", "x^2"])   # a command the quick reader leaves to Click
    monkeypatch.setattr(builtins, "__import__", interrupted)
    with pytest.raises(SystemExit) as done:
        entry.main()
    assert done.value.code == 130 and capsys.readouterr().err == "bpcli: interrupted\n"
