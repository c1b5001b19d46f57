"""The erasure flow end to end on a simulated fleet: plan, approval gate, execution, verification, certificate."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from flows.erasure_request import erasure_request
from models import cases
from models.db import session_scope
from models.settings import load_settings
from models.tables import AuditEvent
from models.types import RequestKind
from proofs.entry import LedgerEntry
from proofs.ledger import LedgerAction, read_head_document
from proofs.verify import HeadCheck, read_certificate
from services import erasure as steps
from services import request_ledger
from services.evidence import ledger_for
from tests.integration.flows.conftest import Fleet, make_fleet
from tests.unit.dsr.conftest import invoke_main

pytestmark = [pytest.mark.service, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture
def small_fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fleet:
    """A 4-laptop fleet (erasure rewrites trees: keep it small)."""
    made = make_fleet(tmp_path, 4, seed=11)
    monkeypatch.setenv("DSR_CONFIG", str(made.config))
    return made


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".dsr" not in p.parts):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _subject_literals(fleet: Fleet) -> list[bytes]:
    subject = fleet.truth["subjects"][0]
    return sorted({f["literal"].encode("utf-8").lower() for f in subject["forms"]}, key=len, reverse=True)


def _hits(fleet: Fleet) -> set[tuple[str, str]]:
    literals = _subject_literals(fleet)
    traps = {t["literal"].encode("utf-8").lower() for t in fleet.truth["subjects"][0]["trap_forms"]}
    found = set()
    for laptop in (fleet.root / f"laptop-{i:02d}" for i in range(1, 5)):
        for path in laptop.rglob("*"):
            if not path.is_file() or path.is_symlink():
                continue
            for raw in path.read_bytes().lower().split(b"\n"):
                line = raw
                for trap in traps:
                    line = line.replace(trap, b"")
                if any(lit in line for lit in literals):
                    found.add((laptop.name, "/" + str(path.relative_to(laptop))))
    return found


def _status(fleet: Fleet, rid: str) -> str:
    with session_scope(load_settings(fleet.config).database.url) as session:
        return cases.get_request(session, rid).status


def test_nothing_is_touched_before_approval_and_after_rejection(small_fleet: Fleet) -> None:
    """The run stops at awaiting_approval with the trees unchanged; a rejected plan touches nothing."""
    before = _tree_digest(small_fleet.root)
    rid = small_fleet.submit(RequestKind.ERASURE)
    result = erasure_request(rid, wait_for_approval=False)
    assert result["status"] == "awaiting_approval"
    assert _status(small_fleet, rid) == "awaiting_approval"
    assert _tree_digest(small_fleet.root) == before
    settings = load_settings(small_fleet.config)
    digest = steps.plan_state(settings, rid).digest or ""
    steps.decide(settings, rid, approved=False, reviewer="Dana Reviewer", digest=digest, note="scope unclear")
    assert _status(small_fleet, rid) == "in_progress"
    with pytest.raises(Exception, match="approved plan"):
        steps.approved_plan(settings, rid)
    assert _tree_digest(small_fleet.root) == before


def test_approved_erasure_leaves_nothing_outside_exceptions(small_fleet: Fleet) -> None:
    """After approval the second run erases, verifies clean, certifies, and the ledger verifies."""
    hits_before = _hits(small_fleet)
    assert hits_before
    third_party = small_fleet.truth["third_parties"][0]["email"].encode()
    rid = small_fleet.submit(RequestKind.ERASURE)
    assert erasure_request(rid, wait_for_approval=False)["status"] == "awaiting_approval"
    settings = load_settings(small_fleet.config)
    digest = steps.plan_state(settings, rid).digest or ""
    steps.decide(settings, rid, approved=True, reviewer="Dana Reviewer", digest=digest, note="checked the plan")
    result = erasure_request(rid, wait_for_approval=False)
    assert result["status"] == "completed", result
    plan = steps.approved_plan(settings, rid)
    excepted = {(a.location, a.path) for a in plan.exceptions}
    # The user's own documents outside the agent stores (hard-linked originals of uploads) are out of scope.
    outside = {
        (loc["endpoint"], loc["path"])
        for loc in small_fleet.truth["locations"]
        if not loc["in_agent_store"] and loc["subject"] == "s1"
    }
    left = {h for h in _hits(small_fleet) if h not in excepted and h not in outside}
    assert not left, sorted(left)[:5]
    for original in outside:
        assert original in hits_before and original in _hits(small_fleet), "hard-linked original was changed"
    assert any(third_party in p.read_bytes() for p in small_fleet.root.rglob("*.jsonl") if p.is_file())
    ledger = ledger_for(settings)
    assert ledger.verify().ok
    with session_scope(settings.database.url) as session:
        request = cases.get_request(session, rid)
        assert request.status == "completed" and request.certificate_path
        assert Path(request.certificate_path).exists()
    # The JSON certificate names the ledger head it was built from, is signed with the ledger key, and comes
    # with the signed head to file; both check out against the ledger.
    json_path = Path(request.certificate_path).with_suffix(".json")
    assert ledger.signer is not None
    claim = read_certificate(json_path, ledger.signer.public_key)
    assert claim.request_id == rid and claim.seqs
    head, _ = read_head_document(json_path.with_name(f"{rid}-ledger-head.json").read_bytes(), source="head")
    assert (head.last_seq, head.last_hash) == (claim.head_seq, claim.head_hash)
    checked = ledger.verify(heads=(HeadCheck(head, "the filed head"),), certificate=claim)
    assert checked.ok, checked.first_error
    entries = [e for e in ledger.entries() if e.record.request_id == rid]
    approvals = [e for e in entries if e.record.action is LedgerAction.APPROVE]
    assert [a.record.details["plan_digest"] for a in approvals] == [digest]
    assert approvals[0].record.details["reviewer"] == "Dana Reviewer"
    rescans = [e for e in entries if e.record.action is LedgerAction.VERIFY]
    assert rescans and {e.record.verification for e in rescans} <= {"clean", "findings_remain", "not_rescanned"}
    sealed_to = max(c.seq_to for c in ledger.checkpoints())
    assert all(e.seq <= sealed_to for e in approvals + rescans), "approval and re-scans are signed"
    certificate = json.loads(Path(request.certificate_path).with_suffix(".json").read_text(encoding="utf-8"))
    assert certificate["approval"]["plan_digest"] == digest
    assert certificate["approval"]["approved_by"] == "Dana Reviewer"
    assert certificate["identity"]["outcome"] == "waived"
    assert "No identity check was needed" in Path(request.certificate_path).read_text(encoding="utf-8")


def test_cli_run_refuses_until_identity_then_plans(
    small_fleet: Fleet, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dsr request run` on a fresh erasure request exits 1 naming the commands; after a waiver it plans."""
    rid = small_fleet.submit(RequestKind.ERASURE, waive=False)
    refused = invoke_main(monkeypatch, capsys, "request", "run", rid)
    assert refused.returncode == 1 and f"dsr request waive-identity {rid}" in refused.stderr
    assert _status(small_fleet, rid) == "identity_pending"
    waived = invoke_main(monkeypatch, capsys, "request", "waive-identity", rid, "--reason", "own account")
    assert waived.returncode == 0, waived.stderr
    ran = invoke_main(monkeypatch, capsys, "request", "run", rid)
    assert ran.returncode == 0, ran.stderr
    assert _status(small_fleet, rid) == "awaiting_approval"


def _run_until_paused(rid: str) -> tuple[threading.Thread, dict[str, object], Any]:
    """Start the erasure flow for `rid` in a thread and wait until its run pauses on the approval form; returns
    the thread, the dict its result goes to, and the paused run (runs of earlier tests, which share the
    harness and the request id, are left out)."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

    name_filter = FlowRunFilter(name=FlowRunFilterName(any_=[f"{rid}-erasure"]))
    with get_client(sync_client=True) as client:
        earlier = {run.id for run in client.read_flow_runs(flow_run_filter=name_filter)}
    outcome: dict[str, object] = {}
    runner = threading.Thread(target=lambda: outcome.update(erasure_request(rid)), daemon=True)
    runner.start()
    deadline = time.monotonic() + 240
    paused = None
    while time.monotonic() < deadline and paused is None:
        time.sleep(2)
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(flow_run_filter=name_filter)
        paused = next((r for r in runs if r.id not in earlier and r.state and r.state.is_paused()), None)
    assert paused is not None, "the erasure run never paused for approval"
    return runner, outcome, paused


def test_pause_and_resume_with_the_approval_form(small_fleet: Fleet) -> None:
    """With wait_for_approval the run pauses; resuming it with the form's input approves and completes it."""
    from prefect.flow_runs import resume_flow_run

    rid = small_fleet.submit(RequestKind.ERASURE)
    runner, outcome, paused = _run_until_paused(rid)
    assert _status(small_fleet, rid) == "awaiting_approval"
    digest = steps.plan_state(load_settings(small_fleet.config), rid).digest
    resume_flow_run(
        paused.id, run_input={"approved": True, "reviewer": "Dana Reviewer", "digest": digest, "note": "ok"}
    )
    runner.join(timeout=300)
    assert outcome.get("status") == "completed", outcome
    with session_scope(load_settings(small_fleet.config).database.url) as session:
        events = [e.action for e in session.exec(select(AuditEvent).where(AuditEvent.request_id == rid)).all()]
    assert "erasure.approved" in events
    approval = steps.approval_of(load_settings(small_fleet.config), rid)
    assert approval is not None and approval.reviewer == "Dana Reviewer" and approval.channel == "prefect_server"
    # The test harness's server has no authentication: the ledger says so rather than naming anyone.
    assert approval.authentication == "server_without_authentication" and approval.authenticated_user


def test_cli_approval_resumes_the_paused_run_and_is_recorded_as_the_cli_decision(
    small_fleet: Fleet, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dsr request approve` while the run waits on the form: the decision is recorded as the CLI's (channel `cli`,
    the OS login), the paused run is resumed on the server and completes; nobody has to find the form."""
    from prefect.settings import PREFECT_API_URL

    from tests.unit.dsr.conftest import invoke_main

    rid = small_fleet.submit(RequestKind.ERASURE)
    runner, outcome, _paused = _run_until_paused(rid)
    digest = steps.plan_state(load_settings(small_fleet.config), rid).digest
    assert digest
    monkeypatch.setenv("PREFECT_API_URL", str(PREFECT_API_URL.value()))
    approved = invoke_main(
        monkeypatch, capsys, "request", "approve", rid, "--by", "Dana Reviewer", "--digest", digest
    )  # fmt: skip
    assert approved.returncode == 0, approved.stderr
    assert "paused erasure run was resumed" in approved.stderr
    runner.join(timeout=300)
    assert outcome.get("status") == "completed", outcome
    approval = steps.approval_of(load_settings(small_fleet.config), rid)
    assert approval is not None and approval.reviewer == "Dana Reviewer"
    assert (approval.channel, approval.authentication) == ("cli", "os_login") and approval.authenticated_user


def test_approval_form_shows_the_digest_and_requires_the_name() -> None:
    """The form's schema: the reviewer's name is required (not "Optional"), the digest is filled in with its help."""
    from pydantic import ValidationError

    from flows.erasure_request import approval_form

    form = approval_form("ab" * 32, "Approve erasure plan?")
    schema = form.model_json_schema()
    assert schema["required"] == ["reviewer"]
    assert schema["properties"]["digest"]["default"] == "ab" * 32
    assert "digest of the plan you reviewed" in schema["properties"]["digest"]["description"]
    with pytest.raises(ValidationError):
        form.model_validate({"approved": True, "reviewer": ""})
    assert form.model_validate({"reviewer": "Dana"}).digest == "ab" * 32


def test_certificate_matches_the_ledger_entry_by_entry(small_fleet: Fleet) -> None:
    """Every kept (`exception`) entry of the request is in the certificate with its ground, every deletion with
    its before-hash, every redaction with its after-hash, every Art. 19 notification and request to a processor
    with its date and entry (the others "not yet sent"), the person's retained access package and the request's
    dates with their entries; the certificate names the ledger head; nothing is stated as verified that no
    re-scan searched."""
    settings = load_settings(small_fleet.config)
    access_id = small_fleet.submit(RequestKind.ACCESS)
    request_ledger.record_package_sealed(
        settings,
        access_id,
        name=f"{access_id}.zip.enc",
        manifest_sha256="ab" * 32,
        delete_on=datetime(2027, 1, 5, tzinfo=UTC),
    )
    rid = small_fleet.submit(RequestKind.ERASURE)
    assert erasure_request(rid, wait_for_approval=False)["status"] == "awaiting_approval"
    digest = steps.plan_state(settings, rid).digest or ""
    steps.decide(settings, rid, approved=True, reviewer="Dana Reviewer", digest=digest, note="checked the plan")
    recipient = request_ledger.register_recipients(settings)[0]
    request_ledger.record_notice(settings, rid, recipient=recipient, channel="email")
    request_ledger.record_vendor_request(settings, rid, processor="Anthropic PBC", channel="portal", reference="T-1")
    erasure_request(rid, wait_for_approval=False)
    with session_scope(settings.database.url) as session:
        html_path = Path(cases.get_request(session, rid).certificate_path or "")
    certificate = json.loads(html_path.with_suffix(".json").read_text(encoding="utf-8"))
    page = html_path.read_text(encoding="utf-8")
    ledger = ledger_for(settings)
    entries = [e for e in ledger.entries() if e.record.request_id == rid and e.seq <= certificate["ledger"]["head_seq"]]
    head = next(e for e in ledger.entries() if e.seq == certificate["ledger"]["head_seq"])
    assert certificate["ledger"]["head_entry_hash"] == head.entry_hash
    kept = {k["ledger_seq"]: k for k in certificate["kept"]}
    exceptions = [e for e in entries if e.record.action is LedgerAction.EXCEPTION]
    assert exceptions, "the simulated fleet has kept items (residual stores, vendor copies)"
    for entry in exceptions:
        assert entry.seq in kept, f"exception entry {entry.seq} missing from the certificate"
        assert kept[entry.seq]["ground"] == entry.record.exception_ground
        assert (kept[entry.seq]["location"], kept[entry.seq]["path"]) == (
            entry.record.location,
            entry.record.path or "",
        )
    assert set(kept) == {e.seq for e in exceptions}, "the certificate keeps nothing the ledger does not show"
    erased = {e["ledger_seq"]: e for e in certificate["erased"]}
    changes = [
        e
        for e in entries
        if e.record.action
        in (
            LedgerAction.DELETE_FILE,
            LedgerAction.DELETE_SESSION,
            LedgerAction.DELETE_S3_VERSION,
            LedgerAction.REDACT_LINES,
        )
        and e.record.outcome in ("done", "already_absent")
    ]
    assert any(e.record.action is LedgerAction.REDACT_LINES and e.record.sha256_after for e in changes)
    for entry in changes:
        row = erased[entry.seq]
        assert row["sha256_before"] == entry.record.sha256_before
        assert row["sha256_after"] == entry.record.sha256_after
        if entry.record.action is LedgerAction.REDACT_LINES and entry.record.outcome == "done":
            assert row["sha256_after"], f"redaction {entry.seq} without its after-hash"
            assert entry.record.sha256_after[:16] in page
    assert set(erased) == {e.seq for e in changes}
    for entry in entries:
        if entry.record.action is LedgerAction.SKIP and entry.record.outcome == "not_reached":
            assert entry.seq in {n["ledger_seq"] for n in certificate["not_reached"]}
    residual = [e for e in exceptions if e.record.exception_ground in ("residual_store", "vendor_side_copy")]
    if residual:
        assert certificate["not_searched"] and "Not searched after erasure" in page
    assert "nothing about you remains" not in page
    assert "not yet sealed" not in page, "the ledger head the certificate names is sealed"
    assert "requested from the vendor separately" not in page.lower(), "no vendor request is in the ledger"
    _check_notices_packages_and_dates(certificate, page, entries, access_id)


def _check_notices_packages_and_dates(
    certificate: dict[str, Any], page: str, entries: list[LedgerEntry], access_id: str
) -> None:
    """The Art. 19, processor, package and date sections of the certificate against the ledger, entry by entry."""
    notices = [e for e in entries if e.record.action is LedgerAction.NOTIFY]
    rows = {r["recipient"]: r for r in certificate["recipients"]}
    assert notices and {r["ledger_seq"] for r in rows.values() if r["ledger_seq"]} == {e.seq for e in notices}
    for entry in notices:
        row = rows[entry.record.details["recipient"]]
        assert (row["status"], row["notified_at"]) == ("notified", entry.record.details["sent_at"])
    assert all(r["status"] == "not_yet_sent" for r in rows.values() if r["ledger_seq"] is None)
    sent = [e for e in entries if e.record.action is LedgerAction.VENDOR_REQUEST]
    vendors = certificate["vendor_requests"]
    assert sent and {v["ledger_seq"] for v in vendors if v["status"] == "sent"} == {e.seq for e in sent}
    assert {"processor": "Example Backup Ltd", "status": "not_yet_sent", "sent_at": None, "channel": None,
            "reference": None, "ledger_seq": None} in vendors  # fmt: skip
    assert "Not yet sent" in page and "Asked Anthropic PBC to erase its copy" in page
    package = certificate["retained_package"]
    assert package["request_id"] == access_id and package["name"] == f"{access_id}.zip.enc"
    assert package["delete_on"] == "2027-01-05T00:00:00+00:00" and package["ledger_seq"]
    dated = [e for e in entries if e.record.action is LedgerAction.IDENTITY and e.record.details.get("due")]
    assert certificate["dates_ledger_seq"] == dated[-1].seq
    assert certificate["received_at"] == dated[-1].record.details["received_at"]
    assert certificate["due"] == dated[-1].record.details["due"]
    assert "case records" not in page and "case database" not in page
