"""Scan one S3 store for one subject: every object version under the prefix, gzip transparently.

Produces the findings of `detection.scan` (`detection.findings.Finding`) located by store, key, line and
`version_id`. Plain Python over any `VersionedStore`: no Prefect, no database; never logs content.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING

from connectors.base import Skipped, VersionedStore, scannable_format
from connectors.records import RecordFormat
from detection.findings import Finding, FindingLocation, FoundItems
from detection.matcher import Matcher
from detection.scan import IDENTIFIER_MATCH, ScanResult, record_timestamp
from models.errors import ConnectorError

if TYPE_CHECKING:  # presidio takes seconds to import: loaded only when a finding is classified
    from detection.classify import Classifier

_FORMATS = {"json": RecordFormat.JSON, "jsonl": RecordFormat.JSONL, "text": RecordFormat.TEXT}


def _fmt(key: str) -> RecordFormat | None:
    name = scannable_format(key)
    if name is None:
        return None
    return _FORMATS.get(name, RecordFormat.TEXT)


def scan_store(
    connector: VersionedStore,
    matcher: Matcher,
    *,
    classify: bool = True,
    classifier: Classifier | None = None,
    progress: Callable[[int, int], None] | None = None,
    sink: Callable[[Finding], None] | None = None,
) -> ScanResult:
    """Scan every version of every scannable object under the store's prefix.

    Non-current versions are data too: each finding names its `version_id`. Delete markers and objects
    that are not JSON, JSONL, text or Markdown are reported as skipped. With `sink`, each finding is handed
    to it as it is found and the result's `items` is empty (as `scan_endpoint`).
    """
    items = FoundItems(sink)
    skipped: list[Skipped] = []
    files = 0
    size = 0
    for entry in connector.iter_items():
        if isinstance(entry, Skipped):
            skipped.append(entry)
            continue
        fmt = _fmt(entry.path)
        if fmt is None:
            skipped.append(Skipped(connector.name, entry.path, "not_scannable"))
            continue
        try:
            with connector.open_content(entry) as stream:
                for confirmation in matcher.scan(stream, fmt):
                    value = confirmation.value
                    categories: list[str] = []
                    if classify and value is not None:
                        if classifier is None:
                            from detection.classify import Classifier  # noqa: PLC0415 - see TYPE_CHECKING above

                            classifier = Classifier(default_region=matcher.default_region)
                        categories = list(classifier.classify(value, matcher).categories)
                    items.append(
                        Finding(
                            location=FindingLocation(
                                entry.path, confirmation.line, store=connector.name, version_id=entry.version_id
                            ),
                            kind="s3_object",
                            reason=IDENTIFIER_MATCH,
                            session_id=value.get("sessionId") if isinstance(value, dict) else None,
                            timestamp=record_timestamp(value),
                            categories=tuple(categories),
                            content=_content(value),
                            pointers=tuple(confirmation.pointers),
                            forms=tuple(confirmation.forms),
                            malformed=confirmation.malformed,
                            is_latest=entry.is_latest,
                        )
                    )
        except ConnectorError as exc:
            skipped.append(Skipped(connector.name, entry.path, exc.status.value))
            continue
        files += 1
        size += entry.size
        if progress is not None:
            progress(files, size)
    return ScanResult(items.kept(), tuple(skipped), (), files, size)


def _content(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)
