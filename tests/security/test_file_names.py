"""Hostile file names on a `file://` laptop: found, erased in place, never interpreted; unusable ones reported."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from erasure.executor import ActionStatus
from erasure.plan import ActionKind
from erasure.proof_path import path_from_fields
from tests.security.hostile import (
    HOME,
    PROJECT,
    SUBJECT_EMAIL,
    Laptop,
    assert_contained,
    run_pipeline,
    transcript,
)

pytestmark = pytest.mark.timeout(60)

NAMES = {
    "newline": "we\nird.jsonl",
    "carriage_return": "cr\r.jsonl",
    "tab_and_escape": "tab\t\x1b[31m.jsonl",
    "quotes": 'it\'s "q".jsonl',
    "command_substitution": "$(touch pwned).jsonl",
    "backticks": "`touch pwned`.jsonl",
    "semicolon_pipe": "a; rm -rf x | sh.jsonl",
    "leading_dash": "-rf --help.jsonl",
    "dotdot_lookalike": "..jsonl",
    "dotdot_slash_lookalike": "..\\..\\..\\etc\\passwd.jsonl",
    "long_255_bytes": "a" * 249 + ".jsonl",
    "long_255_bytes_multibyte": "é" * 124 + "a.jsonl",
    "glob_chars": "*?[a].jsonl",
    "percent_and_braces": "%s%n{0}${HOME}.jsonl",
}


@pytest.mark.parametrize("name", list(NAMES.values()), ids=list(NAMES))
def test_hostile_name_is_found_and_redacted_without_executing_it(laptop: Laptop, name: str) -> None:
    """A transcript with a hostile name is discovered, scanned and redacted by its exact name; nothing runs."""
    assert len(name.encode()) <= 255
    target = laptop.write(f"{PROJECT}/{name}", transcript())
    before = laptop.outside_snapshot()
    cwd_before = set(os.listdir(os.getcwd()))
    run = run_pipeline(laptop)
    assert_contained(laptop, run, before)
    path = f"/{PROJECT}/{name}"
    assert path in {a.item.path for a in run.artifacts}
    assert path in run.finding_paths()
    outcome = run.outcome(path)
    assert (outcome.kind, outcome.status) == (ActionKind.REDACT, ActionStatus.DONE)
    assert SUBJECT_EMAIL.encode() not in target.read_bytes()
    assert b"weather" in target.read_bytes(), "other lines stay"
    assert not any(p.name == "pwned" for p in laptop.base.rglob("*")), "a name was executed"
    assert set(os.listdir(os.getcwd())) == cwd_before
    assert run.ledger.verify().ok


def test_name_with_newline_gets_an_escaped_proof_entry(laptop: Laptop) -> None:
    """The ledger refuses line breaks: the entry holds an escaped path plus the raw path's digest."""
    laptop.write(f"{PROJECT}/a\nb.jsonl", transcript())
    run = run_pipeline(laptop)
    entry = next(e for e in run.ledger.entries() if e.record.path and "a\\x0ab.jsonl" in e.record.path)
    assert "\n" not in (entry.record.path or "")
    assert len(str(entry.record.details["path_sha256"])) == 64


@pytest.mark.parametrize(
    "where",
    [f"{HOME}/.config/Claude/logs/x\ny.log", f"{HOME}/.claude/paste-cache/a\nb.txt", f"{HOME}/Claude/out\nput.md"],
    ids=["app_root_log", "paste_cache", "user_output"],
)
def test_newline_names_are_classified_everywhere(laptop: Laptop, where: str) -> None:
    """A line break in a name does not hide a file from the layout tables (regexes match any character)."""
    laptop.write(where, SUBJECT_EMAIL.encode() + b"\n")
    run = run_pipeline(laptop)
    assert f"/{where}" in run.finding_paths()
    assert run.outcome(f"/{where}").status in (ActionStatus.DONE,)


def test_invalid_utf8_name_is_found_and_erased_by_its_bytes(laptop: Laptop) -> None:
    """A transcript whose name is not UTF-8 is found, redacted by its raw name, and recorded with its bytes."""
    raw = os.path.join(os.fsencode(laptop.path(PROJECT)), b"\xff\xfe-bad.jsonl")
    with open(raw, "wb") as fh:
        fh.write(transcript())
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop)
    assert_contained(laptop, run, before)
    path = f"/{PROJECT}/" + b"\xff\xfe-bad.jsonl".decode("utf-8", "surrogateescape")
    assert path not in run.reasons()
    assert path in run.finding_paths()
    outcome = run.outcome(path)
    assert (outcome.kind, outcome.status) == (ActionKind.REDACT, ActionStatus.DONE)
    with open(raw, "rb") as fh:
        data = fh.read()
    assert SUBJECT_EMAIL.encode() not in data and b"weather" in data
    assert run.report.complete
    entry = next(e for e in run.ledger.entries() if e.seq == outcome.ledger_seq)
    assert entry.record.path == f"/{PROJECT}/\\xff\\xfe-bad.jsonl"
    assert path_from_fields(entry.record.path or "", dict(entry.record.details)) == path
    assert run.ledger.verify().ok


def test_invalid_utf8_name_of_an_unredactable_file_is_deleted_by_its_bytes(laptop: Laptop) -> None:
    """A binary file whose name is not UTF-8 and that names the subject is deleted whole, by its exact name."""
    laptop.write(f"{HOME}/Claude/keep.md", b"nothing\n")
    raw = os.fsencode(laptop.path(f"{HOME}/Claude")) + b"/cv-\xfa.pdf"
    with open(raw, "wb") as fh:
        fh.write(b"%PDF-1.4 " + SUBJECT_EMAIL.encode())
    run = run_pipeline(laptop)
    outcome = run.outcome(os.fsdecode(raw)[len(str(laptop.root)) :])
    assert (outcome.kind, outcome.status) == (ActionKind.DELETE_FILE, ActionStatus.DONE)
    assert not os.path.exists(raw)
    assert laptop.path(f"{HOME}/Claude/keep.md").exists()


def _deep_file(start: Path, depth: int, data: bytes) -> None:
    """Create `depth` nested 200-byte directories below `start` (beyond PATH_MAX) and a file at the bottom."""
    fd = os.open(start, os.O_RDONLY)
    try:
        for _ in range(depth):
            os.mkdir("d" * 200, dir_fd=fd)
            inner = os.open("d" * 200, os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        out = os.open("deep.jsonl", os.O_WRONLY | os.O_CREAT, 0o600, dir_fd=fd)
        with os.fdopen(out, "wb") as fh:
            fh.write(data)
    finally:
        os.close(fd)


def test_path_beyond_path_max_is_reported_not_crashing(laptop: Laptop) -> None:
    """Directories nested beyond PATH_MAX end as a `path_too_long` skip; the rest of the laptop is erased."""
    _deep_file(laptop.path(PROJECT), 30, transcript())
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop)
    assert_contained(laptop, run, before)
    assert "path_too_long" in run.reasons().values()
    assert run.report.complete
    assert all(o.status is not ActionStatus.FAILED for o in run.report.outcomes)


def test_deep_but_legal_path_is_erased(laptop: Laptop) -> None:
    """A file 3,000 bytes deep (legal, but long) is found and redacted; its proof entry is accepted."""
    deep = "/".join(["d" * 200] * 15)
    target = laptop.write(f"{HOME}/.claude/paste-cache/{deep}/p.txt", SUBJECT_EMAIL.encode() + b"\nkeep\n")
    run = run_pipeline(laptop)
    assert run.outcome(f"/{HOME}/.claude/paste-cache/{deep}/p.txt").status is ActionStatus.DONE
    assert SUBJECT_EMAIL.encode() not in target.read_bytes()
