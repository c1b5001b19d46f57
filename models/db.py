"""The case database: engine creation and Alembic migrations applied automatically on first use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from threading import Lock

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlmodel import Session, create_engine

from models.errors import ConfigError

_MIGRATIONS = Path(__file__).with_name("migrations")
_engines: dict[str, Engine] = {}
_lock = Lock()


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at this package's migrations and `url`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


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
        if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, pool_pre_ping=True)
        if parsed.drivername.startswith("sqlite"):
            event.listen(engine, "connect", _sqlite_pragmas)
        try:
            with engine.begin() as conn:
                cfg = alembic_config(url)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except Exception as exc:
            safe = parsed.render_as_string(hide_password=True)
            raise ConfigError(
                f"cannot open or migrate the case database {safe}: {exc.__class__.__name__}; check "
                "[database].url / DSR_DATABASE_URL and that the server is running",
                key="database.url",
            ) from exc
        _engines[url] = engine
        return engine


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
