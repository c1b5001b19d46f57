"""A request's subject inside this process: identifiers, matcher, data key, and log redaction.

Identifiers are read from the case database here and never cross a function boundary that Prefect could
record: callers pass request ids and get a matcher or a key back.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlmodel import Session

from detection.identifiers import SubjectIdentifiers
from detection.logfilter import redacting_logs
from detection.matcher import Matcher
from models import cases
from models.db import session_scope
from models.errors import DsrError, InputError
from models.keys import master_key
from models.settings import Settings


def subject_identifiers(session: Session, request_id: str, key: bytes) -> SubjectIdentifiers:
    """The subject's identifiers of a request, for the matcher (personal data: keep it in this process)."""
    rows = cases.decrypted_identifiers(session, request_id, key)

    def values(kind: str) -> tuple[str, ...]:
        return tuple(value for k, value in rows if k == kind)

    return SubjectIdentifiers(
        emails=values("email"), names=values("name"), phones=values("phone"), user_ids=values("user_id")
    )


def build_matcher(settings: Settings, request_id: str) -> Matcher:
    """The subject's matcher for a request."""
    key = master_key(settings.state_dir)
    with session_scope(settings.database.url) as session:
        ids = subject_identifiers(session, request_id, key)
    if not (ids.emails or ids.names or ids.phones or ids.user_ids):
        raise InputError(f"request {request_id} has no identifiers left (pseudonymised?); it cannot be scanned")
    return Matcher.from_identifiers(ids, default_region=settings.controller.phone_region)


def request_key(settings: Settings, request_id: str) -> bytes:
    """The request's data key (copies in staging and the package are encrypted with it)."""
    with session_scope(settings.database.url) as session:
        return cases.request_data_key(session, request_id, master_key(settings.state_dir))


@contextmanager
def log_redaction(settings: Settings, request_id: str, matcher: Matcher | None = None) -> Iterator[None]:
    """While a request is worked on, redact its subject's identifiers from every log record (safety net);
    `matcher` is the request's matcher when the caller has one already (else it is built here)."""
    if matcher is None:
        try:
            matcher = build_matcher(settings, request_id)
        except DsrError:
            yield
            return
    with redacting_logs(matcher):
        yield
