"""Local secret material the case database needs: the HMAC key for identifier hashes.

Read from `DSR_HMAC_KEY` (hex) or a key file beside the database, created with mode 0600 on first use.
A key file readable by group or others is refused.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from models.errors import ConfigError
from models.files import atomic_write, check_private


def load_or_create_key(path: Path, env_var: str, *, size: int = 32) -> bytes:
    """A secret key from `env_var` (hex) or `path`, creating `path` (0600) with a random key if absent.

    Raises:
        ConfigError: the environment value is not hex, or the key file is not private or unreadable.
    """
    env = os.environ.get(env_var)
    if env:
        try:
            return bytes.fromhex(env)
        except ValueError:
            raise ConfigError(f"{env_var} must be a hex string (e.g. from `openssl rand -hex 32`)") from None
    if path.exists():
        check_private(path, "key file", key="keys")
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(size)
    # Publish the complete file atomically; if another process won the race, use its key.
    try:
        atomic_write(path, key.hex(), mode=0o600, exclusive=True)
    except FileExistsError:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    return key


def master_key(state_dir: Path) -> bytes:
    """The master key that wraps per-request keys: `DSR_MASTER_KEY` (hex), else `<state_dir>/master.key` (0600)."""
    key = load_or_create_key(state_dir / "master.key", "DSR_MASTER_KEY")
    if len(key) != 32:
        raise ConfigError("the master key must be 32 bytes (64 hex characters)", key="DSR_MASTER_KEY")
    return key


def hmac_key(state_dir: Path) -> bytes:
    """The key of identifiers' keyed hashes: `DSR_HMAC_KEY` (hex), else `<state_dir>/hmac.key` (0600)."""
    return load_or_create_key(state_dir / "hmac.key", "DSR_HMAC_KEY")
