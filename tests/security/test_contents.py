"""Hostile file contents on a `file://` laptop: huge lines, malformed or truncated JSONL, invalid UTF-8, NULs.

None may crash, hang or hide the subject; each file ends erased or reported with a status.
"""

from __future__ import annotations

import json

import pytest

from erasure.executor import ActionStatus
from tests.security.hostile import (
    PROJECT,
    SUBJECT_EMAIL,
    Laptop,
    assert_contained,
    other_line,
    run_pipeline,
    subject_line,
)

pytestmark = pytest.mark.timeout(60)
EMAIL = SUBJECT_EMAIL.encode()
MB = 1 << 20


def _big_record(size: int) -> bytes:
    """One JSONL record of about `size` bytes with the subject's e-mail in the middle."""
    half = "x" * (size // 2)
    return json.dumps({"type": "user", "message": {"content": f"{half} {SUBJECT_EMAIL} {half}"}}).encode() + b"\n"


CONTENTS = {
    "huge_single_line_20mb": _big_record(20 * MB) + other_line(1) * 3,
    "huge_line_without_newline_12mb": other_line(1) * 3 + b"y" * (12 * MB) + b" " + EMAIL,
    "malformed_jsonl": other_line(1) * 3 + b'{"type": "user", "message": ' + EMAIL + b"\n{{{not json\n",
    "truncated_mid_record": other_line(1) * 3 + subject_line(2)[:-6],
    "invalid_utf8": other_line(1) * 3 + b'{"m": "\xff\xfe\xc3(' + EMAIL + b'\xed\xa0\x80"}\n',
    "nul_bytes": other_line(1) * 3 + b'{"m": "\x00\x00' + EMAIL + b'\x00"}\n\x00\x00\x00\n',
    "crlf_and_bom": b"\xef\xbb\xbf"
    + other_line(1).replace(b"\n", b"\r\n") * 3
    + subject_line(3).replace(b"\n", b"\r\n"),
    "nested_5000_deep": other_line(1) * 3 + b'{"a":' * 5000 + b'"' + EMAIL + b'"' + b"}" * 5000 + b"\n",
    "nested_995_deep": other_line(1) * 3 + b'[{"a":' * 497 + b'"' + EMAIL + b'"' + b"}]" * 497 + b"\n",
    "nested_250_deep": other_line(1) * 3 + b'{"a":' * 250 + b'"' + EMAIL + b'"' + b"}" * 250 + b"\n",
    "only_newlines": b"\n" * (2 * MB) + subject_line(1),
}  # fmt: skip


@pytest.mark.parametrize("data", list(CONTENTS.values()), ids=list(CONTENTS))
def test_hostile_content_is_scanned_and_erased_or_reported(laptop: Laptop, data: bytes) -> None:
    """The file with hostile content is found; erasure finishes with done (subject gone) or a reported status."""
    target = laptop.write(f"{PROJECT}/hostile.jsonl", data)
    before = laptop.outside_snapshot()
    run = run_pipeline(laptop)
    assert_contained(laptop, run, before)
    path = f"/{PROJECT}/hostile.jsonl"
    assert path in run.finding_paths(), "the subject must not hide in hostile content"
    outcome = run.outcome(path)
    assert outcome.status in (ActionStatus.DONE, ActionStatus.RECORDED), outcome
    if outcome.status is ActionStatus.DONE and target.exists():
        rest = target.read_bytes()
        assert EMAIL not in rest
    assert run.ledger.verify().ok
