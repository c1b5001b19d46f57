"""How fast this machine runs Python: one fixed workload, so that results measured on different machines can be
compared (the sessions that measure these benchmarks do not all run on the same machine).

`python_reference_s` is the best of three runs of a fixed, single-threaded workload that looks like the
assembly's own work: JSON decoded and encoded, strings searched with regular expressions, a dict filled, with
nothing read from disk. It took 0.68-0.78 s in the benchmark runs on the first machine it was measured on (1.17 s
while a test run shared that machine). Divide two results' times by their `python_reference_s` before comparing
them.
"""

from __future__ import annotations

import json
import re
import time

_TEXT = re.compile(r"(?<![\w@.])(?:Lindqvist|Keller|Ovregard)(?![\w@])|\+?\d{4}[\s-]?\d{3}", re.IGNORECASE)
_RECORD = {
    "type": "user",
    "message": {"role": "user", "content": "Please send the Q3 numbers to Bruno Keller, +44 7700 900123, by Friday."},
    "timestamp": "2026-01-06T13:37:34.506Z",
    "tools": [{"name": "read", "input": {"path": "notes/q3.md", "lines": [1, 2, 3]}}],
}


def _workload() -> int:
    found = 0
    seen: dict[str, int] = {}
    text = json.dumps(_RECORD)
    for n in range(20_000):
        record = json.loads(text)
        record["n"] = n
        encoded = json.dumps(record)
        found += len(_TEXT.findall(encoded))
        seen[encoded[-12:]] = n
    return found + len(seen)


def python_reference_s(runs: int = 3) -> float:
    """Seconds (best of `runs`) this machine takes for the fixed workload."""
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        _workload()
        best = min(best, time.perf_counter() - started)
    return round(best, 3)


if __name__ == "__main__":
    print(python_reference_s())
