"""Shared state of the `dsr` command line: the configuration path, consoles, and case-database access."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlmodel import Session

from models.cases import sync_locations
from models.db import session_scope
from models.keys import hmac_key, master_key
from models.settings import Settings, load_settings
from models.tables import utcnow

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


@dataclass
class CLIState:
    """What the global options decided."""

    config: Path | None = None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """The validated configuration (loaded once)."""
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    def state_dir(self) -> Path:
        """`.dsr/` beside the configuration file (or the working directory)."""
        return self.settings.state_dir

    def hmac_key(self) -> bytes:
        """The key for identifiers' keyed hashes (`DSR_HMAC_KEY` or `.dsr/hmac.key`)."""
        return hmac_key(self.state_dir())

    def master_key(self) -> bytes:
        """The master key wrapping request keys (`DSR_MASTER_KEY` or `.dsr/master.key`)."""
        return master_key(self.state_dir())

    def today(self) -> date:
        """Today in the controller's establishment."""
        return utcnow().astimezone(self.settings.controller.tz).date()

    @contextmanager
    def db(self) -> Iterator[Session]:
        """A case-database session (migrated on first use, locations synced from the config)."""
        with session_scope(self.settings.database.url) as session:
            sync_locations(session, self.settings)
            yield session


state = CLIState()


def print_json(document: Any) -> None:
    """Print exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
