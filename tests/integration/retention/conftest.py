"""A simulated fleet with a retention policy in its configuration, for the retention and deadline flows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from models import cases
from models.db import session_scope
from models.identifiers import validate_identifier
from models.keys import hmac_key, master_key
from models.settings import Settings, load_settings
from models.types import IdentifierKind, RequestKind
from services import identity
from simulation.fleet import simulate_fleet

REFERENCE = datetime(2026, 11, 1, tzinfo=UTC)
PERIOD_DAYS = 365
POLICY = f"""
[[retention]]
name = "agent-history"
kinds = ["session_record", "code_session_record", "transcript", "subagent", "subagent_meta", "tool_result",
         "task", "audit_log", "audit_key", "upload", "output", "file_history", "todo"]
period_days = {PERIOD_DAYS}
trigger = "last_activity"
action = "delete"
version = "2026-1"

[disposition]
review = false  # these runs cover purges without disposition review; the reviewed path has its own tests
"""


@dataclass
class Fleet:
    """A simulated fleet on disk with its configuration and truth."""

    root: Path
    config: Path
    truth: dict[str, Any]

    @property
    def settings(self) -> Settings:
        """The configuration as the flows load it (DSR_DATABASE_URL applied)."""
        return load_settings(self.config)

    def submit(self, kind: RequestKind, *, received_at: datetime, subject: str = "s1") -> str:
        """Record a request for a planted subject with its identity check waived; returns its id."""
        settings = self.settings
        person = next(s for s in self.truth["subjects"] if s["key"] == subject)
        idents = [validate_identifier(IdentifierKind.EMAIL, e) for e in person["emails"]]
        idents += [validate_identifier(IdentifierKind.NAME, person["name"])]
        idents += [validate_identifier(IdentifierKind.PHONE, p) for p in person["phones"]]
        idents += [validate_identifier(IdentifierKind.USER_ID, u) for u in person["user_ids"]]
        with session_scope(settings.database.url) as session:
            request_id = cases.submit_request(
                session,
                settings,
                kind=kind,
                identifiers=idents,
                hmac_key=hmac_key(settings.state_dir),
                master_key=master_key(settings.state_dir),
                received_at=received_at,
            ).id
        identity.waive(settings, request_id, reason="request from the employee's authenticated account")
        return request_id

    def expired(self) -> set[tuple[str, str]]:
        """(endpoint, session id) of the generator's sessions past the policy's period at REFERENCE."""
        return {
            (s["endpoint"], s["session_id"])
            for s in self.truth["sessions"]
            if datetime.fromisoformat(s["last_activity_at"].replace("Z", "+00:00")) + timedelta(days=PERIOD_DAYS)
            <= REFERENCE
        }

    def present(self, endpoint: str, session_id: str) -> list[bool]:
        """For each file of a session, whether it still exists."""
        session = next(s for s in self.truth["sessions"] if (s["endpoint"], s["session_id"]) == (endpoint, session_id))
        return [(self.root / endpoint / p.lstrip("/")).exists() for p in session["paths"]]


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, database_url: str) -> Iterator[Fleet]:
    """A 4-laptop simulated fleet with the retention policy; DSR_CONFIG and DSR_DATABASE_URL point at it."""
    root = tmp_path / "fleet"
    simulate_fleet(root, endpoints=4, size_mb=0.05, seed=5, extra_toml=POLICY)
    monkeypatch.setenv("DSR_CONFIG", str(root / "dsr.toml"))
    monkeypatch.setenv("DSR_DATABASE_URL", database_url)
    yield Fleet(root, root / "dsr.toml", json.loads((root / "truth.json").read_text(encoding="utf-8")))
