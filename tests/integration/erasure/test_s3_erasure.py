"""Erasure on S3 stores against real server processes: versions, rewrites, kills, Object Lock exceptions."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.s3 import S3Connector
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
from erasure.discovery import discover_store
from erasure.executor import STEPS, ActionStatus, execute_plan
from erasure.plan import ActionKind, ErasurePlan, plan_erasure
from erasure.verify import verify_erasure
from models.settings import ErasureSettings
from proofs.ledger import Ledger
from proofs.store import JsonlLedgerStore
from tests.fixtures.s3server import S3Server

pytestmark = pytest.mark.service

SUBJECT = "quillon.vextrabor@example.invalid"
OTHER = "mira.tansy@corp.example"
BUCKET = "erasure-test"
NOW = datetime(2026, 11, 20, tzinfo=UTC)


class SimulatedKill(BaseException):
    """Raised from a kill hook to simulate a crash at a step."""


def line(email: str, text: str) -> bytes:
    """One JSONL record naming `email`."""
    return json.dumps({"user": email, "text": text}, separators=(",", ":")).encode() + b"\n"


def matcher() -> Matcher:
    """The subject's matcher."""
    return Matcher.from_identifiers(SubjectIdentifiers(emails=(SUBJECT,)))


def make_connector(server: S3Server, bucket: str = BUCKET) -> S3Connector:
    """A connector on `s3://bucket/laptops` with short timeouts."""
    return S3Connector(
        "backups",
        f"s3://{bucket}/laptops",
        endpoint_url=server.endpoint_url,
        credentials=server.credentials,
        connect_timeout=2,
        read_timeout=10,
        max_attempts=2,
    )


def content(client: Any, bucket: str, key: str, version_id: str) -> bytes:
    """The decoded bytes of one version."""
    body = client.get_object(Bucket=bucket, Key=key, VersionId=version_id)["Body"].read()
    return gzip.decompress(body) if key.endswith(".gz") else bytes(body)


def versions(client: Any, bucket: str) -> list[dict[str, Any]]:
    """Every object version under `laptops/`."""
    return list(client.list_object_versions(Bucket=bucket, Prefix="laptops/").get("Versions", []))


def plan_store(server: S3Server, bucket: str = BUCKET) -> ErasurePlan:
    """Discover the store and plan erasure for the subject."""
    with make_connector(server, bucket) as conn:
        discovery = discover_store(conn, matcher())
    return plan_erasure("req-s3", [discovery], settings=ErasureSettings(), holds=[], subject_hashes=set(), now=NOW)


def run(
    server: S3Server, plan: ErasurePlan, ledger: Ledger, bucket: str = BUCKET, kill: Callable[[str], None] | None = None
) -> Any:
    """Execute the plan against the store."""
    return execute_plan(
        plan,
        connectors=lambda _name: make_connector(server, bucket),
        matcher=matcher(),
        ledger=ledger,
        run_id="run-s3",
        actor="tester",
        kill_hook=kill,
    )


@pytest.fixture
def store(moto_s3: S3Server) -> dict[str, Any]:
    """A versioned bucket: the subject in current and old versions, mainly in one object, another person elsewhere."""
    client = moto_s3.client()
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    history = "laptops/ana/history.jsonl"
    client.put_object(Bucket=BUCKET, Key=history, Body=line(SUBJECT, "v1 hello") + line(OTHER, "v1 other"))
    client.put_object(
        Bucket=BUCKET, Key=history, Body=line(OTHER, "v2 first") + line(SUBJECT, "v2 mine") + line(OTHER, "v2 last")
    )
    session = "laptops/ana/session-1.jsonl.gz"
    client.put_object(Bucket=BUCKET, Key=session, Body=gzip.compress(line(SUBJECT, "a") + line(SUBJECT, "b")))
    old = "laptops/ana/notes.jsonl"
    client.put_object(Bucket=BUCKET, Key=old, Body=line(SUBJECT, "old note"))
    client.put_object(Bucket=BUCKET, Key=old, Body=line(OTHER, "new note"))
    other = "laptops/bo/history.jsonl"
    client.put_object(Bucket=BUCKET, Key=other, Body=line(OTHER, "bo one"))
    return {"client": client, "history": history, "session": session, "old": old, "other": other}


def test_no_version_holds_the_subject_after_erasure(moto_s3: S3Server, store: dict[str, Any], tmp_path: Path) -> None:
    """After execution no remaining version holds the subject; the other person's records and objects stay."""
    client = store["client"]
    untouched = {v["VersionId"] for v in versions(client, BUCKET) if v["Key"] == store["other"]}
    plan = plan_store(moto_s3)
    kinds = {(a.path, a.kind) for a in plan.actions}
    assert (store["session"], ActionKind.S3_ERASE_OBJECT) in kinds
    assert (store["history"], ActionKind.S3_REWRITE) in kinds
    assert (store["old"], ActionKind.S3_DELETE_VERSIONS) in kinds
    ledger = Ledger(JsonlLedgerStore(tmp_path / "ledger.jsonl"))
    report = run(moto_s3, plan, ledger)
    assert report.complete, report.pending
    remaining = versions(client, BUCKET)
    for version in remaining:
        assert SUBJECT.encode() not in content(client, BUCKET, version["Key"], version["VersionId"])
    current = next(v for v in remaining if v["Key"] == store["history"] and v["IsLatest"])
    assert content(client, BUCKET, store["history"], current["VersionId"]) == line(OTHER, "v2 first") + line(
        OTHER, "v2 last"
    )
    assert {v["VersionId"] for v in remaining if v["Key"] == store["other"]} == untouched
    assert not [v for v in remaining if v["Key"] == store["session"]]
    assert ledger.verify().ok and len(list(ledger.entries())) == len(plan.actions)
    with make_connector(moto_s3) as conn:
        assert verify_erasure(plan, [discover_store(conn, matcher())]).clean


@pytest.mark.parametrize("step", [s for s in STEPS if s not in ("before_cleanup",)])
def test_kill_then_rerun_converges_on_s3(moto_s3: S3Server, store: dict[str, Any], tmp_path: Path, step: str) -> None:
    """Killed at any step of the S3 actions, a rerun leaves no subject version and one entry per action."""
    client = store["client"]
    plan = plan_store(moto_s3)
    ledger = Ledger(JsonlLedgerStore(tmp_path / "ledger.jsonl"))
    seen = {"n": 0}

    def kill(name: str) -> None:
        if name == step:
            seen["n"] += 1
            if seen["n"] == 1:
                raise SimulatedKill(step)

    with pytest.raises(SimulatedKill):
        run(moto_s3, plan, ledger, kill=kill)
    report = run(moto_s3, plan, ledger)
    assert report.complete, report.pending
    for version in versions(client, BUCKET):
        assert SUBJECT.encode() not in content(client, BUCKET, version["Key"], version["VersionId"])
    latest = [v for v in versions(client, BUCKET) if v["Key"] == store["history"]]
    assert len(latest) == 1, "exactly one rewritten current version, no duplicate rewrite"
    entries = list(ledger.entries())
    assert len(entries) == len(plan.actions) == len({e.idempotency_key for e in entries})


@pytest.fixture
def lock_bucket(seaweed_server: S3Server, unique_bucket: str) -> str:
    """A fresh Object Lock bucket (versioned) on SeaweedFS."""
    seaweed_server.client().create_bucket(Bucket=unique_bucket, ObjectLockEnabledForBucket=True)
    return unique_bucket


def test_object_locked_version_is_a_retained_exception(
    seaweed_server: S3Server, lock_bucket: str, tmp_path: Path
) -> None:
    """A COMPLIANCE-locked old version is planned as an exception and stays; the rest of the subject goes."""
    client = seaweed_server.client()
    key = "laptops/ana/locked.jsonl"
    until = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    locked = client.put_object(
        Bucket=lock_bucket,
        Key=key,
        Body=line(SUBJECT, "retained"),
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )["VersionId"]
    client.put_object(Bucket=lock_bucket, Key=key, Body=line(OTHER, "x") + line(SUBJECT, "y") + line(OTHER, "z"))
    plan = plan_store(seaweed_server, lock_bucket)
    kept = [a for a in plan.exceptions if a.ground == "object_lock"]
    assert [(a.path, a.version_ids) for a in kept] == [(key, (locked,))]
    ledger = Ledger(JsonlLedgerStore(tmp_path / "ledger.jsonl"))
    report = run(seaweed_server, plan, ledger, lock_bucket)
    assert report.complete, report.pending
    holding = [
        v["VersionId"]
        for v in versions(client, lock_bucket)
        if SUBJECT.encode() in content(client, lock_bucket, v["Key"], v["VersionId"])
    ]
    assert holding == [locked]
    assert [e.record.exception_ground for e in ledger.entries() if e.record.version_id == locked] == ["object_lock"]
    with make_connector(seaweed_server, lock_bucket) as conn:
        after = discover_store(conn, matcher())
    assert verify_erasure(plan, [after]).clean


def test_lock_applied_after_planning_is_reported_retained(
    seaweed_server: S3Server, lock_bucket: str, tmp_path: Path
) -> None:
    """A legal hold set on a version after planning: execution reports it retained and records an exception."""
    client = seaweed_server.client()
    key = "laptops/ana/old.jsonl"
    old = client.put_object(Bucket=lock_bucket, Key=key, Body=line(SUBJECT, "old"))["VersionId"]
    client.put_object(Bucket=lock_bucket, Key=key, Body=line(OTHER, "new"))
    plan = plan_store(seaweed_server, lock_bucket)
    assert [a.kind for a in plan.actions if a.location == "backups"] == [ActionKind.S3_DELETE_VERSIONS]
    client.put_object_legal_hold(Bucket=lock_bucket, Key=key, VersionId=old, LegalHold={"Status": "ON"})
    try:
        ledger = Ledger(JsonlLedgerStore(tmp_path / "ledger.jsonl"))
        report = run(seaweed_server, plan, ledger, lock_bucket)
        outcome = next(o for o in report.outcomes if o.kind is ActionKind.S3_DELETE_VERSIONS)
        assert outcome.status is ActionStatus.RETAINED and outcome.retained == ((key, old),)
        assert report.retained == (("backups", key, old),)
        grounds = [e.record.exception_ground for e in ledger.entries() if e.record.version_id == old]
        assert grounds == ["object_lock"]
        with make_connector(seaweed_server, lock_bucket) as conn:
            after = discover_store(conn, matcher())
        assert not verify_erasure(plan, [after]).clean
        assert verify_erasure(plan, [after], retained=report.retained).clean
    finally:
        client.put_object_legal_hold(Bucket=lock_bucket, Key=key, VersionId=old, LegalHold={"Status": "OFF"})


@pytest.mark.parametrize("kill_step", [None, "after_replace", "after_delete"])
def test_unversioned_bucket_rewrite_and_delete(moto_s3: S3Server, tmp_path: Path, kill_step: str | None) -> None:
    """Without versioning: partial objects are rewritten, mainly-about ones deleted; a killed run converges."""
    client = moto_s3.client()
    client.create_bucket(Bucket=BUCKET)
    mixed = "laptops/ana/mixed.jsonl"
    mine = "laptops/ana/mine.jsonl"
    client.put_object(Bucket=BUCKET, Key=mixed, Body=line(OTHER, "a") + line(SUBJECT, "b") + line(OTHER, "c"))
    client.put_object(Bucket=BUCKET, Key=mine, Body=line(SUBJECT, "only me"))
    plan = plan_store(moto_s3)
    assert {(a.path, a.kind) for a in plan.actions if a.location == "backups"} == {
        (mixed, ActionKind.S3_REWRITE),
        (mine, ActionKind.S3_ERASE_OBJECT),
    }
    ledger = Ledger(JsonlLedgerStore(tmp_path / "ledger.jsonl"))
    if kill_step is not None:

        def kill(name: str) -> None:
            if name == kill_step:
                raise SimulatedKill(name)

        with pytest.raises(SimulatedKill):
            run(moto_s3, plan, ledger, kill=kill)
    report = run(moto_s3, plan, ledger)
    assert report.complete, report.pending
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]
    assert keys == [mixed]
    assert client.get_object(Bucket=BUCKET, Key=mixed)["Body"].read() == line(OTHER, "a") + line(OTHER, "c")
    assert len(list(ledger.entries())) == len(plan.actions)
