"""`python -m deployments.prefect_seed [FILE]`: build the Prefect database seed of the installed Prefect version
(run by `make install`; FILE defaults to where `models.prefect_seed` looks for it, which also says what the
seed is and when a new Prefect home gets a copy)."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
from pathlib import Path

from models.prefect_seed import DATABASE_ENV, DATABASE_NAME, backup, seed_path


def build_seed(target: Path) -> None:
    """Migrate a new Prefect database in a temporary home and keep it as `target` (replaced atomically)."""
    with tempfile.TemporaryDirectory(prefix="dsr-prefect-seed-") as home:
        for name in DATABASE_ENV:
            os.environ.pop(name, None)
        os.environ["PREFECT_HOME"] = home
        from prefect.server.database import provide_database_interface  # noqa: PLC0415 - after PREFECT_HOME is set

        asyncio.run(provide_database_interface().create_db())
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.unlink(missing_ok=True)
        backup(Path(home) / DATABASE_NAME, tmp)
        os.replace(tmp, target)


def main(argv: list[str]) -> None:
    """Build the seed of the installed Prefect version (at `argv[0]` when given)."""
    target = Path(argv[0]) if argv else seed_path()
    build_seed(target)
    sys.stdout.write(f"Prefect database seed: {target}\n")


if __name__ == "__main__":
    main(sys.argv[1:])
