"""What an access package is built from: the request, the redacted items and the systems searched, and the
helpers the package (`reports.access_package`) and its page (`reports.access_html`) share.

Imports models only; writes nothing.
"""

from __future__ import annotations

import base64
import json
import re
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from typing import Protocol, overload

from models.identity import IdentityRecord
from models.settings import ControllerSettings, RegisterCategory, RegisterSettings

# Detection's category codes -> the register's usual codes (dsr.example.toml).
CATEGORY_ALIASES = {"contact_details": "contact", "free_text_mentions": "free_text"}


PLACEHOLDER = re.compile(r"\[(email|phone|person|iban|card|ip|id|data) (\d+)\]|\[redacted\]")
PLACEHOLDER_MEANING = {
    "email": "another person's e-mail address",
    "phone": "another person's phone number",
    "person": "another person's name",
    "iban": "another person's bank account number (IBAN)",
    "card": "another person's payment card number",
    "ip": "another person's IP address",
    "id": "another person's staff or account id",
    "data": "another person's personal data",
}
STATUS_TEXT = {
    "scanned": "Searched",
    "scanned_with_gaps": "Searched, except some stores (named in the details)",
    "unreachable": "Could not be reached (switched off or offline)",
    "busy": "Not searched: the app was in use and could not be read safely",
    "refused": "Access was refused",
    "failed": "The search failed",
    "auth_failed": "Our credentials were refused",
    "host_key_unknown": "The laptop's identity could not be verified (unknown key)",
    "host_key_mismatch": "The laptop's identity could not be verified (key changed)",
    "not_searched": "Not searched",
    "pending": "Not yet searched",
}
TYPE_WORDS = {
    "endpoint": "Laptop",
    "store": "Central store",
    "residual": "Residual store",
    "vendor": "Service provider",
}


def status_text(status: str) -> str:
    """Plain words for a location status (the person never sees a status code)."""
    return STATUS_TEXT.get(status, "Not searched")


def explain_reason(code: str) -> str:
    """Plain words for a redaction reason code (`art15_4_third_party_email`, `third_party_name`, ...)."""
    label = code.removeprefix("art15_4_").removeprefix("third_party_")
    label = {"name": "person", "mail": "email", "e-mail": "email"}.get(label, label)
    return PLACEHOLDER_MEANING.get(label, PLACEHOLDER_MEANING["data"])


def not_searched(inp: PackageInput) -> list[tuple[str, str]]:
    """(what, why) of every place we did not search, or searched only in part, in plain words: laptops and
    stores not reached, stores on a laptop we could not read or never open, copies held by providers."""
    out: list[tuple[str, str]] = []
    for loc in inp.searched:
        what = f"{TYPE_WORDS.get(loc.type, 'System')} {loc.name}"
        read = loc.status in ("scanned", "scanned_with_gaps")
        if loc.type in ("endpoint", "store") and not read:
            why = STATUS_TEXT.get(loc.status, "Not searched")
            if loc.since is not None:
                why += f" since {loc.since:%d %b %Y}"
            if loc.attempts:
                why += f"; we tried {loc.attempts} time{'s' if loc.attempts != 1 else ''}"
            out.append((what, why + ". Data about you may be held there; we will update you if we search it later."))
        elif loc.type in ("endpoint", "store") and loc.reason:
            out.append((f"{what}, in part", plain_reason(loc.reason)))
        elif loc.type not in ("endpoint", "store"):
            out.append((loc.name, loc.reason or "Not searched."))
    return out


def plain_reason(reason: str) -> str:
    """A location's status reason (written by the scan in words, no personal data) as a sentence for the person."""
    text = reason.replace(
        "agent store(s) not recognised, so not read",
        "folder(s) that look like AI assistant data but that we cannot read yet, so not searched",
    )
    text = "; ".join(part.strip()[:1].upper() + part.strip()[1:] for part in text.split(";") if part.strip())
    return text.rstrip(".") + "."


IMAGE_EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/jpg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
}


RIGHTS = (
    ("rectification", "Art. 16", "You can ask us to correct personal data about you that is wrong or incomplete."),
    ("erasure", "Art. 17", "You can ask us to erase personal data about you, for example when we no longer need it."),
    ("restriction", "Art. 18", "You can ask us to limit what we do with your data while a question is settled."),
    ("objection", "Art. 21", "You can object to processing based on our legitimate interests."),
    ("portability", "Art. 20", "You can ask for data you gave us in a machine-readable form."),
)


class StoredText(Protocol):
    """A redacted text kept outside memory (the access service's sealed spool); read on each use."""

    def read_text(self) -> str:
        """The text."""
        ...


@dataclass(frozen=True, slots=True)  # tens of thousands per package: no per-item attribute dict
class PackageItem:
    """One finding handed over by the access flow, already redacted (Art. 15(4)).

    Attributes:
        location: `{"endpoint": name, "path": str, "line": int|None}` or
            `{"store": name, "path": key, "line": int|None, "version_id": str|None}`.
        kind: artifact kind (`transcript`, `memory`, `prompt_history`, `session_record`, `s3_object`, ...).
        app: the agent (`cowork`, `claude-code`, `claude-desktop`, `codex`, `gemini-cli`, `cursor`, ...), or
            None (stores).
        session_id: the session the item belongs to, if any.
        timestamp: when the record was written, if known (aware UTC).
        categories: Art. 15(1)(b) category codes found in it.
        content_source: the subject's record, redacted (JSON text of the record, or the text line), or where
            it is kept (`StoredText`: a package's texts are kept sealed on disk, not in memory); read it with
            the `content` property.
        record: the decoded redacted JSON record, for intelligible rendering, else None (read it with
            `decoded()`).
        context: short redacted lines around it (previous/next message) needed to understand it.
        reason: `match` (names the person) or `owned_session` (the whole session is theirs).
        redactions: reason code -> count of third-party values replaced in this item.
        image_blocks: (media type, bytes) of images belonging to the subject.
        record_in_content: `content` is the JSON text of the record, which `decoded()` decodes (`record`
            is then None).
    """

    location: dict[str, object]
    kind: str
    app: str | None
    session_id: str | None
    timestamp: datetime | None
    categories: tuple[str, ...]
    content_source: str | StoredText
    record: object | None
    context: tuple[str, ...]
    reason: str
    redactions: dict[str, int]
    image_blocks: tuple[tuple[str, bytes], ...] = ()
    record_in_content: bool = False

    @property
    def content(self) -> str:
        """The redacted text; read from where it is kept on each use (never cached)."""
        source = self.content_source
        return source if isinstance(source, str) else source.read_text()

    def decoded(self) -> object | None:
        """The decoded redacted record: `record`, or decoded from `content` when the item was built with
        `record_in_content` (a package holds thousands of records: each is kept once, as its JSON text)."""
        if self.record_in_content:
            decoded: object = json.loads(self.content)
            return decoded
        return self.record


@dataclass(frozen=True)
class SearchedLocation:
    """One system the request covered, searched or not, with its honest status (Art. 15).

    Attributes:
        name: endpoint, store, residual store or vendor name.
        type: `endpoint`, `store`, `residual` or `vendor`.
        status: `scanned`, `unreachable`, `busy`, `refused`, `failed`, `auth_failed`, `host_key_unknown`,
            `host_key_mismatch` or `not_searched`.
        reason: why it was not (fully) searched, in words without personal data.
        since: when it became unreachable (or was last tried).
        attempts: how many times it was tried.
        artifacts: artifacts examined.
        findings: items found there.
    """

    name: str
    type: str
    status: str
    reason: str | None
    since: datetime | None
    attempts: int
    artifacts: int
    findings: int


@dataclass(frozen=True)
class PackageInput:
    """Everything one package needs; built by the access flow.

    Attributes:
        request_id: the request's id (names the package directory).
        kind: `access` or `portability`.
        generated_at: when the package is produced (aware UTC).
        received_at: when the request was received.
        due: the legal deadline.
        controller: the controller's settings (name, contact, authority, DPO).
        register: the processing register (`Settings.processing_register`).
        items: the findings, redacted: a tuple, or a sequence that keeps them out of memory and reads them
            back on each pass (the access service's sealed item spool); `item_counts` counts them once.
        searched: every location with its status.
        gaps_note: set when the package is issued with locations missing.
        register_missing: register keys not set (the package was issued with an incomplete register: the
            report says, for each such point, that the answer is being completed and by when).
        identity: how the requester's identity was established (method and outcome, never the evidence).
    """

    request_id: str
    kind: str
    generated_at: datetime
    received_at: datetime
    due: date
    controller: ControllerSettings
    register: RegisterSettings
    items: Sequence[PackageItem]
    searched: tuple[SearchedLocation, ...]
    gaps_note: str | None = None
    register_missing: tuple[str, ...] = ()
    identity: IdentityRecord | None = None

    @cached_property
    def item_counts(self) -> ItemCounts:
        """What the package's summaries count, from one pass over `items` (made on first use, then kept)."""
        return count_items(self.items)


@dataclass(frozen=True)
class CategoryAnswer:
    """The register's answer for one category found; `known` is False when the register lacks the category."""

    code: str
    entry: RegisterCategory
    known: bool


def location_name(item: PackageItem) -> str:
    """The endpoint or store name of an item (`unknown` when the location names neither)."""
    name = item.location.get("endpoint", item.location.get("store"))
    return str(name) if name is not None else "unknown"


def location_type(item: PackageItem) -> str:
    """`endpoint` or `store`."""
    return "store" if "store" in item.location else "endpoint"


def item_path(item: PackageItem) -> str:
    """The path of the item as its system sees it."""
    return str(item.location.get("path", ""))


def group_key(item: PackageItem) -> str:
    """The unit a copy is grouped by inside a location: the session, else the file."""
    return item.session_id or item_path(item) or "unsorted"


def sort_key(item: PackageItem) -> tuple[int, float, str, int]:
    """Chronological order; undated items last, then by path and line."""
    line = item.location.get("line")
    return (
        0 if item.timestamp else 1,
        item.timestamp.timestamp() if item.timestamp else 0.0,
        item_path(item),
        line if isinstance(line, int) else 0,
    )


def _title(code: str) -> str:
    return code.replace("_", " ").strip().capitalize() or "Other personal data"


def register_key(register: RegisterSettings, code: str) -> str | None:
    """The register's key for a detection category code (via the aliases), or None when it has none."""
    for candidate in (code, CATEGORY_ALIASES.get(code, code)):
        if candidate in register.categories:
            return candidate
    for register_code, alias in CATEGORY_ALIASES.items():
        if alias == code and register_code in register.categories:
            return register_code
    return None


def resolve_category(register: RegisterSettings, code: str, controller: ControllerSettings) -> CategoryAnswer:
    """The register entry for a category code (via the detection aliases); an empty entry (every answer
    unset, `known` False) when the register lacks it. Nothing is filled in by default: an unset answer is
    rendered as "being completed", never as a fact."""
    key = register_key(register, code)
    if key is not None:
        entry = register.categories[key]
        if entry.title is None:
            entry = entry.model_copy(update={"title": _title(key)})
        return CategoryAnswer(code, entry, True)
    return CategoryAnswer(code, RegisterCategory(title=_title(code)), False)


#: The per-category register answers an access package needs (Art. 15(1)(a), (c), (d), (g)).
CATEGORY_FIELDS = ("purposes", "legal_basis", "recipients", "retention", "source")
#: The register-wide answers an access package needs (Art. 15(1)(h), 15(2), the processors named).
REGISTER_FIELDS = ("automated_decisions", "transfers", "processors")


def missing_register_keys(register: RegisterSettings, codes: Iterable[str]) -> list[str]:
    """The register keys an access package needs that are not set, for the categories found (`codes`):
    `register.automated_decisions`, `register.categories.<code>` (the category is absent), or
    `register.categories.<code>.<field>`. Empty when the register answers everything."""
    missing = [f"register.{name}" for name in REGISTER_FIELDS if getattr(register, name) is None]
    for code in dict.fromkeys(codes):
        key = register_key(register, code)
        if key is None:
            missing.append(f"register.categories.{CATEGORY_ALIASES.get(code, code)}")
            continue
        entry = register.categories[key]
        missing += [f"register.categories.{key}.{name}" for name in CATEGORY_FIELDS if getattr(entry, name) is None]
    return missing


POINT_NAMES = {
    "automated_decisions": "Automated decision-making",
    "transfers": "Transfers outside the UK and the EEA",
    "processors": "Service providers who process your data for us",
    "purposes": "Purposes and legal basis",
    "legal_basis": "Purposes and legal basis",
    "recipients": "Recipients",
    "retention": "How long we keep it",
    "source": "Where your data came from",
}


def points_being_completed(inp: PackageInput) -> list[str]:
    """The Art. 15 points, in plain words, whose register answers are being completed (empty when none)."""
    out: dict[str, None] = {}
    for key in inp.register_missing:
        parts = key.split(".")
        if len(parts) == 2:
            out.setdefault(POINT_NAMES.get(parts[1], parts[1]))
        elif len(parts) == 3:
            title = resolve_category(inp.register, parts[2], inp.controller).entry.title or parts[2]
            out.setdefault(f"Everything about {title.lower()}")
        elif len(parts) >= 4:
            title = resolve_category(inp.register, parts[2], inp.controller).entry.title or parts[2]
            out.setdefault(f"{POINT_NAMES.get(parts[3], parts[3])} ({title.lower()})")
    return list(out)


def pending_text(inp: PackageInput) -> str:
    """What an unset register answer says in the report: it is being completed, and by when."""
    when = inp.register.complete_by or inp.due
    return (
        f"We are completing this information in our records and will send it to you by {when.day} {when:%B %Y}; "
        f"you can also ask us at {inp.controller.contact}."
    )


def found_categories(inp: PackageInput) -> list[CategoryAnswer]:
    """The register answers for the categories actually found, most frequent first."""
    counts = inp.item_counts.categories
    return [resolve_category(inp.register, code, inp.controller) for code, _ in counts.most_common()]


def category_counts(items: Iterable[PackageItem]) -> Counter[str]:
    """Items per category code."""
    return Counter(code for item in items for code in dict.fromkeys(item.categories))


def redaction_totals(items: Iterable[PackageItem]) -> Counter[str]:
    """Redactions per reason code over all items."""
    total: Counter[str] = Counter()
    for item in items:
        total.update({code: n for code, n in item.redactions.items() if n > 0})
    return total


def rights_text(controller: ControllerSettings) -> list[dict[str, str]]:
    """Art. 15(1)(e): the rights the person has, each with its article."""
    out = [{"right": right, "article": art, "text": text} for right, art, text in RIGHTS]
    contact = controller.contact + (
        f"; our data protection officer: {controller.dpo_contact}" if controller.dpo_contact else ""
    )
    out.append({"right": "how", "article": "Art. 12", "text": f"To use any of these rights, contact {contact}."})
    return out


def image_extension(media_type: str) -> str:
    """File extension for an image media type (`bin` for anything unexpected)."""
    return IMAGE_EXTENSIONS.get(media_type.lower().split(";")[0].strip(), "bin")


def image_data_uri(media_type: str, data: bytes) -> str | None:
    """A data: URI for a raster image the browser shows inertly; None for other types (SVG can carry script)."""
    kind = media_type.lower().split(";")[0].strip()
    if kind not in IMAGE_EXTENSIONS:
        return None
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def package_order(item: PackageItem) -> tuple[str, str, int, float, str, int]:
    """The order of a package's items (report.json, the data files): by location, then chronologically."""
    return (location_type(item), location_name(item), *sort_key(item))


class ItemsInOrder(Sequence[PackageItem]):
    """Items of another sequence in a given order (positions into it), read through it on each use: the
    package order of items that are kept out of memory, without reading them all into a list."""

    def __init__(self, items: Sequence[PackageItem], order: Iterable[int]) -> None:
        self._items = items
        self._order = array("I", order)

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, index: int) -> PackageItem: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[PackageItem]: ...

    def __getitem__(self, index: int | slice) -> PackageItem | Sequence[PackageItem]:
        if isinstance(index, slice):
            return tuple(self._items[n] for n in self._order[index])
        return self._items[self._order[index]]

    def __iter__(self) -> Iterator[PackageItem]:
        items = self._items
        for n in self._order:
            yield items[n]


def in_package_order(items: Sequence[PackageItem]) -> Sequence[PackageItem]:
    """`items` in `package_order` (a stable sort): a tuple or list is sorted into a tuple; any other sequence
    (items kept out of memory) is read once for the sort keys and given that order as an `ItemsInOrder` view
    (or returned as it is when already in order)."""
    if isinstance(items, tuple | list):
        return tuple(sorted(items, key=package_order))
    shared: dict[object, object] = {}  # one copy of each repeated key part (names, paths) while sorting
    keys = [tuple(shared.setdefault(part, part) for part in package_order(item)) for item in items]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    del keys, shared
    if all(n == position for position, n in enumerate(order)):
        return items
    return ItemsInOrder(items, order)


@dataclass(slots=True)  # one per conversation or file: thousands per package
class CopySession:
    """One conversation or file of the copy (section 5), from `count_items`: where its items are in the item
    sequence, and what its summary line shows.

    Attributes:
        positions: the items' positions in the sequence, in the order met.
        first: the smallest `sort_key` (the session's place among the others).
        session_label: whether its first item (by `sort_key`) has a session id (a `Session`, else a `File`).
        earliest: its first timestamp, None when undated.
        latest: its last timestamp.
        path: the path of its item counted first (`paths` gives them all).
        more_paths: the paths of its other items where they differ (most conversations lie in one file: no set).
        in_order: whether `positions` are already in `sort_key` order (else they are sorted when rendered).
    """

    positions: array[int] = field(default_factory=lambda: array("I"))
    first: tuple[int, float, str, int] | None = None
    session_label: bool = False
    earliest: datetime | None = None
    latest: datetime | None = None
    path: str | None = None
    more_paths: set[str] | None = None
    in_order: bool = True
    _last: tuple[int, float, str, int] | None = None

    def add(self, position: int, item: PackageItem, key: tuple[int, float, str, int]) -> None:
        """Count one item of the session (`key`: its `sort_key`)."""
        self.positions.append(position)
        if self.first is None or key < self.first:
            self.first, self.session_label = key, bool(item.session_id)
        if self._last is not None and key < self._last:
            self.in_order = False
        self._last = key
        stamp = item.timestamp
        if stamp:
            if self.earliest is None or stamp < self.earliest:
                self.earliest = stamp
            if self.latest is None or stamp > self.latest:
                self.latest = stamp
        path = key[2]
        if self.path is None:
            self.path = path
        elif path != self.path:
            if self.more_paths is None:
                self.more_paths = set()
            self.more_paths.add(path)

    @property
    def paths(self) -> set[str]:
        """The paths of its items."""
        return ({self.path} if self.path is not None else set()) | (self.more_paths or set())


@dataclass(slots=True)
class TimelineRow:
    """The dated items of one location (a row of the timeline): their positions in the item sequence, in the
    order met, and whether that is already `sort_key` order."""

    positions: array[int] = field(default_factory=lambda: array("I"))
    in_order: bool = True
    _last: tuple[int, float, str, int] | None = None

    def add(self, position: int, key: tuple[int, float, str, int]) -> None:
        """Count one dated item (`key`: its `sort_key`)."""
        self.positions.append(position)
        if self._last is not None and key < self._last:
            self.in_order = False
        self._last = key


@dataclass(slots=True)
class PlaceCounts:
    """The items found in one system (section 1): the applications, conversations or files, and items."""

    apps: set[str | None] = field(default_factory=set)
    sessions: set[str] = field(default_factory=set)
    items: int = 0


@dataclass(frozen=True)
class ItemCounts:
    """Everything a package's summaries need of its items, counted in one pass (`count_items`): tens of
    thousands of items kept out of memory are read once for them, not once per table.

    Attributes:
        items: how many.
        categories: items per category code (`category_counts`).
        redactions: redactions per reason code (`redaction_totals`).
        by_location: items per location name, in order met.
        by_kind: items per artifact kind, in order met.
        images: the subject's images.
        places: per location name, what section 1 lists.
        groups: section 5's grouping: (location type, name) -> application -> conversation or file.
        timeline: (location type, name) -> its dated items.
        earliest: the first timestamp of any item (None when none is dated).
        latest: the last one.
        placeholders: the distinct markers in the items' texts and context, in order of appearance.
    """

    items: int
    categories: Counter[str]
    redactions: Counter[str]
    by_location: Counter[str]
    by_kind: Counter[str]
    images: int
    places: dict[str, PlaceCounts]
    groups: dict[tuple[str, str], dict[str, dict[str, CopySession]]]
    timeline: dict[tuple[str, str], TimelineRow]
    earliest: datetime | None
    latest: datetime | None
    placeholders: list[str]

    @property
    def sessions(self) -> int:
        """How many conversations and files (per location) the items are in."""
        return sum(len(place.sessions) for place in self.places.values())


def count_items(items: Iterable[PackageItem]) -> ItemCounts:
    """`ItemCounts` of `items`, read once (in the order given: positions are into that order)."""
    categories: Counter[str] = Counter()
    redactions: Counter[str] = Counter()
    by_location: Counter[str] = Counter()
    by_kind: Counter[str] = Counter()
    places: dict[str, PlaceCounts] = {}
    groups: dict[tuple[str, str], dict[str, dict[str, CopySession]]] = {}
    timeline: dict[tuple[str, str], TimelineRow] = {}
    markers: dict[str, None] = {}
    shared: dict[str, str] = {}  # one copy of each repeated name, app and session key
    images, count = 0, 0
    earliest: datetime | None = None
    latest: datetime | None = None
    for position, item in enumerate(items):
        count += 1
        for code in dict.fromkeys(item.categories):
            categories[code] += 1
        for code, n in item.redactions.items():
            if n > 0:
                redactions[code] += n
        name = shared.setdefault(location_name(item), location_name(item))
        by_location[name] += 1
        by_kind[item.kind] += 1
        images += len(item.image_blocks)
        group = group_key(item)
        group = shared.setdefault(group, group)
        place = places.setdefault(name, PlaceCounts())
        place.apps.add(item.app)
        place.sessions.add(group)
        place.items += 1
        where = (location_type(item), name)
        dated, stamp_at, path, line = sort_key(item)
        key = (dated, stamp_at, shared.setdefault(path, path), line)  # the keys kept hold one copy of each path
        sessions = groups.setdefault(where, {}).setdefault(item.app or "", {})
        sessions.setdefault(group, CopySession()).add(position, item, key)
        stamp = item.timestamp
        if stamp is not None:
            timeline.setdefault(where, TimelineRow()).add(position, key)
            if earliest is None or stamp < earliest:
                earliest = stamp
            if latest is None or stamp > latest:
                latest = stamp
        for text in (item.content, *item.context):
            for match in PLACEHOLDER.finditer(text):
                markers.setdefault(match.group(0))
    return ItemCounts(
        count, categories, redactions, by_location, by_kind, images, places, groups, timeline, earliest, latest,
        list(markers),
    )  # fmt: skip
