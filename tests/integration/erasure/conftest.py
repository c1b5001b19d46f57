"""Fixtures for erasure's integration tests: real S3 server processes and the real-sshd fleet.

Re-exported by import because pytest refuses `pytest_plugins` outside the top-level conftest.
"""

from tests.fixtures.s3server import moto_s3, moto_server, seaweed_server, unique_bucket
from tests.fixtures.sshd import ssh_fleet

__all__ = ["moto_s3", "moto_server", "seaweed_server", "ssh_fleet", "unique_bucket"]
