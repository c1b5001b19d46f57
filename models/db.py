"""The case database: engine creation and Alembic migrations applied automatically on first use."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from threading import Lock
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, create_engine

from models.errors import ConfigError
from models.lean_read import MIGRATIONS, head_revision

if TYPE_CHECKING:
    from alembic.config import Config

_engines: dict[str, Engine] = {}
_lock = Lock()


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at this package's migrations and `url`."""
    from alembic.config import Config  # noqa: PLC0415 - Alembic loads only when a schema must change

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _is_current(conn: Connection) -> bool:
    """Whether the database is already at the newest schema (then Alembic need not be imported at all)."""
    try:
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).fetchall()
    except SQLAlchemyError:
        return False
    return [row[0] for row in rows] == [head_revision()]


def _upgrade(conn: Connection, url: str) -> None:
    from alembic import command  # noqa: PLC0415 - only when the schema must change

    cfg = alembic_config(url)
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


def _normalise(url: str) -> str:
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def get_engine(url: str) -> Engine:
    """The engine for `url`, migrated to the latest schema (once per process).

    Raises:
        ConfigError: the database cannot be reached or migrated (the message names the URL without password).
    """
    url = _normalise(url)
    with _lock:
        if url in _engines:
            return _engines[url]
        parsed = make_url(url)
        if parsed.drivername.startswith("sqlite"):
            _prepare_sqlite_file(parsed.database, parsed.query)
        engine = create_engine(url, pool_pre_ping=True)
        if parsed.drivername.startswith("sqlite"):
            event.listen(engine, "connect", _sqlite_pragmas)
        try:
            with engine.connect() as conn:
                current = _is_current(conn)
            if not current:
                with engine.begin() as conn:
                    _upgrade(conn, url)
        except Exception as exc:
            safe = parsed.render_as_string(hide_password=True)
            orig = getattr(exc, "orig", None) or exc
            detail = (str(orig).splitlines() or [""])[0][:200] or type(exc).__name__
            if parsed.drivername.startswith("sqlite"):
                fix = (
                    "the file and its directory must be readable and writable by this user (SQLite creates "
                    "-wal and -shm files beside it); or set [database].url / DSR_DATABASE_URL elsewhere"
                )
            else:
                fix = "check [database].url / DSR_DATABASE_URL and that the server is running"
            raise ConfigError(
                f"cannot open or migrate the case database {safe} ({detail}); {fix}", key="database.url"
            ) from exc
        _engines[url] = engine
        return engine


def schema_status(url: str) -> tuple[str | None, str]:
    """(the database's Alembic revision, the newest revision) without creating or migrating anything.

    Raises:
        ConfigError: the database does not exist yet or cannot be reached (the URL is named without password).
    """
    from alembic.runtime.migration import MigrationContext  # noqa: PLC0415 - only `dsr doctor` asks
    from alembic.script import ScriptDirectory  # noqa: PLC0415

    url = _normalise(url)
    parsed = make_url(url)
    safe = parsed.render_as_string(hide_password=True)
    database = parsed.database
    local = parsed.drivername.startswith("sqlite") and database not in (None, "", ":memory:")
    if local and not str(database).startswith("file:") and not Path(str(database)).exists():
        raise ConfigError(f"the case database {safe} does not exist yet", key="database.url")
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head() or ""
    engine = create_engine(url, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    except Exception as exc:  # noqa: BLE001 - any driver failure is "cannot be reached", named by its first line
        orig = getattr(exc, "orig", None) or exc
        detail = (str(orig).splitlines() or [""])[0][:200] or type(exc).__name__
        raise ConfigError(f"cannot reach the case database {safe} ({detail})", key="database.url") from None
    finally:
        engine.dispose()
    return current, head


def _prepare_sqlite_file(database: str | None, query: Mapping[str, object]) -> None:
    """Create a new SQLite case database as an empty file of mode 0600 in a directory of mode 0700.

    SQLite gives its -wal and -shm files the mode of the database file, so they are private too. URI
    databases (`file:...?mode=ro&uri=true`) and `:memory:` are left to SQLite.

    Raises:
        ConfigError: the directory cannot be created or the file cannot be created (names the path and the fix).
    """
    if database in (None, "", ":memory:") or query.get("uri") or str(database).startswith("file:"):
        return
    path = Path(str(database))
    try:
        if not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
            os.close(fd)
    except FileExistsError:
        return
    except OSError as exc:
        raise ConfigError(
            f"cannot create the case database {path} ({exc.strerror or type(exc).__name__}); make its directory "
            "writable by this user or set [database].url / DSR_DATABASE_URL to a writable place",
            key="database.url",
        ) from None


def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
    cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


@contextmanager
def session_scope(url: str) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error (nothing half-written)."""
    with Session(get_engine(url), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def dispose_engines() -> None:
    """Close every cached engine (tests)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
