"""`make demo`: the whole product on embedded defaults, left running for the privacy team to explore.

Generates a simulated fleet (some laptops as local trees, some behind real sshd when OpenSSH is installed,
one S3 backup store on a local moto server), starts the Prefect server with every deployment, submits an
access and an erasure request for a planted person, follows them, and leaves the UI at
http://127.0.0.1:4200 with the access package issued and the erasure paused at its approval form.
`make demo-stop` (`python -m dsr.demo --stop`) ends every process it started, by pid.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

from models import cases
from models.db import session_scope
from models.files import atomic_write
from models.flow_names import ACCESS_DEPLOYMENT, ERASURE_DEPLOYMENT
from models.prefect_env import quiet_prefect
from models.server_auth import CLIENT_ENV, auth_file, client_credential
from models.settings import load_settings
from models.types import RequestKind
from simulation.fleet import simulate_fleet
from simulation.register import EXAMPLE_REGISTER
from simulation.services import (
    seed_backup_bucket,
    sshd_available,
    start_s3_server,
    start_sshd_laptops,
    stop_pids,
    write_state,
)

console = Console(stderr=True)
DEMO_DIR = Path(os.environ.get("DSR_DEMO_DIR", ".dsr/demo")).resolve()
DEMO_PORT = int(os.environ.get("DSR_DEMO_PORT", "4200"))
STATE = DEMO_DIR / "demo.json"
LAPTOPS = 6
SSH_LAPTOPS = 2
BUCKET = "corp-agent-backups"
PREFIX = "laptops/"
REGISTER = EXAMPLE_REGISTER


def _config(fleet: Path, truth: dict[str, object], ssh: dict[str, str], key: Path | None, known: Path | None,
            s3_url: str) -> str:  # fmt: skip
    lines = [
        "# Written by `make demo`: a simulated fleet on this machine.",
        "[controller]",
        'name = "Example Corp Ltd"',
        'contact = "privacy@corp.example"',
        'timezone = "Europe/London"',
        'calendar = "GB-ENG"',
        'region = "GB"',
        "[controller.authority]",
        'name = "Information Commissioner\'s Office (ICO)"',
        'contact = "https://ico.org.uk/make-a-complaint/ , 0303 123 1113"',
        "[database]",
        f'url = "sqlite:///{DEMO_DIR / "dsr.db"}"',
        "[access]",
        f'package_dir = "{DEMO_DIR / "packages"}"',
        "issue_with_gaps_days_before_deadline = 3",
        "[prefect]",
        f'home = "{DEMO_DIR / "prefect"}"',
        f"port = {DEMO_PORT}",
    ]
    if key is not None and known is not None:
        lines += ["[ssh]", f'key_file = "{key}"', f'known_hosts = "{known}"']
    endpoints = truth["endpoints"]
    assert isinstance(endpoints, list)  # noqa: S101 - truth.json written by the simulator
    for endpoint in endpoints:
        name = endpoint["name"]
        url = ssh.get(name) or f"file://{fleet / name}"
        lines += ["[[endpoints]]", f'name = "{name}"', f'url = "{url}"', f'os = "{endpoint["os"]}"']
        if endpoint.get("owner"):
            lines.append(f'owner = "{endpoint["owner"]}"')
    lines += [
        "[[stores]]",
        'name = "history-backups"',
        f'url = "s3://{BUCKET}/{PREFIX}"',
        f'endpoint_url = "{s3_url}"',
    ]
    return "\n".join(lines) + "\n" + REGISTER


def _dsr(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    result = subprocess.run(  # noqa: S603 - fixed argv of our own CLI
        [sys.executable, "-m", "dsr", *args], env=env, input=stdin, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        console.print(f"[red]dsr {' '.join(args[:2])} failed:[/red] {result.stderr.strip()}")
        raise SystemExit(result.returncode)
    return result.stdout


def stop() -> None:
    """Stop the Prefect server, the serve process, sshd laptops and the S3 server started by the demo."""
    if (DEMO_DIR / "dsr.toml").exists():
        env = {**os.environ, "DSR_CONFIG": str(DEMO_DIR / "dsr.toml")}
        subprocess.run([sys.executable, "-m", "dsr", "server", "stop"], env=env, check=False)
    if STATE.exists():
        pids = json.loads(STATE.read_text(encoding="utf-8")).get("pids", [])
        console.print(f"stopped {stop_pids(pids)} demo service process(es)")
        STATE.unlink()


DEMO_WAIVER = "request from the employee's authenticated account"


def _submit(kind: RequestKind, person: dict[str, object], env: dict[str, str]) -> str:
    """Record a request as a privacy team would: `dsr request submit --identifiers -`, identifiers on stdin.

    Standard input keeps the planted person's identifiers out of the process list (arguments are readable
    by every local user in /proc/<pid>/cmdline); `--identifiers-file FILE` (mode 0600) does the same.
    """
    document = {
        "email": [str(e) for e in person["emails"]],  # type: ignore[attr-defined]
        "name": [str(person["name"])],
        "phone": [str(p) for p in person["phones"]],  # type: ignore[attr-defined]
        "user_id": [str(u) for u in person["user_ids"]],  # type: ignore[attr-defined]
    }
    out = _dsr("request", "submit", "--kind", kind.value, "--identifiers", "-", "--channel", "web-form", "--json",
               env=env, stdin=json.dumps(document))  # fmt: skip
    request_id = str(json.loads(out)["id"])
    # The planted employee asked from their own signed-in account: no identity documents are asked for.
    _dsr("request", "waive-identity", request_id, "--reason", DEMO_WAIVER, env=env)
    return request_id


def _wait_for(request_id: str, statuses: set[str], timeout: float) -> str:
    settings = load_settings(DEMO_DIR / "dsr.toml")
    deadline = time.monotonic() + timeout
    status = "?"
    with console.status(f"{request_id}: waiting for {' or '.join(sorted(statuses))} ...") as spinner:
        while time.monotonic() < deadline:
            with session_scope(settings.database.url) as session:
                request = cases.get_request(session, request_id)
                status = request.status
                scans = cases.location_scans(session, request_id)
            done = sum(1 for s in scans if s.status not in ("pending",))
            spinner.update(f"{request_id}: {status}, locations {done}/{len(scans)} ...")
            if status in statuses:
                return status
            time.sleep(1.5)
    return status


def main() -> None:
    """Run the demo (or stop it with --stop)."""
    parser = argparse.ArgumentParser(prog="python -m dsr.demo", description=__doc__)
    parser.add_argument("--stop", action="store_true", help="stop everything the demo started")
    parser.add_argument("--no-wait", action="store_true", help="do not wait for the runs (for tests)")
    args = parser.parse_args()
    if args.stop:
        stop()
        return
    stop()
    if DEMO_DIR.exists():
        shutil.rmtree(DEMO_DIR)
    DEMO_DIR.mkdir(parents=True, mode=0o700)
    console.rule("dsr-orchestrator demo")
    console.print(f"1/6  Simulating {LAPTOPS} laptops with Claude Cowork and Claude Code histories ...")
    fleet = DEMO_DIR / "fleet"
    simulate_fleet(fleet, endpoints=LAPTOPS, size_mb=0.5, seed=2026)
    truth = json.loads((fleet / "truth.json").read_text(encoding="utf-8"))
    pids: list[int] = []
    try:
        ssh_urls, key, known = _start_laptops(fleet, pids)
        s3_url = _start_backup_store(fleet, pids)
        write_state(STATE, {"pids": pids})
        atomic_write(DEMO_DIR / "dsr.toml", _config(fleet, truth, ssh_urls, key, known, s3_url), mode=0o644)
        env = {**os.environ, "DSR_CONFIG": str(DEMO_DIR / "dsr.toml")}
        console.print("4/6  Starting the Prefect server and serving every deployment ...")
        console.print(_dsr("server", "start", env=env).strip())
        access_id, erasure_id = _run_requests(truth["subjects"][0], env, wait=not args.no_wait)
    except BaseException:
        console.print("[red]the demo failed; stopping what it started[/red]")
        stop()
        raise
    _explain(access_id, erasure_id)


def _start_laptops(fleet: Path, pids: list[int]) -> tuple[dict[str, str], Path | None, Path | None]:
    """Step 2: the last laptops as real OpenSSH servers on loopback, when sshd is there; their pids are added
    to `pids`. Returns the laptops' URLs, the client key and the known-hosts file."""
    if not sshd_available():
        console.print("2/6  OpenSSH server not installed (or not root): every laptop is a local tree")
        return {}, None, None
    names = [f"laptop-{i:02d}" for i in range(LAPTOPS - SSH_LAPTOPS + 1, LAPTOPS + 1)]
    console.print(f"2/6  Starting real OpenSSH laptops for {', '.join(names)} on loopback ...")
    laptops, key, known = start_sshd_laptops({n: fleet / n for n in names}, DEMO_DIR / "ssh")
    pids += [lap.pid for lap in laptops]
    return {lap.name: lap.url for lap in laptops}, key, known


def _start_backup_store(fleet: Path, pids: list[int]) -> str:
    """Step 3: a local S3 server with a versioned bucket of history backups; its pid is added to `pids`."""
    console.print("3/6  Starting a local S3 server with a versioned bucket of history backups ...")
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "demo")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    s3_url, s3_pid = start_s3_server(DEMO_DIR / "s3")
    pids.append(s3_pid)
    sources = {
        f"laptop-01/{path.name}": path
        for path in sorted((fleet / "laptop-01").rglob("*.jsonl"))[:4]
        if "zoe" in path.read_text(errors="replace").lower()
    }
    sources[f"laptop-02/{(fleet / 'laptop-02').name}-notes.md"] = next((fleet / "laptop-02").rglob("*.md"))
    seed_backup_bucket(s3_url, BUCKET, PREFIX, sources)
    return s3_url


def _run_requests(person: dict[str, object], env: dict[str, str], *, wait: bool) -> tuple[str, str]:
    """Steps 5 and 6: submit an access and an erasure request for the planted person, start their runs and
    (when `wait`) follow them."""
    console.print(f"5/6  Submitting an access and an erasure request for the planted person ({person['key']}) ...")
    access_id = _submit(RequestKind.ACCESS, person, env)
    erasure_id = _submit(RequestKind.ERASURE, person, env)
    _doctor(env)
    settings = load_settings(DEMO_DIR / "dsr.toml")
    api_env = dict(quiet_prefect({**env, "PREFECT_API_URL": settings.prefect.api_url}))
    api_env.pop("PREFECT_API_KEY", None)
    credential = client_credential(settings)  # the server's credential, created by `dsr server start`
    if credential is not None:
        api_env[CLIENT_ENV] = credential
    for rid, deployment in (
        (access_id, ACCESS_DEPLOYMENT),
        (erasure_id, ERASURE_DEPLOYMENT),
    ):
        _trigger(deployment, rid, api_env)
    if wait:
        console.print("6/6  Following the runs (the UI shows them too) ...")
        access_status = _wait_for(access_id, {"completed"}, 600)
        erasure_status = _wait_for(erasure_id, {"awaiting_approval"}, 600)
        console.print(f"     {access_id}: {access_status}   {erasure_id}: {erasure_status}")
    return access_id, erasure_id


def _doctor(env: dict[str, str]) -> None:
    """Show `dsr doctor` on the demo's configuration (what a team runs after setting up)."""
    console.print("     Checking the set-up with `dsr doctor` ...")
    result = subprocess.run(
        [sys.executable, "-m", "dsr", "doctor"], env=env, capture_output=True, text=True, check=False
    )
    for line in result.stdout.splitlines():
        console.print(f"     {line}", markup=False, highlight=False, soft_wrap=True)
    if result.returncode != 0:
        console.print("     [yellow]dsr doctor found a problem (above); the demo goes on[/yellow]")


def _trigger(deployment: str, request_id: str, env: dict[str, str]) -> None:
    code = (
        "import sys; from prefect.deployments import run_deployment; "
        "run_deployment(sys.argv[1], parameters={'request_id': sys.argv[2]}, timeout=0)"
    )
    subprocess.run([sys.executable, "-c", code, deployment, request_id], env=env, check=True)  # noqa: S603 - our interpreter, constant code; ids as argv items, no shell


def _explain(access_id: str, erasure_id: str) -> None:
    settings = load_settings(DEMO_DIR / "dsr.toml")
    ui = f"http://{settings.prefect.host}:{settings.prefect.port}"
    config = DEMO_DIR / "dsr.toml"
    console.rule("the demo is running")
    console.print(
        f"""
[bold]Prefect UI:[/bold] {ui}
  It asks for the server's credential: the whole `user:password` line of {auth_file(settings)}
  (mode 600, created by `dsr server start`; `cat` it and paste it once per browser).

  * Runs -> [bold]{access_id}-access[/bold]: the access request, finished. Its Artifacts tab has the progress,
    the per-laptop table and the summary (statuses and counts only; no personal data ever reaches Prefect).
  * Runs -> [bold]{erasure_id}-erasure[/bold]: paused. Open it, read the [italic]erasure-plan[/italic] artifact,
    and [italic]erasure-plan-detail[/italic] artifacts (every item with its action and reason), then click
    [bold]Resume[/bold]: the form shows the plan's digest and asks for approval, your name (required) and a note.
    Tick approved and submit: the approval is signed into the proof ledger, the run erases, re-scans to verify
    (each result a signed ledger entry), and writes the deletion certificate.
  * Deployments: start any flow with only a request id (access-request, erasure-request, access-sweep).

[bold]From the command line[/bold] (export DSR_CONFIG={config}; and, unless your shell has AWS credentials of its own,
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=us-east-1 for the local S3 server):
  .venv/bin/dsr doctor                                                    # checks the whole set-up
  .venv/bin/dsr request submit --kind access --identifiers-file person.json   # chmod 600 person.json first
  .venv/bin/dsr request waive-identity ID --reason "request from the employee's authenticated account"
  .venv/bin/dsr request list
  .venv/bin/dsr request show {access_id}
  .venv/bin/dsr request export {access_id} --out .dsr/demo/delivered    # decrypts the sealed package
  .venv/bin/dsr request plan {erasure_id} --detail                      # every item and the plan's digest
  .venv/bin/dsr request approve {erasure_id} --by "Your Name" --digest HEX  # same as the UI form
  .venv/bin/dsr request certificate {erasure_id} --open                   # once the erasure completed
  .venv/bin/dsr ledger verify
  .venv/bin/dsr stats                                                     # accountability figures

The access package is sealed (AES-GCM) at {DEMO_DIR / "packages"}/{access_id}.zip.enc.
Stop everything with: [bold]make demo-stop[/bold]
"""
    )


if __name__ == "__main__":
    main()
