"""Which S3 keys the connector treats as scannable content (no server needed)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.base import Item
from connectors.s3 import LockStatus, is_scannable, scannable_format


@pytest.mark.parametrize(
    ("key", "fmt"),
    [
        ("a/history.jsonl", "jsonl"),
        ("a/export.ndjson", "jsonl"),
        ("a/session.jsonl.gz", "jsonl"),
        ("a/config.JSON", "json"),
        ("a/notes.md", "markdown"),
        ("a/notes.markdown.gz", "markdown"),
        ("a/readme.txt", "text"),
        ("a/app.log", "text"),
        ("a/photo.png", None),
        ("a/archive.tar.gz", None),
        ("a/.jsonl", None),
        ("a/noext", None),
        ("a/dir.jsonl/blob.bin", None),
    ],
    ids=str,
)
def test_scannable_format_table(key: str, fmt: str | None) -> None:
    """JSON, JSONL, text and Markdown keys (optionally .gz) are scannable; everything else is not."""
    assert scannable_format(key) == fmt
    item = Item("s", key, 1, datetime.now(UTC), "e:v")
    assert is_scannable(item) is (fmt is not None)


def test_lock_status_is_locked() -> None:
    """A legal hold or unexpired retention locks a version; expired retention does not."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = datetime(2026, 6, 1, tzinfo=UTC)
    earlier = datetime(2025, 6, 1, tzinfo=UTC)
    assert LockStatus("COMPLIANCE", later, legal_hold=False).is_locked(now)
    assert LockStatus("GOVERNANCE", later, legal_hold=False).is_locked(now)
    assert not LockStatus("COMPLIANCE", earlier, legal_hold=False).is_locked(now)
    assert LockStatus(None, None, legal_hold=True).is_locked(now)
    assert not LockStatus(None, None, legal_hold=False).is_locked(now)
