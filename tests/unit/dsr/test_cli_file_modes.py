"""What the product writes is private to its user: the case database, exports and certificates (0600/0700)."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest

from models import cases
from models.crypto import encrypt_file
from models.db import dispose_engines, get_engine, session_scope
from models.tables import Request
from reports.certificate import build_certificate
from tests.unit.dsr.conftest import Invoke
from tests.unit.reports.test_certificate import certificate_input

MASTER = "11" * 32


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with keys in the environment and the default umask 022 of a login shell."""
    monkeypatch.chdir(tmp_path)
    for var in ("DSR_CONFIG", "DSR_DATABASE_URL", "PREFECT_API_URL", "DSR_LEDGER_SIGNING_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DSR_HMAC_KEY", "00" * 32)
    monkeypatch.setenv("DSR_MASTER_KEY", MASTER)
    old = os.umask(0o022)
    yield tmp_path
    os.umask(old)
    dispose_engines()


def test_sqlite_case_database_is_created_private(home: Path) -> None:
    """A new SQLite case database is 0600 (with its -wal/-shm) in a new 0700 directory, without the CLI."""
    database = home / "cases" / "dsr.db"
    engine = get_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        assert _mode(database.parent) == 0o700
        assert _mode(database) == 0o600
        for companion in database.parent.glob("dsr.db-*"):
            assert _mode(companion) == 0o600, companion.name


def test_cli_database_and_key_files_are_private(home: Path, invoke: Invoke) -> None:
    """The default database under .dsr/ and every file the CLI leaves there is readable by the user only."""
    result = invoke("request", "submit", "--kind", "access", "--identifiers", "-", stdin='{"email": "z@example.org"}')
    assert result.returncode == 0, result.stderr
    state_dir = home / ".dsr"
    assert _mode(state_dir) == 0o700
    files = [p for p in state_dir.rglob("*") if p.is_file()]
    assert any(p.name == "dsr.db" for p in files)
    for path in files:
        assert _mode(path) & 0o077 == 0, f"{path.relative_to(home)} is {_mode(path):o}"


def test_ledger_export_is_private(home: Path, invoke: Invoke) -> None:
    """`dsr ledger export FILE` writes the export (and a new signing key) readable by the user only."""
    assert invoke("request", "submit", "--kind", "erasure", "--identifiers", "-",
                  stdin='{"email": "z@example.org"}').returncode == 0  # fmt: skip
    target = home / "exports" / "ledger.jsonl"
    result = invoke("ledger", "export", str(target))
    assert result.returncode == 0, result.stderr
    assert _mode(target) == 0o600
    assert _mode(target.parent) == 0o700


def _sealed_package(home: Path, request_id: str) -> Path:
    """A sealed package as the access flow leaves it: `<id>/report.html` and `<id>/data/items.json`, zipped."""
    plain = home / "zip-src"
    (plain / "data").mkdir(parents=True)
    (plain / "report.html").write_text("<html>report</html>", encoding="utf-8")
    (plain / "data" / "items.json").write_text("[]", encoding="utf-8")
    archive = home / f"{request_id}.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(plain.rglob("*")):
            zf.write(path, f"{request_id}/{path.relative_to(plain)}")
    database = f"sqlite:///{home / '.dsr' / 'dsr.db'}"
    with session_scope(database) as session:
        key = cases.request_data_key(session, request_id, bytes.fromhex(MASTER))
        sealed = home / "packages" / f"{request_id}.zip.enc"
        sealed.parent.mkdir()
        encrypt_file(archive, sealed, key, request_id.encode())
        request = session.get(Request, request_id)
        assert request is not None
        request.report_path = str(sealed)
        request.package_sha256 = "0" * 64
        session.add(request)
    return sealed


def test_request_export_is_private(home: Path, invoke: Invoke) -> None:
    """`dsr request export ID --out DIR`: every unpacked file 0600 and every directory 0700."""
    submitted = invoke("request", "submit", "--kind", "access", "--identifiers", "-", "--json",
                       stdin='{"email": "z@example.org"}')  # fmt: skip
    request_id = json.loads(submitted.stdout)["id"]
    _sealed_package(home, request_id)
    out = home / "delivered"
    waived = invoke("request", "waive-identity", request_id, "--reason", "request from the employee's own account")
    assert waived.returncode == 0, waived.stderr
    result = invoke("request", "export", request_id, "--out", str(out))
    assert result.returncode == 0, result.stderr
    written = [Path(line) for line in result.stdout.splitlines()]
    assert out / request_id / "report.html" in written, "export prints every file it wrote"
    assert written == sorted(p for p in (out / request_id).rglob("*") if p.is_file())
    assert _mode(out) == 0o700
    for path in out.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert _mode(path) == expected, f"{path.relative_to(out)} is {_mode(path):o}"


def test_certificates_are_private(tmp_path: Path) -> None:
    """The deletion certificate's HTML and JSON are 0600 in a 0700 directory, whoever calls the builder."""
    old = os.umask(0o022)
    try:
        html, document = build_certificate(certificate_input(), tmp_path / "certificates")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "certificates") == 0o700
    assert _mode(html) == 0o600 and _mode(document) == 0o600
