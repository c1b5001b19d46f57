"""A logging safety net: redacts a request's subject identifiers (every form the matcher knows) from records.

Installed by the flows on every handler for the duration of a request's run. Messages, arguments and
formatted tracebacks are rewritten before any handler (Prefect's API handler included) sees them.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from detection.matcher import Matcher
from detection.redact import erase_in_text


def redact_text(text: str, matcher: Matcher) -> str:
    """`text` with every confirmed identifier span replaced by `[redacted]`."""
    return erase_in_text(text, matcher)[0]


class IdentifierRedactingFilter(logging.Filter):
    """Rewrites a record's message and traceback so no identifier of the subject survives."""

    def __init__(self, matcher: Matcher) -> None:
        super().__init__()
        self._matcher = matcher

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        clean = redact_text(message, self._matcher)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info))
            record.exc_text = redact_text(text, self._matcher)
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text, self._matcher)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info, self._matcher)
        return True


LOGGER_NAMES = ("", "prefect", "prefect.flow_runs", "prefect.task_runs", "dsr")


@contextmanager
def redacting_logs(matcher: Matcher) -> Iterator[IdentifierRedactingFilter]:
    """Attach the filter to every handler of the root, Prefect and dsr loggers; detach afterwards."""
    log_filter = IdentifierRedactingFilter(matcher)
    handlers = {h for name in LOGGER_NAMES for h in logging.getLogger(name).handlers}
    for handler in handlers:
        handler.addFilter(log_filter)
    try:
        yield log_filter
    finally:
        for handler in handlers:
            handler.removeFilter(log_filter)
