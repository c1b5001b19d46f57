"""Values that classification produces and redaction consumes: categories and third-party findings.

Owns only these frozen values (no presidio import, so redaction and erasure load fast). Never logs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class DataCategory(StrEnum):
    """Categories of personal data for Art. 15(1)(b)."""

    CONTACT_DETAILS = "contact_details"
    IDENTIFIERS = "identifiers"
    FINANCIAL = "financial"
    LOCATION = "location"
    HEALTH = "health"
    FREE_TEXT_MENTIONS = "free_text_mentions"


class ThirdPartyEntity(StrEnum):
    """Kinds of third parties' personal data that redaction replaces (Art. 15(4))."""

    EMAIL = "EMAIL_ADDRESS"
    PHONE = "PHONE_NUMBER"
    PERSON = "PERSON"
    IBAN = "IBAN_CODE"
    CARD = "CREDIT_CARD"
    IP = "IP_ADDRESS"
    ID = "STAFF_ID"


@dataclass(frozen=True)
class ThirdPartyFinding:
    """Another person's data inside a confirmed record.

    Attributes:
        pointer: JSON pointer of the string (`""` for text records).
        in_key: the string is an object key, not a value.
        start: start offset in that string.
        end: end offset in that string.
        entity: the kind (a `ThirdPartyEntity` value).
        text: the data itself (kept in memory for stable placeholders; never logged, not in repr).
    """

    pointer: str
    in_key: bool
    start: int
    end: int
    entity: str
    text: str = field(repr=False)


@dataclass(frozen=True)
class Classification:
    """What a confirmed record holds.

    Attributes:
        categories: the Art. 15(1)(b) categories present (sorted `DataCategory` values).
        third_parties: other people's data found in the record.
    """

    categories: tuple[str, ...]
    third_parties: tuple[ThirdPartyFinding, ...]
