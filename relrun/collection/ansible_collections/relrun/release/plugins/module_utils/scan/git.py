"""Git on the host: which files ``.gitignore`` leaves out, and the blobs of past commits.

Both use the ``git`` program (``git ls-files``, ``git log --raw``, ``git cat-file
--batch``). Without git on the host, or outside a repository, :func:`ignored_filter`
returns ``None`` (nothing is left out) and :func:`history_blobs` raises
:class:`GitUnavailable`, which the engine reports as bad input for ``--history``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

from .gitindex import find_git_dir

_TIMEOUT = 600


class GitUnavailable(RuntimeError):
    """The git program or a repository is missing."""


def _git(top: str, *args: str, data: bytes | None = None) -> bytes:
    exe = shutil.which("git")
    if exe is None:
        raise GitUnavailable("the git program is not installed on this host")
    done = subprocess.run([exe, "-C", top, *args], input=data, capture_output=True,
                          timeout=_TIMEOUT, check=False)
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitUnavailable(f"git {args[0]} failed: {message[-1] if message else done.returncode}")
    return done.stdout


@dataclass
class Repo:
    """The repository around a scan root."""

    top: str  # the work tree's top directory
    prefix: str  # the scan root relative to it ("" at the top), POSIX, trailing "/"


def find_repo(root: str) -> Repo | None:
    """The repository that holds ``root``, or ``None``."""
    found = find_git_dir(root if os.path.isdir(root) else os.path.dirname(root) or ".")
    if found is None:
        return None
    top = os.path.realpath(found[0])
    base = os.path.realpath(root if os.path.isdir(root) else os.path.dirname(root) or ".")
    rel = os.path.relpath(base, top).replace(os.sep, "/")
    return Repo(top, "" if rel == "." else rel.strip("/") + "/")


class IgnoreFilter:
    """Files that are tracked or untracked-but-not-ignored, relative to the scan root."""

    def __init__(self, files: set[str]) -> None:
        self.files = files
        self.dirs = {path.rsplit("/", i)[0] for path in files for i in
                     range(1, path.count("/") + 1)}

    def keeps_file(self, rel: str) -> bool:
        """Whether a file below the scan root is not ignored by git."""
        return rel in self.files

    def keeps_dir(self, rel: str) -> bool:
        """Whether a directory holds any file git does not ignore."""
        return rel in self.dirs


def ignored_filter(root: str) -> IgnoreFilter | None:
    """What ``.gitignore`` (and ``.git/info/exclude``, the global excludes) leave in.

    Args:
        root: the scan root (a directory).

    Returns:
        The filter, or ``None`` outside a repository or without git on the host.
    """
    if find_repo(root) is None:
        return None
    try:
        # A root that git itself ignores (a virtualenv, a build output) was named on
        # purpose: scan what it holds.
        exe = shutil.which("git")
        if exe is None:
            return None
        ignored = subprocess.run([exe, "-C", root, "check-ignore", "-q", "."],
                                 capture_output=True, timeout=_TIMEOUT, check=False)
        if ignored.returncode == 0:
            return None
        out = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    except (GitUnavailable, OSError, subprocess.TimeoutExpired):
        return None
    files = {p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p}
    return IgnoreFilter(files)


@dataclass
class Blob:
    """A blob first added by a commit, at a path relative to the scan root."""

    commit: str
    path: str
    sha: str
    data: bytes


def history_blobs(root: str, since: str = "", max_size: int = 1 << 20,
                  keep: object = None) -> Iterator[Blob]:
    """Each blob that a commit introduced, once, oldest commit first.

    Blobs of the current ``HEAD`` tree are left out: the working-tree scan sees them.

    Args:
        root: the scan root (inside a repository).
        since: passed to ``git log --since`` (``2024-01-01``, ``6 months ago``); empty for
            the whole history.
        max_size: larger blobs are not read.
        keep: a callable ``keep(rel_path) -> bool`` deciding which paths to read.

    Yields:
        The blobs.

    Raises:
        GitUnavailable: without git or a repository.
    """
    repo = find_repo(root)
    if repo is None:
        raise GitUnavailable(f"{root} is not inside a git repository")
    try:
        listing = _git(repo.top, "ls-tree", "-r", "-z", "HEAD").split(b"\0")
        head = {entry.split(b"\t", 1)[0].split()[2] for entry in listing if entry.count(b" ") >= 2}
    except GitUnavailable:
        head = set()  # an empty repository has no HEAD yet
    args = ["log", "--all", "--reverse", "--raw", "--no-renames", "--no-abbrev",
            "--format=commit %H", "-z", "--diff-filter=AM"]
    if since:
        args.append(f"--since={since}")
    out = _git(repo.top, *args)
    wanted: list[tuple[str, str, str]] = []  # (commit, path, blob sha)
    seen: set[bytes] = set()
    commit = ""
    fields = out.split(b"\0")
    i = 0
    while i < len(fields):
        field = fields[i].lstrip(b"\n")
        i += 1
        if field.startswith(b"commit "):
            commit = field[7:].decode()
            continue
        if not field.startswith(b":"):
            continue
        parts = field[1:].split()
        path = fields[i].decode("utf-8", "surrogateescape") if i < len(fields) else ""
        i += 1
        if len(parts) < 5 or parts[1] in (b"160000", b"120000"):
            continue  # submodules and symlinks
        sha = parts[3]
        if sha in seen or sha in head or set(sha) == {ord("0")}:
            continue
        seen.add(sha)
        if repo.prefix and not path.startswith(repo.prefix):
            continue
        rel = path[len(repo.prefix):]
        if callable(keep) and not keep(rel):
            continue
        wanted.append((commit, rel, sha.decode()))
    if not wanted:
        return
    sizes = _git(repo.top, "cat-file", "--batch-check=%(objectname) %(objectsize)",
                 data="".join(f"{sha}\n" for _commit, _rel, sha in wanted).encode()).split(b"\n")
    small = [w for w, line in zip(wanted, sizes, strict=False) if line.split()[-1:] and
             int(line.split()[-1]) <= max_size]
    if not small:
        return
    batch = _git(repo.top, "cat-file", "--batch",
                 data="".join(f"{sha}\n" for _commit, _rel, sha in small).encode())
    pos = 0
    for commit, rel, blob_sha in small:
        header_end = batch.index(b"\n", pos)
        size = int(batch[pos:header_end].split()[2])
        start = header_end + 1
        yield Blob(commit, rel, blob_sha, batch[start : start + size])
        pos = start + size + 1
