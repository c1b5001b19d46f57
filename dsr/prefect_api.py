"""Which Prefect API a `dsr request run` uses: the one already running, else a temporary one that dies with it.

1. `PREFECT_API_URL` set: that server (the caller runs the served deployment there).
2. The local server of `dsr server start` (`[prefect]` host and port) answers: runs go to it, visible in its UI.
3. Otherwise a temporary server (`deployments.temp_server`) on a free loopback port, with the configuration's
   Prefect home and database, in its own process group. It ends when the command ends, including when the
   command is killed with `kill -9`: it watches a pipe only the command holds, and on Linux the kernel sends it
   SIGKILL when its parent dies. It is given `[prefect].startup_timeout` seconds to answer (generous, for a
   loaded machine); if it does not, the command fails with one line naming the log and `dsr server start`.

Every server environment has Prefect's telemetry and analytics off (`models.prefect_env`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: starts are not serialised
    fcntl = None  # type: ignore[assignment]

from dsr.cli_server import is_healthy
from models.errors import DsrError
from models.prefect_env import quiet_prefect
from models.settings import Settings

TEMP_SERVER_LOG = Path("logs") / "prefect-temp-server.log"
START_LOCK = ".temp-server-start.lock"
STOP_GRACE_SECONDS = 10.0


class PrefectUnavailableError(DsrError):
    """No Prefect API could be found or started (the message names the log and the fix)."""


def explicit_api_url() -> str | None:
    """`PREFECT_API_URL` from the environment, if set."""
    return os.environ.get("PREFECT_API_URL") or None


@contextmanager
def prefect_api(settings: Settings) -> Iterator[str]:
    """The API URL to run against for the block: the configured local server if it answers, else a temporary one.

    Raises:
        PrefectUnavailableError: the temporary server exited or did not answer in time.
    """
    local = settings.prefect.api_url
    if is_healthy(local):
        yield local
        return
    with temporary_server(settings) as url:
        yield url


def server_environment(settings: Settings) -> dict[str, str]:
    """Environment of a temporary server: the configuration's Prefect home and database, no telemetry."""
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_HOME"] = str(settings.prefect.home)
    if settings.prefect.database_url:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = settings.prefect.database_url
    return dict(quiet_prefect(env))


@contextmanager
def _one_starting_at_a_time(home: Path) -> Iterator[None]:
    """Hold an exclusive lock on the Prefect home while a server starts: servers that share its database
    (several runs at once) never migrate or create it concurrently. Released by the kernel if we die."""
    fd = os.open(home / START_LOCK, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@contextmanager
def temporary_server(settings: Settings) -> Iterator[str]:
    """Start a Prefect API that ends with this process; yield its URL; stop it (and its group) afterwards."""
    log = settings.state_dir / TEMP_SERVER_LOG
    log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.prefect.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _one_starting_at_a_time(settings.prefect.home):
        proc, port, write_end = _start(settings, log)
    try:
        yield f"http://127.0.0.1:{port}/api"
    finally:
        stop_group(proc)
        os.close(write_end)


def _start(settings: Settings, log: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    """Spawn the server and wait until it answers; (process, port, write end of its watchdog pipe)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    read_end, write_end = os.pipe()
    proc: subprocess.Popen[bytes] | None = None
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        port = listener.getsockname()[1]
        argv = [sys.executable, "-m", "deployments.temp_server", str(os.getpid()), str(read_end)]
        argv.append(str(listener.fileno()))
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            proc = subprocess.Popen(  # noqa: S603 - fixed argv: our interpreter and module
                argv,
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=subprocess.STDOUT,
                env=server_environment(settings),
                start_new_session=True,
                pass_fds=(read_end, listener.fileno()),
            )
        finally:
            os.close(fd)
        os.close(read_end)
        read_end = -1
        listener.close()
        _wait_until_healthy(proc, f"http://127.0.0.1:{port}/api", settings.prefect.startup_timeout, log)
    except BaseException:
        if proc is not None:
            stop_group(proc)
        os.close(write_end)
        raise
    finally:
        if read_end >= 0:
            os.close(read_end)
        listener.close()
    return proc, port, write_end


def _wait_until_healthy(proc: subprocess.Popen[bytes], url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not is_healthy(url):
        if proc.poll() is not None:
            raise PrefectUnavailableError(
                f"the temporary Prefect server exited with code {proc.returncode} before answering (see {log}); "
                "start a long-lived one with `dsr server start` and run the request again"
            )
        if time.monotonic() > deadline:
            raise PrefectUnavailableError(
                f"the temporary Prefect server did not answer within {timeout:g} s (see {log}); raise "
                "[prefect].startup_timeout, or start a long-lived server with `dsr server start` and run the "
                "request again"
            )
        time.sleep(0.25)


def stop_group(proc: subprocess.Popen[bytes]) -> None:
    """End a temporary server and its process group: SIGTERM, then SIGKILL after a grace period."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=STOP_GRACE_SECONDS)
