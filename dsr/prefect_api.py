"""Which Prefect API a `dsr request run` uses: the one already running, else a temporary one that dies with it.

1. `PREFECT_API_URL` set: that server (the caller runs the served deployment there).
2. The local server of `dsr server start` (`[prefect]` host and port) answers: runs go to it, visible in its UI.
3. Otherwise a temporary server (`deployments.temp_server`) on a free loopback port, with the configuration's
   Prefect home and database, in its own process group. It ends when the command ends, including when the
   command is killed with `kill -9`: it watches a pipe only the command holds, and on Linux the kernel sends it
   SIGKILL when its parent dies. It is given `[prefect].startup_timeout` seconds to answer (generous, for a
   loaded machine); if it does not, the command fails with one line naming the log and `dsr server start`.
   While it boots, the command does its own slow imports (Prefect, its engines, the flow: `meanwhile`), so the
   two overlap on a machine with two cores. Its SQLite database stays in the Prefect home: Prefect's migrations
   run on its first start only (they more than double that start), and not even then when `make install` made
   the database seed a new home starts from (`models.prefect_seed`).

Every server environment has Prefect's telemetry and analytics off (`models.prefect_env`).

Authentication: the local server takes the credential of `models.server_auth` (`PREFECT_API_AUTH_STRING`, else
the credential file); a server that refuses it stops the command in one line. A temporary server requires a
fresh random credential of its own, known only to this command and the server process (their environments are
readable by this user and root only), so another local user who finds its loopback port cannot use its API
(which would expose the Prefect Secret blocks kept in the same Prefect database).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows: starts are not serialised
    fcntl = None  # type: ignore[assignment]

from dsr.cli_server import api_status, is_healthy
from models.errors import DsrError
from models.prefect_env import quiet_prefect
from models.prefect_seed import seed_home
from models.server_auth import CLIENT_ENV, SERVER_ENV, auth_file, client_credential, new_credential
from models.settings import Settings

TEMP_SERVER_LOG = Path("logs") / "prefect-temp-server.log"
START_LOCK = ".temp-server-start.lock"
STOP_GRACE_SECONDS = 10.0


class PrefectUnavailableError(DsrError):
    """No Prefect API could be found or started (the message names the log and the fix)."""


@dataclass(frozen=True)
class PrefectApi:
    """The API a run uses and the credential it must send (None: the server requires none)."""

    url: str
    credential: str | None


def explicit_api_url() -> str | None:
    """`PREFECT_API_URL` from the environment, if set."""
    return os.environ.get("PREFECT_API_URL") or None


@contextmanager
def explicit_api_auth(settings: Settings) -> Iterator[None]:
    """For the block, send the configured server's credential to `PREFECT_API_URL` when that URL is the
    configured server and `PREFECT_API_AUTH_STRING` is not set (a team server elsewhere needs it set).

    Sets the environment variable: enter the block before Prefect is first imported in this process (Prefect
    reads its settings from the environment at import)."""
    url = (explicit_api_url() or "").rstrip("/")
    credential = None
    if url == settings.prefect.api_url and not os.environ.get(CLIENT_ENV):
        credential = client_credential(settings)
    if credential is None:
        yield
        return
    os.environ[CLIENT_ENV] = credential
    try:
        yield
    finally:
        os.environ.pop(CLIENT_ENV, None)


@contextmanager
def prefect_api(settings: Settings, meanwhile: Callable[[], None] | None = None) -> Iterator[PrefectApi]:
    """The API to run against for the block: the configured local server if it answers, else a temporary one.

    `meanwhile` is called once before the block: while a temporary server boots (its imports, migrations and
    app take seconds), so that the command's own slow imports run at the same time on another core.

    Raises:
        PrefectUnavailableError: the temporary server exited or did not answer in time, or the local server
            refuses our credential.
    """
    local = settings.prefect.api_url
    if is_healthy(local):
        credential = authorised_credential(settings, local)
        if meanwhile is not None:
            meanwhile()
        yield PrefectApi(local, credential)
        return
    with temporary_server(settings, meanwhile) as api:
        yield api


def authorised_credential(settings: Settings, url: str) -> str | None:
    """The credential the server at `url` (the configured local one) accepts.

    Raises:
        PrefectUnavailableError: it refuses the credential we have (or requires one we do not have).
    """
    credential = client_credential(settings)
    if api_status(url, credential) != 401:
        return credential
    source = f"{CLIENT_ENV}" if os.environ.get(CLIENT_ENV) else f"the credential file {auth_file(settings)}"
    have = f"refuses the credential from {source}" if credential else "requires a credential and we have none"
    raise PrefectUnavailableError(
        f"the Prefect server at {url} {have} (HTTP 401); set {CLIENT_ENV} to its `user:password`, or point "
        "[prefect].auth_file at the file its `dsr server start` created"
    )


def server_environment(settings: Settings, credential: str | None = None) -> dict[str, str]:
    """Environment of a temporary server: the configuration's Prefect home and database, no telemetry, and the
    credential it requires (if given)."""
    env = dict(os.environ)
    env.pop("PREFECT_API_URL", None)
    env.pop(CLIENT_ENV, None)
    env.pop(SERVER_ENV, None)
    if credential is not None:
        env[SERVER_ENV] = credential
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
def temporary_server(settings: Settings, meanwhile: Callable[[], None] | None = None) -> Iterator[PrefectApi]:
    """Start a Prefect API that ends with this process and requires a one-time credential; yield it; stop it
    (and its group) afterwards. `meanwhile` runs in this process while the server boots."""
    log = settings.state_dir / TEMP_SERVER_LOG
    log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.prefect.home.mkdir(parents=True, exist_ok=True, mode=0o700)
    credential = new_credential("dsr-run")
    with _one_starting_at_a_time(settings.prefect.home):
        seed_home(settings.prefect.home, server_environment(settings))  # a new home skips Prefect's migrations
        proc, port, write_end = _start(settings, log, credential, meanwhile)
    try:
        yield PrefectApi(f"http://127.0.0.1:{port}/api", credential)
    finally:
        stop_group(proc)
        os.close(write_end)


def _start(
    settings: Settings, log: Path, credential: str, meanwhile: Callable[[], None] | None = None
) -> tuple[subprocess.Popen[bytes], int, int]:
    """Spawn the server, call `meanwhile` while it boots, and wait until it answers; (process, port, write end
    of its watchdog pipe). The server is stopped if `meanwhile` raises."""
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
                env=server_environment(settings, credential),
                start_new_session=True,
                pass_fds=(read_end, listener.fileno()),
            )
        finally:
            os.close(fd)
        os.close(read_end)
        read_end = -1
        listener.close()
        if meanwhile is not None:
            meanwhile()
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
