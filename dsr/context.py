"""Shared state of the `dsr` command line: the configuration path, consoles, and case-database access."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from sqlmodel import Session

    from models.settings import Settings

# The configuration schema, the case database, keys and tables are imported on first use: commands that need
# none of them (`--help`, `fleet simulate`) start without loading pydantic, SQLAlchemy, SQLModel or the crypto
# stack; `deadline` loads only the configuration.


class SafeStream:
    """The current `sys.stdout` or `sys.stderr`, writing what it cannot encode as backslash escapes.

    Command-line values that are not valid UTF-8 reach Python as lone surrogates; printing one must not
    raise (nor leave a console's buffer unwritable for every later line).
    """

    def __init__(self, name: str) -> None:
        """Follow `sys.<name>` (looked up at each write, so redirection and test capture are honoured)."""
        self.name = name

    @property
    def stream(self) -> Any:
        """The stream written to now."""
        return getattr(sys, self.name)

    def write(self, text: str) -> int:
        """Write `text`, escaping what the stream's encoding cannot represent."""
        try:
            return int(self.stream.write(text))
        except UnicodeEncodeError:
            encoding = getattr(self.stream, "encoding", None) or "utf-8"
            return int(self.stream.write(text.encode(encoding, "backslashreplace").decode(encoding)))

    def flush(self) -> None:
        """Flush the stream."""
        self.stream.flush()

    def isatty(self) -> bool:
        """Whether the stream is a terminal."""
        return bool(getattr(self.stream, "isatty", lambda: False)())

    def fileno(self) -> int:
        """The stream's file descriptor."""
        return int(self.stream.fileno())

    @property
    def encoding(self) -> str:
        """The stream's encoding."""
        return str(getattr(self.stream, "encoding", None) or "utf-8")


out = Console(file=SafeStream("stdout"), soft_wrap=True)  # type: ignore[arg-type]
err = Console(file=SafeStream("stderr"), soft_wrap=True)  # type: ignore[arg-type]


@dataclass
class CLIState:
    """What the global options decided."""

    config: Path | None = None
    debug: bool = False
    _settings: Settings | None = None

    def reset(self) -> None:
        """Forget the options and settings of a previous invocation (the CLI may run twice in one process)."""
        self.config, self.debug, self._settings = None, False, None

    def loaded_state_dir(self) -> Path | None:
        """The state directory if the configuration has been loaded, else None (never loads it)."""
        return self._settings.state_dir if self._settings is not None else None

    @property
    def settings(self) -> Settings:
        """The validated configuration (loaded once)."""
        if self._settings is None:
            from models.settings import load_settings  # noqa: PLC0415 - pydantic loads with the first setting read

            self._settings = load_settings(self.config)
        return self._settings

    def state_dir(self) -> Path:
        """`.dsr/` beside the configuration file (or the working directory)."""
        return self.settings.state_dir

    def hmac_key(self) -> bytes:
        """The key for identifiers' keyed hashes (`DSR_HMAC_KEY` or `.dsr/hmac.key`)."""
        from models.keys import hmac_key  # noqa: PLC0415 - crypto on demand

        return hmac_key(self.state_dir())

    def master_key(self) -> bytes:
        """The master key wrapping request keys (`DSR_MASTER_KEY` or `.dsr/master.key`)."""
        from models.keys import master_key  # noqa: PLC0415 - crypto on demand

        return master_key(self.state_dir())

    def today(self) -> date:
        """Today in the controller's establishment."""
        return datetime.now(UTC).astimezone(self.settings.controller.tz).date()

    def require_request(self, request_id: str) -> None:
        """Check that the request exists (an unknown id exits with code 2 before any other work).

        Raises:
            RequestNotFoundError: no such request.
        """
        from models.cases import get_request  # noqa: PLC0415 - the database layer on demand

        with self.db() as session:
            get_request(session, request_id)

    def fresh_default_database(self) -> Path | None:
        """The SQLite file of the embedded defaults when there is no configuration file, no DSR_DATABASE_URL
        and the file does not exist yet (this command creates it); else None."""
        from models.settings import resolve_config_path  # noqa: PLC0415

        path, named = resolve_config_path(self.config)
        url = self.settings.database.url
        if named or path.exists() or os.environ.get("DSR_DATABASE_URL") or not url.startswith("sqlite:///"):
            return None
        database = Path(url.removeprefix("sqlite:///"))
        return None if database.exists() else database

    def announce_defaults(self, database: Path) -> None:
        """Say once on stderr, as the default case database is created, which configuration and database
        this is (so a first run in the wrong folder does not go unnoticed)."""
        from models.settings import resolve_config_path  # noqa: PLC0415

        path, _named = resolve_config_path(self.config)
        err.print(
            f"note: no configuration file ({path} not found here; --config or DSR_CONFIG names one): using the "
            f"embedded defaults; created the case database {database}, with keys and logs in {self.state_dir()}; "
            "copy dsr.example.toml to dsr.toml to configure, `dsr doctor` checks the set-up",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )

    @contextmanager
    def db(self) -> Iterator[Session]:
        """A case-database session (migrated on first use, locations synced from the config)."""
        from models.cases import sync_locations  # noqa: PLC0415 - the database layer on demand
        from models.db import session_scope  # noqa: PLC0415

        fresh = self.fresh_default_database()
        with session_scope(self.settings.database.url) as session:
            if fresh is not None:
                self.announce_defaults(fresh)
            sync_locations(session, self.settings)
            yield session


state = CLIState()


def print_json(document: Any) -> None:
    """Print exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
