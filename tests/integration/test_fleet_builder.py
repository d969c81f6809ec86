"""The fleet builder itself: strict host keys, complete teardown, stale cleanup."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from relrun.testenv import cmd
from relrun.testenv.netns import cleanup_stale, fleet, missing_requirements

MISSING = missing_requirements()
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(MISSING), reason="needs " + ", ".join(MISSING)),
]


def leftovers(env_id: str) -> str:
    spaces = cmd.run(["ip", "netns", "list"], check=False)
    links = cmd.run(["ip", "-o", "link", "show"], check=False)
    return "\n".join(line for line in (spaces + links).splitlines() if env_id in line)


def test_hosts_answer_over_ssh_and_unknown_host_keys_are_refused(tmp_path: Path) -> None:
    with fleet(1, tmp_path / "fleet", rate=0) as env:
        for host in ("lb-1", "app-1"):
            done = subprocess.run(
                env.ssh_command(host, "cat /proc/net/route | wc -l"),
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
            assert done.returncode == 0, done.stderr
        # Same key, but the known_hosts entry belongs to another host: refused.
        known = env.workdir / "ssh" / "known_hosts"
        lb_line, app_line = known.read_text().splitlines()
        forged = app_line.split()[0] + " " + " ".join(lb_line.split()[1:])
        known.write_text(f"{lb_line}\n{forged}\n")
        done = subprocess.run(
            env.ssh_command("app-1", "true"),
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert done.returncode != 0
        assert "Host key verification failed" in done.stderr
        env_id = env.names.env_id
    assert leftovers(env_id) == ""


def test_cleanup_stale_removes_what_a_killed_run_left(tmp_path: Path) -> None:
    script = (
        "import sys; from pathlib import Path; from relrun.testenv.netns import fleet\n"
        f"with fleet(1, Path({str(tmp_path / 'fleet')!r}), rate=0) as env:\n"
        "    print(env.names.env_id, flush=True); sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as owner:
        assert owner.stdout is not None
        env_id = owner.stdout.readline().strip()
        assert env_id and leftovers(env_id)
        os.kill(owner.pid, signal.SIGKILL)  # no teardown, no atexit: a killed run
        owner.wait()
    assert leftovers(env_id)
    assert env_id in cleanup_stale()
    assert leftovers(env_id) == ""
