"""The one atomic write (temp file beside the target, fsync, rename or link, fsync of the directory, cleanup on
failure) and the one rule that a key file is private."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from models import files
from models.errors import ConfigError
from models.files import atomic_write, atomic_writer, check_private

ROOT = Path(__file__).parents[3]
PRODUCT = ("models", "connectors", "detection", "reports", "proofs", "erasure", "services", "flows", "dsr")


def _entries(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


class Boom(Exception):
    """Stands for any failure in the middle of a write."""


@pytest.mark.parametrize("mode", [0o600, 0o644, 0o400], ids=oct)
def test_writes_content_with_the_mode_and_leaves_no_temp(tmp_path: Path, mode: int) -> None:
    """The target gets exactly the bytes and the requested mode, whatever the umask; nothing else remains."""
    old = os.umask(0o077)
    try:
        target = atomic_write(tmp_path / "out.json", '{"a": "é"}', mode=mode)
    finally:
        os.umask(old)
    assert target.read_bytes() == '{"a": "é"}'.encode()
    assert target.stat().st_mode & 0o777 == mode
    assert _entries(tmp_path) == {"out.json"}


def test_replaces_the_directory_entry_not_the_file(tmp_path: Path) -> None:
    """A hard link to the old file keeps the old bytes: the rename swaps the name, never writes through a link."""
    target = tmp_path / "state.json"
    target.write_bytes(b"old")
    os.link(target, tmp_path / "other-link")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"
    assert (tmp_path / "other-link").read_bytes() == b"old"


def test_failure_leaves_the_target_untouched_and_no_temp(tmp_path: Path) -> None:
    """An exception in the middle of writing keeps the old content and removes the temporary file."""
    target = tmp_path / "plan.json"
    target.write_bytes(b"before")
    with pytest.raises(Boom), atomic_writer(target) as fh:
        fh.write(b"half of the new")
        raise Boom
    assert target.read_bytes() == b"before"
    assert _entries(tmp_path) == {"plan.json"}


def test_failure_before_the_first_write_creates_nothing(tmp_path: Path) -> None:
    """A new target that fails to be written does not appear at all."""
    with pytest.raises(Boom), atomic_writer(tmp_path / "new.bin"):
        raise Boom
    assert _entries(tmp_path) == set()


def test_exclusive_never_replaces_an_existing_file(tmp_path: Path) -> None:
    """With `exclusive` the file is linked into place: an existing target wins, the loser's temp is removed."""
    target = tmp_path / "master.key"
    atomic_write(target, b"first", exclusive=True)
    with pytest.raises(FileExistsError):
        atomic_write(target, b"second", exclusive=True)
    assert target.read_bytes() == b"first"
    assert _entries(tmp_path) == {"master.key"}


def test_the_directory_is_synced_after_the_rename(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rename is made durable: the target's directory is fsynced once the new name is in place."""
    seen: list[tuple[Path, bool]] = []
    real = files.fsync_dir

    def spy(directory: Path) -> None:
        seen.append((directory, (directory / "x.txt").exists()))
        real(directory)

    monkeypatch.setattr(files, "fsync_dir", spy)
    atomic_write(tmp_path / "x.txt", "x")
    assert seen == [(tmp_path, True)]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o644, 0o660], ids=oct)
def test_a_key_file_open_to_others_is_refused(tmp_path: Path, mode: int) -> None:
    """Any group or other permission bit is refused; the message names the file, its mode and `chmod 600`."""
    key = tmp_path / "id_ed25519"
    key.write_text("k")
    key.chmod(mode)
    with pytest.raises(ConfigError) as err:
        check_private(key, "ssh key file")
    assert str(err.value) == (
        f"ssh key file {key} is accessible by group or others (mode {mode:o}); run: chmod 600 {key}"
    )


@pytest.mark.parametrize("mode", [0o600, 0o400], ids=oct)
def test_a_private_key_file_passes(tmp_path: Path, mode: int) -> None:
    """Owner-only files pass the check."""
    key = tmp_path / "hmac.key"
    key.write_text("k")
    key.chmod(mode)
    check_private(key, "key file")


def test_a_missing_key_file_is_named(tmp_path: Path) -> None:
    """A key file that cannot be stat-ed is a configuration error naming it."""
    with pytest.raises(ConfigError, match=r"key file .*absent\.key cannot be read"):
        check_private(tmp_path / "absent.key", "key file")


def test_no_writer_bypasses_atomic_write() -> None:
    """Product code replaces local files only through models.files (the laptop connector's compare-and-swap
    replace, with its own re-check before the rename, is the one exception)."""
    pattern = re.compile(r"os\.replace\(|os\.rename\(|mkstemp\(|os\.link\(|\.with_name\([^)]*\.tmp")
    allowed = {"models/files.py", "connectors/local.py"}
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        if path.relative_to(ROOT).as_posix() not in allowed
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
