"""Relative paths in the configuration are resolved against the config file's directory, whatever the working
directory: staging, packages, certificates' directory, keys, the ledger key and the SQLite database all land
beside the config file."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from models.settings import load_settings
from models.types import LocationStatus, RequestKind
from services import access, erasure
from services.evidence import ledger_for
from services.intake import record_request
from simulation.fleet import simulate_fleet


def _config_with_relative_paths(root: Path) -> Path:
    """A one-laptop fleet whose dsr.toml names every path relative to itself."""
    simulate_fleet(root, endpoints=1, size_mb=0.02, seed=3)
    config = root / "dsr.toml"
    text = re.sub(r'^url = "sqlite:///.*"$', 'url = "sqlite:///state/dsr.db"', config.read_text("utf-8"), flags=re.M)
    text += '\n[access]\npackage_dir = "out/packages"\n\n[erasure]\nsigning_key = "keys/ledger.pem"\n'
    config.write_text(text, encoding="utf-8")
    return config


def _files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_runs_from_another_directory_write_only_beside_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Access staging, the sealed package, erasure discoveries, keys, ledger key and database are written under
    the config file's directory when the process runs from elsewhere; the working directory stays empty."""
    monkeypatch.delenv("DSR_CONFIG", raising=False)
    monkeypatch.delenv("DSR_DATABASE_URL", raising=False)
    for var in ("DSR_MASTER_KEY", "DSR_HMAC_KEY", "DSR_LEDGER_SIGNING_KEY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("reports.packaging.find_pdf_engine", lambda: None)
    home = tmp_path / "home"
    config = _config_with_relative_paths(home)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)

    settings = load_settings(config)
    person = json.loads((home / "truth.json").read_text(encoding="utf-8"))["subjects"][0]
    ids = {
        "emails": person["emails"],
        "names": [person["name"]],
        "channel": "email",
        "identity_waiver": "request from the employee's authenticated account",
    }
    access_id = record_request(settings, kind=RequestKind.ACCESS, **ids)
    location = access.begin_access(settings, access_id)[0]
    assert access.scan_location(settings, access_id, location).status == LocationStatus.SCANNED
    staged = _files(home / "out" / "packages" / "staging" / access_id)
    assert staged == {f"{location}.jsonl.enc"}
    access.assemble_package(settings, access_id)

    erasure_id = record_request(settings, kind=RequestKind.ERASURE, **ids)
    erasure.begin_erasure(settings, erasure_id)
    assert erasure.discover_location(settings, erasure_id, location) == LocationStatus.SCANNED
    assert _files(home / "out" / "packages" / "staging" / erasure_id)
    ledger_for(settings).seal()

    assert _files(elsewhere) == set()
    written = _files(home)
    assert {"state/dsr.db", ".dsr/master.key", ".dsr/hmac.key", "keys/ledger.pem"} <= written
    assert f"out/packages/{access_id}.zip.enc" in written
    assert os.stat(home / "out" / "packages" / "staging" / erasure_id).st_mode & 0o777 == 0o700
