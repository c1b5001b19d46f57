"""One malloc arena per process: memory that one thread frees is reused by the others.

glibc's allocator gives each new thread an arena of its own (up to eight per core). Python runs one thread at a
time (the GIL), so separate arenas buy no speed here, and they cost memory: a request run scans laptops in
worker threads, and what those scans free stays in their arenas, out of reach of the package assembly that
follows. On an access request over 10 laptops of 30 MiB, one arena took the run's peak resident memory from
351 MB to 307 MB, in the same time (benchmarks/README.md).

`one_arena()` sets glibc's `M_ARENA_MAX` to 1 in this process, and `MALLOC_ARENA_MAX=1` in its environment
so that the processes it starts (the Prefect server, serve processes, workers and their flow runs) start with
one arena too. It must run before the process starts threads: the `dsr` entry point calls it first, and the
`flows` package calls it for flow runs a Prefect worker starts. A `MALLOC_ARENA_MAX` already set is kept (glibc
read it at start). Elsewhere than glibc (macOS, Windows, musl) it does nothing.
"""

from __future__ import annotations

import os
import sys

ARENA_ENV = "MALLOC_ARENA_MAX"
_M_ARENA_MAX = -8  # glibc's mallopt parameter number (malloc.h)


def one_arena() -> bool:
    """Limit this process and the processes it starts to one malloc arena; True when glibc took the setting."""
    if ARENA_ENV in os.environ or sys.platform != "linux" or not _glibc():
        return False
    import ctypes  # noqa: PLC0415 - only where there is a glibc to ask

    try:
        taken = bool(ctypes.CDLL(None).mallopt(_M_ARENA_MAX, 1))
    except (OSError, AttributeError):
        return False
    if taken:
        os.environ[ARENA_ENV] = "1"
    return taken


def _glibc() -> bool:
    try:
        return (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc")
    except (ValueError, OSError):  # no such name where the C library is not glibc
        return False
