"""Verification of exported ledgers: every single edit, deletion, swap or forged signature is found and named."""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from proofs.entry import ENTRY_FIELDS, hash_entry_fields
from proofs.ledger import Ledger
from proofs.signing import LedgerSigner, public_key_pem
from proofs.store import JsonlLedgerStore
from proofs.verify import Problem, VerifyResult, verify_export
from tests.unit.proofs._helpers import TickingClock, fill

N_ENTRIES = 5
CHECKPOINT_EVERY = 2
# Checkpoints seal 1..2 and 3..4 automatically; the export seals 5..5.
CHECKPOINT_ENDS = (2, 4, 5)
EDITABLE = list(ENTRY_FIELDS)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], bytes]:
    """A sealed export of a five-entry ledger (lines) and its public key (PEM)."""
    directory = tmp_path_factory.mktemp("ledger")
    signer = LedgerSigner(Ed25519PrivateKey.generate())
    ledger = Ledger(
        JsonlLedgerStore(directory / "ledger.jsonl"),
        signer=signer,
        checkpoint_every=CHECKPOINT_EVERY,
        clock=TickingClock(),
    )
    fill(ledger, N_ENTRIES)
    path = directory / "export.jsonl"
    ledger.export_jsonl(path)
    return path.read_text(encoding="ascii").splitlines(), signer.public_key_pem()


def _write(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "tampered.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    return path


def _index_of(lines: list[str], kind: str, seq: int) -> int:
    """0-based index of the entry with `seq` (or the checkpoint ending at `seq`)."""
    key = "seq" if kind == "entry" else "seq_to"
    for index, line in enumerate(lines):
        document = json.loads(line)
        if document["type"] == kind and document[key] == seq:
            return index
    raise LookupError(f"no {kind} {seq}")


def _dump(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _mutate(value: Any) -> Any:
    """A different value of the same JSON shape."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value[:-1] + ("0" if value[-1] != "0" else "1")
    if value is None:
        return "tampered"
    if isinstance(value, dict):
        return {**value, "extra": 1}
    if isinstance(value, list):
        return [*value, 1]
    raise TypeError(type(value))


def _check(result: VerifyResult, problem: Problem, seq: int | set[int], line: int | None) -> None:
    assert not result.ok
    error = result.first_error
    assert error is not None
    assert error.problem is problem, error.describe()
    assert error.seq in (seq if isinstance(seq, set) else {seq}), error.describe()
    if line is not None:
        assert error.line == line, error.describe()


def test_intact_export_verifies(exported: tuple[list[str], bytes], tmp_path: Path) -> None:
    """An untouched export verifies with the published key, every entry sealed and no error."""
    lines, pem = exported
    result = verify_export(_write(tmp_path, lines), pem)
    assert result.ok, result.first_error
    assert (result.entries, result.checkpoints, result.sealed_to) == (N_ENTRIES, len(CHECKPOINT_ENDS), N_ENTRIES)
    assert result.key_source == "given"
    assert result.warnings == ()


def test_embedded_key_verifies_with_a_trust_warning(exported: tuple[list[str], bytes], tmp_path: Path) -> None:
    """Without --public-key the header's key is used and a warning says it proves integrity, not origin."""
    lines, _ = exported
    result = verify_export(_write(tmp_path, lines))
    assert result.ok
    assert result.key_source == "embedded"
    assert any("integrity, not origin" in w for w in result.warnings)


@pytest.mark.parametrize("field", EDITABLE)
@pytest.mark.parametrize("seq", range(1, N_ENTRIES + 1))
def test_editing_any_field_of_any_entry_is_named(
    exported: tuple[list[str], bytes], tmp_path: Path, seq: int, field: str
) -> None:
    """Changing one field of one entry fails verification as `modified` at that entry's seq and line."""
    lines, pem = exported
    index = _index_of(lines, "entry", seq)
    document = json.loads(lines[index])
    document[field] = _mutate(document[field])
    tampered = [*lines[:index], _dump(document), *lines[index + 1 :]]
    _check(verify_export(_write(tmp_path, tampered), pem), Problem.MODIFIED, seq, index + 1)


@pytest.mark.parametrize("seq", range(1, N_ENTRIES + 1))
def test_adding_a_content_field_to_an_entry_is_named(
    exported: tuple[list[str], bytes], tmp_path: Path, seq: int
) -> None:
    """Adding a field (e.g. `content`) to an entry breaks its hash: `modified` at that entry."""
    lines, pem = exported
    index = _index_of(lines, "entry", seq)
    document = {**json.loads(lines[index]), "content": "x"}
    tampered = [*lines[:index], _dump(document), *lines[index + 1 :]]
    _check(verify_export(_write(tmp_path, tampered), pem), Problem.MODIFIED, seq, index + 1)


@pytest.mark.parametrize("seq", range(1, N_ENTRIES + 1))
def test_edited_and_rehashed_entry_is_named(exported: tuple[list[str], bytes], tmp_path: Path, seq: int) -> None:
    """An entry edited and given a fresh entry_hash is caught by the next link or the checkpoint, naming it."""
    lines, pem = exported
    index = _index_of(lines, "entry", seq)
    document = json.loads(lines[index])
    document["path"] = "/elsewhere.jsonl"
    document["entry_hash"] = hash_entry_fields(document)
    tampered = [*lines[:index], _dump(document), *lines[index + 1 :]]
    _check(verify_export(_write(tmp_path, tampered), pem), Problem.MODIFIED, seq, index + 1)


@pytest.mark.parametrize("seq", range(1, N_ENTRIES + 1))
def test_deleting_any_entry_is_named(exported: tuple[list[str], bytes], tmp_path: Path, seq: int) -> None:
    """Removing one entry fails verification as `missing`, naming the absent seq (the last one: `truncated`)."""
    lines, pem = exported
    index = _index_of(lines, "entry", seq)
    tampered = [*lines[:index], *lines[index + 1 :]]
    problem = Problem.TRUNCATED if seq == N_ENTRIES else Problem.MISSING
    _check(verify_export(_write(tmp_path, tampered), pem), problem, seq, index + 1)


@pytest.mark.parametrize("seq", range(1, N_ENTRIES))
def test_swapping_two_entries_is_named(exported: tuple[list[str], bytes], tmp_path: Path, seq: int) -> None:
    """Swapping entries seq and seq+1 fails verification as `reordered`, naming one of the two."""
    lines, pem = exported
    first, second = _index_of(lines, "entry", seq), _index_of(lines, "entry", seq + 1)
    tampered = list(lines)
    tampered[first], tampered[second] = lines[second], lines[first]
    _check(verify_export(_write(tmp_path, tampered), pem), Problem.REORDERED, {seq, seq + 1}, None)


def test_swapping_first_and_last_entries_is_named(exported: tuple[list[str], bytes], tmp_path: Path) -> None:
    """Swapping distant entries is `reordered` too, found at the first displaced line."""
    lines, pem = exported
    first, last = _index_of(lines, "entry", 1), _index_of(lines, "entry", N_ENTRIES)
    tampered = list(lines)
    tampered[first], tampered[last] = lines[last], lines[first]
    _check(verify_export(_write(tmp_path, tampered), pem), Problem.REORDERED, N_ENTRIES, first + 1)


@pytest.mark.parametrize("seq_to", CHECKPOINT_ENDS)
@pytest.mark.parametrize("field", ["signature", "seq_from", "seq_to", "head_hash", "at", "key_id"])
def test_corrupting_any_checkpoint_is_a_bad_signature(
    exported: tuple[list[str], bytes], tmp_path: Path, seq_to: int, field: str
) -> None:
    """Changing a checkpoint's signature or any signed field fails as `bad_signature` at that checkpoint."""
    lines, pem = exported
    index = _index_of(lines, "checkpoint", seq_to)
    document = json.loads(lines[index])
    document[field] = _mutate(document[field])
    tampered = [*lines[:index], _dump(document), *lines[index + 1 :]]
    result = verify_export(_write(tmp_path, tampered), pem)
    assert result.first_error is not None and result.first_error.checkpoint
    expected_seq = document["seq_to"] if field == "seq_to" else seq_to
    _check(result, Problem.BAD_SIGNATURE, expected_seq, index + 1)


@pytest.mark.parametrize("seq_to", CHECKPOINT_ENDS[:-1])
def test_deleting_a_checkpoint_is_named(exported: tuple[list[str], bytes], tmp_path: Path, seq_to: int) -> None:
    """Removing a checkpoint leaves its range unsealed: the next checkpoint reports it `missing`."""
    lines, pem = exported
    index = _index_of(lines, "checkpoint", seq_to)
    previous_end = CHECKPOINT_ENDS[CHECKPOINT_ENDS.index(seq_to) - 1] if seq_to != CHECKPOINT_ENDS[0] else 0
    result = verify_export(_write(tmp_path, [*lines[:index], *lines[index + 1 :]]), pem)
    _check(result, Problem.MISSING, previous_end + 1, None)


def test_wrong_public_key_fails(exported: tuple[list[str], bytes], tmp_path: Path) -> None:
    """Checking with another key fails as `bad_signature` at the first checkpoint."""
    lines, _ = exported
    other = public_key_pem(Ed25519PrivateKey.generate().public_key())
    result = verify_export(_write(tmp_path, lines), other)
    _check(result, Problem.BAD_SIGNATURE, CHECKPOINT_ENDS[0], _index_of(lines, "checkpoint", CHECKPOINT_ENDS[0]) + 1)


def test_resigned_forgery_fails_against_the_published_key(exported: tuple[list[str], bytes], tmp_path: Path) -> None:
    """A forger who rebuilds the chain and re-signs with their own key is caught by the published key."""
    _, pem = exported
    forger = LedgerSigner(Ed25519PrivateKey.generate())
    ledger = Ledger(
        JsonlLedgerStore(tmp_path / "forged.jsonl"), signer=forger, checkpoint_every=2, clock=TickingClock()
    )
    fill(ledger, N_ENTRIES)
    ledger.export_jsonl(tmp_path / "forged-export.jsonl")
    assert verify_export(tmp_path / "forged-export.jsonl").ok  # self-consistent with its embedded key
    result = verify_export(tmp_path / "forged-export.jsonl", pem)
    assert not result.ok and result.first_error is not None
    assert result.first_error.problem is Problem.BAD_SIGNATURE


def test_unsealed_tail_is_a_warning(tmp_path: Path, signer: LedgerSigner) -> None:
    """Entries after the last checkpoint verify, with an `unsealed_tail` warning naming their range."""
    ledger = Ledger(JsonlLedgerStore(tmp_path / "l.jsonl"), signer=signer, checkpoint_every=2, clock=TickingClock())
    fill(ledger, 3)
    ledger.export_jsonl(tmp_path / "e.jsonl", seal=False)
    result = verify_export(tmp_path / "e.jsonl", signer.public_key_pem())
    assert result.ok
    assert result.sealed_to == 2
    assert [w for w in result.warnings if w.startswith("unsealed_tail")] == [
        "unsealed_tail: entries 3..3 are not covered by a signed checkpoint"
    ]


def test_truncated_export_is_missing(exported: tuple[list[str], bytes], tmp_path: Path) -> None:
    """Cutting the file after the first entry is `missing` (the header and checkpoints announce more)."""
    lines, pem = exported
    result = verify_export(_write(tmp_path, lines[:2]), pem)
    _check(result, Problem.MISSING, 2, None)


def test_garbage_line_is_malformed(exported: tuple[list[str], bytes], tmp_path: Path) -> None:
    """A line that is not JSON is reported as `malformed` with its line number."""
    lines, pem = exported
    result = verify_export(_write(tmp_path, [*lines[:3], "{not json", *lines[3:]]), pem)
    assert result.first_error is not None
    assert (result.first_error.problem, result.first_error.line) == (Problem.MALFORMED, 4)


def test_entry_hash_is_reproducible_by_a_third_party(exported: tuple[list[str], bytes]) -> None:
    """Each entry_hash is sha256 over sorted, compact, ASCII JSON of the entry without entry_hash and type."""
    lines, _ = exported
    previous = "0" * 64
    for line in lines:
        document = json.loads(line)
        if document["type"] != "entry":
            continue
        body = {k: v for k, v in document.items() if k not in ("entry_hash", "type")}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
        assert document["entry_hash"] == digest
        assert document["prev_hash"] == previous
        previous = digest


@settings(max_examples=40, deadline=None)
@given(
    size=st.integers(min_value=2, max_value=9),
    every=st.integers(min_value=1, max_value=4),
    operation=st.sampled_from(["edit", "delete", "swap"]),
    data=st.data(),
)
def test_any_single_tamper_on_any_ledger_is_named(size: int, every: int, operation: str, data: st.DataObject) -> None:
    """For random ledger sizes and seal intervals, one edit, deletion or swap is found and names its entry."""
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        signer = LedgerSigner(Ed25519PrivateKey.generate())
        ledger = Ledger(JsonlLedgerStore(root / "l.jsonl"), signer=signer, checkpoint_every=every, clock=TickingClock())
        fill(ledger, size)
        ledger.export_jsonl(root / "e.jsonl")
        lines = (root / "e.jsonl").read_text(encoding="ascii").splitlines()
        seq = data.draw(st.integers(min_value=1, max_value=size - 1 if operation == "swap" else size), label="seq")
        index = _index_of(lines, "entry", seq)
        tampered = list(lines)
        if operation == "edit":
            document = json.loads(lines[index])
            name = data.draw(st.sampled_from(EDITABLE), label="field")
            document[name] = _mutate(document[name])
            tampered[index] = _dump(document)
            expected: tuple[Problem, set[int]] = (Problem.MODIFIED, {seq})
        elif operation == "delete":
            del tampered[index]
            expected = (Problem.TRUNCATED if seq == size else Problem.MISSING, {seq})
        else:
            other = _index_of(lines, "entry", seq + 1)
            tampered[index], tampered[other] = lines[other], lines[index]
            expected = (Problem.REORDERED, {seq, seq + 1})
        _check(verify_export(_write(root, tampered), signer.public_key_pem()), expected[0], expected[1], None)
