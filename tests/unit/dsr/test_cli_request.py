"""The `dsr` command line as scripts use it: exit codes, one JSON document on stdout, nothing written on errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from dsr.cli import main
from dsr.context import state

DSR = [sys.executable, "-m", "dsr"]


@dataclass
class Result:
    """What one `dsr` invocation returned."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run `dsr` in-process (the console script's `main`, exit codes included) in an empty directory."""
    monkeypatch.setenv("DSR_DATABASE_URL", database_url)
    monkeypatch.setenv("DSR_HMAC_KEY", "00" * 32)
    monkeypatch.setenv("DSR_MASTER_KEY", "11" * 32)
    monkeypatch.delenv("DSR_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)

    def _run(*args: str) -> Result:
        state.config, state._settings = None, None
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["dsr", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return _run


def test_console_script_runs_as_a_process(tmp_path: Path) -> None:
    """The installed entry point works as a separate process too (exit code 2 for an unknown id)."""
    env = {**os.environ, "DSR_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "DSR_HMAC_KEY": "00" * 32}
    env.pop("DSR_CONFIG", None)
    result = subprocess.run(
        [*DSR, "request", "show", "DSR-2020-0001"], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 2 and "DSR-2020-0001" in result.stderr


def test_deadline_json_matches_the_doc(run) -> None:  # type: ignore[no-untyped-def]
    """`dsr deadline 2025-01-31 --calendar GB-ENG --json` gives due 2025-02-28 and extended_due 2025-04-30."""
    result = run("deadline", "2025-01-31", "--calendar", "GB-ENG", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "received": "2025-01-31",
        "due": "2025-02-28",
        "target": "2025-02-28",
        "extended_due": "2025-04-30",
        "calendar": "GB-ENG",
    }


def test_submit_list_show_roundtrip(run) -> None:  # type: ignore[no-untyped-def]
    """A submitted request appears in list and show; show never prints the identifiers."""
    sub = run(
        "request", "submit", "--kind", "access", "--email", "zoe.angstrom@example.invalid",
        "--phone", "+44 1632 960123", "--name", "Zoë Ångström", "--received", "2026-11-02T10:00:00+00:00", "--json",
    )  # fmt: skip
    assert sub.returncode == 0, sub.stderr
    rid = json.loads(sub.stdout)["id"]
    assert rid == "DSR-2026-0001"
    listed = json.loads(run("request", "list", "--json").stdout)
    assert [r["id"] for r in listed] == [rid]
    shown = run("request", "show", rid, "--json")
    detail = json.loads(shown.stdout)
    assert (detail["status"], detail["due"]) == ("identity_pending", "2026-12-02")
    assert "angstrom" not in shown.stdout.lower() and "1632" not in shown.stdout
    assert detail["identifier_kinds"] == ["email", "name", "phone"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--kind", "access", "--email", "not-an-email"], "--email", id="bad-email"),
        pytest.param(["--kind", "access", "--phone", "12"], "--phone", id="bad-phone"),
        pytest.param(["--kind", "acces", "--email", "a@example.invalid"], "--kind 'acces'", id="unknown-kind"),
        pytest.param(["--kind", "access"], "at least one identifier", id="no-identifier"),
        pytest.param(["--kind", "access", "--email", "a@example.invalid", "--received", "2026-01-01"], "timezone",
                     id="naive-received"),
    ],
)  # fmt: skip
def test_bad_intake_is_refused_and_nothing_written(run, args: list[str], message: str) -> None:  # type: ignore[no-untyped-def]
    """Each bad input exits non-zero with a clear one-line error and records nothing."""
    result = run("request", "submit", *args)
    assert result.returncode == 1
    assert message in result.stderr
    assert "not-an-email" not in result.stderr
    assert json.loads(run("request", "list", "--json").stdout) == []


def test_unknown_id_exits_2(run) -> None:  # type: ignore[no-untyped-def]
    """Unknown ids exit with code 2 and a one-line message."""
    for cmd in (["show", "DSR-2020-0042"], ["withdraw", "DSR-2020-0042"], ["extend", "DSR-2020-0042", "--reason", "x"]):
        result = run("request", *cmd)
        assert result.returncode == 2
        assert result.stderr.strip().count("\n") == 0 and "DSR-2020-0042" in result.stderr


def test_extension_after_deadline_and_illegal_transition(run) -> None:  # type: ignore[no-untyped-def]
    """A late extension and a second withdrawal are refused with exit 1; show has no extended date."""
    rid = json.loads(
        run("request", "submit", "--kind", "erasure", "--user-id", "E-48213", "--received",
            "2025-01-31T12:00:00+00:00", "--json").stdout
    )["id"]  # fmt: skip
    late = run("request", "extend", rid, "--reason", "complex")
    assert late.returncode == 1 and "overdue" in late.stderr
    assert json.loads(run("request", "show", rid, "--json").stdout)["extended_due"] is None
    assert json.loads(run("request", "list", "--overdue", "--json").stdout)[0]["id"] == rid
    assert run("request", "withdraw", rid).returncode == 0
    again = run("request", "withdraw", rid)
    assert again.returncode == 1 and "withdrawn to withdrawn" in again.stderr


def _working_copies(package_dir: Path, rid: str) -> list[Path]:
    """Plant what an interrupted access run leaves: staging, a blocked draft, a plaintext package."""
    staged = package_dir / "staging" / rid
    staged.mkdir(parents=True)
    (staged / "laptop-1.jsonl.enc").write_bytes(b"sealed copy")
    (package_dir / f"{rid}.draft.zip.enc").write_bytes(b"sealed draft")
    (package_dir / rid).mkdir()
    (package_dir / rid / "report.html").write_text("plaintext", encoding="utf-8")
    return [staged, package_dir / f"{rid}.draft.zip.enc", package_dir / rid]


def test_closing_a_request_deletes_its_working_copies(run) -> None:  # type: ignore[no-untyped-def]
    """Withdrawing or refusing deletes the copies gathered for that request only; the daily sweep catches
    copies of closed requests, and leaves open requests' copies alone."""
    from services.housekeeping import discard_closed_working_copies

    ids = [
        json.loads(run("request", "submit", "--kind", "access", "--user-id", f"E-4821{n}", "--json").stdout)["id"]
        for n in range(3)
    ]
    package_dir = state.settings.access.package_dir
    planted = {rid: _working_copies(package_dir, rid) for rid in ids}

    withdrawn = run("request", "withdraw", ids[0])
    assert withdrawn.returncode == 0 and "deleted 3 working copies" in withdrawn.stderr
    assert not any(p.exists() for p in planted[ids[0]])
    refused = run("request", "refuse", ids[1], "--ground", "manifestly_unfounded", "--reason", "test")
    assert refused.returncode == 0, refused.stderr
    assert not any(p.exists() for p in planted[ids[1]])
    assert all(p.exists() for p in planted[ids[2]])  # still open: untouched

    late = _working_copies(package_dir, ids[0])  # e.g. a run that was still writing when the request closed
    assert discard_closed_working_copies(state.settings) == [ids[0]]
    assert not any(p.exists() for p in late) and all(p.exists() for p in planted[ids[2]])
    assert discard_closed_working_copies(state.settings) == []


def test_withdrawing_during_a_run_leaves_its_copies_to_the_sweep(run) -> None:  # type: ignore[no-untyped-def]
    """While a run holds the request (it may still be writing its copies), withdrawing closes the request but
    deletes nothing and says the daily sweep will; the sweep skips it too until the run has ended."""
    import threading

    from models.run_lock import run_lock
    from services.housekeeping import discard_closed_working_copies

    rid = json.loads(run("request", "submit", "--kind", "access", "--user-id", "E-48219", "--json").stdout)["id"]
    planted = _working_copies(state.settings.access.package_dir, rid)
    holding, done = threading.Event(), threading.Event()

    def a_run() -> None:
        with run_lock(state.settings.database.url, rid):
            holding.set()
            done.wait(timeout=60)

    worker = threading.Thread(target=a_run)
    worker.start()
    try:
        assert holding.wait(timeout=60)
        withdrawn = run("request", "withdraw", rid)
        assert withdrawn.returncode == 0, withdrawn.stderr
        assert "deadline-watch" in withdrawn.stderr and f"{rid} withdrawn" in withdrawn.stderr
        assert all(p.exists() for p in planted)
        assert discard_closed_working_copies(state.settings) == []
        assert all(p.exists() for p in planted)
    finally:
        done.set()
        worker.join()
    assert discard_closed_working_copies(state.settings) == [rid]
    assert not any(p.exists() for p in planted)
