"""A small tokenizer for C-like languages: JavaScript/TypeScript, Kotlin and Java.

It exists so that comments, strings and template literals are skipped properly: a module
name in a comment or a string is never taken for an import. It understands JS template
literals with nested ``${…}``, Kotlin string templates and raw strings, Java text blocks,
nested Kotlin block comments, and JS regular-expression literals (by the usual rule: a
``/`` that cannot end an expression starts a regex).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class LexError(ValueError):
    """The text is not valid for the dialect (an unterminated string or comment...)."""


@dataclass(frozen=True)
class Token:
    """One token. ``kind``: id, str, tpl (string with substitutions), num, punct, comment."""

    kind: str
    value: str
    start: int


_CODE = re.compile(
    r"""(?P<ws>\s+)
    |(?P<lc>//[^\n]*)
    |(?P<bc>/\*)
    |(?P<open>`|\"\"\")
    |(?P<sq>'(?:[^'\\\n]|\\.)*')
    |(?P<dq>"(?:[^"\\\n]|\\.)*")
    |(?P<bad>")
    |(?P<id>[A-Za-z_$\u0080-\U0010ffff][\w$\u0080-\U0010ffff]*)
    |(?P<num>\d[\w.]*|\.\d\w*)
    |(?P<punct>\?\?=?|\?\.|\?:|\|\||&&|=>|->|::|\.\.\.|[{}()\[\];,.<>+\-*%&|^!~?:=@#\\])
    |(?P<slash>/)""",
    re.VERBOSE | re.DOTALL,
)
# Body of a template: stops before the closing delimiter or a "${".
_BODIES = {
    "`": re.compile(r"(?:[^`\\$]|\\.|\$(?!\{))*", re.DOTALL),
    '"': re.compile(r"(?:[^\"\\$\n]|\\.|\$(?!\{))*", re.DOTALL),
    '"""': re.compile(r'(?:[^"$]|"(?!"")|\$(?!\{))*', re.DOTALL),
}
_JAVA_TEXT_BLOCK = re.compile(r'"""(?:[^"\\]|\\.|"(?!""))*"""', re.DOTALL)
_REGEX = re.compile(r"/(?:[^/\\\[\n]|\\.|\[(?:[^\]\\\n]|\\.)*\])+/[A-Za-z]*")
_BEFORE_REGEX_KEYWORDS = frozenset(
    {"return", "typeof", "case", "in", "of", "new", "delete", "void", "throw", "instanceof",
     "yield", "await", "else", "do"}
)
_SIMPLE_REF = re.compile(r"\$[A-Za-z_]")


def _block_comment_end(text: str, pos: int, nested: bool) -> int:
    depth = 1
    i = pos + 2
    while depth:
        close = text.find("*/", i)
        if close < 0:
            raise LexError(f"unterminated block comment at offset {pos}")
        if nested:
            opened = text.find("/*", i, close)
            if opened >= 0:
                depth += 1
                i = opened + 2
                continue
        depth -= 1
        i = close + 2
    return i


class _Lexer:
    def __init__(self, text: str, dialect: str) -> None:
        self.text = text
        self.dialect = dialect
        self.tokens: list[Token] = []
        # One entry per open "{": "" for a code brace, else the template delimiter to resume.
        self.braces: list[str] = []

    def _regex_allowed(self) -> bool:
        for tok in reversed(self.tokens):
            if tok.kind == "comment":
                continue
            if tok.kind in ("num", "str", "tpl"):
                return False
            if tok.kind == "id":
                return tok.value in _BEFORE_REGEX_KEYWORDS
            return tok.value not in (")", "]", "}")
        return True

    def _template(self, pos: int, delim: str, start: int, resumed: bool) -> int:
        """Scan a template body from ``pos``; return the position after it or after ``${``.

        ``resumed`` is true when scanning continues after a ``${…}``: the ``tpl`` token
        was emitted when the template opened.
        """
        text = self.text
        body = _BODIES[delim].match(text, pos)
        end = body.end() if body else pos
        if text.startswith(delim, end):
            if not resumed:
                raw = text[pos:end]
                literal = delim == "`" or not _SIMPLE_REF.search(raw)
                self.tokens.append(Token("str" if literal else "tpl", raw, start))
            return end + len(delim)
        if text.startswith("${", end):
            if not resumed:
                self.tokens.append(Token("tpl", "", start))
            self.braces.append(delim)
            return end + 2
        raise LexError(f"unterminated string at offset {start}")

    def run(self) -> list[Token]:
        text = self.text
        pos = 2 if text.startswith("#!") else 0
        if pos:
            pos = text.find("\n") if "\n" in text else len(text)
        size = len(text)
        while pos < size:
            match = _CODE.match(text, pos)
            if match is None:
                raise LexError(f"unexpected character at offset {pos}")
            kind = match.lastgroup or ""
            value = match.group(0)
            if kind == "ws":
                pass
            elif kind == "lc":
                self.tokens.append(Token("comment", value, pos))
            elif kind == "bc":
                end = _block_comment_end(text, pos, nested=self.dialect == "kotlin")
                self.tokens.append(Token("comment", text[pos:end], pos))
                pos = end
                continue
            elif kind == "sq" or (kind == "dq" and (self.dialect != "kotlin" or "$" not in value)):
                self.tokens.append(Token("str", value[1:-1], pos))
            elif kind in ("dq", "open", "bad"):
                pos = self._open(pos, value if kind == "open" else '"')
                continue
            elif kind == "slash":
                regex = _REGEX.match(text, pos) if self._regex_allowed() else None
                if regex and self.dialect == "js":
                    self.tokens.append(Token("num", regex.group(0), pos))
                    pos = regex.end()
                    continue
                self.tokens.append(Token("punct", "/", pos))
            elif kind == "punct" and value == "{":
                self.braces.append("")
                self.tokens.append(Token("punct", value, pos))
            elif kind == "punct" and value == "}":
                resume = self.braces.pop() if self.braces else ""
                if resume:
                    pos = self._template(pos + 1, resume, pos, resumed=True)
                    continue
                self.tokens.append(Token("punct", value, pos))
            else:
                self.tokens.append(Token(kind, value, pos))
            pos = match.end()
        return self.tokens

    def _open(self, pos: int, delim: str) -> int:
        if delim == "`" and self.dialect != "js":
            raise LexError(f"unexpected backtick at offset {pos}")
        if delim == '"""' and self.dialect == "java":
            block = _JAVA_TEXT_BLOCK.match(self.text, pos)
            if block is None:
                raise LexError(f"unterminated text block at offset {pos}")
            self.tokens.append(Token("str", block.group(0)[3:-3], pos))
            return block.end()
        if delim != "`" and self.dialect != "kotlin":
            raise LexError(f"unterminated string at offset {pos}")
        return self._template(pos + len(delim), delim, pos, resumed=False)


def lex(text: str, dialect: str) -> list[Token]:
    """Tokenize a source text.

    Args:
        text: the source.
        dialect: ``js`` (also TypeScript), ``kotlin`` or ``java``.

    Returns:
        Tokens in order, whitespace dropped; comments kept as ``comment`` tokens. A string
        without substitutions is a ``str`` token holding its raw content; one with
        substitutions is a ``tpl`` token, and the code inside its ``${…}`` is tokenized.

    Raises:
        LexError: on an unterminated string, comment or template.
    """
    return _Lexer(text, dialect).run()
