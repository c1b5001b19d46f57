"""Remote-side scanning over real sshd: same candidates as the SFTP fallback and as a local scan."""

from __future__ import annotations

import contextlib
import io
import os
import threading
import time
from pathlib import Path

import psutil
import pytest

from connectors.base import Item, RemoteHit, Skipped
from connectors.local import LocalConnector
from connectors.remote_scan import iter_candidate_lines
from models.errors import TransferError
from tests.fixtures.sshd import SSHFleet
from tests.integration.ssh.conftest import LITERALS, SUBJECT_EMAIL, SSHLaptop, build_tree, start_tree_laptop

pytestmark = pytest.mark.service

HOME = "/Users/ana"


def _split(records: list[Item | Skipped | RemoteHit]) -> tuple[list[Item], list[Skipped], list[RemoteHit]]:
    items = [r for r in records if isinstance(r, Item)]
    skipped = [r for r in records if isinstance(r, Skipped)]
    hits = [r for r in records if isinstance(r, RemoteHit)]
    return items, skipped, hits


def _local_candidates(tree: Path) -> list[tuple[str, int, int, bytes]]:
    """Candidates computed with the naive rule straight from the files on disk (the reference)."""
    found = []
    local = LocalConnector("ref", tree)
    for entry in local.iter_items("/"):
        if not isinstance(entry, Item):
            continue
        data = (tree / entry.path.lstrip("/")).read_bytes()
        offset = 0
        for number, line in enumerate(data.split(b"\n"), start=1):
            if any(lit in line.lower() for lit in LITERALS):
                found.append((entry.path, number, offset, line))
            offset += len(line) + 1
    return sorted(found)


def test_remote_and_sftp_give_identical_records(tree_laptop: SSHLaptop) -> None:
    """python3 on the laptop and SFTP streaming yield the same inventory, skips and candidates, in order."""
    with tree_laptop.connector() as remote:
        remote_records = list(remote.scan_remote("/", LITERALS))
        assert remote.last_scan_mode == "remote"
    with tree_laptop.connector(remote_python=False) as fallback:
        sftp_records = list(fallback.scan_remote("/", LITERALS))
        assert fallback.last_scan_mode == "sftp"
    assert remote_records == sftp_records
    hits = _split(remote_records)[2]
    assert len(hits) >= 6


def test_candidates_match_the_naive_rule(tree_laptop: SSHLaptop) -> None:
    """Every candidate is exactly a line where some literal is in line.lower(), with 1-based number and offset."""
    with tree_laptop.connector() as connector:
        hits = _split(list(connector.scan_remote("/", LITERALS)))[2]
    got = sorted((h.path, h.line, h.offset, h.data) for h in hits)
    assert got == _local_candidates(tree_laptop.tree)
    by_path = {h.path: h for h in hits}
    assert f"{HOME}/.claude/history.jsonl" in by_path
    upper = [h for h in hits if h.path.endswith("history.jsonl")]
    assert [h.line for h in upper] == [3]  # "VEXTRABÖR" (non-ASCII capital) is not a lowercase match


def test_matches_detection_matcher_candidates(tree_laptop: SSHLaptop) -> None:
    """With the detection Matcher's own literals, remote candidates equal Matcher.iter_candidates per file."""
    matcher_mod = pytest.importorskip("detection.matcher")
    identifiers = pytest.importorskip("detection.identifiers")
    ids = identifiers.SubjectIdentifiers(emails=(SUBJECT_EMAIL,), names=("Quillon Vextrabor",))
    matcher = matcher_mod.Matcher.from_identifiers(ids)
    with tree_laptop.connector() as connector:
        records = list(connector.scan_remote("/", matcher.literals))
    items, _, hits = _split(records)
    expected = []
    for item in items:
        data = (tree_laptop.tree / item.path.lstrip("/")).read_bytes()
        expected.extend((item.path, c.line, c.offset, c.data) for c in matcher.iter_candidates(io.BytesIO(data)))
    assert sorted((h.path, h.line, h.offset, h.data) for h in hits) == sorted(expected)
    assert hits


def test_ssh_and_local_list_the_same_items(tree_laptop: SSHLaptop) -> None:
    """The file:// LocalConnector and the SSH connector list the same files (path, size, links, mtime)."""
    local = {e.path: e for e in LocalConnector("l", tree_laptop.tree).iter_items("/") if isinstance(e, Item)}
    with tree_laptop.connector() as connector:
        listed = {e.path: e for e in connector.iter_items("/") if isinstance(e, Item)}
        scanned = {e.path: e for e in connector.scan_remote("/", LITERALS) if isinstance(e, Item)}
    assert set(listed) == set(local) == set(scanned)
    for path, item in local.items():
        assert (listed[path].size, listed[path].nlink) == (item.size, item.nlink)
        assert listed[path].modified_at.replace(microsecond=0) == item.modified_at.replace(microsecond=0)
        assert scanned[path] == listed[path]
    assert listed[f"{HOME}/Documents/cv.txt"].nlink == 2


def test_symlink_out_of_root_reported_not_followed(tree_laptop: SSHLaptop) -> None:
    """A link leaving the root is a `symlink_out_of_scope` skip on both paths; its target is never read."""
    for options in ({}, {"remote_python": False}):
        with tree_laptop.connector(**options) as connector:
            records = list(connector.scan_remote(HOME, LITERALS))
        items, skipped, hits = _split(records)
        reasons = {s.path: s.reason for s in skipped}
        assert reasons[f"{HOME}/escape"] == "symlink_out_of_scope"
        assert reasons[f"{HOME}/d/up"] == "symlink_loop"
        assert reasons[f"{HOME}/pipe"] == "special_file"
        assert not any("secret" in i.path or "escape" in i.path for i in items)
        assert not any(h.data.endswith(b"outside") for h in hits)


def test_without_python3_falls_back_to_sftp(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """A laptop whose PATH has no python3 is scanned over SFTP with the same candidates."""
    bare = start_tree_laptop(ssh_fleet, tmp_path, "no-python", without_python=True)
    with bare.connector() as connector:
        records = list(connector.scan_remote("/", LITERALS))
        assert connector.last_scan_mode == "sftp"
    hits = _split(records)[2]
    assert sorted((h.path, h.line, h.offset, h.data) for h in hits) == _local_candidates(bare.tree)


def _cmdlines() -> list[bytes]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                found.append(Path(f"/proc/{pid}/cmdline").read_bytes())
            except OSError:
                continue
    return found


def test_no_identifier_on_any_command_line(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """While a remote scan runs, no process's /proc/*/cmdline contains an identifier literal."""
    laptop = start_tree_laptop(ssh_fleet, tmp_path, "cmdline")
    bulk = laptop.tree / "Users" / "ana" / "bulk"
    bulk.mkdir()
    for index in range(40):
        (bulk / f"f{index}.log").write_bytes((b"filler line without the subject\n" * 40000) + b"quillon vextrabor\n")
    stop = threading.Event()
    samples: list[list[bytes]] = []

    def sample() -> None:
        while not stop.is_set():
            samples.append(_cmdlines())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with laptop.connector() as connector:
            hits = _split(list(connector.scan_remote("/", LITERALS)))[2]
            assert connector.last_scan_mode == "remote"
    finally:
        stop.set()
        sampler.join(timeout=5)
    assert len([h for h in hits if "/bulk/" in h.path]) == 40
    seen_scanner = any(b"python3\x00-" in line for snapshot in samples for line in snapshot)
    assert seen_scanner, "the sampler never saw the remote python3 process"
    needles = list(LITERALS) + [lit.hex().encode() for lit in LITERALS]
    for snapshot in samples:
        for line in snapshot:
            assert not any(needle in line.lower() for needle in needles)


def test_build_tree_reference_is_nontrivial(tmp_path: Path) -> None:
    """The reference candidate finder agrees with the shared stdlib rule on the synthetic tree."""
    build_tree(tmp_path / "t")
    for path, line, offset, data in _local_candidates(tmp_path / "t"):
        raw = (tmp_path / "t" / path.lstrip("/")).read_bytes()
        assert (line, offset, data) in list(iter_candidate_lines(io.BytesIO(raw).read, LITERALS, 4096))


def test_several_prefixes_in_one_scan(tree_laptop: SSHLaptop) -> None:
    """A scan over several prefixes equals the concatenation of one scan per prefix, on both paths."""
    prefixes = [f"{HOME}/.claude", f"{HOME}/Documents/cv.txt"]
    for options in ({}, {"remote_python": False}):
        with tree_laptop.connector(**options) as connector:
            together = list(connector.scan_remote(prefixes, LITERALS))
            one_by_one = [r for p in prefixes for r in connector.scan_remote(p, LITERALS)]
        assert together == one_by_one
        assert {r.path for r in together if isinstance(r, Item)} >= {f"{HOME}/Documents/cv.txt"}
        assert not any(r.path.startswith(f"{HOME}/Library") for r in together)


def _scanner_processes(parent_pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(parent_pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = []
    for child in children:
        try:
            if child.cmdline()[-1:] == ["-"] and "python" in child.cmdline()[0]:
                found.append(child)
        except psutil.Error:
            continue
    return found


@pytest.mark.timeout(60)
def test_stalled_laptop_fails_with_channel_timeout(ssh_fleet: SSHFleet, tmp_path: Path) -> None:
    """A laptop that stops answering mid-scan ends the scan with TransferError after channel_timeout, no hang."""
    laptop = start_tree_laptop(ssh_fleet, tmp_path, "stall")
    bulk = laptop.tree / "Users" / "ana" / "bulk"
    bulk.mkdir()
    for index in range(60):
        (bulk / f"f{index:02}.log").write_bytes(b"filler line without the subject\n" * 60000)
    assert laptop.laptop.proc is not None
    with laptop.connector(channel_timeout=2) as connector:
        records = connector.scan_remote("/", LITERALS)
        next(records)
        deadline = time.monotonic() + 10
        stalled: list[psutil.Process] = []
        while not stalled and time.monotonic() < deadline:
            stalled = _scanner_processes(laptop.laptop.proc.pid)
        assert stalled, "remote scanner process not found"
        for process in stalled:
            process.suspend()
        try:
            started = time.monotonic()
            with pytest.raises(TransferError):
                for _ in records:
                    pass
            assert time.monotonic() - started < 15
        finally:
            for process in stalled:
                with contextlib.suppress(psutil.Error):
                    process.kill()
