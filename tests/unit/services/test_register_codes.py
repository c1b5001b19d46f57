"""The register check takes the categories found from the case database's finding rows, in the order the
staged copies list them (by location file, then as found), so staging is not read for them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

from models.db import dispose_engines, session_scope
from models.tables import Finding as FindingRow
from models.tables import Request
from services.access import found_codes


def _request(request_id: str) -> Request:
    due = date(2026, 7, 1)
    received = datetime(2026, 6, 1, tzinfo=UTC)
    return Request(id=request_id, kind="access", status="in_progress", received_at=received, calendar="GB",
                   algorithm_version="test", due_on=due, target_on=due)  # fmt: skip


def _row(request_id: str, location: str, categories: list[str]) -> FindingRow:
    return FindingRow(request_id=request_id, location=location, path="/h/a.jsonl", kind="transcript",
                      content_sha256="0" * 64, categories=json.dumps(categories))  # fmt: skip


def test_codes_come_from_the_finding_rows_in_staging_order(tmp_path: Path) -> None:
    """`lap-1-b.jsonl.enc` sorts before `lap-1.jsonl.enc` (as staging is read), though `lap-1` < `lap-1-b`;
    within a location the rows' order; each code once; another request's codes are not counted."""
    url = f"sqlite:///{tmp_path / 'dsr.db'}"
    try:
        with session_scope(url) as session:
            session.add_all([_request("REQ-1"), _request("REQ-2")])
            session.flush()
            session.add_all(
                [
                    _row("REQ-1", "lap-1", ["health", "contact_details"]),
                    _row("REQ-1", "lap-1-b", ["free_text_mentions"]),
                    _row("REQ-1", "lap-1", ["contact_details"]),
                    _row("REQ-1", "lap-1", ["identifiers", "health"]),
                    _row("REQ-1", "lap-1-b", ["contact_details", "location"]),
                    _row("REQ-2", "lap-0", ["financial"]),
                ]
            )
        with session_scope(url) as session:
            codes = found_codes(session, "REQ-1")
    finally:
        dispose_engines()
    assert codes == ["free_text_mentions", "contact_details", "location", "health", "identifiers"]
