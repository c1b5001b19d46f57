"""What a new user sees: which configuration and database a first run uses, what `report` gives, where the
certificate is, what to do before a first run, and request ids never cut in an 80-column terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import webbrowser
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models import cases
from models.db import session_scope
from models.identifiers import validate_identifier
from models.settings import DatabaseSettings, Settings
from models.types import IdentifierKind, RequestKind, RequestStatus
from tests.unit.dsr.conftest import Invoke, assert_clean_failure


@pytest.fixture
def empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder without dsr.toml; no configuration or database named in the environment."""
    for var in ("DSR_CONFIG", "DSR_DATABASE_URL", "DSR_MASTER_KEY", "DSR_HMAC_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def with_requests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A case database (named by DSR_DATABASE_URL): an access, an erasure and a rectification request."""
    url = f"sqlite:///{tmp_path / 'cases.db'}"
    monkeypatch.setenv("DSR_DATABASE_URL", url)
    monkeypatch.setenv("DSR_HMAC_KEY", "00" * 32)
    monkeypatch.setenv("DSR_MASTER_KEY", "11" * 32)
    monkeypatch.delenv("DSR_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = Settings(database=DatabaseSettings(url=url))
    ids = []
    with session_scope(url) as session:
        for kind in (RequestKind.ACCESS, RequestKind.ERASURE):
            ids.append(
                cases.submit_request(
                    session, settings, kind=kind,
                    identifiers=[validate_identifier(IdentifierKind.EMAIL, "ida.lund@mail.invalid")],
                    hmac_key=b"\0" * 32, master_key=b"\x11" * 32, received_at=datetime(2026, 11, 2, 9, tzinfo=UTC),
                ).id
            )  # fmt: skip
        wide = cases.submit_request(
            session, settings, kind=RequestKind.RECTIFICATION,
            identifiers=[validate_identifier(IdentifierKind.EMAIL, "ida.lund@mail.invalid")],
            hmac_key=b"\0" * 32, master_key=b"\x11" * 32, received_at=datetime(2026, 10, 2, 9, tzinfo=UTC),
        )  # fmt: skip
        for status in (RequestStatus.IN_PROGRESS, RequestStatus.AWAITING_APPROVAL):  # the widest cells
            cases.transition(session, wide, status, action="test.moved")
        ids.append(wide.id)
    return ids


def test_a_first_run_without_configuration_says_once_what_it_uses(empty_dir: Path, invoke: Invoke) -> None:
    """The first command names the embedded defaults and the database it creates, on stderr; later ones are quiet."""
    first = invoke("request", "list")
    assert first.returncode == 0 and first.stdout.strip() == "no requests"
    notes = [line for line in first.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "embedded defaults" in notes[0]
    assert str(empty_dir / ".dsr" / "dsr.db") in notes[0] and "dsr.example.toml" in notes[0]
    second = invoke("request", "list")
    assert second.returncode == 0 and second.stderr == ""


def test_report_says_what_the_file_is_and_how_to_export_it(with_requests: list[str], invoke: Invoke) -> None:
    """stdout keeps the path alone (scripts); stderr says it is sealed and names `dsr request export`."""
    access = with_requests[0]
    with session_scope(os.environ["DSR_DATABASE_URL"]) as session:
        cases.get_request(session, access).report_path = "/srv/packages/x.zip.enc"
    result = invoke("request", "report", access)
    assert result.returncode == 0 and result.stdout.strip() == "/srv/packages/x.zip.enc"
    assert "sealed" in result.stderr and f"dsr request export {access} --out DIR" in result.stderr


def test_certificate_prints_or_opens_it(
    with_requests: list[str], invoke: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before completion: what to do next; after: the path, or the browser with --open."""
    access, erasure, _ = with_requests
    not_yet = invoke("request", "certificate", erasure)
    assert_clean_failure(not_yet)
    assert "no certificate yet" in not_yet.stderr and f"dsr request show {erasure}" in not_yet.stderr
    assert "only erasure requests" in invoke("request", "certificate", access).stderr
    html = tmp_path / "certificates" / f"{erasure}.html"
    html.parent.mkdir()
    html.write_text("<html></html>")
    with session_scope(os.environ["DSR_DATABASE_URL"]) as session:
        cases.get_request(session, erasure).certificate_path = str(html)
    printed = invoke("request", "certificate", erasure)
    assert printed.returncode == 0 and printed.stdout.strip() == str(html)
    opened: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url: opened.append(url) or True)
    assert invoke("request", "certificate", erasure, "--open").returncode == 0
    assert opened == [html.resolve().as_uri()]


def test_approve_before_a_plan_says_what_to_do(with_requests: list[str], invoke: Invoke) -> None:
    """Not `(decision: None)`: the message says there is no plan yet and which command makes one."""
    erasure = with_requests[1]
    result = invoke("request", "approve", erasure, "--by", "Dana Reviewer", "--digest", "0" * 64)
    assert_clean_failure(result)
    assert "None" not in result.stderr and "no erasure plan yet" in result.stderr
    assert f"dsr request run {erasure}" in result.stderr


def test_list_never_cuts_ids_in_80_columns(with_requests: list[str], tmp_path: Path) -> None:
    """`dsr request list` in an 80-column terminal shows every id and every status whole."""
    env = {**os.environ, "COLUMNS": "80"}
    done = subprocess.run(
        [sys.executable, "-m", "dsr", "request", "list"], env=env, cwd=tmp_path, capture_output=True, text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for request_id in with_requests:
        assert request_id in done.stdout, done.stdout
    listed = subprocess.run(
        [sys.executable, "-m", "dsr", "request", "list", "--json"], env=env, cwd=tmp_path, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    statuses = {r["status"] for r in json.loads(listed.stdout)}
    assert statuses and all(status in done.stdout for status in statuses), done.stdout
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
