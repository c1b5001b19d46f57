"""The one exception tree of dsr-orchestrator; callers map connector errors to location statuses.

Messages carry ids, URLs, paths and hashes, never personal data (no names, e-mails, phones, content).

    DsrError
    ├── ConfigError (also ValueError)            bad configuration key or value
    ├── InputError (also ValueError)             bad command-line or form input (identifier, kind, date)
    ├── RequestError
    │   ├── RequestNotFoundError                 unknown request id (CLI exit code 2)
    │   ├── InvalidTransitionError               illegal status change; the row is left unchanged
    │   ├── DeadlinePassedError                  extension after the first deadline (Art. 12(3))
    │   ├── RequestBusyError                     another process is running the request's flow now
    │   └── RequestClosedError                   the request is closed; its flow is never run again
    ├── PolicyError
    │   ├── HoldInScopeError                     a legal hold covers the item
    │   ├── ApprovalRequiredError                erasure without an approved plan
    │   ├── IdentityRequiredError                run or export before identity is verified or waived
    │   └── FourEyesError                        the approver is the person who submitted the request
    ├── LedgerError                              proof ledger broken or unusable
    └── ConnectorError          .status          maps to a LocationStatus
        ├── UnreachableError        unreachable  (retryable)
        ├── AuthenticationError     auth_failed
        ├── HostKeyError
        │   ├── HostKeyUnknownError    host_key_unknown
        │   └── HostKeyMismatchError   host_key_mismatch
        ├── BusyError               busy         (retryable) the agent app is running
        ├── AccessDeniedError       refused      permission denied, path out of scope, symlink out of root
        ├── VersionConflictError    failed       (retryable) the item changed since it was read
        ├── DatabaseError           failed       an agent's SQLite file is corrupt, encrypted or locked
        ├── ItemNotFoundError       failed       the item vanished (delete treats this as an outcome)
        ├── UnsupportedOperationError failed     the backend cannot do this
        └── TransferError           failed       (retryable) a read or write broke off

`retryable` drives Prefect's `retry_condition_fn`. Every exception pickles (keyword fields go through
`__reduce__`), so it can cross Prefect task boundaries.
"""

from __future__ import annotations

from typing import Any, ClassVar

from models.types import LocationStatus


class DsrError(Exception):
    """Root of every error the orchestrator raises on purpose."""

    retryable: ClassVar[bool] = False

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields
        for key, value in fields.items():
            setattr(self, key, value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.fields))

    def __str__(self) -> str:
        return self.message


def _rebuild(cls: type[DsrError], message: str, fields: dict[str, Any]) -> DsrError:
    return cls(message, **fields)


class ConfigError(DsrError, ValueError):
    """The configuration file is missing, unreadable or invalid."""


class InputError(DsrError, ValueError):
    """A command-line or form value is invalid; nothing was written."""


class RequestError(DsrError):
    """A request cannot be found or cannot do what was asked."""


class RequestNotFoundError(RequestError):
    """No request with this id."""


class RequestBusyError(RequestError):
    """Another process holds the request's run lock: its flow is running there now."""


class RequestClosedError(RequestError):
    """The request is closed (completed, refused, withdrawn...): its flow is not run again."""


class InvalidTransitionError(RequestError):
    """The request's lifecycle does not allow this status change."""


class DeadlinePassedError(RequestError):
    """The first deadline has passed: an extension can no longer be recorded (Art. 12(3))."""


class PolicyError(DsrError):
    """A policy forbids the action."""


class HoldInScopeError(PolicyError):
    """A legal hold covers the item (Art. 17(3)(e))."""


class ApprovalRequiredError(PolicyError):
    """Erasure needs an approved plan first."""


class IdentityRequiredError(PolicyError):
    """The request's identity check is not recorded yet: nothing is searched, erased or handed over."""


class FourEyesError(PolicyError):
    """`[erasure].four_eyes` is on and the approver is the user who submitted the request."""


class LedgerError(DsrError):
    """The proof ledger cannot be written or read."""


class ConnectorError(DsrError):
    """Something went wrong talking to an endpoint or a store; `status` says how to record it."""

    status: ClassVar[LocationStatus] = LocationStatus.FAILED


class UnreachableError(ConnectorError):
    """The endpoint did not answer (asleep, gone, port closed, mute)."""

    status = LocationStatus.UNREACHABLE
    retryable = True


class AuthenticationError(ConnectorError):
    """The endpoint refused our credentials."""

    status = LocationStatus.AUTH_FAILED


class HostKeyError(ConnectorError):
    """The endpoint's host key could not be trusted; no data was read."""


class HostKeyUnknownError(HostKeyError):
    """The host is not in known_hosts."""

    status = LocationStatus.HOST_KEY_UNKNOWN


class HostKeyMismatchError(HostKeyError):
    """The host presented a key different from the one in known_hosts."""

    status = LocationStatus.HOST_KEY_MISMATCH


class BusyError(ConnectorError):
    """The agent app is running on the endpoint: changes must wait."""

    status = LocationStatus.BUSY
    retryable = True


class AccessDeniedError(ConnectorError):
    """Permission denied, or the path leads out of the endpoint's scope."""

    status = LocationStatus.REFUSED


class VersionConflictError(ConnectorError):
    """The item changed since it was read (compare-and-swap refused)."""

    retryable = True


class DatabaseError(ConnectorError):
    """An agent's database could not be read or changed (corrupt, encrypted, locked): reported, never a crash."""


class ItemNotFoundError(ConnectorError):
    """The item does not exist (any more)."""


class UnsupportedOperationError(ConnectorError):
    """The backend cannot perform this operation."""


class TransferError(ConnectorError):
    """A read or write broke off."""

    retryable = True


def is_retryable(exc: BaseException) -> bool:
    """Whether retrying the operation that raised `exc` could help."""
    return isinstance(exc, DsrError) and exc.retryable
