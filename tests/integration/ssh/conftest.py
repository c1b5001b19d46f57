"""Fixtures of the SSH integration tests: the real-sshd fleet (tests.fixtures.sshd)."""

from __future__ import annotations

from tests.fixtures.sshd import ssh_fleet

__all__ = ["ssh_fleet"]  # re-exported so pytest registers the session fixture for this directory
