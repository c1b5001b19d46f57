"""Laptop paths and S3 keys as proof-ledger fields (the ledger refuses control characters and huge paths).

Owns that one mapping: a laptop user chooses their file names, so a name with a line break must still get
its proof entry. Never drops the raw path's identity (its sha256 goes beside the escaped form).
"""

from __future__ import annotations

import hashlib
import re

MAX_PROOF_PATH = 4096
"""The ledger's limit on a path field (`proofs.entry`)."""
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_KEEP = 3000  # characters of an over-long path kept before its digest


def path_digest(path: str) -> str:
    """sha256 (hex) of the raw path's bytes (undecodable bytes as the file system gave them)."""
    return hashlib.sha256(path.encode("utf-8", "surrogateescape")).hexdigest()


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
