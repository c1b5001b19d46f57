"""Hostile Cowork session records and per-org files: wrong types, huge numbers, deep nesting, invalid UTF-8,
NULs, truncation. Discovery, ownership, planning and erasure neither crash nor stop erasing the subject."""

from __future__ import annotations

import pytest

from erasure.executor import ActionStatus
from tests.security.hostile import (
    CLI,
    HOME,
    SUBJECT_EMAIL,
    Laptop,
    assert_contained,
    other_line,
    run_pipeline,
    subject_line,
    transcript,
)

pytestmark = pytest.mark.timeout(60)
A = "0f5c2f1e-6a3b-4c6d-8e9f-101112131415"
B = "a1b2c3d4"
U = "11111111-2222-4333-8444-555555555555"
STORE = f"{HOME}/.config/Claude/local-agent-mode-sessions/{A}/{B}"
RECORDS = {
    "array": b"[1,2,3]",
    "nested_3000_deep": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "huge_numbers": b'{"sessionId": "local_%s", "createdAt": 1e308, "lastActivityAt": -99999999999999999999}'
    % U.encode(),
    "wrong_types": b'{"sessionId": {"x": 1}, "cliSessionId": [1], "emailAddress": {"a": "q.vextrabor@mail.invalid"}}',
    "invalid_utf8": b'{"sessionId": "local_\xff", "emailAddress": "q.vextrabor@mail.invalid"}',
    "nul_bytes": b'{"sessionId": "local_\x00", "emailAddress": "q.vextrabor@mail.invalid\x00"}',
    "truncated": b'{"sessionId": "local_%s", "emailAddress": "q.vextr' % U.encode(),
    "empty": b"",
}


@pytest.mark.parametrize("owned", [False, True], ids=["no_owner", "endpoint_owner"])
@pytest.mark.parametrize("record", list(RECORDS.values()), ids=list(RECORDS))
def test_hostile_session_record_does_not_stop_erasure(laptop: Laptop, record: bytes, owned: bool) -> None:
    """With a hostile session record and org file, the session's files are still found and erased."""
    laptop.write(f"{STORE}/local_{U}.json", record)
    audit = laptop.write(f"{STORE}/local_{U}/audit.jsonl", subject_line(1) + other_line(2))
    cli = laptop.write(f"{STORE}/local_{U}/.claude/projects/-s/{CLI}.jsonl", transcript(2, 1))
    laptop.write(f"{STORE}/artifacts.json", b'{"x": ' + b"[" * 2000 + b"]" * 2000 + b', "s": "local_%s"}' % U.encode())
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop, owner_ids=(SUBJECT_EMAIL,) if owned else ())
    assert_contained(laptop, run, before)
    assert {o.status for o in run.report.outcomes} <= {ActionStatus.DONE, ActionStatus.RECORDED}
    for path in (audit, cli):
        assert not path.exists() or SUBJECT_EMAIL.encode() not in path.read_bytes(), path.name
