"""Runs the connector contract suite against `LocalConnector` on a temporary directory tree."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from connectors.local import SIMULATED_BUSY_MARKER, LocalConnector
from tests.contract.contract import ConnectorContract


class LocalBackend:
    """A laptop tree under `tmp/laptop` and a neighbour directory `tmp/outside` that is out of scope."""

    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "laptop"
        self.outside = tmp / "outside"
        self.root.mkdir()
        self.outside.mkdir()
        (self.outside / "secret.txt").write_bytes(b"outside the root\n")
        self.connector = LocalConnector("laptop-1", self.root)

    def fs(self, path: str) -> Path:
        return self.root / path.lstrip("/")

    def write_file(self, path: str, data: bytes) -> None:
        target = self.fs(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def read_file(self, path: str) -> bytes:
        return self.fs(path).read_bytes()

    def append(self, path: str, data: bytes) -> None:
        with self.fs(path).open("ab") as out:
            out.write(data)

    def make_hardlink(self, existing: str, new: str) -> None:
        self.fs(new).parent.mkdir(parents=True, exist_ok=True)
        os.link(self.fs(existing), self.fs(new))

    def make_symlink(self, path: str, target: str) -> None:
        link = self.fs(path)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(self.fs(target), link.parent))

    def make_symlink_out_of_root(self, path: str) -> None:
        link = self.fs(path)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(self.outside)

    def make_fifo(self, path: str) -> None:
        self.fs(path).parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(self.fs(path))

    def names_in(self, directory: str) -> list[str]:
        return sorted(os.listdir(self.fs(directory)))

    def set_busy(self, busy: bool) -> None:
        marker = self.root / SIMULATED_BUSY_MARKER
        if busy:
            marker.write_bytes(b"")
        else:
            marker.unlink(missing_ok=True)


class TestLocalContract(ConnectorContract):
    """The shared contract on a real directory tree."""

    @pytest.fixture
    def backend(self, tmp_path: Path) -> LocalBackend:
        return LocalBackend(tmp_path)
