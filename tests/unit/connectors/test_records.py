"""The record reader: line numbers, offsets, malformed codes and bounded memory."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.layouts import RecordFormat
from connectors.records import Record, iter_line_chunks, iter_records


def read(data: bytes, fmt: RecordFormat, **kwargs: int) -> list[Record]:
    return list(iter_records(io.BytesIO(data), fmt, **kwargs))


def test_jsonl_lines_offsets_and_values() -> None:
    """JSONL yields one record per line with 1-based numbers, byte offsets and decoded values."""
    data = b'{"a":1}\n\n{"b":"\xc3\xa9"}\n'
    records = read(data, RecordFormat.JSONL)
    assert [(r.line, r.offset, r.value, r.malformed) for r in records] == [
        (1, 0, {"a": 1}, None),
        (3, 9, {"b": "é"}, None),
    ]
    assert records[1].raw == b'{"b":"\xc3\xa9"}'


def test_bom_and_crlf_tolerated() -> None:
    """A BOM on line 1 and CRLF endings still decode; raw keeps the exact bytes."""
    records = read(b'\xef\xbb\xbf{"a":1}\r\n{"b":2}\r\n', RecordFormat.JSONL)
    assert [r.value for r in records] == [{"a": 1}, {"b": 2}]
    assert records[1].offset == 12
    assert records[0].raw == b'\xef\xbb\xbf{"a":1}\r'


@pytest.mark.parametrize(
    ("data", "line", "code", "text"),
    [
        (b'{"a":1}\nnot json\n', 2, "invalid_json", "not json"),
        (b'{"a":1}\n{"b":"cut', 2, "truncated", '{"b":"cut'),
        (b'{"a":"\xff ada"}\n', 1, "invalid_utf8", '{"a":"\ufffd ada"}'),
    ],
    ids=["invalid-json", "truncated-last-line", "invalid-utf8"],
)
def test_malformed_lines_reported_with_text(data: bytes, line: int, code: str, text: str) -> None:
    """Malformed lines are yielded with a reason code and their text, never dropped."""
    record = read(data, RecordFormat.JSONL)[-1]
    assert (record.line, record.malformed, record.text) == (line, code, text)


def test_invalid_utf8_value_decoded_with_replacement() -> None:
    """A JSON line with invalid UTF-8 still gets a value decoded from the replaced text."""
    record = read(b'{"a":"\xff"}\n', RecordFormat.JSONL)[0]
    assert record.value == {"a": "\ufffd"}


def test_lone_surrogate_escape_falls_back_to_json() -> None:
    """A `\\ud800` escape that orjson rejects is decoded by the json fallback."""
    record = read(b'{"a":"x\\ud800y"}\n', RecordFormat.JSONL)[0]
    assert record.malformed is None
    assert record.value == {"a": "x\ud800y"}


def test_complete_last_line_without_newline_is_fine() -> None:
    """A last line that parses is not truncated even without a trailing newline."""
    assert read(b'{"a":1}', RecordFormat.JSONL)[0].malformed is None


def test_oversized_line_streamed_again() -> None:
    """A line longer than the limit yields `oversized` without bytes; iter_line_chunks re-streams it."""
    long = b"x" * 5000
    data = b'{"a":1}\n' + long + b"\n" + b'{"b":2}\n'
    records = read(data, RecordFormat.JSONL, max_line_bytes=1000)
    assert [(r.line, r.malformed) for r in records] == [(1, None), (2, "oversized"), (3, None)]
    assert records[1].raw is None and records[1].text is None
    assert records[2].offset == 8 + 5001
    again = b"".join(iter_line_chunks(io.BytesIO(data), records[1].offset, chunk_size=700))
    assert again == long


def test_pretty_json_document_lines() -> None:
    """A pretty-printed JSON file yields a record per raw line; line 1 carries the whole document."""
    doc = {"sessionId": "local_1", "title": "Plan", "nested": {"emailAddress": "a@x.invalid"}}
    data = json.dumps(doc, indent=2).encode()
    records = read(data, RecordFormat.JSON)
    assert records[0].value == doc
    assert all(r.value is None for r in records[1:])
    email_line = next(r for r in records if r.text and "a@x.invalid" in r.text)
    assert email_line.line == data[: data.index(b"a@x.invalid")].count(b"\n") + 1


def test_broken_json_document_flagged_on_line_one() -> None:
    """A JSON file that does not parse flags line 1 as invalid_json and still yields its text."""
    records = read(b'{\n  "a": \n', RecordFormat.JSON)
    assert records[0].malformed == "invalid_json"
    assert [r.line for r in records] == [1, 2]


def test_text_lines() -> None:
    """Text files yield one record per non-blank line with text."""
    records = read(b"# Notes\n\nAda likes tea\r\n\xff\n", RecordFormat.TEXT)
    assert [(r.line, r.text, r.malformed) for r in records] == [
        (1, "# Notes", None),
        (3, "Ada likes tea", None),
        (4, "\ufffd", "invalid_utf8"),
    ]


def test_binary_and_none_yield_nothing() -> None:
    """Binary and never-opened formats produce no records."""
    assert read(b"abc\n", RecordFormat.BINARY) == []
    assert read(b"abc\n", RecordFormat.NONE) == []


@given(st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=30))
def test_offsets_and_lines_match_raw_split(lines: list[bytes]) -> None:
    """For any content, each record's offset and line point at exactly its raw line."""
    data = b"\n".join(lines)
    for record in read(data, RecordFormat.TEXT, max_line_bytes=16):
        line_bytes = data.split(b"\n")[record.line - 1]
        assert data[record.offset : record.offset + len(line_bytes)] == line_bytes
        if record.raw is not None:
            assert record.raw == line_bytes
        else:
            assert len(line_bytes) > 16


@given(
    st.lists(st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), max_size=20),
    st.integers(min_value=1, max_value=9),
)
def test_chunk_boundaries_do_not_change_records(lines: list[bytes], chunk: int) -> None:
    """Records are the same whatever the read chunk size, including oversized lines across chunks."""
    from connectors import records

    data = b"\n".join(lines)
    expected = read(data, RecordFormat.TEXT, max_line_bytes=16)
    saved = records.READ_CHUNK
    records.READ_CHUNK = chunk
    try:
        assert read(data, RecordFormat.TEXT, max_line_bytes=16) == expected
    finally:
        records.READ_CHUNK = saved


_RSS_PROBE = """
import resource, sys
from connectors.layouts import RecordFormat
from connectors.records import iter_records
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
with open(sys.argv[1], "rb") as stream:
    records = list(iter_records(stream, RecordFormat.JSONL))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(len(records), records[0].malformed, (after - before) * 1024)
"""


def test_50mb_single_line_bounded_memory(tmp_path: Path) -> None:
    """A 50 MB single-line file is read with peak RSS growth well under the file size."""
    big = tmp_path / "big.jsonl"
    size = 50 << 20
    with big.open("wb") as out:
        out.write(b'{"a":"')
        block = b"y" * (1 << 20)
        for _ in range(50):
            out.write(block)
        out.write(b'"}\n')
    out_text = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, str(big)],
        capture_output=True,
        check=True,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
        timeout=120,
    ).stdout.split()
    count, code, growth = int(out_text[0]), out_text[1], int(out_text[2])
    assert (count, code) == (1, "oversized")
    # bound: max_line_bytes (8 MiB) held before the line is declared oversized, plus one read chunk and slack
    assert growth < 20 << 20 < size // 2


class _Trickle(io.RawIOBase):
    """A stream that returns at most 3 bytes per read, like a network body."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(3, size) if size >= 0 else 3)


def test_short_reads_do_not_break_json_documents() -> None:
    """A JSON document read from a stream with short reads still decodes whole on line 1."""
    data = json.dumps({"sessionId": "local_1", "n": list(range(50))}, indent=1).encode()
    records = list(iter_records(_Trickle(data), RecordFormat.JSON))  # type: ignore[arg-type]
    assert records[0].value == json.loads(data)
    assert records == read(data, RecordFormat.JSON)
