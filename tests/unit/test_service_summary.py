"""The last line of a test run: how many tests were skipped for lack of which service, and how to install them."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import service_summary

ROOT = Path(__file__).parents[2]


def test_summary_counts_services_and_names_the_install_command() -> None:
    """Counted per service, most first; `make services` named; nothing when nothing was skipped."""
    ssh = "OpenSSH server (as root)"
    line = service_summary(["PostgreSQL (DSR_TEST_DATABASE_URL)", ssh, ssh])
    assert line is not None and line.startswith("3 test(s) skipped for lack of a service (OpenSSH server (as root) 2,")
    assert "sudo make services" in line and "\n" not in line
    assert service_summary([]) is None


def test_make_services_and_ci_share_one_package_list() -> None:
    """`.ci/run` and `make services` both run `.ci/install-services`, the only place apt-get is called."""
    assert ".ci/install-services" in (ROOT / ".ci" / "run").read_text()
    assert "apt-get" not in (ROOT / ".ci" / "run").read_text()
    assert ".ci/install-services" in (ROOT / "Makefile").read_text()
