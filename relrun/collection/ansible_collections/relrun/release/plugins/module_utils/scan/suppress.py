"""Suppressions: inline ``relrun: allow`` comments and the baseline file.

Inline syntax, only inside a real comment of the file's language::

    # relrun: allow <rule>[,<rule>] [fp=<fingerprint prefix>] -- <reason>

It covers its own line and, when the comment stands alone on its line, the next line.
Rules whose finding carries a secret (``jwt-literal``, ``bearer-literal``,
``dotenv-secret``, ``secret-default``) need ``fp=``: the allow is bound to that value,
so a different secret on the same line is reported again. Baseline entries are keyed by
fingerprint, which already includes the sha256 of the value.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from dataclasses import dataclass
from typing import Any

from .clex import LexError, lex
from .findings import RULES, Finding

MARKER = "relrun: allow"
_ALLOW = re.compile(
    r"relrun:\s*allow\s+([a-z0-9,\-]+)(?:\s+fp=([0-9a-f]{8,32}))?\s*(?:--\s*(.*?))?\s*(?:\*/)?\s*$"
)
HASH_COMMENT_KINDS = frozenset({"hash", "dotenv", "http"})


@dataclass
class Allow:
    """One inline allow comment."""

    path: str
    line: int
    rules: tuple[str, ...]
    fp: str
    reason: str
    standalone: bool
    used: bool = False

    def covers(self, finding: Finding) -> bool:
        """Whether the allow is on the finding's line (or the line above, standalone)."""
        lines = (self.line, self.line + 1) if self.standalone else (self.line,)
        return finding.rule in self.rules and finding.line in lines


def _comments(text: str, lang: str) -> list[tuple[int, str, bool]]:
    """Comments of a file as ``(line, text, standalone)``."""
    lines = text.splitlines()
    out: list[tuple[int, str, bool]] = []
    if lang == "python":
        try:
            for info in tokenize.generate_tokens(io.StringIO(text).readline):
                if info.type == tokenize.COMMENT:
                    row, col = info.start
                    out.append((row, info.string, not lines[row - 1][:col].strip()))
        except (tokenize.TokenError, SyntaxError):
            return out
    elif lang in ("js", "kotlin", "java"):
        try:
            tokens = lex(text, lang)
        except LexError:
            return out
        for tok in tokens:
            if tok.kind == "comment":
                line = text.count("\n", 0, tok.start) + 1
                out.append((line, tok.value, not lines[line - 1].split("/", 1)[0].strip()))
    elif lang in HASH_COMMENT_KINDS:
        for number, source in enumerate(lines, start=1):
            stripped = source.lstrip()
            if stripped.startswith("#") or (lang == "http" and stripped.startswith("//")):
                out.append((number, stripped, True))
            elif lang != "http":
                # A trailing "#" comment starts after whitespace, outside quotes.
                match = re.search(r"""^(?:[^'"#]|'[^']*'|"[^"]*")*?\s(#.*)$""", source)
                if match:
                    out.append((number, match.group(1), False))
    return out


def find_allows(path: str, text: str, lang: str) -> tuple[list[Allow], list[dict[str, Any]]]:
    """Collect the inline allows of a file, and notices for malformed ones.

    Args:
        path: the relative path.
        text: the file text.
        lang: the comment syntax: ``python``, ``js``, ``kotlin``, ``java``, ``hash``,
            ``dotenv``, ``http``; anything else has no comments.

    Returns:
        The valid allows, and notices (missing reason, unknown rule, marker outside a comment).
    """
    allows: list[Allow] = []
    notices: list[dict[str, Any]] = []
    for line, comment, standalone in _comments(text, lang):
        if MARKER not in comment:
            continue
        for offset, part in enumerate(comment.split("\n")):
            if MARKER not in part:
                continue
            match = _ALLOW.search(part)
            where = {"path": path, "line": line + offset}
            if match is None or not (match.group(3) or "").strip():
                notices.append({**where, "message": "relrun: allow without a reason "
                                "('-- <reason>' is required): ignored"})
                continue
            rules = tuple(r for r in match.group(1).split(",") if r)
            unknown = [r for r in rules if r not in RULES]
            if unknown:
                notices.append({**where, "message": f"relrun: allow names unknown rule(s) "
                                f"{', '.join(unknown)}: ignored"})
                continue
            allows.append(Allow(path, line + offset, rules, match.group(2) or "",
                                match.group(3).strip(), standalone and offset == 0))
    # A marker outside a comment (in a string, in docs) is not an allow and is not noted:
    # the finding it meant to cover is still reported, which says enough.
    return allows, notices


def apply_inline(findings: list[Finding], allows: list[Allow]
                 ) -> tuple[list[Finding], list[tuple[Finding, Allow]], list[dict[str, Any]]]:
    """Split findings into kept and suppressed by the file's allows.

    Args:
        findings: the file's findings.
        allows: the file's allows.

    Returns:
        Kept findings, ``(finding, allow)`` pairs suppressed, and notices.
    """
    kept: list[Finding] = []
    suppressed: list[tuple[Finding, Allow]] = []
    notices: list[dict[str, Any]] = []
    for finding in findings:
        allow = next((a for a in allows if a.covers(finding)), None)
        if allow is None:
            kept.append(finding)
            continue
        where = {"path": finding.path, "line": allow.line}
        if allow.fp and not (finding.fingerprint.startswith(allow.fp)
                             or finding.legacy_fingerprint.startswith(allow.fp)):
            notices.append({**where, "message": f"relrun: allow {finding.rule} fp={allow.fp} "
                            "does not match the value on this line any more: reported"})
            kept.append(finding)
        elif not allow.fp and RULES[finding.rule].carries_secret:
            notices.append({**where, "message": f"relrun: allow {finding.rule} must be pinned "
                            f"to the value: add fp={finding.fingerprint[:12]}"})
            kept.append(finding)
        else:
            allow.used = True
            suppressed.append((finding, allow))
    return kept, suppressed, notices


class BaselineError(ValueError):
    """The baseline file is missing, unreadable or malformed (one line, with a position)."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(" ".join(message.split()))
        self.line = line
        self.column = column


def parse_baseline(text: str, source: str) -> dict[str, dict[str, str]]:
    """Parse a baseline document (JSON; YAML too when PyYAML is importable).

    Format: ``{"version": 1, "entries": [{"fingerprint": …, "reason": …, "rule": …,
    "path": …}]}``; ``fingerprint`` and a non-empty ``reason`` are required.

    Args:
        text: the document.
        source: its path, for messages.

    Returns:
        Entries by fingerprint.

    Raises:
        BaselineError: when the document is malformed.
    """
    try:
        doc: Any = json.loads(text)
    except json.JSONDecodeError as err:
        try:
            import yaml
        except ImportError:
            raise BaselineError(f"{source}: not valid JSON: {err.msg}", err.lineno,
                                err.colno) from err
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as yerr:
            mark = getattr(yerr, "problem_mark", None)
            problem = getattr(yerr, "problem", None) or str(yerr).splitlines()[0]
            raise BaselineError(
                f"{source}: not valid JSON ({err.msg}) or YAML ({problem})",
                mark.line + 1 if mark else err.lineno, mark.column + 1 if mark else err.colno,
            ) from yerr
    if not isinstance(doc, dict) or not isinstance(doc.get("entries"), list):
        raise BaselineError(f"{source}: expected a mapping with an 'entries' list")
    entries: dict[str, dict[str, str]] = {}
    for index, entry in enumerate(doc["entries"]):
        if not isinstance(entry, dict):
            raise BaselineError(f"{source}: entries[{index}] is not a mapping")
        fp, reason = entry.get("fingerprint"), entry.get("reason")
        if not isinstance(fp, str) or not re.fullmatch(r"[0-9a-f]{32}", fp):
            raise BaselineError(f"{source}: entries[{index}].fingerprint must be 32 hex digits")
        if not isinstance(reason, str) or not reason.strip():
            raise BaselineError(f"{source}: entries[{index}].reason is required")
        entries[fp] = {k: str(v) for k, v in entry.items()}
        # Version 1 entries are keyed by (rule, path, value) only; see the engine.
        entries[fp]["_version"] = str(doc.get("version", 1))
    return entries
