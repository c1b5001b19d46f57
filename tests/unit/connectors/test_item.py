"""`Item`: a file as listed knows its modification time; read back from a plan it refuses to tell one."""

from __future__ import annotations

import pickle
from datetime import UTC, datetime

import pytest

from connectors.base import Item
from connectors.memory import MemoryConnector

PATH = "/Users/ana/.claude/history.jsonl"


def _listed() -> Item:
    connector = MemoryConnector("lap-01")
    connector.write_file(PATH, b'{"a": 1}\n', modified_at=datetime(2025, 3, 1, tzinfo=UTC))
    return connector.stat(PATH).read_as("transcript", "jsonl", sha256="ab" * 32, lines=2)


def test_listed_item_tells_its_modification_time() -> None:
    """A listed item's `modified_at` is the aware UTC time the connector saw."""
    item = _listed()
    assert item.modified_at == item.mtime == datetime(2025, 3, 1, tzinfo=UTC)


def test_item_read_back_from_a_plan_refuses_to_tell_its_modification_time() -> None:
    """Plans record no mtime: the item read back has none, and asking for it raises (no 1970 stand-in that
    would make the file look expired), with a message that names no path."""
    listed = _listed()
    back = Item.from_baseline(listed.location, listed.baseline())
    assert back.mtime is None
    with pytest.raises(ValueError, match="modification time of a file read back from a plan is not known") as err:
        _ = back.modified_at
    assert "ana" not in str(err.value) and PATH not in str(err.value)


def test_item_read_back_equals_the_listed_one_and_pickles() -> None:
    """Equality ignores the modification time and link count; the item read back crosses pickling unchanged."""
    listed = _listed()
    back = Item.from_baseline(listed.location, listed.baseline())
    assert back == listed and listed.nlink == 1 and back.nlink is None
    again = pickle.loads(pickle.dumps(back))  # noqa: S301 -- our own bytes, made in this test
    assert again == back and again.mtime is None
    assert pickle.loads(pickle.dumps(listed)).modified_at == listed.modified_at  # noqa: S301 -- our own bytes
