"""Which Prefect API a run uses, what every Prefect process is told (no telemetry), and a temporary server that
cannot start: one line naming the log and `dsr server start`, exit 1, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dsr import cli_server
from dsr.context import state
from dsr.prefect_api import server_environment, temporary_server
from models.prefect_env import QUIET_PREFECT_ENV, quiet_prefect
from models.settings import Settings

pytestmark = pytest.mark.timeout(600)

DSR = [sys.executable, "-m", "dsr"]
KEYS = {"DSR_HMAC_KEY": "11" * 32, "DSR_MASTER_KEY": "22" * 32}


def test_quiet_settings_turn_off_every_telemetry_channel() -> None:
    """The server heartbeat, SDK analytics, Cloud telemetry, resource metrics and promotional content are off."""
    env = quiet_prefect({"PREFECT_SERVER_ANALYTICS_ENABLED": "true", "DO_NOT_TRACK": "0"})
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert env["DO_NOT_TRACK"] == "1"
    assert env["PREFECT_CLOUD_ENABLE_ORCHESTRATION_TELEMETRY"] == "false"
    assert env["PREFECT_TELEMETRY_ENABLE_RESOURCE_METRICS"] == "false"


def test_the_names_are_prefect_settings() -> None:
    """Every forced name is a setting Prefect knows, and Prefect reads the forced value (no silent typo)."""
    from prefect.settings import Settings as PrefectSettings

    known = PrefectSettings().to_environment_variables(exclude_unset=False)
    names = [name for name in QUIET_PREFECT_ENV if name != "DO_NOT_TRACK"]
    assert [name for name in names if name not in known] == []
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from prefect.settings import Settings; "
            "print(json.dumps(Settings().to_environment_variables(exclude_unset=False)))",
        ],
        env=dict(quiet_prefect({k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")})),
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(probe.stdout.strip().splitlines()[-1])
    assert {name: str(seen[name]).lower() for name in names} == {name: QUIET_PREFECT_ENV[name] for name in names}


def test_server_environments_are_quiet_and_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A temporary server gets the configuration's Prefect home, no inherited API URL and no telemetry; so does
    the environment of `dsr server start`."""
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "true")
    settings = Settings.model_validate({"prefect": {"home": str(tmp_path / "pf")}})
    env = server_environment(settings)
    assert "PREFECT_API_URL" not in env
    assert env["PREFECT_HOME"] == str(tmp_path / "pf")
    assert {k: env[k] for k in QUIET_PREFECT_ENV} == QUIET_PREFECT_ENV
    state.reset()
    monkeypatch.setattr(state, "_settings", settings)
    served = cli_server.server_env()
    assert {k: served[k] for k in QUIET_PREFECT_ENV} == QUIET_PREFECT_ENV
    state.reset()


def test_a_temporary_server_that_cannot_start_is_one_line_with_the_fix(tmp_path: Path) -> None:
    """The temporary server exits (its database cannot be reached): `dsr request run` fails with one line naming
    the log and `dsr server start`, exit 1, no traceback, and no server is left."""
    config = tmp_path / "dsr.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "dsr.db"}"\n\n'
        "[prefect]\nport = 9\n"
        'database_url = "postgresql+asyncpg://nobody@127.0.0.1:9/none"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DSR_"))}
    env.update({**KEYS, "DSR_CONFIG": str(config)})
    people = tmp_path / "person.json"
    people.write_text(json.dumps({"email": ["zoe.angstrom@example.invalid"]}), encoding="utf-8")
    people.chmod(0o600)
    submitted = subprocess.run(
        [*DSR, "request", "submit", "--kind", "access", "--identifiers-file", str(people), "--json"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert submitted.returncode == 0, submitted.stderr
    rid = json.loads(submitted.stdout)["id"]
    waived = subprocess.run(
        [*DSR, "request", "waive-identity", rid, "--reason", "request from the employee's authenticated account"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert waived.returncode == 0, waived.stderr
    done = subprocess.run(
        [*DSR, "request", "run", rid], env=env, cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "temporary Prefect server" in lines[0] and "dsr server start" in lines[0]
    assert "prefect-temp-server.log" in lines[0]
    assert "Traceback" not in done.stdout + done.stderr
    assert (tmp_path / ".dsr" / "logs" / "prefect-temp-server.log").exists()


def _temp_servers_of(parent: int) -> list[int]:
    """Live `deployments.temp_server` processes whose parent is `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
            argv = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[1]) == parent and b"deployments.temp_server" in argv:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_command_works_while_the_temporary_server_boots_and_a_failure_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`meanwhile` (the command's own imports) runs once the server process exists, before it is waited for;
    if it fails, the failure propagates and no server is left."""
    monkeypatch.chdir(tmp_path)
    settings = Settings.model_validate(
        {"database": {"url": f"sqlite:///{tmp_path / 'dsr.db'}"}, "prefect": {"home": str(tmp_path / "pf")}}
    )
    seen: list[list[int]] = []

    def meanwhile() -> None:
        seen.append(_temp_servers_of(os.getpid()))
        raise RuntimeError("import failed")

    with pytest.raises(RuntimeError, match="import failed"), temporary_server(settings, meanwhile):
        pytest.fail("the block must not run when `meanwhile` fails")
    assert len(seen) == 1 and len(seen[0]) == 1, seen
    assert _temp_servers_of(os.getpid()) == []
