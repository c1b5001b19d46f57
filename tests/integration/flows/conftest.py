"""A simulated fleet with a ready configuration for flow tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from models import cases
from models.db import session_scope
from models.identifiers import validate_all
from models.keys import hmac_key, master_key
from models.settings import load_settings
from models.types import RequestKind
from services import identity
from simulation.fleet import simulate_fleet

# The simulated fleet's dsr.toml carries the complete example register (simulation/register.py).
REGISTER = ""


@dataclass
class Fleet:
    """A simulated fleet on disk with its configuration and truth."""

    root: Path
    config: Path
    truth: dict[str, Any]

    def submit(self, kind: RequestKind, subject: str = "s1", *, waive: bool = True) -> str:
        """Record a request for a planted subject (identity check waived unless `waive` is false); returns its id."""
        settings = load_settings(self.config)
        person = next(s for s in self.truth["subjects"] if s["key"] == subject)
        region = settings.controller.phone_region
        idents = validate_all(
            emails=person["emails"],
            names=[person["name"]],
            phones=person["phones"],
            user_ids=person["user_ids"],
            region=region,
        )
        with session_scope(settings.database.url) as session:
            request_id = cases.submit_request(
                session,
                settings,
                kind=kind,
                identifiers=idents,
                hmac_key=hmac_key(settings.state_dir),
                master_key=master_key(settings.state_dir),
            ).id
        if waive:
            identity.waive(settings, request_id, reason="request from the employee's authenticated account")
        return request_id

    def package(self, request_id: str, out: Path) -> Path:
        """Decrypt the request's sealed package into `out`; returns the package directory."""
        from services.staging import open_package
        from services.subject import request_key

        settings = load_settings(self.config)
        with session_scope(settings.database.url) as session:
            sealed = Path(cases.get_request(session, request_id).report_path or "")
        assert sealed.name.endswith(".zip.enc"), "the package must be sealed"
        return open_package(sealed, request_key(settings, request_id), request_id, out)


def make_fleet(root: Path, endpoints: int, *, seed: int = 7, extra: str = "", agents: bool = False) -> Fleet:
    """Simulate `endpoints` laptops under `root` and write a config with a register and private package dir
    (`agents`: with every other covered agent's store too)."""
    simulate_fleet(
        root / "fleet", endpoints=endpoints, size_mb=0.05, seed=seed, extra_toml=REGISTER + extra, agents=agents
    )
    config = root / "fleet" / "dsr.toml"
    text = config.read_text(encoding="utf-8")
    text = text.replace("[database]", f'[access]\npackage_dir = "{root / "packages"}"\n\n[database]', 1)
    config.write_text(text, encoding="utf-8")
    return Fleet(root / "fleet", config, json.loads((root / "fleet" / "truth.json").read_text(encoding="utf-8")))


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Fleet]:
    """A 10-laptop simulated fleet; DSR_CONFIG points at its configuration."""
    made = make_fleet(tmp_path, 10)
    monkeypatch.setenv("DSR_CONFIG", str(made.config))
    yield made
