"""`python -m deployments.temp_server PARENT_PID WATCH_FD LISTEN_FD`: the temporary Prefect API of one
`dsr request run`, which dies with the command that started it.

The parent passes a listening loopback socket (no port race) and the read end of a pipe whose write end only
it holds. This process leads its own process group and ends it when either the pipe reaches end of file (the
parent has gone, however it went: exit, crash or `kill -9`) or, on Linux, the kernel's parent-death signal
fires. Started by `dsr.prefect_api`; never run by hand.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
import threading

PR_SET_PDEATHSIG = 1


def _die_with_parent(parent: int) -> None:
    """Ask the kernel for SIGKILL when the parent ends (Linux), and exit now if it already has."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:
        os._exit(0)


def _watch(fd: int) -> None:
    """Block until the parent's end of the pipe closes, then end this whole process group."""
    while True:
        try:
            data = os.read(fd, 1)
        except InterruptedError:
            continue
        except OSError:
            data = b""
        if not data:
            break
    with contextlib.suppress(OSError):
        os.killpg(os.getpgrp(), signal.SIGKILL)
    os._exit(0)


def main(argv: list[str]) -> None:
    """Serve Prefect's API on the inherited socket until the parent goes away."""
    parent, watch_fd, listen_fd = (int(a) for a in argv)
    _die_with_parent(parent)
    threading.Thread(target=_watch, args=(watch_fd,), name="parent-watch", daemon=True).start()
    os.environ.update({"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"})
    import uvicorn  # noqa: PLC0415 - after the watchdog: a parent gone during the import is still noticed

    uvicorn.run(
        "prefect.server.api.server:create_app",
        factory=True,
        fd=listen_fd,
        log_level="error",
        lifespan="on",
    )


if __name__ == "__main__":
    main(sys.argv[1:])
