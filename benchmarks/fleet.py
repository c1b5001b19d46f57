"""The fleet benchmark (`make bench`, after the detection benchmark): what a privacy team waits for.

Owns the procedure and the `fleet` section of `benchmarks/results.json`. Not a test. For each fleet it runs
the product exactly as a user would, each command in a fresh process:

1. `dsr fleet simulate --out DIR --endpoints N --size-mb M --seed S` (not timed as part of the request);
2. `dsr request submit --kind access --identifiers -` with the first planted subject on standard input;
3. `dsr request waive-identity` when the command exists (the simulated request comes from an employee's
   authenticated account);
4. `dsr request run ID`, timed: wall time from process start to exit, including the start of Prefect's
   temporary server, and the peak resident memory of the run's process tree (the largest process of it,
   measured by a wrapper process that waits for the run and reads `RUSAGE_CHILDREN`);
5. package assembly time, read from the case database: from the last `access.location_scanned` event to the
   `access.package_issued` event (both written by the product itself), and the number of findings.

Fleets: 10, 100 and 500 small laptops, and 10 laptops of 30 MiB (about 10,000 findings). Options let a
shorter run pick other sizes. A failed run is recorded as failed with its exit code, never as a time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
DSR = [sys.executable, "-m", "dsr"]

#: (name, laptops, MiB per laptop)
DEFAULT_FLEETS: tuple[tuple[str, int, float], ...] = (
    ("10 small laptops", 10, 0.3),
    ("100 small laptops", 100, 0.3),
    ("500 small laptops", 500, 0.3),
    ("10 laptops x 30 MiB", 10, 30.0),
)

# Runs a command and prints its wall time and the peak RSS of its largest descendant (Linux ru_maxrss, KiB).
_WRAPPER = """
import resource, subprocess, sys, time, json
started = time.perf_counter()
done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"rc": done.returncode, "wall_s": wall, "peak_rss_kib": peak,
                  "stderr_tail": done.stderr.decode("utf-8", "replace").splitlines()[-3:]}))
"""


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _dsr(fleet: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*DSR, "--config", str(fleet / "dsr.toml"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=fleet,
        check=False,
    )


def _has_command(fleet: Path, group: str, command: str) -> bool:
    done = _dsr(fleet, group, "--help")
    return command in done.stdout


def _timed(fleet: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, *DSR, "--config", str(fleet / "dsr.toml"), *args],
        capture_output=True,
        text=True,
        cwd=fleet,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _assembly(fleet: Path, request_id: str) -> dict[str, Any]:
    """Package assembly seconds and findings, from the product's own audit events in the case database."""
    database = fleet / ".dsr" / "dsr.db"
    if not database.exists():
        return {"assembly_s": None, "findings": None}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT action, at, details FROM audit_events WHERE request_id = ? ORDER BY id", (request_id,)
        ).fetchall()
    scanned = [r for r in rows if r[0] == "access.location_scanned"]
    issued = [r for r in rows if r[0] == "access.package_issued"]
    findings = sum(int(json.loads(r[2]).get("findings") or 0) for r in scanned)
    if not scanned or not issued:
        return {"assembly_s": None, "findings": findings}
    last_scan = datetime.fromisoformat(str(max(r[1] for r in scanned)))
    done = datetime.fromisoformat(str(issued[-1][1]))
    return {"assembly_s": round((done - last_scan).total_seconds(), 2), "findings": findings}


def run_fleet(work: Path, name: str, laptops: int, size_mb: float, seed: int) -> dict[str, Any]:
    """Simulate one fleet, submit one access request for its first subject, and time the run."""
    fleet = work / f"fleet-{laptops}x{size_mb:g}"
    if fleet.exists():
        shutil.rmtree(fleet)
    _log(f"{name}: simulating {laptops} laptops x {size_mb:g} MiB")
    subprocess.run(
        [
            *DSR,
            "fleet",
            "simulate",
            "--out",
            str(fleet),
            "--endpoints",
            str(laptops),
            "--size-mb",
            str(size_mb),
            "--seed",
            str(seed),
        ],
        capture_output=True,
        check=True,
        cwd=work,
    )
    truth = json.loads((fleet / "truth.json").read_text(encoding="utf-8"))
    subject = truth["subjects"][0]
    identifiers = {"email": subject["emails"], "name": [subject["name"]], "phone": subject["phones"]}
    submitted = _dsr(
        fleet, "request", "submit", "--kind", "access", "--identifiers", "-", "--json", stdin=json.dumps(identifiers)
    )
    if submitted.returncode != 0:
        return {"name": name, "laptops": laptops, "size_mb": size_mb, "failed": submitted.stderr.strip()[-300:]}
    request_id = json.loads(submitted.stdout)["id"]
    if _has_command(fleet, "request", "waive-identity"):
        _dsr(fleet, "request", "waive-identity", request_id, "--reason", "request from the employee's own account")
    _log(f"{name}: dsr request run {request_id}")
    timed = _timed(fleet, "request", "run", request_id)
    row: dict[str, Any] = {
        "name": name,
        "laptops": laptops,
        "size_mb": size_mb,
        "exit_code": timed["rc"],
        "wall_s": round(timed["wall_s"], 2),
        "per_laptop_s": round(timed["wall_s"] / laptops, 3),
        "peak_rss_mb": round(timed["peak_rss_kib"] / 1024, 1),
        **_assembly(fleet, request_id),
    }
    if timed["rc"] != 0:
        row["stderr_tail"] = timed["stderr_tail"]
    shutil.rmtree(fleet, ignore_errors=True)
    _log(f"{name}: {json.dumps(row)}")
    return row


def _cli_latency(work: Path, runs: int) -> dict[str, Any]:
    """Wall time of commands that start no flow, in a fresh process each (median of `runs`)."""
    fleet = work / "cli-latency"
    fleet.mkdir(exist_ok=True)
    (fleet / "dsr.toml").write_text(
        '[controller]\nname = "Bench"\ncontact = "privacy@bench.example"\n'
        f'[database]\nurl = "sqlite:///{fleet / "dsr.db"}"\n',
        encoding="utf-8",
    )
    probe = json.dumps({"email": ["latency.probe@example.invalid"]})
    submitted = _dsr(fleet, "request", "submit", "--kind", "access", "--identifiers", "-", "--json", stdin=probe)
    request_id = json.loads(submitted.stdout)["id"] if submitted.returncode == 0 else "DSR-0000-0000"
    commands = {
        "dsr deadline 2026-01-31 --json": ["deadline", "2026-01-31", "--json"],
        "dsr request list": ["request", "list"],
        "dsr request show ID --json": ["request", "show", request_id, "--json"],
        "dsr hold list": ["hold", "list"],
        "dsr ledger verify": ["ledger", "verify"],
        "dsr --help": ["--help"],
    }
    out: dict[str, Any] = {}
    for label, args in commands.items():
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            _dsr(fleet, *args)
            times.append(time.perf_counter() - started)
        times.sort()
        out[label] = {"median_s": round(times[len(times) // 2], 3), "best_s": round(times[0], 3)}
    return out


def _versions() -> dict[str, str]:
    names = ("prefect", "sqlmodel", "presidio-analyzer", "paramiko", "boto3")
    found = {n: metadata.version(n) for n in names if _installed(n)}
    found["python"] = platform.python_version()
    return found


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
    except metadata.PackageNotFoundError:
        return False
    return True


def main(argv: list[str] | None = None) -> int:
    """Run the fleet table and the CLI latencies; merge them into results.json under `fleet`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fleet",
        action="append",
        default=[],
        metavar="LAPTOPSxMIB",
        help="a fleet to measure, e.g. 100x0.3 (repeatable; default: the four standard fleets)",
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--cli-runs", type=int, default=5)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    fleets = list(DEFAULT_FLEETS)
    if args.fleet:
        fleets = []
        for spec in args.fleet:
            count, _, size = spec.partition("x")
            fleets.append((f"{count} laptops x {size} MiB", int(count), float(size)))
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dsr-bench-") as tmp:
        work = Path(tmp)
        rows = [run_fleet(work, name, laptops, size, args.seed) for name, laptops, size in fleets]
        latency = _cli_latency(work, args.cli_runs)
    section = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "versions": _versions(),
        "fleets": rows,
        "cli_latency": latency,
    }
    results = json.loads(args.results.read_text(encoding="utf-8")) if args.results.exists() else {}
    results["fleet"] = section
    args.results.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(section, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
