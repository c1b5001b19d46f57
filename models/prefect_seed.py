"""An empty Prefect database, migrated once at install time, copied into a new Prefect home.

Prefect's server migrates its SQLite database on its first start in a Prefect home: over a hundred migrations,
about 5 s of CPU here, more than the rest of that start (a new configuration's first `dsr request run` waits
for it). `make install` runs `python -m deployments.prefect_seed` once (it builds the seed with Prefect; this module
only finds and copies it): it migrates a database in a temporary
home and keeps it beside the interpreter, as `<sys.prefix>/share/dsr-orchestrator/prefect-<version>.db`.

When the CLI starts a server (`dsr request run`'s temporary one, `dsr server start`) in a Prefect home that
has no database yet, the home gets a copy (mode 0600) first. The server still runs its own migration check on
start: it finds nothing to do, or, if the copy was made by another Prefect version (the name carries the
version, so only by hand), applies what is missing. Nothing is copied when the home already has a database,
when Prefect uses another database (`[prefect].database_url`, or `PREFECT_SERVER_DATABASE_CONNECTION_URL`
in the environment), or when there is no seed (installed without `make install`): the server then migrates as
it always did. The seed holds no data: it is Prefect's schema and the rows its migrations insert.

No Prefect import: the CLI calls `seed_home` before it starts a server.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
from importlib import metadata
from pathlib import Path

from models.files import atomic_write

#: Environment variables that point Prefect's server at a database of its own choosing (then no seed).
DATABASE_ENV = ("PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL")
#: The file name of Prefect's default SQLite database inside its home.
DATABASE_NAME = "prefect.db"


def seed_path(prefix: Path | None = None) -> Path:
    """Where the seed of the installed Prefect version is kept (it may not exist)."""
    base = Path(sys.prefix) if prefix is None else prefix
    return base / "share" / "dsr-orchestrator" / f"prefect-{metadata.version('prefect')}.db"


def seed_home(home: Path, env: dict[str, str], seed: Path | None = None) -> bool:
    """Copy the seed into `home` when the server started with `env` will use the default SQLite database there
    and it does not exist yet; True when copied. The copy is published atomically (`atomic_write`), so a
    failed copy leaves no database (the server then migrates a new one, as without a seed)."""
    source = seed_path() if seed is None else seed
    target = home / DATABASE_NAME
    if any(env.get(name) for name in DATABASE_ENV) or target.exists() or not source.is_file():
        return False
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:  # exclusive: a server that created the database meanwhile keeps it (never replaced under it)
        atomic_write(target, snapshot(source), mode=0o600, exclusive=True)
    except (OSError, sqlite3.Error):
        return False
    return True


def snapshot(source: Path) -> bytes:
    """A consistent copy of one SQLite database, as the bytes of a database file (the online backup API into
    memory, not a byte copy of a file that may be in use)."""
    with (
        contextlib.closing(sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True)) as src,
        contextlib.closing(sqlite3.connect(":memory:")) as dst,
    ):
        src.backup(dst)
        return dst.serialize()
