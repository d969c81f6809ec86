"""Hostile inventories and argument lists: exit 0, 1 or 2, never a traceback or raw escape.

The companion of ``test_fuzz_runbooks.py`` for the other inputs of issue 14's adversarial
run: mutated inventories given to ``relrun validate -i`` (Ansible parses them for real),
and argument lists for the commands that only read (validate, render, plan, schema,
history, report), built from tokens that broke relrun before: other scripts' digits,
``nan``, huge numbers, control characters, too long names, devices and FIFOs.

Derandomized; ``RELRUN_FUZZ_EXAMPLES`` scales them (default 500 → 100 inventories and
150 argument lists here, some 20 s of CPU).
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from relrun.cli import app
from relrun.cli.errors import run_cli
from tests.helpers import ROOT
from tests.unit.test_fuzz_runbooks import FUZZ, PAYLOADS, SYNTAX, values

EXAMPLES = max(10, FUZZ.max_examples // 5)
FLAGSHIP = str(ROOT / "runbooks" / "release-v2.yml")
INVENTORY_SEEDS = sorted((ROOT / "inventories").glob("*.yml"))
INVENTORY_TEXTS = [p.read_text(encoding="utf-8") for p in INVENTORY_SEEDS]


class _InventoryLoader(yaml.SafeLoader):
    """Reads the seeds: Ansible's ``!vault``/``!unsafe`` scalars are strings."""


for _tag in ("!vault", "!unsafe"):
    _InventoryLoader.add_constructor(_tag, lambda loader, node: loader.construct_scalar(node))
INVENTORY_DATA = [yaml.load(t, Loader=_InventoryLoader) for t in INVENTORY_TEXTS]


def run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(app, args)
    return code, out.getvalue(), err.getvalue()


def assert_clean(code: int, out: str, err: str, allowed: tuple[int, ...]) -> None:
    assert code in allowed, (code, err)
    assert "Traceback" not in out + err
    # Every message escapes what it quotes: no terminal control sequence gets through.
    assert "\x1b" not in err and "\x07" not in err, err
    assert "\x1b" not in out, out


@st.composite
def inventory_mutants(draw: st.DrawFn) -> str:
    """A shipped inventory with values, keys and text damaged."""
    index = draw(st.integers(0, len(INVENTORY_DATA) - 1))
    data: Any = copy.deepcopy(INVENTORY_DATA[index])
    groups = data.get("all", {}).get("children") if isinstance(data, dict) else None
    if isinstance(groups, dict) and groups and draw(st.booleans()):
        name = draw(st.sampled_from(sorted(groups)))
        groups[name] = draw(values)
    if draw(st.booleans()):
        data = {draw(st.one_of(st.text(max_size=8), st.sampled_from(PAYLOADS))): data}
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    if draw(st.booleans()):
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + draw(st.sampled_from(SYNTAX + PAYLOADS)) + text[pos:]
    return text


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz-inputs")


@settings(FUZZ, max_examples=EXAMPLES)
@given(text=inventory_mutants())
@example(text="all:\n  vars:\n    pw: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      6231\n")
@example(text="all:\n  hosts:\n    h1:\n      v: !!timestamp nope\n")
def test_mutated_inventories(work: Path, text: str) -> None:
    path = work / "inventory.yml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    assert_clean(*run(["validate", FLAGSHIP, "-i", str(path)]), allowed=(0, 2))


TOKENS = [
    "\u0660.\u0665",
    "nan",
    "inf",
    "-1",
    "0",
    "1e309",
    "9" * 400,
    "\x1b[31mred",
    "\x07",
    "a\nb",
    "a" * 5000,
    "-",
    "--",
    "/dev/null",
    "/dev/zero",
    "",
    "--format",
    "json",
    "md",
    "html",
    "-o",
    "--check",
    "--markdown",
    "-i",
    "--history-db",
    "--runbook",
    "--limit",
    FLAGSHIP,
]


@st.composite
def argument_lists(draw: st.DrawFn) -> list[str]:
    """A read-only command and a few tokens: options, values and hostile strings."""
    command = draw(st.sampled_from(["validate", "render", "plan", "schema", "history", "report"]))
    tokens = st.one_of(st.sampled_from(TOKENS), st.text(max_size=12))
    return [command, *draw(st.lists(tokens, max_size=5))]


@settings(FUZZ, max_examples=EXAMPLES + EXAMPLES // 2)
@given(args=argument_lists())
@example(args=["validate", "\x1b[31m.yml"])
@example(args=["render", FLAGSHIP, "-o", "/dev/null"])
@example(args=["history", "--limit", "\u0660"])
def test_argument_lists(work: Path, args: list[str]) -> None:
    # Everything a command may write lands in the scratch directory.
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(work)
        patch.setenv("RELRUN_STATE_DIR", str(work / "state"))
        patch.setenv("RELRUN_HISTORY_DB", str(work / "state" / "history.db"))
        assert_clean(*run(args), allowed=(0, 1, 2))
    assert Path(os.devnull).is_char_device(), "the device was not replaced"
