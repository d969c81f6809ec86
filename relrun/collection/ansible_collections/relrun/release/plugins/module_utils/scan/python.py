"""Python sources, analysed with :mod:`ast`: forbidden imports and secret leaks.

Only the syntax tree is trusted, so names in comments, strings and docstrings are never
taken for imports. A file that does not parse is scanned line by line by
:func:`fallback_imports` and reported as a parse fallback.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from .findings import Finding, new_finding_at
from .names import is_secret_name, looks_real, looks_real_literal
from .sinks import is_sink_name, module_matches

_ENV_READERS = frozenset(
    {
        "os.getenv",
        "getenv",
        "os.environ.get",
        "environ.get",
        "os.environ.setdefault",
        "environ.setdefault",
    }
)
_ENVIRON = frozenset({"os.environ", "environ"})
_DYNAMIC_IMPORTS = frozenset(
    {
        "__import__",
        "importlib.import_module",
        "import_module",
        "importlib.__import__",
        "builtins.__import__",
    }
)
# Attributes of the importlib module that import the module named by their first argument.
_IMPORTLIB_FUNCS = frozenset({"import_module", "__import__"})
# Receivers whose secret-named attributes hold configuration values, not arbitrary data.
_CONFIG_RECEIVERS = frozenset(
    {
        "settings",
        "config",
        "conf",
        "cfg",
        "configuration",
        "env",
        "secrets",
        "credentials",
        "creds",
        "options",
        "opts",
        "args",
        "environ",
    }
)
# Calls through which a value reaches the sink whole (str(x), f"{x}", "%s" % x...).
_PASS_THROUGH = frozenset(
    {
        "str",
        "repr",
        "format",
        "dict",
        "list",
        "json.dumps",
        "dumps",
        "pformat",
        "pprint.pformat",
        "get_secret_value",
    }
)


def dotted(node: ast.AST) -> str:
    """Dotted name of a Name/Attribute chain, or ``""``."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _const_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


class _Visitor:
    def __init__(self, path: str, lines: list[str], forbidden: tuple[str, ...]) -> None:
        self.path = path
        self.lines = lines
        self.forbidden = forbidden
        self.findings: list[Finding] = []
        self.tainted: set[str] = set()
        # Names bound in this module to importlib itself or to one of its import functions
        # ("import importlib as il", "from importlib import import_module as im",
        # "load = __import__"): calls through them are dynamic imports too.
        self.importlib_names: set[str] = {"importlib"}
        self.importers: set[str] = set(_DYNAMIC_IMPORTS)
        # Loop variables over the environment: values ("for k, v in os.environ.items()")
        # and keys ("for k in os.environ", used as os.environ[k]).
        self.env_values: set[str] = set()
        self.env_keys: set[str] = set()
        # Names bound to string literals or containers of them: a module name held in a
        # variable or a dict and passed to import_module.
        self.literals: dict[str, list[str]] = {}
        self.settings_nodes: set[int] = set()

    # -- helpers ---------------------------------------------------------------------------
    def _add(
        self,
        rule: str,
        node: ast.AST,
        value: str,
        message: str,
        *,
        secret: bool,
        meta: dict[str, Any] | None = None,
    ) -> None:
        line = getattr(node, "lineno", 1)
        col = getattr(node, "col_offset", 0) + 1
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        self.findings.append(
            new_finding_at(
                rule, self.path, line, col, text, value, message, secret=secret, meta=meta
            )
        )

    def _import(self, node: ast.AST, module: str, form: str) -> None:
        if module_matches(module, self.forbidden, sep="."):
            self._add(
                "forbidden-import",
                node,
                module,
                f"forbidden import of {module} ({form})",
                secret=False,
                meta={"module": module, "language": "python", "form": form},
            )

    def _env_name(self, node: ast.AST) -> str | None:
        """Name of the variable an expression reads from the environment, if any."""
        if isinstance(node, ast.Call) and dotted(node.func) in _ENV_READERS:
            return _const_str(_env_args(node)[0])
        if isinstance(node, ast.Subscript) and dotted(node.value) in _ENVIRON:
            return _const_str(node.slice)
        return None

    def _secret_expr(self, node: ast.AST) -> str | None:
        """Describe ``node`` when it evaluates to a secret's value, else ``None``."""
        env = self._env_name(node)
        if env is not None:
            return env if is_secret_name(env) else None
        if isinstance(node, ast.Attribute):
            chain = dotted(node)
            receivers = set(chain.lower().split(".")[:-1])
            if chain and receivers & _CONFIG_RECEIVERS and is_secret_name(node.attr):
                return chain
        if isinstance(node, ast.Subscript):
            key = _const_str(node.slice)
            base = dotted(node.value).lower().split(".")
            if key and is_secret_name(key) and set(base) & _CONFIG_RECEIVERS:
                return f"{dotted(node.value)}[{key!r}]"
        if isinstance(node, ast.Name) and node.id in self.tainted:
            return node.id
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get_secret_value"
        ):
            return dotted(node.func.value) or "get_secret_value()"
        return None

    def _leaks(self, node: ast.AST) -> tuple[str, str] | None:
        """Find a secret value or an environment dump embedded whole in a sink argument."""
        if dotted(node) in _ENVIRON:
            return "env-dump", dotted(node)
        if isinstance(node, ast.Name) and node.id in self.env_values:
            return "env-dump", f"{node.id} (a loop over the environment)"
        if (isinstance(node, ast.Subscript) and dotted(node.value) in _ENVIRON
                and isinstance(node.slice, ast.Name) and node.slice.id in self.env_keys):
            return "env-dump", f"{dotted(node.value)}[{node.slice.id}] (a loop over the environment)"
        secret = self._secret_expr(node)
        if secret is not None:
            return "secret-logged", secret
        children: list[ast.AST] = []
        if isinstance(node, ast.JoinedStr):
            children = list(node.values)
        elif isinstance(node, ast.FormattedValue):
            children = [node.value]
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
            children = [node.left, node.right]
        elif isinstance(node, ast.Tuple | ast.List | ast.Set):
            children = list(node.elts)
        elif isinstance(node, ast.Dict):
            children = [v for v in node.values if v is not None]
        elif isinstance(node, ast.Call):
            name = dotted(node.func)
            last = name.rsplit(".", 1)[-1]
            if name in _PASS_THROUGH or last in ("format", "items", "copy", "dumps"):
                children = [*node.args, *(k.value for k in node.keywords)]
                if isinstance(node.func, ast.Attribute):
                    children.append(node.func.value)
        for child in children:
            found = self._leaks(child)
            if found:
                return found
        return None

    # -- visitors --------------------------------------------------------------------------
    def _held_import(self, node: ast.Call, argument: ast.AST | None, via: str) -> None:
        """``import_module(NAME)`` / ``import_module(MODULES[k])``: the literals NAME holds."""
        holder = argument
        if isinstance(holder, ast.Subscript):
            holder = holder.value
        if isinstance(holder, ast.Call) and isinstance(holder.func, ast.Attribute) and (
                holder.func.attr == "get"):
            holder = holder.func.value
        if not isinstance(holder, ast.Name):
            return
        for module in self.literals.get(holder.id, []):
            if module_matches(module, self.forbidden, sep="."):
                self._add("forbidden-import", node, module,
                          f"forbidden import of {module} (dynamic, name held in {holder.id})",
                          secret=False, meta={"module": module, "language": "python",
                                              "form": f"{via}({holder.id})"})
                return

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._import(node, alias.name, "import")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level != 0 or not node.module:
            return  # relative imports name the project's own modules
        if module_matches(node.module, self.forbidden, sep="."):
            self._import(node, node.module, "from-import")
            return
        # "from google.cloud import firestore" imports the submodule google.cloud.firestore.
        for alias in node.names:
            self._import(node, f"{node.module}.{alias.name}", "from-import")

    def alias(self, node: ast.AST) -> None:
        """Record a name bound to importlib or to a dynamic import function."""
        if isinstance(node, ast.Import):
            for imported in node.names:
                if imported.name == "importlib" and imported.asname:
                    self.importlib_names.add(imported.asname)
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and node.module in ("importlib", "builtins"):
                for imported in node.names:
                    if imported.name in _IMPORTLIB_FUNCS:
                        self.importers.add(imported.asname or imported.name)
        elif isinstance(node, ast.Assign) and self._is_importer(dotted(node.value)):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.importers.add(target.id)

    def _is_importer(self, name: str) -> bool:
        if not name:
            return False
        if name in self.importers:
            return True
        receiver, _dot, attr = name.rpartition(".")
        return attr in _IMPORTLIB_FUNCS and receiver in self.importlib_names

    def taint(self, node: ast.Assign) -> None:
        if self._secret_expr(node.value) is not None:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.tainted.add(target.id)
        held = _literal_strings(node.value)
        if held:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.literals.setdefault(target.id, []).extend(held)

    def loop(self, node: ast.For | ast.comprehension) -> None:
        """Record loop variables that iterate over the environment's keys or values."""
        source = node.iter
        method = ""
        if isinstance(source, ast.Call) and isinstance(source.func, ast.Attribute):
            method = source.func.attr
            source = source.func.value
        if dotted(source) not in _ENVIRON:
            return
        target = node.target
        if method == "items" and isinstance(target, ast.Tuple) and len(target.elts) == 2:
            key, value = target.elts
            if isinstance(value, ast.Name):
                self.env_values.add(value.id)
            if isinstance(key, ast.Name):
                self.env_keys.add(key.id)
        elif method == "values" and isinstance(target, ast.Name):
            self.env_values.add(target.id)
        elif method in ("", "keys") and isinstance(target, ast.Name):
            self.env_keys.add(target.id)

    def hardcoded(self, node: ast.Assign | ast.AnnAssign) -> None:
        """A literal assigned to a secret-named variable, attribute or configuration key."""
        if id(node) in self.settings_nodes:
            return  # judged as a settings field (secret-default)
        literal = _const_str(node.value)
        if literal is None or not looks_real_literal(literal):
            return
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            name = None
            if isinstance(target, ast.Name):
                name = target.id
            elif isinstance(target, ast.Attribute):
                name = target.attr
            elif isinstance(target, ast.Subscript):
                name = _const_str(target.slice)
            if name and is_secret_name(name):
                shown = dotted(target) if not isinstance(target, ast.Subscript) else (
                    f"{dotted(target.value)}[{name!r}]")
                self._add("hardcoded-secret", node.value or node, literal,
                          f"{shown or name} is assigned a literal secret", secret=True,
                          meta={"name": name})
                return

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        if any(dotted(base).endswith("BaseSettings") for base in node.bases):
            for stmt in node.body:
                self.settings_nodes.add(id(stmt))
                self._settings_field(stmt)

    def _settings_field(self, stmt: ast.stmt) -> None:
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            return
        value: ast.AST | None = stmt.value
        if isinstance(value, ast.Call) and dotted(value.func).endswith(("Field", "SecretStr")):
            default = value.args[0] if value.args else None
            for keyword in value.keywords:
                if keyword.arg == "default":
                    default = keyword.value
            value = default
        literal = _const_str(value)
        if literal is not None and is_secret_name(stmt.target.id) and looks_real(literal):
            self._add(
                "secret-default",
                value or stmt,
                literal,
                f"settings field {stmt.target.id} has a literal secret default",
                secret=True,
                meta={"name": stmt.target.id},
            )

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        if isinstance(node.op, ast.Or) and len(node.values) >= 2:
            name = self._env_name(node.values[0])
            literal = _const_str(node.values[-1])
            if name and literal is not None and is_secret_name(name) and looks_real(literal):
                self._add(
                    "secret-default",
                    node.values[-1],
                    literal,
                    f"{name} falls back to a literal secret",
                    secret=True,
                    meta={"name": name},
                )

    def visit_Call(self, node: ast.Call) -> None:
        name = dotted(node.func)
        if self._is_importer(name):
            argument = _argument(node, 0, "name")
            module = _const_str(argument)
            if module:
                self._import(node, module, name)
            else:
                self._held_import(node, argument, name)
        elif name in _ENV_READERS:
            key, default = _env_args(node)
            var = _const_str(key)
            literal = _const_str(default)
            if var and literal is not None and is_secret_name(var) and looks_real(literal):
                self._add(
                    "secret-default",
                    default or node,
                    literal,
                    f"{var} has a literal default",
                    secret=True,
                    meta={"name": var},
                )
        elif is_sink_name(name):
            for arg in [*node.args, *(k.value for k in node.keywords if k.arg != "extra")]:
                found = self._leaks(arg)
                if found:
                    rule, what = found
                    message = (
                        "environment dumped to "
                        if rule == "env-dump"
                        else f"secret {what} reaches "
                    ) + name
                    self._add(
                        rule,
                        node,
                        f"{name}({what})",
                        message,
                        secret=False,
                        meta={"sink": name, "source": what},
                    )
                    break


def _literal_strings(node: ast.AST | None) -> list[str]:
    """The strings of a literal: ``"a"``, ``("a", "b")``, ``{"k": "a"}`` (values)."""
    literal = _const_str(node)
    if literal is not None:
        return [literal]
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return [v for v in (_const_str(e) for e in node.elts) if v is not None]
    if isinstance(node, ast.Dict):
        return [v for v in (_const_str(e) for e in node.values) if v is not None]
    return []


def _argument(call: ast.Call, index: int, keyword: str) -> ast.expr | None:
    """The argument at ``index``, or passed as ``keyword=``; ``None`` when absent."""
    if any(isinstance(arg, ast.Starred) for arg in call.args[: index + 1]):
        return None  # f(*args): the position of what follows is unknown
    if len(call.args) > index:
        return call.args[index]
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value
    return None


def _env_args(call: ast.Call) -> tuple[ast.expr | None, ast.expr | None]:
    """The variable name and default of ``os.getenv(key, default)`` and its kin.

    ``getenv``, ``environ.get`` and ``environ.setdefault`` all take them positionally or
    as ``key=`` / ``default=``.
    """
    return _argument(call, 0, "key"), _argument(call, 1, "default")


def scan_python(path: str, data: bytes, text: str, forbidden: tuple[str, ...]) -> list[Finding]:
    """Analyse a Python file.

    Args:
        path: the relative path.
        data: the raw bytes (``ast`` honours the encoding cookie).
        text: the decoded text (for excerpts).
        forbidden: forbidden module names (dotted).

    Returns:
        The findings.

    Raises:
        SyntaxError: when the file does not parse (the caller falls back).
        ValueError: for null bytes and similar undecodable input.
    """
    tree = ast.parse(data, filename=path)
    visitor = _Visitor(path, text.splitlines(), forbidden)
    nodes = list(ast.walk(tree))
    # Two passes over one walk: the first collects aliases of importlib and names assigned
    # from secrets anywhere in the module, so that a use above the binding (in an earlier
    # function) is seen too.
    # Imports first: "load = il.import_module" may sit above "import importlib as il" in
    # the breadth-first walk.
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            visitor.alias(node)
    for node in nodes:
        kind = type(node)
        if kind is ast.Assign:
            visitor.alias(node)
            visitor.taint(node)  # type: ignore[arg-type]
        elif kind is ast.For or kind is ast.comprehension:
            visitor.loop(node)  # type: ignore[arg-type]
        elif kind is ast.ClassDef:
            visitor.visit_ClassDef(node)  # type: ignore[arg-type]
    for node in nodes:
        handler = _HANDLERS.get(type(node))
        if handler is not None:
            handler(visitor, node)
    visitor.findings.sort(key=lambda f: (f.line, f.column))
    return visitor.findings


_HANDLERS: dict[type[ast.AST], Any] = {
    ast.Assign: _Visitor.hardcoded,
    ast.AnnAssign: _Visitor.hardcoded,
    ast.Import: _Visitor.visit_Import,
    ast.ImportFrom: _Visitor.visit_ImportFrom,
    ast.BoolOp: _Visitor.visit_BoolOp,
    ast.Call: _Visitor.visit_Call,
}


_FALLBACK_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import\b|import[ \t]+([\w. \t,]+))", re.MULTILINE
)
_FALLBACK_DYNAMIC = re.compile(r"(?:__import__|import_module)\(\s*['\"]([\w.]+)['\"]")
# "from importlib import import_module as im", "load = importlib.import_module".
_FALLBACK_ALIAS = re.compile(
    r"^[ \t]*(?:from[ \t]+(?:importlib|builtins)[ \t]+import[ \t]+(?:import_module|__import__)"
    r"[ \t]+as[ \t]+(\w+)|(\w+)[ \t]*=[ \t]*(?:\w+\.)?(?:import_module|__import__)[ \t]*$)",
    re.MULTILINE,
)


def fallback_imports(path: str, text: str, forbidden: tuple[str, ...]) -> list[Finding]:
    """Line-based import scan for a Python file that does not parse.

    Args:
        path: the relative path.
        text: the text.
        forbidden: forbidden module names.

    Returns:
        Findings flagged ``meta["fallback"] = True``.
    """
    findings: list[Finding] = []
    lines = text.splitlines()
    regexes = [_FALLBACK_IMPORT, _FALLBACK_DYNAMIC]
    aliases = sorted({a for m in _FALLBACK_ALIAS.finditer(text) for a in m.groups() if a})
    if aliases:
        alternation = "|".join(re.escape(a) for a in aliases)
        regexes.append(re.compile(rf"(?<![\w.])(?:{alternation})\(\s*['\"]([\w.]+)['\"]"))
    for regex in regexes:
        for match in regex.finditer(text):
            # "import a as b, c" names the modules a and c; aliases are not modules.
            groups = [g for g in match.groups() if g]
            names = [part.split()[0] for g in groups for part in g.split(",") if part.split()]
            line = text.count("\n", 0, match.start()) + 1
            for module in names:
                if module_matches(module, forbidden, sep="."):
                    findings.append(
                        new_finding_at(
                            "forbidden-import",
                            path,
                            line,
                            1,
                            lines[line - 1],
                            module,
                            f"forbidden import of {module} (unparsed file)",
                            secret=False,
                            meta={"module": module, "language": "python", "fallback": True},
                        )
                    )
                    break
    return findings
