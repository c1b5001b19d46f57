"""The Alembic migrations produce exactly the schema the SQLModel tables declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import models.tables  # noqa: F401 - registers the tables
from models.db import get_engine


def test_migrated_schema_matches_models(database_url: str) -> None:
    """Autogenerate finds no difference between the migrated database and the models."""
    engine = get_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
