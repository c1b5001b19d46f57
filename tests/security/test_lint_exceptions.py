"""Every security-rule exception (`# noqa: S...`) in the repository says why it is safe, on the same line."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
NOQA = re.compile(r"#\s*noqa\s*:\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)(?P<rest>.*)$")


def _comments(text: str) -> list[tuple[int, str]]:
    """(line, text) of every comment token (string literals that merely look like comments are ignored)."""
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return [(tok.start[0], tok.string) for tok in tokens if tok.type == tokenize.COMMENT]


def unjustified(text: str) -> list[int]:
    """Line numbers of `noqa` comments that silence an `S` rule without a reason (a word after the codes)."""
    bad: list[int] = []
    for number, comment in _comments(text):
        match = NOQA.search(comment)
        if not match or not any(code.strip().startswith("S") for code in match["codes"].split(",")):
            continue
        reason = match["rest"].strip(" -#:;—")
        if not re.search(r"[A-Za-z]{2,}", reason):
            bad.append(number)
    return bad


def _python_files() -> list[Path]:
    skip = {".venv", ".dsr", "node_modules", ".git"}
    return [p for p in REPO.rglob("*.py") if not skip & set(p.relative_to(REPO).parts)]


def test_every_security_noqa_carries_a_reason() -> None:
    """No `# noqa: S...` without an inline justification anywhere in the repository."""
    found = {str(p.relative_to(REPO)): unjustified(p.read_text(encoding="utf-8")) for p in _python_files()}
    assert {path: lines for path, lines in found.items() if lines} == {}


@pytest.mark.parametrize(
    ("line", "flagged"),
    [
        ("x = 1  # noqa: S101", True),
        ("x = 1  # noqa: S603,S607", True),
        ("x = 1  # noqa: S101 -", True),
        ("x = 1  # noqa: E501", False),
        ("x = 1  # noqa: S101 - plan invariant", False),
        ("x = 1  # noqa: S310  # loopback URL of our server", False),
        ("x = '# noqa: S101'", False),
    ],
)
def test_reason_check_itself(line: str, flagged: bool) -> None:
    """The checker flags bare security noqa comments and accepts ones with a reason."""
    assert bool(unjustified(line)) is flagged


@pytest.mark.timeout(120)
def test_ruff_security_rules_pass() -> None:
    """`ruff check --select S` (the bandit rules) reports nothing for the repository."""
    ruff = Path(sys.executable).with_name("ruff")
    done = subprocess.run(
        [str(ruff), "check", "--select", "S", "--output-format", "concise", str(REPO)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stdout[-3000:]
