"""The URL schemes a central store may use, with the URL form each expects.

Read by the settings (which store URLs are accepted) and by `connectors.registry` (which opens a connector
per scheme; a unit test checks that both name the same schemes). Adding an object-store backend adds its
module to `connectors/`, its opener to the registry and its scheme here; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from urllib.parse import urlsplit

STORE_URL_FORMS: Mapping[str, str] = MappingProxyType({"s3": "s3://bucket/optional/prefix"})
"""Scheme -> the URL form a store of that scheme is configured with."""


def check_store_url(value: str) -> None:
    """Raise ValueError naming `value` and the accepted forms unless the URL has a known scheme and a bucket.

    A user-info part (`user:secret@`) of the URL is not repeated in the message.
    """
    parts = urlsplit(value)
    if parts.scheme in STORE_URL_FORMS and parts.netloc:
        return
    shown = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl() if "@" in parts.netloc else value
    forms = " or ".join(STORE_URL_FORMS.values())
    schemes = ", ".join(sorted(STORE_URL_FORMS))
    raise ValueError(f"{forms} (store URL schemes with a connector: {schemes}); got {shown!r}")
