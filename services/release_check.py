"""The release check: after redaction and before sealing, no other person's data may be left in the package.

Scans every text file of a built package (report.html, report.json, data/*.jsonl, the portability CSV and
JSON, manifest.json) for every identifier known to belong to someone other than the subject
(`detection.others.OtherPeople`: directory, laptop owners, other requests' subjects, what the data shows)
and for presidio's detections of people's data that do not match the subject. report.pdf is printed from
report.html (or, for a copy over `[access].pdf_max_items` records, from the same page without the records), so
it holds nothing the page does not; images are the subject's own.

Each hit is an item with a stable id (from its file, place and reason, never its content), a location a
reviewer can open (`dsr request export ID --draft`) and a reason code. The text itself is never returned,
logged or recorded. A reviewer can release an item with a recorded reason (`dsr request release-item`);
released ids do not block the next attempt. Linear in the package: one pass per file; each distinct string is
searched once (its hits are remembered under `text_key`: the same strings recur in data/, report.json and across
records), presidio only on strings one of its recognizers could fire on (`Classifier.detect_others`; a string
classification analysed, which is most of a package, takes the results it remembered). The
access service checks the data files and report.html while the browser prints the PDF, then the rest
(`files`, with one shared `cache`); the hits are the same as one pass gives.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from html import unescape
from pathlib import Path, PurePosixPath

from detection.classify import Classifier
from detection.matcher import Matcher, pointer_of, walk_strings
from detection.others import OtherHit, OtherPeople
from detection.text_key import text_key
from models.errors import InputError
from reports.packaging import package_files

#: Reason codes of a release-check hit (what kind of data, and how it is known to be someone else's).
REASONS = {
    "other_name": "a name known to be another person's",
    "other_email": "an e-mail address known to be another person's",
    "other_phone": "a phone number known to be another person's",
    "other_id": "a staff or account id known to be another person's",
    "detected_email": "an e-mail address that is not the person's",
    "detected_phone": "a phone number that is not the person's",
    "detected_name": "a name that is not the person's",
    "detected_iban": "a bank account number that is not the person's",
    "detected_card": "a payment card number that is not the person's",
}
_KNOWN = {"PERSON": "other_name", "EMAIL_ADDRESS": "other_email", "PHONE_NUMBER": "other_phone", "STAFF_ID": "other_id"}
_DETECTED = {
    "PERSON": "detected_name",
    "EMAIL_ADDRESS": "detected_email",
    "PHONE_NUMBER": "detected_phone",
    "IBAN_CODE": "detected_iban",
    "CREDIT_CARD": "detected_card",
}
_PLACEHOLDER = re.compile(r"\[(?:email|phone|person|iban|card|ip|id|data) \d+\]|\[redacted\]")
_TAG = re.compile(r"<[^>]*>")
# Page text is split where tags and markers were (the page inserts them between a record's pieces).
_SPLIT = re.compile(r"\s{2,}|\[(?:email|phone|person|iban|card|ip|id|data) \d+\]")
_TEXT_SUFFIXES = (".html", ".json", ".jsonl", ".csv")
#: Distinct strings whose hits `check_package` remembers (then it starts again): a cache is only a
#: speed-up, so its memory is bounded whatever the size of the package: about 150 bytes a string of Latin text
#: (15 MB full), more for short strings of other scripts, which are kept as they are (`text_key`; up to some
#: 37 MB full of 64-character strings of emoji). It holds every distinct data string of a package of some
#: 17 000 records (about 75 000), so that report.json, which repeats them, is checked from memory after the
#: data files.
CHECK_CACHE = 100_000
#: The memory of `check_package`: each distinct string's hits under its `text_key`, a page's under
#: `(True, text_key)` (a page's strings are analysed in pieces: `_nodes`). A data string's key is the
#: `text_key` alone, not a pair: most strings are data strings, and a pair for each would cost a third more.
CheckCache = dict[object, tuple[tuple[str, str], ...]]


@dataclass(frozen=True)
class ReleaseItem:
    """One hit of the release check (no content).

    Attributes:
        item: stable id (`R-` and 10 hex digits) the reviewer releases.
        file: the package file, relative to the package root.
        place: `line N` (HTML, JSON Lines) or a JSON pointer, plus the source of a known identifier.
        reason: a code of `REASONS`.
        source: where a known identifier is known from (`directory`, `owner`, `other_request`, `data`), or
            `presidio` for a detection.
    """

    item: str
    file: str
    place: str
    reason: str
    source: str

    def as_dict(self) -> dict[str, str]:
        """The item as a JSON object (for the audit trail and the CLI)."""
        return {"item": self.item, "file": self.file, "place": self.place, "reason": self.reason, "source": self.source}


class ReleaseBlockedError(InputError):
    """The release check found other people's data in the package; it is not issued."""

    def __init__(self, request_id: str, items: list[ReleaseItem]) -> None:
        shown = "; ".join(f"{i.item} {i.file} {i.place} {i.reason}" for i in items[:20])
        more = f" and {len(items) - 20} more" if len(items) > 20 else ""
        super().__init__(
            f"request {request_id}: the release check found {len(items)} item(s) that may be other people's data, "
            f"so the package was not issued: {shown}{more}. Read them with `dsr request export {request_id} --draft "
            f"--out DIR`; redact more (add the person to [directory]) or release an item with "
            f"`dsr request release-item {request_id} ITEM --reason TEXT`, then run the request again"
        )
        self.request_id = request_id
        self.items = items


def _item_id(file: str, place: str, reason: str, n: int) -> str:
    digest = hashlib.sha256(f"{file}\0{place}\0{reason}\0{n}".encode()).hexdigest()
    return f"R-{digest[:10]}"


class _Line:
    """Where a JSON Lines line's strings start from (`walk_strings`'s root): the line's number."""

    __slots__ = ("number",)

    def __init__(self, number: int) -> None:
        self.number = number


def _place(where: object) -> str:
    """The place a reviewer reads for a string: `line N` (of a page or text), `line N /pointer` (JSON Lines) or
    a JSON pointer (report.json, manifest.json, `/` for the document). `where` is a `walk_strings` path from a
    `_Line`, from a pointer's beginning (a str) or from a document (None), or the place itself (a str): built
    only for a hit."""
    root, pointer = pointer_of(where)
    if isinstance(root, _Line):
        return f"line {root.number} {pointer or '/'}"
    return f"{root or ''}{pointer}" or "/"


def _strings(path: Path, rel: str) -> Iterator[tuple[object, str]]:
    """(where, text) of every string a file shows a reader (`_place` of `where` is its place), read a line (or,
    for report.json and manifest.json, an element of their long array) at a time: a package's files run to tens
    of MB."""
    if rel.endswith(".json"):
        yield from _json_strings(path)
        return
    lines = _lines(path)
    if rel.endswith(".jsonl"):
        yield from _jsonl_strings(lines)
    elif rel.endswith(".html"):
        yield from _html_strings(lines)
    else:
        for number, line in lines:
            yield f"line {number}", line


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """The file's lines with their numbers, as `str.splitlines` of the whole text gives them (it also ends a
    line at form feeds, U+2028 and the like), without reading the file whole."""
    number = 0
    with path.open(encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            lines = raw.splitlines()
            del raw  # a line of report.html runs to megabytes: not kept twice while it is checked
            for line in lines:
                number += 1
                yield number, line


def _jsonl_strings(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[object, str]]:
    for number, line in lines:
        try:
            value = json.loads(line)
        except ValueError:
            yield f"line {number}", line
            continue
        for string, where, _key in walk_strings(value, _Line(number)):
            yield where, string


def _json_strings(path: Path) -> Iterator[tuple[object, str]]:
    """A JSON file's strings with their pointers; a record's JSON text (a `/content` string) by its inner
    strings. A file whose first top-level array of `_ARRAYS` (report.json's `items`, manifest.json's `files`)
    is laid out as `write_json` indents it is read one element of that array at a time; any other layout is
    read whole."""
    apart = _array_apart(path)
    if apart is None:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            strings = walk_strings(json.loads(text))
        except ValueError:
            yield "line 1", text
            return
    else:
        strings = _with_array(*apart, path)
    for string, where, _key in strings:
        record: object = None
        if isinstance(where, tuple) and where[1] == "content" and string[:1] in "{[":
            try:  # a record's JSON text: its strings (the same as in data/, so analysed once)
                record = json.loads(string)
            except ValueError:
                record = None
        if record is None:
            yield where, string
            continue
        for part, inner, _k in walk_strings(record, where):
            yield inner, part


#: The top-level arrays read one element at a time: a package's records (report.json) and files (manifest.json)
#: run to tens of thousands. Each by the line that opens it as `write_json` writes it.
_ARRAYS = {f'  "{name}": [': name for name in ("items", "files")}
_ITEM_OPEN, _ITEM_CLOSE = "    {", ("    }", "    },")
_ARRAY_HERE = "\x00array\x00"  # stands for the array in the skeleton: `walk_strings` yields it where it is


def _array_apart(path: Path) -> tuple[dict[str, object], str] | None:
    """The JSON file without its first top-level array of `_ARRAYS` (the array left empty), and the array's
    name, when that array is laid out as `write_json` writes it (each element from a line `    {` to a line
    `    }` or `    },`; they are read again, one at a time, by `_array_strings`); else None."""
    skeleton: list[str] = []
    name: str | None = None
    state = "head"  # head, items (between elements), item (inside one), tail
    with path.open(encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if state == "head":
                name = _ARRAYS.get(line)
                skeleton.append(line if name is None else f'  "{name}": [],')
                state = "head" if name is None else "items"
            elif state == "items":
                if line == _ITEM_OPEN:
                    state = "item"
                elif line in ("  ],", "  ]"):
                    state = "tail"
                    if line == "  ]":
                        skeleton[-1] = f'  "{name}": []'
                else:
                    return None
            elif state == "item":
                state = "items" if line in _ITEM_CLOSE else "item"
            else:
                skeleton.append(line)
    if state != "tail" or name is None:
        return None
    try:
        document = json.loads("\n".join(skeleton))
    except ValueError:
        return None
    return (document, name) if isinstance(document, dict) and document.get(name) == [] else None


def _with_array(document: dict[str, object], name: str, path: Path) -> Iterator[tuple[str, object, bool]]:
    """`walk_strings` of the whole file: the skeleton's strings, with the elements of the array `name` read from
    the file one at a time where the walk reaches the array (after every key of the top level before it)."""
    document = {**document, name: _ARRAY_HERE}
    for string, where, is_key in walk_strings(document):
        if string is _ARRAY_HERE and not is_key and where == (None, name):
            yield from _array_strings(path, name)
        else:
            yield string, where, is_key


def _array_strings(path: Path, name: str) -> Iterator[tuple[str, object, bool]]:
    """The strings of each element of the top-level array `name`, in order (the layout `_array_apart`
    checked)."""
    opening = f'  "{name}": ['
    block: list[str] = []
    index = 0
    state = "head"
    with path.open(encoding="utf-8", errors="replace") as fh:
        for raw in fh:
            line = raw.rstrip("\n")
            if state == "head":
                state = "items" if line == opening else "head"
            elif state == "items":
                if line != _ITEM_OPEN:
                    return  # the end of the array
                state, block = "item", [line]
            elif line in _ITEM_CLOSE:
                block.append(line.removesuffix(","))
                yield from _element_strings(f"/{name}/{index}", "\n".join(block))
                state, block, index = "items", [], index + 1
            else:
                block.append(line)


def _element_strings(pointer: str, text: str) -> Iterator[tuple[str, object, bool]]:
    try:
        element = json.loads(text)
    except ValueError:
        yield text, pointer, False
        return
    yield from walk_strings(element, pointer)


def _html_strings(lines: Iterable[tuple[int, str]]) -> Iterator[tuple[str, str]]:
    for number, line in lines:
        yield f"line {number}", unescape(_TAG.sub(" ", line))
        for attr in re.findall(r'(?:title|alt|aria-label)="([^"]*)"', line):
            yield f"line {number}", unescape(attr)


def _nodes(text: str, rel: str) -> list[str]:
    """The pieces presidio analyses: a page line's text between tags and markers (the strings of the records,
    whose results classification remembers), else the whole string."""
    if not rel.endswith(".html"):
        return [text]
    return [n for n in _SPLIT.split(text) if n.strip()]


def _allowed(text: str, start: int, end: int, allow: set[str]) -> bool:
    """A detection inside a placeholder, or a value the controller publishes (its contacts), is not a hit."""
    found = text[start:end].strip().casefold()
    if not found:
        return True
    if any(m.start() <= start and end <= m.end() for m in _PLACEHOLDER.finditer(text)):
        return True
    return any(found in a for a in allow)


def text_files(root: Path) -> list[str]:
    """The files of a package the check reads (relative POSIX paths, in the order hits are listed)."""
    return [rel for rel in package_files(root) if PurePosixPath(rel).suffix in _TEXT_SUFFIXES]


def check_package(
    root: Path,
    *,
    others: OtherPeople,
    matcher: Matcher,
    classifier: Classifier | None,
    allow: Iterable[str] = (),
    released: Iterable[str] = (),
    files: Iterable[str] | None = None,
    cache: CheckCache | None = None,
) -> list[ReleaseItem]:
    """Every place in the package at `root` where another person's data may remain, minus released items.

    Args:
        root: the built (unsealed) package directory.
        others: every identifier known to belong to someone other than the subject.
        matcher: the subject's matcher (their own data is never a hit).
        classifier: presidio detections of people's data not matching the subject (None: known identifiers only).
        allow: texts the controller publishes in every report (its name and contacts, the authority's, the
            register's recipients): a detection inside them is not a hit.
        released: item ids a reviewer released with a recorded reason.
        files: only these files (relative paths, as `text_files` gives them), e.g. the part of a package
            that is written while its PDF prints; every text file when None.
        cache: the hits of each distinct string (`CheckCache`), shared by several calls on one package (at most
            `CHECK_CACHE` strings: then it starts again; the hits are the same, only slower to find).
    """
    finder = others.finder()
    find = finder.find_fresh if finder else None
    allowed = {a.casefold() for a in allow if a}
    done = set(released)
    cache = {} if cache is None else cache
    items: list[ReleaseItem] = []
    for rel in text_files(root) if files is None else files:
        path = root / rel
        html = rel.endswith(".html")  # a page's strings are analysed in pieces (`_nodes`): its own keys
        for where, text in _strings(path, rel):
            if not text or text.isspace():
                continue
            key = (True, text_key(text)) if html else text_key(text)
            hits = cache.get(key)
            if hits is None:
                hits = _hits(text, rel, find, classifier, matcher, allowed)
                if len(cache) >= CHECK_CACHE:
                    cache.clear()
                cache[key] = hits
            if hits:
                place = _place(where)
            for n, (reason, source) in enumerate(hits):
                item = ReleaseItem(_item_id(rel, place, reason, n), rel, place, reason, source)
                if item.item not in done:
                    items.append(item)
    return items


def _hits(
    text: str,
    rel: str,
    find: Callable[[str], Sequence[OtherHit]] | None,
    classifier: Classifier | None,
    matcher: Matcher,
    allowed: set[str],
) -> tuple[tuple[str, str], ...]:
    """(reason, source) of every hit in one string of the file `rel`: other people's known identifiers, then
    presidio's detections. Most strings have none: they share the one empty tuple."""
    hits = [(_KNOWN[h.entity], h.source) for h in find(text)] if find is not None else []
    if classifier is not None:
        for node in _nodes(text, rel):
            hits += [
                (_DETECTED[entity], "presidio")
                for start, end, entity in classifier.detect_others(node, matcher)
                if entity in _DETECTED and not _allowed(node, start, end, allowed)
            ]
    return tuple(hits) if hits else ()
