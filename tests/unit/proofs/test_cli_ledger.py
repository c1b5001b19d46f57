"""`dsr ledger verify/export/public-key` (the Typer app before it is mounted): exit codes and named failures."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from dsr.cli_ledger import app
from dsr.context import state
from models.db import get_engine, session_scope
from proofs.ledger import DEFAULT_KEY_FILENAME, Ledger
from proofs.signing import SIGNING_KEY_ENV, LedgerSigner, load_signing_key
from proofs.sql_store import SQLLedgerStore
from tests.unit.proofs._helpers import TickingClock, fill

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_url: str) -> Iterator[Path]:
    """An empty working directory whose configuration is the defaults plus DSR_DATABASE_URL."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSR_CONFIG", raising=False)
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    monkeypatch.setenv("DSR_DATABASE_URL", sqlite_url)
    state.config, state._settings = None, None
    try:
        yield tmp_path
    finally:
        state.config, state._settings = None, None


@pytest.fixture
def filled(workdir: Path, sqlite_url: str) -> Ledger:
    """Four entries in the database ledger, signed with the key the CLI finds in `.dsr/`."""
    key = load_signing_key(workdir / ".dsr" / DEFAULT_KEY_FILENAME)
    ledger = Ledger(
        SQLLedgerStore(lambda: session_scope(sqlite_url)),
        signer=LedgerSigner(key),
        checkpoint_every=2,
        clock=TickingClock(),
    )
    fill(ledger, 4)
    return ledger


def test_database_ledger_verifies(filled: Ledger) -> None:
    """`verify` without --export checks the database ledger with the local key: exit 0, counts on stdout."""
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 0, result.output
    assert "ledger intact: 4 entries, 2 checkpoints" in result.stdout


def test_database_ledger_verify_json(filled: Ledger) -> None:
    """`verify --json` prints one JSON document with ok, counts and no error."""
    result = runner.invoke(app, ["verify", "--json"])
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert (document["ok"], document["entries"], document["first_error"]) == (True, 4, None)


def test_export_then_verify_alone(filled: Ledger, workdir: Path) -> None:
    """`export FILE` then `verify --export FILE --public-key P` passes without touching the database."""
    assert runner.invoke(app, ["public-key", "pub.pem"]).exit_code == 0
    exported = runner.invoke(app, ["export", "ledger.jsonl", "--json"])
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["sealed_to"] == 4
    get_engine(state.settings.database.url).dispose()
    (workdir / "dsr.db").unlink()
    result = runner.invoke(app, ["verify", "--export", "ledger.jsonl", "--public-key", "pub.pem"])
    assert result.exit_code == 0, result.output


def test_tampered_export_exits_1_naming_the_entry(filled: Ledger, workdir: Path) -> None:
    """An edited entry in the export gives exit 1 and names its seq and `modified` (text and JSON)."""
    runner.invoke(app, ["public-key", "pub.pem"])
    runner.invoke(app, ["export", "ledger.jsonl"])
    lines = (workdir / "ledger.jsonl").read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if json.loads(line).get("seq") == 3)
    document = json.loads(lines[index])
    document["counts"]["lines_redacted"] += 1
    lines[index] = json.dumps(document)
    (workdir / "ledger.jsonl").write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["verify", "--export", "ledger.jsonl", "--public-key", "pub.pem"])
    assert result.exit_code == 1
    assert f"entry seq 3 (line {index + 1}): modified" in result.stderr
    as_json = runner.invoke(app, ["verify", "--export", "ledger.jsonl", "--public-key", "pub.pem", "--json"])
    assert as_json.exit_code == 1
    error = json.loads(as_json.stdout)["first_error"]
    assert (error["problem"], error["seq"], error["line"]) == ("modified", 3, index + 1)


def test_wrong_public_key_exits_1(filled: Ledger, workdir: Path) -> None:
    """Verifying with a key that did not sign the checkpoints exits 1 with `bad_signature`."""
    runner.invoke(app, ["export", "ledger.jsonl"])
    LedgerSigner(load_signing_key(workdir / "other.pem")).export_public_key(workdir / "other-pub.pem")
    result = runner.invoke(app, ["verify", "--export", "ledger.jsonl", "--public-key", "other-pub.pem"])
    assert result.exit_code == 1
    assert "bad_signature" in result.stderr


def test_modified_database_row_exits_1(filled: Ledger, sqlite_url: str) -> None:
    """A row changed in the database makes `verify` exit 1 naming that seq."""
    with get_engine(sqlite_url).begin() as conn:
        conn.execute(text("UPDATE ledger_entries SET sha256_before = :h WHERE seq = 2"), {"h": "f" * 64})
    result = runner.invoke(app, ["verify"])
    assert result.exit_code == 1
    assert "entry seq 2" in result.stderr and "modified" in result.stderr


def test_unreadable_inputs_exit_2(workdir: Path) -> None:
    """A missing export file, or no key to check the database ledger with, exits 2 (could not verify)."""
    missing = runner.invoke(app, ["verify", "--export", "absent.jsonl"])
    assert missing.exit_code == 2
    assert "absent.jsonl" in missing.stderr
    no_key = runner.invoke(app, ["verify"])
    assert no_key.exit_code == 2
    assert DEFAULT_KEY_FILENAME in no_key.stderr


def test_unreachable_database_exits_2(workdir: Path) -> None:
    """A case database that cannot be opened exits 2 (could not verify), naming the URL without password."""
    runner.invoke(app, ["public-key", "pub.pem"])
    closed = "postgresql+psycopg://ledger:secret@127.0.0.1:1/none"
    result = runner.invoke(app, ["verify", "--database-url", closed, "--public-key", "pub.pem"])
    assert result.exit_code == 2
    assert "127.0.0.1:1" in result.stderr and "secret" not in result.stderr


def test_public_key_creates_a_private_signing_key(workdir: Path) -> None:
    """`public-key FILE` creates `.dsr/ledger-signing.pem` (0600) on first use and writes its public half."""
    result = runner.invoke(app, ["public-key", "pub.pem"])
    assert result.exit_code == 0, result.output
    assert (workdir / ".dsr" / DEFAULT_KEY_FILENAME).stat().st_mode & 0o077 == 0
    assert (workdir / "pub.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")


def test_configured_signing_key_path_is_used(workdir: Path) -> None:
    """`[erasure].signing_key` (relative to the config file) is where `public-key` creates and reads the key."""
    config = workdir / "conf" / "dsr.toml"
    config.parent.mkdir()
    config.write_text('[controller]\nname = "X"\n[erasure]\nsigning_key = "keys/ledger.pem"\n')
    state.config, state._settings = config, None
    result = runner.invoke(app, ["public-key", "pub.pem"])
    assert result.exit_code == 0, result.output
    key_file = workdir / "conf" / "keys" / "ledger.pem"
    assert key_file.exists()
    assert not (workdir / ".dsr" / DEFAULT_KEY_FILENAME).exists()
    expected = LedgerSigner(load_signing_key(key_file, env_var=None)).public_key_pem()
    assert (workdir / "pub.pem").read_bytes() == expected


def test_explicit_signing_key_wins_over_environment(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--signing-key FILE is used even when DSR_LEDGER_SIGNING_KEY is set; without it the variable wins."""
    monkeypatch.setenv(SIGNING_KEY_ENV, "11" * 32)
    env_pub = LedgerSigner(load_signing_key(None)).public_key_pem()
    assert runner.invoke(app, ["public-key", "env.pem"]).exit_code == 0
    assert (workdir / "env.pem").read_bytes() == env_pub
    assert runner.invoke(app, ["public-key", "file.pem", "--signing-key", "mine.pem"]).exit_code == 0
    assert (workdir / "file.pem").read_bytes() != env_pub
    assert (workdir / "file.pem").read_bytes() == LedgerSigner(
        load_signing_key(workdir / "mine.pem", env_var=None)
    ).public_key_pem()
