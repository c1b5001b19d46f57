"""The key under which a distinct string's results are remembered while a request's package is built.

Classification (presidio's results per piece), the other-people finder (its hits per string) and the release
check (presidio's detections per page or data string) each remember results per distinct string, because the
same strings recur across a request's records and across the package's files. Keeping the strings themselves
as keys would keep a second copy of most of the package's text in memory, so a string longer than
`TEXT_KEY_CHARS` is keyed by its 16-byte BLAKE2b digest instead (a `bytes`, never equal to a `str` key).
"""

from __future__ import annotations

import hashlib

#: Strings up to this many characters are their own key; longer ones are keyed by their digest.
TEXT_KEY_CHARS = 64
_DIGEST_BYTES = 16


def text_key(text: str) -> str | bytes:
    """`text` itself when short, else its BLAKE2b digest (lone surrogates included, as JSON may carry them)."""
    if len(text) <= TEXT_KEY_CHARS:
        return text
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=_DIGEST_BYTES).digest()
