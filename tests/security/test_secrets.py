"""Secrets: keys come from the environment, private files (group/world-readable ones refused, naming the path
and `chmod 600`) or a secret store; they never appear in repr/str, exception messages or log records."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from connectors.s3 import S3Connector, S3Credentials
from connectors.ssh import SSHConnector, check_key_file
from models.errors import ConfigError
from models.keys import hmac_key, load_or_create_key, master_key
from models.secret_source import read_private_file, resolve_secret
from proofs.signing import LedgerSigner, load_signing_key

pytestmark = pytest.mark.timeout(60)
SECRET = "s3cr3t-" + "7f" * 16


def _write(path: Path, text: str, mode: int) -> Path:
    path.write_text(text, encoding="ascii")
    path.chmod(mode)
    return path


def _ssh_key_text() -> str:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    return pem.decode("ascii")


# -- resolve_secret --------------------------------------------------------------------------------------------


def test_environment_wins_and_the_store_is_not_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A set environment variable is used before the file and the secret store (which is never called)."""
    monkeypatch.setenv("DSR_TEST_SECRET", SECRET)
    calls: list[str] = []
    file = _write(tmp_path / "s", "from-file", 0o600)
    assert resolve_secret("DSR_TEST_SECRET", file, "blk", lambda n: calls.append(n) or "x") == SECRET
    assert calls == []


def test_file_then_store_then_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the variable (or with it empty) the private file is read (stripped), then the store, else None."""
    monkeypatch.setenv("DSR_TEST_SECRET", "")
    file = _write(tmp_path / "s", f"  {SECRET}\n", 0o600)
    assert resolve_secret("DSR_TEST_SECRET", file, "blk", lambda _n: "store") == SECRET
    assert resolve_secret("DSR_TEST_SECRET", None, "blk", lambda n: f"store:{n}") == "store:blk"
    assert resolve_secret("DSR_TEST_SECRET", None, None, None) is None


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620, 0o660, 0o666, 0o610])
def test_group_or_world_accessible_file_is_refused(tmp_path: Path, mode: int) -> None:
    """A secret file with any group or other permission bit is refused; the message names it and `chmod 600`."""
    file = _write(tmp_path / "secret.key", SECRET, mode)
    with pytest.raises(ConfigError) as err:
        resolve_secret("DSR_TEST_UNSET_VAR", file)
    message = str(err.value)
    assert str(file) in message and "chmod 600" in message
    assert SECRET not in message and SECRET not in repr(err.value.__dict__)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_owner_only_file_is_read(tmp_path: Path, mode: int) -> None:
    """Modes 600 and 400 are accepted."""
    assert read_private_file(_write(tmp_path / "k", SECRET, mode)) == SECRET


def test_missing_directory_and_fifo_are_config_errors_without_blocking(tmp_path: Path) -> None:
    """A missing path, a directory and a FIFO (opened without blocking) are configuration errors."""
    os.mkfifo(tmp_path / "fifo", 0o600)
    (tmp_path / "dir").mkdir(mode=0o700)
    for path in (tmp_path / "missing", tmp_path / "dir", tmp_path / "fifo"):
        with pytest.raises(ConfigError, match=str(path)):
            read_private_file(path)


def test_store_failures_name_the_block_not_the_secret() -> None:
    """A missing block, an empty block and a block without a store are errors naming only the block."""

    def missing(name: str) -> str:
        raise ValueError(f"no block {name}")

    cases: list[Callable[[str], str] | None] = [missing, lambda _n: "", None]
    for loader in cases:
        with pytest.raises(ConfigError, match="my-block"):
            resolve_secret("DSR_TEST_UNSET_VAR", None, "my-block", loader)


# -- the key loaders of the codebase ---------------------------------------------------------------------------


@pytest.mark.parametrize("loader", [hmac_key, master_key], ids=["hmac_key", "master_key"])
def test_case_database_key_files_are_refused_when_readable_by_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, loader: Callable[[Path], bytes]
) -> None:
    """models.keys refuses a 0644 hmac/master key file with the path and `chmod 600`; new files are 0600."""
    monkeypatch.delenv("DSR_HMAC_KEY", raising=False)
    monkeypatch.delenv("DSR_MASTER_KEY", raising=False)
    key = loader(tmp_path)
    created = next(tmp_path.glob("*.key"))
    assert created.stat().st_mode & 0o777 == 0o600
    created.chmod(0o644)
    with pytest.raises(ConfigError) as err:
        loader(tmp_path)
    assert str(created) in str(err.value) and "chmod 600" in str(err.value)
    assert key.hex() not in str(err.value)


def test_key_from_environment_is_not_echoed_in_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A malformed key in the environment is reported by variable name only."""
    monkeypatch.setenv("DSR_TEST_KEY", "not-hex-" + SECRET)
    with pytest.raises(ConfigError) as err:
        load_or_create_key(tmp_path / "k.key", "DSR_TEST_KEY")
    assert "DSR_TEST_KEY" in str(err.value) and SECRET not in str(err.value)


def test_ledger_signing_key_file_is_refused_when_readable_by_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """proofs.signing refuses a 0644 signing key with the path and `chmod 600`; a new key file is 0600."""
    monkeypatch.delenv("DSR_LEDGER_SIGNING_KEY", raising=False)
    path = tmp_path / "ledger-signing.pem"
    load_signing_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    path.chmod(0o644)
    with pytest.raises(ConfigError) as err:
        load_signing_key(path)
    assert str(path) in str(err.value) and "chmod 600" in str(err.value)
    assert "PRIVATE KEY" not in str(err.value)


def test_ssh_key_file_is_refused_when_readable_by_others(tmp_path: Path) -> None:
    """connectors.ssh refuses a 0644 key before any connection, naming the path and `chmod 600`."""
    key = _write(tmp_path / "id_ed25519", _ssh_key_text(), 0o644)
    with pytest.raises(ConfigError) as err:
        check_key_file(key)
    assert str(key) in str(err.value) and "chmod 600" in str(err.value)
    connector = SSHConnector("lap", "ssh://u@127.0.0.1:1/", key_file=key, known_hosts=tmp_path / "kh")
    with pytest.raises(ConfigError, match="chmod 600"):
        connector.connect()


# -- repr, str, messages and logs ------------------------------------------------------------------------------


def test_credential_objects_never_show_the_secret(tmp_path: Path) -> None:
    """repr/str of S3 credentials and connectors, SSH connectors with key text, and ledger signers hide secrets."""
    token = "tok-" + secrets.token_hex(16)
    creds = S3Credentials("AKIDEXAMPLE", SECRET, token)
    s3 = S3Connector("backup", "s3://bucket/prefix", credentials=creds)
    key_text = _ssh_key_text()
    ssh = SSHConnector("lap", "ssh://u@127.0.0.1:1/", key_text=key_text, known_hosts=tmp_path / "kh")
    signer = LedgerSigner(Ed25519PrivateKey.generate())
    raw = signer.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    shown = " ".join(f"{o!r} {o}" for o in (creds, s3, ssh, signer))
    assert "AKIDEXAMPLE" in repr(creds), "the key id (not a secret) stays visible"
    for secret in (SECRET, token, key_text.splitlines()[1], raw.hex()):
        assert secret not in shown


def test_bad_key_text_error_does_not_echo_the_key(tmp_path: Path) -> None:
    """An unusable SSH key given as text is reported by endpoint name, without the text."""
    ssh = SSHConnector("lap", "ssh://u@127.0.0.1:1/", key_text=SECRET, known_hosts=tmp_path / "kh")
    with pytest.raises(ConfigError) as err:
        ssh.connect()
    assert "lap" in str(err.value) and SECRET not in str(err.value)


def test_loading_secrets_logs_nothing_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """No log record (any logger, DEBUG up) made while loading keys carries key material."""
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("DSR_TEST_SECRET", SECRET)
    monkeypatch.delenv("DSR_HMAC_KEY", raising=False)
    monkeypatch.delenv("DSR_LEDGER_SIGNING_KEY", raising=False)
    found = [resolve_secret("DSR_TEST_SECRET"), hmac_key(tmp_path).hex()]
    signer_pem = tmp_path / "s.pem"
    load_signing_key(signer_pem)
    found.append(signer_pem.read_text(encoding="ascii").splitlines()[1])
    key = _write(tmp_path / "id", _ssh_key_text(), 0o600)
    ssh = SSHConnector("lap", "ssh://u@127.0.0.1:1/", key_file=key, known_hosts=tmp_path / "kh")
    ssh._load_key()
    found.append(key.read_text(encoding="ascii").splitlines()[1])
    text = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert all(secret not in text for secret in found)
