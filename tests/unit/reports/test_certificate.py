"""The deletion certificate: erased, kept with grounds, unreached, residual copies, checks, ledger, Art. 19."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from models.errors import InputError
from reports.certificate import (
    SCHEMA_PATH,
    CertificateInput,
    ErasedEntry,
    KeptEntry,
    LedgerCoverage,
    NotReachedItem,
    RecipientNotice,
    ResidualCopy,
    RetainedPackage,
    UnreachedLocation,
    VerificationResult,
    build_certificate,
)
from tests.unit.reports.samples import controller, register

AT = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)
SHA_A = "a" * 64
SHA_B = "b" * 64
SIGNATURE = "5f" * 64


def certificate_input(**overrides: object) -> CertificateInput:
    """A complete erasure: two actions, one legal hold, one VM disk, clean checks, sealed ledger."""
    base = CertificateInput(
        request_id="REQ-2026-0077",
        generated_at=AT,
        received_at=datetime(2026, 6, 1, 9, 0, tzinfo=UTC),
        due=date(2026, 7, 1),
        controller=controller(),
        register=register(),
        erased_categories=("contact_details", "identifiers"),
        erased=(
            ErasedEntry(
                "laptop-01",
                "endpoint",
                "/Users/ana/.claude/projects/p/cli-1.jsonl",
                "redact_in_place",
                3,
                SHA_A,
                SHA_B,
                None,
                41,
                AT,
            ),
            ErasedEntry(
                "history-backups",
                "store",
                "laptops/laptop-01/notes.txt",
                "delete_version",
                1,
                SHA_B,
                None,
                "v7",
                42,
                AT,
            ),
        ),
        kept=(
            KeptEntry(
                "laptop-02",
                "endpoint",
                "/Users/li/Library/Application Support/Claude/local-agent-mode-sessions/x",
                2,
                "legal_hold",
                "Art. 17(3)(e)",
                "Needed for a pending legal claim",
                "HOLD-2026-01",
                date(2027, 6, 30),
            ),
        ),
        unreached=(),
        residual=(
            ResidualCopy(
                "laptop-01 VM disk",
                "residual",
                "Disk image of the app's virtual machine",
                "Cannot be edited; deleted when the app next resets its VM",
            ),
        ),
        verification=(
            VerificationResult("laptop-01", "clean", 0, AT, 43),
            VerificationResult("laptop-02", "exceptions_only", 0, AT, 44),
            VerificationResult("history-backups", "clean", 0, AT, 45),
        ),
        ledger=LedgerCoverage(41, 45, 1, 45, SHA_A, AT, "0badc0de", SIGNATURE),
        notifications=(RecipientNotice("Anthropic PBC (AI assistant provider, processor)", AT, "e-mail", "confirmed"),),
        completed_at=AT,
        approved_by="Priya Shah (privacy lead)",
        approved_at=datetime(2026, 6, 9, 15, 0, tzinfo=UTC),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def build(tmp_path: Path, **overrides: object) -> tuple[str, dict[str, object]]:
    """Build a certificate; return its HTML text and parsed JSON."""
    html_path, json_path = build_certificate(certificate_input(**overrides), tmp_path)
    return html_path.read_text(encoding="utf-8"), json.loads(json_path.read_text(encoding="utf-8"))


def test_complete_certificate_states_erased_kept_and_proof(tmp_path: Path) -> None:
    """A clean run is 'complete' and lists each action with hashes, each exception with its ground, the seal."""
    page, doc = build(tmp_path)
    assert doc["outcome"] == "complete"
    assert doc["totals"] == {
        "items_erased": 4,
        "actions": 2,
        "items_kept": 2,
        "locations_unreached": 0,
        "items_not_reached": 0,
        "residual_copies": 1,
    }
    assert [e["sha256_before"] for e in doc["erased"]] == [SHA_A, SHA_B]  # type: ignore[attr-defined]
    kept = doc["kept"][0]  # type: ignore[index]
    assert (kept["ground"], kept["article"], kept["reference"]) == ("legal_hold", "Art. 17(3)(e)", "HOLD-2026-01")
    assert doc["ledger"]["sealed"] is True  # type: ignore[index]
    assert "Your data has been erased." in page
    assert "Art. 17(3)(e)" in page and "Needed for a pending legal claim" in page
    assert SIGNATURE in page and "41 to 45" in page and "entries 1 to 45" in page
    assert "laptop-01 VM disk" in page


def test_unreached_location_or_remaining_findings_make_it_partial(tmp_path: Path) -> None:
    """An offline laptop, or findings left after the re-scan, make the certificate 'partial' and say why."""
    offline = (UnreachedLocation("laptop-09", "endpoint", "unreachable", "offline", AT, 7, "retried hourly"),)
    page, doc = build(tmp_path / "a", unreached=offline)
    assert doc["outcome"] == "partial"
    assert "Erasure is not yet complete everywhere." in page and "tried 7 times" in page
    remaining = (VerificationResult("laptop-01", "findings_remain", 2, AT),)
    _, doc = build(tmp_path / "b", verification=remaining)
    assert doc["outcome"] == "partial"
    _, doc = build(tmp_path / "c", verification=())
    assert doc["outcome"] == "partial"


def test_items_not_reached_are_gaps_not_exceptions(tmp_path: Path) -> None:
    """Items that could not be read or changed are listed as not reached with their reason, never as kept
    under Art. 17(3); the outcome is `complete_with_gaps`, and the page says so."""
    gaps = (
        NotReachedItem("laptop-01", "endpoint", "/Users/ana/.claude/projects/p/x.jsonl", "symlink_out_of_scope",
                       "A link leading outside the area searched.", 46),
        NotReachedItem("laptop-01", "endpoint", "/Users/ana/.claude/projects/p/pipe", "special_file",
                       "A pipe, socket or device rather than a file.", 47),
    )  # fmt: skip
    page, doc = build(tmp_path, not_reached=gaps, kept=())
    assert doc["outcome"] == "complete_with_gaps"
    assert doc["kept"] == [] and doc["totals"]["items_not_reached"] == 2  # type: ignore[index]
    assert [(n["reason"], n["ledger_seq"]) for n in doc["not_reached"]] == [  # type: ignore[attr-defined]
        ("symlink_out_of_scope", 46),
        ("special_file", 47),
    ]
    assert "Erasure is finished, with gaps." in page and "symlink_out_of_scope" in page
    assert "We kept nothing" in page, "a gap is never an exception"
    offline = (UnreachedLocation("laptop-09", "endpoint", "unreachable", "offline", AT, 7, "retried hourly"),)
    _, doc = build(tmp_path / "b", not_reached=gaps, unreached=offline)
    assert doc["outcome"] == "partial"


def test_recipients_are_those_of_the_erased_categories_with_notices(tmp_path: Path) -> None:
    """Art. 19: recipients come from the register for erased categories only; each shows its notification."""
    page, doc = build(tmp_path, erased_categories=("contact_details",))
    names = {r["recipient"]: r for r in doc["recipients"]}  # type: ignore[attr-defined]
    assert set(names) == {"Anthropic PBC (AI assistant provider, processor)"}
    assert names["Anthropic PBC (AI assistant provider, processor)"]["status"] == "notified"
    assert "Barclays" not in page
    _, doc = build(tmp_path / "f", erased_categories=("financial",), notifications=())
    assert doc["recipients"] == [
        {
            "recipient": "Barclays Bank UK PLC",
            "categories": ["Bank and payment details"],
            "status": "not_yet_sent",
            "notified_at": None,
            "channel": None,
            "reply": None,
            "ledger_seq": None,
        }
    ]


def test_unsealed_ledger_range_is_reported_as_such(tmp_path: Path) -> None:
    """A checkpoint that stops before the request's last entry does not count as a seal."""
    ledger = LedgerCoverage(41, 45, 1, 44, SHA_A, AT, "0badc0de", SIGNATURE)
    page, doc = build(tmp_path, ledger=ledger)
    assert doc["ledger"]["sealed"] is False  # type: ignore[index]
    assert "not yet sealed" in page


def test_html_names_the_sha256_of_the_json(tmp_path: Path) -> None:
    """The HTML prints the SHA-256 of certificate.json so the two can be matched."""
    html_path, json_path = build_certificate(certificate_input(), tmp_path)
    digest = hashlib.sha256(json_path.read_bytes()).hexdigest()
    assert digest in html_path.read_text(encoding="utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == [html_path.name, json_path.name]


def test_certificate_escapes_values_and_refuses_bad_ids(tmp_path: Path) -> None:
    """Markup in paths or reasons stays inert; a request id with a path separator is refused."""
    hostile = "<script>alert(1)</script>"
    kept = (KeptEntry("laptop-02", "endpoint", hostile, 1, "legal_hold", "Art. 17(3)(e)", hostile),)
    page, _ = build(tmp_path, kept=kept)
    assert "<script" not in page.lower() and "&lt;script&gt;" in page
    with pytest.raises(InputError):
        build_certificate(certificate_input(request_id="../evil"), tmp_path / "x")
    assert not (tmp_path / "evil-certificate.json").exists()


def test_certificate_json_validates_against_its_schema(tmp_path: Path) -> None:
    """certificate.json of a complete and of a partial, unsealed certificate validates; a bad outcome does not."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    _, complete = build(tmp_path / "a")
    offline = (UnreachedLocation("laptop-09", "endpoint", "unreachable", "offline", AT, 7),)
    _, partial = build(tmp_path / "b", unreached=offline, ledger=None, approved_by=None, approved_at=None)
    assert list(validator.iter_errors(complete)) == []
    assert list(validator.iter_errors(partial)) == []
    gap = NotReachedItem("laptop-01", "endpoint", "/Users/ana/pipe", "special_file", "A pipe.", 9)
    _, gaps = build(tmp_path / "c", not_reached=(gap,))
    assert gaps["outcome"] == "complete_with_gaps"
    assert list(validator.iter_errors(gaps)) == []
    assert list(validator.iter_errors({**complete, "outcome": "done"})) != []


def test_wording_states_only_what_the_ledger_shows(tmp_path: Path) -> None:
    """A redaction shows its after-hash, a deleted file "file deleted"; a chained checkpoint that starts after
    the request's first entry still seals it; copies no re-scan searched are "not searched", never verified;
    the retained access package is listed with its deletion date."""
    erased = (
        ErasedEntry("laptop-01", "endpoint", "/a.jsonl", "redact_in_place", 2, SHA_A, "c" * 64, None, 41, AT),
        ErasedEntry("laptop-01", "endpoint", "/b.jsonl", "delete_file", 1, SHA_B, None, None, 42, AT),
    )
    ledger = LedgerCoverage(41, 45, 44, 46, SHA_A, AT, "0badc0de", SIGNATURE, head_seq=46, head_entry_hash=SHA_B)
    package = RetainedPackage("REQ-2026-0077.zip.enc", SHA_A, datetime(2026, 7, 10, 12, 0, tzinfo=UTC))
    page, doc = build(tmp_path, erased=erased, ledger=ledger, retained_package=package)
    assert "c" * 16 in page and "file deleted" in page
    assert doc["ledger"]["sealed"] is True and "not yet sealed" not in page  # type: ignore[index]
    assert doc["not_searched"] == ["laptop-01 VM disk"]
    assert "Not searched after erasure: laptop-01 VM disk" in page and "nothing about you remains" not in page
    assert doc["retained_package"]["delete_on"] == "2026-07-10T12:00:00+00:00"  # type: ignore[index]
    assert "REQ-2026-0077.zip.enc" in page


def test_no_recipient_is_not_worded_as_no_disclosure(tmp_path: Path) -> None:
    """Without recipients in the register the certificate does not claim nobody outside received the data."""
    page, _ = build(tmp_path, erased_categories=(), notifications=())
    assert "not disclosed to anyone" not in page
    assert "names no recipient" in page


def test_notices_and_vendor_requests_cite_their_entries_or_say_not_yet_sent(tmp_path: Path) -> None:
    """A notice with its ledger entry cites it; one from the case records says so; a recipient or processor
    with no record is "not yet sent"; dates without an entry say they come from the case records."""
    from reports.certificate import VendorRequest

    cited = RecipientNotice("Anthropic PBC (AI assistant provider, processor)", AT, "e-mail", ledger_seq=57)
    vendors = (
        VendorRequest("Anthropic PBC", "sent", AT, "portal", "T-9", 58),
        VendorRequest("Example Backup Ltd", "not_yet_sent"),
    )
    page, doc = build(tmp_path / "a", notifications=(cited,), vendor_requests=vendors, dates_ledger_seq=12)
    assert doc["recipients"][0]["ledger_seq"] == 57  # type: ignore[index]
    assert doc["vendor_requests"][1] == {  # type: ignore[index]
        "processor": "Example Backup Ltd", "status": "not_yet_sent", "sent_at": None, "channel": None,
        "reference": None, "ledger_seq": None,
    }  # fmt: skip
    assert "Asked to erase its copy" in page and "Not yet sent" in page and "T-9" in page
    assert "(proof entry 12)" in page and "case records" not in page
    older = RecipientNotice("Anthropic PBC (AI assistant provider, processor)", AT, "e-mail")
    page, doc = build(tmp_path / "b", notifications=(older,))
    assert "case records only" in page and doc["dates_ledger_seq"] is None
    assert "from our case records: no proof entry records the dates" in page
