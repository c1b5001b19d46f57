"""Fixtures of the hostile-input tests: a fresh `file://` laptop beside another user's home outside its root."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.hostile import Laptop, make_laptop


@pytest.fixture
def laptop(tmp_path: Path) -> Laptop:
    """A Linux laptop root with one ordinary transcript; `outside` holds another user's home naming the subject."""
    return make_laptop(tmp_path)
