"""Shared helpers: run the CLI through Click's CliRunner with stdout and stderr kept apart; swap in a
broken derivative rule (every checker has a test that feeds it one)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from bpcli import ops, templates
from bpcli.cli import cli


class Run:
    """The outcome of one CLI invocation."""

    def __init__(self, result) -> None:
        self.code = result.exit_code
        self.out = result.stdout
        self.err = result.stderr
        self.exception = result.exception

    def json(self) -> dict:
        """stdout parsed as JSON."""
        return json.loads(self.out)


@pytest.fixture
def run():
    """run("grad", "x*y", "-v", "x=1,y=2") -> Run."""
    def invoke(*args: str, input: str | None = None) -> Run:
        runner = CliRunner()
        return Run(runner.invoke(cli, list(args), input=input, catch_exceptions=False))
    return invoke


@pytest.fixture
def broken_rule(monkeypatch):
    """break_rule(name, *partials) swaps in a deliberately wrong derivative rule until the test ends."""
    def break_rule(name: str, *partials: str) -> None:
        monkeypatch.setitem(ops.OPS, name, dataclasses.replace(ops.OPS[name], partials=partials))
        templates.rules.cache_clear()  # compiled rules are cached per (name, arity, backend)
    try:
        yield break_rule
    finally:
        monkeypatch.undo()
        templates.rules.cache_clear()
