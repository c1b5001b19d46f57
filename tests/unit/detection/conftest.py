"""Shared synthetic subject and helpers for detection tests (invented people, `.invalid` domains)."""

from __future__ import annotations

import json

import pytest

from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher

SUBJECT = SubjectIdentifiers(
    emails=("zoe.angstrom@x.invalid",),
    names=("Zoë Ångström",),
    phones=("+44 7700 900123",),
    user_ids=("E-48213", "3f2b8c1e-1111-4222-8333-444455556666"),
)


@pytest.fixture(scope="session")
def matcher() -> Matcher:
    """The synthetic subject's matcher (default region GB)."""
    return Matcher.from_identifiers(SUBJECT, default_region="GB")


def jsonl(value: object, *, ascii_only: bool) -> bytes:
    """One JSONL line as the agents write it: escaped (ensure_ascii=True) or raw UTF-8."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
