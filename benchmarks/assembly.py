"""Package assembly benchmark: how long assembling and sealing one Art. 15 package takes, in process.

Not a test, and not part of the fleet benchmark (which times whole `dsr request run` processes). It simulates
a fleet (`simulation.fleet.simulate_fleet`), submits one access request for the first planted subject,
scans every laptop with `services.access.scan_location` (not timed), then times
`services.access.assemble_package` (classify, learn and redact other people, write the package files, print
the PDF, run the release check, seal) and reports seconds, findings and the peak resident memory of the
process: overall, up to the end of the scans, and of the assembly alone (on Linux the peak is restarted when
the assembly starts). `--profile FILE` writes a cProfile of the assembly in CPU seconds (read it with
`python -m pstats FILE`).

Results go to the `assembly` section of `benchmarks/results.json` (`--results`); the default fleet (10
laptops x 30 MiB, seed 7) gives over 10,000 findings.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.machine import python_reference_s
from benchmarks.planted import submit_access

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _fleet(work: Path, laptops: int, size_mb: float, seed: int) -> Path:
    from simulation.fleet import simulate_fleet  # noqa: PLC0415 - after argument parsing (fast --help)

    fleet = work / "fleet"
    simulate_fleet(fleet, endpoints=laptops, size_mb=size_mb, seed=seed)
    config = fleet / "dsr.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("[database]", f'[access]\npackage_dir = "{work / "packages"}"\n\n[database]', 1))
    return config


def _cpu() -> tuple[float, float]:
    """CPU seconds of this process and of its waited-for children (the PDF browser, and the copies of this process
    the assembly forks: `services.forked`): less sensitive than wall time to other jobs on a shared machine."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def _vm_hwm_mb() -> float | None:
    """This process's peak resident memory so far (VmHWM), or None where /proc does not give it."""
    try:
        status = Path("/proc/self/status").read_text(encoding="ascii")
    except OSError:
        return None
    kb = next((line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return round(int(kb) / 1024, 1) if kb else None


def _reset_peak() -> bool:
    """Restart the peak (VmHWM) from the current resident memory (Linux `clear_refs`), so that the assembly's
    own peak is measured apart from the scans before it; False where that is not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5", encoding="ascii")
    except OSError:
        return False
    return True


def run(work: Path, laptops: int, size_mb: float, seed: int, profile: Path | None) -> dict[str, Any]:
    """Simulate, submit, scan (not timed), then assemble and seal the package (timed)."""
    reference_s = python_reference_s()  # before anything else runs in this process
    from models.settings import load_settings  # noqa: PLC0415
    from services import access  # noqa: PLC0415

    started = time.perf_counter()
    config = _fleet(work, laptops, size_mb, seed)
    _log(f"simulated {laptops} laptops x {size_mb:g} MiB in {time.perf_counter() - started:.1f} s")
    request_id = submit_access(config, 1, "benchmark: request from the employee's own account")[0]
    settings = load_settings(config)
    started = time.perf_counter()
    findings = 0
    for location in access.begin_access(settings, request_id):
        findings += access.scan_location(settings, request_id, location).findings
    scan_s = time.perf_counter() - started
    _log(f"scanned: {findings} findings in {scan_s:.1f} s; assembling")
    # CPU time, not wall time: on a shared machine waiting for a core would otherwise dominate every entry.
    profiler = cProfile.Profile(time.process_time) if profile is not None else None
    scan_peak = _vm_hwm_mb()
    reset = _reset_peak()
    cpu_before = _cpu()
    started = time.perf_counter()
    if profiler is not None:
        profiler.enable()
    result = access.assemble_package(settings, request_id, allow_incomplete_register=True)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    assembly_s = time.perf_counter() - started
    cpu_self, cpu_children = (after - before for after, before in zip(_cpu(), cpu_before, strict=True))
    return {
        "laptops": laptops,
        "size_mb": size_mb,
        "seed": seed,
        "findings": findings,
        "scan_s": round(scan_s, 2),
        "assembly_s": round(assembly_s, 2),
        "assembly_ms_per_finding": round(1000 * assembly_s / max(findings, 1), 3),
        "assembly_cpu_s": round(cpu_self, 2),
        "children_cpu_s": round(cpu_children, 2),
        "package_bytes": result.zip_path.with_name(f"{request_id}.zip.enc").stat().st_size,
        "peak_rss_mb": max(round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1), scan_peak or 0),
        "scan_peak_rss_mb": scan_peak,
        "assembly_peak_rss_mb": _vm_hwm_mb() if reset else None,
        "profiled": profile is not None,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "python_reference_s": reference_s,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and record it in the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--laptops", type=int, default=10)
    parser.add_argument("--size-mb", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile of the assembly here")
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--work", type=Path, default=None, help="work directory (default: a temporary one)")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="dsr-assembly-"))
    try:
        row = run(work, args.laptops, args.size_mb, args.seed, args.profile)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    _log(json.dumps(row))
    results = json.loads(args.results.read_text(encoding="utf-8")) if args.results.exists() else {}
    results["assembly"] = row
    args.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
