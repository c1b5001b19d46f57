"""`python -m benchmarks.cli_start [--runs 5] [--requests 6] [--database-url URL] [--only NAME]`: how long the
short commands that start no flow take, each in a new process as a user runs it: `dsr deadline`, `dsr request
list|show|submit|plan|approve`, `dsr hold list|add|release` and `dsr ledger verify|head|export`.

Against a simulated one-laptop fleet's configuration whose case database (its SQLite file, or the PostgreSQL
database of `--database-url`, which should be one of its own: requests and holds are added to it, the holds'
ids carry the run's start time so that a second run can use the same database) holds a few requests,
one more erasure request per run whose plan awaits a decision (each `approve` run decides a plan of its own) and
one legal hold per run to release; each `submit` run records a new request and each `hold add` run a new hold.
Prints, per command, the median and best wall time over the runs and the median CPU time (user + system) of the
process, with the machine's load average before and after: wall time on a shared machine depends on the other
jobs, CPU time much less. Writes nothing outside a temporary directory (and the database named).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import python_reference_s
from models.db import dispose_engines, session_scope
from models.holds import add_hold
from models.settings import load_settings
from models.types import RequestKind
from services import erasure
from services.intake import record_request
from simulation.fleet import simulate_fleet


@dataclass
class Fixture:
    """What the commands act on: the request shown and planned, one pending plan per `approve` run (request id,
    digest) and one hold per `hold release` run."""

    out: Path
    tag: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%d%H%M%S"))
    shown: str = ""
    pending: list[tuple[str, str]] = field(default_factory=list)
    holds: list[str] = field(default_factory=list)


def _submit(n: int, f: Fixture) -> list[str]:
    identifiers = str(f.out / f"identifiers-{n}.json")
    return ["request", "submit", "--kind", "access", "--identifiers-file", identifiers, "--json"]


def _approve(n: int, f: Fixture) -> list[str]:
    request_id, digest = f.pending[n]
    return ["request", "approve", request_id, "--by", "Benchmark Reviewer", "--digest", digest]


def _hold_add(n: int, f: Fixture) -> list[str]:
    scope = ["--reason", "litigation", "--case-reference", "C-1", "--approver", "Legal", "--review-date", "2027-01-01"]
    return ["hold", "add", "--id", f"LH-ADD-{f.tag}-{n}", *scope]


#: Command name -> its arguments for run N (0 is the unmeasured warm-up run) on the fixture.
COMMANDS: dict[str, Callable[[int, Fixture], list[str]]] = {
    "dsr deadline 2026-01-31 --json": lambda n, f: ["deadline", "2026-01-31", "--json"],
    "dsr request list": lambda n, f: ["request", "list"],
    "dsr request list --json": lambda n, f: ["request", "list", "--json"],
    "dsr request show ID": lambda n, f: ["request", "show", f.shown],
    "dsr request show ID --json": lambda n, f: ["request", "show", f.shown, "--json"],
    "dsr request submit --identifiers-file F": _submit,
    "dsr request plan ID": lambda n, f: ["request", "plan", f.shown],
    "dsr request plan ID --json": lambda n, f: ["request", "plan", f.shown, "--json"],
    "dsr request approve ID --by R --digest D": _approve,
    "dsr hold list": lambda n, f: ["hold", "list"],
    "dsr hold add --id ...": _hold_add,
    "dsr hold release ID --by B": lambda n, f: ["hold", "release", f.holds[n], "--by", "Legal"],
    "dsr ledger verify": lambda n, f: ["ledger", "verify"],
    "dsr ledger verify --json": lambda n, f: ["ledger", "verify", "--json"],
    "dsr ledger head FILE": lambda n, f: ["ledger", "head", str(f.out / f"head-{n}.json")],
}


def _dsr() -> list[str]:
    script = Path(sys.executable).with_name("dsr")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dsr"]


def _pending_plan(settings: Any, emails: list[str]) -> tuple[str, str]:
    """A new erasure request of the planted person whose plan awaits a decision: (id, digest)."""
    rid = record_request(
        settings, kind=RequestKind.ERASURE, emails=emails, channel="email", identity_waiver="benchmark"
    )
    for location in erasure.begin_erasure(settings, rid):
        erasure.discover_location(settings, rid, location)
    digest = erasure.make_plan(settings, rid).digest
    assert digest is not None  # noqa: S101 - a plan was just made
    return rid, digest


def _prepare(out: Path, requests: int, runs: int, env: dict[str, str]) -> tuple[Path, Fixture]:
    """A one-laptop fleet's configuration, its case database holding `requests` requests and what each command's
    runs act on."""
    simulate_fleet(out, endpoints=1, size_mb=0.02, seed=5)
    config = out / "dsr.toml"
    fixture = Fixture(out=out)
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = load_settings(config)
        for n in range(requests):
            record_request(
                settings,
                kind=RequestKind.ERASURE if n % 3 == 0 else RequestKind.ACCESS,
                emails=[f"person.{n}@example.invalid"],
                channel="email",
                identity_waiver="benchmark on synthetic data" if n % 2 else None,
            )
        emails = json.loads((out / "truth.json").read_text(encoding="utf-8"))["subjects"][0]["emails"]
        fixture.shown = _pending_plan(settings, emails)[0]
        fixture.pending = [_pending_plan(settings, emails) for _ in range(runs + 1)]
        with session_scope(settings.database.url) as session:
            for n in range(runs + 1):
                hold = add_hold(
                    session, settings, hold_id=f"LH-REL-{fixture.tag}-{n}", reason="litigation", case_reference="C-2",
                    approver="Legal", review_date=date(2027, 1, 1),
                )  # fmt: skip
                fixture.holds.append(hold.id)
        for n in range(runs + 1):
            identifiers = out / f"identifiers-{n}.json"
            identifiers.write_text(json.dumps({"email": [f"submitted.{n}@example.invalid"]}), encoding="utf-8")
            identifiers.chmod(0o600)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        dispose_engines()
    return config, fixture


def _run(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one `dsr ARGS` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([*_dsr(), *args], env=env, capture_output=True, check=False, timeout=120)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"dsr {' '.join(args[:2])} failed: {done.stderr.decode(errors='replace').strip()[-500:]}")
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def _time(name: str, env: dict[str, str], runs: int, fixture: Fixture) -> dict[str, float]:
    """Median and best wall seconds and median CPU seconds of command `name` over `runs` new processes, after
    one unmeasured run (byte-compiled files and page cache warm)."""
    _run(COMMANDS[name](0, fixture), env)
    measured = [_run(COMMANDS[name](n, fixture), env) for n in range(1, runs + 1)]
    walls, cpus = [w for w, _ in measured], [c for _, c in measured]
    return {
        "wall_median_s": round(statistics.median(walls), 3),
        "wall_best_s": round(min(walls), 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure every command of `COMMANDS` (or those `--only` names); print a Markdown table and the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=6)
    parser.add_argument("--database-url", default=None, help="PostgreSQL database of its own (default: SQLite)")
    parser.add_argument("--only", action="append", default=None, help="Only commands whose name contains this")
    opts = parser.parse_args(argv)
    names = [n for n in COMMANDS if not opts.only or any(part in n for part in opts.only)]
    extra = {"DSR_DATABASE_URL": opts.database_url} if opts.database_url else {}
    with tempfile.TemporaryDirectory(prefix="dsr-cli-start-") as tmp:
        config, fixture = _prepare(Path(tmp) / "fleet", opts.requests, opts.runs, extra)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DSR_", "PREFECT_"))}
        env.update(extra, DSR_CONFIG=str(config))
        load_before = os.getloadavg()
        timings = {name: _time(name, env, opts.runs, fixture) for name in names}
        load_after = os.getloadavg()
    result = {
        "database": "postgresql" if opts.database_url else "sqlite",
        "runs": opts.runs,
        "requests": opts.requests,
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "python_reference_s": python_reference_s(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "commands": timings,
    }
    print(f"| command ({result['database']}) | wall median (s) | wall best (s) | CPU median (s) |")
    print("|---|---|---|---|")
    for name, t in timings.items():
        print(f"| `{name}` | {t['wall_median_s']:.2f} | {t['wall_best_s']:.2f} | {t['cpu_median_s']:.2f} |")
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
