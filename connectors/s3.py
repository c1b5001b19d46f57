"""The `s3://bucket/prefix` connector: every object version, Object Lock status, compare-and-swap rewrites,
version-exact deletion and evidence uploads over boto3. Decides nothing (no policy, no matching); translates
botocore exceptions into `models.errors` at its border and never puts object content in a message.
"""

from __future__ import annotations

import gzip
import io
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    PartialCredentialsError,
    ReadTimeoutError,
)

from connectors.base import (
    CHUNK_SIZE,
    SCANNABLE_SUFFIXES,
    Activity,
    ConnectorBase,
    DeletionOutcome,
    EvidenceObject,
    Expected,
    Item,
    LockStatus,
    RetainedVersion,
    Skipped,
    StoreState,
    is_scannable,
    iter_chunks,
    scannable_format,
    sha256_of,
)
from models.errors import (
    AccessDeniedError,
    AuthenticationError,
    ConfigError,
    ConnectorError,
    ItemNotFoundError,
    TransferError,
    UnreachableError,
    UnsupportedOperationError,
    VersionConflictError,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "SCANNABLE_SUFFIXES",
    "DeletionOutcome",
    "EvidenceObject",
    "LockStatus",
    "RetainedVersion",
    "S3Connector",
    "S3Credentials",
    "StoreState",
    "is_scannable",
    "scannable_format",
    "store_state",
]

# Objects above this size are spooled to disk, not memory, while a rewrite is prepared.
_SPOOL_MEMORY = 8 << 20
# PutObject's single-request limit; larger rewrites would need a multipart upload.
_MAX_PUT = 5 << 30
_NULL_VERSION = "null"

_AUTH_CODES = frozenset(
    {
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AuthorizationHeaderMalformed",
        "InvalidClientTokenId",
    }
)
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "NoSuchBucket", "NotFound", "404"})
_CONFLICT_CODES = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412", "409"})
_DENIED_CODES = frozenset({"AccessDenied", "AllAccessDisabled", "Forbidden", "403", "MethodNotAllowed"})
_TRANSIENT_CODES = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "500", "502", "503", "504"}
)
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


@dataclass(frozen=True)
class S3Credentials:
    """Static S3 credentials. The secret and the session token never appear in `repr` or logs.

    Attributes:
        access_key_id: the access key id (an identifier, not a secret).
        secret_access_key: the secret key.
        session_token: an STS session token, if any.
    """

    access_key_id: str
    secret_access_key: str = field(repr=False)
    session_token: str | None = field(default=None, repr=False)


def _strip_etag(etag: str) -> str:
    return etag.strip('"')


def _version_token(etag: str, version_id: str | None) -> str:
    return f"{_strip_etag(etag)}:{version_id or _NULL_VERSION}"


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _version_id(raw: str | None) -> str | None:
    return None if raw in (None, "", _NULL_VERSION) else raw


class _Reader(io.RawIOBase):
    """A read-only raw stream over a botocore body (or a gzip stream of one) that translates errors."""

    def __init__(self, source: Any, on_error: Callable[[BaseException], ConnectorError]) -> None:
        super().__init__()
        self._source = source
        self._on_error = on_error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._source.read(len(view))
        except (BotoCoreError, OSError, *_GZIP_ERRORS) as exc:
            raise self._on_error(exc) from exc
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            try:
                self._source.close()
            finally:
                super().close()


class S3Connector(ConnectorBase):
    """Connector for `s3://bucket/prefix`: one `Item` per object version under the prefix.

    Item fields on S3: `path` is the key, `version` is `"<etag>:<version_id>"` (`null` on unversioned
    buckets), `version_id` is None on unversioned buckets, `is_latest` is False for non-current versions.
    A configured prefix is treated as a folder (`s3://b/backups` covers `backups/...`).

    Compare-and-swap (`replace`): the current object is stated first (ETag and version id must equal the
    expected token), then written with `IfMatch: <etag>`, which S3, MinIO, SeaweedFS and moto honour. On a
    server that ignores `IfMatch`, a writer that lands between the check and the put is still detected on
    versioned buckets: the versions are listed after the put and, if the version just below ours is not
    the one we read, our version is deleted again (the other writer's object is current once more) and
    `VersionConflictError` is raised. Only an unversioned bucket on a server that ignores `IfMatch` keeps a
    window of one round trip in which a concurrent write is overwritten undetected.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        credentials: S3Credentials | None = None,
        connect_timeout: float = 5,
        read_timeout: float = 30,
        max_attempts: int = 3,
    ) -> None:
        """Configure the connector; no network traffic happens until the first call.

        Args:
            name: the store name (becomes `Item.location`).
            url: `s3://bucket` or `s3://bucket/prefix`.
            endpoint_url: an S3-compatible endpoint (path-style addressing is used then).
            region: the signing region.
            credentials: static credentials; None uses boto3's standard resolution chain.
            connect_timeout: seconds to wait for a TCP connection.
            read_timeout: seconds to wait for data on an open connection.
            max_attempts: total attempts per request (botocore "standard" retry mode).

        Raises:
            ConfigError: the URL is not `s3://bucket[/prefix]` or a setting is out of range.
        """
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
            raise ConfigError(f"store {name}: url must be s3://bucket[/prefix]", store=name)
        if connect_timeout <= 0 or read_timeout <= 0 or max_attempts < 1:
            raise ConfigError(f"store {name}: timeouts must be positive and max_attempts >= 1", store=name)
        prefix = parts.path.lstrip("/")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.name = name
        self.url = url
        self.bucket = parts.netloc
        self.prefix = prefix
        self.endpoint_url = endpoint_url
        self.region = region
        self._credentials = credentials
        self._config = Config(
            region_name=region,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            signature_version="s3v4",
            s3={"addressing_style": "path" if endpoint_url else "auto"},
        )
        self._client: S3Client | None = None
        self._versioned: bool | None = None

    def __repr__(self) -> str:
        return f"S3Connector(name={self.name!r}, url={self.url!r}, endpoint_url={self.endpoint_url!r})"

    # -- plumbing -------------------------------------------------------------------------------------

    @property
    def client(self) -> S3Client:
        """The boto3 S3 client, created on first use."""
        if self._client is None:
            creds = self._credentials
            session = boto3.session.Session(
                aws_access_key_id=creds.access_key_id if creds else None,
                aws_secret_access_key=creds.secret_access_key if creds else None,
                aws_session_token=creds.session_token if creds else None,
                region_name=self.region,
            )
            self._client = session.client("s3", endpoint_url=self.endpoint_url, config=self._config)
        return self._client

    def _where(self, bucket: str, key: str | None, version_id: str | None) -> str:
        where = f"s3://{bucket}/{key}" if key is not None else f"s3://{bucket}"
        return f"{where} version {version_id}" if version_id else where

    def _translate(
        self, exc: BaseException, op: str, bucket: str, key: str | None, version_id: str | None
    ) -> ConnectorError:
        """Map a botocore/IO exception to the `models.errors` family (messages: ids and codes only)."""
        where = self._where(bucket, key, version_id)
        fields: dict[str, Any] = {"store": self.name, "bucket": bucket, "key": key, "version_id": version_id}
        if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError)):
            return UnreachableError(f"s3 {op} {where}: endpoint unreachable", **fields)
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
            return AuthenticationError(f"s3 {op} {where}: no usable credentials", **fields)
        if isinstance(exc, _GZIP_ERRORS):
            return ConnectorError(f"s3 {op} {where}: corrupt gzip stream", **fields)
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            fields["code"] = code or status
            msg = f"s3 {op} {where}: {code or status}"
            if code in _AUTH_CODES:
                return AuthenticationError(msg, **fields)
            if code in _CONFLICT_CODES or status in {"412", "409"}:
                return VersionConflictError(msg, **fields)
            if code in _NOT_FOUND_CODES or status == "404":
                return ItemNotFoundError(msg, **fields)
            if code in _DENIED_CODES or status in {"403", "405"}:
                return AccessDeniedError(msg, **fields)
            if code in _TRANSIENT_CODES or status.startswith("5"):
                return TransferError(msg, **fields)
            return ConnectorError(msg, **fields)
        if isinstance(exc, (ReadTimeoutError, BotoCoreError, OSError)):
            return TransferError(f"s3 {op} {where}: {type(exc).__name__}", **fields)
        return ConnectorError(f"s3 {op} {where}: {type(exc).__name__}", **fields)

    @contextmanager
    def _border(
        self, op: str, key: str | None = None, version_id: str | None = None, bucket: str | None = None
    ) -> Iterator[None]:
        target = bucket or self.bucket
        try:
            yield
        except (BotoCoreError, ClientError) as exc:
            raise self._translate(exc, op, target, key, version_id) from exc

    def _in_scope(self, key: str) -> str:
        """The key itself (verbatim: S3 keys may start with `/`), if it lies under the configured prefix.

        A `..` segment is refused, never resolved: it would mean a different thing to every consumer.
        """
        if ".." in key.split("/") or not key.startswith(self.prefix):
            raise AccessDeniedError(
                f"s3 key {key} is outside the store prefix s3://{self.bucket}/{self.prefix}",
                store=self.name,
                key=key,
            )
        return key

    def is_versioned(self) -> bool:
        """Whether versioning is (or was) enabled on the bucket: Enabled or Suspended."""
        if self._versioned is None:
            with self._border("get_bucket_versioning"):
                status = self.client.get_bucket_versioning(Bucket=self.bucket).get("Status")
            self._versioned = status in ("Enabled", "Suspended")
        return self._versioned

    def _item(
        self, key: str, size: int, modified_at: datetime, etag: str, *, raw_vid: str | None, latest: bool
    ) -> Item:
        vid = _version_id(raw_vid)
        return Item(
            location=self.name,
            path=key,
            size=size,
            # Whole seconds: listings give milliseconds, HEAD's Last-Modified header only seconds.
            mtime=(_utc(modified_at) or modified_at).replace(microsecond=0),
            version=_version_token(etag, vid),
            version_id=vid,
            is_latest=latest,
        )

    @staticmethod
    def _vid_kwargs(item: Item) -> dict[str, str]:
        if item.version_id:
            return {"VersionId": item.version_id}
        if not item.is_latest:
            return {"VersionId": _NULL_VERSION}
        return {}

    # -- listing --------------------------------------------------------------------------------------

    def iter_items(self, prefix: str = "/") -> Iterator[Item | Skipped]:
        """Yield every object version under `prefix` (default: the configured prefix).

        Delete markers are yielded as `Skipped(reason="delete_marker", target=<marker version id>)`;
        zero-byte "folder" keys ending in `/` as `Skipped(reason="special_file")`. On an unversioned
        bucket every object is one current version with `version_id=None`.

        Args:
            prefix: a key "folder" taken verbatim (`a/b` lists `a/b/...`, not `a/bc`); `""` or `/` means
                the configured prefix (the whole bucket when none is configured).

        Raises:
            AccessDeniedError: the prefix lies outside the configured prefix.
        """
        key_prefix = self.prefix
        if prefix not in ("", "/"):
            key_prefix = self._in_scope(prefix if prefix.endswith("/") else prefix + "/")
        if self.is_versioned():
            yield from self._iter_versions(key_prefix)
        else:
            yield from self._iter_objects(key_prefix)

    def _iter_versions(self, key_prefix: str, exact: str | None = None) -> Iterator[Item | Skipped]:
        with self._border("list_object_versions", key_prefix):
            pages = self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=key_prefix)
            for page in pages:
                for version in page.get("Versions", []):
                    key = version["Key"]
                    if exact is not None and key != exact:
                        continue
                    if key.endswith("/") and version.get("Size", 0) == 0:
                        yield Skipped(self.name, key, "special_file")
                        continue
                    yield self._item(
                        key,
                        version.get("Size", 0),
                        version["LastModified"],
                        version.get("ETag", ""),
                        raw_vid=version.get("VersionId"),
                        latest=version.get("IsLatest", True),
                    )
                for marker in page.get("DeleteMarkers", []):
                    if exact is not None and marker["Key"] != exact:
                        continue
                    yield Skipped(self.name, marker["Key"], "delete_marker", target=marker.get("VersionId"))

    def _iter_objects(self, key_prefix: str) -> Iterator[Item | Skipped]:
        with self._border("list_objects_v2", key_prefix):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=key_prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    key = obj["Key"]
                    if key.endswith("/") and obj.get("Size", 0) == 0:
                        yield Skipped(self.name, key, "special_file")
                        continue
                    yield self._item(
                        key, obj.get("Size", 0), obj["LastModified"], obj.get("ETag", ""), raw_vid=None, latest=True
                    )

    def iter_versions(self, key: str) -> Iterator[Item | Skipped]:
        """Yield every version and delete marker of exactly `key`, newest first (bypasses no cache: S3 has none).

        Raises:
            AccessDeniedError: the key lies outside the configured prefix.
        """
        key = self._in_scope(key)
        if self.is_versioned():
            yield from self._iter_versions(key, exact=key)
            return
        try:
            yield self.stat(key)
        except ItemNotFoundError:
            return

    def stat(self, path: str) -> Item:
        """The current version of key `path`.

        Raises:
            ItemNotFoundError: no such key, or its current version is a delete marker.
            AccessDeniedError: the key lies outside the configured prefix, or access is denied.
        """
        key = self._in_scope(path)
        with self._border("head_object", key):
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        return self._item(
            key,
            head.get("ContentLength", 0),
            head["LastModified"],
            head.get("ETag", ""),
            raw_vid=head.get("VersionId"),
            latest=True,
        )

    # -- reading --------------------------------------------------------------------------------------

    def _get(self, item: Item) -> tuple[Any, dict[str, Any]]:
        key = self._in_scope(item.path)
        etag = item.version.rsplit(":", 1)[0]
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": key, **self._vid_kwargs(item)}
        if etag:
            # A version id names immutable bytes; IfMatch also pins unversioned objects to what was listed.
            kwargs["IfMatch"] = f'"{etag}"'
        with self._border("get_object", key, item.version_id):
            response = cast("dict[str, Any]", self.client.get_object(**kwargs))
        return response["Body"], response

    def _reader(self, source: Any, item: Item) -> BinaryIO:
        def on_error(exc: BaseException) -> ConnectorError:
            return self._translate(exc, "read", self.bucket, item.path, item.version_id)

        return cast(BinaryIO, io.BufferedReader(_Reader(source, on_error), CHUNK_SIZE))

    def open(self, item: Item) -> BinaryIO:
        """Stream the exact bytes of the object version `item` names (never loaded whole into memory).

        Raises:
            ItemNotFoundError: the version is gone.
            VersionConflictError: on an unversioned bucket, the object changed since it was listed.
        """
        body, _ = self._get(item)
        return self._reader(body, item)

    def is_gzip(self, item: Item) -> bool:
        """Whether the version is gzip data (a `.gz` key or `Content-Encoding: gzip`)."""
        if item.path.lower().endswith(".gz"):
            return True
        return "gzip" in self._head(item).get("ContentEncoding", "").lower()

    def open_content(self, item: Item) -> BinaryIO:
        """Stream the version's content for scanning: gunzipped when the key ends in `.gz` or the object
        carries `Content-Encoding: gzip` (botocore does not decode it), else the raw bytes.

        Raises:
            ItemNotFoundError: the version is gone.
            ConnectorError: the gzip stream is corrupt (raised while reading).
        """
        body, response = self._get(item)
        encoding = str(response.get("ContentEncoding") or "").lower()
        if item.path.lower().endswith(".gz") or "gzip" in encoding:
            return self._reader(gzip.GzipFile(fileobj=body, mode="rb"), item)
        return self._reader(body, item)

    def _head(self, item: Item) -> dict[str, Any]:
        key = self._in_scope(item.path)
        with self._border("head_object", key, item.version_id):
            return cast(
                "dict[str, Any]",
                self.client.head_object(Bucket=self.bucket, Key=key, **self._vid_kwargs(item)),  # type: ignore[arg-type]
            )

    def lock_status(self, item: Item) -> LockStatus:
        """Object Lock retention and legal hold of the version, from `head_object` (which every server
        that implements Object Lock answers; some lack `get_object_retention`).

        Raises:
            ItemNotFoundError: the version is gone.
        """
        return self._lock_from_head(self._head(item))

    @staticmethod
    def _lock_from_head(head: dict[str, Any]) -> LockStatus:
        mode = head.get("ObjectLockMode") or None
        return LockStatus(
            mode=str(mode) if mode else None,
            retain_until=_utc(head.get("ObjectLockRetainUntilDate")),
            legal_hold=str(head.get("ObjectLockLegalHoldStatus", "")).upper() == "ON",
        )

    # -- writing --------------------------------------------------------------------------------------

    def replace(self, item: Item, chunks: Iterable[bytes], expected: Expected, *, temp_name: str | None = None) -> Item:
        """Rewrite the current object with `chunks`, only if it is still the version the caller read.

        A PUT writes no temporary object, so `temp_name` is not used.

        Content type, user metadata, content encoding/disposition/language, cache control and server-side
        encryption (SSE-S3 / SSE-KMS with its key id) are carried over. Older versions are left alone:
        erasing them is `delete_versions`' job. See the class docstring for the compare-and-swap window.

        Args:
            item: the current version as listed (must be `is_latest`).
            chunks: the new bytes, exactly as they are to be stored.
            expected: the size and version token the caller read.

        Returns:
            The new current version.

        Raises:
            VersionConflictError: the object changed (ETag or version id), `item` is not the current
                version, or a concurrent write was detected; nothing of ours remains.
            UnsupportedOperationError: SSE-C objects (the key is not ours) or rewrites above 5 GiB.
        """
        return self._replace(item, chunks, expected, compress=False)

    def replace_content(self, item: Item, chunks: Iterable[bytes], expected: Expected) -> Item:
        """Like `replace`, but `chunks` are decoded content (as `open_content` gave them): gzip objects are
        re-compressed before the write, so the stored format stays what it was."""
        return self._replace(item, chunks, expected, compress=None)

    def _replace(self, item: Item, chunks: Iterable[bytes], expected: Expected, *, compress: bool | None) -> Item:
        key = self._in_scope(item.path)
        if not item.is_latest or item.version != expected.version or item.size != expected.size:
            raise VersionConflictError(
                f"s3 replace s3://{self.bucket}/{key}: item is not the current version read", store=self.name, key=key
            )
        current = self._current_head(key, item)
        if expected.sha256 is not None:
            self._check_sha256(key, current, expected.sha256, "replace")
        if compress is None:
            compress = key.lower().endswith(".gz") or "gzip" in str(current.get("ContentEncoding", "")).lower()
        if current.get("SSECustomerAlgorithm"):
            raise UnsupportedOperationError(
                f"s3 replace s3://{self.bucket}/{key}: SSE-C objects cannot be rewritten", store=self.name, key=key
            )
        put_kwargs = self._preserved_settings(current)
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_MEMORY) as spool:
            size = self._spool(spool, chunks, compress=compress)
            if size > _MAX_PUT:
                raise UnsupportedOperationError(
                    f"s3 replace s3://{self.bucket}/{key}: rewrite above 5 GiB needs multipart",
                    store=self.name,
                    key=key,
                )
            spool.seek(0)
            with self._border("put_object", key, item.version_id):
                put = self.client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=cast(IO[bytes], spool),
                    ContentLength=size,
                    IfMatch=current["ETag"],
                    **put_kwargs,
                )
        new_vid = _version_id(put.get("VersionId"))
        if new_vid is not None and item.version_id is not None:
            self._check_no_interloper(key, new_vid, item.version_id)
        new_item = Item(
            self.name, key, size, datetime.now(UTC), _version_token(put.get("ETag", ""), new_vid), version_id=new_vid
        )
        head = self._head(new_item)
        return self._item(
            key,
            head.get("ContentLength", size),
            head["LastModified"],
            head.get("ETag", ""),
            raw_vid=head.get("VersionId"),
            latest=True,
        )

    def _check_sha256(self, key: str, head: dict[str, Any], sha256: str, op: str) -> None:
        """Stream the version `head` describes and refuse when its sha256 is not the expected one."""
        vid = _version_id(head.get("VersionId"))
        probe = self._item(
            key,
            head.get("ContentLength", 0),
            head["LastModified"],
            head.get("ETag", ""),
            raw_vid=vid,
            latest=vid is None,
        )
        with self.open(probe) as stream:
            actual = sha256_of(iter_chunks(stream))
        if actual != sha256:
            raise VersionConflictError(
                f"s3 {op} s3://{self.bucket}/{key}: content sha256 {actual} differs from the expected one",
                store=self.name,
                key=key,
            )

    def _current_head(self, key: str, item: Item) -> dict[str, Any]:
        try:
            with self._border("head_object", key):
                current = cast("dict[str, Any]", self.client.head_object(Bucket=self.bucket, Key=key))
        except ItemNotFoundError as exc:
            raise VersionConflictError(
                f"s3 replace s3://{self.bucket}/{key}: the object was deleted since it was read",
                store=self.name,
                key=key,
            ) from exc
        token = _version_token(current.get("ETag", ""), _version_id(current.get("VersionId")))
        if token != item.version:
            raise VersionConflictError(
                f"s3 replace s3://{self.bucket}/{key}: current version {token} differs from {item.version}",
                store=self.name,
                key=key,
            )
        return current

    @staticmethod
    def _preserved_settings(head: dict[str, Any]) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"Metadata": dict(head.get("Metadata", {}))}
        for name in ("ContentType", "ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl"):
            if head.get(name):
                kwargs[name] = head[name]
        sse = head.get("ServerSideEncryption")
        if sse:
            kwargs["ServerSideEncryption"] = sse
            if head.get("SSEKMSKeyId"):
                kwargs["SSEKMSKeyId"] = head["SSEKMSKeyId"]
            if head.get("BucketKeyEnabled") is not None:
                kwargs["BucketKeyEnabled"] = bool(head["BucketKeyEnabled"])
        return kwargs

    @staticmethod
    def _spool(spool: IO[bytes], chunks: Iterable[bytes], *, compress: bool) -> int:
        if compress:
            with gzip.GzipFile(fileobj=spool, mode="wb", mtime=0) as gz:
                for chunk in chunks:
                    gz.write(chunk)
        else:
            for chunk in chunks:
                spool.write(chunk)
        return spool.tell()

    def _check_no_interloper(self, key: str, new_vid: str, read_vid: str) -> None:
        """After a put on a versioned bucket: the version just below ours must be the one we read."""
        versions = [v for v in self._iter_versions(key, exact=key) if isinstance(v, Item)]
        ids = [v.version_id for v in versions]
        if new_vid not in ids:
            return
        index = ids.index(new_vid)
        below = ids[index + 1] if index + 1 < len(ids) else None
        if below == read_vid:
            return
        with self._border("delete_object", key, new_vid):
            self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=new_vid)
        raise VersionConflictError(
            f"s3 replace s3://{self.bucket}/{key}: concurrent version {below} landed before ours; ours was withdrawn",
            store=self.name,
            key=key,
        )

    # -- deleting -------------------------------------------------------------------------------------

    def delete(self, item: Item, expected: Expected | None = None) -> bool:
        """Permanently delete the version `item` names (on an unversioned bucket: the object).

        Never adds a delete marker on a versioned bucket. With `expected`, the version must still carry
        the expected token and (when given) sha256; for a current item (`is_latest`) the key's current
        version must still be that one, so a rewrite since the read refuses the deletion.

        Returns:
            False when the version was already gone.

        Raises:
            AccessDeniedError: Object Lock protects the version (fields `mode`, `retain_until`, `legal_hold`).
            VersionConflictError: the version no longer matches `expected`.
        """
        key = self._in_scope(item.path)
        try:
            head = self._head(item)
        except ItemNotFoundError:
            return False
        if expected is not None:
            checked = head
            if item.is_latest and item.version_id is not None:
                # The caller read the current object: it must still be current and unchanged.
                try:
                    with self._border("head_object", key):
                        checked = cast("dict[str, Any]", self.client.head_object(Bucket=self.bucket, Key=key))
                except ItemNotFoundError:
                    checked = head
            token = _version_token(checked.get("ETag", ""), _version_id(checked.get("VersionId")) or item.version_id)
            if token != expected.version:
                raise VersionConflictError(
                    f"s3 delete s3://{self.bucket}/{key}: version {token} differs from {expected.version}",
                    store=self.name,
                    key=key,
                )
            if expected.sha256 is not None:
                self._check_sha256(key, head, expected.sha256, "delete")
        lock = self._lock_from_head(head)
        if lock.is_locked():
            raise self._locked_error(key, item.version_id, lock)
        with self._border("delete_object", key, item.version_id):
            self.client.delete_object(Bucket=self.bucket, Key=key, **self._vid_kwargs(item))  # type: ignore[arg-type]
        return True

    def _locked_error(self, key: str, version_id: str | None, lock: LockStatus) -> AccessDeniedError:
        until = lock.retain_until.isoformat() if lock.retain_until else None
        return AccessDeniedError(
            f"s3 delete s3://{self.bucket}/{key} version {version_id}: object lock {lock.mode} until {until}"
            f" legal_hold={lock.legal_hold}",
            store=self.name,
            key=key,
            version_id=version_id,
            mode=lock.mode,
            retain_until=lock.retain_until,
            legal_hold=lock.legal_hold,
        )

    def delete_versions(self, key: str, version_ids: Iterable[str]) -> DeletionOutcome:
        """Permanently delete the named versions (object versions or delete markers) of `key`.

        Versions under Object Lock (legal hold, or COMPLIANCE/GOVERNANCE retention not yet expired) are
        not attempted and are reported as retained with their lock details; the others proceed. A version
        the server still refuses with AccessDenied is re-read and reported as retained if a lock explains
        it, else the error is raised.

        Raises:
            AccessDeniedError: a deletion was refused and no Object Lock explains it.
        """
        key = self._in_scope(key)
        wanted = list(dict.fromkeys(version_ids))
        listed: dict[str, bool] = {}  # version id -> is a delete marker
        for entry in self.iter_versions(key):
            if isinstance(entry, Skipped):
                if entry.target:
                    listed[entry.target] = True
            else:
                listed[entry.version_id or _NULL_VERSION] = False
        deleted: list[str] = []
        retained: list[RetainedVersion] = []
        missing: list[str] = []
        for vid in wanted:
            if vid not in listed:
                missing.append(vid)
                continue
            if not listed[vid]:
                probe = Item(self.name, key, 0, datetime.now(UTC), "", version_id=_version_id(vid), is_latest=False)
                try:
                    lock = self.lock_status(probe)
                except ItemNotFoundError:
                    missing.append(vid)
                    continue
                if lock.is_locked():
                    retained.append(RetainedVersion(key, vid, lock.mode, lock.retain_until, lock.legal_hold))
                    continue
            try:
                with self._border("delete_object", key, vid):
                    self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=vid)
            except AccessDeniedError:
                probe = Item(self.name, key, 0, datetime.now(UTC), "", version_id=_version_id(vid), is_latest=False)
                lock = self.lock_status(probe)
                if not (lock.mode or lock.legal_hold):
                    raise
                retained.append(RetainedVersion(key, vid, lock.mode, lock.retain_until, lock.legal_hold))
                continue
            deleted.append(vid)
        return DeletionOutcome(key, tuple(deleted), tuple(retained), tuple(missing))

    def erase_object(self, key: str) -> DeletionOutcome:
        """Remove a whole object: every version and every delete marker of `key` (never just a new marker).

        Locked versions are retained and reported; on an unversioned bucket the object is deleted.
        """
        key = self._in_scope(key)
        if not self.is_versioned():
            try:
                current = self.stat(key)
            except ItemNotFoundError:
                return DeletionOutcome(key)
            try:
                self.delete(current)
            except AccessDeniedError as exc:
                if getattr(exc, "mode", None) is None and not getattr(exc, "legal_hold", False):
                    raise
                lock = self.lock_status(current)
                return DeletionOutcome(
                    key, retained=(RetainedVersion(key, _NULL_VERSION, lock.mode, lock.retain_until, lock.legal_hold),)
                )
            return DeletionOutcome(key, deleted=(_NULL_VERSION,))
        ids: list[str] = []
        for entry in self.iter_versions(key):
            if isinstance(entry, Skipped):
                if entry.target:
                    ids.append(entry.target)
            else:
                ids.append(entry.version_id or _NULL_VERSION)
        return self.delete_versions(key, ids)

    def delete_tree(self, path: str) -> int:
        """Erase every version and delete marker under the key prefix `path`.

        Returns:
            The number of object versions and delete markers deleted (0 if nothing was there).

        Raises:
            AccessDeniedError: some versions are under Object Lock (the others were deleted); the error's
                `retained` field lists them.
        """
        key_prefix = self._in_scope(path)
        if key_prefix and not key_prefix.endswith("/"):
            key_prefix += "/"
        keys = sorted({entry.path for entry in self.iter_items(key_prefix)})
        count = 0
        retained: list[RetainedVersion] = []
        for key in keys:
            outcome = self.erase_object(key)
            count += len(outcome.deleted)
            retained.extend(outcome.retained)
        if retained:
            raise AccessDeniedError(
                f"s3 delete_tree s3://{self.bucket}/{key_prefix}: {len(retained)} versions under object lock",
                store=self.name,
                retained=tuple(retained),
            )
        return count

    def verify(self, item: Item) -> Item | None:
        """List the key's versions again (no cache): for a current item the key's current version, for a
        non-current item that same version; None when there is none (deleted, or a delete marker on top).

        Callers compare `version` to detect a rewrite. `iter_versions(key)` lists what remains of the
        whole key, delete markers included.
        """
        key = self._in_scope(item.path)
        if not self.is_versioned():
            try:
                return self.stat(key)
            except ItemNotFoundError:
                return None
        for entry in self._iter_versions(key, exact=key):
            if not isinstance(entry, Item):
                continue
            if (item.is_latest and entry.is_latest) or (not item.is_latest and entry.version_id == item.version_id):
                return entry
        return None

    # -- evidence bucket ------------------------------------------------------------------------------

    def _object_lock_enabled(self, bucket: str) -> bool:
        try:
            with self._border("get_object_lock_configuration", bucket=bucket):
                conf = self.client.get_object_lock_configuration(Bucket=bucket)
        except (ItemNotFoundError, AccessDeniedError, VersionConflictError):
            return False
        except ConnectorError as exc:
            if getattr(exc, "code", "") in {"ObjectLockConfigurationNotFoundError", "NotImplemented"}:
                return False
            raise
        return conf.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") == "Enabled"

    def upload_evidence(
        self,
        bucket: str,
        key: str,
        path: Path | str,
        *,
        sse: str = "AES256",
        retain_until: datetime | None = None,
        lock_mode: str = "COMPLIANCE",
        content_type: str = "application/octet-stream",
    ) -> EvidenceObject:
        """Upload an evidence file with server-side encryption and, where the bucket has Object Lock
        enabled and `retain_until` is given, retention in `lock_mode`.

        Args:
            bucket: the evidence bucket (may differ from the store's bucket).
            key: the object key.
            path: the local file.
            sse: `AES256` or `aws:kms`.
            retain_until: aware end of retention, or None for no retention.
            lock_mode: `COMPLIANCE` (default) or `GOVERNANCE`.
            content_type: the object's content type.

        Raises:
            ConfigError: `retain_until` is naive or not in the future.
        """
        lock = self._evidence_lock(bucket, key, retain_until, lock_mode)  # checked before the file is opened
        with Path(path).open("rb") as body:
            return self._put_evidence(bucket, key, body, sse, lock, content_type)

    def put_evidence_bytes(
        self, bucket: str, key: str, data: bytes, *, sse: str = "AES256", retain_until: datetime | None = None
    ) -> EvidenceObject:
        """Upload `data` as an evidence object (SSE; COMPLIANCE retention until `retain_until` where the bucket
        has Object Lock). A new version is added if `key` exists; older versions stay.

        Raises:
            ConfigError: `retain_until` is naive or not in the future.
        """
        lock = self._evidence_lock(bucket, key, retain_until, "COMPLIANCE")
        return self._put_evidence(bucket, key, data, sse, lock, "application/json")

    def _evidence_lock(
        self, bucket: str, key: str, retain_until: datetime | None, lock_mode: str
    ) -> tuple[str, datetime] | None:
        """The Object Lock mode and date for an evidence object (None: no retention asked, or the bucket has no
        Object Lock).

        Raises:
            ConfigError: `retain_until` is naive or not in the future.
        """
        if retain_until is None:
            return None
        if retain_until.tzinfo is None or retain_until <= datetime.now(UTC):
            raise ConfigError(f"evidence s3://{bucket}/{key}: retain_until must be aware and in the future")
        return (lock_mode, retain_until.astimezone(UTC)) if self._object_lock_enabled(bucket) else None

    def _put_evidence(
        self,
        bucket: str,
        key: str,
        body: bytes | BinaryIO,
        sse: str,
        lock: tuple[str, datetime] | None,
        content_type: str,
    ) -> EvidenceObject:
        """One evidence `put_object`: SSE always, Object Lock retention when `lock` is given."""
        kwargs: dict[str, Any] = {"ServerSideEncryption": sse, "ContentType": content_type}
        if lock:
            kwargs["ObjectLockMode"], kwargs["ObjectLockRetainUntilDate"] = lock
        with self._border("put_object", key, bucket=bucket):
            put = self.client.put_object(Bucket=bucket, Key=key, Body=body, **kwargs)
        return EvidenceObject(
            bucket=bucket,
            key=key,
            version_id=_version_id(put.get("VersionId")),
            etag=_strip_etag(put.get("ETag", "")),
            sse=put.get("ServerSideEncryption"),
            retain_until=lock[1] if lock else None,
            lock_mode=lock[0] if lock else None,
        )

    def evidence_object_lock(self, bucket: str) -> bool:
        """Whether `bucket` has Object Lock enabled."""
        return self._object_lock_enabled(bucket)

    def evidence_versions(self, bucket: str, prefix: str) -> dict[str, list[str]]:
        """Every key under `prefix` with its version ids, oldest first (delete markers left out).

        S3 lists the versions of a key newest first; that order is kept (times can tie within a second)."""
        found: dict[str, list[str]] = {}
        paginator = self.client.get_paginator("list_object_versions")
        with self._border("list_object_versions", prefix, bucket=bucket):
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for version in page.get("Versions", []):
                    found.setdefault(version["Key"], []).append(str(version.get("VersionId") or "null"))
        return {key: versions[::-1] for key, versions in found.items()}

    def read_evidence(self, bucket: str, key: str, version_id: str) -> bytes:
        """The bytes of one version of an evidence object."""
        extra: dict[str, Any] = {} if version_id == "null" else {"VersionId": version_id}
        with self._border("get_object", key, bucket=bucket):
            body: bytes = self.client.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
        return body

    def presign(self, bucket: str, key: str, expires: timedelta) -> str:
        """A presigned GET URL (Signature V4) for `bucket/key`, valid for `expires` (1 s to 7 days).

        Raises:
            ConfigError: `expires` is out of range.
        """
        seconds = int(expires.total_seconds())
        if not 1 <= seconds <= 7 * 24 * 3600:
            raise ConfigError(f"presign s3://{bucket}/{key}: expiry must be between 1 second and 7 days")
        with self._border("presign", key, bucket=bucket):
            return self.client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=seconds
            )

    # -- lifecycle ------------------------------------------------------------------------------------

    def activity(self) -> Activity:
        """Stores have no agent app: changes never have to wait."""
        return Activity(agent_running=False)

    def close(self) -> None:
        """Close the client's connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None


def store_state(
    name: str, url: str, *, endpoint_url: str | None = None, region: str = "us-east-1", timeout: float = 5
) -> StoreState:
    """Reach a store's bucket and read its versioning and Object Lock configuration (no object is read).

    Raises:
        ConnectorError: the bucket cannot be reached or read (unreachable, missing, access denied).
    """
    with S3Connector(
        name, url, endpoint_url=endpoint_url, region=region, connect_timeout=timeout, read_timeout=timeout,
        max_attempts=1,
    ) as connector:  # fmt: skip
        with connector._border("get_bucket_versioning"):
            status = connector.client.get_bucket_versioning(Bucket=connector.bucket).get("Status") or "off"
        return StoreState(versioning=str(status), object_lock=connector._object_lock_enabled(connector.bucket))
