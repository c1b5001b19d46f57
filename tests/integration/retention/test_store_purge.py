"""Retention of S3 store objects (kind `s3_object`) against a real moto server process."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from connectors.base import Connector
from connectors.s3 import S3Connector
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
from erasure.executor import ActionStatus
from models.holds import Hold
from models.settings import RetentionPolicy, Settings, StoreSettings
from models.tables import utcnow
from proofs.ledger import Ledger
from proofs.store import JsonlLedgerStore
from retention.execute import execute_purge
from retention.plan import PurgeStatus, plan_purge
from tests.fixtures.s3server import S3Server

pytestmark = pytest.mark.service


def test_expired_objects_are_erased_with_every_version_and_held_ones_kept(moto_s3: S3Server, tmp_path: Path) -> None:
    """Objects past the period lose every version; an object under a hold stays and is recorded as kept."""
    client = moto_s3.client()
    client.create_bucket(Bucket="history")
    client.put_bucket_versioning(Bucket="history", VersioningConfiguration={"Status": "Enabled"})
    for key, body in [
        ("t/a.jsonl", b'{"n":1}\n'),
        ("t/a.jsonl", b'{"n":2}\n'),
        ("t/b.jsonl", b"x\n"),
        ("held/c.jsonl", b"y\n"),
    ]:
        client.put_object(Bucket="history", Key=key, Body=body)
    settings = Settings(
        stores=[StoreSettings(name="store", url="s3://history", endpoint_url=moto_s3.endpoint_url)],
        retention=[RetentionPolicy(name="objects", kinds=["s3_object"], period_days=30, version="7")],
    )

    def connectors(name: str) -> Connector:
        return S3Connector(name, "s3://history", endpoint_url=moto_s3.endpoint_url, credentials=moto_s3.credentials)

    hold = Hold("LH-S3", "litigation", "CASE-S3", "counsel", date(2027, 1, 1), paths=("held/*",))
    soon = utcnow() + timedelta(days=10)
    assert plan_purge(settings, connectors, now=soon, holds=[hold]).candidates == ()

    later = utcnow() + timedelta(days=31)
    plan = plan_purge(settings, connectors, now=later, holds=[hold])
    assert {(c.path, c.status) for c in plan.candidates} == {
        ("t/a.jsonl", PurgeStatus.PURGE),
        ("t/b.jsonl", PurgeStatus.PURGE),
        ("held/c.jsonl", PurgeStatus.RETAINED),
    }
    assert len(next(c for c in plan.candidates if c.path == "t/a.jsonl").version_ids) == 2
    ledger = Ledger(JsonlLedgerStore(tmp_path / "ledger.jsonl"), signer=None)
    report = execute_purge(plan, connectors=connectors, ledger=ledger, run_id="purge-s3", actor="t")
    assert {o.status for o in report.outcomes} <= {ActionStatus.DONE, ActionStatus.RECORDED}
    listing = client.list_object_versions(Bucket="history")
    remaining = {v["Key"] for v in listing.get("Versions", [])} | {m["Key"] for m in listing.get("DeleteMarkers", [])}
    assert remaining == {"held/c.jsonl"}
    records = [e.record for e in ledger.entries()]
    assert sorted((r.path, r.details.get("operation")) for r in records) == [
        ("held/c.jsonl", None),
        ("t/a.jsonl", "delete_s3_version"),
        ("t/b.jsonl", "delete_s3_version"),
    ]
    assert ledger.verify().ok
    again = plan_purge(settings, connectors, now=later, holds=[hold])
    assert [c.status for c in again.candidates] == [PurgeStatus.RETAINED]


def test_objects_naming_a_frozen_subject_are_kept(moto_s3: S3Server) -> None:
    """With an open access request, objects (any version) naming its subject and unscannable objects stay."""
    client = moto_s3.client()
    client.create_bucket(Bucket="frozen")
    client.put_bucket_versioning(Bucket="frozen", VersioningConfiguration={"Status": "Enabled"})
    client.put_object(Bucket="frozen", Key="t/named.jsonl", Body=b'{"to":"lena.frost@mail.invalid"}\n')
    client.put_object(Bucket="frozen", Key="t/named.jsonl", Body=b'{"to":"someone"}\n')
    client.put_object(Bucket="frozen", Key="t/other.jsonl", Body=b'{"to":"someone"}\n')
    client.put_object(Bucket="frozen", Key="t/blob.bin", Body=b"\x00\x01")
    settings = Settings(
        stores=[StoreSettings(name="store", url="s3://frozen", endpoint_url=moto_s3.endpoint_url)],
        retention=[RetentionPolicy(name="objects", kinds=["s3_object"], period_days=30)],
    )

    def connectors(name: str) -> Connector:
        return S3Connector(name, "s3://frozen", endpoint_url=moto_s3.endpoint_url, credentials=moto_s3.credentials)

    matcher = Matcher.from_identifiers(SubjectIdentifiers(emails=("lena.frost@mail.invalid",)))
    later = utcnow() + timedelta(days=31)
    plan = plan_purge(settings, connectors, now=later, frozen_matchers={"DSR-2026-0042": matcher})
    assert {(c.path, c.status, c.frozen_by) for c in plan.candidates} == {
        ("t/named.jsonl", PurgeStatus.FROZEN, "DSR-2026-0042"),
        ("t/blob.bin", PurgeStatus.FROZEN, "DSR-2026-0042"),
        ("t/other.jsonl", PurgeStatus.PURGE, None),
    }
    unfrozen = plan_purge(settings, connectors, now=later)
    assert {c.status for c in unfrozen.candidates} == {PurgeStatus.PURGE}
