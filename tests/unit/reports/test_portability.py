"""The Art. 20 portability export: provided data only, CSV matches its data dictionary, no others' data."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest

from reports import portability
from reports.portability import COLUMNS, PortabilityResult, PortableText, build_portability_export, portable_text
from tests.unit.reports.samples import item, package_input, tiny_png, transcript_record


def build(tmp_path: Path, **overrides: object) -> PortabilityResult:
    """Build the export of the sample input (kind portability) with some fields replaced."""
    return build_portability_export(package_input(kind="portability", **overrides), tmp_path / "out")


def csv_rows(result: PortabilityResult, name: str) -> list[list[str]]:
    """Rows of a CSV file in the export."""
    text = (result.path / name).read_text(encoding="utf-8")
    return list(csv.reader(io.StringIO(text)))


def test_csv_columns_match_the_data_dictionary(tmp_path: Path) -> None:
    """export.csv's header is exactly the dictionary's column list, and every column has a description."""
    result = build(tmp_path)
    header, *rows = csv_rows(result, "export.csv")
    dictionary = csv_rows(result, "data_dictionary.csv")
    assert dictionary[0] == ["column", "type", "description"]
    assert header == [row[0] for row in dictionary[1:]]
    assert all(row[1] and len(row[2]) > 10 for row in dictionary[1:])
    assert rows and all(len(row) == len(header) for row in rows)


def test_export_json_and_csv_hold_the_same_records(tmp_path: Path) -> None:
    """export.json's records and export.csv's rows agree field by field."""
    result = build(tmp_path)
    data = json.loads((result.path / "export.json").read_text(encoding="utf-8"))
    header, *rows = csv_rows(result, "export.csv")
    assert len(data["records"]) == len(rows) == result.counts["records"]
    for record, row in zip(data["records"], rows, strict=True):
        assert set(record) == set(header)
        assert row[header.index("text")] == record["text"]
        assert row[header.index("categories")] == ";".join(record["categories"])
        assert row[header.index("line")] == ("" if record["line"] is None else str(record["line"]))


def test_only_what_the_person_typed_or_uploaded_is_exported(tmp_path: Path) -> None:
    """User text, typed prompts and uploads are in; assistant text, tool calls and tool output are out."""
    result = build(tmp_path)
    data = json.loads((result.path / "export.json").read_text(encoding="utf-8"))
    texts = [r["text"] for r in data["records"]]
    assert any(t.startswith("Please reply to mira.okafor@customer.invalid") for t in texts)
    assert "Summarise the call with Mira Okafor" in texts
    assert "Here is the scan of my customer card." in texts
    joined = "\n".join(texts)
    assert "I'll look up the customer." not in joined
    assert "ran command" not in joined and "grep -r" not in joined
    assert "crm/a.csv" not in joined
    assert data["excluded"] == {"assistant_or_app_output": 1, "tool_output": 1}
    assert {r["provenance"] for r in data["records"]} == {"provided", "recorded"}


def test_placeholders_for_other_people_stay_in_the_export(tmp_path: Path) -> None:
    """Others' data arrive redacted and stay redacted; the row counts the replacements and their reasons."""
    data = json.loads((build(tmp_path).path / "export.json").read_text(encoding="utf-8"))
    row = next(r for r in data["records"] if "[email 1]" in r["text"])
    assert row["redactions"] == 1
    assert row["redaction_reasons"] == ["art15_4_third_party_email"]


def test_uploaded_images_are_exported_as_files(tmp_path: Path) -> None:
    """An image attached to a user message is written under images/ and named in its row."""
    result = build(tmp_path)
    data = json.loads((result.path / "export.json").read_text(encoding="utf-8"))
    attached = [a for r in data["records"] for a in r["attachments"]]
    assert len(attached) == 1
    assert (result.path / attached[0]).read_bytes() == tiny_png()


@pytest.mark.parametrize(
    ("kind", "record", "reason", "expected"),
    [
        (
            "transcript",
            transcript_record("assistant", [{"type": "text", "text": "hi"}]),
            "match",
            "assistant_or_app_output",
        ),
        ("transcript", transcript_record("user", "typed"), "owned_session", PortableText("typed", "user", "provided")),
        ("transcript", transcript_record("user", "typed"), "third_party", "not_about_subject"),
        ("memory", None, "owned_session", "inferred_kind"),
        (
            "session_record",
            {"sessionId": "local_x", "initialMessage": "draft it"},
            "owned_session",
            PortableText("draft it", "user", "provided"),
        ),
        ("session_record", {"sessionId": "local_x", "title": "AI title"}, "owned_session", "assistant_or_app_output"),
        ("transcript", {"type": "summary", "summary": "recap"}, "owned_session", "assistant_or_app_output"),
        ("s3_object", None, "match", PortableText("plain line", "unknown", "recorded")),
    ],
    ids=["assistant", "user", "not-about-subject", "memory", "initial-message", "title", "summary", "text-line"],
)
def test_portable_text_rules(kind: str, record: object, reason: str, expected: object) -> None:
    """Each record shape is classified as provided, recorded, or excluded with its reason."""
    got = portable_text(item(kind=kind, record=record, reason=reason, content="plain line"))
    assert got == expected


def test_export_manifest_and_atomicity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The manifest covers every file; a failure mid-build leaves nothing behind."""
    result = build(tmp_path)
    manifest = json.loads((result.path / "manifest.json").read_text(encoding="utf-8"))
    listed = {f["path"] for f in manifest["files"]}
    assert {"export.json", "export.csv", "data_dictionary.csv"} <= listed
    for entry in manifest["files"]:
        assert hashlib.sha256((result.path / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]

    def explode(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(portability, "write_json", explode)
    with pytest.raises(OSError):
        build_portability_export(package_input(kind="portability", request_id="REQ-2"), tmp_path / "other")
    assert list((tmp_path / "other").iterdir()) == []


def test_empty_export_still_has_header_and_dictionary(tmp_path: Path) -> None:
    """With nothing portable the export holds a header-only CSV, an empty record list and the dictionary."""
    result = build(tmp_path, items=())
    assert csv_rows(result, "export.csv") == [[name for name, _, _ in COLUMNS]]
    assert json.loads((result.path / "export.json").read_text(encoding="utf-8"))["records"] == []
    assert len(csv_rows(result, "data_dictionary.csv")) == len(COLUMNS) + 1
