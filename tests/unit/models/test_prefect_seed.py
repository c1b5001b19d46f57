"""The Prefect database seed: built by Prefect's own migrations, copied only into a new home that will use it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from models.prefect_seed import DATABASE_NAME, seed_home, seed_path

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seed built as `make install` builds it (Prefect's migrations, in a process of its own)."""
    target = tmp_path_factory.mktemp("seed") / "prefect.db"
    subprocess.run(
        [sys.executable, "-m", "deployments.prefect_seed", str(target)], cwd=REPO, check=True, capture_output=True
    )
    return target


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_the_seed_is_prefects_migrated_schema_with_no_runs(seed: Path) -> None:
    tables = _tables(seed)
    assert {"alembic_version", "flow_run", "task_run", "deployment", "block_document"} <= tables
    with sqlite3.connect(seed) as db:
        assert db.execute("SELECT count(*) FROM alembic_version").fetchone() == (1,)
        assert db.execute("SELECT count(*) FROM flow_run").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM block_document").fetchone() == (0,)


def test_a_new_home_gets_a_private_copy(seed: Path, tmp_path: Path) -> None:
    home = tmp_path / "prefect"
    assert seed_home(home, {}, seed)
    copy = home / DATABASE_NAME
    assert [p.name for p in home.iterdir()] == [DATABASE_NAME]  # no temporary file left
    assert copy.stat().st_mode & 0o777 == 0o600
    assert _tables(copy) == _tables(seed)


def test_a_home_with_a_database_is_left_alone(seed: Path, tmp_path: Path) -> None:
    (tmp_path / DATABASE_NAME).write_bytes(b"the user's own database")
    assert not seed_home(tmp_path, {}, seed)
    assert (tmp_path / DATABASE_NAME).read_bytes() == b"the user's own database"


@pytest.mark.parametrize("name", ["PREFECT_SERVER_DATABASE_CONNECTION_URL", "PREFECT_API_DATABASE_CONNECTION_URL"])
def test_no_copy_when_prefect_uses_another_database(seed: Path, tmp_path: Path, name: str) -> None:
    assert not seed_home(tmp_path, {name: "postgresql+asyncpg://prefect@db/prefect"}, seed)
    assert not (tmp_path / DATABASE_NAME).exists()


def test_no_seed_no_copy(tmp_path: Path) -> None:
    assert not seed_home(tmp_path / "home", {}, tmp_path / "absent.db")
    assert not (tmp_path / "home" / DATABASE_NAME).exists()


def test_a_copy_that_fails_leaves_no_database(tmp_path: Path) -> None:
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"not a database at all" * 100)
    home = tmp_path / "home"
    assert not seed_home(home, {}, broken)
    assert list(home.iterdir()) == []  # the server migrates a new database, as without a seed


def test_the_seed_is_named_for_the_installed_prefect(tmp_path: Path) -> None:
    from importlib import metadata

    assert seed_path(tmp_path) == tmp_path / "share" / "dsr-orchestrator" / f"prefect-{metadata.version('prefect')}.db"


def test_a_database_created_meanwhile_is_never_replaced(
    seed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Between the check and the copy a server may create the home's database: the copy then gives way."""
    import models.prefect_seed as module

    target = tmp_path / DATABASE_NAME
    real = module.snapshot

    def racing(source: Path) -> bytes:
        data = real(source)
        target.write_bytes(b"a server's live database")
        return data

    monkeypatch.setattr(module, "snapshot", racing)
    assert not seed_home(tmp_path, {}, seed)
    assert target.read_bytes() == b"a server's live database"
