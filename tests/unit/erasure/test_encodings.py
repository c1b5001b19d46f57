"""UTF-16 and UTF-32 files: found on the right line, redacted in place in the same encoding."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pytest

from connectors.encoding import detect_encoding, from_utf8, looks_utf16_without_bom, to_utf8, utf8_view
from connectors.local import LocalConnector
from connectors.remote_scan import iter_candidate_lines, utf8_reader
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
from detection.scan import scan_endpoint
from erasure.discovery import discover_endpoint
from erasure.executor import execute_plan
from erasure.plan import plan_erasure
from models.settings import ErasureSettings
from tests.unit.erasure.fleet import NOW, new_ledger

PHONE = "+44 7700 900123"
CSV_PATH = "/Users/ana/Claude/Projects/Payroll/contacts.csv"
ROWS = [
    "name,phone,city",
    "Bea Olsen,+44 7700 900555,Leeds",
    f"Ana Lopez,{PHONE},Málaga",
    "Cai Wong,+44 7700 900777,York",
]

ENCODINGS = [
    pytest.param(codecs.BOM_UTF16_LE, "utf-16-le", id="utf-16-le"),
    pytest.param(codecs.BOM_UTF16_BE, "utf-16-be", id="utf-16-be"),
    pytest.param(codecs.BOM_UTF32_LE, "utf-32-le", id="utf-32-le"),
    pytest.param(codecs.BOM_UTF32_BE, "utf-32-be", id="utf-32-be"),
]


def _matcher() -> Matcher:
    return Matcher.from_identifiers(SubjectIdentifiers((), (), (PHONE,), ()), default_region="GB")


def _laptop(root: Path, bom: bytes, codec: str) -> Path:
    target = root / CSV_PATH.lstrip("/")
    target.parent.mkdir(parents=True)
    target.write_bytes(bom + "\r\n".join(ROWS).encode(codec) + "\r\n".encode(codec))
    (root / "Users/ana/Library").mkdir()
    return target


@pytest.mark.parametrize(("bom", "codec"), ENCODINGS)
def test_utf16_csv_found_on_its_line_and_redacted_in_place(tmp_path: Path, bom: bytes, codec: str) -> None:
    """The subject's phone in a UTF-16/32 CSV is found on line 3 and erased in place, encoding kept."""
    target = _laptop(tmp_path, bom, codec)
    with LocalConnector("mac", tmp_path) as connector:
        result = scan_endpoint(connector, "mac", _matcher(), classify=False)
    found = [(i.path, i.line) for i in result.items]
    assert found == [(CSV_PATH, 3)]
    with LocalConnector("mac", tmp_path) as connector:
        discovery = discover_endpoint(connector, "mac", _matcher())
    plan = plan_erasure("req-enc", [discovery], settings=ErasureSettings(), holds=(), subject_hashes=set(), now=NOW)
    report = execute_plan(
        plan,
        connectors=lambda name: LocalConnector(name, tmp_path),
        matcher=_matcher(),
        ledger=new_ledger(tmp_path.parent / f"ledger-{codec}.jsonl"),
        run_id="run-1",
        actor="tester",
    )
    assert report.complete, report.pending
    data = target.read_bytes()
    assert data.startswith(bom), "the byte-order mark is kept"
    text = data[len(bom) :].decode(codec)  # strict: still valid in its encoding
    lines = text.split("\r\n")
    assert lines[0] == ROWS[0] and lines[1] == ROWS[1] and lines[3] == ROWS[3], "other rows untouched"
    assert PHONE not in text and "900123" not in text
    assert lines[2].startswith("Ana Lopez,") and lines[2].endswith(",Málaga")
    with LocalConnector("mac", tmp_path) as connector:
        assert scan_endpoint(connector, "mac", _matcher(), classify=False).items == ()


@pytest.mark.parametrize(("bom", "codec"), ENCODINGS)
def test_remote_scanner_decodes_utf16(bom: bytes, codec: str) -> None:
    """The laptop-side scanner reports the candidate line of a UTF-16/32 file, as UTF-8, with its number."""
    data = bom + "\n".join(ROWS).encode(codec)
    hits = list(iter_candidate_lines(utf8_reader(io.BytesIO(data).read), [b"900123"], 7))
    assert [(line, raw.decode("utf-8")) for line, _off, raw in hits] == [(3, ROWS[2])]


def test_utf8_files_pass_through_untouched() -> None:
    """UTF-8 (with or without BOM) and binary files are read byte for byte."""
    for data in (b"\xef\xbb\xbfa\nb\n", b"plain\n", b"\x00\x01\x02\x03\x04"):
        view, encoding = utf8_view(io.BytesIO(data))
        assert encoding is None and view.read() == data
        read = utf8_reader(io.BytesIO(data).read)
        got = b""
        while chunk := read(3):
            got += chunk
        assert got == data


def test_round_trip_and_bomless_guess() -> None:
    """to_utf8/from_utf8 round-trip; UTF-16 without BOM is guessed only when the layout asks."""
    text = "Zoë\nline two\n"
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF32_BE, "utf-32-be")):
        data = bom + text.encode(codec)
        encoding = detect_encoding(data[:4])
        assert encoding is not None and encoding.codec == codec
        assert to_utf8(data, encoding) == text.encode("utf-8")
        assert from_utf8(text.encode("utf-8"), encoding) == data
    bare = text.encode("utf-16-le")
    assert detect_encoding(bare[:64]) is None
    guessed = detect_encoding(bare[:64], utf16_without_bom=True)
    assert guessed is not None and guessed.codec == "utf-16-le" and guessed.bom == b""
    assert looks_utf16_without_bom(b"plain ascii text") is None
