"""Code inside other files: ``<script>`` blocks of Vue/Svelte/HTML, notebook code cells.

Script blocks are cut out with every other character blanked (newlines kept), so the JS
analyser's lines and columns are the file's own. Notebook cells are joined per cell and
each cell line is mapped back to the line of the notebook's JSON that holds it.
"""

from __future__ import annotations

import json
import re

from .findings import Finding, new_finding
from .sinks import cdn_module, module_matches

_SCRIPT = re.compile(r"<script\b([^>]*)>(.*?)</script\s*>", re.IGNORECASE | re.DOTALL)
_SRC = re.compile(r"""\bsrc\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
_NOT_JS = re.compile(r"""\btype\s*=\s*["'](?!module|text/javascript|application/javascript|ts"""
                     r"""|text/typescript)[^"']*["']""", re.IGNORECASE)


def script_blocks(text: str) -> str:
    """The text with everything outside ``<script>`` bodies blanked (newlines kept)."""
    out = [ch if ch == "\n" else " " for ch in text]
    for match in _SCRIPT.finditer(text):
        if _NOT_JS.search(match.group(1)) or _SRC.search(match.group(1)):
            continue
        out[match.start(2) : match.end(2)] = list(match.group(2))
    return "".join(out)


def script_sources(path: str, text: str, forbidden: tuple[str, ...]) -> list[Finding]:
    """``<script src="https://www.gstatic.com/firebasejs/…/firebase-app.js">`` and kin."""
    findings: list[Finding] = []
    for match in _SCRIPT.finditer(text):
        src = _SRC.search(match.group(1))
        module = cdn_module(src.group(1)) if src else None
        if module and module_matches(module, forbidden, sep="/"):
            findings.append(new_finding(
                "forbidden-import", path, text, match.start(), module,
                f"forbidden import of {module} (script src, CDN URL)", secret=False,
                meta={"module": module, "language": "js", "form": "script src"}))
    return findings


def notebook_cells(text: str) -> list[tuple[str, list[int]]] | None:
    """Code cells of a Jupyter notebook, each with the file line of every cell line.

    Args:
        text: the ``.ipynb`` JSON.

    Returns:
        ``(source, line map)`` per code cell, or ``None`` when the text is not a notebook.
    """
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("cells"), list):
        return None
    lines = text.splitlines()
    cursor = 0
    cells: list[tuple[str, list[int]]] = []
    for cell in doc["cells"]:
        if not isinstance(cell, dict):
            continue
        source = cell.get("source", "")
        parts = source if isinstance(source, list) else str(source).splitlines(keepends=True)
        parts = [str(p) for p in parts]
        # Find the "source" key of this cell at or after the cursor, then each part's line.
        while cursor < len(lines) and '"source"' not in lines[cursor]:
            cursor += 1
        start = cursor
        mapping: list[int] = []
        for part in parts:
            encoded = json.dumps(part)[1:-1][:40]
            probe = start
            while probe < len(lines) and encoded not in lines[probe]:
                probe += 1
            line = probe + 1 if probe < len(lines) else start + 1
            start = probe if probe < len(lines) else start
            count = part.count("\n") if part.endswith("\n") else max(part.count("\n"), 1)
            for _line in range(count):
                mapping.append(line)
        cursor = max(cursor + 1, start)
        code = "".join(parts)
        if cell.get("cell_type") != "code" or not code.strip():
            continue
        # IPython magics and shell escapes are not Python: blank them, keep the lines.
        code = "\n".join("" if ln.lstrip().startswith(("%", "!")) else ln
                         for ln in code.split("\n"))
        cells.append((code, mapping or [start + 1]))
    return cells
