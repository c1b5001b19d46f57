"""Shared fixtures: the case database on SQLite and (when DSR_TEST_DATABASE_URL is set) PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from models.db import dispose_engines, get_engine

PG_URL = os.environ.get("DSR_TEST_DATABASE_URL")

pytest_plugins = ["tests.fixtures.s3server", "tests.fixtures.sshd", "tests.fixtures.prefect"]


SERVICE_UNAVAILABLE = "service unavailable:"


def skip_service(reason: str) -> None:
    """Skip because a server this test needs is missing; under DSR_REQUIRE_SERVICES=1 (CI) that is a failure."""
    pytest.skip(f"{SERVICE_UNAVAILABLE} {reason}")


def _clean(url: str) -> None:
    engine = get_engine(url)
    with engine.begin() as conn:
        for table in (
            "findings",
            "location_scans",
            "subject_identifiers",
            "erasure_plans",
            "request_keys",
            "recipient_notices",
            "audit_events",
            "requests",
            "locations",
            "ledger_entries",
            "ledger_checkpoints",
            "legal_holds",
            "retention_runs",
        ):
            conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - fixed table names


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.service),
    ]
)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty case database: a SQLite file, or the PostgreSQL database of DSR_TEST_DATABASE_URL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'dsr.db'}"
    else:
        if not PG_URL:
            skip_service("DSR_TEST_DATABASE_URL is not set (.ci/run sets it to a fresh PostgreSQL database)")
        url = PG_URL
        _clean(url)
    yield url
    if request.param == "sqlite":
        dispose_engines()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    """With DSR_REQUIRE_SERVICES=1 (set by .ci/run) a test skipped for a missing server fails instead.

    Only skips made with `skip_service` count: a contract case that does not apply to a backend stays a skip.
    """
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("DSR_REQUIRE_SERVICES") == "1" and SERVICE_UNAVAILABLE in str(report.longrepr):
        report.outcome = "failed"
        report.longrepr = f"service-backed test skipped in CI (DSR_REQUIRE_SERVICES=1): {report.longrepr}"


#: Words of a skip reason -> the service it lacks (for the one-line summary at the end of the run).
_SERVICES = (
    ("sshd", "OpenSSH server (as root)"),
    ("DSR_TEST_DATABASE_URL", "PostgreSQL (DSR_TEST_DATABASE_URL)"),
    ("chromium", "Chromium"),
    ("pdftotext", "poppler-utils (pdftotext)"),
    ("moto", "moto server"),
    ("weed", "SeaweedFS"),
)
_skipped_for_service: list[str] = []


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Remember each test skipped because a service is missing."""
    if report.skipped and SERVICE_UNAVAILABLE in str(report.longrepr):
        reason = str(report.longrepr)
        _skipped_for_service.append(next((name for word, name in _SERVICES if word.lower() in reason.lower()), "other"))


def service_summary(skipped: list[str]) -> str | None:
    """One line: how many tests were skipped for lack of which services, and the command that installs them."""
    if not skipped:
        return None
    counts: dict[str, int] = {}
    for name in skipped:
        counts[name] = counts.get(name, 0) + 1
    services = ", ".join(f"{name} {n}" for name, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    return (
        f"{len(skipped)} test(s) skipped for lack of a service ({services}): `sudo make services` installs them "
        "(the packages .ci/run installs); PostgreSQL tests also need DSR_TEST_DATABASE_URL, as .ci/run sets it"
    )


def pytest_unconfigure(config: pytest.Config) -> None:
    """End the run with the one-line service summary (after pytest's own last line)."""
    line = service_summary(_skipped_for_service)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if line and reporter is not None:
        reporter.write_line(line, yellow=True, bold=True)
