"""`python -m benchmarks.ssh_fanout`: wall time of a 50-laptop fan-out over real sshd, parallel vs sequential.

Runs the real-sshd fan-out test (tests/integration/ssh/test_fanout_scale.py: 50 sshd processes on loopback,
each laptop probed and scanned once sequentially and once with the bounded thread fan-out) and merges its
timings into benchmarks/results.json under `ssh_fanout`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).with_name("results.json")


def main() -> None:
    """Run the fan-out measurement and record it."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "fanout.json"
        env = {**os.environ, "DSR_BENCH_OUT": str(out)}
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "tests/integration/ssh/test_fanout_scale.py",
                "-p",
                "no:cacheprovider",
            ],
            env=env,
            check=True,
        )
        timing = json.loads(out.read_text(encoding="utf-8"))
    timing["speedup"] = round(timing["sequential_seconds"] / timing["parallel_seconds"], 2)
    timing["measured_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    results = json.loads(RESULTS.read_text(encoding="utf-8")) if RESULTS.exists() else {}
    results["ssh_fanout"] = timing
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(timing, indent=2))


if __name__ == "__main__":
    main()
