"""Ledger entry values: validation keeps content out, hashing is canonical and round-trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.errors import InputError
from proofs.entry import FORBIDDEN_KEYS, GENESIS_HASH, LedgerAction, LedgerEntry, ProofRecord, chain_entry, format_at
from tests.unit.proofs._helpers import sample_record

AT = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "details",
    [
        {"content": "Dear Zoë"},
        {"text": "x"},
        {"value": "zoe@example.invalid"},
        {"line_text": "x"},
        {"redacted_content": "x"},
        {"audit": {"lines": [{"text": "x"}]}},
        {"Body": "x"},
    ],
    ids=["content", "text", "value", "line_text", "suffix_content", "nested", "non_code_key"],
)
def test_content_fields_are_refused(details: dict[str, Any]) -> None:
    """A details mapping with a content-like key (at any depth) is refused with the field path."""
    with pytest.raises(InputError, match="details"):
        ProofRecord(action=LedgerAction.REDACT_LINES, details=details)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("path", "/a\nsecond line"),
        ("sha256_before", "ABC"),
        ("sha256_after", "g" * 64),
        ("request_id", "has space"),
        ("verification", "Clean!"),
        ("outcome", "not a code"),
        ("counts", {"lines": -1}),
        ("counts", {"lines": True}),
        ("details", {"note": "x" * 600}),
        ("details", {"ratio": 0.5}),
        ("action", "shred"),
    ],
    ids=lambda v: str(v)[:20],
)
def test_invalid_fields_are_refused(field: str, value: Any) -> None:
    """Free text, malformed hashes, negative counts, floats and unknown actions are refused, naming the field."""
    kwargs: dict[str, Any] = {"action": LedgerAction.DELETE_FILE, field: value}
    with pytest.raises(InputError) as info:
        ProofRecord(**kwargs)
    assert field in str(info.value)


def test_record_is_immutable_including_its_mappings() -> None:
    """The record's counts and details cannot be changed after construction (the hash would lie)."""
    counts = {"lines": 1}
    record = ProofRecord(action=LedgerAction.DELETE_FILE, counts=counts)
    counts["lines"] = 2
    assert record.counts["lines"] == 1
    with pytest.raises(TypeError):
        record.counts["lines"] = 3  # type: ignore[index]


def test_from_dict_refuses_unknown_fields() -> None:
    """An entry object with an extra field (e.g. `content`) does not load."""
    entry = chain_entry(sample_record(1), seq=1, prev_hash=GENESIS_HASH, at=AT)
    with pytest.raises(InputError, match="content"):
        LedgerEntry.from_dict({**entry.to_dict(), "content": "x"})


def test_chain_entry_links_and_hashes() -> None:
    """An entry's hash covers its fields and prev_hash; a changed field changes the hash."""
    first = chain_entry(sample_record(1), seq=1, prev_hash=GENESIS_HASH, at=AT)
    second = chain_entry(sample_record(2), seq=2, prev_hash=first.entry_hash, at=AT)
    assert first.is_intact() and second.is_intact()
    assert second.prev_hash == first.entry_hash
    other = chain_entry(sample_record(2), seq=2, prev_hash=GENESIS_HASH, at=AT)
    assert other.entry_hash != second.entry_hash


def test_time_is_canonical_utc() -> None:
    """The same instant in another offset gives the same entry hash; naive times are refused."""
    local = AT.astimezone(timezone(timedelta(hours=2)))
    a = chain_entry(sample_record(1), seq=1, prev_hash=GENESIS_HASH, at=AT)
    b = chain_entry(sample_record(1), seq=1, prev_hash=GENESIS_HASH, at=local)
    assert a.entry_hash == b.entry_hash
    assert format_at(local) == "2026-11-02T10:00:00.000000+00:00"
    with pytest.raises(InputError):
        chain_entry(sample_record(1), seq=1, prev_hash=GENESIS_HASH, at=AT.replace(tzinfo=None))


_codes = st.from_regex(r"[a-z][a-z0-9_]{0,10}", fullmatch=True).filter(
    lambda key: key not in FORBIDDEN_KEYS and not key.endswith(tuple("_" + word for word in FORBIDDEN_KEYS))
)


@given(
    seq=st.integers(min_value=1, max_value=10**9),
    counts=st.dictionaries(_codes, st.integers(min_value=0, max_value=10**12), max_size=4),
    details=st.dictionaries(
        _codes, st.integers() | st.booleans() | st.none() | st.text(max_size=20).filter(str.isprintable), max_size=4
    ),
    path=st.text(min_size=1, max_size=40).filter(str.isprintable),
)
def test_entry_roundtrips_through_json(seq: int, counts: dict[str, int], details: dict[str, Any], path: str) -> None:
    """to_dict/from_dict keeps every field and the hash stays valid."""
    record = ProofRecord(action=LedgerAction.REDACT_LINES, path=path, counts=counts, details=details)
    entry = chain_entry(record, seq=seq, prev_hash=GENESIS_HASH, at=AT, idempotency_key="k")
    again = LedgerEntry.from_dict(entry.to_dict())
    assert again == entry
    assert again.is_intact()
