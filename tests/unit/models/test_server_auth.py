"""The Prefect server's credential: created once (0600), refused when not private or malformed (never echoed),
taken from the environment first; the server is not served beyond loopback without authentication; a temporary
server requires a one-time credential of its own."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from dsr.prefect_api import server_environment
from models.errors import ConfigError
from models.server_auth import (
    AUTH_NONE,
    AUTH_SHARED_CREDENTIAL,
    CLIENT_ENV,
    SERVER_ENV,
    auth_file,
    basic_auth_header,
    check_binding,
    client_credential,
    server_credential,
    server_side_authentication,
)
from models.settings import Settings


def _settings(tmp_path: Path, **prefect: object) -> Settings:
    return Settings.model_validate({"prefect": prefect}).resolve_paths(tmp_path)


def test_first_start_creates_a_private_credential_and_later_reads_it(tmp_path: Path) -> None:
    """On by default; the file appears beside the other keys with mode 600 and a long random password."""
    settings = _settings(tmp_path)
    assert settings.prefect.auth is True
    assert client_credential(settings, {}) is None  # a client never creates it
    first = server_credential(settings, {})
    path = auth_file(settings)
    assert path == tmp_path / ".dsr" / "prefect-auth.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first is not None and first.startswith("dsr:") and len(first.split(":", 1)[1]) >= 40
    assert server_credential(settings, {}) == first == client_credential(settings, {})


def test_the_environment_wins_and_auth_off_means_no_credential(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    assert server_credential(settings, {SERVER_ENV: "team:from-vault"}) == "team:from-vault"
    assert client_credential(settings, {CLIENT_ENV: "team:from-vault"}) == "team:from-vault"
    assert not auth_file(settings).exists()
    off = _settings(tmp_path, auth=False)
    assert server_credential(off, {}) is None and client_credential(off, {}) is None


def test_a_readable_or_malformed_file_is_refused_without_echoing_it(tmp_path: Path) -> None:
    settings = _settings(tmp_path, auth_file="secrets/server.auth")
    path = tmp_path / "secrets" / "server.auth"
    path.parent.mkdir()
    path.write_text("dsr:s3cret-value-xyz\n")
    path.chmod(0o644)
    with pytest.raises(ConfigError) as readable:
        server_credential(settings, {})
    assert "chmod 600" in str(readable.value) and "s3cret" not in str(readable.value)
    path.write_text("no colon s3cret-value\n")
    path.chmod(0o600)
    with pytest.raises(ConfigError) as malformed:
        client_credential(settings, {})
    assert "user:password" in str(malformed.value) and "s3cret" not in str(malformed.value)


def test_no_authentication_beyond_loopback(tmp_path: Path) -> None:
    check_binding(_settings(tmp_path, host="0.0.0.0"))  # noqa: S104 - authentication on: allowed
    check_binding(_settings(tmp_path, host="127.0.0.1", auth=False))
    with pytest.raises(ConfigError, match=r"\[prefect\]\.auth is off"):
        check_binding(_settings(tmp_path, host="0.0.0.0", auth=False))  # noqa: S104 - refused, never bound


def test_header_and_how_a_server_decision_was_authenticated() -> None:
    assert basic_auth_header(None) == {}
    assert basic_auth_header("a:b") == {"Authorization": "Basic " + base64.b64encode(b"a:b").decode()}
    assert server_side_authentication({CLIENT_ENV: "a:b"}) == AUTH_SHARED_CREDENTIAL
    assert server_side_authentication({}) == AUTH_NONE


def test_a_temporary_server_requires_its_own_credential(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-time credential reaches the server; inherited credentials do not."""
    monkeypatch.setenv(CLIENT_ENV, "team:inherited")
    monkeypatch.setenv(SERVER_ENV, "team:inherited")
    env = server_environment(_settings(tmp_path), "dsr-run:one-time")
    assert env[SERVER_ENV] == "dsr-run:one-time" and CLIENT_ENV not in env
