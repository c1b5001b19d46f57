"""Synthetic package inputs for the report tests: invented people, `*.invalid` addresses, already redacted."""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import replace
from datetime import UTC, date, datetime

from models.settings import AuthoritySettings, ControllerSettings, RegisterCategory, RegisterProcessor, RegisterSettings
from reports.access_input import PackageInput, PackageItem, SearchedLocation

SUBJECT_EMAIL = "mira.okafor@customer.invalid"
SESSION_A = "local_11111111-2222-4333-8444-555555555555"
SESSION_B = "local_66666666-7777-4888-9999-aaaaaaaaaaaa"
T0 = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


def tiny_png(width: int = 96, height: int = 48) -> bytes:
    """A valid solid-colour RGB PNG."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = (b"\x00" + b"\x2e\x7d\x4f" * width) * height
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(pixels)) + chunk(b"IEND", b"")


def controller() -> ControllerSettings:
    """A controller with a supervisory authority and a DPO."""
    return ControllerSettings(
        name="Northwind Analytics Ltd",
        contact="privacy@northwind.invalid",
        timezone="UTC",
        dpo_contact="dpo@northwind.invalid",
        authority=AuthoritySettings(name="Information Commissioner's Office", contact="ico.invalid/make-a-complaint"),
    )


def register() -> RegisterSettings:
    """A register with contact, identifiers, free text and financial (financial is never found in samples)."""
    return RegisterSettings(
        categories={
            "contact": RegisterCategory(
                title="Contact details",
                purposes=["Answering your enquiries"],
                legal_basis="Legitimate interests (Art. 6(1)(f))",
                recipients=["Anthropic PBC (AI assistant provider, processor)"],
                retention="18 months after the conversation's last activity",
                source="You, or colleagues who wrote to you",
                transfers="Standard contractual clauses with the AI provider (US)",
            ),
            "identifiers": RegisterCategory(
                title="Identifiers (user ids, account numbers)",
                purposes=["Support and account administration"],
                legal_basis="Contract (Art. 6(1)(b))",
                recipients=["Anthropic PBC (AI assistant provider, processor)"],
                retention="18 months",
                source="Our customer systems",
            ),
            "free_text": RegisterCategory(
                title="Mentions in conversations with AI assistants",
                purposes=["Staff productivity"],
                legal_basis="Legitimate interests (Art. 6(1)(f))",
                recipients=["Anthropic PBC (AI assistant provider, processor)"],
                retention="18 months",
                source="Our staff",
            ),
            "financial": RegisterCategory(
                title="Bank and payment details",
                purposes=["Refunds"],
                legal_basis="Contract (Art. 6(1)(b))",
                recipients=["Barclays Bank UK PLC"],
                retention="6 years (tax law)",
                source="You",
            ),
        },
        automated_decisions="No decisions based solely on automated processing are made about you.",
        transfers="Backups stay in the UK.",
        processors=[
            RegisterProcessor(
                name="Anthropic PBC",
                role="AI assistant provider (processor)",
                country="United States",
                safeguard="UK International Data Transfer Addendum to the EU standard contractual clauses",
            )
        ],
    )


def transcript_record(role: str, content: object) -> dict[str, object]:
    """A Claude Code transcript line."""
    return {
        "type": role,
        "uuid": "u-1",
        "sessionId": "cli-1",
        "timestamp": "2026-03-02T09:15:00Z",
        "message": {"role": role, "content": content},
    }


def item(**overrides: object) -> PackageItem:
    """One transcript item on laptop-01 in session A; keyword arguments replace fields (`content` sets the
    text, `content_source`)."""
    if "content" in overrides:
        overrides["content_source"] = overrides.pop("content")
    record = transcript_record(
        "user",
        [{"type": "text", "text": f"Please reply to {SUBJECT_EMAIL} and cc [email 1] about the refund."}],
    )
    base = PackageItem(
        location={"endpoint": "laptop-01", "path": "/Users/ana/.claude/projects/p/cli-1.jsonl", "line": 3},
        kind="transcript",
        app="claude-code",
        session_id=SESSION_A,
        timestamp=T0,
        categories=("contact_details", "free_text_mentions"),
        content_source=json.dumps(record),
        record=record,
        context=("AI assistant: Sure, who should I write to?",),
        reason="match",
        redactions={"art15_4_third_party_email": 1},
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def items() -> tuple[PackageItem, ...]:
    """A small mixed set: two sessions on two laptops, a tool call, an image, a store object, a prompt line."""
    tool = transcript_record(
        "assistant",
        [
            {"type": "text", "text": "I'll look up the customer."},
            {"type": "tool_use", "name": "Bash", "input": {"command": f"grep -r {SUBJECT_EMAIL} crm/"}},
        ],
    )
    result = transcript_record(
        "user", [{"type": "tool_result", "tool_use_id": "t1", "content": "crm/a.csv: Mira Okafor, " + "x" * 900}]
    )
    upload = transcript_record(
        "user",
        [
            {"type": "text", "text": "Here is the scan of my customer card."},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "(in image_blocks)"}},
        ],
    )
    prompt = {"display": "Summarise the call with Mira Okafor", "timestamp": 1772442900000, "sessionId": "cli-9"}
    return (
        item(),
        item(
            content=json.dumps(tool),
            record=tool,
            timestamp=datetime(2026, 3, 2, 9, 16, tzinfo=UTC),
            location={"endpoint": "laptop-01", "path": "/Users/ana/.claude/projects/p/cli-1.jsonl", "line": 4},
            redactions={},
            context=(),
        ),
        item(
            content=json.dumps(result),
            record=result,
            timestamp=datetime(2026, 3, 2, 9, 17, tzinfo=UTC),
            location={"endpoint": "laptop-01", "path": "/Users/ana/.claude/projects/p/cli-1.jsonl", "line": 5},
            categories=("identifiers",),
            redactions={},
            context=(),
        ),
        item(
            content=json.dumps(upload),
            record=upload,
            timestamp=datetime(2026, 3, 2, 9, 18, tzinfo=UTC),
            location={"endpoint": "laptop-01", "path": "/Users/ana/.claude/projects/p/cli-1.jsonl", "line": 6},
            categories=("identifiers",),
            redactions={},
            context=(),
            image_blocks=(("image/png", tiny_png()),),
        ),
        item(
            location={"endpoint": "laptop-07", "path": "/home/li/.claude/history.jsonl", "line": 12},
            kind="prompt_history",
            session_id=SESSION_B,
            timestamp=datetime(2026, 5, 20, 14, 0, tzinfo=UTC),
            content=json.dumps(prompt),
            record=prompt,
            categories=("identifiers",),
            reason="owned_session",
            redactions={"art15_4_third_party_person": 2},
            context=(),
        ),
        item(
            location={"store": "history-backups", "path": "laptops/laptop-01/notes.txt", "line": 2, "version_id": "v7"},
            kind="s3_object",
            app=None,
            session_id=None,
            timestamp=datetime(2026, 4, 1, 8, 0, tzinfo=UTC),
            content=f"Customer {SUBJECT_EMAIL} called about invoice 4411; [person 1] took the call.",
            record=None,
            categories=("contact_details",),
            redactions={"art15_4_third_party_person": 1},
            context=(),
        ),
    )


def searched() -> tuple[SearchedLocation, ...]:
    """Two laptops and a store searched, one laptop offline, one VM disk residual store."""
    return (
        SearchedLocation("laptop-01", "endpoint", "scanned", None, None, 1, 40, 3),
        SearchedLocation("laptop-07", "endpoint", "scanned", None, None, 2, 31, 1),
        SearchedLocation(
            "laptop-09", "endpoint", "unreachable", "offline", datetime(2026, 5, 1, 8, 0, tzinfo=UTC), 12, 0, 0
        ),
        SearchedLocation("history-backups", "store", "scanned", None, None, 1, 120, 1),
        SearchedLocation("laptop-01 VM disk", "residual", "not_searched", "virtual machine disk image", None, 0, 0, 0),
    )


def package_input(**overrides: object) -> PackageInput:
    """A complete access input; keyword arguments replace fields."""
    base = PackageInput(
        request_id="REQ-2026-0042",
        kind="access",
        generated_at=datetime(2026, 6, 1, 10, 0, tzinfo=UTC),
        received_at=datetime(2026, 5, 25, 9, 0, tzinfo=UTC),
        due=date(2026, 6, 25),
        controller=controller(),
        register=register(),
        items=items(),
        searched=searched(),
        gaps_note="issued with gaps: laptop-09 offline since 2026-05-01, tried 12 times",
    )
    return replace(base, **overrides)  # type: ignore[arg-type]
