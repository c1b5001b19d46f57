"""Runs the connector contract suite against `MemoryConnector`."""

from __future__ import annotations

import pytest

from connectors.memory import SIMULATED_BUSY_MARKER, MemoryConnector, normalize_path
from tests.contract.contract import ConnectorContract


class MemoryBackend:
    """Out-of-band helpers over a `MemoryConnector` (no symlinks or FIFOs: those tests skip)."""

    def __init__(self) -> None:
        self.connector = MemoryConnector("memory-1")

    def write_file(self, path: str, data: bytes) -> None:
        self.connector.write_file(path, data)

    def read_file(self, path: str) -> bytes:
        return self.connector.snapshot()[normalize_path(path)]

    def append(self, path: str, data: bytes) -> None:
        self.connector.append(path, data)

    def make_hardlink(self, existing: str, new: str) -> None:
        self.connector.link(existing, new)

    def make_symlink(self, path: str, target: str) -> None:
        pytest.skip("the memory connector has no symlinks")

    def make_symlink_out_of_root(self, path: str) -> None:
        pytest.skip("the memory connector has no symlinks")

    def make_fifo(self, path: str) -> None:
        pytest.skip("the memory connector has no special files")

    def names_in(self, directory: str) -> list[str]:
        base = normalize_path(directory) + "/"
        return sorted({p[len(base) :].split("/")[0] for p in self.connector.snapshot() if p.startswith(base)})

    def set_busy(self, busy: bool) -> None:
        if busy:
            self.connector.write_file(SIMULATED_BUSY_MARKER, b"")
        else:
            self.connector.busy = False


class TestMemoryContract(ConnectorContract):
    """The shared contract in memory."""

    @pytest.fixture
    def backend(self) -> MemoryBackend:
        return MemoryBackend()
