"""Which files git tracks, read from ``.git/index`` without running git.

Only ``.env`` files need it: a local, ignored ``.env`` in a developer's checkout does not
ship, a tracked one does. A tree without git metadata (a source export on a build host)
ships whatever it holds, so every ``.env`` in it counts.
"""

from __future__ import annotations

import os
import struct


def find_git_dir(start: str) -> tuple[str, str] | None:
    """Find the git directory above ``start``.

    Args:
        start: a directory.

    Returns:
        ``(work_tree, git_dir)``, or ``None`` outside a repository.
    """
    current = os.path.abspath(start)
    while True:
        dot_git = os.path.join(current, ".git")
        if os.path.isdir(dot_git):
            return current, dot_git
        if os.path.isfile(dot_git):  # worktrees and submodules: "gitdir: <path>"
            with open(dot_git, encoding="utf-8") as handle:
                line = handle.readline().strip()
            if line.startswith("gitdir:"):
                return current, os.path.join(current, line[7:].strip())
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    byte = data[pos]
    value = byte & 0x7F
    while byte & 0x80:
        pos += 1
        byte = data[pos]
        value = ((value + 1) << 7) | (byte & 0x7F)
    return value, pos + 1


def read_index(git_dir: str) -> set[str]:
    """Paths in the git index (versions 2, 3 and 4), relative to the work tree.

    Args:
        git_dir: the ``.git`` directory.

    Returns:
        The tracked paths, POSIX separators.

    Raises:
        OSError: when the index cannot be read.
        ValueError: when it is not a git index this reader understands.
    """
    with open(os.path.join(git_dir, "index"), "rb") as handle:
        data = handle.read()
    if data[:4] != b"DIRC":
        raise ValueError("not a git index")
    version, count = struct.unpack(">II", data[4:12])
    if version not in (2, 3, 4):
        raise ValueError(f"unsupported git index version {version}")
    paths: set[str] = set()
    pos = 12
    previous = b""
    for _entry in range(count):
        start = pos
        flags = struct.unpack(">H", data[pos + 60 : pos + 62])[0]
        pos += 62
        if version >= 3 and flags & 0x4000:
            pos += 2
        if version == 4:
            strip, pos = _varint(data, pos)
            end = data.index(b"\0", pos)
            name = previous[: len(previous) - strip] + data[pos:end]
            pos = end + 1
        else:
            end = data.index(b"\0", pos)
            name = data[pos:end]
            pos = start + ((end - start) // 8 + 1) * 8
        previous = name
        paths.add(name.decode("utf-8", "surrogateescape"))
    return paths


class TrackedFiles:
    """Answers "is this file tracked by git?" for files below a scan root, lazily."""

    def __init__(self, root: str) -> None:
        self._root = os.path.abspath(root)
        self._loaded = False
        self._paths: set[str] | None = None
        self._top = ""

    def is_tracked(self, abspath: str) -> bool:
        """Whether git tracks the file; True when there is no readable repository."""
        if not self._loaded:
            self._loaded = True
            found = find_git_dir(self._root)
            if found is not None:
                try:
                    self._paths = read_index(found[1])
                    self._top = found[0]
                except (OSError, ValueError, IndexError, struct.error):
                    self._paths = None
        if self._paths is None:
            return True
        rel = os.path.relpath(abspath, self._top).replace(os.sep, "/")
        return rel in self._paths
