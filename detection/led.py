"""Patterns led by a literal character: written so that `re` looks for where a match can start before trying it.

`re` scans ahead at C speed for a pattern's possible first characters only when the pattern starts with a literal
character or a set of them (for each branch of an alternation). A pattern that starts with a look-behind
(`(?<!\\w)name`) or ignores case gets no such scan: every branch is tried at every character, which is most of the
time the other-people finder and the redaction sweeps spend on a long text. So each alternative becomes one branch
per first character, the look-behind moved after it (`n(?<!\\wn)ame`): the same matches, found sooner.

A case-insensitive alternative's branches start with the ASCII characters that match its first one (`ascii_twins`,
as `re` compares two characters), and the rest stays case-insensitive: the pattern finds the same matches as the
case-insensitive one on ASCII texts only, so callers keep that one for any other text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable


@functools.cache
def ascii_twins(char: str) -> tuple[str, ...]:
    """The ASCII characters `char` matches case-insensitively, as `re` compares two characters."""
    pattern = re.compile(re.escape(char), re.IGNORECASE)
    return tuple(chr(c) for c in range(128) if pattern.fullmatch(chr(c)))


def led(alternatives: Iterable[tuple[str, str]], before: str, after: str, *, folded: bool) -> str | None:
    """The source of `(?<!before)(?:a1|a2|...)after` (with `before` "": no look-behind), each alternative given
    as (the literal text it starts with, not empty; the pattern of the rest), written led by first characters.

    Alternatives keep their order, so where several match at one place the same one is found. With `folded` the
    alternatives ignore case and the pattern holds for ASCII texts only (see the module); an alternative whose
    first character no ASCII character matches is left out (no ASCII text holds it). None when none is left.
    """
    branches = []
    for literal, rest in alternatives:
        body = re.escape(literal[1:]) + rest
        if folded:
            body = f"(?i:{body})"
        for char in ascii_twins(literal[0]) if folded else (literal[0],):
            lead = re.escape(char)
            behind = f"(?<!{before}{lead})" if before else ""
            branches.append(f"{lead}{behind}{body}")
    if not branches:
        return None
    return f"(?:{'|'.join(branches)}){after}"
