"""JavaScript and TypeScript: forbidden imports and secret leaks, on tokens.

Import forms: ``import … from 'm'``, ``import 'm'``, ``import type … from 'm'``,
``export … from 'm'``, ``require('m')``, ``import('m')`` (a literal only; a template with
substitutions is dynamic and cannot be judged).
"""

from __future__ import annotations

import re

from .clex import Token, lex
from .findings import Finding, new_finding
from .names import is_secret_name, looks_real, looks_real_literal
from .sinks import cdn_module, hides_value, is_sink_name, module_matches

_CLAUSE = frozenset({"{", "}", ",", "*", "as", "type", "typeof"})
_CONFIG_RECEIVERS = frozenset({"config", "settings", "env", "secrets", "credentials", "conf",
                               "cfg", "options", "opts"})
# Callees whose result exposes no value of their argument.
_HIDING_CALLS = frozenset({"Object.keys", "Boolean", "typeof", "hasOwnProperty", "includes"})


def _matches(module: str, forbidden: tuple[str, ...]) -> bool:
    return module_matches(module, forbidden, sep="/")


class _Scanner:
    def __init__(self, path: str, text: str, forbidden: tuple[str, ...]) -> None:
        self.path = path
        self.text = text
        self.forbidden = forbidden
        self.findings: list[Finding] = []
        self.toks: list[Token] = []

    def tok(self, i: int) -> Token:
        return self.toks[i] if 0 <= i < len(self.toks) else Token("eof", "", len(self.text))

    def is_(self, i: int, value: str) -> bool:
        tok = self.tok(i)
        return tok.value == value and tok.kind in ("punct", "id")

    def _import(self, tok: Token, form: str) -> None:
        module = tok.value
        cdn = cdn_module(module) if "://" in module else None
        if cdn:
            module, form = cdn, f"{form}, CDN URL"
        if _matches(module, self.forbidden):
            self.findings.append(new_finding(
                "forbidden-import", self.path, self.text, tok.start, module,
                f"forbidden import of {module} ({form})", secret=False,
                meta={"module": module, "language": "js", "form": form}))

    def _template_import(self, tok: Token, form: str) -> None:
        """``import(`firebase/${name}`)``: judged by the literal prefix before ``${``."""
        raw = self.text[tok.start + 1 : self.text.find("${", tok.start)]
        base = raw.rsplit("/", 1)[0] if "/" in raw else ""
        if base and _matches(base, self.forbidden):
            pattern = raw + "*"
            self.findings.append(new_finding(
                "forbidden-import", self.path, self.text, tok.start, pattern,
                f"forbidden import of {base} (dynamic, module pattern {pattern})", secret=False,
                meta={"module": base, "language": "js", "form": f"{form} template",
                      "pattern": pattern}))

    def assignment(self, i: int) -> None:
        """``const API_SECRET = "…"`` (also ``let``/``var``, a TypeScript type between)."""
        name = self.tok(i + 1)
        if name.kind != "id":
            return
        j = i + 2
        if self.is_(j, ":") and self.tok(j + 1).kind == "id":
            j += 2
        literal = self.tok(j + 1)
        after = self.tok(j + 2).value
        if (self.is_(j, "=") and literal.kind == "str" and after not in ("+", ".", "?.", "[", "(")
                and is_secret_name(name.value) and looks_real_literal(literal.value)):
            self.findings.append(new_finding(
                "hardcoded-secret", self.path, self.text, literal.start, literal.value,
                f"{name.value} is assigned a literal secret", secret=True,
                meta={"name": name.value}))

    def imports(self, i: int) -> None:
        tok = self.toks[i]
        if self.is_(i - 1, ".") or self.is_(i - 1, "?."):
            return  # obj.require(...), obj.import: not the module system
        if tok.value == "require" or (tok.value == "import" and self.is_(i + 1, "(")):
            if self.is_(i + 1, "(") and self.tok(i + 2).kind == "str" and self.is_(i + 3, ")"):
                self._import(self.tok(i + 2), f"{tok.value}()")
            elif self.is_(i + 1, "(") and self.tok(i + 2).kind == "tpl":
                self._template_import(self.tok(i + 2), f"{tok.value}()")
            return
        if tok.value == "import" and self.tok(i + 1).kind == "str":
            self._import(self.tok(i + 1), "import")
            return
        j = i + 1
        while self.tok(j).kind == "id" or self.tok(j).value in _CLAUSE:
            if self.is_(j, "from") and self.tok(j + 1).kind == "str":
                self._import(self.tok(j + 1), f"{tok.value} from")
                return
            j += 1

    def env_name(self, i: int) -> tuple[str, int] | None:
        """``process.env.X`` / ``process.env['X']`` / ``import.meta.env.X`` at ``i``.

        Returns:
            The variable name and the index after the expression; ``("", j)`` for the whole
            ``process.env``.
        """
        if self.is_(i, "process") and self.is_(i + 1, ".") and self.is_(i + 2, "env"):
            j = i + 3
        elif (self.is_(i, "import") and self.is_(i + 1, ".") and self.is_(i + 2, "meta")
              and self.is_(i + 3, ".") and self.is_(i + 4, "env")):
            j = i + 5
        else:
            return None
        if self.is_(j, ".") and self.tok(j + 1).kind == "id":
            return self.tok(j + 1).value, j + 2
        if self.is_(j, "[") and self.tok(j + 1).kind == "str" and self.is_(j + 2, "]"):
            return self.tok(j + 1).value, j + 3
        if self.is_(j, "[") or self.is_(j, "?."):
            return None
        return "", j

    def default(self, i: int) -> None:
        env = self.env_name(i)
        if not env or not env[0]:
            return
        name, j = env
        literal = self.tok(j + 1)
        if (self.tok(j).value in ("||", "??") and literal.kind == "str"
                and is_secret_name(name) and looks_real(literal.value)):
            self.findings.append(new_finding(
                "secret-default", self.path, self.text, literal.start, literal.value,
                f"{name} falls back to a literal secret", secret=True, meta={"name": name}))

    def callee(self, i: int) -> tuple[str, int]:
        """Dotted name ending at token ``i`` (an id), and the index where it starts."""
        parts = [self.toks[i].value]
        while self.is_(i - 1, ".") and self.tok(i - 2).kind == "id":
            parts.append(self.tok(i - 2).value)
            i -= 2
        return ".".join(reversed(parts)), i

    def sink(self, i: int) -> None:
        name, start = self.callee(i)
        if not self.is_(i + 1, "(") or not is_sink_name(name):
            return
        depth, j = 0, i + 1
        while j < len(self.toks):
            value = self.toks[j].value if self.toks[j].kind == "punct" else ""
            if value in ("(", "[", "{"):
                depth += 1
            elif value in (")", "]", "}"):
                depth -= 1
            if depth == 0:
                break
            leak = self.leak_at(j)
            if leak:
                rule, what = leak
                message = ("environment dumped to " if rule == "env-dump"
                           else f"secret {what} reaches ") + name
                self.findings.append(new_finding(
                    rule, self.path, self.text, self.toks[start].start, f"{name}({what})",
                    message, secret=False, meta={"sink": name, "source": what}))
                return
            j += 1

    def leak_at(self, j: int) -> tuple[str, str] | None:
        if self.tok(j - 1).value in ("!", "typeof") or self.is_(j - 1, "."):
            return None
        if self.tok(j - 2).kind == "id" and self.is_(j - 1, "("):
            called, _position = self.callee(j - 2)
            if called in _HIDING_CALLS or called.endswith(".keys"):
                return None
        env = self.env_name(j)
        if env is not None:
            name, after = env
            if hides_value(self.tok(after).value, self.tok(after + 1).value):
                return None  # process.env.X.length, process.env.X.slice(...)
            if not name:
                return "env-dump", "process.env"
            return ("secret-logged", f"process.env.{name}") if is_secret_name(name) else None
        tok = self.tok(j)
        if tok.kind != "id" or tok.value.lower() not in _CONFIG_RECEIVERS:
            return None
        k = j
        while self.is_(k + 1, ".") and self.tok(k + 2).kind == "id":
            k += 2
        last = self.tok(k).value
        if k > j and is_secret_name(last) and not hides_value(self.tok(k + 1).value,
                                                              self.tok(k + 2).value):
            return "secret-logged", "".join(t.value for t in self.toks[j : k + 1])
        return None


_IMPORT_HINT = re.compile(r"\b(?:import|export|require)\b")


def scan_js(path: str, text: str, forbidden: tuple[str, ...]) -> list[Finding]:
    """Analyse a JavaScript or TypeScript file.

    Args:
        path: the relative path.
        text: the source.
        forbidden: forbidden module specifiers (``firebase``, ``@firebase/*``...).

    Returns:
        The findings.

    Raises:
        LexError: when the file cannot be tokenized (the caller falls back).
    """
    scanner = _Scanner(path, text, forbidden)
    scanner.toks = [t for t in lex(text, "js") if t.kind != "comment"]
    for i, tok in enumerate(scanner.toks):
        if tok.kind != "id":
            continue
        if tok.value in ("import", "export", "require"):
            scanner.imports(i)
        if tok.value in ("process", "import"):
            scanner.default(i)
        if tok.value in ("const", "let", "var"):
            scanner.assignment(i)
        if scanner.is_(i + 1, "("):
            scanner.sink(i)
    return scanner.findings


_FALLBACK = re.compile(
    r"(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)(['\"`])([^'\"`\s]+)\1"
)


def fallback_js(path: str, text: str, forbidden: tuple[str, ...]) -> list[Finding]:
    """Line-based import scan for a file the tokenizer rejected.

    Lines that start as comments are skipped; findings carry ``meta["fallback"] = True``.

    Args:
        path: the relative path.
        text: the source.
        forbidden: forbidden specifiers.

    Returns:
        The findings.
    """
    findings: list[Finding] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        stripped = line.lstrip()
        if not stripped.startswith(("//", "/*", "*")) and _IMPORT_HINT.search(line):
            for match in _FALLBACK.finditer(line):
                module = match.group(2)
                if _matches(module, forbidden):
                    findings.append(new_finding(
                        "forbidden-import", path, text, offset + match.start(2), module,
                        f"forbidden import of {module} (unparsed file)", secret=False,
                        meta={"module": module, "language": "js", "fallback": True}))
        offset += len(line)
    return findings
