"""`python -m deployments.serve`: serve every deployment from this process (what `dsr server start` runs)."""

from __future__ import annotations

from prefect import serve

from deployments.catalog import build_deployments
from models.settings import load_settings


def main() -> None:
    """Serve the catalog until interrupted."""
    serve(*build_deployments(load_settings(None)), limit=8)


if __name__ == "__main__":
    main()
