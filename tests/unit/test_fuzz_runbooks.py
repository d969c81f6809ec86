"""Hostile runbooks: every mutation ends in exit 0 or exit 2 with positioned errors only.

Seeds are the flagship runbook and the test runbooks; hypothesis mutates their data
(values, types, keys, nesting) and their text (YAML syntax, indentation, unicode,
invalid UTF-8) and feeds each result to ``relrun validate`` and ``relrun render`` in
process. A traceback, another exit code, or a stderr line that is not
``FILE:LINE:COL: error: MESSAGE`` fails the test.

Runs derandomized (the same examples every time) with ``RELRUN_FUZZ_EXAMPLES`` examples
per test (default 500: 1,500 runbooks, about 40 s of CPU in all).
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from relrun.cli import app
from relrun.cli.errors import run_cli
from tests.helpers import ROOT

settings.register_profile(
    "relrun-fuzz",
    max_examples=int(os.environ.get("RELRUN_FUZZ_EXAMPLES", "500")),
    deadline=None,
    derandomize=True,  # CI sees the same inputs on every run
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("relrun-fuzz")

SEEDS = [ROOT / "runbooks" / "release-v2.yml", *sorted((ROOT / "tests" / "data").glob("*.yml"))]
SEED_TEXTS = [p.read_text(encoding="utf-8") for p in SEEDS]
SEED_DATA = [yaml.safe_load(t) for t in SEED_TEXTS]

PAYLOADS = [
    "{{ lookup('pipe','touch /tmp/h7-fuzz-marker') }}",
    "{% for x in range(10**9) %}{% endfor %}",
    "{# comment #}",
    "${{ secrets.X }}",
    "${captures.nope}",
    "$${run.id}",
    "'\"}}{{\"'",
    "!!python/object/apply:os.system ['touch /tmp/h7-fuzz-marker']",
    "\x00\x07\x1b[31m",
    "\u202etxt.exe",
    "\U0001d518\U0001d52b\U0001d526 ☃ é",
    "\ufeff",
    "a\nb\r\nc",
    "1e309",
    "-0",
    "0x1F",
    "..",
    "/",
    "",
    " " * 3,
]

scalars = st.one_of(
    st.sampled_from(PAYLOADS),
    st.text(max_size=40),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.text(max_size=12), st.sampled_from(PAYLOADS)), inner, max_size=4
        ),
    ),
    max_leaves=12,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(data, dict):
        for key, item in data.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(data, list):
        for index, item in enumerate(data):
            found += _paths(item, (*prefix, index))
    return found


def _mutate(data: Any, path: tuple[Any, ...], op: str, new: Any, key: Any) -> Any:
    if not path:
        return new if op == "replace" else [data] if op == "wrap" else data
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    if op == "replace":
        parent[last] = new
    elif op == "wrap":
        parent[last] = [parent[last]] if not isinstance(parent[last], list) else {"x": parent[last]}
    elif op == "delete":
        del parent[last]
    elif op == "rename" and isinstance(parent, dict):
        parent[key] = parent.pop(last)
    elif op == "add" and isinstance(parent[last], dict):
        parent[last][key] = new
    elif op == "duplicate" and isinstance(parent[last], list) and parent[last]:
        parent[last].append(copy.deepcopy(parent[last][0]))
    return data


@st.composite
def data_mutants(draw: st.DrawFn) -> str:
    """A seed's data with 1-4 structural mutations, dumped as YAML."""
    data = copy.deepcopy(draw(st.sampled_from(SEED_DATA)))
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(_paths(data)))
        op = draw(st.sampled_from(["replace", "wrap", "delete", "rename", "add", "duplicate"]))
        key = draw(st.one_of(st.text(max_size=12), st.sampled_from(PAYLOADS), st.integers()))
        data = _mutate(data, path, op, draw(values), key)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


SYNTAX = [
    ":",
    ": ",
    "- ",
    "-",
    "{",
    "}",
    "[",
    "]",
    ",",
    "\t",
    "  ",
    "&a ",
    "*a",
    "*nope",
    "<<: *a",
    "!!binary ",
    "!!python/name:os.system",
    "!unsafe ",
    "? ",
    "|",
    ">",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "#",
    "'",
    '"',
    "\\",
    "\n",
    "@",
    "`",
    "\u2028",
    "\x85",
    "\ud7ff",
    # Scalars PyYAML's resolver types but cannot construct (issue 14, item 10).
    "2024-02-30",
    "0x_",
    "!!int ",
    "!!float ",
    "!!bool ",
    "!!timestamp ",
    "!vault ",
    "9" * 400,
]


@st.composite
def text_mutants(draw: st.DrawFn) -> bytes:
    """A seed's text with YAML-syntax, unicode and byte-level damage."""
    text = draw(st.sampled_from(SEED_TEXTS))
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["insert", "delete", "dup_line", "indent", "payload"]))
        pos = draw(st.integers(0, len(text)))
        if op == "insert":
            text = (
                text[:pos]
                + draw(st.one_of(st.sampled_from(SYNTAX), st.text(max_size=6)))
                + text[pos:]
            )
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 40)) :]
        elif op == "dup_line" and lines:
            index = draw(st.integers(0, len(lines) - 1))
            lines = [*lines[: index + 1], lines[index], *lines[index + 1 :]]
            text = "".join(lines)
        elif op == "indent" and lines:
            index = draw(st.integers(0, len(lines) - 1))
            lines[index] = draw(st.sampled_from([" ", "\t", "    "])) + lines[index]
            text = "".join(lines)
        else:
            text = text[:pos] + draw(st.sampled_from(PAYLOADS)) + text[pos:]
        lines = text.splitlines(keepends=True)
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(raw)))
        raw = (
            raw[:cut]
            + draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b"\xef\xbb\xbf"]))
            + raw[cut:]
        )
    return raw


class _PlaybookLoader(yaml.SafeLoader):
    """Reads rendered playbooks: ``!unsafe`` scalars are strings."""


_PlaybookLoader.add_constructor("!unsafe", lambda loader, node: loader.construct_scalar(node))


def run(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_cli(app, args)
    return code, out.getvalue(), err.getvalue()


def check_cli(path: Path) -> None:
    positioned = re.compile(rf"^{re.escape(str(path))}:\d+:\d+: error: \S.*$")
    for command in ("validate", "render"):
        code, out, err = run([command, str(path)])
        if command == "render" and code == 0:
            # What Ansible will read must be one YAML document of plays.
            assert isinstance(yaml.load(out, Loader=_PlaybookLoader), list)
        assert code in (0, 2), (command, code, err)
        assert "Traceback" not in err + out
        if code == 0:
            assert err == "", (command, err)
        else:
            lines = err.splitlines()
            assert lines, (command, "exit 2 without a message")
            bad = [line for line in lines if not positioned.match(line)]
            assert bad == [], (command, bad)
            # render loads exactly as validate does: the same errors, not worth the time.
            return


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def test_seeds_are_valid(work: Path) -> None:
    for seed in SEEDS:
        assert run(["validate", str(seed)])[0] == 0, seed


@FUZZ
@given(text=data_mutants())
# Found by this test: keys with line breaks split one problem over several lines.
@example(text=SEED_TEXTS[0] + '? " \\N"\n: 1\n"a\\nb": 2\n"\\e[31m": 3\n')
def test_mutated_runbook_data(work: Path, text: str) -> None:
    path = work / "data.yml"
    path.write_text(text, encoding="utf-8")
    check_cli(path)


@FUZZ
@given(raw=text_mutants())
@example(raw=SEED_TEXTS[0].replace('version: "2.0.0"', "version: 2024-02-30").encode())
@example(raw=SEED_TEXTS[0].replace('version: "2.0.0"', "version: !!float ''").encode())
@example(raw=SEED_TEXTS[0].replace('version: "2.0.0"', "version: !!bool maybe").encode())
@example(raw=SEED_TEXTS[0].replace("timeout: 2m", "timeout: " + "9" * 400).encode())
def test_mutated_runbook_text(work: Path, raw: bytes) -> None:
    path = work / "text.yml"
    path.write_bytes(raw)
    check_cli(path)


@FUZZ
@given(doc=values)
def test_arbitrary_documents(work: Path, doc: Any) -> None:
    path = work / "doc.yml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    check_cli(path)
