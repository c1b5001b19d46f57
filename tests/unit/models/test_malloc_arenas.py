"""One malloc arena per process: threads' allocations share the main arena (glibc only)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models import malloc_arenas

pytestmark = pytest.mark.skipif(not malloc_arenas._glibc(), reason="glibc's arenas only")

# Four threads allocate objects above pymalloc's 512-byte limit (they come from malloc); then glibc prints one
# "Arena N:" block per arena on stderr.
_PROBE = """
import ctypes, os, threading
from models.malloc_arenas import one_arena
print(LIMIT, os.environ.get("MALLOC_ARENA_MAX"), flush=True)
def work():
    kept = [bytes(1000 + i % 7) for i in range(2000)]
    del kept
threads = [threading.Thread(target=work) for _ in range(4)]
for t in threads:
    t.start()
for t in threads:
    t.join()
ctypes.CDLL(None).malloc_stats()
"""


def _run(env: dict[str, str], *, limit: bool) -> tuple[str, int]:
    probe = _PROBE.replace("LIMIT", "one_arena()" if limit else "None")
    done = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip(), sum(line.startswith("Arena ") for line in done.stderr.splitlines())


def test_threads_share_one_arena_and_children_inherit_the_setting() -> None:
    """Without the setting the threads get arenas of their own; with it every allocation is in the main arena,
    and the environment the process hands to its children carries the setting."""
    env = {k: v for k, v in os.environ.items() if k != malloc_arenas.ARENA_ENV}
    env["PYTHONPATH"] = str(Path(malloc_arenas.__file__).resolve().parent.parent)
    printed, arenas = _run(env, limit=False)
    assert printed == "None None"
    assert arenas > 1
    assert _run(env, limit=True) == ("True 1", 1)


def test_a_setting_already_made_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    """A user's own MALLOC_ARENA_MAX (glibc read it at start) is neither overridden nor overwritten."""
    monkeypatch.setenv(malloc_arenas.ARENA_ENV, "4")
    assert malloc_arenas.one_arena() is False
    assert os.environ[malloc_arenas.ARENA_ENV] == "4"
