"""The organisation's staff directory (`[directory]`): a CSV or JSON export of names, e-mails, phones and ids.

Read when an access package is assembled, to know which names and identifiers in the copy are other
people's. Errors name the file and the problem, never a value (a directory is personal data).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from models.errors import ConfigError
from models.settings import DirectorySettings

FIELDS = {
    "name": ("name", "full_name", "display_name"),
    "email": ("email", "mail", "e-mail"),
    "phone": ("phone", "mobile", "telephone"),
    "id": ("id", "staff_id", "employee_id", "user_id", "account_id"),
}
MAX_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class StaffEntry:
    """One person of the directory (values never logged)."""

    names: tuple[str, ...]
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    ids: tuple[str, ...]


def _values(raw: object) -> tuple[str, ...]:
    if raw is None:
        return ()
    items = raw if isinstance(raw, list) else [raw]
    return tuple(v.strip() for item in items for v in str(item).split(";") if v.strip())


def _entry(row: dict[str, object]) -> StaffEntry:
    lowered = {str(k).strip().lower(): v for k, v in row.items()}

    def pick(field: str) -> tuple[str, ...]:
        return tuple(v for key in FIELDS[field] for v in _values(lowered.get(key)))

    return StaffEntry(pick("name"), pick("email"), pick("phone"), pick("id"))


def load_directory(settings: DirectorySettings) -> list[StaffEntry]:
    """Every person of the directory export.

    Raises:
        ConfigError: the file is missing, too large, not UTF-8, or not a CSV with a header row / a JSON list
            of objects.
    """
    path = settings.path
    fmt = settings.format or ("json" if path.suffix.lower() == ".json" else "csv")
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ConfigError(f"[directory].path {path} is larger than 64 MiB", key="directory.path")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(
            f"[directory].path {path} does not exist; export the staff directory there", key="directory.path"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read [directory].path {path}: {type(exc).__name__}", key="directory.path") from None
    if fmt == "json":
        try:
            data = json.loads(text)
        except ValueError:
            raise ConfigError(f"[directory].path {path} is not valid JSON", key="directory.path") from None
        if isinstance(data, dict):
            data = data.get("people", data.get("staff", []))
        if not isinstance(data, list) or not all(isinstance(row, dict) for row in data):
            raise ConfigError(
                f"[directory].path {path}: expected a JSON list of objects with name, email, phone, id",
                key="directory.path",
            )
        return [_entry(row) for row in data]
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or not any(f.strip().lower() in sum(FIELDS.values(), ()) for f in reader.fieldnames):
        raise ConfigError(
            f"[directory].path {path}: expected a CSV header row with name, email, phone and/or id",
            key="directory.path",
        )
    return [_entry(dict(row)) for row in reader]
