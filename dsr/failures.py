"""How a failed `dsr` command is shown: one line on stderr, an exit code, and a traceback only on request.

Owns the mapping from exceptions to messages and exit codes for the whole command line, so that no Python
traceback ever reaches a user. Exit codes: 1 invalid input or a failure, 2 an unknown id or a usage error.
An unexpected exception is named by its type only (its message may hold anything); with the global
`--debug` flag its traceback is appended to `<state dir>/logs/debug.log` (mode 0600).
"""

from __future__ import annotations

import os
import sys
import traceback
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

import typer

from models.errors import DsrError, RequestNotFoundError

EXIT_FAILURE = 1
EXIT_UNKNOWN = 2
EXIT_INTERRUPTED = 130
#: Longest message printed; anything longer (a value echoed back, say) is cut with an ellipsis.
MAX_MESSAGE = 600
DEBUG_LOG = Path("logs") / "debug.log"


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """`text` as one printable line: control characters and invalid UTF-8 escaped, newlines joined, cut."""
    parts = [part.strip() for part in str(text).splitlines() if part.strip()]
    joined = "; ".join(parts)
    shown = "".join(
        c if unicodedata.category(c) not in ("Cc", "Cs") else c.encode("unicode_escape", "backslashreplace").decode()
        for c in joined
    )
    shown = shown.encode("utf-8", "backslashreplace").decode("utf-8")
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def say(line: str) -> None:
    """Write one line to stderr, whatever its characters."""
    sys.stderr.write(one_line(line) + "\n")
    sys.stderr.flush()


def _os_message(exc: OSError) -> str:
    reason = exc.strerror or type(exc).__name__
    name = exc.filename
    if name is None:
        return f"the operating system refused: {reason}; check free space and permissions, then retry"
    target = os.fsdecode(name) if isinstance(name, (bytes, os.PathLike)) else str(name)
    return f"cannot use {target}: {reason}; check that it exists and that this user may read and write it"


def _database_message(exc: Exception) -> str | None:
    """A one-line account of a database driver error (first line of the driver's message, no SQL, no values)."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is None or not isinstance(exc, sqlalchemy_exc.SQLAlchemyError):
        return None
    orig = getattr(exc, "orig", None)
    detail = str(orig).splitlines()[0] if orig is not None and str(orig) else type(exc).__name__
    lowered = detail.lower()
    if "readonly" in lowered or "read-only" in lowered or "read only" in lowered:
        fix = "make the database file and its directory writable by this user, or point [database].url elsewhere"
    elif "locked" in lowered or "busy" in lowered:
        fix = "another process holds the case database; wait for it to finish and retry"
    elif "unable to open" in lowered or "connect" in lowered:
        fix = "check [database].url / DSR_DATABASE_URL, the file's directory, and that the server is running"
    else:
        fix = "check [database].url / DSR_DATABASE_URL and that the database is reachable and writable"
    return f"the case database refused the operation ({detail}); {fix}"


def write_debug_log(exc: BaseException, state_dir: Path | None) -> Path | None:
    """Append the traceback of `exc` to `<state dir>/logs/debug.log` (0600); None if that cannot be written."""
    path = (state_dir or Path.cwd() / ".dsr") / DEBUG_LOG
    text = "".join(traceback.format_exception(exc))
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(f"--- {stamp} {type(exc).__name__}\n{text}")
    except OSError:
        return None
    return path


def describe(exc: BaseException) -> tuple[str, int]:
    """The message (without the `error: ` prefix) and the exit code for an exception raised by a command."""
    if isinstance(exc, RequestNotFoundError):
        return str(exc), EXIT_UNKNOWN
    if isinstance(exc, DsrError):
        return str(exc), EXIT_FAILURE
    if isinstance(exc, OSError):
        return _os_message(exc), EXIT_FAILURE
    database = _database_message(exc) if isinstance(exc, Exception) else None
    if database is not None:
        return database, EXIT_FAILURE
    if isinstance(exc, MemoryError):
        return "out of memory; give smaller inputs or free memory, then retry", EXIT_FAILURE
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply; give a simpler input", EXIT_FAILURE
    return "", EXIT_FAILURE


def report_failure(exc: BaseException, *, debug: bool, state_dir: Path | None) -> int:
    """Show `exc` as one line on stderr and return the exit code (the traceback only with `--debug`)."""
    if isinstance(exc, typer.Abort):
        say("aborted")
        return EXIT_FAILURE
    if isinstance(exc, KeyboardInterrupt):
        say("interrupted; nothing after the last completed step was written")
        return EXIT_INTERRUPTED
    if isinstance(exc, typer.TyperException) and hasattr(exc, "show"):
        exc.show()  # usage errors: Typer's short usage message
        return int(getattr(exc, "exit_code", EXIT_UNKNOWN))
    message, code = describe(exc)
    if message and not debug:
        say(f"error: {message}")
        return code
    if debug:
        log = write_debug_log(exc, state_dir)
        where = f"traceback written to {log}" if log is not None else "traceback follows"
        say(f"error: {message or f'unexpected internal error ({type(exc).__name__})'}; {where}")
        if log is None:
            traceback.print_exception(exc, file=sys.stderr)
        return code
    say(
        f"error: unexpected internal error ({type(exc).__name__}); this is a bug: run the command again as "
        "`dsr --debug ...` to write the traceback to .dsr/logs/debug.log, and report it"
    )
    return code
