"""Go sources: forbidden imports, and the environment or a secret reaching fmt, log or HTTP.

Comments are blanked first (strings are kept, so a ``//`` inside a string is not a
comment); imports are read from ``import "x"`` and ``import ( … )`` declarations only.
"""

from __future__ import annotations

import re

from .findings import Finding, new_finding
from .names import is_secret_name
from .sinks import module_matches

_LEX = re.compile(r'"(?:\\.|[^"\\\n])*"|`[^`]*`|\'(?:\\.|[^\'\\\n])+\'|//[^\n]*|/\*.*?\*/', re.DOTALL)
_IMPORT_ONE = re.compile(r'^[ \t]*import[ \t]+(?:[\w.]+[ \t]+)?"([^"]+)"', re.MULTILINE)
_IMPORT_BLOCK = re.compile(r"^[ \t]*import[ \t]*\((.*?)\)", re.MULTILINE | re.DOTALL)
_SPEC = re.compile(r'(?:[\w.]+[ \t]+)?"([^"]+)"')
_SINK = re.compile(
    r"\b((?:fmt\.(?:Print|Println|Printf|Fprint|Fprintln|Fprintf)|log\.(?:Print|Println|Printf"
    r"|Fatal|Fatalf|Fatalln|Panic|Panicf|Panicln)|(?:slog|logger|log|zap|logrus|l)\.(?:Info|Debug"
    r"|Warn|Error|Infof|Debugf|Warnf|Errorf|Infow|Debugw|Warnw|Errorw)|\w+\.(?:JSON|IndentedJSON)"
    r"|json\.NewEncoder\([^()]*\)\.Encode))\s*\("
)
_GETENV = re.compile(r'\bos\.(?:Getenv|LookupEnv)\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)')


def _blank_comments(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        token = match.group(0)
        if token.startswith(("//", "/*")):
            return re.sub(r"[^\n]", " ", token)
        return token

    return _LEX.sub(repl, text)


def _call_args(code: str, open_paren: int) -> str:
    depth = 0
    for j in range(open_paren, min(len(code), open_paren + 4000)):
        ch = code[j]
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return code[open_paren + 1 : j]
    return code[open_paren + 1 : open_paren + 4000]


def scan_go(path: str, text: str, forbidden: tuple[str, ...]) -> list[Finding]:
    """Analyse a Go file.

    Args:
        path: the relative path.
        text: the source.
        forbidden: forbidden import paths (``firebase.google.com/go`` forbids it and below).

    Returns:
        The findings.
    """
    code = _blank_comments(text)
    findings: list[Finding] = []
    specs: list[tuple[str, int]] = [(m.group(1), m.start(1)) for m in _IMPORT_ONE.finditer(code)]
    for block in _IMPORT_BLOCK.finditer(code):
        specs += [(m.group(1), block.start(1) + m.start(1)) for m in _SPEC.finditer(block.group(1))]
    for module, offset in sorted(specs, key=lambda s: s[1]):
        if module_matches(module, forbidden, sep="/"):
            findings.append(new_finding("forbidden-import", path, text, offset, module,
                                        f"forbidden import of {module} (import)", secret=False,
                                        meta={"module": module, "language": "go",
                                              "form": "import"}))
    if "os." not in code:
        return findings
    for sink in _SINK.finditer(code):
        args = _call_args(code, sink.end() - 1)
        name = re.sub(r"\(.*\)", "()", sink.group(1))
        if "os.Environ()" in args:
            findings.append(new_finding("env-dump", path, text, sink.start(), f"{name}(os.Environ())",
                                        f"environment dumped to {name}", secret=False,
                                        meta={"sink": name, "source": "os.Environ()"}))
            continue
        for env in _GETENV.finditer(args):
            before, after = args[: env.start()].rstrip(), args[env.end():].lstrip()
            if before.endswith("len(") or after.startswith(("!=", "==")):
                continue  # a length or a comparison prints no secret
            if is_secret_name(env.group(1)):
                what = f'os.Getenv("{env.group(1)}")'
                findings.append(new_finding("secret-logged", path, text, sink.start(),
                                            f"{name}({what})", f"secret {what} reaches {name}",
                                            secret=False, meta={"sink": name, "source": what}))
                break
    return findings
