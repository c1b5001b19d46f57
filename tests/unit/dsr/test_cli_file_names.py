"""`dsr scan` over a file whose name is not UTF-8: found, and printed in its escaped form (as in the ledger)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from models.db import dispose_engines
from tests.unit.dsr.conftest import Invoke

EMAIL = "zoe.secret@example.org"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory, a SQLite case database and keys in the environment."""
    monkeypatch.chdir(tmp_path)
    for var in ("DSR_CONFIG", "PREFECT_API_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("DSR_DATABASE_URL", f"sqlite:///{tmp_path / 'dsr.db'}")
    monkeypatch.setenv("DSR_HMAC_KEY", "00" * 32)
    monkeypatch.setenv("DSR_MASTER_KEY", "11" * 32)
    yield tmp_path
    dispose_engines()


def test_scan_finds_and_prints_a_name_that_is_not_utf8(home: Path, invoke: Invoke) -> None:
    """The transcript `\\xff\\xfe-bad.jsonl` is scanned (not skipped) and shown with `\\xNN` escapes."""
    project = home / "laptop/Users/kim/.claude/projects/-Users-kim-work"
    project.mkdir(parents=True)
    with open(os.path.join(os.fsencode(project), b"\xff\xfe-bad.jsonl"), "wb") as fh:
        fh.write(json.dumps({"type": "user", "message": {"content": f"mail {EMAIL}"}}).encode() + b"\n")
    ids = home / "ids.json"
    ids.write_text(json.dumps({"email": [EMAIL]}), encoding="utf-8")
    ids.chmod(0o600)
    result = invoke("scan", str(home / "laptop"), "--endpoint-name", "lap", "--identifiers-file", str(ids),
                    "--no-classify", "--json")  # fmt: skip
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    paths = [item["location"]["path"] for item in document["items"]]
    assert paths == ["/Users/kim/.claude/projects/-Users-kim-work/\\xff\\xfe-bad.jsonl"]
    assert document["skipped"] == []
