"""A run reads its configuration once per process and file version, not once per task."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flows.common import flow_settings

CONFIG = """[controller]
name = "Example Ltd"
contact = "privacy@example.invalid"

[database]
url = "sqlite:///{db}"

[[endpoints]]
name = "laptop-01"
url = "file://{root}/laptop-01"
"""


def _write(path: Path, extra: str = "") -> None:
    path.write_text(CONFIG.format(db=path.parent / "dsr.db", root=path.parent) + extra, encoding="utf-8")


def test_the_configuration_is_parsed_once_per_file_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same file gives the same (frozen) object; an edited file, another file or another database
    override is read afresh."""
    config = tmp_path / "dsr.toml"
    _write(config)
    monkeypatch.setenv("DSR_CONFIG", str(config))
    monkeypatch.delenv("DSR_DATABASE_URL", raising=False)
    first = flow_settings()
    assert flow_settings() is first
    assert [e.name for e in first.endpoints] == ["laptop-01"]

    _write(config, '\n[[endpoints]]\nname = "laptop-02"\nurl = "file:///nowhere/laptop-02"\n')
    edited = flow_settings()
    assert [e.name for e in edited.endpoints] == ["laptop-01", "laptop-02"]

    same_size = config.read_text(encoding="utf-8").replace("laptop-02", "laptop-09")
    stat = config.stat()
    config.write_text(same_size, encoding="utf-8")
    os.utime(config, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert [e.name for e in flow_settings().endpoints] == ["laptop-01", "laptop-09"]

    monkeypatch.setenv("DSR_DATABASE_URL", f"sqlite:///{tmp_path / 'other.db'}")
    assert str(tmp_path / "other.db") in flow_settings().database.url

    other = tmp_path / "other" / "dsr.toml"
    other.parent.mkdir()
    _write(other)
    monkeypatch.delenv("DSR_DATABASE_URL")
    monkeypatch.setenv("DSR_CONFIG", str(other))
    assert str(other.parent / "dsr.db") in flow_settings().database.url
