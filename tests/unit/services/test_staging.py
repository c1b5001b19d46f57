"""Findings and erasure discoveries are staged as encrypted JSON (never pickle) and refused when tampered with."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from connectors.base import Item, Skipped
from detection.findings import Finding, FindingLocation
from erasure.discovery import ArtifactInfo, LocationDiscovery
from models.crypto import DecryptionError, decrypt_stream, seal, unseal
from services.staging import (
    TEXT_SPOOL,
    TextSpool,
    iter_staged,
    iter_staged_file,
    load_discovery,
    save_discovery,
    staging_writer,
    write_staging,
)

KEY = bytes(range(32))
DISCOVERY = LocationDiscovery(
    "lap-01",
    "endpoint",
    (Finding(FindingLocation("/h/a.jsonl", 3, endpoint="lap-01"), "transcript", "identifier_match"),),
    (("sess-1", "session_email"),),
    (
        ArtifactInfo(
            Item(
                "lap-01",
                "/h/a.jsonl",
                10,
                None,
                "1:10:5",
                sha256="ab" * 32,
                lines=4,
                kind="transcript",
                fmt="jsonl",
            ),
            "sess-1",
        ),
    ),
    (Skipped("lap-01", "/h/locked", "permission_denied"),),
)


def test_discovery_is_staged_as_encrypted_json(tmp_path: Path) -> None:
    """The staged file is private, decrypts (request key, bound to its name) to JSON, and loads back equal."""
    path = tmp_path / "erasure-lap-01.json.enc"
    save_discovery(path, DISCOVERY, KEY)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert b"sess-1" not in path.read_bytes()
    plain = json.loads(unseal(KEY, path.read_text(encoding="ascii"), path.name.encode()))
    assert plain == DISCOVERY.to_dict()
    assert load_discovery(path, KEY) == DISCOVERY


def test_a_staged_discovery_moved_or_altered_is_refused(tmp_path: Path) -> None:
    """The ciphertext is bound to its file name: renamed (another location) or edited, it does not load."""
    path = tmp_path / "erasure-lap-01.json.enc"
    save_discovery(path, DISCOVERY, KEY)
    moved = path.rename(tmp_path / "erasure-lap-02.json.enc")
    with pytest.raises(DecryptionError):
        load_discovery(moved, KEY)
    text = moved.read_text(encoding="ascii")
    path.write_text(text[:-8] + ("A" if text[-8] != "A" else "B") + text[-7:], encoding="ascii")
    with pytest.raises(DecryptionError):
        load_discovery(path, KEY)


def test_findings_are_staged_as_encrypted_json_and_read_back_typed(tmp_path: Path) -> None:
    """A location's findings go to staging as encrypted JSON lines and come back as equal `Finding` values."""
    findings = (
        Finding(FindingLocation("/h/a\udcff.jsonl", 3, endpoint="lap-01"), "transcript", "identifier_match",
                app="claude-code", content="Ana was here", categories=("health",)),
        Finding(FindingLocation("cap/b.jsonl", 1, store="captures", version_id="v1"), "s3_object",
                "identifier_match", content="Ana", is_latest=True),
    )  # fmt: skip
    write_staging(tmp_path / "lap-01.jsonl.enc", findings, KEY)
    assert b"Ana" not in (tmp_path / "lap-01.jsonl.enc").read_bytes()
    plain = b"".join(decrypt_stream(tmp_path / "lap-01.jsonl.enc", KEY, b"lap-01.jsonl.enc"))
    assert [json.loads(line) for line in plain.decode("ascii").splitlines()] == [f.to_dict() for f in findings]
    assert tuple(iter_staged(tmp_path, KEY)) == findings


def _many(count: int) -> list[Finding]:
    return [
        Finding(FindingLocation(f"/h/s{n}.jsonl", n, endpoint="lap-01"), "transcript", "owned_session",
                content=json.dumps({"n": n, "text": "x" * (n % 997)}))
        for n in range(count)
    ]  # fmt: skip


def test_a_large_location_is_staged_and_read_back_a_chunk_at_a_time(tmp_path: Path) -> None:
    """Findings spanning several sealed chunks (lines cut across chunk ends) come back equal and in order; a
    location staged whole by an earlier version still reads."""
    findings = _many(6000)  # about 3.5 MB of JSON lines: four chunks
    write_staging(tmp_path / "lap-01.jsonl.enc", findings, KEY)
    assert sum(1 for _ in decrypt_stream(tmp_path / "lap-01.jsonl.enc", KEY, b"lap-01.jsonl.enc")) > 2
    assert list(iter_staged(tmp_path, KEY)) == findings
    plain = "".join(f.to_json() + "\n" for f in findings[:5]).encode("ascii")
    (tmp_path / "lap-02.jsonl.enc").write_text(seal(KEY, plain, b"lap-02.jsonl.enc"), encoding="ascii")
    assert list(iter_staged(tmp_path, KEY)) == findings + findings[:5]


def test_a_truncated_or_altered_staged_location_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "lap-01.jsonl.enc"
    write_staging(path, _many(3000), KEY)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DecryptionError):
        list(iter_staged(tmp_path, KEY))
    path.write_bytes(whole[:100] + bytes([whole[100] ^ 1]) + whole[101:])
    with pytest.raises(DecryptionError):
        list(iter_staged(tmp_path, KEY))
    path.rename(tmp_path / "lap-02.jsonl.enc")  # another location's name: another context
    (tmp_path / "lap-02.jsonl.enc").write_bytes(whole)
    with pytest.raises(DecryptionError):
        list(iter_staged(tmp_path, KEY))


def test_findings_staged_one_at_a_time_read_back_equal_and_a_failed_scan_keeps_the_old_copy(tmp_path: Path) -> None:
    """A scan stages each finding as it comes; the location's file is replaced only when the scan ends well."""
    path = tmp_path / "lap-01.jsonl.enc"
    findings = _many(4000)  # several sealed chunks
    with staging_writer(path, KEY) as staged:
        for item in findings:
            staged.add(item)
    assert staged.count == 4000
    assert list(iter_staged_file(path, KEY)) == findings
    before = path.read_bytes()
    with pytest.raises(OSError, match="laptop went away"), staging_writer(path, KEY) as staged:
        staged.add(findings[0])
        raise OSError("laptop went away")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["lap-01.jsonl.enc"]  # no temporary file left


def test_spooled_texts_read_back_as_written_and_are_sealed_on_disk(tmp_path: Path) -> None:
    """Each text comes back exactly (lone surrogates too), in any order, as often as asked; the file holds
    none of them in clear and is deleted when the spool's block ends."""
    texts = ["", "Mira Okafor wrote to [email 1]", "\udc80 not UTF-8", json.dumps({"t": "é" * 5000})]
    with TextSpool(tmp_path, KEY) as spool:
        refs = [spool.add(text) for text in texts]
        assert [ref.read_text() for ref in reversed(refs)] == texts[::-1]
        assert refs[1].read_text() == texts[1]
        raw = (tmp_path / TEXT_SPOOL).read_bytes()
        assert b"Mira" not in raw and "é".encode() * 50 not in raw
        assert (tmp_path / TEXT_SPOOL).stat().st_mode & 0o777 == 0o600
    assert not (tmp_path / TEXT_SPOOL).exists()


def test_a_tampered_or_truncated_spool_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    spool = TextSpool(tmp_path, KEY)
    first, second = spool.add("first record " * 20), spool.add("second record " * 20)
    path = tmp_path / TEXT_SPOOL
    whole = path.read_bytes()
    path.write_bytes(whole[:20] + bytes([whole[20] ^ 1]) + whole[21:])  # inside the first record
    with pytest.raises(DecryptionError, match=rf"{TEXT_SPOOL}: record 0 failed to decrypt \(modified\)"):
        first.read_text()
    assert second.read_text() == "second record " * 20  # records are sealed one by one
    os.truncate(path, len(whole) - 5)
    with pytest.raises(DecryptionError, match=rf"{TEXT_SPOOL} is truncated \(record 1 is cut off\)"):
        second.read_text()
    spool.remove()
    assert not path.exists()


def test_a_leftover_spool_of_an_interrupted_run_is_replaced(tmp_path: Path) -> None:
    (tmp_path / TEXT_SPOOL).write_bytes(b"left by a run that was killed")
    with TextSpool(tmp_path, KEY) as spool:
        assert spool.add("fresh").read_text() == "fresh"
