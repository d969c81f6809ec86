"""The adversary, kept: signals, kill -9 and environment faults against real drills.

Run: ``uv run python bench/bench_chaos.py [--repeat N] [--only NAME ...]`` (default: every
case once, some 6-10 minutes on a loaded 2-core machine; loopback only). Each case runs
a real ``relrun drill`` (its own private sandbox, steady load) or a ``relrun release``
against a shared sandbox, breaks it at a chosen moment, and checks what an operator
would: the exit code, that no traceback was printed, that the rollback's five steps
passed, that the reports exist, and how many requests were lost. Prints one line per
case and a summary: cases, failures, lost requests.

Cases:
- ``sigint-stage`` / ``sigterm-stage``: the signal during the first stage's bake; expect
  exit 130 after a rollback of five passed steps and 0 lost.
- ``sigint-import``, ``sigint-startup``, ``sigterm-startup``, ``sigint-sandbox-up``: the
  signal 0.2 s, 1 s or 8 s after start (Python importing relrun, the command loading, the
  sandbox starting, depending on the machine's load); expect exit 130, no traceback, no
  process of the case left running.
- ``kill9-stage``: ``kill -9`` of a release during the bake on a shared sandbox; expect the
  dead man's switch to put traffic back on stable within the lease, and ``relrun recover``
  to exit 0 or 1.
- ``readonly-reports``, ``state-dir-is-a-file``, ``no-home``: environment faults; expect an
  exit code of the contract (0, 1, 2) and no traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SLOW = ROOT / "tests" / "data" / "slow.yml"
QUICK = ROOT / "tests" / "data" / "quick.yml"
INVENTORY = ROOT / "inventories" / "sandbox.yml"
CLI = [sys.executable, "-c", "from relrun.cli import main; main()"]


@dataclass
class Outcome:
    """What one case saw."""

    case: str
    exit: int | None
    failures: list[str] = field(default_factory=list)
    lost: int | None = None
    seconds: float = 0.0


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "RELRUN_NON_INTERACTIVE": "1", **extra}


def _wait_for(path: Path, needle: str, proc: subprocess.Popen[str], limit: float) -> bool:
    """Poll a journal until it mentions ``needle`` (the process may die first)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and proc.poll() is None:
        if path.exists() and needle in path.read_text(encoding="utf-8", errors="replace"):
            return True
        time.sleep(0.2)
    return False


def _report(reports: Path) -> dict[str, object]:
    for name in ("drill.json", "release.json"):
        path = reports / name
        if path.exists():
            data = json.loads(path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
    return {}


def _lost(report: dict[str, object]) -> int | None:
    traffic = report.get("traffic")
    lost = traffic.get("lost") if isinstance(traffic, dict) else None
    return lost if isinstance(lost, int) else None


def _steps_passed(report: dict[str, object]) -> bool:
    rollback = report.get("rollback")
    steps = rollback.get("steps") if isinstance(rollback, dict) else None
    return isinstance(steps, list) and [s.get("status") for s in steps] == ["passed"] * 5


def signal_in_stage(sig: signal.Signals) -> Callable[[Path], Outcome]:
    def case(work: Path) -> Outcome:
        reports = work / "reports"
        args = [*CLI, "drill", str(SLOW), "--fault", "none", "--report-dir", str(reports)]
        proc = subprocess.Popen(args, cwd=work, env=_env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out = Outcome(case=f"{sig.name.lower()}-stage", exit=None)
        if not _wait_for(reports / "journal.jsonl", "Canary 10%: analysis", proc, 300):
            out.failures.append("never reached the first stage's analysis")
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=600)
        out.exit = proc.returncode
        report = _report(reports)
        out.lost = _lost(report)
        if proc.returncode != 130:
            out.failures.append(f"exit {proc.returncode}, expected 130")
        if "Traceback" in stdout + stderr:
            out.failures.append("traceback")
        if not _steps_passed(report):
            out.failures.append("the rollback's five steps did not all pass")
        if out.lost:
            out.failures.append(f"{out.lost} requests lost")
        return out

    return case


def _left_running(work: Path) -> list[str]:
    """Processes whose command line names the case's directory (its sandbox, its relrun)."""
    left: list[str] = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(work) in cmdline:
            left.append(f"{proc.name} {cmdline[:80]}")
    return left


def signal_at_startup(sig: signal.Signals, delay: float) -> Callable[[Path], Outcome]:
    def case(work: Path) -> Outcome:
        reports = work / "reports"
        args = [*CLI, "drill", str(QUICK), "--report-dir", str(reports)]
        proc = subprocess.Popen(args, cwd=work, env=_env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)  # the moment is the point of the case, not a synchronisation
        proc.send_signal(sig)
        stdout, stderr = proc.communicate(timeout=600)
        name = f"{sig.name.lower()}-startup-{delay:g}s"
        out = Outcome(case=name, exit=proc.returncode, lost=_lost(_report(reports)))
        if proc.returncode != 130:
            out.failures.append(f"exit {proc.returncode}, expected 130")
        if "Traceback" in stdout + stderr:
            out.failures.append("traceback")
        left = _left_running(work)
        if left:
            out.failures.append(f"left running: {'; '.join(left)}")
        return out

    return case


def kill9_in_stage(work: Path) -> Outcome:
    state = work / "sandbox"
    env = _env(RELRUN_SANDBOX_DIR=str(state), RELRUN_STATE_DIR=str(work / "state"))
    out = Outcome(case="kill9-stage", exit=None)
    subprocess.run([*CLI, "sandbox", "up", "--state-dir", str(state)], env=env, check=True,
                   capture_output=True, timeout=120)
    try:
        reports = work / "reports"
        proc = subprocess.Popen(
            [*CLI, "release", str(SLOW), "-i", str(INVENTORY), "--report-dir", str(reports)],
            cwd=work, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        if not _wait_for(reports / "journal.jsonl", "Canary 10%: analysis", proc, 300):
            out.failures.append("never reached the first stage's analysis")
        proc.kill()
        proc.communicate(timeout=60)
        out.exit = proc.returncode
        lease = state / "relrun-deadman-api.json"
        deadline = time.monotonic() + 60  # the lease is 5 s; the watcher polls
        reverted = False
        while time.monotonic() < deadline and not reverted:
            data = json.loads(lease.read_text()) if lease.exists() else {}
            reverted = data.get("state") == "fired" and bool(data.get("reverted_at"))
            time.sleep(0.5)
        if not reverted:
            out.failures.append("the dead man's switch did not revert within 60 s")
        recover = subprocess.run([*CLI, "recover", "-i", str(INVENTORY)], cwd=work, env=env,
                                 capture_output=True, text=True, timeout=600, check=False)
        if recover.returncode not in (0, 1) or "Traceback" in recover.stderr:
            out.failures.append(f"recover exit {recover.returncode}")
    finally:
        subprocess.run([*CLI, "sandbox", "down", "--state-dir", str(state)], env=env,
                       capture_output=True, timeout=120, check=False)
    return out


def environment_fault(
    name: str, setup: Callable[[Path], dict[str, str]]
) -> Callable[[Path], Outcome]:
    def case(work: Path) -> Outcome:
        env = setup(work)
        reports = work / "reports"
        proc = subprocess.run([*CLI, "drill", str(QUICK), "--report-dir", str(reports)],
                              cwd=work, env=env, capture_output=True, text=True,
                              timeout=600, check=False)
        out = Outcome(case=name, exit=proc.returncode, lost=_lost(_report(reports)))
        if proc.returncode not in (0, 1, 2):
            out.failures.append(f"exit {proc.returncode}")
        if "Traceback" in proc.stdout + proc.stderr:
            out.failures.append("traceback")
        return out

    return case


def _readonly_reports(work: Path) -> dict[str, str]:
    (work / "reports").mkdir()
    (work / "reports").chmod(0o500)
    return _env()


def _state_dir_is_a_file(work: Path) -> dict[str, str]:
    (work / "state").write_text("not a directory\n", encoding="utf-8")
    return _env(RELRUN_STATE_DIR=str(work / "state"))


def _no_home(work: Path) -> dict[str, str]:
    env = _env()
    env.pop("HOME", None)
    env.pop("XDG_STATE_HOME", None)
    return env


CASES: dict[str, Callable[[Path], Outcome]] = {
    "sigint-stage": signal_in_stage(signal.SIGINT),
    "sigterm-stage": signal_in_stage(signal.SIGTERM),
    # While Python imports relrun (0.2 s), while the CLI loads, as the sandbox starts.
    "sigint-import": signal_at_startup(signal.SIGINT, 0.2),
    "sigint-startup": signal_at_startup(signal.SIGINT, 1.0),
    "sigterm-startup": signal_at_startup(signal.SIGTERM, 1.0),
    "sigint-sandbox-up": signal_at_startup(signal.SIGINT, 8.0),
    "kill9-stage": kill9_in_stage,
    "readonly-reports": environment_fault("readonly-reports", _readonly_reports),
    "state-dir-is-a-file": environment_fault("state-dir-is-a-file", _state_dir_is_a_file),
    "no-home": environment_fault("no-home", _no_home),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="Runs of each case.")
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), help="Just these cases.")
    args = parser.parse_args()
    names = args.only or list(CASES)
    outcomes: list[Outcome] = []
    for name in names:
        for run in range(args.repeat):
            with tempfile.TemporaryDirectory(prefix=f"relrun-chaos-{name}-") as tmp:
                started = time.monotonic()
                try:
                    outcome = CASES[name](Path(tmp))
                except Exception as err:  # a broken case is a failure to report, not a crash
                    why = f"{type(err).__name__}: {err}"
                    outcome = Outcome(case=name, exit=None, failures=[why])
                finally:
                    if Path(tmp, "reports").exists():
                        Path(tmp, "reports").chmod(0o700)  # so the directory can go
                outcome.seconds = time.monotonic() - started
            outcomes.append(outcome)
            verdict = "ok" if not outcome.failures else "FAIL: " + "; ".join(outcome.failures)
            print(f"{name} #{run + 1}: exit {outcome.exit} lost {outcome.lost} "
                  f"{outcome.seconds:.1f}s {verdict}", flush=True)
    failed = [o for o in outcomes if o.failures]
    lost = sum(o.lost or 0 for o in outcomes)
    print(f"cases: {len(outcomes)}  failures: {len(failed)}  lost requests: {lost}")


if __name__ == "__main__":
    main()
