"""The ledger signing key: private files only, environment override, generation on first use, public export."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from models.errors import ConfigError
from proofs.signing import SIGNING_KEY_ENV, LedgerSigner, load_public_key, load_signing_key, signing_key_from_text


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())


@pytest.fixture(autouse=True)
def _no_env_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """No signing key from the surrounding environment."""
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)


def test_key_is_generated_once_into_a_private_file(tmp_path: Path) -> None:
    """First use creates a 0600 PEM file; later loads return the same key."""
    path = tmp_path / "state" / "ledger-signing.pem"
    first = load_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert _raw(load_signing_key(path)) == _raw(first)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_readable_key_file_is_refused(tmp_path: Path, mode: int) -> None:
    """A key file readable by group or others is refused; the message names the path and chmod 600."""
    path = tmp_path / "ledger-signing.pem"
    load_signing_key(path)
    path.chmod(mode)
    with pytest.raises(ConfigError) as info:
        load_signing_key(path)
    assert str(path) in str(info.value) and f"chmod 600 {path}" in str(info.value)


def test_missing_key_without_create_is_a_config_error(tmp_path: Path) -> None:
    """Verification never invents a key: create=False and no file is a ConfigError naming the path."""
    path = tmp_path / "absent.pem"
    with pytest.raises(ConfigError, match=r"absent\.pem"):
        load_signing_key(path, create=False)
    assert not path.exists()


def test_environment_key_wins_as_hex_seed_or_pem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DSR_LEDGER_SIGNING_KEY (hex seed or PEM) is used instead of the file, and no file is created."""
    key = Ed25519PrivateKey.generate()
    monkeypatch.setenv(SIGNING_KEY_ENV, _raw(key).hex())
    assert _raw(load_signing_key(tmp_path / "k.pem")) == _raw(key)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    monkeypatch.setenv(SIGNING_KEY_ENV, pem.decode())
    assert _raw(load_signing_key(tmp_path / "k.pem")) == _raw(key)
    assert not (tmp_path / "k.pem").exists()
    assert _raw(load_signing_key(tmp_path / "k.pem", env_var=None)) != _raw(key)


@pytest.mark.parametrize(
    "material", ["abcd", "zz" * 32, "-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----"]
)
def test_bad_key_material_is_refused_without_echoing_it(material: str) -> None:
    """Material that is neither a 32-byte hex seed nor an Ed25519 PEM is refused; the message names only the source."""
    with pytest.raises(ConfigError) as info:
        signing_key_from_text(material, source="TEST_SOURCE")
    assert "TEST_SOURCE" in str(info.value)
    assert material not in str(info.value)


def test_public_key_export_roundtrips(tmp_path: Path) -> None:
    """The exported PEM loads as the signer's public key and checks its signatures."""
    signer = LedgerSigner(Ed25519PrivateKey.generate())
    path = signer.export_public_key(tmp_path / "pub.pem")
    public = load_public_key(path.read_bytes())
    public.verify(signer.private_key.sign(b"x"), b"x")
    assert path.read_text().startswith("-----BEGIN PUBLIC KEY-----")


def test_non_ed25519_public_key_is_refused() -> None:
    """A PEM that is not an Ed25519 public key is a ConfigError."""
    with pytest.raises(ConfigError):
        load_public_key(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
