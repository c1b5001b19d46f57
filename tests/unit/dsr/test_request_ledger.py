"""Art. 19 notifications, requests to processors, extensions and the access package as signed ledger entries,
and what the certificate reads from them (no Prefect: services and the CLI in-process)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from models import cases
from models.db import session_scope
from models.settings import load_settings
from proofs.entry import GENESIS_HASH, ProofRecord, chain_entry
from proofs.ledger import LedgerAction
from services import request_ledger
from services.certificate_entries import ledger_sections, retained_package
from services.evidence import ledger_for
from simulation.fleet import simulate_fleet
from tests.unit.dsr.conftest import Invoke, assert_clean_failure

RECIPIENT = "Example Backup Ltd (backup hosting, processor)"
PROCESSOR = "Anthropic PBC"


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A one-laptop fleet with its dsr.toml (and the complete example register) in DSR_CONFIG."""
    for var in ("DSR_DATABASE_URL", "DSR_MASTER_KEY", "DSR_HMAC_KEY", "DSR_LEDGER_SIGNING_KEY", "DSR_ACTOR"):
        monkeypatch.delenv(var, raising=False)
    simulate_fleet(tmp_path / "fleet", endpoints=1, size_mb=0.02, seed=5)
    config = tmp_path / "fleet" / "dsr.toml"
    monkeypatch.setenv("DSR_CONFIG", str(config))
    return config


def _person(config: Path) -> dict[str, list[str]]:
    person = json.loads((config.parent / "truth.json").read_text(encoding="utf-8"))["subjects"][0]
    return {"email": person["emails"], "name": [person["name"]]}


def _submit(invoke: Invoke, config: Path) -> str:
    result = invoke(
        "request", "submit", "--kind", "erasure", "--identifiers", "-", "--json", stdin=json.dumps(_person(config))
    )
    assert result.returncode == 0, result.stderr
    rid = str(json.loads(result.stdout)["id"])
    waived = invoke("request", "waive-identity", rid, "--reason", "request from the employee's own account")
    assert waived.returncode == 0, waived.stderr
    return rid


def _entries(config: Path, rid: str, action: LedgerAction) -> list:  # type: ignore[type-arg]
    return [
        e
        for e in ledger_for(load_settings(config)).entries()
        if e.record.request_id == rid and e.record.action is action
    ]


def test_notify_and_vendor_request_are_signed_entries(fleet: Path, invoke: Invoke) -> None:
    """`notify` and `vendor-request` write signed entries naming register names, channel and date; the
    certificate sections list them with their entry, and processors not asked as "not yet sent"."""
    rid = _submit(invoke, fleet)
    told = invoke(
        "request", "notify", rid, "--recipient", RECIPIENT, "--channel", "email",
        "--at", "2026-03-02T10:00:00+00:00", "--note", "sent with the standard letter",
    )  # fmt: skip
    assert told.returncode == 0, told.stderr
    asked = invoke(
        "request", "vendor-request", rid, "--processor", PROCESSOR, "--channel", "portal", "--reference", "TCK-4411"
    )
    assert asked.returncode == 0, asked.stderr
    [notice] = _entries(fleet, rid, LedgerAction.NOTIFY)
    assert notice.record.details["recipient"] == RECIPIENT
    assert notice.record.details["sent_at"] == "2026-03-02T10:00:00+00:00"
    assert list(notice.record.details["note"]) == ["sent with the standard letter"]
    [vendor] = _entries(fleet, rid, LedgerAction.VENDOR_REQUEST)
    assert (vendor.record.details["processor"], vendor.record.details["reference"]) == (PROCESSOR, "TCK-4411")
    settings = load_settings(fleet)
    ledger = ledger_for(settings)
    assert any(c.seq_to >= vendor.seq for c in ledger.checkpoints()), "the entries are sealed at once"

    kept = ProofRecord(
        LedgerAction.EXCEPTION, request_id=rid, location="vendor", path="vendor", exception_ground="vendor_side_copy"
    )
    kept_vendor = chain_entry(kept, seq=vendor.seq + 1, prev_hash=vendor.entry_hash, at=datetime.now(UTC))
    entries = [e for e in ledger.entries() if e.record.request_id == rid]
    sections = ledger_sections(settings, [*entries, kept_vendor], {}, "not reached")
    assert [(n.recipient, n.ledger_seq) for n in sections.notices] == [(RECIPIENT, notice.seq)]
    rows = {v.processor: v for v in sections.vendor_requests}
    assert rows[PROCESSOR].status == "sent" and rows[PROCESSOR].ledger_seq == vendor.seq
    assert rows["Example Backup Ltd"].status == "not_yet_sent" and rows["Example Backup Ltd"].ledger_seq is None
    [copy] = sections.residual
    assert f"Asked {PROCESSOR} to erase its copy" in copy.handling and f"proof entry {vendor.seq}" in copy.handling
    assert sections.dates is not None and sections.dates.ledger_seq < notice.seq, "the waiver's entry dates it"


def test_names_outside_the_register_and_the_persons_identifiers_are_refused(fleet: Path, invoke: Invoke) -> None:
    """A recipient or processor not in the register, or a note naming the person, is refused (exit 1, one line,
    the fix named) and nothing is written to the ledger."""
    rid = _submit(invoke, fleet)
    email = _person(fleet)["email"][0]
    for command in (
        ("request", "notify", rid, "--recipient", email, "--channel", "email"),
        ("request", "vendor-request", rid, "--processor", "Someone Else Inc", "--channel", "email"),
        ("request", "notify", rid, "--recipient", RECIPIENT, "--channel", "email", "--note", f"for {email}"),
        ("request", "vendor-request", rid, "--processor", PROCESSOR, "--channel", "email", "--reference", email),
    ):
        refused = invoke(*command)
        assert_clean_failure(refused, codes=(1,), context=" ".join(command[:2]))
        assert "register" in refused.stderr or "identifiers" in refused.stderr
    assert _entries(fleet, rid, LedgerAction.NOTIFY) == []
    assert _entries(fleet, rid, LedgerAction.VENDOR_REQUEST) == []
    future = invoke(
        "request", "notify", rid, "--recipient", RECIPIENT, "--channel", "e", "--at", "2999-01-01T00:00:00Z"
    )
    assert_clean_failure(future, codes=(1,))
    assert "future" in future.stderr


def test_extension_is_a_dated_entry(fleet: Path, invoke: Invoke) -> None:
    """An extension writes a `request_dates` entry with the extended due date: the certificate's due date."""
    rid = _submit(invoke, fleet)
    extended = invoke("request", "extend", rid, "--reason", "many systems to search")
    assert extended.returncode == 0, extended.stderr
    [dated] = _entries(fleet, rid, LedgerAction.REQUEST_DATES)
    assert dated.record.outcome == "extended" and dated.record.details["extended_due"]
    shown = json.loads(invoke("request", "show", rid, "--json").stdout)
    settings = load_settings(fleet)
    sections = ledger_sections(
        settings, [e for e in ledger_for(settings).entries() if e.record.request_id == rid], {}, ""
    )
    assert sections.dates is not None and sections.dates.ledger_seq == dated.seq
    assert sections.dates.due.isoformat() == dated.record.details["extended_due"] == shown["extended_due"]


def _chain(records: list[ProofRecord]) -> list:  # type: ignore[type-arg]
    out, prev = [], GENESIS_HASH
    for seq, record in enumerate(records, 1):
        entry = chain_entry(record, seq=seq, prev_hash=prev, at=datetime(2026, 3, 1, tzinfo=UTC))
        out.append(entry)
        prev = entry.entry_hash
    return out


def test_retained_package_is_the_newest_sealed_one_not_deleted() -> None:
    """A `package_sealed` entry is the retained package until a `package_deleted` entry for it follows."""
    sealed = ProofRecord(
        LedgerAction.PACKAGE_SEALED, request_id="DSR-2026-0001", path="DSR-2026-0001.zip.enc", sha256_after="a" * 64,
        details={"delete_on": "2026-03-31T09:00:00+00:00"},
    )  # fmt: skip
    deleted = ProofRecord(
        LedgerAction.PACKAGE_DELETED, request_id="DSR-2026-0001", path="DSR-2026-0001.zip.enc", sha256_before="a" * 64
    )
    package = retained_package(_chain([sealed]))
    assert package is not None and (package.name, package.sha256, package.ledger_seq) == (
        "DSR-2026-0001.zip.enc",
        "a" * 64,
        1,
    )
    assert package.delete_on == datetime(2026, 3, 31, 9, tzinfo=UTC)
    assert retained_package(_chain([sealed, deleted])) is None
    assert retained_package([]) is None


def test_release_check_entry_holds_ids_and_reasons_only(fleet: Path, invoke: Invoke) -> None:
    """The release check's ledger entry keeps item ids and reason codes, not files' text."""
    rid = _submit(invoke, fleet)
    item = {"item": "R-0123456789", "file": "report.html", "place": "line 4", "reason": "other_name", "source": "data"}
    request_ledger.record_release_check(load_settings(fleet), rid, passed=False, items=[item], released=0)
    [entry] = _entries(fleet, rid, LedgerAction.RELEASE_CHECK)
    assert entry.record.outcome == "blocked" and dict(entry.record.counts) == {"items": 1, "released": 0}
    assert json.loads(json.dumps(entry.to_dict()["details"])) == {
        "items": [{"item": "R-0123456789", "reason": "other_name"}]
    }


def test_channel_is_checked_and_unchecked_free_text_is_refused(fleet: Path, invoke: Invoke) -> None:
    """`--channel` naming the person is refused like a note; once the identifiers are gone (nothing to compare
    with) a note, a reference or a channel other than a plain word is refused, not written unchecked."""
    rid = _submit(invoke, fleet)
    email = _person(fleet)["email"][0]
    named = invoke("request", "notify", rid, "--recipient", RECIPIENT, "--channel", f"mail to {email}")
    assert_clean_failure(named, codes=(1,))
    assert "identifiers" in named.stderr and email not in named.stderr
    with session_scope(load_settings(fleet).database.url) as session:
        for row in cases.identifiers_of(session, rid):
            row.value, row.normalized = None, None
            session.add(row)
    for command in (
        ("request", "notify", rid, "--recipient", RECIPIENT, "--channel", "email", "--note", "sent"),
        ("request", "vendor-request", rid, "--processor", PROCESSOR, "--channel", "portal", "--reference", "T-1"),
        ("request", "notify", rid, "--recipient", RECIPIENT, "--channel", "carrier pigeon"),
    ):
        refused = invoke(*command)
        assert_clean_failure(refused, codes=(1,), context=" ".join(command[:2]))
        assert "cannot be checked" in refused.stderr
    assert _entries(fleet, rid, LedgerAction.NOTIFY) == [] and _entries(fleet, rid, LedgerAction.VENDOR_REQUEST) == []
    plain = invoke("request", "notify", rid, "--recipient", RECIPIENT, "--channel", "email")
    assert plain.returncode == 0, plain.stderr
    assert len(_entries(fleet, rid, LedgerAction.NOTIFY)) == 1
