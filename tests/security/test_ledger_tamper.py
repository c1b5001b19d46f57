"""Red team on the proof ledger: every way to cut, rewrite or swap it is detected and named.

On the case database (SQLite and PostgreSQL): edit, delete, reorder, drop the tail after a checkpoint, drop the
tail with its checkpoint, delete everything, drop a checkpoint, rewrite and re-sign with the key beside the
database. The last three leave a database that is consistent on its own: they are caught by the trust anchors
outside it (the evidence bucket under Object Lock, here a moto server) and by a signed head filed earlier.
On exports, through the CLI (exit 1, problem named): the same cuts with the header fixed, a dropped checkpoint,
an edited signed head, and certificates swapped, edited or from another ledger.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from typer.testing import CliRunner

from dsr.cli_ledger import app
from dsr.context import state
from models.db import get_engine, session_scope
from models.settings import EvidenceSettings
from proofs.attestation import SIGNATURE_SUFFIX, sign_certificate
from proofs.entry import LedgerEntry
from proofs.ledger import DEFAULT_KEY_FILENAME, Ledger, head_document
from proofs.signing import SIGNING_KEY_ENV, LedgerSigner, load_signing_key
from proofs.sql_store import SQLLedgerStore
from proofs.verify import HeadCheck, Problem, VerifyResult
from reports.certificate import LedgerCoverage, build_certificate
from services.evidence import BucketAnchors
from tests.fixtures.s3server import S3Server
from tests.unit.proofs._helpers import TickingClock, fill
from tests.unit.proofs.conftest import DATABASES, ledger_database
from tests.unit.reports.test_certificate import certificate_input

runner = CliRunner()
ENTRIES = 10  # checkpoints seal 1..4, 5..8, and 9..10 on the final seal


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A case database with empty ledger tables: SQLite, and PostgreSQL when DSR_TEST_DATABASE_URL is set."""
    with ledger_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def signer() -> LedgerSigner:
    """The key beside the database (the attacker has it too)."""
    return LedgerSigner(Ed25519PrivateKey.generate())


@pytest.fixture
def anchors(moto_s3: S3Server, unique_bucket: str, monkeypatch: pytest.MonkeyPatch) -> BucketAnchors:
    """The evidence bucket under Object Lock on a loopback moto server."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_s3.credentials.access_key_id)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_s3.credentials.secret_access_key)
    moto_s3.client().create_bucket(Bucket=unique_bucket, ObjectLockEnabledForBucket=True)
    return BucketAnchors(EvidenceSettings(bucket=unique_bucket, endpoint_url=moto_s3.endpoint_url, retention_days=1))


def _ledger(url: str, signer: LedgerSigner, anchors: BucketAnchors | None = None) -> Ledger:
    store = SQLLedgerStore(lambda: session_scope(url))
    return Ledger(store, signer=signer, checkpoint_every=4, clock=TickingClock(), anchors=anchors)


def _filled(url: str, signer: LedgerSigner, anchors: BucketAnchors | None = None) -> Ledger:
    ledger = _ledger(url, signer, anchors)
    fill(ledger, ENTRIES)
    ledger.seal()
    return ledger


def _sql(url: str, *statements: str) -> None:
    with get_engine(url).begin() as conn:
        for statement in statements:
            conn.execute(text(statement))


def _named(result: VerifyResult, problem: Problem, seq: int | None) -> str:
    assert not result.ok, result
    error = result.first_error
    assert error is not None
    assert error.problem is problem, error.describe()
    if seq is not None:
        assert error.seq == seq, error.describe()
    return error.describe()


def _resign_rewritten(url: str, signer: LedgerSigner, key: LedgerSigner | None = None) -> None:
    """What someone with the database and the key beside it can do: change entry 3, re-chain, re-sign."""
    entries = list(_ledger(url, signer).entries())
    _sql(url, "DELETE FROM ledger_checkpoints", "DELETE FROM ledger_entries")
    forger = _ledger(url, key or signer)
    for entry in entries:
        record = entry.record
        if entry.seq == 3:
            record = type(record)(**{**record.__dict__, "path": "/nothing/was/here.jsonl"})
        forger.append(record, idempotency_key=entry.idempotency_key)
    forger.seal()


# -- on the database alone -----------------------------------------------------------------------------


def test_db_edit_is_named_modified(db_url: str, signer: LedgerSigner) -> None:
    """An entry's path changed in the table: `modified`, seq 3."""
    ledger = _filled(db_url, signer)
    _sql(db_url, "UPDATE ledger_entries SET path = '/elsewhere' WHERE seq = 3")
    _named(ledger.verify(), Problem.MODIFIED, 3)


def test_db_delete_is_named_missing(db_url: str, signer: LedgerSigner) -> None:
    """A row deleted from the middle: `missing`, seq 3."""
    ledger = _filled(db_url, signer)
    _sql(db_url, "DELETE FROM ledger_entries WHERE seq = 3")
    _named(ledger.verify(), Problem.MISSING, 3)


def test_db_swap_is_named_reordered(db_url: str, signer: LedgerSigner) -> None:
    """Two rows' seqs swapped: `reordered` (not a mere edit)."""
    ledger = _filled(db_url, signer)
    _sql(
        db_url,
        "UPDATE ledger_entries SET seq = -3 WHERE seq = 3",
        "UPDATE ledger_entries SET seq = 3 WHERE seq = 4",
        "UPDATE ledger_entries SET seq = 4 WHERE seq = -3",
    )
    _named(ledger.verify(), Problem.REORDERED, 3)


def test_db_tail_cut_under_a_stored_checkpoint_is_named_truncated(db_url: str, signer: LedgerSigner) -> None:
    """Entries after seq 6 deleted while the checkpoint sealing 5..8 is stored: `truncated` from seq 7."""
    ledger = _filled(db_url, signer)
    _sql(db_url, "DELETE FROM ledger_entries WHERE seq > 6")
    message = _named(ledger.verify(), Problem.TRUNCATED, 7)
    assert "cut after seq 6" in message


def test_db_dropped_middle_checkpoint_is_named_missing(db_url: str, signer: LedgerSigner) -> None:
    """The checkpoint sealing 5..8 deleted: the next one starts at 9 and chains to it: `missing`."""
    ledger = _filled(db_url, signer)
    _sql(db_url, "DELETE FROM ledger_checkpoints WHERE seq_to = 8")
    error = _named(ledger.verify(), Problem.MISSING, None)
    assert "5..8 was dropped" in error


def test_db_alone_says_what_it_cannot_see(db_url: str, signer: LedgerSigner) -> None:
    """A tail cut with its checkpoint leaves a consistent database: verify passes but says it only had the key."""
    ledger = _filled(db_url, signer)
    _sql(db_url, "DELETE FROM ledger_checkpoints WHERE seq_to = 10", "DELETE FROM ledger_entries WHERE seq > 8")
    result = ledger.verify()
    assert result.ok
    assert result.verified_against == (f"the signing key beside the database (key {signer.key_id})",)
    assert any(w.startswith("trust:") for w in result.warnings)


# -- against a head filed earlier ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tamper", "problem", "seq"),
    [
        ("tail_with_checkpoint", Problem.TRUNCATED, 9),
        ("everything", Problem.TRUNCATED, 1),
        ("last_checkpoint", Problem.TRUNCATED, 10),
        ("resign", Problem.REWRITTEN, ENTRIES),
    ],
)
def test_filed_head_names_what_the_database_hides(
    db_url: str, signer: LedgerSigner, tamper: str, problem: Problem, seq: int
) -> None:
    """A head signed before the tampering (as filed with a certificate) names the cut or the rewrite."""
    ledger = _filled(db_url, signer)
    filed = HeadCheck(ledger.signed_head(), "the filed head")
    if tamper == "tail_with_checkpoint":
        _sql(db_url, "DELETE FROM ledger_checkpoints WHERE seq_to = 10", "DELETE FROM ledger_entries WHERE seq > 8")
    elif tamper == "everything":
        _sql(db_url, "DELETE FROM ledger_checkpoints", "DELETE FROM ledger_entries")
    elif tamper == "last_checkpoint":
        _sql(db_url, "DELETE FROM ledger_checkpoints WHERE seq_to = 10")
    else:
        _resign_rewritten(db_url, signer)
        assert ledger.verify().ok  # the re-signed database is consistent on its own
    result = ledger.verify(heads=(filed,))
    message = _named(result, problem, seq)
    assert "the filed head" in message
    assert "the filed head" in result.verified_against


def test_filed_head_key_names_a_ledger_re_signed_with_a_new_key(db_url: str, signer: LedgerSigner) -> None:
    """A new key put beside the database re-signs a rewrite; the key inside the filed head does not match it."""
    ledger = _filled(db_url, signer)
    filed = HeadCheck(ledger.signed_head(), "the filed head")
    forger = LedgerSigner(Ed25519PrivateKey.generate())
    _resign_rewritten(db_url, signer, forger)
    forged = _ledger(db_url, forger)
    assert forged.verify().ok  # consistent against the new key beside it
    message = _named(forged.verify(signer.public_key_pem(), heads=(filed,)), Problem.BAD_SIGNATURE, None)
    assert f"signed by key {forger.key_id}" in message


# -- against the anchors in the evidence bucket ------------------------------------------------------------


@pytest.mark.parametrize(
    ("tamper", "problem"),
    [
        ("tail_with_checkpoint", Problem.TRUNCATED),
        ("everything", Problem.TRUNCATED),
        ("last_checkpoint", Problem.MISSING),
        ("resign", Problem.REWRITTEN),
        ("resign_new_key", Problem.REWRITTEN),
    ],
)
def test_anchors_name_what_the_database_hides(
    db_url: str, signer: LedgerSigner, anchors: BucketAnchors, tamper: str, problem: Problem
) -> None:
    """Every checkpoint was anchored under Object Lock as it was sealed; the database no longer matches them."""
    ledger = _filled(db_url, signer, anchors)
    assert anchors.locked
    assert len(anchors.names("ledger/checkpoints/")) == 3
    assert ledger.verify(anchors=True).ok
    if tamper == "tail_with_checkpoint":
        _sql(db_url, "DELETE FROM ledger_checkpoints WHERE seq_to = 10", "DELETE FROM ledger_entries WHERE seq > 8")
    elif tamper == "everything":
        _sql(db_url, "DELETE FROM ledger_checkpoints", "DELETE FROM ledger_entries")
    elif tamper == "last_checkpoint":
        _sql(db_url, "DELETE FROM ledger_checkpoints WHERE seq_to = 10")
    elif tamper == "resign":
        _resign_rewritten(db_url, signer)
    else:  # a new key, put beside the database in place of the old one
        signer = LedgerSigner(Ed25519PrivateKey.generate())
        _resign_rewritten(db_url, signer, signer)
        ledger = _ledger(db_url, signer, anchors)
    assert ledger.verify().ok  # consistent on its own, against the key beside it
    result = ledger.verify(anchors=True)
    message = _named(result, problem, None)
    assert anchors.description in message
    assert result.verified_against[-1] == f"the anchors in {anchors.description}"


def test_overwritten_anchor_is_named(db_url: str, signer: LedgerSigner, anchors: BucketAnchors) -> None:
    """Writing a new version of an anchor (the oldest cannot be removed) is itself reported as `rewritten`."""
    ledger = _filled(db_url, signer, anchors)
    anchors.put("ledger/checkpoints/000000000004.json", b"{}")
    message = _named(ledger.verify(anchors=True), Problem.REWRITTEN, None)
    assert "overwritten" in message


# -- exports and certificates through the CLI ------------------------------------------------------------


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working directory with a SQLite case database, a filled ledger, its export and public key."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DSR_CONFIG", raising=False)
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    with ledger_database("sqlite", tmp_path) as url:
        monkeypatch.setenv("DSR_DATABASE_URL", url)
        state.config, state._settings = None, None
        try:
            _filled(url, LedgerSigner(load_signing_key(tmp_path / ".dsr" / DEFAULT_KEY_FILENAME)))
            assert runner.invoke(app, ["public-key", "pub.pem"]).exit_code == 0
            assert runner.invoke(app, ["export", "ledger.jsonl"]).exit_code == 0
            yield tmp_path
        finally:
            state.config, state._settings = None, None


def _lines(workdir: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (workdir / "ledger.jsonl").read_text(encoding="ascii").splitlines()]


def _write(workdir: Path, documents: list[dict[str, object]], *, fix_header: bool = True) -> Path:
    if fix_header:
        header, body = documents[0], documents[1:]
        entries = [d for d in body if d["type"] == "entry"]
        header["entries"] = len(entries)
        header["checkpoints"] = sum(1 for d in body if d["type"] == "checkpoint")
        header["head_seq"] = entries[-1]["seq"] if entries else 0
        header["head_hash"] = entries[-1]["entry_hash"] if entries else None
    path = workdir / "tampered.jsonl"
    path.write_text("".join(json.dumps(d, sort_keys=True) + "\n" for d in documents), encoding="ascii")
    return path


def _verify(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["verify", "--public-key", "pub.pem", *args])
    return result.exit_code, result.output


def _seq(document: dict[str, object]) -> int:
    value = document.get("seq", document.get("seq_to"))
    assert isinstance(value, int)
    return value


def test_export_as_written_verifies(workdir: Path) -> None:
    """The untouched export passes and says what it was checked against."""
    code, output = _verify("--export", "ledger.jsonl")
    assert code == 0, output
    assert "verified against:" in output and "signed head" in output


@pytest.mark.parametrize(
    ("tamper", "named"),
    [
        ("edit", "(line 4): modified"),
        ("delete", "entry seq 3 (line 4): missing"),
        ("reorder", "reordered"),
        ("tail_after_checkpoint", "truncated"),
        ("tail_with_checkpoint", "truncated"),
        ("everything", "truncated"),
        ("middle_checkpoint", "missing"),
        ("head_edited", "bad_signature"),
        ("head_removed", "missing"),
    ],
)
def test_tampered_export_exits_1_and_names_it(workdir: Path, tamper: str, named: str) -> None:
    """Each tampering of the export, with the header's counts fixed to match, exits 1 and is named."""
    documents = _lines(workdir)
    header, body = documents[0], documents[1:]
    if tamper == "edit":
        next(d for d in body if d["type"] == "entry" and d["seq"] == 3)["path"] = "/elsewhere"
    elif tamper == "delete":
        body = [d for d in body if not (d["type"] == "entry" and d["seq"] == 3)]
    elif tamper == "reorder":
        i = next(n for n, d in enumerate(body) if d["type"] == "entry" and d["seq"] == 2)
        body[i], body[i + 1] = body[i + 1], body[i]
    elif tamper == "tail_after_checkpoint":  # the checkpoint sealing 9..10 stays
        body = [d for d in body if not (d["type"] == "entry" and _seq(d) > 8)]
    elif tamper == "tail_with_checkpoint":
        body = [d for d in body if _seq(d) <= 8]
    elif tamper == "everything":
        body = []
    elif tamper == "middle_checkpoint":
        body = [d for d in body if not (d["type"] == "checkpoint" and d["seq_to"] == 8)]
    elif tamper == "head_edited":
        body = [d for d in body if _seq(d) <= 8]
        head = header["head"]
        assert isinstance(head, dict)
        head.update(entries=8, last_seq=8, last_hash=body[-2]["entry_hash"])
    else:
        del header["head"]
    code, output = _verify("--export", str(_write(workdir, [header, *body])))
    assert code == 1, output
    assert named in output, output


def _certificate(workdir: Path, signer: LedgerSigner, request_id: str, head_seq: int, head_hash: str) -> Path:
    """A certificate written by the certificate writer, citing its request's ledger entry, signed."""
    seq = int(request_id.rsplit("-", 1)[1])  # sample entry n belongs to request DSR-2026-000n
    base = certificate_input()
    inp = certificate_input(
        request_id=request_id,
        erased=tuple(replace(e, ledger_seq=seq) for e in base.erased),
        verification=tuple(replace(v, ledger_seq=None) for v in base.verification),
        ledger=LedgerCoverage(seq, seq, head_seq=head_seq, head_entry_hash=head_hash),
    )
    _, json_path = build_certificate(
        inp,
        workdir / "certificates",
        sign=lambda document: sign_certificate(
            signer, document, request_id=request_id, head_seq=head_seq, head_hash=head_hash
        ),
    )
    return json_path


def test_certificates_swapped_edited_or_foreign_exit_1(workdir: Path) -> None:
    """A certificate's head must be in the chain and its detached signature must match it."""
    signer = LedgerSigner(load_signing_key(workdir / ".dsr" / DEFAULT_KEY_FILENAME))
    head = json.loads((workdir / "ledger.jsonl").read_text(encoding="ascii").splitlines()[0])["head"]
    own = _certificate(workdir, signer, "DSR-2026-0002", head["last_seq"], head["last_hash"])
    assert own.with_name(own.name + SIGNATURE_SUFFIX).exists()
    assert json.loads(own.read_text())["ledger"]["head_seq"] == ENTRIES
    code, output = _verify("--export", "ledger.jsonl", "--certificate", str(own))
    assert code == 0, output

    other = _certificate(workdir, signer, "DSR-2026-0005", head["last_seq"], head["last_hash"])
    swapped = own.read_bytes()
    own.write_bytes(other.read_bytes())  # another request's certificate under this one's signature
    code, output = _verify("--export", "ledger.jsonl", "--certificate", str(own))
    assert code == 1 and "edited or swapped" in output, output
    own.write_bytes(swapped.replace(b'"items_erased"', b'"items_erased" ', 1))
    code, output = _verify("--export", "ledger.jsonl", "--certificate", str(own))
    assert code == 1 and "bad_signature" in output, output

    foreign = _certificate(workdir, signer, "DSR-2026-0003", 7, "ab" * 32)  # a head this ledger never had
    code, output = _verify("--export", "ledger.jsonl", "--certificate", str(foreign))
    assert code == 1 and "not_in_chain" in output, output

    unsigned = _certificate(workdir, signer, "DSR-2026-0004", head["last_seq"], head["last_hash"])
    os.unlink(unsigned.with_name(unsigned.name + SIGNATURE_SUFFIX))
    code, output = _verify("--export", "ledger.jsonl", "--certificate", str(unsigned))
    assert code == 1 and "no detached signature" in output, output


def test_cli_head_then_resigned_database_exits_1(workdir: Path) -> None:
    """`dsr ledger head` files a signed head; after a rewrite re-signed with the key beside the database,
    `verify` alone passes (and says it only had that key) while `verify --head` exits 1 naming the rewrite."""
    assert runner.invoke(app, ["head", "filed-head.json"]).exit_code == 0
    url = os.environ["DSR_DATABASE_URL"]
    signer = LedgerSigner(load_signing_key(workdir / ".dsr" / DEFAULT_KEY_FILENAME))
    _resign_rewritten(url, signer)
    alone = runner.invoke(app, ["verify"])
    assert alone.exit_code == 0 and "signing key beside the database" in alone.output, alone.output
    result = runner.invoke(app, ["verify", "--head", "filed-head.json"])
    assert result.exit_code == 1 and "rewritten" in result.output, result.output
    assert "the filed head filed-head.json" in result.output
    assert "the public key in filed-head.json" in result.output


def test_head_document_carries_key_and_entry(signer: LedgerSigner, db_url: str) -> None:
    """A filed head names the entry count, last seq and hash, and the key that signed it."""
    ledger = _filled(db_url, signer)
    document = json.loads(head_document(ledger.signed_head(), signer))
    last = list(ledger.entries())[-1]
    assert isinstance(last, LedgerEntry)
    assert (document["entries"], document["last_seq"], document["last_hash"]) == (ENTRIES, ENTRIES, last.entry_hash)
    assert document["key_id"] == signer.key_id and "PUBLIC KEY" in document["public_key"]
