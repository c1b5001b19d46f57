"""Runs the connector contract suite against `SSHConnector` on one real sshd laptop (loopback)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.ssh import SIMULATED_BUSY_MARKER, SSHConnector
from tests.contract.contract import ConnectorContract
from tests.fixtures.sshd import Laptop, SSHFleet, ssh_fleet

__all__ = ["ssh_fleet"]  # the session fixture, imported so pytest finds it here


class SSHBackend:
    """A laptop tree under `tmp/laptop` served by a real sshd; `tmp/outside` is out of scope."""

    def __init__(self, tmp: Path, fleet: SSHFleet, laptop: Laptop, known_hosts: Path) -> None:
        self.root = tmp / "laptop"
        self.outside = tmp / "outside"
        self.root.mkdir()
        self.outside.mkdir()
        (self.outside / "secret.txt").write_bytes(b"outside the root\n")
        url = f"ssh://root@{laptop.host}:{laptop.port}{self.root}"
        self.connector = SSHConnector("laptop-ssh", url, key_file=fleet.client_key, known_hosts=known_hosts)

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


@pytest.fixture(scope="module")
def contract_laptop(ssh_fleet: SSHFleet, tmp_path_factory: pytest.TempPathFactory) -> tuple[Laptop, Path]:
    """One sshd laptop shared by the module's tests (each test has its own tree as URL root)."""
    serve = tmp_path_factory.mktemp("contract-ssh")
    laptop = ssh_fleet.start_laptop("contract", serve)
    known_hosts = ssh_fleet.write_known_hosts(serve / "known_hosts", [laptop.known_hosts_line()])
    return laptop, known_hosts


@pytest.mark.service
class TestSSHContract(ConnectorContract):
    """The shared contract over SFTP against a real OpenSSH server."""

    @pytest.fixture
    def backend(
        self, tmp_path: Path, ssh_fleet: SSHFleet, contract_laptop: tuple[Laptop, Path]
    ) -> Iterator[SSHBackend]:
        laptop, known_hosts = contract_laptop
        backend = SSHBackend(tmp_path, ssh_fleet, laptop, known_hosts)
        try:
            yield backend
        finally:
            backend.connector.close()
