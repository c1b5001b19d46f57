"""`dsr server start|stop`: a local Prefect server (UI at http://127.0.0.1:4200) serving every deployment.

Processes are started detached and stopped by the pids recorded in `.dsr/server.json`. The UI and API require
the server's credential (Prefect's basic authentication, `models.server_auth`) unless `[prefect].auth` is off;
the serve process and CLI runs against the server are given the same credential.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated

import typer

from dsr.context import err, out, state
from models.errors import ConfigError
from models.files import atomic_write
from models.flow_names import DEPLOYMENT_NAMES
from models.prefect_env import quiet_prefect
from models.prefect_seed import seed_home
from models.server_auth import CLIENT_ENV, SERVER_ENV, auth_file, basic_auth_header, check_binding, server_credential

app = typer.Typer(help="The local Prefect server and the deployments it serves.", no_args_is_help=True)


def _alive(pid: int) -> bool:
    """Whether process `pid` runs (the laptop connectors load only here: `dsr request approve` imports this module
    to look for a paused run and must stay quick)."""
    from connectors.local import is_pid_alive  # noqa: PLC0415

    return is_pid_alive(pid)


def _state_file() -> Path:
    return state.state_dir() / "server.json"


def server_env() -> dict[str, str]:
    """Environment for the server, the serve process and CLI runs against it."""
    prefect = state.settings.prefect
    env = dict(os.environ)
    env.update(
        {
            "PREFECT_HOME": str(prefect.home),
            "PREFECT_API_URL": prefect.api_url,
            "PREFECT_SERVER_API_HOST": prefect.host,
            "PREFECT_SERVER_API_PORT": str(prefect.port),
            "PREFECT_UI_API_URL": prefect.api_url,
            "PREFECT_LOGGING_LOG_PRINTS": "false",
        }
    )
    quiet_prefect(env)
    env.pop("PREFECT_API_KEY", None)  # a Prefect Cloud key would take precedence over the credential (HTTP 401)
    credential = server_credential(state.settings)
    if credential is None:
        env.pop(SERVER_ENV, None)
        env.pop(CLIENT_ENV, None)
    else:
        env[SERVER_ENV] = env[CLIENT_ENV] = credential
    if prefect.database_url:
        env["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = prefect.database_url
    if state.settings.source is not None:
        env["DSR_CONFIG"] = str(state.settings.source.resolve())
    return env


def is_healthy(api_url: str, timeout: float = 2.0) -> bool:
    """Whether the Prefect API answers its health check."""
    try:
        with urllib.request.urlopen(f"{api_url}/health", timeout=timeout) as response:  # noqa: S310 - loopback URL from config
            return bool(response.status == 200)
    except OSError:
        return False


def api_status(api_url: str, credential: str | None, timeout: float = 5.0) -> int | None:
    """HTTP status of an authenticated API call (`GET /admin/version`) with `credential`; None if no answer.
    200: the server takes the credential (or needs none); 401: it refuses it."""
    request = urllib.request.Request(f"{api_url}/admin/version", headers=basic_auth_header(credential))  # noqa: S310 - loopback URL from config
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback URL from config
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return None


def deployment_names(api_url: str, credential: str | None = None) -> list[str]:
    """Names of the deployments the server knows (empty if it does not answer or refuses the credential)."""
    request = urllib.request.Request(  # noqa: S310 - loopback URL from config
        f"{api_url}/deployments/filter",
        data=b"{}",
        headers={"Content-Type": "application/json", **basic_auth_header(credential)},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback URL from config
            return [str(d["name"]) for d in json.loads(response.read())]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _spawn(argv: list[str], log: Path, env: dict[str, str]) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as fh:
        proc = subprocess.Popen(  # noqa: S603 - fixed argv: our interpreter and module names
            argv, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True, stdin=subprocess.DEVNULL
        )
    return proc.pid


@app.command()
def start(
    wait: Annotated[
        int, typer.Option("--wait", min=1, max=3600, help="Seconds to wait for the API to come up (1 to 3600).")
    ] = 90,
) -> None:
    """Start the Prefect server and serve every deployment; prints the UI address. The UI and API require the
    server's credential ([prefect].auth_file, created with mode 600 on first start) unless [prefect].auth is off."""
    prefect = state.settings.prefect
    check_binding(state.settings)
    existing = _read_state()
    if existing and any(_alive(pid) for pid in existing.get("pids", [])) and is_healthy(prefect.api_url):
        out.print(f"already running: UI at http://{prefect.host}:{prefect.port}")
        return
    if is_healthy(prefect.api_url):
        raise ConfigError(
            f"something else already answers on {prefect.api_url}; stop it or set [prefect].port",
            key="prefect.port",
        )
    env = server_env()
    seed_home(prefect.home, env)  # a new Prefect home starts from the migrated seed (`models.prefect_seed`)
    logs = state.state_dir() / "logs"
    server_pid = _spawn(
        [sys.executable, "-m", "prefect", "server", "start", "--host", prefect.host, "--port", str(prefect.port)],
        logs / "prefect-server.log",
        env,
    )
    pids = [server_pid]
    _write_state({"pids": pids, "api_url": prefect.api_url})
    deadline = time.monotonic() + wait
    while not is_healthy(prefect.api_url):
        if time.monotonic() > deadline or not _alive(server_pid):
            _stop_pids(pids)
            raise ConfigError(f"the Prefect server did not come up; see {logs / 'prefect-server.log'}", key="prefect")
        time.sleep(1)
    serve_pid = _spawn([sys.executable, "-m", "deployments.serve"], logs / "serve.log", env)
    pids.append(serve_pid)
    _write_state({"pids": pids, "api_url": prefect.api_url})
    expected = set(DEPLOYMENT_NAMES)
    while not expected <= set(deployment_names(prefect.api_url, env.get(CLIENT_ENV))):
        if time.monotonic() > deadline + wait or not _alive(serve_pid):
            _stop_pids(pids)
            raise ConfigError(f"the deployments were not served; see {logs / 'serve.log'}", key="prefect")
        time.sleep(1)
    err.print(f"Prefect server and deployments started (pids {', '.join(map(str, pids))}); logs in {logs}")
    _tell_sign_in()
    out.print(f"UI: http://{prefect.host}:{prefect.port}")


def _tell_sign_in() -> None:
    """Say where the UI's credential is (never the credential itself)."""
    if not state.settings.prefect.auth:
        err.print("authentication is off ([prefect].auth = false): anyone who reaches the port controls the server")
    elif os.environ.get(SERVER_ENV):
        err.print(f"the UI asks for the credential in {SERVER_ENV} (the whole `user:password` line)")
    else:
        err.print(f"the UI asks for the credential in {auth_file(state.settings)} (the whole `user:password` line)")


def _read_state() -> dict[str, list[int]] | None:
    path = _state_file()
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    pids = data.get("pids") if isinstance(data, dict) else None
    if not isinstance(pids, list) or not all(isinstance(pid, int) and pid > 1 for pid in pids):
        raise ConfigError(
            f"{path} is not a server state file written by `dsr server start`; stop any Prefect server by hand, "
            "then delete the file",
            key="server.json",
        )
    return {"pids": pids}


def _write_state(data: dict[str, object]) -> None:
    path = _state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(data), mode=0o600)


def _stop_pids(pids: list[int]) -> list[int]:
    stopped = []
    for pid in reversed(pids):
        if not _alive(pid):
            continue
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        stopped.append(pid)
    deadline = time.monotonic() + 15
    while any(_alive(p) for p in stopped) and time.monotonic() < deadline:
        time.sleep(0.3)
    for pid in stopped:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
    return stopped


@app.command()
def stop() -> None:
    """Stop what `dsr server start` started (by pid)."""
    data = _read_state()
    if not data:
        out.print("nothing to stop")
        return
    stopped = _stop_pids(list(data.get("pids", [])))
    _state_file().unlink(missing_ok=True)
    out.print(f"stopped {len(stopped)} process(es)" if stopped else "nothing was running")
