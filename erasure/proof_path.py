"""Laptop paths and S3 keys as proof-ledger fields (the ledger refuses control characters and huge paths).

Owns that one mapping: a laptop user chooses their file names, so a name with a line break, or one that is
not UTF-8, must still get its proof entry. Never drops the raw path's identity: beside the escaped form go
its sha256 and its exact bytes in hex (`path_fields`), so the entry names the very file that was changed.

Paths are `str` everywhere in the product; a name that is not UTF-8 holds its undecodable bytes as
surrogate escapes (Python's `surrogateescape`), so `path.encode("utf-8", "surrogateescape")` gives back
the file system's bytes (docs/file-names.md).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping

from proofs.entry import JSONValue

MAX_PROOF_PATH = 4096
"""The ledger's limit on a path field (`proofs.entry`)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KEEP = 3000  # characters of an over-long path kept before its digest
_HEX_CHUNK = 512  # the ledger's limit on one detail string


def raw_path(path: str) -> bytes:
    """The path's bytes as the file system has them (surrogate escapes back to their bytes)."""
    return path.encode("utf-8", "surrogateescape")


def is_utf8(path: str) -> bool:
    """Whether the path is valid UTF-8 (holds no surrogate escapes of undecodable bytes)."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def path_digest(path: str) -> str:
    """sha256 (hex) of the raw path's bytes (undecodable bytes as the file system gave them)."""
    return hashlib.sha256(raw_path(path)).hexdigest()


def path_fields(path: str | None) -> dict[str, JSONValue]:
    """Ledger details that identify a path whose shown form (`proof_path`) differs from it; {} otherwise.

    `path_sha256`: sha256 of the raw bytes. `path_hex`: the raw bytes in hex, as a list of strings of at
    most 512 characters (join, then decode from hex) when the path is at most `MAX_PROOF_PATH` bytes, so
    the entry round-trips the exact name.
    """
    if path is None or proof_path(path) == path:
        return {}
    fields: dict[str, JSONValue] = {"path_sha256": path_digest(path)}
    raw = raw_path(path).hex()
    if len(raw) <= 2 * MAX_PROOF_PATH:
        chunks: list[JSONValue] = [raw[i : i + _HEX_CHUNK] for i in range(0, len(raw), _HEX_CHUNK)]
        fields["path_hex"] = chunks
    return fields


def path_from_fields(shown: str, details: Mapping[str, object]) -> str:
    """The raw path an entry names: from `path_hex` when present, else the shown path itself."""
    chunks = details.get("path_hex")
    if isinstance(chunks, list) and all(isinstance(c, str) for c in chunks):
        return bytes.fromhex("".join(str(c) for c in chunks)).decode("utf-8", "surrogateescape")
    return shown


def proof_path(path: str | None) -> str | None:
    """The path as the ledger may store it: control characters as `\\xNN`, over-long paths shortened.

    Returns the path unchanged when it is already acceptable (the common case); otherwise a readable form
    that callers must pair with `path_digest` of the raw path, since the escaped form alone is ambiguous.
    """
    if path is None:
        return None
    shown = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", path)
    shown = shown.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if len(shown) > MAX_PROOF_PATH:
        shown = f"{shown[:_KEEP]}...[sha256:{path_digest(path)}]"
    return shown
