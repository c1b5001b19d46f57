"""Where a secret comes from: the environment, a private file, or a secret store (Prefect Secret block).

Owns the order of those sources and the file-permission rule (group- or world-readable files are refused,
as OpenSSH refuses such keys). Never logs, prints or puts a secret into an exception message; free of
Prefect: the secret-store lookup is injected as `loader`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from models.errors import ConfigError
from models.files import check_private

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
MAX_SECRET_BYTES = 1 << 20


def read_private_file(path: Path, *, label: str = "secret file") -> str:
    """The text of a private file that only its owner may read (mode 600 or 400; symlinks are followed).

    `label` names the file in messages (`secret file`, `identifiers file`).

    The mode is checked on the opened file (fstat), so a file swapped after the check is not read.

    Raises:
        ConfigError: the file is missing or unreadable, not a regular file, readable or writable by group or
            others (the message names the path and `chmod 600`), too large, or not UTF-8.
    """
    try:
        fd = os.open(path, _OPEN_FLAGS | os.O_NONBLOCK)
    except OSError as exc:
        raise ConfigError(f"{label} {path} cannot be read ({exc.strerror})", path=str(path)) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise ConfigError(f"{label} {path} is not a regular file", path=str(path))
    with os.fdopen(fd, "rb") as fh:
        check_private(path, label, mode=st.st_mode)
        data = fh.read(MAX_SECRET_BYTES + 1)
    if len(data) > MAX_SECRET_BYTES:
        raise ConfigError(f"{label} {path} is larger than {MAX_SECRET_BYTES} bytes", path=str(path))
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{label} {path} is not UTF-8 text", path=str(path)) from None


def resolve_secret(
    env_var: str,
    file: Path | None = None,
    block_name: str | None = None,
    loader: Callable[[str], str] | None = None,
) -> str | None:
    """A secret from the first source that has it: `env_var`, then `file`, then `loader(block_name)`.

    Args:
        env_var: environment variable name (an empty value counts as unset).
        file: a private file holding the secret (surrounding whitespace is stripped); must exist if given.
        block_name: the secret store entry (e.g. a Prefect Secret block name).
        loader: reads `block_name` from the secret store (e.g. `lambda n: Secret.load(n).get()`); it should
            raise `LookupError` or `ValueError` when the entry does not exist.

    Returns:
        The secret, or None when no source is configured (the caller decides whether that is an error).

    Raises:
        ConfigError: a configured source is broken: the file is missing or not private, the secret store
            has no such entry, or `block_name` is given without a `loader`. Messages name the source
            (variable, path, block name), never the secret.
    """
    value = os.environ.get(env_var)
    if value:
        return value
    if file is not None:
        return read_private_file(file)
    if block_name is not None:
        if loader is None:
            raise ConfigError(f"secret block {block_name!r} is configured but no secret store is available")
        try:
            secret = loader(block_name)
        except (LookupError, ValueError, OSError) as exc:
            raise ConfigError(
                f"secret block {block_name!r} cannot be loaded ({type(exc).__name__})", key=block_name
            ) from None
        if not isinstance(secret, str) or not secret:
            raise ConfigError(f"secret block {block_name!r} holds no text", key=block_name)
        return secret
    return None
