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

KEY_BYTES = 32


def _decode(text: str, source: str, size: int) -> bytes:
    try:
        key = bytes.fromhex(text.strip())
    except ValueError:
        raise ConfigError(
            f"{source} must be {size} bytes written as {size * 2} hex characters (`openssl rand -hex {size}`)",
            key=source,
        ) from None
    if len(key) != size:
        raise ConfigError(
            f"{source} holds a {len(key)}-byte key; it must be {size} bytes ({size * 2} hex characters, e.g. "
            f"from `openssl rand -hex {size}`)",
            key=source,
        )
    return key


def load_or_create_key(path: Path, env_var: str, *, size: int = KEY_BYTES) -> bytes:
    """A secret key of exactly `size` bytes from `env_var` (hex) or `path`, creating `path` (0600) if absent.

    Raises:
        ConfigError: the environment value or the file is not `size` bytes of hex (the message names the
            variable or file and the required length, never the value), the key file is not private or
            unreadable, or the directory cannot be written (the message names the path and the fix).
    """
    env = os.environ.get(env_var)
    if env:
        return _decode(env, env_var, size)
    try:
        if path.exists():
            check_private(path, "key file", key="keys")
            return _decode(path.read_text(encoding="ascii", errors="replace"), f"key file {path}", size)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        key = secrets.token_bytes(size)
        # Publish the complete file atomically; if another process won the race, use its key.
        try:
            atomic_write(path, key.hex(), mode=0o600, exclusive=True)
        except FileExistsError:
            return _decode(path.read_text(encoding="ascii", errors="replace"), f"key file {path}", size)
    except OSError as exc:
        raise ConfigError(
            f"cannot create or read the key file {path} ({exc.strerror or type(exc).__name__}): make "
            f"{path.parent} a directory this user can write, or set {env_var} (`openssl rand -hex {size}`)",
            key=env_var,
        ) from None
    return key


def master_key(state_dir: Path) -> bytes:
    """The master key that wraps per-request keys: `DSR_MASTER_KEY` (hex), else `<state_dir>/master.key` (0600)."""
    return load_or_create_key(state_dir / "master.key", "DSR_MASTER_KEY")


def hmac_key(state_dir: Path) -> bytes:
    """The key of identifiers' keyed hashes: `DSR_HMAC_KEY` (hex), else `<state_dir>/hmac.key` (0600)."""
    return load_or_create_key(state_dir / "hmac.key", "DSR_HMAC_KEY")
