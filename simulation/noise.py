"""Template-built filler text (work chatter, code, tool output) for simulated histories.

Owns the filler vocabulary only. It must never emit a data subject's identifier: its words are fixed here and
checked by the simulator's tests; third parties appear through `identity.THIRD_PARTIES` only.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from simulation.identity import THIRD_PARTIES

_SERVICES = ("billing-api", "ingest-worker", "search-indexer", "auth-gateway", "report-builder", "etl-nightly")
_THINGS = ("migration", "cache warm-up", "retry policy", "CSV export", "dashboard", "rate limiter", "cron job")
_BRANCHES = ("main", "release/4.2", "feature/invoice-pdf", "fix/timezone-drift", "chore/deps")
_VERBS = ("refactor", "review", "summarise", "debug", "document", "profile", "rename", "split")
_FILES = (
    "app/models.py",
    "app/views.py",
    "etl/load.py",
    "tests/test_api.py",
    "infra/main.tf",
    "README.md",
    "src/report.ts",
    "scripts/backfill.sh",
    "docs/runbook.md",
    "app/tasks.py",
)
_WORDS = (
    "quarterly",
    "forecast",
    "pipeline",
    "latency",
    "budget",
    "vendor",
    "contract",
    "renewal",
    "backlog",
    "incident",
    "rollout",
    "onboarding",
    "escalation",
    "invoice",
    "reconciliation",
    "headcount",
    "roadmap",
    "deadline",
    "workshop",
    "procurement",
    "audit",
    "capacity",
    "deployment",
    "schema",
    "retention",
)
_CHATTER = (
    "Can you {verb} the {thing} in {file}? It broke on {branch} after the last deploy.",
    "{first} asked for a short summary of the {word} discussion before Thursday.",
    "Please draft a reply to {first} about the {word} {word2}; keep it under five sentences.",
    "Why is {service} slower since Monday? p95 went from {n}ms to {m}ms.",
    "Compare the two {word} spreadsheets and list the rows that differ.",
    "Write a checklist for the {word} {word2} and share it with {first} ({email}).",
    "The {thing} keeps timing out on {service}; logs attached. What changed?",
    "Turn these meeting notes into action items with owners and dates.",
)
_ANSWERS = (
    "I looked at {file}. The {thing} retries without backoff, so under load {service} saturates the pool. "
    "I suggest an exponential backoff with jitter and a cap of {n} attempts.",
    "Here is a summary of the {word} thread: the {word2} is on track, the open risk is the {thing}, and {first} "
    "owns the follow-up.",
    "Done. I updated {file} and ran the tests: {n} passed, 0 failed. The change is on {branch}.",
    "The difference comes from the timezone handling in the {thing}: rows after 23:00 UTC land on the next day.",
)
_CODE = (
    "def {fn}(rows: list[dict[str, str]]) -> dict[str, int]:\n"
    '    """Count {word} rows per status."""\n'
    "    counts: dict[str, int] = {{}}\n"
    "    for row in rows:\n"
    '        counts[row["status"]] = counts.get(row["status"], 0) + 1\n'
    "    return counts\n",
    "export async function {fn}(id: string): Promise<Report> {{\n"
    "  const res = await fetch(`/api/{word}/${{id}}`);\n"
    "  if (!res.ok) throw new Error(`{word} ${{res.status}}`);\n"
    "  return (await res.json()) as Report;\n"
    "}}\n",
    'resource "aws_s3_bucket" "{fn}" {{\n  bucket = "corp-{word}-{n}"\n  tags = {{ team = "{word2}" }}\n}}\n',
    "SELECT account_id, SUM(amount) AS total\nFROM {word}_ledger\nWHERE booked_at >= DATE '2025-01-01'\n"
    "GROUP BY account_id\nORDER BY total DESC\nLIMIT {n};\n",
)


@dataclass(frozen=True)
class NoisePool:
    """Pre-built filler pieces; picking from a pool keeps 300 MB of generation in seconds."""

    prompts: tuple[str, ...]
    answers: tuple[str, ...]
    outputs: tuple[str, ...]
    commands: tuple[str, ...]
    titles: tuple[str, ...]


def _fill(rng: random.Random, template: str) -> str:
    party = rng.choice(THIRD_PARTIES)
    return template.format(
        verb=rng.choice(_VERBS),
        thing=rng.choice(_THINGS),
        file=rng.choice(_FILES),
        branch=rng.choice(_BRANCHES),
        first=party.name.split(" ")[0],
        email=party.email,
        word=rng.choice(_WORDS),
        word2=rng.choice(_WORDS),
        service=rng.choice(_SERVICES),
        n=rng.randint(3, 900),
        m=rng.randint(901, 4000),
        fn=f"{rng.choice(_VERBS)}_{rng.choice(_WORDS)}",
    )


def _tool_output(rng: random.Random) -> str:
    style = rng.randrange(5)
    lines: list[str] = []
    count = rng.randint(8, 90)
    if style == 0:
        for i in range(count):
            lines.append(f"tests/test_{rng.choice(_WORDS)}.py::test_{rng.choice(_VERBS)}_{i} PASSED")
        lines.append(f"==== {count} passed in {rng.randint(1, 60)}.{rng.randint(10, 99)}s ====")
    elif style == 1:
        for _ in range(count):
            sha = f"{rng.getrandbits(28):07x}"
            lines.append(f"{sha} {rng.choice(_VERBS)} {rng.choice(_THINGS)} in {rng.choice(_FILES)}")
    elif style == 2:
        for _ in range(count):
            size = rng.randint(100, 999999)
            lines.append(
                f"-rw-r--r--  1 staff  {size:>8} Mar {rng.randint(1, 28):>2} 10:{rng.randint(10, 59)} "
                f"{rng.choice(_WORDS)}_{rng.randint(1, 99)}.csv"
            )
    elif style == 3:
        for _ in range(count):
            lines.append(
                f"{rng.choice(_FILES)}:{rng.randint(1, 800)}:    {rng.choice(_WORDS)} = "
                f"load_{rng.choice(_WORDS)}()  # {rng.choice(_THINGS)}"
            )
    else:
        lines.append("name,email,phone,iban,amount")
        for _ in range(count):
            p = rng.choice(THIRD_PARTIES)
            lines.append(f"{p.name},{p.email},{p.phone},{p.iban},{rng.randint(10, 99999)}.{rng.randint(10, 99)}")
    return "\n".join(lines)


def build_pool(rng: random.Random, size: int = 160) -> NoisePool:
    """Build a deterministic pool of filler pieces from `rng`."""
    prompts = tuple(_fill(rng, rng.choice(_CHATTER)) for _ in range(size))
    answers = tuple(
        _fill(rng, rng.choice(_ANSWERS)) + "\n\n```\n" + _fill(rng, rng.choice(_CODE)) + "```" for _ in range(size)
    )
    outputs = tuple(_tool_output(rng) for _ in range(size))
    commands = tuple(
        rng.choice(
            (
                f"pytest -q tests/test_{rng.choice(_WORDS)}.py",
                f"git log --oneline -n {rng.randint(5, 80)}",
                f"ls -la data/{rng.choice(_WORDS)}",
                f"grep -rn {rng.choice(_WORDS)} app/",
                f"python scripts/{rng.choice(_VERBS)}_{rng.choice(_WORDS)}.py --dry-run",
            )
        )
        for _ in range(size)
    )
    titles = tuple(f"{rng.choice(_VERBS).capitalize()} {rng.choice(_WORDS)} {rng.choice(_THINGS)}" for _ in range(size))
    return NoisePool(prompts, answers, outputs, commands, titles)
