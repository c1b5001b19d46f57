"""Text encodings of history files: UTF-16 and UTF-32 (with a byte-order mark, or UTF-16 without one where a
layout says so) are read as UTF-8 and written back in the encoding they had.

Owns BOM detection, the streaming transcoder used for scanning and the round trip used for redaction. Knows
no layouts and matches nothing. Line numbers survive the transcoding: a line ends at U+000A in every
encoding, so the n-th line of the UTF-8 view is the n-th line of the file.
"""

from __future__ import annotations

import codecs
import io
from dataclasses import dataclass
from typing import BinaryIO

__all__ = [
    "TextEncoding",
    "detect_encoding",
    "from_utf8",
    "looks_utf16_without_bom",
    "to_utf8",
    "utf8_view",
]

_PEEK = 4


@dataclass(frozen=True, slots=True)
class TextEncoding:
    """A non-UTF-8 text encoding of a file.

    Attributes:
        codec: Python codec name without byte-order mark handling (`utf-16-le`, `utf-32-be`, ...).
        bom: the byte-order mark the file starts with (empty for UTF-16 without BOM).
    """

    codec: str
    bom: bytes

    @property
    def name(self) -> str:
        """A short name for reports (`utf-16-le`, `utf-16-le-nobom`)."""
        return self.codec if self.bom else f"{self.codec}-nobom"


_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: FF FE 00 00 starts with FF FE
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def detect_encoding(head: bytes, *, utf16_without_bom: bool = False) -> TextEncoding | None:
    """The encoding a file's first bytes announce; None for UTF-8 (with or without its BOM) and binaries.

    Args:
        head: the file's first bytes (4 are enough for a BOM; a few hundred for the BOM-less guess).
        utf16_without_bom: the layout says this file may be UTF-16 without a BOM: guess it from NUL bytes.
    """
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return TextEncoding(codec, bom)
    if utf16_without_bom:
        guessed = looks_utf16_without_bom(head)
        if guessed is not None:
            return TextEncoding(guessed, b"")
    return None


def looks_utf16_without_bom(head: bytes) -> str | None:
    """`utf-16-le` or `utf-16-be` when mostly-ASCII text shows NULs on every other byte; else None."""
    sample = head[: len(head) - len(head) % 2]
    if len(sample) < 4:
        return None
    even_nuls = sample[0::2].count(0)
    odd_nuls = sample[1::2].count(0)
    half = len(sample) // 2
    if odd_nuls >= 0.6 * half and even_nuls <= 0.1 * half:
        return "utf-16-le"
    if even_nuls >= 0.6 * half and odd_nuls <= 0.1 * half:
        return "utf-16-be"
    return None


def to_utf8(data: bytes, encoding: TextEncoding) -> bytes:
    """The file's text as UTF-8 without BOM (undecodable units become U+FFFD)."""
    return data[len(encoding.bom) :].decode(encoding.codec, errors="replace").encode("utf-8", "surrogatepass")


def from_utf8(data: bytes, encoding: TextEncoding) -> bytes:
    """UTF-8 text written back in `encoding`, with its BOM: the inverse of `to_utf8` for valid files."""
    return encoding.bom + data.decode("utf-8", errors="replace").encode(encoding.codec)


class _Transcoder(io.RawIOBase):
    """A read-only stream of UTF-8 bytes decoded incrementally from a UTF-16/32 stream (bounded memory)."""

    def __init__(self, stream: BinaryIO, encoding: TextEncoding, head: bytes) -> None:
        super().__init__()
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder(encoding.codec)(errors="replace")
        self._pending = bytearray(self._decode(head[len(encoding.bom) :], final=False))
        self._eof = False

    def _decode(self, data: bytes, *, final: bool) -> bytes:
        return self._decoder.decode(data, final).encode("utf-8", "surrogatepass")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        want = len(buffer)
        while len(self._pending) < want and not self._eof:
            chunk = self._stream.read(max(want, 1 << 16))
            if not chunk:
                self._pending += self._decode(b"", final=True)
                self._eof = True
            else:
                self._pending += self._decode(chunk, final=False)
        n = min(want, len(self._pending))
        buffer[:n] = self._pending[:n]
        del self._pending[:n]
        return n

    def close(self) -> None:
        self._stream.close()
        super().close()


class _Replay(io.RawIOBase):
    """The peeked head, then the rest of the stream: a UTF-8 file read as it is."""

    def __init__(self, stream: BinaryIO, head: bytes) -> None:
        super().__init__()
        self._stream = stream
        self._head = head

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._stream.close()
        super().close()


def utf8_view(stream: BinaryIO, *, utf16_without_bom: bool = False) -> tuple[BinaryIO, TextEncoding | None]:
    """The stream as UTF-8 bytes, and the encoding it was transcoded from (None: read as it is).

    Only a UTF-16/32 file is transcoded; anything else (UTF-8, binary) comes back byte for byte. The
    returned stream is not seekable when transcoded.
    """
    head = stream.read(512 if utf16_without_bom else _PEEK)
    while len(head) < _PEEK:
        more = stream.read(_PEEK - len(head))
        if not more:
            break
        head += more
    encoding = detect_encoding(head, utf16_without_bom=utf16_without_bom)
    if encoding is None:
        return io.BufferedReader(_Replay(stream, head)), None
    return io.BufferedReader(_Transcoder(stream, encoding, head)), encoding
