from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan.clex import (
    LexError,
    lex,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan.js import (
    fallback_js,
    scan_js,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan.jvm import (
    scan_jvm,
)
from relrun.collection.ansible_collections.relrun.release.plugins.module_utils.scan.python import (
    fallback_imports,
    scan_python,
)
from tests.unit.scan.helpers import make_password

PY = ("firebase_admin", "firebase", "pyrebase")
JS = ("firebase", "firebase/*", "firebase-admin", "@firebase/*", "firebase-functions")
JVM = ("com.google.firebase.*",)


def _py(src: str) -> list[tuple[str, int]]:
    return [(f.rule, f.line) for f in scan_python("m.py", src.encode(), src, PY)]


def test_python_import_forms() -> None:
    src = (
        "import firebase_admin\nfrom firebase import db\nx = __import__('pyrebase')\n"
        "import importlib\ny = importlib.import_module('firebase_admin.auth')\n"
        "def f():\n    import firebase_admin.messaging\n"
    )
    assert _py(src) == [("forbidden-import", n) for n in (1, 2, 3, 5, 7)]


def test_python_dynamic_imports_through_aliases() -> None:
    src = (
        "import importlib as il\nfrom importlib import import_module as im\n"
        "from builtins import __import__ as imp\nload = il.import_module\n"
        "il.import_module('pyrebase')\nim('firebase_admin')\nimp('firebase')\n"
        "load(name='firebase.db')\n"
    )
    assert _py(src) == [("forbidden-import", n) for n in (5, 6, 7, 8)]


def test_python_non_import_calls_through_aliases_are_not_imports() -> None:
    src = (
        "from importlib import util as iu\nfrom mylib import loader as im\n"
        "import importlib as il\niu.find_spec('firebase_admin')\nim('firebase_admin')\n"
        "il.reload('firebase')\nil.import_module(*args)\n"
    )
    assert _py(src) == []


def test_python_fallback_follows_import_function_aliases() -> None:
    src = (
        "from importlib import import_module as im\nsdk = im('pyrebase')\n"
        "other = loader('firebase_admin')\ndef broken(:\n"
    )
    assert [f.line for f in fallback_imports("m.py", src, PY)] == [2]


def test_python_env_reads_with_keyword_arguments() -> None:
    pw = make_password()
    src = (
        f"import os\nA = os.environ.get('PASSWORD', default={pw!r})\n"
        f"B = os.getenv(key='JWT_SECRET', default={pw!r})\n"
        f"os.environ.setdefault('API_KEY', default={pw!r})\n"
        "C = os.getenv(key='JWT_SECRET', default='changeme')\n"
        f"D = os.getenv(key='JWT_ALGORITHM', default={pw!r})\n"
        "print(os.getenv(key='API_TOKEN'))\n"
    )
    assert _py(src) == [
        ("secret-default", 2),
        ("secret-default", 3),
        ("secret-default", 4),
        ("secret-logged", 7),
    ]


def test_python_public_key_material_is_not_a_secret() -> None:
    src = (
        "import logging, os\nlog = logging.getLogger()\n"
        "log.info('public key: %s', os.getenv('JWT_PUBLIC_KEY'))\n"
        "log.info('%s', os.environ['JWT_PUBKEY'])\n"
        "log.info('%s', os.environ['PUBLISH_TOKEN'])\n"
    )
    assert _py(src) == [("secret-logged", 5)]


def test_python_mentions_are_not_imports() -> None:
    src = (
        '"""import firebase_admin"""\n# import firebase\nimport firebase_admin_compat\n'
        "from . import firebase\nfirebase = 1\n"
    )
    assert _py(src) == []


def test_python_secret_default_and_leaks() -> None:
    pw = make_password()
    src = (
        f"import os\nA = os.getenv('JWT_SECRET', {pw!r})\nB = os.getenv('JWT_SECRET', 'dev')\n"
        "print(os.environ['API_KEY'])\nprint(os.environ)\nprint('JWT_SECRET missing')\n"
        "C = os.getenv('DB_PASSWORD')\n"
    )
    assert _py(src) == [("secret-default", 2), ("secret-logged", 4), ("env-dump", 5)]


def test_python_syntax_error_raises_and_fallback_finds_imports() -> None:
    src = "import firebase_admin\ndef broken(:\n"
    with pytest.raises(SyntaxError):
        scan_python("m.py", src.encode(), src, PY)
    assert [f.meta["fallback"] for f in fallback_imports("m.py", src, PY)] == [True]


def _js(src: str) -> list[tuple[str, int]]:
    return [(f.rule, f.line) for f in scan_js("m.js", src, JS)]


def test_js_import_forms() -> None:
    src = (
        "import a from 'firebase';\nimport 'firebase/auth';\nexport * from '@firebase/app';\n"
        "const b = require('firebase-admin');\nconst c = import('firebase-functions');\n"
    )
    assert _js(src) == [("forbidden-import", n) for n in range(1, 6)]


def test_js_mentions_are_not_imports() -> None:
    src = (
        "// import a from 'firebase'\nconst s = \"require('firebase')\";\n"
        "const t = `import('firebase') ${s}`;\nrequire('firebase-tools');\n"
        "obj.require('firebase');\n"
        "const r = /import 'firebase'/;\n"
    )
    assert _js(src) == []


def test_js_env_default_and_sinks() -> None:
    pw = make_password()
    src = (
        f"const s = process.env.JWT_SECRET || '{pw}';\nconsole.log(process.env.API_KEY);\n"
        "console.log(process.env);\nconsole.log(!!process.env.JWT_SECRET);\n"
    )
    assert _js(src) == [("secret-default", 1), ("secret-logged", 2), ("env-dump", 3)]


def test_js_unterminated_string_raises_and_fallback_scans() -> None:
    src = "import a from 'firebase';\nconst x = 'unterminated\n"
    with pytest.raises(LexError):
        scan_js("m.js", src, JS)
    assert [f.line for f in fallback_js("m.js", src, JS)] == [1]


def test_lexer_template_nesting() -> None:
    tokens = lex("const a = `x ${ {b: `y ${c}`}.b } z`; require('m')", "js")
    assert [t.value for t in tokens if t.kind == "str"] == ["m"]
    assert sum(t.kind == "tpl" for t in tokens) == 2


def test_kotlin_nested_comments_and_templates() -> None:
    src = (
        "/* a /* b */ import com.google.firebase.X */\nimport com.google.firebase.auth.*\n"
        'val s = "com.google.firebase.X ${y}"\n'
    )
    found = scan_jvm("A.kt", src, "kotlin", JVM)
    assert [(f.rule, f.line, f.value) for f in found] == [
        ("forbidden-import", 2, "com.google.firebase.auth")
    ]


def test_java_qualified_use_and_static_import() -> None:
    src = (
        "import static com.google.firebase.auth.FirebaseAuth.getInstance;\n"
        "class A { Object o = com.google.firebase.FirebaseApp.initializeApp(); }\n"
    )
    assert [f.line for f in scan_jvm("A.java", src, "java", JVM)] == [1, 2]


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab'\"`/*${}\n\\ ()", max_size=60))
def test_lexer_either_tokenizes_or_raises_lexerror(src: str) -> None:
    for dialect in ("js", "kotlin", "java"):
        with contextlib.suppress(LexError):
            lex(src, dialect)
