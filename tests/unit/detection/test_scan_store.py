"""Tests for detection.scan_store on an in-process moto S3 (no network): versions, gzip, skipped keys."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from connectors.s3 import S3Connector, S3Credentials
from detection.matcher import Matcher
from detection.scan_store import scan_store


@pytest.fixture
def store() -> Iterator[S3Connector]:
    """A versioned bucket with two versions of a JSONL object, a gzipped JSONL object and a binary."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="captures")
        client.put_bucket_versioning(Bucket="captures", VersioningConfiguration={"Status": "Enabled"})
        first = json.dumps({"sessionId": "s-1", "text": "Zoë Ångström asked"}, ensure_ascii=True) + "\n"
        client.put_object(Bucket="captures", Key="cap/a.jsonl", Body=first.encode())
        client.put_object(Bucket="captures", Key="cap/a.jsonl", Body=b'{"text": "nothing"}\n')
        gz = gzip.compress(b'{"x": 1}\n{"mail": "zoe.angstrom@x.invalid"}\n')
        client.put_object(Bucket="captures", Key="cap/b.jsonl.gz", Body=gz)
        client.put_object(Bucket="captures", Key="cap/c.png", Body=b"\x89PNG E-48213")
        yield S3Connector("captures", "s3://captures/cap", credentials=S3Credentials("test", "test"))


def test_scan_store_finds_old_versions_and_gzip(store: S3Connector, matcher: Matcher) -> None:
    """Non-current versions and gzipped objects are scanned; unscannable keys are skipped with a reason."""
    result = scan_store(store, matcher, classify=False)
    found = {(i.path, i.line, i.is_latest) for i in result.items}
    assert found == {("cap/a.jsonl", 1, False), ("cap/b.jsonl.gz", 2, True)}
    assert all(i.location.store == "captures" and i.location.version_id for i in result.items)
    assert ("cap/c.png", "not_scannable") in {(s.path, s.reason) for s in result.skipped}
    old = next(i for i in result.items if i.path == "cap/a.jsonl")
    assert (old.session_id, old.pointers) == ("s-1", ("/text",))


def test_a_sink_gets_every_store_item_in_order(store: S3Connector, matcher: Matcher) -> None:
    kept = scan_store(store, matcher, classify=False)
    streamed: list[object] = []
    result = scan_store(store, matcher, classify=False, sink=streamed.append)
    assert len(kept.items) == 2
    assert [(i.path, i.line, i.is_latest) for i in streamed] == [(i.path, i.line, i.is_latest) for i in kept.items]
    assert result.items == ()
    assert result.files_scanned == kept.files_scanned
