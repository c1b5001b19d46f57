"""A 50-laptop fan-out over real sshd: every laptop scanned, parallel wall time below sequential."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from connectors.base import RemoteHit
from connectors.ssh import SSHConnector
from tests.fixtures.sshd import SSHFleet
from tests.integration.ssh.conftest import LITERALS, SUBJECT_NAME
from tests.integration.ssh.fanout import fan_out, summarize

pytestmark = pytest.mark.service

LAPTOPS = int(os.environ.get("DSR_SSH_FANOUT_LAPTOPS", "50"))
MAX_WORKERS = 16


def _small_tree(root: Path, index: int) -> None:
    projects = root / "Users" / f"user{index}" / ".claude" / "projects" / "-Users-work"
    projects.mkdir(parents=True)
    filler = b'{"type":"assistant","message":{"content":"routine output"}}\n' * 2000
    (projects / "s1.jsonl").write_bytes(filler + f'{{"content":"{SUBJECT_NAME}"}}\n'.encode())
    (projects / "s2.jsonl").write_bytes(filler)


def _hits(connector: SSHConnector) -> int:
    return sum(1 for record in connector.scan_remote("/", LITERALS) if isinstance(record, RemoteHit))


@pytest.mark.timeout(600)
def test_fan_out_over_many_laptops(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """Every laptop of a large fleet is scanned with one hit each; bounded parallel beats sequential."""
    known_lines = []
    laptops = []
    for index in range(LAPTOPS):
        tree = tmp_path / f"l{index}"
        _small_tree(tree, index)
        laptop = ssh_fleet.start_laptop(f"scale{index}", tree)
        laptops.append(laptop)
        known_lines.append(laptop.known_hosts_line())
    known_hosts = ssh_fleet.write_known_hosts(tmp_path / "known_hosts", known_lines)

    def make() -> list[SSHConnector]:
        return [
            SSHConnector(f"scale{i}", lap.url, key_file=ssh_fleet.client_key, known_hosts=known_hosts)
            for i, lap in enumerate(laptops)
        ]

    started = time.monotonic()
    sequential = fan_out(make(), _hits, max_workers=1)
    sequential_s = time.monotonic() - started
    started = time.monotonic()
    parallel = fan_out(make(), _hits, max_workers=MAX_WORKERS)
    parallel_s = time.monotonic() - started

    assert summarize(parallel) == {"scanned": LAPTOPS}
    assert [o.value for o in parallel] == [1] * LAPTOPS == [o.value for o in sequential]
    assert parallel_s < sequential_s
    out = os.environ.get("DSR_BENCH_OUT")
    if out:
        Path(out).write_text(
            json.dumps(
                {
                    "laptops": LAPTOPS,
                    "max_workers": MAX_WORKERS,
                    "sequential_seconds": round(sequential_s, 3),
                    "parallel_seconds": round(parallel_s, 3),
                    "cpu_count": os.cpu_count(),
                },
                indent=2,
            )
        )
