"""Scheme -> connector: builds the connector for a configured endpoint or store. Decides nothing else."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from connectors.base import Connector
from models.errors import ConfigError
from models.settings import EndpointSettings, Settings, StoreSettings


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


def open_store(store: StoreSettings) -> Connector:
    """The connector for an S3 store."""
    from connectors.s3 import S3Connector  # noqa: PLC0415 - boto3 loads only when needed

    return S3Connector(store.name, store.url, endpoint_url=store.endpoint_url, region=store.region)


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
