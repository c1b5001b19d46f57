"""Running `dsr` in-process as the console script does (its `main`, exit codes included)."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from dsr.cli import main
from dsr.context import state

TRACEBACK = "Traceback (most recent call last)"


@dataclass
class Outcome:
    """What one `dsr` invocation returned."""

    returncode: int
    stdout: str
    stderr: str


Invoke = Callable[..., Outcome]


def invoke_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str, stdin: str | bytes = ""
) -> Outcome:
    """Run `dsr ARGS` through the console script's `main` with `stdin` as standard input."""
    state.reset()
    capsys.readouterr()
    raw = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw), encoding="utf-8"))
    monkeypatch.setattr(sys, "argv", ["dsr", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Invoke:
    """`invoke(*args, stdin="")`: run `dsr` in-process in the test's environment and working directory."""

    def _invoke(*args: str, stdin: str | bytes = "") -> Outcome:
        return invoke_main(monkeypatch, capsys, *args, stdin=stdin)

    return _invoke


def assert_clean_failure(
    result: Outcome, *, codes: tuple[int, ...] = (1, 2), context: str = "", internal: bool = False
) -> None:
    """No traceback; exit code in `codes`; one `error:` line on stderr (or Typer's short usage message).

    An "unexpected internal error" line is a bug unless `internal` says the test provoked one.
    """
    where = f"{context}: " if context else ""
    assert TRACEBACK not in result.stderr + result.stdout, f"{where}traceback:\n{result.stderr[-3000:]}"
    assert result.returncode in codes, f"{where}exit {result.returncode}, stderr {result.stderr[:500]!r}"
    lines = result.stderr.strip().splitlines()
    if lines and lines[0].startswith("Usage:"):
        assert result.returncode == 2 and any(line.startswith("Error:") for line in lines) and len(lines) <= 6, (
            f"{where}usage message: {result.stderr[:800]!r}"
        )
        return
    assert len(lines) == 1, f"{where}expected one line on stderr, got {len(lines)}: {result.stderr[:800]!r}"
    assert lines[0].startswith("error: "), f"{where}{lines[0][:300]!r}"
    if not internal:
        assert "unexpected internal error" not in lines[0], f"{where}a bug, not a message: {lines[0][:300]!r}"
    # A path may be echoed whole (at most PATH_MAX); a 1 MB value may not.
    assert len(lines[0]) <= 8192, f"{where}stderr line of {len(lines[0])} characters"
