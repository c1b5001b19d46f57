"""A request's private staging directory: encrypted copies awaiting packaging, and the sealed package.

Copies of a subject's data exist only here (AES-GCM under the request key, mode 0600 in a 0700 directory)
and inside the sealed package; the plaintext exists only in memory.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import overload

from detection.findings import Finding
from erasure.discovery import LocationDiscovery
from models.crypto import (
    ChunkSealer,
    RecordSpool,
    decrypt_file,
    decrypt_stream,
    encrypt_file,
    encrypting_writer,
    is_encrypted_file,
    seal,
    unseal,
)
from models.errors import InputError
from models.files import atomic_write
from models.settings import Settings
from reports.access_input import PackageItem


def staging_dir(settings: Settings, request_id: str) -> Path:
    """The request's private directory for copies awaiting packaging (mode 0700)."""
    path = settings.access.package_dir / "staging" / request_id
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def staged_file(root: Path, location: str) -> Path:
    """A location's staged copy inside the request's staging directory `root`."""
    return root / f"{location}.jsonl.enc"


def write_staging(path: Path, items: Iterable[Finding], key: bytes) -> None:
    """Write a location's findings encrypted (AES-GCM, request key, in sealed chunks: `encrypt_stream`), one
    JSON line each (`Finding.to_json`: ASCII, so names that are not UTF-8 round-trip); the plaintext exists
    only in memory, a chunk at a time."""
    with staging_writer(path, key) as staged:
        for item in items:
            staged.add(item)


class StagingWriter:
    """Findings added one at a time to a location's staging file (`staging_writer`); `count` so far."""

    def __init__(self, sealer: ChunkSealer) -> None:
        self._sealer = sealer
        self.count = 0

    def add(self, item: Finding) -> None:
        """Stage one finding (sealed once a chunk is full; nothing is kept in memory beyond that chunk)."""
        self._sealer.write(item.to_json().encode("ascii") + b"\n")
        self.count += 1


@contextmanager
def staging_writer(path: Path, key: bytes) -> Iterator[StagingWriter]:
    """Stage findings as a scan finds them, in the format of `write_staging`; the file replaces the location's
    previous one only when the block ends without an error (a failed scan keeps what was staged before)."""
    with encrypting_writer(path, key, path.name.encode()) as sealer:
        yield StagingWriter(sealer)


def iter_staged(root: Path, key: bytes) -> Iterator[Finding]:
    """The staged findings of every location, decrypted a chunk at a time (a location staged as one sealed
    value by an earlier version is decrypted whole)."""
    for path in sorted(root.glob("*.jsonl.enc")):
        yield from iter_staged_file(path, key)


def iter_staged_file(path: Path, key: bytes) -> Iterator[Finding]:
    """The staged findings of one location file, in the order they were staged."""
    for line in _staged_lines(path, key):
        if line.strip():
            yield Finding.from_json(line.decode("utf-8"))


def _staged_lines(path: Path, key: bytes) -> Iterator[bytes]:
    if not is_encrypted_file(path):
        yield from unseal(key, path.read_text(encoding="ascii"), path.name.encode()).splitlines()
        return
    rest = b""
    for chunk in decrypt_stream(path, key, path.name.encode()):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield from lines
    if rest:
        yield rest


#: The spool of a package being assembled in the staging directory: each distinct redacted text, sealed.
TEXT_SPOOL = "package-text.spool"
#: The items of that package (`SpooledItems`), each sealed on its own, beside its texts.
ITEM_SPOOL = "package-items.spool"


@dataclass(frozen=True, slots=True)
class SpooledText:
    """One redacted text kept in a `TextSpool`, read (and authenticated) on each use, never cached."""

    spool: RecordSpool = field(repr=False)
    number: int

    def read_text(self) -> str:
        """The text (a `DecryptionError` when its spool record was modified or cut off)."""
        return self.spool.read(self.number).decode("utf-8", "surrogatepass")


class TextSpool:
    """The redacted texts of a package being assembled, sealed under the request key in the staging directory
    (`TEXT_SPOOL`; a leftover of an interrupted run is replaced): a package item holds a `SpooledText`
    instead of its text. The package's items go to `items` (`ITEM_SPOOL`), sealed too. Use it as a context
    manager: both files are deleted when the block ends, however it ends."""

    def __init__(self, root: Path, key: bytes) -> None:
        path = root / TEXT_SPOOL
        path.unlink(missing_ok=True)
        self._root, self._key = root, key
        self._records = RecordSpool(path, key)
        self.items = SpooledItems(root / ITEM_SPOOL, key, self._records)
        self._parts: list[RecordSpool] = []

    def add(self, text: str) -> SpooledText:
        """Seal one text into the spool; what reads it back."""
        return SpooledText(self._records, self._records.append(text.encode("utf-8", "surrogatepass")))

    def _part_path(self, number: int) -> Path:
        return self._root / f"{TEXT_SPOOL}.part{number}"

    def part(self, number: int) -> RecordSpool:
        """A spool file of its own for a forked child (`TEXT_SPOOL.partN`, a leftover replaced): it seals its
        texts there, and the parent reads them with `adopt` once it sends its `layout`."""
        path = self._part_path(number)
        path.unlink(missing_ok=True)
        return RecordSpool(path, self._key)

    def adopt(self, number: int, layout: tuple[bytes, bytes, bytes]) -> RecordSpool:
        """The reader of part `number`, written by a child that sent its `layout`; deleted with this spool."""
        reader = RecordSpool.reopen(self._part_path(number), self._key, layout)
        self._parts.append(reader)
        return reader

    def discard(self, number: int) -> None:
        """Close and delete part `number` once it is no longer read (its texts moved into the spool, or its
        third parties used)."""
        path = self._part_path(number)
        for reader in [r for r in self._parts if r.path == path]:
            reader.close()
            self._parts.remove(reader)
        path.unlink(missing_ok=True)

    def remove(self) -> None:
        """Close and delete the spool files (every part too, a failed child's included)."""
        self.items.remove()
        self._records.remove()
        for reader in self._parts:
            reader.close()
        for path in self._root.glob(f"{TEXT_SPOOL}.part*"):
            path.unlink(missing_ok=True)

    def __enter__(self) -> TextSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


class SpooledItems(Sequence[PackageItem]):
    """A package's items kept out of memory: each appended item is sealed on its own into a file (a leftover
    of an interrupted run is replaced) and read back, authenticated, each time the sequence is read; only
    where each one is stays in memory, so `len` is known without reading. An item's text stays in the text
    spool (`texts`) it was added to: the item keeps its number there. Made by `TextSpool`, which deletes it.

    Raises (on read):
        DecryptionError: an item's record was modified, moved or cut off.
    """

    def __init__(self, path: Path, key: bytes, texts: RecordSpool) -> None:
        path.unlink(missing_ok=True)
        self._records = RecordSpool(path, key)
        self._texts = texts

    def append(self, item: PackageItem) -> None:
        """Seal one item (its text must be a plain string or in this package's text spool).

        Raises:
            ValueError: the item's text is kept in another spool.
        """
        self._records.append(_item_json(item, self._texts).encode("ascii"))

    def __len__(self) -> int:
        return len(self._records)

    @overload
    def __getitem__(self, index: int) -> PackageItem: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[PackageItem]: ...

    def __getitem__(self, index: int | slice) -> PackageItem | Sequence[PackageItem]:
        if isinstance(index, slice):
            return tuple(self._item(n) for n in range(*index.indices(len(self))))
        number = index + len(self) if index < 0 else index
        if not 0 <= number < len(self):
            raise IndexError("package item index out of range")
        return self._item(number)

    def __iter__(self) -> Iterator[PackageItem]:
        for number in range(len(self)):
            yield self._item(number)

    def remove(self) -> None:
        """Close and delete the file."""
        self._records.remove()

    def _item(self, number: int) -> PackageItem:
        return _item_from(self._records.read(number), self._texts)


def _item_json(item: PackageItem, texts: RecordSpool) -> str:
    """One item as ASCII JSON (names that are not UTF-8 round-trip as escapes): its text as its number in
    `texts` (or the text itself), its timestamp in ISO 8601, its images in base64; `record` must be JSON."""
    source = item.content_source
    if isinstance(source, SpooledText):
        if source.spool is not texts:
            raise ValueError("a package item's text is kept in another spool: add it to this package's text spool")
        content: int | str = source.number
    elif isinstance(source, str):
        content = source
    else:
        content = source.read_text()
    return json.dumps(
        [
            item.location, item.kind, item.app, item.session_id,
            item.timestamp.isoformat() if item.timestamp is not None else None,
            item.categories, content, item.record, item.context, item.reason, item.redactions,
            [[media_type, base64.b64encode(blob).decode("ascii")] for media_type, blob in item.image_blocks],
            item.record_in_content,
        ],
        separators=(",", ":"),
    )  # fmt: skip


def _item_from(data: bytes, texts: RecordSpool) -> PackageItem:
    """The item `_item_json` wrote."""
    (location, kind, app, session_id, stamp, categories, content, record, context, reason, redactions, images,
     in_content) = json.loads(data)  # fmt: skip
    return PackageItem(
        location=location,
        kind=kind,
        app=app,
        session_id=session_id,
        timestamp=datetime.fromisoformat(stamp) if stamp is not None else None,
        categories=tuple(categories),
        content_source=SpooledText(texts, content) if isinstance(content, int) else content,
        record=record,
        context=tuple(context),
        reason=reason,
        redactions=redactions,
        image_blocks=tuple((media_type, base64.b64decode(blob)) for media_type, blob in images),
        record_in_content=in_content,
    )


def seal_package(directory: Path, zip_path: Path, key: bytes, request_id: str) -> Path:
    """Encrypt the package's zip under the request key, then remove every plaintext copy.

    Returns the encrypted file `<request id>.zip.enc` (decrypt with `dsr request export ID --out DIR`).
    """
    sealed = zip_path.with_name(f"{request_id}.zip.enc")
    encrypt_file(zip_path, sealed, key, request_id.encode())
    zip_path.unlink(missing_ok=True)
    shutil.rmtree(directory, ignore_errors=True)
    return sealed


def seal_draft(directory: Path, zip_path: Path, key: bytes, request_id: str) -> Path:
    """Encrypt a package the release check blocked as `<request id>.draft.zip.enc` (for the reviewer only:
    `dsr request export ID --draft`), then remove every plaintext copy."""
    sealed = zip_path.with_name(f"{request_id}.draft.zip.enc")
    encrypt_file(zip_path, sealed, key, request_id.encode())
    zip_path.unlink(missing_ok=True)
    shutil.rmtree(directory, ignore_errors=True)
    return sealed


def draft_path(package_dir: Path, request_id: str) -> Path:
    """Where a request's blocked draft package is kept (sealed) until it is issued."""
    return package_dir / f"{request_id}.draft.zip.enc"


def open_package(sealed: Path, key: bytes, request_id: str, out_dir: Path) -> Path:
    """Decrypt and unpack a sealed package into `out_dir/<request id>/`; returns that directory."""
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    plain_zip = out_dir / f".{request_id}.zip"
    try:
        decrypt_file(sealed, plain_zip, key, request_id.encode())
        target = out_dir / request_id
        with zipfile.ZipFile(plain_zip) as archive:
            for member in archive.namelist():
                resolved = (out_dir / member).resolve()
                if not resolved.is_relative_to(out_dir.resolve()):
                    raise InputError(f"package member {member!r} would escape {out_dir}")
            archive.extractall(out_dir)
    finally:
        plain_zip.unlink(missing_ok=True)
    return target


def save_discovery(path: Path, discovery: LocationDiscovery, key: bytes) -> None:
    """Stage one location's discovery, encrypted under the request key."""
    # ASCII JSON: paths whose names are not UTF-8 (surrogate escapes) round-trip as `\udcxx` escapes.
    plain = json.dumps(discovery.to_dict(), ensure_ascii=True).encode("ascii")
    atomic_write(path, seal(key, plain, path.name.encode()), mode=0o600)


def load_discovery(path: Path, key: bytes) -> LocationDiscovery:
    """A staged discovery (authenticated: a tampered file is refused)."""
    data = unseal(key, path.read_text(encoding="ascii"), path.name.encode())
    return LocationDiscovery.from_dict(json.loads(data))
