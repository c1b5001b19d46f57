"""Every `dsr` command under hostile input: never a traceback, one line on stderr, exit code 1 or 2.

The commands are enumerated from the Typer app, so a new command or option is walked without editing this
file: each parameter gets the hostile values of its type (huge, negative, nan and inf numbers; empty, 1 MB,
non-UTF-8 and terminal-control strings; dates at both ends of the calendar; paths that cannot exist), the
other required parameters get ordinary values. A second walk runs every command with ordinary values in a
broken environment (read-only database, unwritable `.dsr/`, a database directory that cannot be created,
a missing or invalid configuration). The CLI runs in-process, as the console script's `main`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer.main

from dsr.cli import register
from models.db import dispose_engines
from tests.unit.dsr.conftest import TRACEBACK, Invoke, Outcome, assert_clean_failure

HMAC = "00" * 32
MASTER = "11" * 32
MEGABYTE = "x" * 1_000_000


def _walk(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    if hasattr(command, "commands"):
        for name, sub in sorted(command.commands.items()):
            yield from _walk(sub, (*path, name))
    else:
        yield path, command


COMMANDS = dict(_walk(typer.main.get_command(register())))


def test_the_walk_sees_every_command() -> None:
    """The enumeration reaches the nested commands (a broken walk would silently test nothing)."""
    names = {" ".join(path) for path in COMMANDS}
    assert {"deadline", "scan", "request submit", "request run", "hold add", "ledger verify", "server start"} <= names
    assert len(names) >= 20


@dataclass
class World:
    """A working directory with a configuration, a laptop tree, one request and one legal hold."""

    root: Path
    request_id: str
    tree: Path
    afile: Path


def _is_date(param: Any) -> bool:
    text = (param.help or "").lower()
    return "date" in text or "yyyy-mm-dd" in text


def _filler(path: tuple[str, ...], name: str, world: World, counter: list[int]) -> str | None:
    """An ordinary value for a required parameter (None: no filler known, use the type's)."""
    counter[0] += 1
    fresh = world.root / f"fresh-{counter[0]}"
    table: dict[str, str] = {
        "request_id": world.request_id,
        "hold_id": "LH-1" if path[-1] == "release" else f"LH-NEW-{counter[0]}",
        "received": "2025-01-31",
        "kind": "access",
        "reason": "complex case",
        "ground": "excessive",
        "by": "Dana Reviewer",
        "recipient": "Example Backup Ltd",
        "channel": "email",
        "out": str(fresh),
        "out_dir": str(fresh),
        "file": str(fresh / "out.pem"),
        "endpoints": "1",
        "endpoint_name": "lap",
        "root": str(world.tree),
        "case_reference": "C-1",
        "approver": "Ann Approver",
        "review_date": "2027-06-01",
    }
    return table.get(name)


def _type_filler(bare: str) -> str:
    return {"int": "1", "float": "1.0"}.get(bare, "value")


#: Extra ordinary arguments some commands need besides their required ones (at least one identifier).
BASE: dict[tuple[str, ...], list[str]] = {
    ("scan",): ["--email", "zoe@example.org"],
    ("request", "submit"): ["--email", "zoe@example.org"],
    ("fleet", "simulate"): ["--size-mb", "0.01"],
}


def _hostile(param: Any, world: World) -> list[tuple[str, str]]:
    """(label, value) pairs of hostile values for one parameter, by type."""
    bare = param.bare_type()
    if getattr(param, "is_flag", False) or bare == "bool":
        return []
    if bare == "int":
        return [("huge", "9" * 30), ("negative", "-1"), ("nan", "nan"), ("empty", "")]
    if bare == "float":
        return [("nan", "nan"), ("inf", "inf"), ("-inf", "-inf"), ("negative", "-1"), ("overflow", "1e309")]
    if bare in {"Path", "Path | None"}:
        return [
            ("not-a-dir", str(world.afile / "child")),
            ("non-utf8", str(world.afile / "\udcff\udcfe")),
            ("huge", str(world.root / ("p" * 5000))),
        ]
    values = [("empty", ""), ("blank", "   "), ("1MB", MEGABYTE), ("non-utf8", "\udcff\udcfe"), ("control", "\x1b[2J")]
    if _is_date(param):
        values += [
            ("date-min", "0001-01-01"),
            ("date-max", "9999-12-31"),
            ("instant-min", "0001-01-01T00:00:00+00:00"),
            ("instant-max", "9999-12-31T23:59:59+00:00"),
        ]
    return values


def _argv(path: tuple[str, ...], command: Any, world: World, hostile: Any, value: str) -> list[str]:
    argv = list(path)
    counter = [0]
    positional: list[str] = []
    for param in command.params:
        if param is hostile:
            chosen: str | None = value
        elif param.required:
            chosen = _filler(path, param.name, world, counter) or _type_filler(param.bare_type())
        else:
            continue
        if param.param_type_name == "argument":
            positional.append(chosen)
        else:
            argv += [param.opts[0], chosen]
    base = [a for a in BASE.get(path, []) if not (hostile is not None and a in hostile.opts)]
    return [*argv, *base, "--", *positional] if positional else [*argv, *base]


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, invoke: Invoke) -> Iterator[World]:
    """A configuration with one local laptop, a submitted request and a legal hold, in the working directory."""
    tree = tmp_path / "laptop"
    (tree / "Users/zoe").mkdir(parents=True)
    (tree / "Users/zoe/notes.md").write_text("zoe@example.org wrote this\n", encoding="utf-8")
    afile = tmp_path / "afile"
    afile.write_text("a regular file\n", encoding="utf-8")
    (tmp_path / "dsr.toml").write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "db" / "dsr.db"}"\n'
        f'[[endpoints]]\nname = "lap"\nurl = "file://{tree}"\nos = "macos"\n',
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    for var in ("DSR_CONFIG", "DSR_DATABASE_URL", "PREFECT_API_URL", "DSR_LEDGER_SIGNING_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DSR_HMAC_KEY", HMAC)
    monkeypatch.setenv("DSR_MASTER_KEY", MASTER)
    submitted = invoke("request", "submit", "--kind", "access", "--identifiers", "-", "--json",
                       stdin='{"email": ["zoe@example.org"]}')  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    held = invoke("hold", "add", "--id", "LH-1", "--reason", "litigation", "--case-reference", "C-1",
                  "--approver", "Ann Approver", "--review-date", "2027-06-01")  # fmt: skip
    assert held.returncode == 0, held.stderr
    yield World(tmp_path, json.loads(submitted.stdout)["id"], tree, afile)
    dispose_engines()


#: Hostile-looking values that are valid for one option, with the reason; they must succeed cleanly.
ACCEPTED = {
    # An empty --database-url means "not given": the configured database is used (as for an empty variable).
    (("ledger", "export"), "--database-url", "empty"),
}


@pytest.mark.parametrize("path", sorted(COMMANDS), ids=" ".join)
def test_hostile_values_are_refused_in_one_line(path: tuple[str, ...], world: World, invoke: Invoke) -> None:
    """Each hostile value of each parameter: no traceback, one line on stderr, exit 1 or 2, nothing on stdout."""
    command = COMMANDS[path]
    tried = 0
    for param in command.params:
        for label, value in _hostile(param, world):
            argv = _argv(path, command, world, param, value)
            result = invoke(*argv)
            context = f"dsr {' '.join(path)} {param.opts[0]}={label}"
            if (path, param.opts[0], label) in ACCEPTED:
                assert result.returncode == 0 and TRACEBACK not in result.stderr, context
                continue
            assert_clean_failure(result, context=context)
            assert result.stdout.strip() == "", f"{context}: printed {result.stdout[:200]!r}"
            tried += 1
    assert tried or all(getattr(p, "is_flag", False) for p in command.params)


#: Commands that would start long-running processes when their ordinary arguments succeed: the walk of
#: broken environments leaves them out where the breakage would not stop them first.
STARTS_PROCESSES = {("server", "start"), ("request", "run")}


def _break(scenario: str, world: World, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Break the environment one way; returns global options to pass before the command."""
    dispose_engines()
    if scenario == "read-only-database":
        database = world.root / "db" / "dsr.db"
        monkeypatch.setenv("DSR_DATABASE_URL", f"sqlite:///file:{database}?mode=ro&uri=true")
        return []
    if scenario == "unwritable-state-dir":
        monkeypatch.delenv("DSR_HMAC_KEY")
        monkeypatch.delenv("DSR_MASTER_KEY")
        (world.root / ".dsr").write_text("not a directory\n", encoding="utf-8")
        return []
    if scenario == "database-dir-cannot-be-created":
        monkeypatch.setenv("DSR_DATABASE_URL", f"sqlite:///{world.afile / 'sub' / 'dsr.db'}")
        return []
    if scenario == "missing-config":
        return ["--config", str(world.root / "missing.toml")]
    if scenario == "invalid-config":
        bad = world.root / "bad.toml"
        bad.write_text(
            '[[holds]]\nid = "H"\nreason = "r"\ncase_reference = "c"\napprover = "a"\n'
            'review_date = "2027-01-01"\nsubjects = "zoe.secret@example.org"\n'
            '[[endpoints]]\nname = "x"\nurl = "file://fileserver.corp/share"\n',
            encoding="utf-8",
        )
        return ["--config", str(bad)]
    raise AssertionError(scenario)


SCENARIOS = [
    "read-only-database",
    "unwritable-state-dir",
    "database-dir-cannot-be-created",
    "missing-config",
    "invalid-config",
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_broken_environment_fails_in_one_line(
    scenario: str, world: World, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command with ordinary values in a broken environment: succeeds or fails in one line, never a traceback."""
    options = _break(scenario, world, monkeypatch)
    failed = 0
    for path, command in sorted(COMMANDS.items()):
        if path in STARTS_PROCESSES and scenario not in ("missing-config", "invalid-config", "unwritable-state-dir"):
            continue
        argv = _argv(path, command, world, None, "")
        result: Outcome = invoke(*options, *argv)
        context = f"{scenario}: dsr {' '.join(argv)[:200]}"
        assert TRACEBACK not in result.stderr + result.stdout, f"{context}: traceback:\n{result.stderr[-3000:]}"
        if result.returncode != 0:
            assert_clean_failure(result, context=context)
            failed += 1
        assert "zoe.secret" not in result.stderr, f"{context}: a configuration value was printed"
    assert failed, f"{scenario}: no command noticed the broken environment"


def test_traceback_only_in_the_debug_log(world: World, invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected failure is one line; with --debug its traceback goes to .dsr/logs/debug.log (mode 0600)."""
    import models.deadline as deadline_module  # `dsr deadline` imports it when it runs

    def broken(*_args: object, **_kwargs: object) -> None:
        raise KeyError("internal")

    monkeypatch.setattr(deadline_module, "compute_deadlines", broken)
    plain = invoke("deadline", "2025-01-31")
    assert_clean_failure(plain, codes=(1,), internal=True)
    assert "KeyError" in plain.stderr and "--debug" in plain.stderr
    log = world.root / ".dsr" / "logs" / "debug.log"
    assert not log.exists()
    debug = invoke("--debug", "deadline", "2025-01-31")
    assert_clean_failure(debug, codes=(1,), internal=True)
    assert str(log) in debug.stderr
    assert TRACEBACK in log.read_text(encoding="utf-8")
    assert (log.stat().st_mode & 0o777) == 0o600
