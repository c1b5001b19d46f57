"""Fixtures of the SSH integration tests: the real-sshd fleet (tests.fixtures.sshd) and synthetic trees."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.ssh import SSHConnector
from tests.fixtures.sshd import Laptop, SSHFleet, ssh_fleet

__all__ = ["ssh_fleet"]  # re-exported so pytest registers the session fixture for this directory

# Synthetic subject: invented name, `.invalid` domain.
SUBJECT_NAME = "Quillon Vextrabor"
SUBJECT_EMAIL = "q.vextrabor@mail.invalid"
LITERALS = (b"quillon vextrabor", b"q.vextrabor@mail.invalid", b"vextrab\xc3\xb6r")


def build_tree(root: Path, *, outside: Path | None = None) -> None:
    """A small laptop tree with matches in JSONL, pretty JSON and text, edge-case lines and odd entries."""
    home = root / "Users" / "ana"
    projects = home / ".claude" / "projects" / "-Users-ana-work"
    projects.mkdir(parents=True)
    lines = [
        {"type": "user", "message": {"content": f"Please e-mail {SUBJECT_EMAIL.upper()} today"}},
        {"type": "assistant", "message": {"content": "nothing to see"}},
        {"type": "user", "message": {"content": f"{SUBJECT_NAME} asked for the report"}},
    ]
    transcript = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    (projects / "1f0c-session.jsonl").write_bytes(transcript + b'{"tail": "quillon VEXTRABOR"}')  # no final \n
    (home / ".claude" / "history.jsonl").write_bytes(
        b'{"display":"hello"}\n\n{"display":"Vextrab\xc3\xb6r notes"}\n{"display":"VEXTRAB\xc3\x96R upper"}\n'
    )
    pretty = json.dumps({"title": "x", "owner": {"email": SUBJECT_EMAIL}}, indent=2).encode()
    claude = home / "Library" / "Application Support" / "Claude"
    claude.mkdir(parents=True)
    (claude / "config.json").write_bytes(pretty)
    (claude / "empty.txt").write_bytes(b"")
    big_line = b"x" * (3 << 20) + b" quillon vextrabor " + b"y" * 1000
    (claude / "big.log").write_bytes(b"start\n" + big_line + b"\nend\n" * 2000)
    (claude / "binary.bin").write_bytes(bytes(range(256)) * 64 + b"Q.VEXTRABOR@MAIL.INVALID" + b"\x00\n\xff")
    documents = home / "Documents"
    documents.mkdir()
    (documents / "cv.txt").write_bytes(f"{SUBJECT_NAME}\n".encode())
    uploads = claude / "uploads"
    uploads.mkdir()
    os.link(documents / "cv.txt", uploads / "cv.txt")
    os.mkfifo(home / "pipe")
    if outside is not None:
        outside.mkdir(exist_ok=True)
        (outside / "secret.txt").write_bytes(f"{SUBJECT_NAME} outside\n".encode())
        (home / "escape").symlink_to(outside)
    (home / "d").mkdir()
    (home / "d" / "up").symlink_to("..")


@dataclass
class SSHLaptop:
    """A started laptop with its tree and a factory for connectors to it."""

    laptop: Laptop
    tree: Path
    known_hosts: Path
    client_key: Path

    def connector(self, name: str = "laptop", **options: object) -> SSHConnector:
        """A new connector to this laptop (options as in `SSHConnector`)."""
        return SSHConnector(
            name,
            self.laptop.url,
            key_file=self.client_key,
            known_hosts=self.known_hosts,
            **options,  # type: ignore[arg-type]
        )


def start_tree_laptop(fleet: SSHFleet, base: Path, name: str, *, without_python: bool = False) -> SSHLaptop:
    """Build a synthetic tree under `base` and serve it from a new sshd laptop."""
    tree = base / "tree"
    build_tree(tree, outside=base / "outside")
    laptop = fleet.start_laptop(name, tree, without_python=without_python)
    known_hosts = fleet.write_known_hosts(base / "known_hosts", [laptop.known_hosts_line()])
    return SSHLaptop(laptop, tree, known_hosts, fleet.client_key)


@pytest.fixture(scope="module")
def tree_laptop(ssh_fleet: SSHFleet, tmp_path_factory: pytest.TempPathFactory) -> SSHLaptop:
    """One laptop (with python3) serving the synthetic tree, shared by a module's read-only tests."""
    return start_tree_laptop(ssh_fleet, tmp_path_factory.mktemp("tree-laptop"), "tree")
