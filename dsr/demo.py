"""`make demo`: the guided walk-through on embedded defaults (SQLite, local Prefect, simulated fleet).

Until the flows land this runs the parts that exist: deadlines and intake against a throwaway case database.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

console = Console()
DEMO_DIR = Path(".dsr/demo")


def _dsr(*args: str) -> str:
    env = {**os.environ, "DSR_CONFIG": str(DEMO_DIR / "dsr.toml")}
    result = subprocess.run(  # noqa: S603 - fixed argv of our own CLI
        [sys.executable, "-m", "dsr", *args], env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        console.print(f"[red]dsr {' '.join(args[:2])} failed:[/red] {result.stderr.strip()}")
        raise SystemExit(result.returncode)
    return result.stdout


def main() -> None:
    """Run the demo (or stop it with --stop)."""
    parser = argparse.ArgumentParser(prog="python -m dsr.demo")
    parser.add_argument("--stop", action="store_true", help="stop what the demo started")
    args = parser.parse_args()
    if args.stop:
        console.print("nothing to stop: this demo starts no servers yet")
        return
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    (DEMO_DIR / "dsr.toml").write_text(
        '[controller]\nname = "Example Corp Ltd"\ntimezone = "Europe/London"\ncalendar = "GB-ENG"\n'
        '[database]\nurl = "sqlite:///demo.db"\n',
        encoding="utf-8",
    )
    console.rule("dsr-orchestrator demo")
    console.print("1. Legal deadline for a request received on Fri 31 Jan 2025 (GB-ENG calendar):")
    console.print(_dsr("deadline", "2025-01-31"))
    console.print("2. Recording an access request for a synthetic person:")
    rid = _dsr(
        "request", "submit", "--kind", "access", "--email", "zoe.angstrom@example.invalid",
        "--name", "Zoë Ångström", "--phone", "+44 1632 960123",
    ).strip()  # fmt: skip
    console.print(f"   new request id: [bold]{rid}[/bold]")
    console.print(_dsr("request", "show", rid))
    console.print("3. All requests:")
    console.print(_dsr("request", "list"))
    console.print(
        f"Case database: {DEMO_DIR / 'demo.db'}. Scanning, packages and the Prefect UI arrive with later issues."
    )


if __name__ == "__main__":
    main()
