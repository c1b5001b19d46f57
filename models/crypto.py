"""Encryption at rest: AES-256-GCM for small values (identifiers, wrapped keys) and chunked for files.

Per-request data keys are random and stored wrapped under the master key (`RequestKey`); destroying a
request key makes its identifiers and package unreadable (crypto-shredding). No key ever leaves memory
unwrapped, and nothing here logs.
"""

from __future__ import annotations

import base64
import os
import struct
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from models.errors import DsrError
from models.files import atomic_writer

KEY_BYTES = 32
_NONCE = 12
_PREFIX = "v1:"
_FILE_MAGIC = b"DSRENC1\n"
_FILE_CHUNK = 1 << 20


class DecryptionError(DsrError):
    """Ciphertext is corrupt, truncated, or the key is wrong."""


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, plaintext: bytes, aad: bytes = b"") -> str:
    """Encrypt a small value; returns `v1:<base64(nonce || ciphertext)>`."""
    nonce = os.urandom(_NONCE)
    return _PREFIX + base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext, aad)).decode("ascii")


def unseal(key: bytes, token: str, aad: bytes = b"") -> bytes:
    """Decrypt a value made by `seal`.

    Raises:
        DecryptionError: wrong key, wrong context (`aad`) or a modified token.
    """
    if not token.startswith(_PREFIX):
        raise DecryptionError("not an encrypted value (missing v1: prefix)")
    raw = base64.b64decode(token[len(_PREFIX) :])
    try:
        return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], aad)
    except InvalidTag:
        raise DecryptionError("decryption failed: wrong key or modified data") from None


def is_sealed(value: str | None) -> bool:
    """Whether a stored value is ciphertext made by `seal`."""
    return bool(value) and str(value).startswith(_PREFIX)


def encrypt_file(src: Path, dst: Path, key: bytes, aad: bytes = b"") -> None:
    """Encrypt a file in 1 MiB chunks (each sealed with its index and a last-chunk flag against reordering
    and truncation) to `dst`, written atomically with mode 0600."""
    with src.open("rb") as inp:
        encrypt_stream(iter(lambda: inp.read(_FILE_CHUNK), b""), dst, key, aad)


def encrypt_stream(pieces: Iterable[bytes], dst: Path, key: bytes, aad: bytes = b"") -> None:
    """Encrypt the concatenation of `pieces` to `dst` in the format of `encrypt_file` (chunks of at most
    1 MiB, whatever the pieces' sizes), written atomically with mode 0600; the plaintext is never held whole."""
    with encrypting_writer(dst, key, aad) as sealer:
        for piece in pieces:
            sealer.write(piece)


@contextmanager
def encrypting_writer(dst: Path, key: bytes, aad: bytes = b"") -> Iterator[ChunkSealer]:
    """A writer whose bytes are encrypted to `dst` as `encrypt_stream` does, for a caller that produces them a
    piece at a time; `dst` is published (atomically, mode 0600) only when the block ends without an error."""
    with atomic_writer(dst) as out:
        sealer = ChunkSealer(out, key, aad)
        yield sealer
        sealer.finish()


class ChunkSealer:
    """Seals the bytes written to it into `out`, in the format of `encrypt_file`: at most 1 MiB of plaintext
    is held, and a chunk is sealed as the last one only by `finish` (so a stream cut short never verifies)."""

    def __init__(self, out: BinaryIO, key: bytes, aad: bytes) -> None:
        self._out, self._aead, self._aad = out, AESGCM(key), aad
        self._prefix = os.urandom(8)
        self._index = 0
        self._pending = bytearray()
        self._chunk: bytes | None = None
        out.write(_FILE_MAGIC + self._prefix)

    def write(self, piece: bytes) -> None:
        """Add bytes; a full chunk is sealed once more data follows it."""
        self._pending += piece
        while len(self._pending) > _FILE_CHUNK:
            if self._chunk is not None:
                self._seal(self._chunk, last=False)
            self._chunk = bytes(self._pending[:_FILE_CHUNK])
            del self._pending[:_FILE_CHUNK]

    def finish(self) -> None:
        """Seal what is left, the last chunk flagged as last."""
        chunk = self._chunk
        if chunk is not None and self._pending:
            self._seal(chunk, last=False)
            chunk = None
        self._seal(bytes(self._pending) if chunk is None else chunk, last=True)

    def _seal(self, chunk: bytes, *, last: bool) -> None:
        _write_chunk(self._out, self._aead, self._prefix, self._index, chunk, self._aad, last=last)
        self._index += 1


def _write_chunk(
    out: BinaryIO, aead: AESGCM, prefix: bytes, index: int, chunk: bytes, aad: bytes, *, last: bool
) -> None:
    nonce = prefix + struct.pack(">I", index)
    sealed = aead.encrypt(nonce, chunk, aad + struct.pack(">I?", index, last))
    out.write(struct.pack(">I", len(sealed)) + sealed)


def decrypt_file(src: Path, dst: Path, key: bytes, aad: bytes = b"") -> None:
    """Decrypt a file made by `encrypt_file` to `dst` (mode 0600).

    Raises:
        DecryptionError: wrong key, modified, reordered or truncated ciphertext.
    """
    with atomic_writer(dst) as out:
        for chunk in decrypt_stream(src, key, aad):
            out.write(chunk)


def is_encrypted_file(src: Path) -> bool:
    """Whether `src` starts like a file made by `encrypt_file` or `encrypt_stream`."""
    with src.open("rb") as inp:
        return inp.read(len(_FILE_MAGIC)) == _FILE_MAGIC


def decrypt_stream(src: Path, key: bytes, aad: bytes = b"") -> Iterator[bytes]:
    """The plaintext chunks of a file made by `encrypt_file` or `encrypt_stream`, one at a time; a chunk is
    yielded only once it is authenticated, and the end is checked (a truncated file raises at its end).

    Raises:
        DecryptionError: wrong key, modified, reordered or truncated ciphertext.
    """
    aead = AESGCM(key)
    with src.open("rb") as inp:
        header = inp.read(len(_FILE_MAGIC) + 8)
        if not header.startswith(_FILE_MAGIC):
            raise DecryptionError(f"{src.name} is not a dsr encrypted file")
        prefix = header[len(_FILE_MAGIC) :]
        index, done = 0, False
        while not done:
            size_raw = inp.read(4)
            if len(size_raw) < 4:
                raise DecryptionError(f"{src.name} is truncated")
            sealed = inp.read(struct.unpack(">I", size_raw)[0])
            nonce = prefix + struct.pack(">I", index)
            for last in (False, True):
                try:
                    plain = aead.decrypt(nonce, sealed, aad + struct.pack(">I?", index, last))
                except InvalidTag:
                    continue
                done = last
                break
            else:
                raise DecryptionError(f"{src.name}: chunk {index} failed to decrypt (wrong key or modified)")
            yield plain
            index += 1
        if inp.read(1):
            raise DecryptionError(f"{src.name} has data after its last chunk")


_SPOOL_MAGIC = b"DSRSPL1\n"


class RecordSpool:
    """An append-only file of records, each sealed on its own (AES-GCM; the nonce is the file's random prefix
    and the record's number, the context its file name and number), read back one at a time by number: random
    access to many records without holding them in memory. The file (mode 0600) is created here and must not
    exist; only the offsets are kept in memory, so the file is read only by the object that wrote it, or by a
    reader given them (`layout`, `reopen`: a forked child's spool read by its parent).

    Raises (on read):
        DecryptionError: the record was modified, moved or cut off (the file is truncated).
    """

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = path
        self._aead = AESGCM(key)
        self._prefix = os.urandom(8)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        self._starts = array("Q")
        self._sizes = array("I")
        self._end = os.write(self._fd, _SPOOL_MAGIC + self._prefix)

    def __len__(self) -> int:
        return len(self._starts)

    def append(self, data: bytes) -> int:
        """Seal and write one record; returns its number (for `read`)."""
        number = len(self._starts)
        sealed = self._aead.encrypt(self._nonce(number), data, self._aad(number))
        written = 0
        while written < len(sealed):
            written += os.pwrite(self._fd, sealed[written:], self._end + written)
        self._starts.append(self._end)
        self._sizes.append(len(sealed))
        self._end += len(sealed)
        return number

    def read(self, number: int) -> bytes:
        """The record `number`, authenticated.

        Raises:
            DecryptionError: the record was modified or moved, or the file was cut short.
        """
        start, size = self._starts[number], self._sizes[number]
        sealed = os.pread(self._fd, size, start)
        if len(sealed) < size:
            raise DecryptionError(f"{self.path.name} is truncated (record {number} is cut off)")
        try:
            return self._aead.decrypt(self._nonce(number), sealed, self._aad(number))
        except InvalidTag:
            raise DecryptionError(f"{self.path.name}: record {number} failed to decrypt (modified)") from None

    def layout(self) -> tuple[bytes, bytes, bytes]:
        """What a reader in another process needs (`reopen`): the file's nonce prefix and where each record is."""
        return self._prefix, self._starts.tobytes(), self._sizes.tobytes()

    @classmethod
    def reopen(cls, path: Path, key: bytes, layout: tuple[bytes, bytes, bytes]) -> RecordSpool:
        """A reader of a spool file written by another process (a forked child), given that spool's `layout`;
        records read from it are authenticated as any spool's, and appending to it is refused (`OSError`).

        Raises:
            OSError: the file cannot be opened (it is never followed through a symbolic link).
        """
        spool = cls.__new__(cls)
        spool.path = path
        spool._aead = AESGCM(key)
        spool._prefix, starts, sizes = layout
        spool._starts, spool._sizes = array("Q"), array("I")
        spool._starts.frombytes(starts)
        spool._sizes.frombytes(sizes)
        spool._fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        spool._end = -1
        return spool

    def close(self) -> None:
        """Close the file (it stays on disk, sealed); reading afterwards raises `OSError`."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def remove(self) -> None:
        """Close and delete the file."""
        self.close()
        self.path.unlink(missing_ok=True)

    def _nonce(self, number: int) -> bytes:
        return self._prefix + struct.pack(">I", number)

    def _aad(self, number: int) -> bytes:
        return self.path.name.encode() + struct.pack(">I", number)
