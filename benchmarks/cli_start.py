"""`python -m benchmarks.cli_start [--runs 5] [--requests 6] [--database-url URL]`: how long the short commands
that start no flow take, each in a new process as a user runs it (`dsr deadline 2026-01-31 --json`, `dsr request
list`, `dsr request list --json`).

Against a simulated one-laptop fleet's configuration whose case database (its SQLite file, or the PostgreSQL
database of `--database-url`, which should be one of its own: requests are added to it) holds a few requests.
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
from pathlib import Path
from typing import Any

from models.db import dispose_engines
from models.settings import load_settings
from models.types import RequestKind
from services.intake import record_request
from simulation.fleet import simulate_fleet

COMMANDS = {
    "dsr deadline 2026-01-31 --json": ["deadline", "2026-01-31", "--json"],
    "dsr request list": ["request", "list"],
    "dsr request list --json": ["request", "list", "--json"],
}


def _dsr() -> list[str]:
    script = Path(sys.executable).with_name("dsr")
    return [str(script)] if script.exists() else [sys.executable, "-m", "dsr"]


def _prepare(out: Path, requests: int, env: dict[str, str]) -> Path:
    """A one-laptop fleet's configuration, its case database holding `requests` requests."""
    simulate_fleet(out, endpoints=1, size_mb=0.02, seed=5)
    config = out / "dsr.toml"
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
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        dispose_engines()
    return config


def _time(args: list[str], env: dict[str, str], runs: int) -> dict[str, float]:
    """Median and best wall seconds and median CPU seconds of `dsr ARGS` over `runs` new processes."""
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([*_dsr(), *args], env=env, capture_output=True, check=True, timeout=120)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return {
        "wall_median_s": round(statistics.median(walls), 3),
        "wall_best_s": round(min(walls), 3),
        "cpu_median_s": round(statistics.median(cpus), 3),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Measure every command of `COMMANDS`; print a Markdown table and the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--requests", type=int, default=6)
    parser.add_argument("--database-url", default=None, help="PostgreSQL database of its own (default: SQLite)")
    opts = parser.parse_args(argv)
    extra = {"DSR_DATABASE_URL": opts.database_url} if opts.database_url else {}
    with tempfile.TemporaryDirectory(prefix="dsr-cli-start-") as tmp:
        config = _prepare(Path(tmp) / "fleet", opts.requests, extra)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DSR_", "PREFECT_"))}
        env.update(extra, DSR_CONFIG=str(config))
        load_before = os.getloadavg()
        for args in COMMANDS.values():  # one unmeasured run each: byte-compiled files and page cache warm
            subprocess.run([*_dsr(), *args], env=env, capture_output=True, check=True, timeout=120)
        timings = {name: _time(args, env, opts.runs) for name, args in COMMANDS.items()}
        load_after = os.getloadavg()
    result = {
        "database": "postgresql" if opts.database_url else "sqlite",
        "runs": opts.runs,
        "requests": opts.requests,
        "cpus": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
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
