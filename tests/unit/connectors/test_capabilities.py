"""Connector capabilities: each backend offers exactly the optional protocols callers test with `isinstance`,
every backend shares one lifecycle, and code outside `connectors/` never names a backend class."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import (
    Connector,
    ConnectorBase,
    EvidenceStore,
    RemoteScanner,
    VersionedStore,
)
from connectors.layouts import NameLister
from connectors.local import LocalConnector
from connectors.memory import MemoryConnector
from connectors.registry import STORE_BACKENDS, open_evidence_store, open_store
from connectors.s3 import S3Connector
from connectors.ssh import SSHConnector
from models.settings import EvidenceSettings, StoreSettings
from models.store_schemes import STORE_URL_FORMS

REPO = Path(__file__).resolve().parents[3]
PRODUCT_PACKAGES = ("models", "detection", "reports", "proofs", "flows", "deployments", "dsr", "simulation")
PRODUCT_PACKAGES += ("erasure", "retention", "services")


def _connectors(tmp_path: Path) -> dict[str, Connector]:
    return {
        "local": LocalConnector("laptop", tmp_path),
        "memory": MemoryConnector("memory"),
        "ssh": SSHConnector("ssh", "ssh://ana@127.0.0.1:2222", key_text="unused", known_hosts=tmp_path / "kh"),
        "s3": S3Connector("store", "s3://bucket/prefix", endpoint_url="http://127.0.0.1:1"),
    }


CAPABILITIES = {
    "local": {NameLister},
    "memory": {NameLister},
    "ssh": {NameLister, RemoteScanner},
    "s3": {VersionedStore, EvidenceStore},
}


@pytest.mark.parametrize("backend", sorted(CAPABILITIES))
def test_each_backend_offers_exactly_its_capabilities(backend: str, tmp_path: Path) -> None:
    """`isinstance` against the protocols tells the backends apart; no caller needs a backend class."""
    connector = _connectors(tmp_path)[backend]
    offered = {cap for cap in (NameLister, RemoteScanner, VersionedStore, EvidenceStore) if isinstance(connector, cap)}
    assert offered == CAPABILITIES[backend]
    assert isinstance(connector, Connector)


@pytest.mark.parametrize("backend", sorted(CAPABILITIES))
def test_every_backend_shares_the_base_lifecycle(backend: str, tmp_path: Path) -> None:
    """One base class owns `__enter__`/`__exit__`: the context returns the connector and closes it on exit."""
    connector = _connectors(tmp_path)[backend]
    assert isinstance(connector, ConnectorBase)
    for name in ("__enter__", "__exit__"):
        assert name not in vars(type(connector)), f"{type(connector).__name__} redefines {name}"
    closed: list[bool] = []
    original = connector.close

    def close() -> None:
        closed.append(True)
        original()

    connector.close = close  # type: ignore[method-assign]
    with connector as entered:
        assert entered is connector
    assert closed == [True]


def test_registry_builds_stores_by_capability() -> None:
    """The registry hands out a versioned store for `[[stores]]` and an evidence store for `[evidence]`."""
    store = open_store(StoreSettings(name="store", url="s3://bucket/p", endpoint_url="http://127.0.0.1:1"))
    evidence = open_evidence_store(EvidenceSettings(bucket="evidence", endpoint_url="http://127.0.0.1:1"))
    with store, evidence:
        assert isinstance(store, VersionedStore)
        assert isinstance(evidence, EvidenceStore)


def test_no_module_outside_connectors_names_a_store_backend() -> None:
    """Callers use the capability protocols and the registry, so a second object store touches only
    `connectors/`."""
    offenders = [
        str(path.relative_to(REPO))
        for package in PRODUCT_PACKAGES
        for path in sorted((REPO / package).rglob("*.py"))
        if "S3Connector" in path.read_text(encoding="utf-8") or "connectors.s3" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []


def test_registry_opens_exactly_the_store_schemes_the_settings_accept() -> None:
    """The settings accept a store URL exactly when the registry has a connector for its scheme."""
    assert set(STORE_BACKENDS) == set(STORE_URL_FORMS)
    assert all(form.startswith(f"{scheme}://") for scheme, form in STORE_URL_FORMS.items())
