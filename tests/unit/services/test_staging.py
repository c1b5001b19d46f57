"""Findings and erasure discoveries are staged as encrypted JSON (never pickle) and refused when tampered with."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from connectors.base import Item, Skipped
from detection.findings import Finding, FindingLocation
from erasure.discovery import ArtifactInfo, LocationDiscovery
from models.crypto import DecryptionError, unseal
from services.staging import iter_staged, load_discovery, save_discovery, write_staging

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
    plain = unseal(KEY, (tmp_path / "lap-01.jsonl.enc").read_text(encoding="ascii"), b"lap-01.jsonl.enc")
    assert [json.loads(line) for line in plain.decode("ascii").splitlines()] == [f.to_dict() for f in findings]
    assert tuple(iter_staged(tmp_path, KEY)) == findings
