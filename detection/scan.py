"""Scan one endpoint for one subject: discover artifacts, prefilter, confirm, apply ownership, classify.

Owns the finding items of `dsr scan` and the access package (`location`, `kind`, `session_id`, `timestamp`,
`categories`, `content`). Plain Python over a connector: no Prefect, no database; never logs content.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import zstandard

from connectors.agents import agent_layout, record_app
from connectors.base import Connector, RemoteHit, RemoteScanner, Skipped
from connectors.encoding import utf8_view
from connectors.layouts import (
    Artifact,
    ArtifactKind,
    CoverageGap,
    find_gaps,
    iter_artifacts,
    parse_timestamp,
    read_session_record,
)
from connectors.records import RecordFormat, decode_json, read_up_to
from connectors.shadow_git import MAX_GIT_FILE_BYTES, GitFormatError, object_texts
from connectors.sqlite_store import is_sqlite, iter_db_records, private_copy
from detection.findings import Finding, FindingLocation, FoundItems
from detection.matcher import CHUNK_BYTES, MAX_LINE_BYTES, Candidate, Confirmation, Matcher, decode_line
from detection.ownership import Ownership, decide_ownership
from models.errors import ConnectorError

if TYPE_CHECKING:  # presidio (and spaCy) take seconds to import: only loaded when classifying
    from detection.classify import Classifier

_CLAUDE_APPS = frozenset({"cowork", "claude-code", "claude-desktop"})
IDENTIFIER_MATCH = "identifier_match"
OWNED_SESSION = "owned_session"
_MIN_CHUNK = 64 << 10
_BOM = b"\xef\xbb\xbf"
_TIME_FIELDS = ("timestamp", "_audit_timestamp", "lastActivityAt", "createdAt")
_RECORD_KINDS = (ArtifactKind.SESSION_RECORD, ArtifactKind.CODE_SESSION_RECORD)
# Whole-file items of owned sessions carry at most this much content (larger files are named, not copied).
MAX_WHOLE_FILE_CONTENT = 32 << 20

Progress = Callable[[int, int], None]
_ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z")


@dataclass(frozen=True)
class ScanResult:
    """What a scan found on one endpoint.

    Attributes:
        items: the findings (`detection.findings.Finding`).
        skipped: entries not read, with reasons.
        owned_sessions: session ids whose every record is in scope, with the ownership reason.
        files_scanned: artifacts read.
        bytes_scanned: their total size.
        gaps: agent-like stores found on the endpoint that no layout reads (the endpoint is then not fully
            scanned: its status says so and the package's scope lists them).
        residual_databases: databases where the subject's identifiers remain only in free pages or a stale
            WAL (no live row holds them): no access finding, but erasure must `VACUUM` them.
        encrypted_stores: encrypted conversation files (Windsurf, ChatGPT desktop): listed, never opened.
        residual_stores: the app's opaque stores found (VM disk images, browser storage, caches), by folder
            name (`vm_bundles`, `IndexedDB`, ...): listed, never opened, so stated as not searched.
    """

    items: tuple[Finding, ...]
    skipped: tuple[Skipped, ...]
    owned_sessions: tuple[tuple[str, str], ...]
    files_scanned: int
    bytes_scanned: int
    gaps: tuple[CoverageGap, ...] = ()
    residual_databases: tuple[str, ...] = ()
    encrypted_stores: tuple[str, ...] = ()
    residual_stores: tuple[str, ...] = ()


def record_timestamp(value: object) -> str | None:
    """The record's own time as ISO 8601 UTC (`timestamp`, `_audit_timestamp`, record times), if any."""
    if not isinstance(value, dict):
        return None
    for key in _TIME_FIELDS:
        raw = value.get(key)
        if isinstance(raw, str) and _ISO_Z.fullmatch(raw):
            return raw  # already ISO 8601 UTC as the agents write it (fast path)
        stamp = parse_timestamp(raw)
        if stamp is not None:
            return stamp.isoformat().replace("+00:00", "Z")
    return None


def _content(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


class _Classify:
    """Classification with a cache: the same text recurs in transcript, audit log and tool results.

    With `build`, the default classifier is made on the first record that needs classifying: presidio is not
    imported by a scan that finds nothing.
    """

    def __init__(self, classifier: Classifier | None, matcher: Matcher, *, build: bool = False) -> None:
        self._classifier = classifier
        self._matcher = matcher
        self._build = build and classifier is None
        self._cache: dict[bytes, list[str]] = {}

    def _ready(self) -> Classifier | None:
        if self._classifier is None and self._build:
            from detection.classify import Classifier  # noqa: PLC0415 - see the TYPE_CHECKING import

            self._classifier = Classifier(default_region=self._matcher.default_region)
        return self._classifier

    def __call__(self, value: object, content: str | None) -> list[str]:
        classifier = None if value is None else self._ready()
        if classifier is None:
            return []
        key = hashlib.blake2b((content or "").encode("utf-8", "surrogatepass"), digest_size=16).digest()
        found = self._cache.get(key)
        if found is None:
            found = list(classifier.classify(value, self._matcher).categories)
            self._cache[key] = found
        return found


def _item(
    endpoint: str,
    artifact: Artifact,
    line: int | None,
    value: object,
    categories: list[str],
    *,
    reason: str,
    pointers: Sequence[str] = (),
    forms: Sequence[str] = (),
    malformed: str | None = None,
    content: str | None = None,
) -> Finding:
    session_id = artifact.session_id
    if session_id is None and isinstance(value, dict) and isinstance(value.get("sessionId"), str):
        session_id = value["sessionId"]
    return Finding(
        location=FindingLocation(artifact.item.path, line, endpoint=endpoint),
        kind=artifact.kind.value,
        reason=reason,
        app=artifact.app,
        session_id=session_id,
        timestamp=record_timestamp(value),
        categories=tuple(categories),
        content=content if content is not None else _content(value),
        pointers=tuple(pointers),
        forms=tuple(forms),
        malformed=malformed,
    )


def _decide_sessions(
    connector: Connector, artifacts: Sequence[Artifact], matcher: Matcher, owner_ids: Sequence[str]
) -> tuple[dict[str, Ownership], list[Skipped]]:
    decisions: dict[str, Ownership] = {}
    skipped: list[Skipped] = []
    for artifact in artifacts:
        if artifact.kind not in _RECORD_KINDS:
            continue
        try:
            record = read_session_record(connector, artifact)
        except ConnectorError as exc:
            skipped.append(Skipped(connector.name, artifact.item.path, exc.status.value))
            continue
        if record is None:
            continue
        decision = decide_ownership(
            matcher, email_address=record.email_address, account_id=record.account_id, endpoint_owners=owner_ids
        )
        for sid in {record.session_id, artifact.session_id}:
            if sid and (sid not in decisions or decision.owned):
                decisions[sid] = decision
    return decisions, skipped


RemoteCandidates = dict[str, list[Candidate]]


def _remote_candidates(
    connector: Connector, matcher: Matcher, artifacts: Sequence[Artifact]
) -> RemoteCandidates | None:
    """Candidate lines found on the laptop itself, when the connector can scan remotely (SSH with python3).

    One `scan_remote` call covers every artifact: the scanner and the literals travel on the channel's stdin,
    and only candidate lines come back, so the rest of each file never leaves the laptop. None when the
    connector cannot scan remotely (the caller then reads the files).
    """
    if not isinstance(connector, RemoteScanner) or not artifacts:
        return None
    hits: RemoteCandidates = {a.item.path: [] for a in artifacts}
    for entry in connector.scan_remote([a.item.path for a in artifacts], matcher.literals):
        if isinstance(entry, RemoteHit) and entry.path in hits:
            hits[entry.path].append(Candidate(entry.line, entry.offset, entry.data))
    return hits


def _open_text(connector: Connector, artifact: Artifact) -> BinaryIO:
    """The artifact's bytes as UTF-8: files with a UTF-16/32 byte-order mark are transcoded (same line
    numbers), UTF-8 files and binaries are read as they are."""
    stream = connector.open(artifact.item)
    if artifact.fmt is RecordFormat.JSONL_ZSTD:
        # Lines count in the decompressed text.
        stream = zstandard.ZstdDecompressor().stream_reader(stream, closefd=True)
    view, _encoding = utf8_view(stream)
    return view


def _line_format(artifact: Artifact) -> RecordFormat:
    """The format the matcher confirms lines in (a compressed JSONL file is JSONL once decompressed)."""
    return RecordFormat.JSONL if artifact.fmt is RecordFormat.JSONL_ZSTD else artifact.fmt


def _is_database(connector: Connector, artifact: Artifact) -> bool:
    """A database by its layout, or a binary that starts with SQLite's header (never by extension alone)."""
    if artifact.fmt is RecordFormat.SQLITE:
        return True
    if artifact.fmt is not RecordFormat.BINARY or artifact.item.size < 100 or artifact.app in _CLAUDE_APPS:
        return False
    with connector.open(artifact.item) as stream:
        return is_sqlite(stream.read(16))


def _db_items(
    endpoint: str,
    connector: Connector,
    artifact: Artifact,
    matcher: Matcher,
    classify: _Classify,
    *,
    owned: bool,
    residual: list[str] | None = None,
) -> Iterator[Finding]:
    """One item per row naming the subject (every row when the session is owned), located by `record`.

    Read from a private copy of the database and its WAL; one finding per row however many cells name
    the subject (`location.line` null, `location.record` `<table>:<key>`). When no row names the subject
    but the database's bytes (file or WAL) still hold an identifier, its path goes to `residual` (deleted
    rows linger in free pages until `VACUUM`).
    """
    layout = agent_layout(artifact.app)
    named = False
    with private_copy(connector, artifact.item) as copy:
        for record in iter_db_records(copy):
            value = record.value()
            pointers: list[str] = []
            forms: set[str] = set()
            for pointer, span in matcher.iter_matches(value):
                if pointer not in pointers:
                    pointers.append(pointer)
                forms.add(span.label)
            named = named or bool(pointers)
            if not pointers and not owned:
                continue
            content = _content(value)
            item = _item(
                endpoint, artifact, None, value, classify(value, content) if pointers else [],
                reason=IDENTIFIER_MATCH if pointers else OWNED_SESSION, pointers=pointers, forms=sorted(forms),
                content=content,
            )  # fmt: skip
            session_id = item.session_id
            if session_id is None and layout is not None and layout.row_session is not None:
                cells = value if isinstance(value, dict) else {}
                session_id = layout.row_session(record.table, record.key, cells)
            yield replace(
                item,
                location=replace(item.location, record=record.record),
                app=record_app(record.record) or item.app,  # Kilo Code's index in the editor's state
                session_id=session_id,
            )
        if not named and residual is not None and _raw_mentions(copy, matcher):
            residual.append(artifact.item.path)


def _raw_mentions(copy: Path, matcher: Matcher) -> bool:
    """Whether the raw bytes of a database copy or its WAL hold a prefilter literal of the subject."""
    for path in (copy, copy.with_name(copy.name + "-wal")):
        if not path.exists():
            continue
        with path.open("rb") as stream:
            tail = b""
            while chunk := stream.read(CHUNK_BYTES):
                if matcher.has_literal(tail + chunk):
                    return True
                tail = chunk[-256:]
    return False


def _confirmations(
    matcher: Matcher, connector: Connector, artifact: Artifact, remote: RemoteCandidates | None = None
) -> Iterator[Confirmation]:
    if remote is not None and artifact.item.path in remote:
        for candidate in remote[artifact.item.path]:
            confirmation = matcher.confirm(candidate, _line_format(artifact))
            if confirmation is not None:
                yield confirmation
        return
    chunk = max(_MIN_CHUNK, min(CHUNK_BYTES, artifact.item.size + 1))
    with _open_text(connector, artifact) as stream:
        for candidate in matcher.iter_candidates(stream, chunk_bytes=chunk):
            confirmation = matcher.confirm(candidate, _line_format(artifact))
            if confirmation is not None:
                yield confirmation


def _owned_items(
    endpoint: str,
    connector: Connector,
    artifact: Artifact,
    matcher: Matcher,
    classify: _Classify,
    *,
    classify_all: bool,
) -> Iterator[Finding]:
    """Every record of an artifact of an owned session (Art. 15(1): all data relating to the person).

    Records that name the subject are classified; the others only when `classify_all` (presidio on every
    record of a large owned session costs about 2 ms a record).
    """
    if artifact.fmt in (RecordFormat.JSONL, RecordFormat.JSONL_ZSTD):
        with _open_text(connector, artifact) as stream:
            for line, raw, hit in _iter_jsonl_lines(stream, matcher):
                if raw is None:
                    yield _item(endpoint, artifact, line, None, [], reason=OWNED_SESSION, malformed="oversized")
                    continue
                content = raw.decode("utf-8", errors="replace")
                value, malformed = decode_line(raw)
                if value is None:
                    value = content
                pointers: list[str] = []
                forms: set[str] = set()
                if hit:
                    for pointer, span in matcher.iter_matches(value):
                        if pointer not in pointers:
                            pointers.append(pointer)
                        forms.add(span.label)
                categories = classify(value, content) if (pointers or classify_all) else []
                yield _item(
                    endpoint, artifact, line, value, categories, reason=OWNED_SESSION,
                    pointers=pointers, forms=sorted(forms), malformed=malformed, content=content,
                )  # fmt: skip
        return
    # Text, JSON documents and binaries are one whole-file item; lines that name the subject are also
    # listed with their line numbers (needed to redact or erase in place).
    yield from _matched_items(endpoint, connector, artifact, matcher, classify)
    if artifact.fmt is RecordFormat.BINARY or artifact.item.size > MAX_WHOLE_FILE_CONTENT:
        yield _item(endpoint, artifact, None, None, [], reason=OWNED_SESSION)
        return
    with _open_text(connector, artifact) as stream:
        data = stream.read(MAX_WHOLE_FILE_CONTENT + 1)
    text = data.decode("utf-8", errors="replace")
    document: object = text
    if artifact.fmt is RecordFormat.JSON:
        try:
            document = decode_json(text.encode("utf-8"))
        except ValueError:
            document = text
    found = list(dict.fromkeys(pointer for pointer, _ in matcher.iter_matches(document)))
    yield _item(
        endpoint, artifact, None, document, classify(document, text), reason=OWNED_SESSION, pointers=found, content=text
    )


def _iter_jsonl_lines(stream: BinaryIO, matcher: Matcher) -> Iterator[tuple[int, bytes | None, bool]]:
    """Yield (line number, raw line or None when oversized, has a prefilter literal) for non-blank lines.

    One prefilter pass per read buffer instead of one per line; lines longer than `MAX_LINE_BYTES` that do not
    fit one buffer are skipped through (yielded as None) without being held.
    """
    carry = b""
    line_no = 0
    eof = False
    while not eof:
        chunk = stream.read(CHUNK_BYTES)
        eof = not chunk
        buf = carry + chunk if carry else chunk
        if not buf:
            break
        cut = len(buf) if eof else buf.rfind(b"\n") + 1
        if cut == 0:
            if len(buf) <= MAX_LINE_BYTES:
                carry = buf
                continue
            line_no += 1
            yield line_no, None, True
            carry = b""
            while True:
                chunk = stream.read(CHUNK_BYTES)
                if not chunk:
                    eof = True
                    break
                newline = chunk.find(b"\n")
                if newline >= 0:
                    carry = chunk[newline + 1 :]
                    break
            continue
        hits = matcher.hit_ends(buf)
        index = 0
        pos = 0
        while pos < cut:
            newline = buf.find(b"\n", pos, cut)
            end = newline if newline >= 0 else cut
            line_no += 1
            while index < len(hits) and hits[index] <= pos:
                index += 1
            raw = buf[pos:end]
            if line_no == 1 and raw.startswith(_BOM):
                raw = raw[len(_BOM) :]
            if raw.endswith(b"\r"):
                raw = raw[:-1]
            if raw.strip():
                yield line_no, raw, index < len(hits) and hits[index] <= end
            pos = end + 1
        carry = buf[cut:]


def scan_endpoint(
    connector: Connector,
    endpoint_name: str,
    matcher: Matcher,
    *,
    owner_ids: Sequence[str] = (),
    classify: bool = True,
    classifier: Classifier | None = None,
    classify_owned: bool = False,
    expand_owned: bool = True,
    progress: Progress | None = None,
    os_override: str | None = None,
    sink: Callable[[Finding], None] | None = None,
) -> ScanResult:
    """Scan every agent-history artifact of one endpoint for the subject.

    Args:
        connector: the endpoint.
        endpoint_name: its configured name (the `location.endpoint` of items).
        matcher: the subject's matcher.
        owner_ids: the endpoint's configured owner identifier(s), for the ownership rule.
        classify: whether to classify confirmed records (categories); False leaves `categories` empty.
        classifier: a prepared classifier (one is built with the matcher's region if None).
        expand_owned: list every record of an owned session as its own item (True), or each file of an owned
            session as one whole-file item (`line` null, `content` null: the caller reads the file) plus the
            lines that name the subject (False, as fast as a plain scan).
        classify_owned: also classify records of owned sessions that do not name the subject (slow on
            large sessions; by default they are listed with empty `categories`).
        progress: called with (files done, bytes done) after each artifact.
        os_override: the endpoint's configured OS (default: the connector's, else recognised per home).
        sink: called with each item as it is found, in discovery order; the result's `items` is then empty
            (the caller keeps what it needs: the access scan stages each item, so no list of them is held).

    Returns:
        Items in discovery order (an owned session's records all appear, each once), skipped entries,
        owned sessions and counters.
    """
    artifacts, skipped = _list_artifacts(connector, os_override)
    gaps = tuple(find_gaps(connector, os_override=os_override))
    decisions, record_skips = _decide_sessions(connector, artifacts, matcher, owner_ids)
    skipped += record_skips
    endpoint_owned = any(matcher.is_identifier(owner) for owner in owner_ids if owner)
    classify_fn = _prepare_classify(matcher, classify, classifier)

    def is_owned(artifact: Artifact) -> bool:
        decision = decisions.get(artifact.session_id or "")
        return decision.owned if decision is not None else (artifact.session_id is not None and endpoint_owned)

    remote = _remote_candidates(
        connector, matcher, [a for a in artifacts if _plain_text(a) and not (is_owned(a) and expand_owned)]
    )
    items = FoundItems(sink)
    residual: list[str] = []
    scan = _ArtifactScan(endpoint_name, connector, matcher, classify_fn, remote, residual)
    files = size = 0
    for artifact in artifacts:
        searched = (
            _scan_unopened(items, skipped, scan, artifact)
            if artifact.kind is ArtifactKind.SHADOW_GIT or artifact.fmt is RecordFormat.NONE
            else _scan_opened(items, skipped, scan, artifact, owned=is_owned(artifact), expand_owned=expand_owned,
                              classify_owned=classify_owned)
        )  # fmt: skip
        if not searched:
            continue  # listed only, or skipped with its reason: not a file searched
        files += 1
        size += artifact.item.size
        if progress is not None:
            progress(files, size)
    owned_sessions = tuple(sorted((sid, d.reason) for sid, d in decisions.items() if d.owned))
    encrypted, opaque = _unopened_stores(artifacts)
    return ScanResult(
        items.kept(), tuple(skipped), owned_sessions, files, size, gaps, tuple(residual), encrypted, opaque
    )


def _scan_opened(
    items: FoundItems, skipped: list[Skipped], scan: _ArtifactScan, artifact: Artifact, **options: bool
) -> bool:
    """A file a record reader opens (`_scan_artifact` with `options`); False when it could not be read (the
    reason is in `skipped`)."""
    try:
        _scan_artifact(items, scan, artifact, **options)
    except ConnectorError as exc:
        skipped.append(Skipped(scan.connector.name, artifact.item.path, exc.status.value))
        return False
    except zstandard.ZstdError:
        skipped.append(Skipped(scan.connector.name, artifact.item.path, "corrupt_compressed_file"))
        return False
    return True


def _scan_unopened(items: FoundItems, skipped: list[Skipped], scan: _ArtifactScan, artifact: Artifact) -> bool:
    """A file no record reader opens: a shadow git file is searched object by object (`_git_items`); the
    others (encrypted and residual stores, audit keys) are only listed. Whether the file was searched."""
    if artifact.kind is not ArtifactKind.SHADOW_GIT:
        return False
    found = _git_items(scan.endpoint_name, scan.connector, artifact, scan.matcher)
    if isinstance(found, Skipped):
        skipped.append(found)
        return False
    if found is not None:
        items.append(found)
    return True


def _git_items(endpoint: str, connector: Connector, artifact: Artifact, matcher: Matcher) -> Finding | Skipped | None:
    """A file of a shadow git repository: one whole-file item when the subject is in any object it holds (the
    repository is erased whole); a file too large or corrupt to read is skipped with its reason."""
    if artifact.item.size > MAX_GIT_FILE_BYTES:
        return Skipped(connector.name, artifact.item.path, "too_large")
    try:
        with connector.open(artifact.item) as stream:
            data = read_up_to(stream, MAX_GIT_FILE_BYTES + 1)
        forms: set[str] = set()
        first: Confirmation | None = None
        for text in object_texts(artifact.item.path, data):
            if not matcher.has_literal(text):
                continue
            for confirmation in matcher.scan(io.BytesIO(text), RecordFormat.TEXT):
                first = first or confirmation
                forms |= set(confirmation.forms)
    except ConnectorError as exc:
        return Skipped(connector.name, artifact.item.path, exc.status.value)
    except GitFormatError:
        return Skipped(connector.name, artifact.item.path, "corrupt_git_object")
    if first is None:
        return None
    content = _content(first.value)
    return _item(
        endpoint, artifact, None, first.value, [], reason=IDENTIFIER_MATCH, forms=sorted(forms), content=content
    )


def _unopened_stores(artifacts: Sequence[Artifact]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Stores the scan lists but never opens: vendor-encrypted files, and the top folders of residual app
    storage (VM disks, browser storage)."""
    encrypted = tuple(a.item.path for a in artifacts if a.kind is ArtifactKind.ENCRYPTED_STORE)
    opaque = {
        a.item.path[len(a.root) :].lstrip("/").split("/")[0] for a in artifacts if a.kind is ArtifactKind.RESIDUAL
    }
    return encrypted, tuple(sorted(opaque))


def _prepare_classify(matcher: Matcher, classify: bool, classifier: Classifier | None) -> _Classify:
    """The classification step of a scan: none, the given classifier, or one built for the matcher's region on
    first use."""
    return _Classify(classifier if classify else None, matcher, build=classify)


def _plain_text(artifact: Artifact) -> bool:
    """Whether a remote scanner can search the artifact as it is stored (not a database, not compressed)."""
    return artifact.fmt not in (RecordFormat.NONE, RecordFormat.SQLITE, RecordFormat.JSONL_ZSTD)


def _list_artifacts(connector: Connector, os_override: str | None) -> tuple[list[Artifact], list[Skipped]]:
    """The endpoint's artifacts and the entries the listing skipped, in listing order."""
    artifacts: list[Artifact] = []
    skipped: list[Skipped] = []
    for entry in iter_artifacts(connector, os_override=os_override):
        if isinstance(entry, Skipped):
            skipped.append(entry)
        else:
            artifacts.append(entry)
    return artifacts, skipped


@dataclass(frozen=True)
class _ArtifactScan:
    """What every artifact of one endpoint scan is read with."""

    endpoint_name: str
    connector: Connector
    matcher: Matcher
    classify: _Classify
    remote: RemoteCandidates | None
    residual: list[str]


def _scan_artifact(
    items: FoundItems,
    scan: _ArtifactScan,
    artifact: Artifact,
    *,
    owned: bool,
    expand_owned: bool,
    classify_owned: bool,
) -> None:
    """Append the items of one artifact to `items` as they are found (a read error leaves those found so far)."""
    name, connector, matcher, classify_fn = scan.endpoint_name, scan.connector, scan.matcher, scan.classify
    if _is_database(connector, artifact):
        items.extend(_db_items(name, connector, artifact, matcher, classify_fn, owned=owned, residual=scan.residual))
    elif owned and expand_owned:
        items.extend(_owned_items(name, connector, artifact, matcher, classify_fn, classify_all=classify_owned))
    elif owned:
        items.extend(_matched_items(name, connector, artifact, matcher, classify_fn, scan.remote))
        items.append(_item(name, artifact, None, None, [], reason=OWNED_SESSION))
    else:
        items.extend(_matched_items(name, connector, artifact, matcher, classify_fn, scan.remote))


def _matched_items(
    endpoint: str,
    connector: Connector,
    artifact: Artifact,
    matcher: Matcher,
    classify: _Classify,
    remote: RemoteCandidates | None = None,
) -> Iterator[Finding]:
    """Items of confirmed records; windows of one oversized line are merged into one item."""
    last: Finding | None = None
    for confirmation in _confirmations(matcher, connector, artifact, remote):
        line = None if artifact.fmt is RecordFormat.BINARY else confirmation.line
        if last is not None and last.line == line:
            last = replace(last, forms=tuple(sorted(set(last.forms) | set(confirmation.forms))))
            continue
        if last is not None:
            yield last
        content = _content(confirmation.value)
        last = _item(
            endpoint, artifact, line, confirmation.value, classify(confirmation.value, content),
            reason=IDENTIFIER_MATCH, pointers=confirmation.pointers, forms=confirmation.forms,
            malformed=confirmation.malformed, content=content,
        )  # fmt: skip
    if last is not None:
        yield last
