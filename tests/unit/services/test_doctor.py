"""`dsr doctor` checks that need no server: configuration, keys, local trees, register, Prefect, schedules."""

from __future__ import annotations

import base64
import http.server
import socket
import threading
from pathlib import Path

import pytest

from dsr.demo import REGISTER
from services.doctor import FAIL, INFO, OK, run_doctor
from tests.unit.dsr.conftest import invoke_main


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("DSR_CONFIG", "DSR_DATABASE_URL", "DSR_MASTER_KEY", "DSR_HMAC_KEY", "DSR_LEDGER_SIGNING_KEY",
                "PREFECT_API_URL"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def _by_name(config: Path | None, env: dict[str, str] | None = None) -> dict[str, tuple[str, str, str]]:
    return {c.name: (c.status, c.detail, c.fix) for c in run_doctor(config, env or {})}


def test_invalid_configuration_is_the_only_line(tmp_path: Path) -> None:
    """A bad key stops the doctor after the configuration line, which names the key."""
    bad = tmp_path / "dsr.toml"
    bad.write_text('[controller]\ncalendar = "XX-NOPE"\n')
    checks = run_doctor(bad, {})
    assert [(c.name, c.status) for c in checks] == [("configuration", FAIL)]
    assert "controller.calendar" in checks[0].detail and "dsr.example.toml" in checks[0].fix


def test_fresh_folder_is_information_not_failure_except_the_register(tmp_path: Path) -> None:
    """Without a configuration: defaults, database and keys not created yet are `info`; the empty register fails."""
    checks = _by_name(None)
    assert checks["configuration"][0] == INFO and "embedded defaults" in checks["configuration"][1]
    assert checks["database"][0] == INFO and checks["key master"][0] == INFO
    assert checks["register"][0] == FAIL and "health" in checks["register"][1]
    assert checks["prefect"][0] in (INFO, OK) and checks["schedules"][0] == OK


def test_keys_local_trees_register_and_an_unreachable_named_server(tmp_path: Path) -> None:
    """A world-readable key names `chmod 600`; a missing tree fails; the demo register passes; a server named
    by PREFECT_API_URL that does not answer fails; a bad cron fails."""
    (tmp_path / "present").mkdir()
    config = tmp_path / "dsr.toml"
    config.write_text(
        f'[prefect]\nport = {_closed_port()}\n[schedules]\ndeadline_watch = "every day"\n'
        f'[[endpoints]]\nname = "here"\nurl = "file://{tmp_path / "present"}"\n'
        f'[[endpoints]]\nname = "gone"\nurl = "file://{tmp_path / "absent"}"\n' + REGISTER
    )
    state = tmp_path / ".dsr"
    state.mkdir()
    (state / "master.key").write_text("00" * 32)
    (state / "master.key").chmod(0o644)
    checks = _by_name(config, {"PREFECT_API_URL": f"http://127.0.0.1:{_closed_port()}/api"})
    assert checks["configuration"][0] == OK
    assert checks["key master"][0] == FAIL and "chmod 600" in checks["key master"][2]
    assert checks["endpoint here"][0] == OK
    assert checks["endpoint gone"][0] == FAIL and str(tmp_path / "absent") in checks["endpoint gone"][1]
    assert checks["register"][0] == OK
    assert checks["prefect"][0] == FAIL and "dsr server start" in checks["prefect"][2]
    assert checks["schedules"][0] == FAIL and "deadline-watch" in checks["schedules"][1]


def test_doctor_command_exit_code_and_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit 1 when a check fails, with one JSON document under --json."""
    result = invoke_main(monkeypatch, capsys, "doctor", "--json")
    assert result.returncode == 1 and '"passed": false' in result.stdout
    assert not (tmp_path / ".dsr").exists()  # the doctor creates nothing


class _Api(http.server.BaseHTTPRequestHandler):
    """A stand-in for the Prefect API's authentication: `/api/admin/version` needs `Basic base64(expected)`
    (none needed when `expected` is empty)."""

    expected = ""

    def do_GET(self) -> None:
        wanted = "Basic " + base64.b64encode(self.expected.encode()).decode() if self.expected else None
        ok = self.path == "/api/admin/version" and (wanted is None or self.headers.get("Authorization") == wanted)
        self.send_response(200 if ok else 401)
        self.end_headers()
        self.wfile.write(b'"3.9.1"' if ok else b"{}")

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.mark.parametrize(
    ("server_wants", "we_have", "status", "words"),
    [
        ("dsr:right", "dsr:right", OK, "authenticated"),
        ("dsr:right", "dsr:wrong", FAIL, "refuses our credential"),
        ("dsr:right", None, FAIL, "requires a credential"),
        ("", None, FAIL, "without a credential"),
    ],
)
def test_prefect_line_checks_authentication(
    tmp_path: Path, server_wants: str, we_have: str | None, status: str, words: str
) -> None:
    """The server must take our credential (from the file) and refuse a call without one."""
    handler = type("Api", (_Api,), {"expected": server_wants})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = tmp_path / "dsr.toml"
        config.write_text(f"[prefect]\nport = {server.server_address[1]}\n")
        if we_have is not None:
            (tmp_path / ".dsr").mkdir()
            key = tmp_path / ".dsr" / "prefect-auth.key"
            key.write_text(we_have + "\n")
            key.chmod(0o600)
        checks = _by_name(config)
    finally:
        server.shutdown()
        server.server_close()
    assert checks["prefect"][0] == status and words in checks["prefect"][1]
    assert "right" not in checks["prefect"][1] + checks["prefect"][2]


def test_prefect_line_sends_the_file_credential_only_to_the_configured_server(tmp_path: Path) -> None:
    """A PREFECT_API_URL other than the configured server (e.g. a team host) never gets the local credential
    file's secret; only an explicitly set PREFECT_API_AUTH_STRING."""
    seen: list[str | None] = []

    class Recorder(_Api):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            super().do_GET()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = tmp_path / "dsr.toml"
        config.write_text(f"[prefect]\nport = {_closed_port()}\n")
        (tmp_path / ".dsr").mkdir()
        key = tmp_path / ".dsr" / "prefect-auth.key"
        key.write_text("dsr:local-secret\n")
        key.chmod(0o600)
        other = f"http://localhost:{server.server_address[1]}/api"
        _by_name(config, {"PREFECT_API_URL": other})
        leaked = "Basic " + base64.b64encode(b"dsr:local-secret").decode()
        assert seen and leaked not in seen
        seen.clear()
        _by_name(config, {"PREFECT_API_URL": other, "PREFECT_API_AUTH_STRING": "team:explicit"})
        assert "Basic " + base64.b64encode(b"team:explicit").decode() in seen and leaked not in seen
    finally:
        server.shutdown()
        server.server_close()
