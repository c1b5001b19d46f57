"""The Art. 20 portability export: export.json, export.csv, data_dictionary.csv, images, manifest.json, zip.

Owns which parts of the findings are portable and their machine-readable form. Imports models and reports
only; takes the same redacted `PackageInput` as the access package; must not scan, detect or redact.

What is portable (Art. 20(1); rules section 6: provided or observed, not inferred), decided per item:

- Included: what a person typed or uploaded into the apps (user-role text of transcripts and audit lines,
  typed prompts of the prompt history with their pasted text, a session record's `initialMessage`, queued
  prompts, images attached to a user message) and, as observed data, when, where and in which app and session
  it was recorded (the row's metadata columns). Text lines with no decoded record (store objects, memory-less
  plain files) are included as recorded, marked `provenance = recorded`.
- Excluded: what the assistant or the app produced or inferred (assistant text, reasoning, tool calls, tool
  results, model-written titles, recaps and summaries, memory notes the assistant keeps about the person).
  They remain in the Art. 15 copy; the export counts them under `excluded`.
- Only items with reason `match` (the record names the person) or `owned_session` (the whole session is
  theirs); other people's data were already replaced by placeholders (Art. 15(4), Art. 20(4)) and stay so.
  Rows from someone else's session (`reason = match`) are included because their typed text names the
  person; `reason` and `provenance` say so, so a receiving controller can filter them.

export.json: `{"schema": "dsr-orchestrator/portability-export/1", "request_id", "generated_at", "controller",
"records": [row, ...], "excluded": {why: count}}` where a row has the columns of `COLUMNS` with `categories`,
`attachments` and `redaction_reasons` as lists. export.csv has the same rows (lists joined with `;`, UTF-8,
header row). data_dictionary.csv explains every column: `column,type,description`.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from reports.access_input import PackageInput, PackageItem, image_extension, item_path, location_name, location_type
from reports.access_package import ordered_items
from reports.packaging import atomic_package, write_json, write_manifest

SCHEMA_ID = "dsr-orchestrator/portability-export/1"
PORTABLE_REASONS = frozenset({"match", "owned_session"})
# Kinds whose content the assistant or the app writes about the person: inferred, not provided (Art. 20).
INFERRED_KINDS = frozenset({"memory", "project_memory", "tool_result", "output", "user_output", "plan", "todo"})
USER_TYPES = frozenset({"user"})

COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("record_number", "integer", "Sequence number of the row in this export, starting at 1."),
    ("location_type", "string", "'endpoint' (a laptop) or 'store' (a central storage bucket)."),
    ("location_name", "string", "Name of the laptop or store where the record was found."),
    ("path", "string", "Path of the file (or object key) as that system sees it."),
    ("line", "integer or empty", "1-based line number in that file; empty when the whole file is the record."),
    ("version_id", "string or empty", "Object version in the store; empty for laptops."),
    ("app", "string or empty", "Application: cowork, claude-code or claude-desktop; empty for stores."),
    ("kind", "string", "Kind of file: transcript, prompt_history, session_record, s3_object, ..."),
    ("session_id", "string or empty", "Identifier of the conversation (session) the record belongs to."),
    ("timestamp", "ISO 8601 date-time or empty", "When the record was written (UTC), if known."),
    ("reason", "string", "'owned_session': the conversation is yours; 'match': another person's record names you."),
    ("author", "string", "Who produced the text: 'user' (typed or uploaded in the app) or 'unknown'."),
    ("provenance", "string", "'provided' (typed or uploaded by a user) or 'recorded' (a stored text line)."),
    ("categories", "list (';'-separated in CSV)", "Categories of personal data found in the record."),
    ("text", "string", "The text that was typed or recorded; other people's data replaced by markers like [email 1]."),
    ("attachments", "list (';'-separated in CSV)", "Files in this export holding images attached to the record."),
    ("redactions", "integer", "How many pieces of other people's data were replaced in this record."),
    ("redaction_reasons", "list (';'-separated in CSV)", "Reason codes of those replacements (Art. 15(4), 20(4))."),
)
LIST_COLUMNS = frozenset({"categories", "attachments", "redaction_reasons"})


@dataclass(frozen=True)
class PortableText:
    """The portable part of one item: what a user typed or uploaded, and how it is classified."""

    text: str
    author: str
    provenance: str


@dataclass(frozen=True)
class PortabilityResult:
    """Where the export went.

    Attributes:
        path: the export directory.
        zip_path: its zip.
        manifest_sha256: sha256 of manifest.json (the package hash recorded on the request).
        counts: records exported, items excluded by reason, images.
    """

    path: Path
    zip_path: Path
    manifest_sha256: str
    counts: dict[str, object]


def _user_text(content: object) -> tuple[str, bool]:
    """Typed text of a user message and whether it held anything user-provided (text or image)."""
    if isinstance(content, str):
        return content, True
    parts: list[str] = []
    provided = False
    if isinstance(content, list):
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                parts.append(block["text"])
                provided = True
            elif block.get("type") == "image":
                provided = True
    return "\n".join(parts), provided


def portable_text(item: PackageItem) -> PortableText | str:
    """The portable part of an item, or the reason it is excluded (a short code).

    Args:
        item: a redacted finding.

    Returns:
        `PortableText`, or one of `not_about_subject`, `inferred_kind`, `assistant_or_app_output`,
        `tool_output` (why the item is not in the export).
    """
    if item.reason not in PORTABLE_REASONS:
        return "not_about_subject"
    if item.kind in INFERRED_KINDS:
        return "inferred_kind"
    record = item.decoded()
    if isinstance(record, dict):
        message = record.get("message")
        if record.get("type") in USER_TYPES and isinstance(message, dict):
            if message.get("role", "user") != "user":
                return "assistant_or_app_output"
            text, provided = _user_text(message.get("content"))
            if not provided:
                return "tool_output"
            return PortableText(text, "user", "provided")
        if isinstance(record.get("display"), str):
            parts = [str(record["display"])]
            pasted = record.get("pastedContents")
            if isinstance(pasted, dict):
                for value in pasted.values():
                    pasted_text = value.get("content") if isinstance(value, dict) else value
                    if isinstance(pasted_text, str) and pasted_text:
                        parts.append(pasted_text)
            return PortableText("\n".join(parts), "user", "provided")
        if record.get("type") == "queue-operation" and isinstance(record.get("content"), str):
            return PortableText(str(record["content"]), "user", "provided")
        if isinstance(record.get("initialMessage"), str):
            return PortableText(str(record["initialMessage"]), "user", "provided")
        return "assistant_or_app_output"
    if record is not None:
        return "assistant_or_app_output"
    return PortableText(item.content, "unknown", "recorded")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def build_portability_export(inp: PackageInput, out_dir: Path) -> PortabilityResult:
    """Write the Art. 20 export for one request to `out_dir/<request_id>/` and `.zip`, atomically.

    Args:
        inp: the request's redacted findings (kind `portability`).
        out_dir: the packages directory.

    Returns:
        Paths, the package hash and counts.

    Raises:
        InputError: the request id cannot name a directory.
        OSError: the disk refused; nothing is left half-written.
    """
    ordered = replace(inp, items=ordered_items(inp.items))
    rows: list[dict[str, object]] = []
    excluded: Counter[str] = Counter()
    with atomic_package(out_dir, inp.request_id, inp.generated_at) as root:
        for item in ordered.items:
            portable = portable_text(item)
            if isinstance(portable, str):
                excluded[portable] += 1
                continue
            rows.append(_record_row(root, len(rows) + 1, item, portable))
        write_json(
            root / "export.json",
            {
                "schema": SCHEMA_ID,
                "request_id": inp.request_id,
                "generated_at": inp.generated_at.isoformat(),
                "controller": {"name": inp.controller.name, "contact": inp.controller.contact},
                "records": rows,
                "excluded": dict(sorted(excluded.items())),
            },
        )
        _write_csv(
            root / "export.csv",
            [name for name, _, _ in COLUMNS],
            ([_cell(row[name]) for name, _, _ in COLUMNS] for row in rows),
        )
        _write_csv(root / "data_dictionary.csv", ["column", "type", "description"], COLUMNS)
        manifest_sha = write_manifest(
            root,
            {"package": "portability", "request_id": inp.request_id, "generated_at": inp.generated_at.isoformat()},
        )
    return PortabilityResult(
        path=out_dir / inp.request_id,
        zip_path=out_dir / f"{inp.request_id}.zip",
        manifest_sha256=manifest_sha,
        counts={
            "records": len(rows),
            "excluded": dict(excluded),
            "images": sum(len(r["attachments"]) for r in rows if isinstance(r["attachments"], list)),
        },
    )


def _record_row(root: Path, number: int, item: PackageItem, portable: PortableText) -> dict[str, object]:
    """One exported record: its place, its portable text and its images (written to `images/`)."""
    attachments = []
    for index, (media_type, blob) in enumerate(item.image_blocks, start=1):
        (root / "images").mkdir(exist_ok=True)
        target = root / "images" / f"{number:05d}-{index}.{image_extension(media_type)}"
        target.write_bytes(blob)
        attachments.append(target.relative_to(root).as_posix())
    line = item.location.get("line")
    version = item.location.get("version_id")
    return {
        "record_number": number,
        "location_type": location_type(item),
        "location_name": location_name(item),
        "path": item_path(item),
        "line": line if isinstance(line, int) else None,
        "version_id": str(version) if version is not None else None,
        "app": item.app,
        "kind": item.kind,
        "session_id": item.session_id,
        "timestamp": item.timestamp.isoformat() if item.timestamp else None,
        "reason": item.reason,
        "author": portable.author,
        "provenance": portable.provenance,
        "categories": list(item.categories),
        "text": portable.text,
        "attachments": attachments,
        "redactions": sum(item.redactions.values()),
        "redaction_reasons": sorted(code for code, n in item.redactions.items() if n > 0),
    }


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    """A CSV file with CRLF line ends (RFC 4180)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
