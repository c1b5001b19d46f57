"""Identity check before any run or export, an approval bound to the plan's digest, four eyes, and both the
approval and the re-scan results as signed ledger entries (no Prefect: services and the CLI in-process)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from models import cases
from models.db import session_scope
from models.lifecycle import is_overdue
from models.settings import load_settings
from proofs.ledger import LedgerAction
from services import erasure
from services.evidence import ledger_for
from simulation.fleet import simulate_fleet
from tests.unit.dsr.conftest import Invoke, assert_clean_failure

WAIVER = "request from the employee's authenticated account"


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A one-laptop fleet with its dsr.toml in DSR_CONFIG."""
    for var in ("DSR_DATABASE_URL", "DSR_MASTER_KEY", "DSR_HMAC_KEY", "DSR_LEDGER_SIGNING_KEY", "DSR_ACTOR"):
        monkeypatch.delenv(var, raising=False)
    simulate_fleet(tmp_path / "fleet", endpoints=1, size_mb=0.02, seed=5)
    config = tmp_path / "fleet" / "dsr.toml"
    monkeypatch.setenv("DSR_CONFIG", str(config))
    return config


def _person(config: Path) -> str:
    person = json.loads((config.parent / "truth.json").read_text(encoding="utf-8"))["subjects"][0]
    return json.dumps({"email": person["emails"], "name": [person["name"]]})


def _submit(invoke: Invoke, config: Path, kind: str = "erasure") -> str:
    result = invoke("request", "submit", "--kind", kind, "--identifiers", "-", "--json", stdin=_person(config))
    assert result.returncode == 0, result.stderr
    return str(json.loads(result.stdout)["id"])


def _plan(config: Path, rid: str) -> str:
    settings = load_settings(config)
    for location in erasure.begin_erasure(settings, rid):
        erasure.discover_location(settings, rid, location)
    digest = erasure.make_plan(settings, rid).digest
    assert digest
    return digest


def test_run_and_export_refuse_until_identity_is_recorded(fleet: Path, invoke: Invoke) -> None:
    """A fresh request is identity_pending; run and export exit 1 with one line naming the commands; after a
    verification the request runs (its erasure is discovered and planned) and `show --json` names the check."""
    rid = _submit(invoke, fleet)
    shown = json.loads(invoke("request", "show", rid, "--json").stdout)
    assert shown["status"] == "identity_pending"
    assert shown["identity"]["outcome"] is None
    for command in (("request", "run", rid), ("request", "export", rid, "--out", str(fleet.parent / "out"))):
        refused = invoke(*command)
        assert_clean_failure(refused, codes=(1,), context=" ".join(command[:2]))
        assert f"dsr request verify-identity {rid}" in refused.stderr
        assert f"dsr request waive-identity {rid}" in refused.stderr
    with pytest.raises(Exception, match="identity check is not recorded"):
        erasure.begin_erasure(load_settings(fleet), rid)

    bad = invoke("request", "verify-identity", rid, "--method", "passport_number", "--by", "Ivy Checker")
    assert_clean_failure(bad, codes=(1,))
    assert "authenticated_account" in bad.stderr
    done = invoke(
        "request", "verify-identity", rid, "--method", "email_challenge", "--by", "Ivy Checker", "--note", "replied"
    )
    assert done.returncode == 0, done.stderr
    again = invoke("request", "waive-identity", rid, "--reason", WAIVER)
    assert_clean_failure(again, codes=(1,))

    shown = json.loads(invoke("request", "show", rid, "--json").stdout)
    assert shown["status"] == "in_progress"
    ident = shown["identity"]
    assert (ident["method"], ident["outcome"], ident["by"], ident["note"]) == (
        "email_challenge",
        "verified",
        "Ivy Checker",
        "replied",
    )
    assert ident["recorded_by"] and ident["at"]
    assert _plan(fleet, rid)
    entries = [e for e in ledger_for(load_settings(fleet)).entries() if e.record.request_id == rid]
    identity_entries = [e for e in entries if e.record.action is LedgerAction.IDENTITY]
    assert [e.record.outcome for e in identity_entries] == ["verified"]
    assert identity_entries[0].record.details["method"] == "email_challenge"
    checkpoints = ledger_for(load_settings(fleet)).checkpoints()
    assert any(c.seq_to >= identity_entries[0].seq for c in checkpoints), "the identity entry is signed"


def test_waiver_opens_the_request_and_is_shown(fleet: Path, invoke: Invoke) -> None:
    """`waive-identity --reason` records a waiver (no method) and the request can run."""
    rid = _submit(invoke, fleet)
    assert invoke("request", "waive-identity", rid, "--reason", WAIVER).returncode == 0
    ident = json.loads(invoke("request", "show", rid, "--json").stdout)["identity"]
    assert (ident["method"], ident["outcome"], ident["note"]) == (None, "waived", WAIVER)
    assert WAIVER in invoke("request", "show", rid).stdout


def test_identity_pause_moves_the_deadline(fleet: Path, invoke: Invoke) -> None:
    """Asked on day 5, arrived on day 12: the period is counted seven days later; never overdue while paused."""
    rid = _submit(invoke, fleet)
    with session_scope(load_settings(fleet).database.url) as session:
        request = cases.get_request(session, rid)
        request.received_at = datetime(2025, 9, 3, 9, tzinfo=UTC)
        request.due_on = date(2025, 10, 3)
        session.add(request)
    assert invoke("request", "ask-identity", rid, "--at", "2025-09-05T10:00:00+00:00").returncode == 0
    with session_scope(load_settings(fleet).database.url) as session:
        assert not is_overdue(cases.get_request(session, rid), date(2025, 12, 1))
    assert invoke("request", "waive-identity", rid, "--reason", WAIVER).returncode == 1
    arrived = invoke(
        "request", "verify-identity", rid, "--method", "phone_callback", "--by", "Ivy Checker",
        "--received-at", "2025-09-12T10:00:00+00:00",
    )  # fmt: skip
    assert arrived.returncode == 0, arrived.stderr
    shown = json.loads(invoke("request", "show", rid, "--json").stdout)
    assert shown["due"] == "2025-10-10"
    assert shown["identity"]["asked_at"].startswith("2025-09-05")


def test_approval_is_bound_to_the_current_digest_and_signed(fleet: Path, invoke: Invoke) -> None:
    """`approve` needs --digest; a wrong or stale digest is refused; the accepted approval and every re-scan
    result are signed ledger entries with the digest, the typed name and the authenticated user."""
    rid = _submit(invoke, fleet)
    assert invoke("request", "waive-identity", rid, "--reason", WAIVER).returncode == 0
    stale = _plan(fleet, rid)
    settings = load_settings(fleet)
    current = erasure.make_plan(settings, rid).digest  # the plan was made again: the first digest is stale
    assert current and current != stale

    missing = invoke("request", "approve", rid, "--by", "Dana Reviewer")
    assert missing.returncode == 2 and "--digest" in missing.stderr
    for wrong in (stale, "f" * 64):
        refused = invoke("request", "approve", rid, "--by", "Dana Reviewer", "--digest", wrong)
        assert_clean_failure(refused, codes=(1,))
        assert "is not the digest" in refused.stderr and f"dsr request plan {rid} --detail" in refused.stderr
    assert erasure.plan_state(settings, rid).decision == "pending"

    detail = invoke("request", "plan", rid, "--detail", "--json")
    document = json.loads(detail.stdout)
    assert document["digest"] == current
    rows = document["detail"]
    assert rows and {"location", "action", "item", "path", "version_id", "count", "reason"} <= set(rows[0])
    assert any(r["item"] in ("session", "file", "lines") and r["path"] for r in rows)
    text = invoke("request", "plan", rid, "--detail")
    assert current in text.stdout and "every item of the plan" in text.stdout
    homes = {p.split("/Users/")[1].split("/")[0] for r in rows if "/Users/" in (p := r["path"])}
    assert homes and homes != {"[user]"}  # the reviewer's own table keeps the real paths
    published = erasure.plan_detail(settings, rid, redact=True)  # what the Prefect artifact shows
    assert len(published) == len(rows)
    assert all("/Users/[user]/" in r["path"] for r in published if "/Users/" in r["path"])
    assert not any(f"/{home}/" in r["path"] for r in published for home in homes)

    ok = invoke("request", "approve", rid, "--by", "Dana Reviewer", "--digest", current, "--note", "checked")
    assert ok.returncode == 0, ok.stderr
    ledger = ledger_for(settings)
    approvals = [e for e in ledger.entries() if e.record.request_id == rid and e.record.action is LedgerAction.APPROVE]
    assert len(approvals) == 1
    details = approvals[0].record.details
    assert (details["plan_digest"], details["reviewer"], details["channel"]) == (current, "Dana Reviewer", "cli")
    assert details["authenticated_user"] and details["note"] == ["checked"]
    assert any(c.seq_to >= approvals[0].seq for c in ledger.checkpoints()), "the approval is signed"
    shown = json.loads(invoke("request", "plan", rid, "--json").stdout)
    assert shown["approval"]["plan_digest"] == current and shown["approval"]["reviewer"] == "Dana Reviewer"

    for location in erasure.plan_locations(settings, rid):
        if location != "vendor":
            erasure.execute_location(settings, rid, location, run_id="run-1")
    result = erasure.verify(settings, rid, run_id="run-1")
    verified = [e for e in ledger.entries() if e.record.request_id == rid and e.record.action is LedgerAction.VERIFY]
    assert {e.record.location for e in verified} == set(result.checked_locations)
    assert all(e.record.details["plan_digest"] == current for e in verified)
    assert any(c.seq_to >= max(e.seq for e in verified) for c in ledger.checkpoints()), "re-scans are signed"


def test_four_eyes_refuses_self_approval(fleet: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch) -> None:
    """With `[erasure].four_eyes` the user who submitted cannot approve; another signed-in user can."""
    fleet.write_text(fleet.read_text(encoding="utf-8") + "\n[erasure]\nfour_eyes = true\n", encoding="utf-8")
    rid = _submit(invoke, fleet)
    assert invoke("request", "waive-identity", rid, "--reason", WAIVER).returncode == 0
    digest = _plan(fleet, rid)
    refused = invoke("request", "approve", rid, "--by", "Dana Reviewer", "--digest", digest)
    assert_clean_failure(refused, codes=(1,))
    assert "four_eyes" in refused.stderr
    assert erasure.plan_state(load_settings(fleet), rid).decision == "pending"
    rejected = invoke("request", "approve", rid, "--by", "Dana Reviewer", "--digest", digest, "--reject")
    assert rejected.returncode == 0, rejected.stderr  # a rejection touches nothing: no second person needed

    digest = erasure.make_plan(load_settings(fleet), rid).digest or ""
    monkeypatch.setattr("getpass.getuser", lambda: "second-person")
    ok = invoke("request", "approve", rid, "--by", "Sam Second", "--digest", digest)
    assert ok.returncode == 0, ok.stderr
    approval = erasure.approval_of(load_settings(fleet), rid)
    assert approval is not None and approval.authenticated_user == "second-person"
    assert approval.submitted_by and approval.submitted_by != "second-person"


def test_approval_stands_when_the_paused_run_cannot_be_resumed(
    fleet: Path, invoke: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The decision is recorded before the resume: a server that fails then gives one line saying so, exit 0,
    and no second approval is asked for (one would be refused: the plan is no longer awaiting a decision)."""
    rid = _submit(invoke, fleet)
    assert invoke("request", "waive-identity", rid, "--reason", WAIVER).returncode == 0
    digest = _plan(fleet, rid)

    def server_down(*_args: object, **_kwargs: object) -> bool:
        raise ConnectionError("All connection attempts failed")

    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setattr("dsr.cli_erasure._resume_on_server", server_down)
    result = invoke("request", "approve", rid, "--by", "Dana Reviewer", "--digest", digest)
    assert result.returncode == 0, result.stderr
    assert "the decision is recorded" in result.stderr and "could not be resumed" in result.stderr
    assert "Traceback" not in result.stderr
    assert erasure.plan_state(load_settings(fleet), rid).decision == "approved"
