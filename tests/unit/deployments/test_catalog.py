"""The deployment catalog serves exactly the deployments named in `models.flow_names` (what `dsr server start`
waits for, what the CLI, the intake form and the demo start by name)."""

from __future__ import annotations

from deployments.catalog import build_deployments
from models import flow_names as names
from models.settings import Settings


def test_catalog_serves_every_named_deployment() -> None:
    """Each deployment name in flow_names is served once, and nothing else is."""
    served = [d.name for d in build_deployments(Settings())]
    assert sorted(served) == sorted(names.DEPLOYMENT_NAMES)


def test_deployment_paths_name_a_served_flow() -> None:
    """`<flow>/<deployment>` paths the CLI and the intake form start resolve to a served deployment."""
    served = {names.deployment_path(d.flow_name, d.name) for d in build_deployments(Settings())}
    assert set(names.DEPLOYMENT_OF_KIND.values()) <= served
    assert names.deployment_path(names.RETENTION_PURGE, names.RETENTION_PURGE_DRY_RUN) in served


def test_request_run_names_start_with_the_id() -> None:
    """Run names of a request's flows carry its id only (housekeeping deletes runs by these names)."""
    assert names.request_run_names("DSR-2026-0001") == [
        "DSR-2026-0001-access",
        "DSR-2026-0001-portability",
        "DSR-2026-0001-erasure",
    ]
    assert names.access_run_name("DSR-2026-0001", "portability") == "DSR-2026-0001-portability"
    assert names.access_run_name("DSR-2026-0001", "access") == "DSR-2026-0001-access"
