"""The fleet benchmark (`make bench`, after the detection benchmark): what a privacy team waits for.

Owns the procedure and the `fleet` section of `benchmarks/results.json`. Not a test. For each fleet it runs
the product exactly as a user would, each command in a fresh process:

1. `dsr fleet simulate --out DIR --endpoints N --size-mb M --seed S` (not timed as part of the request);
2. `dsr request submit --kind access --identifiers -` with the first planted subject on standard input;
3. `dsr request waive-identity` when the command exists (the simulated request comes from an employee's
   authenticated account);
4. `dsr request run ID`, timed: wall time from process start to exit, including the start of Prefect's
   temporary server. Memory is sampled every 0.2 s from `/proc` over the run's process tree: the peak
   resident memory (VmHWM) of the run's own process (where the flow and its tasks run), of the temporary
   Prefect server, of the largest Chromium process (the package's PDF) and of the largest copy of the run the
   package assembly forks (`services.forked`: a copy counts the pages it shares with the run, so its resident
   memory overstates what it adds), and the largest sum over the tree
   at one moment (proportional set size, so pages forked processes share count once); `ru_maxrss` of the
   finished run (its largest single process) is recorded too, and the run process's largest sample up to the
   last scan (the fan-out alone, before package assembly);
5. from the product's own audit events in the case database: the start (process start to the first
   `access.location_scanned`: imports, server start, flow start and the first scan), the scans (first to
   last `access.location_scanned`), package assembly (last scan to `access.package_issued`, or to the
   release check that blocked it), the number of findings and whether the package was issued.

Fleets: 10, 100 and 500 small laptops, and 10 laptops of 30 MiB (about 10,000 findings). Options let a
shorter run pick other sizes and set `[access].locations_per_task`. A failed run is recorded as failed with
its exit code, never as a time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.machine import python_reference_s

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
DSR = [sys.executable, "-m", "dsr"]

#: (name, laptops, MiB per laptop, `[access].locations_per_task`)
DEFAULT_FLEETS: tuple[tuple[str, int, float, int], ...] = (
    ("10 small laptops", 10, 0.3, 1),
    ("100 small laptops", 100, 0.3, 1),
    ("500 small laptops", 500, 0.3, 1),
    ("10 laptops x 30 MiB", 10, 30.0, 1),
)

#: Seconds between two samples of the run's process tree.
SAMPLE_EVERY_S = 0.2


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


class _TreeSampler(threading.Thread):
    """Samples the memory of a process and its descendants from /proc until stopped (Linux)."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.hwm_kib: dict[int, int] = {}
        self.roles: dict[int, str] = {}
        self.tree_peak_kib = 0
        self.run_rss: list[tuple[datetime, int]] = []  # (when, the run process's resident KiB)
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(SAMPLE_EVERY_S)

    def sample(self) -> None:
        total = 0
        for pid in _descendants(self.root):
            status = _status(pid)
            if not status:
                continue
            self.hwm_kib[pid] = max(self.hwm_kib.get(pid, 0), status.get("VmHWM", 0))
            total += _pss_kib(pid) or status.get("VmRSS", 0)
            if pid == self.root:
                self.run_rss.append((datetime.now(UTC), status.get("VmRSS", 0)))
            if pid not in self.roles:
                self.roles[pid] = _role(pid, self.root)
        self.tree_peak_kib = max(self.tree_peak_kib, total)

    def peak_mb(self, role: str) -> float | None:
        peaks = [kib for pid, kib in self.hwm_kib.items() if self.roles.get(pid) == role]
        return round(max(peaks) / 1024, 1) if peaks else None


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        ppid = int(stat.rpartition(")")[2].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _status(pid: int) -> dict[str, int]:
    try:
        text = Path(f"/proc/{pid}/status").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    fields = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            fields[name] = int(value.split()[0])
    return fields


def _pss_kib(pid: int) -> int:
    """Proportional set size: forked processes (Chromium's) share pages, which a sum of RSS would count twice."""
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def _role(pid: int, root: int) -> str:
    if pid == root:
        return "run"
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        argv = raw.split(b"\0")
    except OSError:
        return "other"
    if b"deployments.temp_server" in argv:
        return "prefect_server"
    if b"chromium" in argv[0]:
        return "chromium"
    with contextlib.suppress(OSError):  # a copy of the run forked by the assembly (`services.forked`)
        if raw == Path(f"/proc/{root}/cmdline").read_bytes():
            return "run_fork"
    return "other"


def _timed(fleet: Path, *args: str) -> dict[str, Any]:
    """Run a command, sampling its process tree's memory; wall time, exit code, peaks and the stderr tail."""
    with tempfile.TemporaryFile() as stderr:
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*DSR, "--config", str(fleet / "dsr.toml"), *args],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            cwd=fleet,
        )
        sampler = _TreeSampler(proc.pid)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        sampler.halt.set()
        sampler.join()
        stderr.seek(0)
        tail = stderr.read().decode("utf-8", "replace").splitlines()[-3:]
    return {
        "rc": proc.returncode,
        "started_at": started_at,
        "wall_s": wall,
        "peak_rss_mb": sampler.peak_mb("run"),
        "prefect_server_peak_rss_mb": sampler.peak_mb("prefect_server"),
        "chromium_peak_rss_mb": sampler.peak_mb("chromium"),
        "forked_peak_rss_mb": sampler.peak_mb("run_fork"),
        "tree_peak_pss_mb": round(sampler.tree_peak_kib / 1024, 1),
        "largest_process_peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "stderr_tail": tail,
        "run_rss": sampler.run_rss,
    }


def _phases(fleet: Path, request_id: str, started_at: datetime) -> dict[str, Any]:
    """Start, scan and package assembly seconds, findings and the outcome, from the product's own audit
    events in the case database (timestamps in UTC)."""
    database = fleet / ".dsr" / "dsr.db"
    out: dict[str, Any] = {"start_s": None, "scan_s": None, "assembly_s": None, "findings": None, "issued": False}
    if not database.exists():
        return out
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
        rows = conn.execute(
            "SELECT action, at, details, outcome FROM audit_events WHERE request_id = ? ORDER BY id", (request_id,)
        ).fetchall()
    scanned = [r for r in rows if r[0] == "access.location_scanned"]
    ended = [r for r in rows if r[0] == "access.package_issued" or (r[0], r[3]) == ("access.release_check", "blocked")]
    out["findings"] = sum(int(json.loads(r[2]).get("findings") or 0) for r in scanned)
    if not scanned:
        return out
    first, last = (_utc(str(x)) for x in (min(r[1] for r in scanned), max(r[1] for r in scanned)))
    out["last_scan_at"] = last
    out["start_s"] = round((first - started_at).total_seconds(), 2)
    out["scan_s"] = round((last - first).total_seconds(), 2)
    if ended:
        out["assembly_s"] = round((_utc(str(ended[-1][1])) - last).total_seconds(), 2)
        out["issued"] = ended[-1][0] == "access.package_issued"
        if not out["issued"]:
            out["blocked"] = "release_check"
    return out


def _peak_until(samples: list[tuple[datetime, int]], until: datetime | None) -> float | None:
    """The run process's largest sampled resident memory up to `until` (the scans, before assembly)."""
    seen = [kib for when, kib in samples if until is not None and when <= until]
    return round(max(seen) / 1024, 1) if seen else None


def _utc(value: str) -> datetime:
    stamp = datetime.fromisoformat(value)
    return stamp if stamp.tzinfo is not None else stamp.replace(tzinfo=UTC)


def _simulate(work: Path, laptops: int, size_mb: float, seed: int, per_task: int) -> Path:
    """A fresh simulated fleet with its configuration (`[access].locations_per_task` set when above 1)."""
    fleet = work / f"fleet-{laptops}x{size_mb:g}"
    if fleet.exists():
        shutil.rmtree(fleet)
    argv = ["fleet", "simulate", "--out", str(fleet), "--endpoints", str(laptops), "--size-mb", str(size_mb)]
    subprocess.run([*DSR, *argv, "--seed", str(seed)], capture_output=True, check=True, cwd=work)
    with (fleet / "dsr.toml").open("a", encoding="utf-8") as config:
        # A port nothing listens on: the run starts its own temporary server, never another one on this machine.
        config.write(f"\n[prefect]\nport = {_free_port()}\n")
        if per_task > 1:
            config.write(f"\n[access]\nlocations_per_task = {per_task}\n")
    return fleet


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_fleet(work: Path, name: str, laptops: int, size_mb: float, seed: int, per_task: int = 1) -> dict[str, Any]:
    """Simulate one fleet, submit one access request for its first subject, and time the run."""
    _log(f"{name}: simulating {laptops} laptops x {size_mb:g} MiB")
    fleet = _simulate(work, laptops, size_mb, seed, per_task)
    truth = json.loads((fleet / "truth.json").read_text(encoding="utf-8"))
    subject = truth["subjects"][0]
    identifiers = {"email": subject["emails"], "name": [subject["name"]], "phone": subject["phones"]}
    submitted = _dsr(
        fleet, "request", "submit", "--kind", "access", "--identifiers", "-", "--json", stdin=json.dumps(identifiers)
    )
    head = {"name": name, "laptops": laptops, "size_mb": size_mb, "locations_per_task": per_task}
    if submitted.returncode != 0:
        return {**head, "failed": submitted.stderr.strip()[-300:]}
    request_id = json.loads(submitted.stdout)["id"]
    if _has_command(fleet, "request", "waive-identity"):
        _dsr(fleet, "request", "waive-identity", request_id, "--reason", "request from the employee's own account")
    _log(f"{name}: dsr request run {request_id}")
    timed = _timed(fleet, "request", "run", request_id)
    row: dict[str, Any] = {
        **head,
        "exit_code": timed["rc"],
        "wall_s": round(timed["wall_s"], 2),
        "per_laptop_s": round(timed["wall_s"] / laptops, 3),
        "peak_rss_mb": timed["peak_rss_mb"],
        "prefect_server_peak_rss_mb": timed["prefect_server_peak_rss_mb"],
        "chromium_peak_rss_mb": timed["chromium_peak_rss_mb"],
        "forked_peak_rss_mb": timed["forked_peak_rss_mb"],
        "tree_peak_pss_mb": timed["tree_peak_pss_mb"],
        "largest_process_peak_rss_mb": timed["largest_process_peak_rss_mb"],
        **_phases(fleet, request_id, timed["started_at"]),
    }
    row["peak_rss_until_last_scan_mb"] = _peak_until(timed["run_rss"], row.pop("last_scan_at", None))
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


def _fleets(specs: list[str]) -> list[tuple[str, int, float, int]]:
    """The fleets to measure: the standard ones, or `LAPTOPSxMIB[/PER_TASK]` specs."""
    if not specs:
        return list(DEFAULT_FLEETS)
    fleets = []
    for spec in specs:
        shape, _, per_task = spec.partition("/")
        count, _, size = shape.partition("x")
        batch = f", {per_task} per task" if per_task else ""
        fleets.append((f"{count} laptops x {size} MiB{batch}", int(count), float(size), int(per_task or 1)))
    return fleets


def _machine(load_before: tuple[float, float, float], reference_s: float) -> dict[str, Any]:
    cpu = platform.machine()
    with contextlib.suppress(OSError):
        for row in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if row.startswith("model name"):
                cpu = row.split(":", 1)[1].strip()
                break
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1),
        "platform": platform.platform(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "python_reference_s": reference_s,
    }


def _write(path: Path, section: dict[str, Any]) -> None:
    results = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    results["fleet"] = section
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Run the fleet table and the CLI latencies; merge them into results.json under `fleet` (after every
    fleet, so that an interrupted run keeps what it measured)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--fleet",
        action="append",
        default=[],
        metavar="LAPTOPSxMIB[/PER_TASK]",
        help="a fleet to measure, e.g. 100x0.3 or 500x0.3/25 (25 laptops per scan task; repeatable; default: "
        "the standard fleets)",
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--cli-runs", type=int, default=5)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    load_before = os.getloadavg()
    reference_s = python_reference_s()  # once, before the fleets, at the load the run starts with
    section: dict[str, Any] = {"versions": _versions(), "fleets": []}
    with tempfile.TemporaryDirectory(prefix="dsr-bench-") as tmp:
        work = Path(tmp)
        for name, laptops, size, per_task in _fleets(args.fleet):
            section["fleets"].append(run_fleet(work, name, laptops, size, args.seed, per_task))
            section["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
            section["machine"] = _machine(load_before, reference_s)
            _write(args.results, section)
        if args.cli_runs > 0:
            section["cli_latency"] = _cli_latency(work, args.cli_runs)
    section["machine"] = _machine(load_before, reference_s)
    _write(args.results, section)
    print(json.dumps(section, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
