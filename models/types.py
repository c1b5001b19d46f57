"""Value types shared by every layer: ids, enums for kinds and statuses. No I/O."""

from __future__ import annotations

from enum import StrEnum
from typing import NewType

RequestId = NewType("RequestId", str)


class RequestKind(StrEnum):
    """The rights of Arts 15 to 22 a request can exercise."""

    ACCESS = "access"
    ERASURE = "erasure"
    PORTABILITY = "portability"
    RECTIFICATION = "rectification"
    RESTRICTION = "restriction"
    OBJECTION = "objection"


class RequestStatus(StrEnum):
    """Lifecycle: received, identity_pending, in_progress, awaiting_approval, executing, completed.

    `completed_with_gaps`: an erasure finished everything it could, but items it could not read or change
    remain (not reached, each with its reason in the certificate); never `completed` while one remains.
    """

    RECEIVED = "received"
    IDENTITY_PENDING = "identity_pending"
    IN_PROGRESS = "in_progress"
    AWAITING_APPROVAL = "awaiting_approval"
    EXECUTING = "executing"
    COMPLETED = "completed"
    COMPLETED_WITH_GAPS = "completed_with_gaps"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class IdentifierKind(StrEnum):
    """Kinds of subject identifier a request can carry."""

    EMAIL = "email"
    NAME = "name"
    PHONE = "phone"
    USER_ID = "user_id"


class LocationStatus(StrEnum):
    """The honest status of one endpoint or store for one request.

    "Could not read" and "did not recognise" are never "scanned".
    """

    PENDING = "pending"
    SCANNED = "scanned"
    SCANNED_WITH_GAPS = "scanned_with_gaps"
    UNREACHABLE = "unreachable"
    AUTH_FAILED = "auth_failed"
    HOST_KEY_UNKNOWN = "host_key_unknown"
    HOST_KEY_MISMATCH = "host_key_mismatch"
    BUSY = "busy"
    REFUSED = "refused"
    FAILED = "failed"

    @property
    def was_read(self) -> bool:
        """Whether the location's histories were read (fully, or with coverage gaps named in the reason)."""
        return self in {LocationStatus.SCANNED, LocationStatus.SCANNED_WITH_GAPS}

    @property
    def is_final(self) -> bool:
        """Whether the location is accounted for without another try (scanned or a permanent failure)."""
        return self not in {LocationStatus.PENDING, LocationStatus.UNREACHABLE, LocationStatus.BUSY}
