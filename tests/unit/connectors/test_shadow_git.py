"""Shadow git repositories: objects are searched inflated (loose and packed), a corrupt one is a reported
skip, never a crash; a repository file is tied to its repository folder."""

from __future__ import annotations

import hashlib
import zlib
from pathlib import Path

import pytest

from connectors.local import LocalConnector
from connectors.shadow_git import GitFormatError, object_texts, repository_of
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
from detection.scan import scan_endpoint

REPO = "/home/ana/.config/Code/User/globalStorage/kilocode.kilo-code/checkpoints/77aa"


def _entry(kind: int, content: bytes) -> bytes:
    """One pack entry (type and size header, then the zlib stream), as git writes an undeltified object."""
    size = len(content)
    first = (kind << 4) | (size & 0x0F)
    size >>= 4
    head = bytearray()
    while True:
        head.append(first | (0x80 if size else 0))
        if not size:
            break
        first, size = size & 0x7F, size >> 7
    return bytes(head) + zlib.compress(content)


def test_pack_and_loose_objects_are_inflated() -> None:
    pack = b"PACK" + (2).to_bytes(4, "big") + (2).to_bytes(4, "big")
    pack += _entry(3, b"x" * 300 + b"Maria Keller") + _entry(3, b"nothing here")
    assert list(object_texts(f"{REPO}/.git/objects/pack/pack-1.pack", pack)) == [
        b"x" * 300 + b"Maria Keller",
        b"nothing here",
    ]
    loose = zlib.compress(b"blob 12\x00Maria Keller")
    assert list(object_texts(f"{REPO}/.git/objects/ab/{'c' * 38}", loose)) == [b"Maria Keller"]
    assert list(object_texts(f"{REPO}/.git/objects/pack/pack-1.idx", b"\xfftOc")) == []
    assert list(object_texts(f"{REPO}/.git/COMMIT_EDITMSG", b"fix for Maria")) == [b"fix for Maria"]
    with pytest.raises(GitFormatError):
        list(object_texts(f"{REPO}/.git/objects/pack/pack-2.pack", pack[:-5]))
    assert repository_of(f"{REPO}/.git/HEAD") == REPO
    assert repository_of("/home/ana/.gemini/tmp/x/chats/a.json") is None
    roo = "/home/ana/.config/Code/User/globalStorage/rooveterinaryinc.roo-cline/tasks/1772442000000"
    assert repository_of(f"{roo}/checkpoints/.git/objects/ab/{'c' * 38}") == f"{roo}/checkpoints"
    assert repository_of(f"{roo}/ui_messages.json") is None  # the task's own files are not the repository


def test_roo_code_checkpoints_per_task_are_shadow_git_not_task_files() -> None:
    from connectors.agents import classify_agent_path

    rest = ".config/Code/User/globalStorage/rooveterinaryinc.roo-cline/tasks/1772442000000"
    match = classify_agent_path("linux", f"{rest}/checkpoints/.git/objects/ab/{'c' * 38}")
    assert match is not None and match.kind == "shadow_git" and match.session_id == "1772442000000"
    task = classify_agent_path("linux", f"{rest}/ui_messages.json")
    assert task is not None and task.kind == "transcript"


def test_a_corrupt_object_is_a_reported_skip(tmp_path: Path) -> None:
    good = zlib.compress(b"blob 25\x00maria.keller@example.invalid")
    base = tmp_path / REPO.lstrip("/") / ".git/objects"
    (base / "ab").mkdir(parents=True)
    (base / "ab" / ("c" * 38)).write_bytes(good)
    (base / "cd").mkdir()
    (base / "cd" / ("e" * 38)).write_bytes(b"not zlib at all")
    matcher = Matcher.from_identifiers(SubjectIdentifiers(("maria.keller@example.invalid",), (), (), ()))
    with LocalConnector("lap", tmp_path) as connector:
        result = scan_endpoint(connector, "lap", matcher, classify=False)
    # Listed once, though the extension folder lies inside the editor's user directory (both probed).
    assert [(i.path, i.app, i.kind) for i in result.items] == [
        (f"{REPO}/.git/objects/ab/{'c' * 38}", "kilo-code", "shadow_git")
    ]
    assert [(s.path, s.reason) for s in result.skipped] == [
        (f"{REPO}/.git/objects/cd/{'e' * 38}", "corrupt_git_object")
    ]
    # The good object was searched and counts among the files searched; the corrupt one is a skip, not searched.
    assert (result.files_scanned, result.bytes_scanned) == (1, len(good))


def test_a_loose_object_over_the_limit_is_skipped_not_half_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A loose object that inflates past the limit is refused whole ("git object too large") and reported as
    skipped, never searched in its first part only and counted as searched."""
    monkeypatch.setattr("connectors.shadow_git.MAX_OBJECT_BYTES", 1024)
    filler = b"".join(hashlib.sha256(bytes([n])).digest() for n in range(125))  # 4000 bytes zlib cannot shrink
    for body in (filler, b"x" * 4000):
        big = zlib.compress(b"blob 4028\x00" + body + b"maria.keller@example.invalid")
        with pytest.raises(GitFormatError, match="too large"):
            list(object_texts(f"{REPO}/.git/objects/ab/{'c' * 38}", big))
    base = tmp_path / REPO.lstrip("/") / ".git/objects/ab"
    base.mkdir(parents=True)
    (base / ("c" * 38)).write_bytes(zlib.compress(b"blob 4028\x00" + filler + b"maria.keller@example.invalid"))
    matcher = Matcher.from_identifiers(SubjectIdentifiers(("maria.keller@example.invalid",), (), (), ()))
    with LocalConnector("lap", tmp_path) as connector:
        result = scan_endpoint(connector, "lap", matcher, classify=False)
    assert [s.path for s in result.skipped] == [f"{REPO}/.git/objects/ab/{'c' * 38}"]
