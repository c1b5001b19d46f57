"""Local files written safely, in one place: the atomic write every writer uses, and the rule that a key file
is private.

An atomic write never leaves a half-written file under the final name: the bytes go to a temporary file in
the same directory (same filesystem), which is fsynced, given its mode, renamed over the target (or linked,
when the target must not exist yet), and the directory is fsynced; on any failure the temporary file is
removed and the target is untouched. Does no other I/O.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from models.errors import ConfigError

TEMP_SUFFIX = ".tmp"
"""Temporary files of an atomic write are named `.<target name>.<random>.tmp` beside the target."""


def fsync_dir(directory: Path) -> None:
    """Make a rename or link inside `directory` durable (fsync of the directory itself)."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_writer(path: Path, *, mode: int = 0o600, exclusive: bool = False) -> Iterator[BinaryIO]:
    """A binary file to write `path`'s new content into; published when the block ends without an error.

    Args:
        path: the target; its directory must exist.
        mode: permission bits of the published file (set on the temporary file before any byte is written).
        exclusive: publish with a hard link instead of a rename, so an existing `path` is never replaced
            (`FileExistsError` is raised and the temporary file removed: another writer won the race).

    Raises:
        FileExistsError: `exclusive` and `path` already exists.
        OSError: the temporary file cannot be created, written, synced or renamed (the target is untouched).
    """
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TEMP_SUFFIX, dir=path.parent)
    temp_path = Path(temp)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            os.link(temp_path, path)
        else:
            os.replace(temp_path, path)
        fsync_dir(path.parent)
    finally:
        temp_path.unlink(missing_ok=True)


def atomic_write(path: Path, data: bytes | str, *, mode: int = 0o600, exclusive: bool = False) -> Path:
    """Write `data` (text is encoded as UTF-8) to `path` atomically; returns `path`. See `atomic_writer`."""
    with atomic_writer(path, mode=mode, exclusive=exclusive) as fh:
        fh.write(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def check_private(path: Path, what: str, *, mode: int | None = None, key: str | None = None) -> None:
    """Refuse a secret file that group or others may read or write (as OpenSSH refuses such keys).

    Args:
        path: the file (named in the message together with the fix).
        what: what the file holds, for the message: "key file", "ssh key file", "secret file", ...
        mode: the file's `st_mode` when the caller already has it (e.g. from `fstat` on the opened file);
            otherwise the file is stat-ed here.
        key: the configuration key to name in the error.

    Raises:
        ConfigError: the file cannot be stat-ed, or its mode gives group or others any access.
    """
    fields = {"path": str(path)} | ({"key": key} if key else {})
    if mode is None:
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise ConfigError(f"{what} {path} cannot be read ({exc.strerror})", **fields) from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{what} {path} is accessible by group or others (mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}",
            **fields,
        )
