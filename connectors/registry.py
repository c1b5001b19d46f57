"""Scheme -> connector: builds the connector for a configured endpoint, store or evidence bucket.

The one module outside a backend that knows which backends exist: everything else asks for a `Connector`
and tests the optional capabilities of `connectors.base` (`VersionedStore`, `RemoteScanner`,
`EvidenceStore`) with `isinstance`. Backends are imported on demand, so boto3 and paramiko load only when
a location needs them. Decides nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from urllib.parse import unquote, urlsplit

from connectors.base import Connector, EvidenceStore, StoreState
from models.errors import ConfigError
from models.settings import EndpointSettings, EvidenceSettings, Settings, StoreSettings


def open_endpoint(endpoint: EndpointSettings, settings: Settings) -> Connector:
    """The connector for a laptop: `file://` -> LocalConnector, `ssh://` -> SSHConnector.

    Raises:
        ConfigError: an SSH endpoint without key file or known_hosts (in the endpoint or in `[ssh]`).
    """
    parts = urlsplit(endpoint.url)
    if parts.scheme == "file":
        from connectors.local import LocalConnector  # noqa: PLC0415 - backends load on demand

        return LocalConnector(endpoint.name, Path(unquote(parts.path)), os_override=endpoint.os)
    from connectors.ssh import SSHConnector  # noqa: PLC0415 - paramiko loads only when needed

    key_file = endpoint.key_file or settings.ssh.key_file
    known_hosts = endpoint.known_hosts or settings.ssh.known_hosts
    if key_file is None or known_hosts is None:
        raise ConfigError(
            f"endpoint {endpoint.name}: ssh:// needs key_file and known_hosts (in [[endpoints]] or [ssh])",
            key=f"endpoints.{endpoint.name}",
        )
    timeout = settings.ssh.connect_timeout
    return SSHConnector(
        endpoint.name,
        endpoint.url,
        key_file=key_file,
        known_hosts=known_hosts,
        connect_timeout=timeout,
        banner_timeout=timeout,
        auth_timeout=timeout,
        os_override=endpoint.os,
    )


def _open_s3(store: StoreSettings) -> Connector:
    from connectors.s3 import S3Connector  # noqa: PLC0415 - boto3 loads only when needed

    return S3Connector(store.name, store.url, endpoint_url=store.endpoint_url, region=store.region)


def _s3_state(store: StoreSettings, timeout: float) -> StoreState:
    from connectors.s3 import store_state as s3_state  # noqa: PLC0415 - boto3 loads only when needed

    return s3_state(store.name, store.url, endpoint_url=store.endpoint_url, region=store.region, timeout=timeout)


STORE_BACKENDS: Mapping[str, tuple[Callable[[StoreSettings], Connector], Callable[[StoreSettings, float], StoreState]]]
STORE_BACKENDS = MappingProxyType({"s3": (_open_s3, _s3_state)})
"""Store URL scheme -> (open a connector, read the bucket's state). Its keys are the schemes of
`models.store_schemes.STORE_URL_FORMS` (the settings accept exactly these)."""


def _store_backend(
    store: StoreSettings,
) -> tuple[Callable[[StoreSettings], Connector], Callable[[StoreSettings, float], StoreState]]:
    scheme = urlsplit(store.url).scheme
    if scheme not in STORE_BACKENDS:
        accepted = ", ".join(sorted(STORE_BACKENDS))
        raise ConfigError(
            f"store {store.name}: no connector for the URL scheme {scheme!r}; use one of: {accepted}",
            key=f"stores.{store.name}",
        )
    return STORE_BACKENDS[scheme]


def open_store(store: StoreSettings) -> Connector:
    """The connector for a central store, by its URL scheme (`s3://` -> the S3 connector, a `VersionedStore`)."""
    return _store_backend(store)[0](store)


def store_state(store: StoreSettings, *, timeout: float = 5) -> StoreState:
    """Reach a store's bucket and read its versioning and Object Lock configuration (no object is read).

    Raises:
        ConnectorError: the bucket cannot be reached or read (unreachable, missing, access denied).
    """
    return _store_backend(store)[1](store, timeout)


def evidence_url(evidence: EvidenceSettings) -> str:
    """The evidence bucket as a URL, for messages (no credentials)."""
    return f"s3://{evidence.bucket}"


def open_evidence_store(evidence: EvidenceSettings) -> EvidenceStore:
    """The evidence bucket's store (S3; no traffic until the first call)."""
    from connectors.s3 import S3Connector  # noqa: PLC0415 - boto3 loads only when an evidence bucket is set

    return S3Connector(
        "evidence", f"{evidence_url(evidence)}/", endpoint_url=evidence.endpoint_url, region=evidence.region
    )


def evidence_state(evidence: EvidenceSettings, *, timeout: float = 5) -> StoreState:
    """Reach the evidence bucket and read its versioning and Object Lock configuration.

    Raises:
        ConnectorError: the bucket cannot be reached or read.
    """
    from connectors.s3 import store_state as s3_state  # noqa: PLC0415 - boto3 loads only when needed

    return s3_state(
        "evidence", evidence_url(evidence), endpoint_url=evidence.endpoint_url, region=evidence.region, timeout=timeout
    )


def open_location(name: str, settings: Settings) -> Connector:
    """The connector for the endpoint or store called `name`.

    Raises:
        ConfigError: no location of that name.
    """
    for endpoint in settings.endpoints:
        if endpoint.name == name:
            return open_endpoint(endpoint, settings)
    for store in settings.stores:
        if store.name == name:
            return open_store(store)
    raise ConfigError(f"no endpoint or store named {name!r} in the configuration", key="endpoints", value=name)
