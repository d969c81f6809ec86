"""Kotlin and Java: forbidden imports, fully qualified uses, and secret leaks, on tokens."""

from __future__ import annotations

import re

from .clex import Token, lex
from .findings import Finding, new_finding
from .names import is_secret_name, looks_real
from .sinks import hides_value, is_sink_name, module_matches


class _Scanner:
    def __init__(self, path: str, text: str, toks: list[Token], forbidden: tuple[str, ...]):
        self.path = path
        self.text = text
        self.toks = toks
        self.forbidden = forbidden
        self.findings: list[Finding] = []

    def tok(self, i: int) -> Token:
        return self.toks[i] if 0 <= i < len(self.toks) else Token("eof", "", len(self.text))

    def is_(self, i: int, value: str) -> bool:
        return self.tok(i).value == value and self.tok(i).kind in ("id", "punct")

    def chain(self, i: int) -> tuple[str, int]:
        """Dotted name starting at ``i`` (``a.b.C`` or ``a.b.*``) and the index after it."""
        parts = [self.tok(i).value]
        j = i + 1
        while self.is_(j, ".") and (self.tok(j + 1).kind == "id" or self.is_(j + 1, "*")):
            parts.append(self.tok(j + 1).value)
            j += 2
        return ".".join(parts), j

    def report(self, tok: Token, name: str, form: str) -> None:
        module = name[:-2] if name.endswith(".*") else name
        self.findings.append(new_finding(
            "forbidden-import", self.path, self.text, tok.start, module,
            f"forbidden use of {module} ({form})", secret=False,
            meta={"module": module, "language": "jvm", "form": form}))

    def env_call(self, i: int) -> tuple[str, int] | None:
        """``System.getenv("X")`` at ``i``: the name (``""`` for ``getenv()``) and end index."""
        if not (self.is_(i, "System") and self.is_(i + 1, ".") and self.is_(i + 2, "getenv")
                and self.is_(i + 3, "(")):
            return None
        if self.is_(i + 4, ")"):
            return "", i + 5
        if self.tok(i + 4).kind == "str" and self.is_(i + 5, ")"):
            return self.tok(i + 4).value, i + 6
        return None

    def default(self, i: int) -> None:
        env = self.env_call(i)
        literal: Token | None = None
        name = ""
        if env and env[0]:
            name, j = env
            if self.is_(j, "?:"):
                literal = self.tok(j + 1)  # Kotlin: System.getenv("X") ?: "literal"
            elif self.is_(j, ")") and self.is_(j + 1, ".") and self.is_(j + 2, "orElse"):
                literal = self.tok(j + 4)  # Java: Optional.ofNullable(getenv("X")).orElse("l")
        elif env == ("", i + 5) and self.is_(i + 5, ".") and self.is_(i + 6, "getOrDefault"):
            name = self.tok(i + 8).value if self.tok(i + 8).kind == "str" else ""
            literal = self.tok(i + 10)  # System.getenv().getOrDefault("X", "literal")
        if (literal is not None and literal.kind == "str" and name and is_secret_name(name)
                and looks_real(literal.value)):
            self.findings.append(new_finding(
                "secret-default", self.path, self.text, literal.start, literal.value,
                f"{name} falls back to a literal secret", secret=True, meta={"name": name}))

    def sink(self, i: int) -> None:
        start = i
        while self.is_(start - 1, ".") and self.tok(start - 2).kind == "id":
            start -= 2
        name = "".join(t.value for t in self.toks[start : i + 1])
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
                return
            env = self.env_call(j)
            if env is not None and not hides_value(self.tok(env[1]).value,
                                                   self.tok(env[1] + 1).value):
                var = env[0]
                if not var or is_secret_name(var):
                    rule = "secret-logged" if var else "env-dump"
                    what = f"System.getenv({var!r})" if var else "System.getenv()"
                    message = (f"secret {var} reaches " if var else "environment dumped to ")
                    self.findings.append(new_finding(
                        rule, self.path, self.text, self.toks[start].start, f"{name}({what})",
                        message + name, secret=False, meta={"sink": name, "source": what}))
                    return
            j += 1


def scan_jvm(path: str, text: str, dialect: str, forbidden: tuple[str, ...]) -> list[Finding]:
    """Analyse a Kotlin or Java file.

    Args:
        path: the relative path.
        text: the source.
        dialect: ``kotlin`` or ``java``.
        forbidden: forbidden package prefixes (``com.google.firebase``).

    Returns:
        The findings: imports (plain, wildcard, aliased, static), fully qualified names in
        code, literal defaults of secret variables, secrets reaching print or log calls.

    Raises:
        LexError: when the file cannot be tokenized (the caller falls back).
    """
    toks = [t for t in lex(text, dialect) if t.kind != "comment"]
    scanner = _Scanner(path, text, toks, forbidden)
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.kind != "id":
            i += 1
            continue
        if scanner.is_(i - 1, "."):
            scanner.sink(i)  # System.out.println, log.info: the method follows a dot
            i += 1
            continue
        if tok.value in ("import", "package"):
            first = i + 2 if scanner.is_(i + 1, "static") else i + 1
            name, end = scanner.chain(first)
            if tok.value == "import" and module_matches(name, forbidden, sep="."):
                scanner.report(tok, name, "import")
            i = end
            continue
        name, end = scanner.chain(i)
        if end > i + 1 and module_matches(name, forbidden, sep="."):
            scanner.report(tok, name, "qualified-name")
            i = end
            continue
        scanner.default(i)
        scanner.sink(i)
        i += 1
    return scanner.findings


_FALLBACK = re.compile(r"^[ \t]*import[ \t]+(?:static[ \t]+)?([\w.]+(?:\.\*)?)", re.MULTILINE)


def fallback_jvm(path: str, text: str, forbidden: tuple[str, ...]) -> list[Finding]:
    """Import-line scan for a Kotlin or Java file the tokenizer rejected.

    Args:
        path: the relative path.
        text: the source.
        forbidden: forbidden package prefixes.

    Returns:
        Findings with ``meta["fallback"] = True``.
    """
    findings: list[Finding] = []
    for match in _FALLBACK.finditer(text):
        name = match.group(1)
        module = name[:-2] if name.endswith(".*") else name
        if module_matches(module, forbidden, sep="."):
            findings.append(new_finding(
                "forbidden-import", path, text, match.start(1), module,
                f"forbidden use of {module} (unparsed file)", secret=False,
                meta={"module": module, "language": "jvm", "fallback": True}))
    return findings
