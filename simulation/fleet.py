"""The simulated fleet: N laptop trees, truth.json (every planted location) and a ready dsr.toml.

Owns the fleet plan (OS mix, owners, where subjects and traps go) and the truth/config files. Deterministic
for a seed: no wall clock, no randomness besides `random.Random` seeded from `seed`.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from models.errors import InputError
from simulation.agents import AgentPlant, write_agent_stores
from simulation.builders import (
    bulk_session as _bulk_session,
)
from simulation.builders import (
    code_tab_and_cli,
    cowork_session,
    logs_and_residue,
    org_files,
    service_log,
    trap_note,
)
from simulation.identity import DEFAULT_SUBJECTS, THIRD_PARTIES, Subject, subject_forms, subject_traps
from simulation.laptop import DAY_MS, REF_MS, REFERENCE_DATE, STORE_FAMILY, Account, Laptop, OSUser
from simulation.noise import build_pool
from simulation.register import EXAMPLE_REGISTER
from simulation.tree import AUDIT_GENESIS, Planter, new_uuid

GENERATOR = "dsr-fleet-simulator"
TRUTH_FORMAT = 1
MB = 1024 * 1024
_ENDPOINT_RE = re.compile(r"^laptop-\d{2,}$")
_OS_PLAN = (("macos", "macos"), ("windows", "windows"), ("linux", "linux"), ("windows", "windows-store"))
_STAFF = (
    ("ana", "Ana Sousa", "ana.sousa@corp.example"),
    ("tkaur", "Tara Kaur", "tara.kaur@corp.example"),
    ("mlopez", "Marco López", "marco.lopez@corp.example"),
    ("hnguyen", "Hoa Nguyen", "hoa.nguyen@corp.example"),
    ("pwalsh", "Pat Walsh", "pat.walsh@corp.example"),
    ("lkim", "Lena Kim", "lena.kim@corp.example"),
    ("rpatel", "Raj Patel", "raj.patel@corp.example"),
    ("dmeyer", "Dana Meyer", "dana.meyer@corp.example"),
)
_OWNER_USER = "za"  # the first subject's home directory name: neutral, so paths never carry her identifiers


@dataclass(frozen=True)
class FleetTruth:
    """Summary of a written fleet; the full truth is in `truth_path`.

    Attributes:
        out: The fleet directory.
        truth_path: `out/truth.json`.
        config_path: `out/dsr.toml`.
        endpoints: Endpoint names in order.
        locations: Number of planted subject locations listed in truth.json.
        traps: Number of trap locations.
        sessions: Number of sessions listed.
        bytes_written: Bytes of all laptop files (a hard-linked file counted once).
    """

    out: Path
    truth_path: Path
    config_path: Path
    endpoints: tuple[str, ...]
    locations: int
    traps: int
    sessions: int
    bytes_written: int


def is_previous_simulation(out: Path) -> bool:
    """Whether `out` holds a truth.json written by this simulator."""
    truth = out / "truth.json"
    if not truth.is_file():
        return False
    try:
        data = json.loads(truth.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get("generator") == GENERATOR


def prepare_output(out: Path) -> None:
    """Create `out`, or clear a previous simulation in it; refuse any other non-empty directory.

    Raises:
        InputError: `out` is a file, or a non-empty directory that holds no previous simulation.
    """
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} exists and is not a directory; choose a new directory for the fleet", path=str(out))
    if out.is_dir() and any(out.iterdir()):
        if not is_previous_simulation(out):
            raise InputError(
                f"{out} is not empty and holds no previous simulation (no truth.json from {GENERATOR}); "
                "choose an empty or new directory (or one written by `dsr fleet simulate`)",
                path=str(out),
            )
        old = json.loads((out / "truth.json").read_text(encoding="utf-8"))
        for endpoint in old.get("endpoints", []):
            name = str(endpoint.get("name", ""))
            if _ENDPOINT_RE.match(name) and (out / name).is_dir():
                shutil.rmtree(out / name)
        for leftover in ("truth.json", "dsr.toml"):
            (out / leftover).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)


def _user_layout(os_name: str, variant: str, user: str) -> tuple[str, list[str]]:
    if os_name == "macos":
        home = f"/Users/{user}"
        return home, [f"{home}/Library/Application Support/Claude"]
    if os_name == "linux":
        home = f"/home/{user}"
        return home, [f"{home}/.config/Claude"]
    home = f"/C:/Users/{user}"
    roaming = f"{home}/AppData/Roaming/Claude"
    if variant == "windows-store":
        store = f"{home}/AppData/Local/Packages/{STORE_FAMILY}/LocalCache/Roaming/Claude"
        return home, [store, roaming]  # active Store tree first, then the stale Roaming copy
    return home, [roaming]


def _staff_account(index: int, rng: random.Random) -> tuple[str, Account]:
    user, name, email = _STAFF[index % len(_STAFF)]
    round_ = index // len(_STAFF)
    if round_:
        user, email = f"{user}{round_}", email.replace("@", f"{round_}@")
    return user, Account(email=email, name=name, uuid=new_uuid(rng), subject=None)


def _build_laptop(
    lap: Laptop, index: int, total: int, target: int, owner: Account | None, visitor: Account | None
) -> None:
    rng = lap.rng
    accounts: list[tuple[str, Account]] = []
    if owner is not None:
        accounts.append((_OWNER_USER, owner))
    else:
        accounts.append(_staff_account(index * 2, rng))
    if index % 3 == 1:
        accounts.append(_staff_account(index * 2 + 1, rng))
    for user_index, (user_name, account) in enumerate(accounts):
        home, roots = _user_layout(lap.os, lap.variant, user_name)
        user = OSUser(
            user_name,
            lap.os,
            home,
            roots,
            account,
            (new_uuid(rng), new_uuid(rng)),
            REF_MS - int(rng.uniform(1, 40) * DAY_MS),
        )
        lap.users.append(user)
        root = roots[0]
        org = user.org
        cowork_session(
            lap, user, root, account=account, org=org, variant="full", legacy_audit=index == 0 and user_index == 0
        )
        cowork_session(lap, user, root, account=account, org=org, variant="full", max_age=120)
        cowork_session(lap, user, root, account=account, org=org, variant="resumed")
        cowork_session(lap, user, root, account=account, org=org, variant="agent")
        cowork_session(lap, user, root, account=account, org=org, variant="failed")
        if index == total - 1 and user_index == 0:
            if len(lap.subjects) > 1:  # the trap session mentions only the other subjects
                cowork_session(lap, user, root, account=account, org=org, variant="trap")
            trap_note(lap, root, org, user.active_ms)
        if user_index == 0 and visitor is not None:
            # the first subject signed in on someone else's laptop: her own account directory
            cowork_session(lap, user, root, account=visitor, org=(new_uuid(rng), org[1]), variant="full")
        ids = [
            str(s["session_id"])
            for s in lap.sessions
            if s["root"] == root and s["os_user"] == user_name and s["app"] == "cowork"
        ]
        org_files(lap, user, root, account=account, org=org, sessions=ids, mtime=user.active_ms)
        code_tab_and_cli(lap, user, root, account=account, org=org)
        logs_and_residue(lap, user, root, account=account, mtime=user.active_ms)
        if len(roots) > 1:
            stale = roots[1]
            cowork_session(lap, user, stale, account=account, org=org, variant="full", min_age=400, max_age=3 * 365)
            old = [str(s["session_id"]) for s in lap.sessions if s["root"] == stale]
            org_files(lap, user, stale, account=account, org=org, sessions=old, mtime=REF_MS - 400 * DAY_MS)
    if lap.os == "windows":
        service_log(lap, lap.users, max(u.active_ms for u in lap.users))
    turn = 0
    while lap.bytes_written < target:
        user = lap.users[turn % len(lap.users)]
        turn += 1
        chunk = min(target - lap.bytes_written, int(rng.uniform(0.25, 2.5) * MB))
        _bulk_session(lap, user, user.roots[0], account=user.account, org=user.org, target=max(chunk, 16_384))
    lap.finish()


def _agent_stores(lap: Laptop, subject: Subject) -> None:
    """The other agents' stores in the first OS user's home, with their truth (see `simulate_fleet`)."""
    party = lap.party()
    trap = subject_traps(subject)[0]  # `email_extra_digit`: never contains the address itself
    plant = AgentPlant(subject.emails[0], subject.name, party.email, party.name, trap.literal)
    before = {p for p in lap.base.rglob("*") if p.is_file()}
    found = write_agent_stores(lap.base, lap.users[0].home, lap.os, plant)
    ns = REF_MS * 1_000_000
    for path in lap.base.rglob("*"):
        if path.is_file() and path not in before:
            os.utime(path, ns=(ns, ns))
            lap.bytes_written += path.stat().st_size
    for entry in found.subject:
        lap.locations.append(
            {
                "subject": subject.key,
                "endpoint": lap.name,
                "path": entry["path"],
                "line": entry.get("line"),
                "record": entry.get("record"),
                "kind": "agent_store",
                "form": "agent_store",
                "literal": subject.emails[0],
                "session_id": None,
                "in_agent_store": True,
                "app": entry["app"],
            }
        )
    for entry in found.traps:
        lap.trap_locations.append(
            {
                "subject": subject.key,
                "endpoint": lap.name,
                "path": entry["path"],
                "line": entry["line"],
                "kind": "agent_store",
                "form": trap.form,
                "literal": trap.literal,
                "session_id": None,
            }
        )


def _session_paths(lap: Laptop) -> None:
    by_id: dict[str, list[str]] = {}
    for path, sim in lap.files.items():
        if sim.session_id is not None:
            by_id.setdefault(sim.session_id, []).append(path)
    for session in lap.sessions:
        cli_ids = session["cli_session_ids"]
        ids = {str(session["session_id"]), *(str(c) for c in cli_ids)} if isinstance(cli_ids, list) else set()
        paths = sorted({p for sid in ids for p in by_id.get(sid, [])})
        session["paths"] = paths


def _toml_str(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def render_config(out: Path, laptops: Sequence[dict[str, object]], *, seed: int, extra_toml: str = "") -> str:
    """The dsr.toml for a fleet: controller, database under `out/.dsr`, one `[[endpoints]]` per laptop, and the
    complete example register (`simulation.register`) unless `extra_toml` brings its own `[register]`."""
    base = out.resolve()
    lines = [
        f"# Written by `dsr fleet simulate` (seed {seed}). Synthetic data only.",
        "[controller]",
        'name = "Example Corp Ltd"',
        'contact = "privacy@corp.example"',
        'timezone = "Europe/London"',
        'calendar = "GB-ENG"',
        'region = "GB"',
        "",
        "[controller.authority]",
        'name = "Information Commissioner\'s Office (ICO)"',
        'contact = "https://ico.org.uk/make-a-complaint/"',
        "",
        "[database]",
        f"url = {_toml_str('sqlite:///' + str(base / '.dsr' / 'dsr.db'))}",
    ]
    for laptop in laptops:
        lines += [
            "",
            "[[endpoints]]",
            f"name = {_toml_str(str(laptop['name']))}",
            f"url = {_toml_str((base / str(laptop['name'])).as_uri())}",
            f"os = {_toml_str(str(laptop['os']))}",
        ]
        if laptop.get("owner"):
            lines.append(f"owner = {_toml_str(str(laptop['owner']))}")
    text = "\n".join(lines) + "\n"
    if "[register" not in extra_toml:
        text += "\n" + EXAMPLE_REGISTER
    if extra_toml:
        text += "\n" + extra_toml.rstrip("\n") + "\n"
    return text


#: The largest simulated laptop, in MiB.
MAX_SIZE_MB = 4096


def simulate_fleet(
    out: Path,
    *,
    endpoints: int,
    size_mb: float = 1.0,
    seed: int = 0,
    subjects: Sequence[Subject] = DEFAULT_SUBJECTS,
    progress: Callable[[int, int], None] | None = None,
    extra_toml: str = "",
    agents: bool = False,
    agent_session_dirs: bool = False,
) -> FleetTruth:
    """Write `endpoints` laptop trees under `out`, plus `out/truth.json` and `out/dsr.toml`.

    Each tree `out/<laptop-NN>/` stands for the laptop's `/`. Laptops rotate macOS, Windows (Roaming),
    Linux and Windows Store (with a stale Roaming copy); every third laptop has two OS users. The first subject
    owns laptop-01 and one session on laptop-02. Filler is added until each laptop holds about `size_mb` MB
    (never less than its fixed planted structure, roughly 0.3 MB per OS user).

    Args:
        out: Target directory: new, empty, or holding a previous simulation (which is replaced).
        endpoints: Number of laptops (at least 1).
        size_mb: Approximate size per laptop in MiB.
        seed: Seed of every random choice; the same seed gives byte-identical trees and mtimes.
        subjects: Data subjects to plant (the first gets the traps and owns laptop-01).
        progress: Called with (laptops done, total).
        extra_toml: Appended verbatim to dsr.toml (for example a `[register]` section).
        agents: Also write the stores of every other covered agent (Codex, Gemini CLI, Cursor, Copilot,
            Cline, Aider, Continue, Zed, OpenCode, Windsurf, ChatGPT desktop) in the first OS user's home of
            each laptop, with the first subject, a third party and a trap planted; their truth locations
            carry `app` and, for database rows, `record` with `line` null.
        agent_session_dirs: Give every Cowork session of the `agent` kind its own folder beside its record
            under `agent/` (`agent/local_<id>/audit.jsonl`, `.audit-key`, a transcript under `.claude/` and an
            output), as newer builds write, besides its dispatch generations.

    Returns:
        A summary; the full truth is in `out/truth.json`.

    Raises:
        InputError: Bad counts, or `out` is a non-empty directory without a previous simulation.
    """
    if endpoints < 1 or endpoints > 999:
        raise InputError("endpoints must be between 1 and 999", value=endpoints)
    if not 0 <= size_mb <= MAX_SIZE_MB:  # also refuses nan
        raise InputError(f"size_mb must be a number from 0 to {MAX_SIZE_MB}", value=size_mb)
    if not subjects:
        raise InputError("at least one subject is needed")
    prepare_output(out)
    pool = build_pool(random.Random(f"{seed}:noise"))  # noqa: S311 - reproducible synthetic data, not crypto
    planter = Planter({s.key: subject_forms(s) for s in subjects})
    first = subjects[0]
    first_account = Account(first.emails[0], first.name, first.account_uuid, first)
    target = int(size_mb * MB)
    laptops: list[dict[str, object]] = []
    locations: list[dict[str, object]] = []
    traps: list[dict[str, object]] = []
    sessions: list[dict[str, object]] = []
    hardlinks: list[dict[str, object]] = []
    audit_keys: dict[str, str] = {}
    unsigned: list[str] = []
    total_bytes = 0
    if progress is not None:
        progress(0, endpoints)
    for index in range(endpoints):
        name = f"laptop-{index + 1:02d}"
        os_name, variant = _OS_PLAN[index % len(_OS_PLAN)]
        lap = Laptop(
            name=name,
            os=os_name,
            variant=variant,
            base=out / name,
            rng=random.Random(f"{seed}:{name}"),  # noqa: S311 - reproducible synthetic data
            pool=pool,
            planter=planter,
            subjects=subjects,
            agent_dirs=agent_session_dirs,
        )
        owner = first_account if index == 0 else None
        visitor = first_account if index == 1 else None
        _build_laptop(lap, index, endpoints, target, owner, visitor)
        _session_paths(lap)
        if agents:
            _agent_stores(lap, first)
        configured_owner = lap.users[0].account.email if index % 2 == 0 else None
        laptops.append(
            {
                "name": name,
                "os": os_name,
                "variant": variant,
                "users": [u.name for u in lap.users],
                "owner": configured_owner,
                "owner_subject": lap.users[0].account.subject.key if lap.users[0].account.subject else None,
                "accounts": {u.name: u.account.email for u in lap.users},
                "roots": sorted({r for u in lap.users for r in u.roots}),
                "bytes": lap.bytes_written,
            }
        )
        locations += lap.locations
        traps += lap.trap_locations
        sessions += lap.sessions
        hardlinks += lap.hardlinks
        audit_keys.update(lap.audit_keys)
        unsigned += lap.unsigned_audit_logs
        total_bytes += lap.bytes_written
        if progress is not None:
            progress(index + 1, endpoints)
    locations.sort(
        key=lambda x: (
            str(x["endpoint"]), str(x["path"]), int(str(x["line"] or 0)), str(x.get("record") or ""),
            str(x["subject"]), str(x["form"]),
        )
    )  # fmt: skip
    traps.sort(key=lambda x: (str(x["endpoint"]), str(x["path"]), int(str(x["line"])), str(x["form"])))
    truth = {
        "generator": GENERATOR,
        "format": TRUTH_FORMAT,
        "seed": seed,
        "size_mb": size_mb,
        "reference_date": REFERENCE_DATE.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "line_rule": "1-based number of the raw line (file split on b'\\n') containing the literal",
        "path_rule": "path as the laptop sees it: '/' + path relative to the endpoint directory; the "
        "directory named 'C:' stands for the Windows drive",
        "audit_chain": {
            "algorithm": "HMAC-SHA256",
            "mac": "_audit_hmac = hex(HMAC-SHA256(key, prev_hmac.encode('ascii') + body.encode('utf-8')))",
            "body": "json.dumps(line_object_without__audit_hmac, separators=(',', ':'), ensure_ascii=False) "
            "with keys in file order",
            "genesis": AUDIT_GENESIS,
            "key_encoding": "audit_keys values are the raw 32-byte keys in hex; never stored in the trees",
            "unsigned_logs": sorted(unsigned),
        },
        "subjects": [
            {
                "key": s.key,
                "name": s.name,
                "emails": list(s.emails),
                "phones": list(s.phones),
                "user_ids": [*s.user_ids, s.account_uuid],
                "account_uuid": s.account_uuid,
                "owner_of": [str(lp["name"]) for lp in laptops if lp["owner_subject"] == s.key],
                "forms": [
                    {"type": typ, "form": f.form, "literal": f.literal}
                    for typ, fs in subject_forms(s).items()
                    for f in fs
                ],
                "trap_forms": (
                    [{"form": t.form, "literal": t.literal} for t in subject_traps(s)] if s is first else []
                ),
            }
            for s in subjects
        ],
        "third_parties": [
            {"name": p.name, "email": p.email, "phone": p.phone, "iban": p.iban, "card": p.card, "ip": p.ip}
            for p in THIRD_PARTIES
        ],
        "endpoints": laptops,
        "locations": locations,
        "traps": traps,
        "sessions": sessions,
        "hardlinks": hardlinks,
        "audit_keys": dict(sorted(audit_keys.items())),
    }
    truth_path = out / "truth.json"
    truth_path.write_text(json.dumps(truth, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    config_path = out / "dsr.toml"
    config_path.write_text(render_config(out, laptops, seed=seed, extra_toml=extra_toml), encoding="utf-8")
    ref_ns = REF_MS * 1_000_000
    for written in (truth_path, config_path):
        os.utime(written, ns=(ref_ns, ref_ns))
    return FleetTruth(
        out=out,
        truth_path=truth_path,
        config_path=config_path,
        endpoints=tuple(str(lp["name"]) for lp in laptops),
        locations=len(locations),
        traps=len(traps),
        sessions=len(sessions),
        bytes_written=total_bytes,
    )
