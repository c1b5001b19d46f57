"""Keys from Prefect Secret blocks: used when the environment does not set them, never overriding it."""

from __future__ import annotations

import pytest
from prefect.blocks.system import Secret

from flows.common import load_secret_blocks
from models.settings import settings_from_dict

pytestmark = [pytest.mark.service, pytest.mark.usefixtures("prefect_harness")]


def test_master_key_comes_from_the_named_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """With `[secrets] master_key` naming a block and no DSR_MASTER_KEY, the block's value is used."""
    Secret(value="ab" * 32).save("dsr-master-key-test", overwrite=True)
    settings = settings_from_dict({"secrets": {"master_key": "dsr-master-key-test"}})
    # Empty counts as unset; set through monkeypatch so that what load_secret_blocks writes is undone after the
    # test (a key left in os.environ would be the master key of every later test in this process).
    monkeypatch.setenv("DSR_MASTER_KEY", "")
    load_secret_blocks(settings)
    import os

    assert os.environ["DSR_MASTER_KEY"] == "ab" * 32
    monkeypatch.setenv("DSR_MASTER_KEY", "cd" * 32)
    load_secret_blocks(settings)
    assert os.environ["DSR_MASTER_KEY"] == "cd" * 32
