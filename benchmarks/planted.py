"""Access requests for a simulated fleet's first planted person, identity waived: what the benchmarks run."""

from __future__ import annotations

import json
from pathlib import Path


def submit_access(config: Path, count: int, reason: str) -> list[str]:
    """Submit `count` access requests for the first subject of the fleet's `truth.json` beside `config`, waive
    their identity check with `reason`, and return their ids (the database engines are disposed of after)."""
    # Imported here: a benchmark's --help stays fast.
    from models import cases  # noqa: PLC0415
    from models.db import dispose_engines, session_scope  # noqa: PLC0415
    from models.identifiers import validate_all  # noqa: PLC0415
    from models.keys import hmac_key, master_key  # noqa: PLC0415
    from models.settings import load_settings  # noqa: PLC0415
    from models.types import RequestKind  # noqa: PLC0415
    from services import identity  # noqa: PLC0415

    settings = load_settings(config)
    person = json.loads((config.parent / "truth.json").read_text(encoding="utf-8"))["subjects"][0]
    idents = validate_all(
        emails=person["emails"],
        names=[person["name"]],
        phones=person["phones"],
        user_ids=person["user_ids"],
        region=settings.controller.phone_region,
    )
    ids = []
    with session_scope(settings.database.url) as session:
        for _ in range(count):
            request = cases.submit_request(
                session,
                settings,
                kind=RequestKind.ACCESS,
                identifiers=idents,
                hmac_key=hmac_key(settings.state_dir),
                master_key=master_key(settings.state_dir),
            )
            session.flush()
            ids.append(request.id)
    for request_id in ids:
        identity.waive(settings, request_id, reason=reason)
    dispose_engines()
    return ids
