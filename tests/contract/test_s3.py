"""Runs the connector contract suite against `S3Connector` on a versioned bucket of a moto server process.

Laptop paths map to keys verbatim (`/Users/ana/a.txt` is the key `/Users/ana/a.txt`, which moto keeps;
SeaweedFS would strip the leading slash, so the suite runs on moto). S3 has no symlinks, hard links, FIFOs
or agent app: those cases skip with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.s3 import S3Connector
from tests.contract.contract import ConnectorContract
from tests.fixtures.s3server import S3Server, moto_s3, moto_server

__all__ = ["moto_s3", "moto_server"]  # fixtures re-exported for pytest

BUCKET = "contract-bucket"


class S3Backend:
    """Out-of-band access to the bucket through a plain boto3 client."""

    def __init__(self, server: S3Server) -> None:
        self.client = server.client()
        self.client.create_bucket(Bucket=BUCKET)
        self.client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        self.connector = S3Connector(
            "store-1",
            f"s3://{BUCKET}",
            endpoint_url=server.endpoint_url,
            credentials=server.credentials,
            connect_timeout=2,
            read_timeout=10,
            max_attempts=2,
        )

    def write_file(self, path: str, data: bytes) -> None:
        self.client.put_object(Bucket=BUCKET, Key=path, Body=data)

    def read_file(self, path: str) -> bytes:
        return self.client.get_object(Bucket=BUCKET, Key=path)["Body"].read()

    def append(self, path: str, data: bytes) -> None:
        # S3 cannot append in place: a new version with the longer content is what a backup job writes.
        self.write_file(path, self.read_file(path) + data)

    def make_hardlink(self, existing: str, new: str) -> None:
        pytest.skip("S3 has no hard links")

    def make_symlink(self, path: str, target: str) -> None:
        pytest.skip("S3 has no symlinks")

    def make_symlink_out_of_root(self, path: str) -> None:
        pytest.skip("S3 has no symlinks")

    def make_fifo(self, path: str) -> None:
        pytest.skip("S3 has no special files")

    def names_in(self, directory: str) -> list[str]:
        base = directory.rstrip("/") + "/"
        listing = self.client.list_objects_v2(Bucket=BUCKET, Prefix=base, Delimiter="/")
        names = [entry["Key"][len(base) :] for entry in listing.get("Contents", [])]
        names += [entry["Prefix"][len(base) :].rstrip("/") for entry in listing.get("CommonPrefixes", [])]
        return sorted(names)

    def set_busy(self, busy: bool) -> None:
        pytest.skip("S3 stores have no agent app: activity() is always idle")


@pytest.mark.service
class TestS3Contract(ConnectorContract):
    """The shared contract on a versioned bucket of a real moto server."""

    @pytest.fixture
    def backend(self, moto_s3: S3Server) -> Iterator[S3Backend]:
        backend = S3Backend(moto_s3)
        try:
            yield backend
        finally:
            backend.connector.close()
