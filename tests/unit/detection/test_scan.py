"""Tests for detection.scan and `dsr scan`: items over a synthetic laptop tree, ownership, CLI output."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from connectors.local import LocalConnector
from detection.matcher import Matcher
from detection.scan import scan_endpoint
from dsr.cli_scan import scan

STORE = "Users/zoe/Library/Application Support/Claude/local-agent-mode-sessions/aaaaaaaa/bbbbbbbb"
OWNED = "local_11111111-2222-4333-8444-555555555555"
OTHER = "local_99999999-2222-4333-8444-555555555555"
CLI_DIR = "Users/zoe/.claude/projects/-Users-zoe-code"


def _line(value: object) -> str:
    return json.dumps(value, ensure_ascii=True) + "\n"


@pytest.fixture
def laptop(tmp_path: Path) -> Path:
    """A laptop tree: one Cowork session owned by the subject, one of a colleague naming her, one CLI transcript."""
    for sid, email in ((OWNED, "zoe.angstrom@x.invalid"), (OTHER, "anna@corp.example")):
        record = {"sessionId": sid, "cliSessionId": "c-" + sid[-4:], "emailAddress": email, "createdAt": 1767225600000,
                  "lastActivityAt": 1767225600000, "title": "t"}  # fmt: skip
        (tmp_path / STORE).mkdir(parents=True, exist_ok=True)
        (tmp_path / STORE / f"{sid}.json").write_text(json.dumps(record))
        transcript = tmp_path / STORE / sid / ".claude/projects/session" / f"c-{sid[-4:]}.jsonl"
        transcript.parent.mkdir(parents=True)
        transcript.write_text(
            _line({"type": "user", "timestamp": "2026-01-02T03:04:05Z", "message": {"content": "plan the offsite"}})
            + _line({"type": "user", "message": {"content": [{"type": "text", "text": "ask Zoë Ångström"}]}})
        )
    cli = tmp_path / CLI_DIR / "abc.jsonl"
    cli.parent.mkdir(parents=True)
    cli.write_text(
        _line({"type": "user", "sessionId": "abc", "message": {"content": "nothing"}})
        + _line({"type": "user", "sessionId": "abc", "message": {"content": "E-48213 is on sick leave"}})
    )
    return tmp_path


def test_scan_endpoint_items(laptop: Path, matcher: Matcher) -> None:
    """Owned sessions yield every record; others only confirmed records, with laptop paths and lines."""
    with LocalConnector("lap", laptop) as connector:
        result = scan_endpoint(connector, "lap", matcher)
    found = {(i.path, i.line, i.reason) for i in result.items}
    owned_transcript = f"/{STORE}/{OWNED}/.claude/projects/session/c-5555.jsonl"
    other_transcript = f"/{STORE}/{OTHER}/.claude/projects/session/c-5555.jsonl"
    assert (owned_transcript, 1, "owned_session") in found
    assert (owned_transcript, 2, "owned_session") in found
    assert (other_transcript, 2, "identifier_match") in found
    assert (other_transcript, 1, "identifier_match") not in found
    assert (f"/{CLI_DIR}/abc.jsonl", 2, "identifier_match") in found
    assert dict(result.owned_sessions) == {OWNED: "session_email"}
    cli_item = next(i for i in result.items if i.path.endswith("abc.jsonl"))
    assert cli_item.kind == "transcript"
    assert cli_item.session_id == "abc"
    assert "health" in cli_item.categories
    assert "E-48213 is on sick leave" in (cli_item.content or "")
    owned_first = next(
        i for i in result.items if i.location.to_dict() == {"endpoint": "lap", "path": owned_transcript, "line": 1}
    )
    assert owned_first.timestamp == "2026-01-02T03:04:05Z"
    assert owned_first.session_id == OWNED


def test_endpoint_owner_makes_sessions_owned(laptop: Path, matcher: Matcher) -> None:
    """With the endpoint's configured owner being the subject, every session's records are in scope."""
    with LocalConnector("lap", laptop) as connector:
        result = scan_endpoint(connector, "lap", matcher, owner_ids=("zoe.angstrom@x.invalid",), classify=False)
    lines = {(i.path, i.line) for i in result.items}
    assert (f"/{CLI_DIR}/abc.jsonl", 1) in lines
    assert all(i.categories == () for i in result.items)


def test_cli_scan_json(laptop: Path) -> None:
    """`dsr scan --json` prints one JSON document with the finding items."""
    app = typer.Typer()
    app.command()(scan)
    app.command("other")(lambda: None)
    runner = CliRunner()
    result = runner.invoke(
        app, ["scan", str(laptop), "--endpoint-name", "lap", "--user-id", "E-48213", "--name", "Nobody Here", "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert [(i["location"]["path"], i["location"]["line"]) for i in document["items"]] == [(f"/{CLI_DIR}/abc.jsonl", 2)]


def test_owned_files_as_whole_file_items(laptop: Path, matcher: Matcher) -> None:
    """With expand_owned=False an owned file is one whole-file item plus its lines that name the subject."""
    with LocalConnector("lap", laptop) as connector:
        result = scan_endpoint(connector, "lap", matcher, classify=False, expand_owned=False)
    owned_transcript = f"/{STORE}/{OWNED}/.claude/projects/session/c-5555.jsonl"
    rows = [(i.line, i.reason, i.content is None) for i in result.items if i.path == owned_transcript]
    assert rows == [(2, "identifier_match", False), (None, "owned_session", True)]


def test_unreadable_file_is_skipped_with_reason(laptop: Path, matcher: Matcher) -> None:
    """A file that cannot be opened is reported as skipped, not silently dropped."""
    target = laptop / CLI_DIR / "abc.jsonl"
    target.chmod(0)
    try:
        if os.access(target, os.R_OK):
            pytest.skip("running as a user that ignores file modes (root)")
        with LocalConnector("lap", laptop) as connector:
            result = scan_endpoint(connector, "lap", matcher, classify=False)
        assert [(s.path, s.reason) for s in result.skipped] == [(f"/{CLI_DIR}/abc.jsonl", "refused")]
    finally:
        target.chmod(0o644)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--endpoint-name", "lap"], "give at least one"),
        (["--endpoint-name", "lap", "--email", "not-an-address"], "--email: not a valid e-mail address"),
        (["--endpoint-name", "lap", "--phone", "12"], "--phone: not a possible phone number"),
        (["--endpoint-name", "lap", "--name", "A"], "--name: needs at least two letters"),
    ],
    ids=["no-identifier", "bad-email", "bad-phone", "single-letter-name"],
)
def test_cli_scan_rejects_bad_input_without_echoing_it(laptop: Path, args: list[str], message: str) -> None:
    """Bad identifiers are input errors (the intake validation of `dsr request submit`) not repeating the value."""
    from models.errors import InputError

    app = typer.Typer()
    app.command()(scan)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(app, ["scan", str(laptop), *args])
    assert isinstance(result.exception, InputError)
    assert message in str(result.exception)
    assert "not-an-address" not in str(result.exception)


def test_cli_scan_table_lists_items(laptop: Path) -> None:
    """Without --json the findings are printed as a table on stdout."""
    app = typer.Typer()
    app.command()(scan)
    app.command("other")(lambda: None)
    result = CliRunner().invoke(
        app, ["scan", str(laptop), "--endpoint-name", "lap", "--user-id", "E-48213"], env={"COLUMNS": "300"}
    )
    assert result.exit_code == 0
    assert "abc.jsonl" in result.stdout
    assert "transcript" in result.stdout


def test_cli_scan_json_every_agent_on_a_windows_disk_at_the_root(tmp_path: Path) -> None:
    """`dsr scan --json` on a Windows disk mounted with `Users` at the root and every agent's store: every
    planted mention (lines and database records), no look-alike, encrypted stores listed, no gap."""
    from simulation.agents import AgentPlant, write_agent_stores

    plant = AgentPlant()
    truth = write_agent_stores(tmp_path, "/Users/ana", "windows", plant)
    (tmp_path / "Users/ana/AppData/Local").mkdir(parents=True, exist_ok=True)
    app = typer.Typer()
    app.command()(scan)
    app.command("other")(lambda: None)
    args = ["scan", str(tmp_path), "--endpoint-name", "win", "--email", plant.subject_email, "--name"]
    result = CliRunner().invoke(app, [*args, plant.subject_name, "--no-classify", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    found = {(i["location"]["path"], i["location"]["line"], i["location"].get("record")) for i in document["items"]}
    expected = {(t["path"], t.get("line"), t.get("record")) for t in truth.subject}
    assert expected <= found
    assert not {(t["path"], t["line"], None) for t in truth.traps} & found
    assert document["gaps"] == [] and set(document["encrypted_stores"]) == set(truth.encrypted)
    assert {i["app"] for i in document["items"]} >= {"codex", "cursor", "copilot", "cline", "zed", "opencode"}


def test_a_sink_gets_every_item_in_order_and_the_result_keeps_none(laptop: Path, matcher: Matcher) -> None:
    """The access scan stages items as they are found: the sink sees exactly the items a kept scan returns."""
    with LocalConnector("lap", laptop) as connector:
        kept = scan_endpoint(connector, "lap", matcher)
        streamed: list[object] = []
        result = scan_endpoint(connector, "lap", matcher, sink=streamed.append)
    assert len(kept.items) > 3
    assert streamed == list(kept.items)
    assert result.items == ()
    assert (result.files_scanned, result.bytes_scanned, result.owned_sessions) == (
        kept.files_scanned,
        kept.bytes_scanned,
        kept.owned_sessions,
    )
