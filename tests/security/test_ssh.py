"""The symlink, file-name and swap cases over real sshd laptops (discovery, scan and erasure over SFTP):
never outside the root, never a command built from a name, every refusal reported."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from connectors.base import Connector
from connectors.ssh import SSHConnector
from erasure.executor import ActionStatus
from erasure.plan import ActionKind, ErasurePlan
from tests.fixtures.sshd import SSHFleet
from tests.security.hostile import (
    CLI,
    HOME,
    PROJECT,
    SUBJECT_EMAIL,
    Laptop,
    assert_contained,
    make_laptop,
    run_pipeline,
    transcript,
)
from tests.security.test_symlinks import assert_loops_reported, make_probed_loops

pytestmark = [pytest.mark.service, pytest.mark.timeout(120)]

NAMES = [
    "we\nird.jsonl",
    'it\'s "q".jsonl',
    "$(touch pwned).jsonl",
    "`touch pwned`.jsonl",
    "a; rm -rf x | sh.jsonl",
    "-rf --help.jsonl",
    "a" * 249 + ".jsonl",
]
ESCAPES = {
    "etc.jsonl": "/etc/passwd",
    "etc-dir": "/etc",
    "bob.jsonl": "OUTSIDE/home/bob/.claude/history.jsonl",
    "bob-dir": "OUTSIDE/home/bob/.claude",
    "rel.jsonl": "../../../../../../outside/home/bob/.claude/history.jsonl",
}
LOOPS = {"self.jsonl": "self.jsonl", "up": "..", "a.jsonl": "b.jsonl", "b.jsonl": "a.jsonl"}


def _serve(ssh_fleet: SSHFleet, laptop: Laptop, name: str, *, remote_python: bool = True) -> Callable[[str], Connector]:
    served = ssh_fleet.start_laptop(name, laptop.root)
    known_hosts = ssh_fleet.write_known_hosts(laptop.base / "known_hosts", [served.known_hosts_line()])

    def connect(endpoint: str) -> Connector:
        return SSHConnector(
            endpoint,
            served.url,
            key_file=ssh_fleet.client_key,
            known_hosts=known_hosts,
            remote_python=remote_python,
        )

    return connect


@pytest.mark.parametrize("remote_python", [True, False], ids=["remote_scanner", "sftp"])
def test_hostile_names_over_ssh(ssh_fleet: SSHFleet, tmp_path: Path, remote_python: bool) -> None:
    """Over SSH every hostile name is found and redacted by its exact name (bytes that are not UTF-8 included,
    with the remote scanner and over SFTP alone); no name runs."""
    laptop = make_laptop(tmp_path)
    targets = [laptop.write(f"{PROJECT}/{name}", transcript()) for name in NAMES]
    bad_dir = os.fsencode(laptop.path(PROJECT)) + b"/dir-\xe9"
    os.mkdir(bad_dir)
    raw_targets = [
        os.path.join(os.fsencode(laptop.path(PROJECT)), b"\xff\xfe-bad.jsonl"),
        os.path.join(bad_dir, b"inner-\xc3.jsonl"),
    ]
    for raw in raw_targets:
        with open(raw, "wb") as fh:
            fh.write(transcript())
    laptop.write(f"{HOME}/Claude/keep.md", b"nothing\n")
    only_subject = os.fsencode(laptop.path(f"{HOME}/Claude")) + b"/cv-\xfa.pdf"  # unredactable: deleted whole
    with open(only_subject, "wb") as fh:
        fh.write(b"%PDF-1.4 " + SUBJECT_EMAIL.encode())
    connect = _serve(ssh_fleet, laptop, "names", remote_python=remote_python)
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop, connect=connect)
    assert_contained(laptop, run, before)
    for name, target in zip(NAMES, targets, strict=True):
        outcome = run.outcome(f"/{PROJECT}/{name}")
        assert (outcome.kind, outcome.status) == (ActionKind.REDACT, ActionStatus.DONE), name
        assert SUBJECT_EMAIL.encode() not in target.read_bytes(), name
    assert not any(p.name == "pwned" for p in laptop.base.rglob("*"))
    assert not any(p.name == "pwned" for p in Path("/root").glob("pwned*"))
    for raw in raw_targets:
        path = os.fsdecode(raw)[len(str(laptop.root)) :]
        assert path in run.finding_paths(), path
        outcome = run.outcome(path)
        assert (outcome.kind, outcome.status) == (ActionKind.REDACT, ActionStatus.DONE), path
        with open(raw, "rb") as fh:
            data = fh.read()
        assert SUBJECT_EMAIL.encode() not in data and b"weather" in data, path
    gone = os.fsdecode(only_subject)[len(str(laptop.root)) :]
    assert (run.outcome(gone).kind, run.outcome(gone).status) == (ActionKind.DELETE_FILE, ActionStatus.DONE)
    assert not os.path.exists(only_subject), "deleted by its exact bytes over SFTP"
    assert not [s for s in run.skipped if s.reason == "unreadable_name"]
    assert all(o.status is not ActionStatus.FAILED for o in run.report.outcomes)
    assert run.report.complete


def test_hostile_symlinks_over_ssh(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """Over SSH links out of the root are refused and reported, loops end, an in-root link is erased at its target."""
    laptop = make_laptop(tmp_path)
    project = laptop.path(PROJECT)
    for name, target in ESCAPES.items():
        os.symlink(target.replace("OUTSIDE", str(laptop.outside)), project / name)
    for name, target in LOOPS.items():
        os.symlink(target, project / name)
    shared = laptop.write("home/ana/notes/shared.jsonl", transcript())
    os.symlink("../../../notes/shared.jsonl", project / "linked.jsonl")
    connect = _serve(ssh_fleet, laptop, "links")
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop, connect=connect)
    assert_contained(laptop, run, before)
    reasons = run.reasons()
    for name in ESCAPES:
        assert reasons.get(f"/{PROJECT}/{name}") == "symlink_out_of_scope", (name, reasons)
    for name in ("self.jsonl", "up"):
        assert reasons.get(f"/{PROJECT}/{name}") == "symlink_loop", (name, reasons)
    assert SUBJECT_EMAIL.encode() not in shared.read_bytes()
    assert (project / "linked.jsonl").is_symlink()
    assert run.report.complete, run.report.pending


def test_loops_where_discovery_lists_names_over_ssh(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """Over SFTP a loop at a probed directory is a skip, not a failed laptop; the transcript is still erased."""
    laptop = make_laptop(tmp_path)
    # The `.config` loop (a plain path component, not a listed directory) hides nothing; over SFTP it is
    # not reported, so only the listed locations are checked here.
    paths = [p for p in make_probed_loops(laptop) if not p.endswith("/.config")]
    connect = _serve(ssh_fleet, laptop, "probe-loops")
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop, connect=connect)
    assert_contained(laptop, run, before)
    assert_loops_reported(run.reasons(), paths)
    assert run.outcome(f"/{PROJECT}/{CLI}.jsonl").status is ActionStatus.DONE


def test_file_swapped_for_symlink_over_ssh_is_refused(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """Over SFTP, a planned file replaced by a link to an identical file outside is refused; the outside copy stays."""
    laptop = make_laptop(tmp_path)
    path = laptop.path(f"{PROJECT}/{CLI}.jsonl")
    connect = _serve(ssh_fleet, laptop, "swap")
    snapshots: list[object] = []

    def between(_plan: ErasurePlan) -> None:
        copy = laptop.outside / "copy.jsonl"
        copy.write_bytes(path.read_bytes())
        path.unlink()
        os.symlink(copy, path)
        snapshots.append(laptop.outside_snapshot())

    run = run_pipeline(laptop, connect=connect, between=between)
    assert_contained(laptop, run, snapshots[0])  # type: ignore[arg-type]
    outcome = run.outcome(f"/{PROJECT}/{CLI}.jsonl")
    assert outcome.status in (ActionStatus.FAILED, ActionStatus.CONFLICT), outcome
    assert SUBJECT_EMAIL.encode() in (laptop.outside / "copy.jsonl").read_bytes()


def test_directory_swapped_for_symlink_over_ssh_is_refused(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """Over SFTP, the project directory moved out of the root and linked back: the redaction is refused."""
    laptop = make_laptop(tmp_path)
    project = laptop.path(PROJECT)
    connect = _serve(ssh_fleet, laptop, "dirswap")
    snapshots: list[object] = []

    def between(_plan: ErasurePlan) -> None:
        moved = laptop.outside / "moved"
        project.rename(moved)
        os.symlink(moved, project)
        snapshots.append(laptop.outside_snapshot())

    run = run_pipeline(laptop, connect=connect, between=between)
    assert_contained(laptop, run, snapshots[0])  # type: ignore[arg-type]
    outcome = run.outcome(f"/{PROJECT}/{CLI}.jsonl")
    assert outcome.status in (ActionStatus.FAILED, ActionStatus.CONFLICT), outcome
    assert SUBJECT_EMAIL.encode() in (laptop.outside / "moved" / f"{CLI}.jsonl").read_bytes()
