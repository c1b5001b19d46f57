"""Fixtures for the S3 connector's integration tests: real S3 server processes from `tests.fixtures.s3server`."""

pytest_plugins = ["tests.fixtures.s3server"]
