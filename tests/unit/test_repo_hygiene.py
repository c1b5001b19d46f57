"""The repository explains itself: no tracked file points to documents outside it, to issue or principle
numbers, or to a path of one particular machine."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Built from parts so that this file does not match itself.
OUTSIDE_DOCS = ["gdpr-" + "rules.md", "endpoint-" + "histories.md", "agent-" + "histories.md", "house-" + "style.md"]
PATTERNS = {
    "a document outside the repository": re.compile(
        "|".join(re.escape(d) for d in OUTSIDE_DOCS) + r"|\.\./" + "shared"
    ),
    "an issue number": re.compile(r"\b" + "issue" + r"\s*#?\d+", re.IGNORECASE),
    "a principle number": re.compile(r"\b" + "principle" + r"\s+\d+", re.IGNORECASE),
    "a machine's absolute path": re.compile(r"(?<![\w.])/(?:" + "work" + r"|tmp/pytest-of-\w+|home/runner)/"),
}


def _tracked_text_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout")
    files = [ROOT / name for name in listed.decode("utf-8").split("\0") if name]
    return [f for f in files if f.is_file() and f.suffix in {".py", ".md", ".toml", ".json", ".cfg", ".txt", ""}]


def test_no_tracked_file_points_outside_the_repository() -> None:
    """Every hit is named with its file and line, so the fix is obvious."""
    hits = []
    for path in _tracked_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for what, pattern in PATTERNS.items():
                if pattern.search(line):
                    hits.append(f"{path.relative_to(ROOT)}:{number}: {what}")
    assert hits == []
