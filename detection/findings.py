"""Values the scanner produces and classification, staging, redaction and the package consume: findings,
their locations, categories and third-party findings.

Owns only these frozen values (no presidio import, so redaction and erasure load fast). Never logs them.
A finding's dict form (`Finding.to_dict`) is the schema of `dsr scan --json`, of the staged copies and of
staged erasure discoveries; `Finding.from_dict` reads it back to an equal value.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class DataCategory(StrEnum):
    """Categories of personal data for Art. 15(1)(b)."""

    CONTACT_DETAILS = "contact_details"
    IDENTIFIERS = "identifiers"
    FINANCIAL = "financial"
    LOCATION = "location"
    HEALTH = "health"
    FREE_TEXT_MENTIONS = "free_text_mentions"


class ThirdPartyEntity(StrEnum):
    """Kinds of third parties' personal data that redaction replaces (Art. 15(4))."""

    EMAIL = "EMAIL_ADDRESS"
    PHONE = "PHONE_NUMBER"
    PERSON = "PERSON"
    IBAN = "IBAN_CODE"
    CARD = "CREDIT_CARD"
    IP = "IP_ADDRESS"
    ID = "STAFF_ID"


@dataclass(frozen=True, slots=True)
class ThirdPartyFinding:
    """Another person's data inside a confirmed record.

    Attributes:
        pointer: JSON pointer of the string (`""` for text records).
        in_key: the string is an object key, not a value.
        start: start offset in that string.
        end: end offset in that string.
        entity: the kind (a `ThirdPartyEntity` value).
        text: the data itself (kept in memory for stable placeholders; never logged, not in repr).
    """

    pointer: str
    in_key: bool
    start: int
    end: int
    entity: str
    text: str = field(repr=False)


@dataclass(frozen=True)
class Classification:
    """What a confirmed record holds.

    Attributes:
        categories: the Art. 15(1)(b) categories present (sorted `DataCategory` values).
        third_parties: other people's data found in the record.
    """

    categories: tuple[str, ...]
    third_parties: tuple[ThirdPartyFinding, ...]


@dataclass(frozen=True, slots=True)
class FindingLocation:
    """Where a finding is: a line (or database row) of a file on a laptop, or a line of an object version.

    Attributes:
        path: the file's path on the laptop, or the object's key in the store.
        line: 1-based line number; None for whole files and database rows.
        endpoint: the laptop's configured name (None for a store finding).
        store: the store's configured name (None for a laptop finding).
        record: `<table>:<key>` of a database row (laptop findings only).
        version_id: the object version (store findings only; None on unversioned buckets).
    """

    path: str
    line: int | None = None
    endpoint: str | None = None
    store: str | None = None
    record: str | None = None
    version_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """`{"endpoint", "path", "line"[, "record"]}` or `{"store", "path", "line", "version_id"}`."""
        if self.store is not None:
            return {"store": self.store, "path": self.path, "line": self.line, "version_id": self.version_id}
        out: dict[str, Any] = {"endpoint": self.endpoint, "path": self.path, "line": self.line}
        if self.record is not None:
            out["record"] = self.record
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FindingLocation:
        """The location `to_dict` wrote (equal to the original)."""
        return cls(
            path=data["path"],
            line=data.get("line"),
            endpoint=data.get("endpoint"),
            store=data.get("store"),
            record=data.get("record"),
            version_id=data.get("version_id"),
        )


@dataclass(frozen=True, slots=True)
class Finding:
    """One record (or whole file) of the subject's data, from the scanner to the access package.

    Attributes:
        location: where it is.
        kind: artifact kind (`transcript`, `memory`, `prompt_history`, `session_record`, `s3_object`, ...).
        app: the agent that wrote it (`cowork`, `codex`, ...); None for store findings and unknown apps.
        session_id: the session it belongs to, if any.
        timestamp: the record's own time as ISO 8601 UTC, if it has one.
        categories: Art. 15(1)(b) category codes (`DataCategory` values; empty when not classified).
        content: the record as text (JSON text of a structured record), unredacted; None when only named.
        reason: `identifier_match` (names the subject) or `owned_session` (the whole session is theirs).
        pointers: JSON pointers of the strings that name the subject.
        forms: the identifier forms that matched.
        malformed: why the record could not be decoded (`oversized`, ...), else None.
        is_latest: for store findings, whether the version is the current one; None for laptop findings.
    """

    location: FindingLocation
    kind: str
    reason: str
    app: str | None = None
    session_id: str | None = None
    timestamp: str | None = None
    categories: tuple[str, ...] = ()
    content: str | None = field(default=None, repr=False)
    pointers: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    malformed: str | None = None
    is_latest: bool | None = None

    @property
    def path(self) -> str:
        """The file's path or the object's key."""
        return self.location.path

    @property
    def line(self) -> int | None:
        """The 1-based line, if any."""
        return self.location.line

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready dict (`app` only for laptop findings, `is_latest` only for store findings)."""
        out: dict[str, Any] = {"location": self.location.to_dict(), "kind": self.kind}
        if self.location.store is None:
            out["app"] = self.app
        out.update(
            session_id=self.session_id,
            timestamp=self.timestamp,
            categories=list(self.categories),
            content=self.content,
            reason=self.reason,
            pointers=list(self.pointers),
            forms=list(self.forms),
            malformed=self.malformed,
        )
        if self.is_latest is not None:
            out["is_latest"] = self.is_latest
        return out

    def to_json(self) -> str:
        """One line of ASCII JSON (names that are not UTF-8 round-trip as `\\udcxx` escapes)."""
        return json.dumps(self.to_dict(), ensure_ascii=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """The finding `to_dict` wrote (equal to the original)."""
        return cls(
            location=FindingLocation.from_dict(data["location"]),
            kind=data["kind"],
            reason=data.get("reason", "match"),
            app=data.get("app"),
            session_id=data.get("session_id"),
            timestamp=data.get("timestamp"),
            categories=tuple(data.get("categories") or ()),
            content=data.get("content"),
            pointers=tuple(data.get("pointers") or ()),
            forms=tuple(data.get("forms") or ()),
            malformed=data.get("malformed"),
            is_latest=data.get("is_latest"),
        )

    @classmethod
    def from_json(cls, text: str) -> Finding:
        """The finding `to_json` wrote."""
        return cls.from_dict(json.loads(text))


class FoundItems:
    """A scan's findings as they are found: kept in order (the default), or handed to `sink` one at a time and
    not kept, so a location with thousands of findings is never held in memory whole (the access scan stages
    each one as it comes)."""

    def __init__(self, sink: Callable[[Finding], None] | None = None) -> None:
        self._kept: list[Finding] = []
        self._sink = sink
        self.count = 0

    def append(self, item: Finding) -> None:
        """One finding, in the order the scan found it."""
        self.count += 1
        if self._sink is None:
            self._kept.append(item)
        else:
            self._sink(item)

    def extend(self, items: Iterable[Finding]) -> None:
        """Several findings, in order."""
        for item in items:
            self.append(item)

    def kept(self) -> tuple[Finding, ...]:
        """The findings kept (none when they went to a sink)."""
        return tuple(self._kept)
