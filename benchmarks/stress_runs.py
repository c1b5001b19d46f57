"""`python -m benchmarks.stress_runs [--runs 20] [--parallel 2] [--laptops 3]`: many `dsr request run` while a
CPU-bound process runs, each starting its own temporary Prefect server (no `dsr server start`).

A stress script, not a test: it reports how many runs completed, how many failed and why (first line of
stderr), whether any output line mentions telemetry or holds a traceback, wall time per run, and whether any
process with the fleet's Prefect home is left afterwards. Writes nothing outside a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.planted import submit_access
from models.settings import load_settings
from simulation.fleet import simulate_fleet

DSR = [sys.executable, "-m", "dsr"]
HOG = "while True:\n    pass\n"


def _run(config: Path, rid: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DSR_"))}
    env["DSR_CONFIG"] = str(config)
    started = time.monotonic()
    done = subprocess.run(
        [*DSR, "request", "run", rid], env=env, cwd=config.parent, capture_output=True, text=True, check=False
    )
    output = done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    return {
        "id": rid,
        "code": done.returncode,
        "seconds": round(time.monotonic() - started, 1),
        "completed": f"{rid}: completed" in done.stdout,
        "telemetry_lines": sum(1 for line in output.splitlines() if "telemetry" in line.lower()),
        "traceback": "Traceback" in output,
        "error": errors[0] if errors else None,
    }


def _leftovers(home: Path) -> list[int]:
    marker = b"PREFECT_HOME=" + str(home).encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def main() -> None:
    """Simulate a small fleet, submit the requests, run them under CPU load, print a JSON report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--laptops", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dsr-stress-") as tmp:
        root = Path(tmp)
        simulate_fleet(root / "fleet", endpoints=args.laptops, size_mb=0.05, seed=5)
        config = root / "fleet" / "dsr.toml"
        with config.open("a", encoding="utf-8") as fh:
            fh.write(f'\n[access]\npackage_dir = "{root / "packages"}"\n\n[prefect]\nport = 9\n')
        ids = submit_access(config, args.runs, "stress run on synthetic data")
        hog = subprocess.Popen([sys.executable, "-c", HOG])
        started = time.monotonic()
        try:
            with ThreadPoolExecutor(max_workers=args.parallel) as pool:
                results = list(pool.map(lambda rid: _run(config, rid), ids))
        finally:
            hog.kill()
            hog.wait()
        report = {
            "runs": args.runs,
            "parallel": args.parallel,
            "laptops": args.laptops,
            "cpu_bound_process": True,
            "wall_seconds": round(time.monotonic() - started, 1),
            "completed": sum(1 for r in results if r["completed"]),
            "failed": [r for r in results if not r["completed"]],
            "telemetry_lines": sum(r["telemetry_lines"] for r in results),
            "tracebacks": sum(1 for r in results if r["traceback"]),
            "seconds_per_run": sorted(r["seconds"] for r in results),
            "processes_left": _leftovers(load_settings(config).prefect.home),
        }
        print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
