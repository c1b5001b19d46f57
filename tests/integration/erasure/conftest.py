"""Fixtures for erasure's S3 integration tests: real S3 server processes from `tests.fixtures.s3server`.

Re-exported by import because pytest refuses `pytest_plugins` outside the top-level conftest.
"""

from tests.fixtures.s3server import moto_s3, moto_server, seaweed_server, unique_bucket

__all__ = ["moto_s3", "moto_server", "seaweed_server", "unique_bucket"]
