"""Intake from the UI form: the request is recorded, and the submit run removes itself from Prefect."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName

from flows.submit_request import RequestForm, submit_request
from models import cases
from models.db import session_scope
from models.flow_names import ACCESS_RUN, SUBMIT_REQUEST
from models.settings import load_settings
from tests.integration.flows.conftest import Fleet

pytestmark = [pytest.mark.service, pytest.mark.usefixtures("prefect_harness")]


def test_form_records_request_and_deletes_its_own_run(fleet: Fleet) -> None:
    """The form's identifiers land encrypted in the case database; no submit-request run remains in Prefect."""
    form = RequestForm(kind="access", emails=["zoe.angstrom@example.invalid"], names=["Zoë Ångström"])
    result = submit_request(form)
    rid = result["request_id"]
    settings = load_settings(fleet.config)
    with session_scope(settings.database.url) as session:
        assert cases.get_request(session, rid).kind == "access"
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[SUBMIT_REQUEST])))
    assert runs == []


def test_form_records_the_identity_check(fleet: Fleet) -> None:
    """The form's identity choice: pending by default (no flow started), a waiver or a verification opens the
    request and is recorded as a ledger entry; a waiver without its reason records nothing."""
    from services.identity import identity_record

    pending = submit_request(RequestForm(kind="access", emails=["zoe.angstrom@example.invalid"]))
    assert pending["flow_run"] is None
    settings = load_settings(fleet.config)
    with session_scope(settings.database.url) as session:
        assert cases.get_request(session, pending["request_id"]).status == "identity_pending"
    verified = submit_request(
        RequestForm(kind="rectification", emails=["zoe.angstrom@example.invalid"], identity="phone_callback",
                    identity_by="Ivy Checker", identity_note="called back on the number on file")
    )  # fmt: skip
    record = identity_record(settings, verified["request_id"])
    assert (record.method, record.outcome, record.by) == ("phone_callback", "verified", "Ivy Checker")
    waived = submit_request(
        RequestForm(kind="rectification", emails=["zoe.angstrom@example.invalid"], identity="waived",
                    identity_note="request from the employee's authenticated account")
    )  # fmt: skip
    assert identity_record(settings, waived["request_id"]).outcome == "waived"
    with pytest.raises(Exception, match="reason"):
        submit_request(RequestForm(kind="access", emails=["z@example.org"], identity="waived"))
    with session_scope(settings.database.url) as session:
        assert len(cases.list_requests(session)) == 3


@pytest.mark.parametrize(
    ("form", "option"),
    [
        pytest.param({"emails": ["not-an-email"]}, "--email", id="bad-email"),
        pytest.param({"names": ["A"]}, "--name", id="single-letter-name"),
        pytest.param({"emails": ["z@example.org"], "channel": "x" * 201}, "--channel", id="oversize-channel"),
        pytest.param({"emails": ["z@example.org"], "received_at": "2999-01-01T00:00:00+00:00"}, "--received",
                     id="future-receipt"),
    ],
)  # fmt: skip
def test_invalid_form_records_nothing(fleet: Fleet, form: dict[str, object], option: str) -> None:
    """A bad form fails the run with the CLI's message, writes nothing, and the run is still removed."""
    with pytest.raises(Exception, match=option):
        submit_request(RequestForm.model_validate({"kind": "access", **form}))
    settings = load_settings(fleet.config)
    with session_scope(settings.database.url) as session:
        assert cases.list_requests(session) == []
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[SUBMIT_REQUEST])))
    assert runs == []


def test_flow_runs_of_long_closed_requests_are_deleted(fleet: Fleet) -> None:
    """Housekeeping deletes `<id>-access` and `<id>-scan-batch-<n>` runs once the request has been closed for the
    retention period."""
    from datetime import timedelta

    from flows.access import access_request
    from flows.access_scan import access_scan
    from flows.deadline_watch import delete_closed_request_runs
    from models.flow_names import scan_batch_run_name
    from models.tables import utcnow
    from models.types import RequestKind

    rid = fleet.submit(RequestKind.ACCESS)
    access_request(rid)
    settings = load_settings(fleet.config)
    # A child scan run of the request (`[access].scan_deployment`), a flow run of its own, goes with it.
    batch_run = scan_batch_run_name(rid, 1)
    by_name = FlowRunFilter(name=FlowRunFilterName(any_=[ACCESS_RUN.format(request_id=rid), batch_run]))
    with get_client(sync_client=True) as client:
        client.create_flow_run(access_scan, name=batch_run, parameters={"request_id": rid, "locations": []})
        # The test harness is shared by the session: earlier tests' runs may carry the same request id.
        existing = len(client.read_flow_runs(flow_run_filter=by_name))
    assert existing >= 2
    assert delete_closed_request_runs(settings) == 0
    later = utcnow() + timedelta(days=settings.prefect.flow_run_retention_days + 1)
    assert delete_closed_request_runs(settings, now=later) >= existing
    with get_client(sync_client=True) as client:
        assert client.read_flow_runs(flow_run_filter=by_name) == []


def test_packages_expire_and_identifiers_are_pseudonymised(fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    """After the delivery window the sealed package goes (its hash stays); after record keeping, identifiers go.
    When its signed `package_deleted` entry cannot be written, the package stays (and listed) for the next run;
    when the package cannot be removed, no entry says it was."""
    from datetime import timedelta

    from flows.access import access_request
    from models.tables import utcnow
    from models.types import RequestKind
    from services.housekeeping import delete_expired_packages, pseudonymise

    rid = fleet.submit(RequestKind.ACCESS)
    access_request(rid)
    settings = load_settings(fleet.config)
    with session_scope(settings.database.url) as session:
        request = cases.get_request(session, rid)
        sealed, digest = request.report_path, request.package_sha256
    assert sealed and digest
    assert delete_expired_packages(settings) == []
    later = utcnow() + timedelta(days=settings.access.delivery_window_days + 1)
    from models.errors import LedgerError
    from proofs.ledger import LedgerAction
    from services.evidence import ledger_for

    def stuck(*_args: object, **_kwargs: object) -> None:
        raise PermissionError("operation not permitted")

    with monkeypatch.context() as patched:  # the package cannot be moved aside: nothing is recorded
        patched.setattr(Path, "replace", stuck)
        with pytest.raises(PermissionError):
            delete_expired_packages(settings, now=later)
    assert Path(sealed).exists()
    assert not [
        e
        for e in ledger_for(settings).entries()
        if e.record.request_id == rid and e.record.action is LedgerAction.PACKAGE_DELETED
    ], "no package_deleted entry for a package still there"

    def ledger_down(*_args: object, **_kwargs: object) -> None:
        raise LedgerError("ledger store cannot be written")

    with monkeypatch.context() as patched:
        patched.setattr("services.housekeeping.record_package_deleted", ledger_down)
        with pytest.raises(LedgerError):
            delete_expired_packages(settings, now=later)
    with session_scope(settings.database.url) as session:
        assert cases.get_request(session, rid).report_path == sealed, "still listed: retried on the next run"
    assert Path(sealed).exists()
    assert delete_expired_packages(settings, now=later) == [rid]
    assert not Path(sealed).exists()
    with session_scope(settings.database.url) as session:
        request = cases.get_request(session, rid)
        assert request.report_path is None and request.package_sha256 == digest
    from services.certificate_entries import retained_package

    entries = [e for e in ledger_for(settings).entries() if e.record.request_id == rid]
    [deleted] = [e for e in entries if e.record.action is LedgerAction.PACKAGE_DELETED]
    assert (deleted.record.path, deleted.record.sha256_before) == (Path(sealed).name, digest)
    assert retained_package(entries) is None, "a deleted package is no longer stated as retained"
    assert pseudonymise(settings, now=later) == []
    assert pseudonymise(settings, now=utcnow() + settings.record_keeping + timedelta(days=1)) == [rid]
    with session_scope(settings.database.url) as session:
        rows = cases.identifiers_of(session, rid)
        assert rows and all(r.value is None and r.keyed_hash for r in rows)
