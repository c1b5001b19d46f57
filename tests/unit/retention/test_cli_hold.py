"""`dsr hold add|list|release` through Typer: JSON output, audit events, subjects stored only as hashes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import col, select
from typer.testing import CliRunner

from dsr.cli_hold import app
from dsr.context import state
from models import cases
from models.db import session_scope
from models.identifiers import validate_identifier
from models.settings import load_settings
from models.tables import AuditEvent, LegalHold
from models.types import IdentifierKind, RequestKind

CONFIG = """
[controller]
name = "Example Corp Ltd"
[[endpoints]]
name = "laptop-01"
url = "file:///tmp/laptop-01"
[[holds]]
id = "CFG-1"
reason = "regulator inquiry"
case_reference = "REG-4"
approver = "dpo"
review_date = "2026-01-01"
"""


@pytest.fixture
def cli(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A runner whose `dsr` state reads a config with one endpoint and one configured hold."""
    config = tmp_path / "dsr.toml"
    config.write_text(CONFIG, encoding="utf-8")
    monkeypatch.setenv("DSR_DATABASE_URL", database_url)
    monkeypatch.setattr(state, "config", config)
    monkeypatch.setattr(state, "_settings", None)
    return CliRunner()


def _request(config: Path) -> str:
    settings = load_settings(config)
    with session_scope(settings.database.url) as session:
        return cases.submit_request(
            session,
            settings,
            kind=RequestKind.ERASURE,
            identifiers=[validate_identifier(IdentifierKind.EMAIL, "rui.costa@mail.invalid")],
            hmac_key=b"h" * 32,
            master_key=b"m" * 32,
            received_at=datetime(2026, 10, 1, tzinfo=UTC),
        ).id


def test_add_list_release_roundtrip(cli: CliRunner) -> None:
    """A hold added with a subject request lists as active with hashed subjects, then released; all audited."""
    assert state.config is not None
    request_id = _request(state.config)
    added = cli.invoke(
        app,
        [
            "add", "--id", "LH-1", "--reason", "litigation", "--case-reference", "CASE-3", "--approver", "counsel",
            "--review-date", "2027-02-01", "--endpoint", "laptop-01", "--path", "/Users/*", "--from", "2025-01-01",
            "--subject-request", request_id, "--json",
        ],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["subjects"] == 1
    listed = cli.invoke(app, ["list", "--json"])
    rows = {r["id"]: r for r in json.loads(listed.stdout)}
    assert rows["CFG-1"]["source"] == "config" and rows["CFG-1"]["review_due"] is True
    assert rows["LH-1"]["status"] == "active" and rows["LH-1"]["endpoints"] == ["laptop-01"]
    released = cli.invoke(app, ["release", "LH-1", "--by", "counsel", "--json"])
    assert released.exit_code == 0, released.output
    assert json.loads(released.stdout)["status"] == "released"
    rows = {r["id"]: r for r in json.loads(cli.invoke(app, ["list", "--json"]).stdout)}
    assert rows["LH-1"]["status"] == "released"
    with session_scope(state.settings.database.url) as session:
        row = session.get(LegalHold, "LH-1")
        assert row is not None and "rui" not in row.subjects
        actions = session.exec(
            select(AuditEvent.action).where(col(AuditEvent.action).startswith("hold.")).order_by(col(AuditEvent.id))
        ).all()
    assert list(actions) == ["hold.added", "hold.released"]


def test_release_unknown_id_exits_2(cli: CliRunner) -> None:
    """Releasing an unknown hold exits with code 2 and changes nothing."""
    result = cli.invoke(app, ["release", "nope", "--by", "x"])
    assert result.exit_code == 2
    assert "no legal hold" in result.output


def test_bad_date_is_refused(cli: CliRunner) -> None:
    """A review date that is not ISO raises InputError before anything is written."""
    result = cli.invoke(
        app, ["add", "--id", "X", "--reason", "r", "--case-reference", "c", "--approver", "a", "--review-date", "soon"]
    )
    assert result.exit_code != 0
    assert "--review-date" in str(result.exception)
    with session_scope(state.settings.database.url) as session:
        assert session.get(LegalHold, "X") is None
