"""Identifiers for `dsr request submit` and `dsr scan`: from a private file, standard input, or arguments.

Arguments are visible to every local user in `/proc/<pid>/cmdline` while the command runs, so the CLI
prefers a document (`--identifiers-file FILE`, mode 0600, or `--identifiers -` on standard input) and
warns, without values, when identifiers come as arguments. The document's shape is
`models.identifiers.parse_identifier_document`; what a valid identifier is, is `validate_all`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from dsr.failures import say
from models.errors import ConfigError, InputError
from models.identifiers import MAX_IDENTIFIERS_DOCUMENT, Identifier, parse_identifier_document
from models.secret_source import read_private_file

ARGUMENTS_WARNING = (
    "warning: identifiers given as command-line arguments can be read by other local users while the command "
    "runs (/proc/<pid>/cmdline); prefer --identifiers-file FILE (mode 0600) or --identifiers - (standard input)"
)

IdentifiersFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--identifiers-file",
        help='JSON or TOML file of identifiers, mode 0600: {"email": [...], "name": [...], "phone": [...], '
        '"user_id": [...]}.',
    ),
]
IdentifiersStdinOpt = Annotated[
    str | None,
    typer.Option("--identifiers", metavar="-", help="'-': read the same JSON or TOML document from standard input."),
]


@dataclass(frozen=True)
class GivenIdentifiers:
    """Identifier values by kind, merged from a document and arguments, and whether any came as arguments."""

    emails: list[str]
    names: list[str]
    phones: list[str]
    user_ids: list[str]
    from_arguments: bool


def _read_stdin() -> str:
    data = sys.stdin.buffer.read(MAX_IDENTIFIERS_DOCUMENT + 1) if hasattr(sys.stdin, "buffer") else b""
    if len(data) > MAX_IDENTIFIERS_DOCUMENT:
        raise InputError(f"--identifiers -: standard input is larger than {MAX_IDENTIFIERS_DOCUMENT} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError("--identifiers -: standard input is not UTF-8 text") from None


def gather(
    *,
    identifiers_file: Path | None,
    identifiers: str | None,
    emails: list[str] | None,
    names: list[str] | None,
    phones: list[str] | None,
    user_ids: list[str] | None,
) -> GivenIdentifiers:
    """Merge the identifiers of a document (file or stdin) with those given as arguments.

    Raises:
        InputError: `--identifiers` is not `-`, both document sources are given, or the document is invalid.
        ConfigError: the file cannot be read or is readable by group or others (`chmod 600 FILE`).
    """
    if identifiers is not None and identifiers != "-":
        raise InputError(
            "--identifiers takes only '-' (read standard input); put identifiers in a file for --identifiers-file"
        )
    if identifiers is not None and identifiers_file is not None:
        raise InputError("give either --identifiers-file FILE or --identifiers -, not both")
    document: dict[str, list[str]] = {"email": [], "name": [], "phone": [], "user_id": []}
    if identifiers_file is not None:
        try:
            text = read_private_file(identifiers_file, label="identifiers file")
        except ConfigError as exc:
            raise InputError(str(exc), option="--identifiers-file") from None
        document = parse_identifier_document(text, f"--identifiers-file {identifiers_file}")
    elif identifiers == "-":
        document = parse_identifier_document(_read_stdin(), "--identifiers - (standard input)")
    from_arguments = bool(emails or names or phones or user_ids)
    return GivenIdentifiers(
        emails=[*document["email"], *(emails or [])],
        names=[*document["name"], *(names or [])],
        phones=[*document["phone"], *(phones or [])],
        user_ids=[*document["user_id"], *(user_ids or [])],
        from_arguments=from_arguments,
    )


def warn_about(given: GivenIdentifiers, validated: Sequence[Identifier]) -> None:
    """After the work is done: one warning line each for arguments and for weak identifiers (no values)."""
    if given.from_arguments:
        say(ARGUMENTS_WARNING)
    for ident in validated:
        if ident.warning:
            say(f"warning: {ident.warning}")
