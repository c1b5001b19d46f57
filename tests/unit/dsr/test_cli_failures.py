"""The failures a red-team pass saw as tracebacks: each is now one line on stderr and exit code 1 or 2.

In-process through the console script's `main`, plus real processes for the cases that depend on the
operating system (a read-only file system under the database, non-UTF-8 arguments, a process's output).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from models.db import dispose_engines
from tests.unit.dsr.conftest import TRACEBACK, Invoke, Outcome, assert_clean_failure

DSR = [sys.executable, "-m", "dsr"]
KEYS = {"DSR_HMAC_KEY": "00" * 32, "DSR_MASTER_KEY": "11" * 32}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory with keys in the environment and no configuration."""
    monkeypatch.chdir(tmp_path)
    for var in ("DSR_CONFIG", "DSR_DATABASE_URL", "PREFECT_API_URL"):
        monkeypatch.delenv(var, raising=False)
    for var, value in KEYS.items():
        monkeypatch.setenv(var, value)
    yield tmp_path
    dispose_engines()


def _list(invoke: Invoke) -> list[dict[str, object]]:
    result = invoke("request", "list", "--json")
    assert result.returncode == 0, result.stderr
    listed: list[dict[str, object]] = json.loads(result.stdout)
    return listed


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        pytest.param(["deadline", "9999-12-31"], 1, "between 1970 and 2999", id="deadline-max"),
        pytest.param(["deadline", "0001-01-01"], 1, "between 1970 and 2999", id="deadline-min"),
        pytest.param(["fleet", "simulate", "--out", "f", "--endpoints", "-1"], 2, "--endpoints", id="endpoints-neg"),
        pytest.param(["fleet", "simulate", "--out", "f", "--endpoints", "1", "--size-mb", "nan"], 2, "--size-mb",
                     id="size-nan"),
        pytest.param(["fleet", "simulate", "--out", "f", "--endpoints", "1", "--size-mb", "inf"], 2, "--size-mb",
                     id="size-inf"),
        pytest.param(["server", "start", "--wait", "-1"], 2, "--wait", id="wait-negative"),
    ],
)  # fmt: skip
def test_red_team_inputs_fail_in_one_line(home: Path, invoke: Invoke, args: list[str], code: int, words: str) -> None:
    """`dsr deadline 9999-12-31`, `fleet simulate --endpoints -1` / `--size-mb nan`: no traceback, a clear exit."""
    result = invoke(*args)
    assert_clean_failure(result, codes=(code,))
    assert words in result.stderr
    assert not (home / "f").exists()


@pytest.mark.parametrize(
    ("received", "words"),
    [
        pytest.param("0001-01-01T00:00:00+00:00", "between 1970 and 2999", id="min"),
        pytest.param("9999-12-31T23:59:59+00:00", "between 1970 and 2999", id="max"),
        pytest.param("2017-12-31T10:00:00+00:00", "GDPR", id="before-gdpr"),
        pytest.param("2999-01-01T10:00:00+00:00", "in the future", id="future"),
    ],
)
def test_received_at_the_ends_of_the_range(home: Path, invoke: Invoke, received: str, words: str) -> None:
    """`--received` at the ends of the date range, before 25 May 2018 or in the future: refused, nothing written."""
    result = invoke("request", "submit", "--kind", "access", "--identifiers", "-", "--received", received,
                    stdin='{"email": "zoe@example.org"}')  # fmt: skip
    assert_clean_failure(result, codes=(1,))
    assert words in result.stderr and "--received" in result.stderr
    assert _list(invoke) == []


def test_a_receipt_a_minute_ago_is_accepted(home: Path, invoke: Invoke) -> None:
    """The future check leaves room for ordinary use: a receipt time of a minute ago is recorded."""
    from datetime import UTC, datetime, timedelta

    received = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    result = invoke("request", "submit", "--kind", "access", "--identifiers", "-", "--received", received,
                    stdin='{"email": "zoe@example.org"}')  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(_list(invoke)) == 1


def test_unwritable_state_dir_is_one_line(home: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    """A `.dsr/` that cannot be written (here a file of that name): the key cannot be created, named with the fix."""
    monkeypatch.delenv("DSR_HMAC_KEY")
    monkeypatch.delenv("DSR_MASTER_KEY")
    monkeypatch.setenv("DSR_DATABASE_URL", f"sqlite:///{home / 'cases.db'}")
    (home / ".dsr").write_text("in the way\n", encoding="utf-8")
    result = invoke("request", "submit", "--kind", "access", "--identifiers", "-", stdin='{"email": "z@example.org"}')
    assert_clean_failure(result, codes=(1,))
    assert str(home / ".dsr") in result.stderr and "DSR_HMAC_KEY" in result.stderr


def test_database_directory_that_cannot_be_created(home: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database directory under a regular file: one line naming the database and the fix."""
    (home / "plain").write_text("a file\n", encoding="utf-8")
    monkeypatch.setenv("DSR_DATABASE_URL", f"sqlite:///{home / 'plain' / 'sub' / 'dsr.db'}")
    result = invoke("request", "list")
    assert_clean_failure(result, codes=(1,))
    assert "cannot create the case database" in result.stderr and "DSR_DATABASE_URL" in result.stderr


def test_read_only_database_in_process(home: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database SQLite may only read: writing commands fail in one line naming the database and the fix."""
    database = home / "dsr.db"
    monkeypatch.setenv("DSR_DATABASE_URL", f"sqlite:///{database}")
    assert invoke("request", "submit", "--kind", "access", "--identifiers", "-",
                  stdin='{"email": "zoe@example.org"}').returncode == 0  # fmt: skip
    dispose_engines()
    monkeypatch.setenv("DSR_DATABASE_URL", f"sqlite:///file:{database}?mode=ro&uri=true")
    result = invoke("request", "withdraw", "DSR-2026-0001")
    assert_clean_failure(result, codes=(1,))
    assert "readonly" in result.stderr and "writable" in result.stderr


# -- real processes -----------------------------------------------------------------------------------------


def _process(args: list[str], cwd: Path, env: dict[str, str], stdin: str = "") -> Outcome:
    done = subprocess.run([*DSR, *args], cwd=cwd, env=env, input=stdin, capture_output=True, text=True, check=False)
    return Outcome(done.returncode, done.stdout, done.stderr)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DSR_", "PREFECT_API_URL"))}
    return {**env, **KEYS, "DSR_DATABASE_URL": f"sqlite:///{tmp_path / 'db' / 'dsr.db'}", **extra}


def test_processes_fail_in_one_line(tmp_path: Path) -> None:
    """As separate processes: the red-team inputs give one line and exit 1 or 2, never a traceback."""
    env = _env(tmp_path)
    for args, code in (
        (["deadline", "9999-12-31"], 1),
        (["fleet", "simulate", "--out", "f", "--endpoints", "-1"], 2),
        (["fleet", "simulate", "--out", "f", "--endpoints", "1", "--size-mb", "nan"], 2),
        (["request", "show", "DSR-2020-0001"], 2),
        (["request", "submit", "--kind", "access", "--email", "zoe@example.org", "--channel", "x" * 5000], 1),
    ):
        assert_clean_failure(_process(args, tmp_path, env), codes=(code,), context=" ".join(args)[:80])


def test_non_utf8_argument_in_a_process(tmp_path: Path) -> None:
    """A request id that is not UTF-8 (as a shell can pass it): exit 2, one line, the bytes escaped."""
    env = _env(tmp_path)
    done = subprocess.run([*DSR, "request", "show", b"DSR-\xff\xfe"], cwd=tmp_path, env=env, capture_output=True,
                          check=False)  # fmt: skip
    result = Outcome(done.returncode, done.stdout.decode(), done.stderr.decode("utf-8"))
    assert_clean_failure(result, codes=(2,))
    assert "\\udcff" in result.stderr or "\\xff" in result.stderr


def _read_only_runner(directory: Path) -> list[str] | None:
    """argv prefix that runs a command with `directory` mounted read-only (root), or None to use file modes."""
    if os.geteuid() != 0:
        return None
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("running as root without unshare(1): cannot make a read-only file system for the database")
    probe = subprocess.run([unshare, "-m", "--propagation", "private", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("running as root but mount namespaces are not available: cannot make a read-only database")
    script = f'mount --bind "{directory}" "{directory}" && mount -o remount,bind,ro "{directory}" && exec "$@"'
    return [unshare, "-m", "--propagation", "private", "sh", "-c", script, "sh"]


def test_read_only_database_in_a_process(tmp_path: Path) -> None:
    """A `dsr.db` on a read-only file system (root) or with mode 0444 in a 0555 directory: one line, exit 1."""
    env = _env(tmp_path)
    created = _process(["request", "submit", "--kind", "access", "--identifiers", "-"], tmp_path, env,
                       stdin='{"email": "zoe@example.org"}')  # fmt: skip
    assert created.returncode == 0, created.stderr
    database_dir = tmp_path / "db"
    prefix = _read_only_runner(database_dir)
    if prefix is None:
        for path in database_dir.iterdir():
            path.chmod(0o444)
        database_dir.chmod(0o555)
    try:
        for args in (["request", "list"], ["request", "withdraw", "DSR-2026-0001"]):
            done = subprocess.run([*(prefix or []), *DSR, *args], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, check=False)  # fmt: skip
            result = Outcome(done.returncode, done.stdout, done.stderr)
            assert_clean_failure(result, codes=(1,), context=" ".join(args))
            assert "case database" in result.stderr and "writable" in result.stderr
            assert TRACEBACK not in result.stderr
    finally:
        database_dir.chmod(0o755)


@pytest.mark.parametrize("content", ["{not json", '{"pids": "12"}', "[]", '{"pid": 12}'])
def test_damaged_server_state_file(home: Path, invoke: Invoke, content: str) -> None:
    """A damaged `.dsr/server.json` is named with the fix; no pid is signalled and nothing crashes."""
    state = home / ".dsr" / "server.json"
    state.parent.mkdir()
    state.write_text(content, encoding="utf-8")
    result = invoke("server", "stop")
    assert_clean_failure(result, codes=(1,))
    assert str(state) in result.stderr and "delete the file" in result.stderr
    assert state.read_text(encoding="utf-8") == content
