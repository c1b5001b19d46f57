"""The remote scanner's output is untrusted: a laptop controls the `python3` and login shell that produce it.

A banner before the greeting is ignored; garbage, deep JSON, malformed records or an endless line after it
end the scan with a `TransferError` (a reported location failure), never a crash or unbounded memory.
The channel is simulated: these are the bytes a hostile `python3 -` could print.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.base import Item, RemoteHit, Skipped
from connectors.ssh import SSHConnector
from models.errors import TransferError

pytestmark = pytest.mark.timeout(60)
HELLO = b'{"t":"hello","v":1}\n'
END = b'{"t":"end"}\n'
ITEM = b'{"t":"i","p":"/home/ana/x.jsonl","s":3,"m":1767000000,"n":1}\n'


class _Channel:
    """Just enough of a paramiko channel for `_scan_with_python`."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.sent = b""

    def sendall(self, data: bytes) -> None:
        self.sent += data

    def shutdown_write(self) -> None:
        """Nothing to shut."""

    def recv_exit_status(self) -> int:
        return self.status

    def close(self) -> None:
        """Nothing to close."""


class _FakeLaptop(SSHConnector):
    """An SSH connector whose remote `python3 -` prints `chunks` (no network)."""

    def __init__(self, chunks: list[bytes], status: int = 0) -> None:
        super().__init__("fake", "ssh://u@127.0.0.1:1/", key_text="unused", known_hosts=Path("/nonexistent"))
        self.chunks = chunks
        self.channel = _Channel(status)

    def _open_exec(self, command: str) -> Any:
        assert command == "python3 -"
        return self.channel

    def _drain(self, channel: Any) -> Iterator[tuple[str, bytes]]:
        for chunk in self.chunks:
            yield "out", chunk


def _scan(chunks: list[bytes], status: int = 0) -> list[Item | Skipped | RemoteHit]:
    return list(_FakeLaptop(chunks, status)._scan_with_python(["/home"], [b"needle"]))


HOSTILE = {
    "garbage_after_hello": [HELLO, b"{{{{not json\n", END],
    "array_after_hello": [HELLO, b"[1, 2]\n", END],
    "deep_json_after_hello": [HELLO, b"[" * 100_000 + b"]" * 100_000 + b"\n", END],
    "record_missing_fields": [HELLO, b'{"t":"i","p":"/x"}\n', END],
    "absurd_mtime": [HELLO, b'{"t":"i","p":"/x","s":1,"m":99999999999999999999,"n":1}\n', END],
    "bad_base64_hit": [HELLO, b'{"t":"h","p":"/x","l":1,"o":0,"d":"a"}\n', END],
    "unknown_record_type": [HELLO, b'{"t":"exec","p":"/x"}\n', END],
    "endless_line": [HELLO, *([b"x" * (8 << 20)] * 9)],
}


@pytest.mark.parametrize("chunks", list(HOSTILE.values()), ids=list(HOSTILE))
def test_hostile_scanner_output_is_a_transfer_error(chunks: list[bytes]) -> None:
    """Anything after the greeting that is not a valid record ends the scan with a TransferError."""
    with pytest.raises(TransferError):
        _scan(chunks)


def test_banner_before_the_greeting_is_ignored_and_records_are_read() -> None:
    """Login-shell noise before the scanner's greeting is skipped; the records after it are returned."""
    hit = json.dumps({"t": "h", "p": "/home/ana/x.jsonl", "l": 1, "o": 0, "d": base64.b64encode(b"ab").decode()})
    records = _scan([b"Welcome to the laptop\n{{{\n", HELLO, ITEM, hit.encode() + b"\n", END])
    assert [type(r).__name__ for r in records] == ["Item", "RemoteHit"]
    assert isinstance(records[1], RemoteHit) and records[1].data == b"ab"


def test_no_greeting_means_fallback_not_error() -> None:
    """Output without a greeting (no usable python3) yields nothing, so the caller falls back to SFTP."""
    assert _scan([b"python3: command not found\n"], status=127) == []


def test_program_and_literals_travel_on_stdin_only() -> None:
    """The command is the constant `python3 -`; the search literals are in the stdin program, hex-encoded."""
    laptop = _FakeLaptop([HELLO, END])
    list(laptop._scan_with_python(["/home"], [b"q.vextrabor@mail.invalid"]))
    assert b"q.vextrabor@mail.invalid" not in laptop.channel.sent
    assert b"remote_main(" in laptop.channel.sent
