"""A signal while relrun starts, or outside any run loop, exits 130 without a traceback.

``bench/bench_chaos.py`` (issue 14, item 9) caught a SIGINT during start-up ending in a
``KeyboardInterrupt`` traceback: importing the commands takes seconds on a loaded machine,
and SIGTERM there ended relrun with a bare 143. Each test delivers its signal at a chosen
moment from inside the real ``relrun`` process (an import hook, a wrapped function), so
the moment is exact on any machine and no sleep is involved.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers import ROOT

FLAGSHIP = ROOT / "runbooks" / "release-v2.yml"

# Sends the signal when relrun.cli imports its commands: the middle of start-up.
DURING_IMPORT = """
import importlib.abc, os, signal, sys

class SignalOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "relrun.cli.commands":
            os.kill(os.getpid(), signal.{sig})
        return None

sys.meta_path.insert(0, SignalOnImport())
from relrun.cli import main
main()
"""

# Sends the signal as the command starts loading its runbook: after start-up, before any
# run loop or deferred section.
DURING_COMMAND = """
import os, signal
import relrun.runbook.loader as loader

real = loader.load_runbook

def load_runbook(*args, **kwargs):
    os.kill(os.getpid(), signal.{sig})
    return real(*args, **kwargs)

loader.load_runbook = load_runbook
from relrun.cli import main
main()
"""


def run_relrun(script: str, sig: signal.Signals, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script).format(sig=sig.name), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_relrun_starts_exits_130_and_does_nothing(sig: signal.Signals) -> None:
    done = run_relrun(DURING_IMPORT, sig, "validate", str(FLAGSHIP))
    assert "Traceback" not in done.stderr
    assert done.returncode == 130, done.stderr
    assert done.stderr == (
        f"relrun: interrupted (signal {int(sig)} while starting): nothing was done\n"
    )
    assert done.stdout == "", "the command did not run"


def test_sigterm_outside_a_run_loop_exits_130_like_ctrl_c() -> None:
    done = run_relrun(DURING_COMMAND, signal.SIGTERM, "validate", str(FLAGSHIP))
    assert "Traceback" not in done.stderr
    assert done.returncode == 130, done.stderr
    assert done.stderr == "relrun: interrupted (signal 15)\n"


def test_importing_the_cli_leaves_the_programs_own_handlers() -> None:
    # A test run or any program importing relrun.cli keeps its Ctrl-C.
    check = (
        "import signal\n"
        "before = (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM))\n"
        "import relrun.cli\n"
        "assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr


# The two ways relrun is started: the installed console script, and ``python -m relrun``
# (what Ansible runs on managed hosts). Each runs the real entry point with runpy.
# ``sys.argv[1]`` is the console script (``-c`` took argv[0]); the command line follows.
ENTRIES = {
    "console script": "import runpy, sys; sys.argv = sys.argv[1:]; "
    "runpy.run_path(sys.argv[0], run_name='__main__')",
    "python -m relrun": "import runpy, sys; sys.argv = sys.argv[1:]; "
    "runpy.run_module('relrun', run_name='__main__', alter_sys=True)",
}

# Sends the signal as relrun.cli starts importing: before its own recording of signals.
BEFORE_THE_CLI = """
import importlib.abc, os, signal, sys

class SignalOnImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "relrun.cli":
            sys.meta_path.remove(self)
            os.kill(os.getpid(), signal.{sig})
        return None

sys.meta_path.insert(0, SignalOnImport())
"""

# Sends the signal as the entry point calls main(): the CLI is imported (its own
# recording is over), main's handlers are not installed yet.
AS_MAIN_IS_CALLED = """
import os, signal, sys

def profile(frame, event, arg):
    code = frame.f_code
    if event == "call" and code.co_name == "main" and code.co_filename.endswith(
            os.path.join("relrun", "cli", "__init__.py")):
        sys.setprofile(None)
        os.kill(os.getpid(), signal.{sig})

sys.setprofile(profile)
"""


@pytest.mark.parametrize("moment", ["before the CLI", "as main is called"])
@pytest.mark.parametrize("entry", sorted(ENTRIES))
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_between_the_start_and_main_exits_130(
    sig: signal.Signals, entry: str, moment: str
) -> None:
    hook = BEFORE_THE_CLI if moment == "before the CLI" else AS_MAIN_IS_CALLED
    script = textwrap.dedent(hook).format(sig=sig.name) + ENTRIES[entry]
    console_script = str(Path(sys.executable).parent / "relrun")
    done = subprocess.run(
        [sys.executable, "-c", script, console_script, "validate", str(FLAGSHIP)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )
    assert "Traceback" not in done.stderr
    assert done.returncode == 130, done.stderr
    assert done.stderr == (
        f"relrun: interrupted (signal {int(sig)} while starting): nothing was done\n"
    )
    assert done.stdout == "", "the command did not run"
