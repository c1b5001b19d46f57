"""A finding is one typed, frozen value from the scanner to the package; its dict and JSON forms round-trip."""

from __future__ import annotations

import dataclasses
import json

import pytest

from detection.findings import Finding, FindingLocation

LAPTOP = Finding(
    location=FindingLocation("/h/ana/.claude/projects/p/s\udcff.jsonl", 3, endpoint="lap-01"),
    kind="transcript",
    reason="identifier_match",
    app="claude-code",
    session_id="s-1",
    timestamp="2026-01-02T03:04:05Z",
    categories=("contact_details", "health"),
    content='{"text": "ana@x.invalid is ill"}',
    pointers=("/text",),
    forms=("email",),
)
ROW = Finding(
    location=FindingLocation("/h/ana/.codex/state.db", None, endpoint="lap-01", record="threads:7"),
    kind="agent_database",
    reason="owned_session",
    app="codex",
)
STORE = Finding(
    location=FindingLocation("cap/a.jsonl", 1, store="captures", version_id="v7"),
    kind="s3_object",
    reason="identifier_match",
    content="ana",
    is_latest=False,
)


@pytest.mark.parametrize("finding", [LAPTOP, ROW, STORE])
def test_dict_and_json_forms_round_trip(finding: Finding) -> None:
    """`to_dict` returns a JSON-ready dict, `to_json` an ASCII string; both read back to an equal finding."""
    data = finding.to_dict()
    assert isinstance(data, dict) and json.loads(json.dumps(data)) == data
    text = finding.to_json()
    assert isinstance(text, str) and text.isascii()
    assert Finding.from_dict(data) == finding
    assert Finding.from_json(text) == finding


def test_dict_form_is_the_scan_schema() -> None:
    """The dict form keeps the schema `dsr scan --json`, staging and erasure discoveries use."""
    assert LAPTOP.to_dict() == {
        "location": {"endpoint": "lap-01", "path": "/h/ana/.claude/projects/p/s\udcff.jsonl", "line": 3},
        "kind": "transcript",
        "app": "claude-code",
        "session_id": "s-1",
        "timestamp": "2026-01-02T03:04:05Z",
        "categories": ["contact_details", "health"],
        "content": '{"text": "ana@x.invalid is ill"}',
        "reason": "identifier_match",
        "pointers": ["/text"],
        "forms": ["email"],
        "malformed": None,
    }
    assert ROW.to_dict()["location"] == {"endpoint": "lap-01", "path": "/h/ana/.codex/state.db", "line": None,
                                         "record": "threads:7"}  # fmt: skip
    store = STORE.to_dict()
    assert store["location"] == {"store": "captures", "path": "cap/a.jsonl", "line": 1, "version_id": "v7"}
    assert "app" not in store and store["is_latest"] is False


def test_a_finding_is_frozen_and_keeps_content_out_of_its_repr() -> None:
    """Nothing downstream can alter a finding, and its repr (logs, tracebacks) never shows the content."""
    with pytest.raises(dataclasses.FrozenInstanceError):
        LAPTOP.kind = "memory"  # type: ignore[misc]
    assert "ill" not in repr(LAPTOP)
